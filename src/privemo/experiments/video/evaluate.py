"""The figures of one audio-visual method, from the sides (original and anonymized) of the same clips.

:class:`Models` holds what is trained on ORIGINAL clips once per run and used for every method: per
fold, the face emotion CNN and the voice emotion model (trained on the other folds' speakers, or on
them less the validation speakers when the fusion weight is tuned), and the scenario-I face
identifier (trained on original enrolment frames of every speaker).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from privemo.attacks.face import identify_pretrained
from privemo.attacks.verification import verification_attack
from privemo.evaluators.base import make_classifier
from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier
from privemo.evaluators.face import FER_LABELS
from privemo.experiments.video.config import VideoEvalConfig
from privemo.experiments.video.runner import Items, VideoSide
from privemo.experiments.voice.evaluate import Items as VoiceItems
from privemo.experiments.voice.evaluate import Side, similarity_table
from privemo.metrics import confusion, per_group_uar, uar

WEIGHTS = np.round(np.linspace(0, 1, 11), 2)


def _tensor(crops: np.ndarray) -> torch.Tensor:
    return torch.as_tensor(crops, dtype=torch.float32).permute(0, 3, 1, 2) / 255.0


@torch.no_grad()
def predict_proba(model: torch.nn.Module, x: torch.Tensor, batch: int = 256) -> np.ndarray:
    model.eval()
    out = [torch.softmax(model(x[i:i + batch]), 1) for i in range(0, len(x), batch)]
    return torch.cat(out).numpy() if out else np.zeros((0, 0), dtype=np.float32)


def clip_mean(frame_values: np.ndarray, frame_clip: np.ndarray, n_clips: int) -> np.ndarray:
    """The mean of each clip's frame rows (a clip without frames gets a uniform row)."""
    out = np.full((n_clips, frame_values.shape[1]), 1.0 / frame_values.shape[1], dtype=np.float64)
    counts = np.bincount(frame_clip, minlength=n_clips)
    sums = np.zeros((n_clips, frame_values.shape[1]))
    np.add.at(sums, frame_clip, frame_values)
    has = counts > 0
    out[has] = sums[has] / counts[has, None]
    return out


def fer_to_labels(fer: np.ndarray, labels: list[str]) -> np.ndarray:
    """fer's 7 probabilities restricted to the corpus's labels (absent ones get 0), renormalised."""
    cols = [FER_LABELS.index(lab) if lab in FER_LABELS else -1 for lab in labels]
    out = np.stack([fer[:, c] if c >= 0 else np.zeros(len(fer)) for c in cols], axis=1)
    return out / np.maximum(out.sum(1, keepdims=True), 1e-12)


class Models:
    """The models trained on original clips, per fold, shared by every method of a run."""

    def __init__(self, cfg: VideoEvalConfig, items: Items, original: VideoSide, cache_dir: Path,
                 progress: Callable[..., None] | None = None) -> None:
        self.cfg, self.items, self.original = cfg, items, original
        self.cache_dir = cache_dir
        self.progress = progress or (lambda *a: None)
        self.labels = items.labels
        self.y = np.array([self.labels.index(e) for e in items.emotion])
        self.folds = sorted(set(items.fold.tolist()))
        rng = np.random.default_rng(cfg.seed)
        self.train_of: dict[int, np.ndarray] = {}
        self.val_of: dict[int, np.ndarray] = {}
        for f in self.folds:
            train = items.fold != f
            val = np.zeros_like(train)
            if cfg.fusion.tune:
                spk = sorted(set(items.speaker[train].tolist()))
                chosen = rng.choice(spk, max(1, round(0.25 * len(spk))), replace=False)
                val = train & np.isin(items.speaker, chosen)
            self.train_of[f], self.val_of[f] = train & ~val, val
        self._cnn: dict[int, torch.nn.Module] = {}
        self._voice: dict[int, Any] = {}
        self._id: torch.nn.Module | None = None
        self.speakers = sorted(set(items.speaker.tolist()))

    def _frames(self, side: VideoSide, clips: np.ndarray) -> np.ndarray:
        return np.isin(side.frame_clip, np.flatnonzero(clips))

    def _train_cnn(self, x: torch.Tensor, y: np.ndarray, n_out: int, tag: str) -> torch.nn.Module:
        cfg = self.cfg
        path = self.cache_dir / f"{tag}.pt"
        torch.manual_seed(cfg.seed)
        model = classifier(3, cfg.face_size, n_out, (16, 32, 64), (128,), leaky=0.1)
        if path.is_file():
            try:
                model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
                return model.eval()
            except (RuntimeError, OSError, ValueError):
                path.unlink()
        fit_classifier(model, x, y, TrainConfig(epochs=cfg.epochs, seed=cfg.seed, batch=64))
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        torch.save(model.state_dict(), tmp)
        tmp.replace(path)
        return model.eval()

    def emotion_cnn(self, f: int) -> torch.nn.Module:
        if f not in self._cnn:
            o = self.original
            frames = self._frames(o, self.train_of[f])
            self.progress("face emotion CNN (folds)", len(self._cnn), len(self.folds))
            self._cnn[f] = self._train_cnn(_tensor(o.crops[frames]), self.y[o.frame_clip[frames]], len(self.labels),
                                           f"emotion_cnn_fold{f}")
            self.progress("face emotion CNN (folds)", len(self._cnn), len(self.folds))
        return self._cnn[f]

    def voice_model(self, f: int) -> Any:
        if f not in self._voice:
            clf = make_classifier("logreg", self.cfg.seed, C=0.1)
            tr = self.train_of[f]
            self._voice[f] = clf.fit(self.original.emotion_X[tr], self.y[tr])
        return self._voice[f]

    def identifier(self) -> torch.nn.Module:
        """Scenario I: trained on the original enrolment frames of every speaker."""
        if self._id is None:
            o = self.original
            frames = self._frames(o, self.items.enrol)
            y = np.array([self.speakers.index(s) for s in self.items.speaker[o.frame_clip[frames]]])
            self._id = self._train_cnn(_tensor(o.crops[frames]), y, len(self.speakers), "identity_cnn_original")
        return self._id

    def emotion_probs(self, side: VideoSide) -> tuple[dict[str, np.ndarray], dict[int, dict[str, np.ndarray]]]:
        """Per clip: face CNN, fer and voice class probabilities (columns: ``labels``), each clip
        predicted by the models of the fold its speaker is tested in; and per fold, the same for
        the validation clips held out of that fold's training part (empty unless tuning)."""
        n, k = len(self.items.speaker), len(self.labels)
        fer = clip_mean(fer_to_labels(side.fer, self.labels), side.frame_clip, n)
        test = {"cnn": np.zeros((n, k)), "voice": np.zeros((n, k)), "fer": fer}
        val: dict[int, dict[str, np.ndarray]] = {}
        x = _tensor(side.crops)
        for f in self.folds:
            for clips, is_val in ((self.items.fold == f, False), (self.val_of[f], True)):
                if not clips.any():
                    continue
                frames = self._frames(side, clips)
                p = clip_mean(predict_proba(self.emotion_cnn(f), x[torch.as_tensor(np.flatnonzero(frames))]),
                              side.frame_clip[frames], n)[clips]
                model = self.voice_model(f)
                pv = np.zeros((int(clips.sum()), k))
                pv[:, [int(c) for c in model.classes_]] = model.predict_proba(side.emotion_X[clips])
                if is_val:
                    val[f] = {"clips": clips, "cnn": p, "voice": pv, "fer": fer[clips]}
                else:
                    test["cnn"][clips], test["voice"][clips] = p, pv
        return test, val


def _face_probs(p: dict[str, np.ndarray], which: str) -> np.ndarray:
    return (p["cnn"] + p["fer"]) / 2 if which == "mean" else p[which]


def tuned_weight(y: np.ndarray, face: np.ndarray, voice: np.ndarray) -> tuple[float, np.ndarray]:
    """The fusion weight with the best UAR on (validation) clips, ties (common on few clips) broken by
    the lower cross-entropy of the fused probabilities; and the UAR of every weight."""
    fused = [v * face + (1 - v) * voice for v in WEIGHTS]
    curve = np.array([uar(y, f.argmax(1)) for f in fused])
    nll = np.array([-np.mean(np.log(np.maximum(f[np.arange(len(y)), y], 1e-9))) for f in fused])
    best = np.flatnonzero(curve >= curve.max() - 1e-9)
    return float(WEIGHTS[best[np.argmin(nll[best])]]), curve


def _scores(y: np.ndarray, pred: np.ndarray, labels: list[str], gender: np.ndarray) -> dict[str, Any]:
    yt, yp = np.array(labels)[y], np.array(labels)[pred]
    return {"uar": uar(yt, yp, labels), "per_gender": per_group_uar(yt, yp, gender),
            "confusion": confusion(yt, yp, labels)}


def emotion_figures(models: Models, side: VideoSide) -> dict[str, Any]:
    cfg, items = models.cfg, models.items
    p, val = models.emotion_probs(side)
    y, g, labels = models.y, items.gender, models.labels
    out: dict[str, Any] = {"labels": labels, "chance": 1.0 / len(labels)}
    face = _face_probs(p, cfg.fusion.face)
    for name, probs in (("face_fer", p["fer"]), ("face_cnn", p["cnn"]), ("voice", p["voice"])):
        out[name] = _scores(y, probs.argmax(1), labels, g)
    w = cfg.fusion.weight
    out["fused"] = {**_scores(y, (w * face + (1 - w) * p["voice"]).argmax(1), labels, g), "weight": w}
    out["weight_curve"] = {str(v): uar(np.array(labels)[y], np.array(labels)[(v * face + (1 - v) * p["voice"]).argmax(1)],
                                       labels) for v in WEIGHTS}
    if val:  # each fold's weight chosen on its own validation speakers, applied to its test speakers
        fused = np.zeros_like(face)
        weights = {}
        for f, v in val.items():
            best, _ = tuned_weight(y[v["clips"]], _face_probs(v, cfg.fusion.face), v["voice"])
            test = items.fold == f
            fused[test] = best * face[test] + (1 - best) * p["voice"][test]
            weights[str(f)] = best
        out["fused_tuned"] = {**_scores(y, fused.argmax(1), labels, g),
                              "weight": float(np.mean(list(weights.values()))), "weights": weights}
    out["fusion_face"] = cfg.fusion.face
    return out


def _centroid_id(gallery: np.ndarray, gallery_ids: np.ndarray, probes: np.ndarray) -> np.ndarray:
    models = np.array(sorted(set(gallery_ids.tolist())))
    g = np.stack([gallery[gallery_ids == s].mean(0) for s in models])
    g /= np.maximum(np.linalg.norm(g, axis=1, keepdims=True), 1e-12)
    p = probes / np.maximum(np.linalg.norm(probes, axis=1, keepdims=True), 1e-12)
    return models[(p @ g.T).argmax(1)]


def _group_mean(values: np.ndarray, groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    keys = np.array(sorted(set(groups.tolist())))
    return np.stack([values[groups == k].mean(0) for k in keys]), keys


def _binom_p(correct: int, n: int, chance: float) -> float:
    from scipy.stats import binomtest

    return float(binomtest(correct, n, chance, alternative="greater").pvalue) if n else float("nan")


def face_attacks(models: Models, side: VideoSide) -> dict[str, Any]:
    """dlib (pretrained, gallery of original enrolment frames) and the CNN identifiers (scenario I:
    trained on original enrolment frames; II, informed: on anonymized ones), on anonymized trial
    frames, per frame, clip and speaker."""
    items, o = models.items, models.original
    spk = items.speaker
    chance = 1.0 / len(models.speakers)
    out: dict[str, Any] = {"chance": chance, "trial_clips": int((~items.enrol).sum()),
                           "trial_frames": int(np.isin(side.frame_clip, np.flatnonzero(~items.enrol)).sum())}
    enrol_d = np.isin(o.desc_clip, np.flatnonzero(items.enrol))
    trial_d = np.isin(side.desc_clip, np.flatnonzero(~items.enrol))
    g, g_ids = o.desc[enrol_d], spk[o.desc_clip[enrol_d]]
    d_clip = side.desc_clip[trial_d]
    frame = identify_pretrained(g, g_ids, side.desc[trial_d], spk[d_clip])
    clip_desc, clip_keys = _group_mean(side.desc[trial_d], d_clip)
    clip_pred = _centroid_id(g, g_ids, clip_desc)
    spk_desc, spk_keys = _group_mean(side.desc[trial_d], spk[d_clip])
    spk_pred = _centroid_id(g, g_ids, spk_desc)
    correct = int(np.sum(clip_pred == spk[clip_keys]))
    out["dlib"] = {"frame": frame["acc"], "eer": frame["eer"], "clip": correct / len(clip_keys),
                   "speaker": float(np.mean(spk_pred == spk_keys)), "clip_p_above_chance": _binom_p(
                       correct, len(clip_keys), chance), "frames_per_clip": float(np.mean(np.bincount(d_clip)[
                           np.unique(d_clip)]))}
    trial_f = np.isin(side.frame_clip, np.flatnonzero(~items.enrol))
    t_clip = side.frame_clip[trial_f]
    t_ids = spk[t_clip]
    x = _tensor(side.crops)
    y_idx = np.array([models.speakers.index(s) for s in spk])
    for scen, model in (("I", models.identifier()), ("II", None)):
        if model is None:  # informed: trained on this method's anonymized enrolment frames
            ef = np.isin(side.frame_clip, np.flatnonzero(items.enrol))
            model = models._train_cnn(x[torch.as_tensor(np.flatnonzero(ef))], y_idx[side.frame_clip[ef]],
                                      len(models.speakers), f"identity_cnn_informed_{_digest(side)}")
        p = predict_proba(model, x[torch.as_tensor(np.flatnonzero(trial_f))])
        names = np.array(models.speakers)
        cp, ck = _group_mean(p, t_clip)
        sp, sk = _group_mean(p, t_ids)
        correct = int(np.sum(names[cp.argmax(1)] == spk[ck]))
        out[f"cnn_{scen}"] = {"frame": float(np.mean(names[p.argmax(1)] == t_ids)), "clip": correct / len(ck),
                              "speaker": float(np.mean(names[sp.argmax(1)] == sk)),
                              "clip_p_above_chance": _binom_p(correct, len(ck), chance)}
    return out


def _digest(side: VideoSide) -> str:
    import hashlib

    return hashlib.sha256(side.crops[:: max(1, len(side.crops) // 64)].tobytes()).hexdigest()[:12]


def voice_attacks(models: Models, side: VideoSide) -> dict[str, Any]:
    """resemblyzer on the tracks: verification EERs and identification per clip and per speaker."""
    items, o = models.items, models.original
    e, t = items.enrol, ~items.enrol
    spk = items.speaker
    out: dict[str, Any] = {"chance": 1.0 / len(models.speakers)}
    out["verification"] = verification_attack(o.emb, side.emb, spk, e, items.fold_of)
    for name, gallery in (("lazy", o.emb), ("informed", side.emb)):
        clip_pred = _centroid_id(gallery[e], spk[e], side.emb[t])
        sp, sk = _group_mean(side.emb[t], spk[t])
        correct = int(np.sum(clip_pred == spk[t]))
        out[name] = {"clip": correct / int(t.sum()), "speaker": float(np.mean(_centroid_id(gallery[e], spk[e], sp) == sk)),
                     "clip_p_above_chance": _binom_p(correct, int(t.sum()), out["chance"])}
    vitems = VoiceItems(spk, items.gender, items.emotion, e, items.fold, items.fold_of)
    out["similarity"] = similarity_table(Side(o.emb, o.egemaps, o.emotion_X), Side(side.emb, side.egemaps,
                                                                                  side.emotion_X), vitems)
    return out


def evaluate_method(models: Models, original: VideoSide, side: VideoSide, items: Items, reference: bool
                    ) -> dict[str, Any]:
    return {"emotion": emotion_figures(models, side), "face_id": face_attacks(models, side),
            "speaker": voice_attacks(models, side), "faces_found": float(np.mean(side.found)) if len(side.found) else 0.0,
            "reference": reference}
