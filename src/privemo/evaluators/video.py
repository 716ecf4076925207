"""The audio-visual judges: what one version of the clips gives (``VideoSide``), who each clip is
(``Items``), the models trained on ORIGINAL clips once per run and shared by every method
(:class:`Models`: per fold, the face emotion CNN and the voice emotion model, trained on the other
folds' speakers, or on them less the validation speakers when the fusion weight is tuned, and the
scenario-I face identifier trained on original enrolment frames of every speaker), and the emotion
figures with late fusion. The attackers are :mod:`privemo.attacks.video`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from privemo._files import atomic_path
from privemo.evaluators.base import make_classifier
from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier
from privemo.evaluators.face import FER_LABELS
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.threat import ThreatModel, declare
from privemo.metrics import confusion, per_group_uar, uar
from privemo.registry import register

EMOTION = declare("video.emotion", ThreatModel(
    "emotion", "utility", "the deployed face CNN, fer (pretrained FER2013) and the voice model, late-fused",
    "the fold's clips, original or anonymized", "ORIGINAL clips of the other folds' speakers (a tuned fusion weight "
    "by cross-validation inside them)", "UAR of each modality and of the fusion"))


@dataclass
class Items:
    speaker: np.ndarray
    gender: np.ndarray
    emotion: np.ndarray
    labels: list[str]
    enrol: np.ndarray  # bool per clip
    fold: np.ndarray
    fold_of: dict[str, int]


@dataclass
class VideoSide:
    """What one version of the clips gives the models and attackers."""

    crops: np.ndarray  # (F, S, S, 3) uint8 face crops of the analysed frames
    frame_clip: np.ndarray  # (F,) clip index of each frame
    desc: np.ndarray  # (D, 128) dlib descriptors of up to ``dlib_frames`` frames per clip
    desc_clip: np.ndarray  # (D,) clip index of each descriptor
    fer: np.ndarray  # (F, 7) fer probabilities
    found: np.ndarray  # (F,) bool: dlib found the face (else a centre crop)
    emb: np.ndarray  # (N, 256) resemblyzer
    egemaps: np.ndarray  # (N, 88)
    emotion_X: np.ndarray  # (N, D) speaker-normalised emotion features

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **{k: getattr(self, k) for k in self.__dataclass_fields__})

    @staticmethod
    def load(path: Path) -> VideoSide:
        with np.load(path) as z:
            return VideoSide(**{k: z[k] for k in VideoSide.__dataclass_fields__})


def video_side(manifest: Any, label: str, cfg: Any, audio_dir: Path, cache: Any,
               progress: Callable[..., None], log: Callable[[str], None]) -> VideoSide:
    """What the video judges read of one version of the clips (``label``: which one): every analysed
    frame's face (aligned by dlib where ``cfg.detect``, else a centre crop) resized to
    ``cfg.face_size``, dlib descriptors of ``cfg.dlib_frames`` frames a clip, fer's probabilities,
    and the voice side of each clip's track (written to ``audio_dir`` as 16 kHz WAV)."""
    import cv2

    from privemo._names import file_key
    from privemo.corpora import Manifest
    from privemo.errors import ConfigError
    from privemo.evaluators.face import fer_proba
    from privemo.evaluators.voice import voice_side
    from privemo.features.face import align, centre_crop, face_descriptors
    from privemo.media import read_video, write_audio

    crops, desc, desc_clip, frame_clip, found, audio_rows = [], [], [], [], [], []
    n = len(manifest)
    for i, row in enumerate(manifest.df.to_dict("records")):
        clip = read_video(row["path"], fps=cfg.analysis_fps, sr=16000)
        chips = []
        for frame in clip.frames:
            chip, ok = align(frame, 150) if cfg.detect else (centre_crop(frame, 150), False)
            chips.append(chip)
            found.append(ok)
        chips_arr = np.stack(chips)
        pick = np.unique(np.linspace(0, len(chips) - 1, min(cfg.dlib_frames, len(chips))).round().astype(int))
        desc.append(face_descriptors(chips_arr[pick]))  # dlib's ResNet: the costly step, a few frames a clip
        desc_clip += [i] * len(pick)
        crops.append(np.stack([cv2.resize(c, (cfg.face_size, cfg.face_size), interpolation=cv2.INTER_AREA)
                               for c in chips_arr]))
        frame_clip += [i] * len(chips)
        if clip.audio is None or not len(clip.audio):
            raise ConfigError(f"{row['path']}: no audio track (the evaluation needs voice and face)")
        wav = audio_dir / f"{file_key(row['item_id'])}.wav"
        if not wav.is_file():
            write_audio(wav, clip.audio, 16000)
        audio_rows.append({**row, "path": str(wav), "media": "audio"})
        progress(f"{label}: frames and tracks", i + 1, n)
    crops_arr = np.concatenate(crops)
    log(f"{label}: fer on {len(crops_arr)} frames")
    fer = fer_proba(crops_arr)
    voice = voice_side(Manifest(audio_rows), label, cfg.emotion_features, cache, cfg.workers,
                       lambda i, k: progress(f"{label}: speech features", i, k))
    return VideoSide(crops_arr, np.array(frame_clip), np.concatenate(desc), np.array(desc_clip), fer,
                     np.array(found), voice.emb, voice.egemaps, voice.emotion_X)


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

    def __init__(self, cfg: Any, items: Items, original: VideoSide, cache_dir: Path,
                 progress: Callable[..., None] | None = None) -> None:
        self.cfg, self.items, self.original = cfg, items, original
        self.cache_dir = cache_dir
        self.progress = progress or (lambda *a: None)
        self.labels = items.labels
        self.y = np.array([self.labels.index(e) for e in items.emotion])
        self.folds = sorted(set(items.fold.tolist()))
        self._cnn: dict[tuple[int, ...], torch.nn.Module] = {}
        self._voice: dict[tuple[int, ...], Any] = {}
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
        with atomic_path(path) as tmp:
            torch.save(model.state_dict(), tmp)
        return model.eval()

    def emotion_cnn(self, without: tuple[int, ...]) -> torch.nn.Module:
        """The face emotion CNN trained on the original clips of every fold but ``without``."""
        if without not in self._cnn:
            o = self.original
            frames = self._frames(o, ~np.isin(self.items.fold, without))
            self._cnn[without] = self._train_cnn(_tensor(o.crops[frames]), self.y[o.frame_clip[frames]],
                                                 len(self.labels), "emotion_cnn_without" + "_".join(map(str, without)))
            self.progress("face emotion CNNs", len(self._cnn), self.n_models)
        return self._cnn[without]

    @property
    def n_models(self) -> int:
        k = len(self.folds)
        return k + (k * (k - 1) // 2 if self.cfg.fusion.tune else 0)

    def voice_model(self, without: tuple[int, ...]) -> Any:
        if without not in self._voice:
            clf = make_classifier("logreg", self.cfg.seed, C=0.1)
            tr = ~np.isin(self.items.fold, without)
            self._voice[without] = clf.fit(self.original.emotion_X[tr], self.y[tr])
        return self._voice[without]

    def identifier(self) -> torch.nn.Module:
        """Scenario I: trained on the original enrolment frames of every speaker."""
        if self._id is None:
            o = self.original
            frames = self._frames(o, self.items.enrol)
            y = np.array([self.speakers.index(s) for s in self.items.speaker[o.frame_clip[frames]]])
            self._id = self._train_cnn(_tensor(o.crops[frames]), y, len(self.speakers), "identity_cnn_original")
        return self._id

    def _predict(self, side: VideoSide, clips: np.ndarray, without: tuple[int, ...], x: torch.Tensor
                 ) -> tuple[np.ndarray, np.ndarray]:
        """Face CNN and voice probabilities of ``clips`` by the models trained without folds ``without``."""
        n, k = len(self.items.speaker), len(self.labels)
        frames = self._frames(side, clips)
        p = clip_mean(predict_proba(self.emotion_cnn(without), x[torch.as_tensor(np.flatnonzero(frames))]),
                      side.frame_clip[frames], n)[clips]
        model = self.voice_model(without)
        pv = np.zeros((int(clips.sum()), k))
        pv[:, [int(c) for c in model.classes_]] = model.predict_proba(side.emotion_X[clips])
        return p, pv

    def emotion_probs(self, side: VideoSide) -> tuple[dict[str, np.ndarray], dict[int, dict[str, np.ndarray]]]:
        """Per clip: face CNN, fer and voice class probabilities (columns: ``labels``), each clip
        predicted by the models trained without its fold. With ``fusion.tune``, also per fold f the
        inner cross-validated predictions of f's training part: each other fold g predicted by the
        models trained without f and g (never seeing f's speakers, whose weight they choose)."""
        n, k = len(self.items.speaker), len(self.labels)
        fer = clip_mean(fer_to_labels(side.fer, self.labels), side.frame_clip, n)
        test = {"cnn": np.zeros((n, k)), "voice": np.zeros((n, k)), "fer": fer}
        x = _tensor(side.crops)
        for f in self.folds:
            clips = self.items.fold == f
            test["cnn"][clips], test["voice"][clips] = self._predict(side, clips, (f,), x)
        val: dict[int, dict[str, np.ndarray]] = {}
        if self.cfg.fusion.tune:
            for f in self.folds:
                part = self.items.fold != f
                cnn, voice = np.zeros((n, k)), np.zeros((n, k))
                for g in self.folds:
                    if g != f:
                        clips = self.items.fold == g
                        cnn[clips], voice[clips] = self._predict(side, clips, tuple(sorted((f, g))), x)
                val[f] = {"clips": part, "cnn": cnn[part], "voice": voice[part], "fer": fer[part]}
        return test, val


def _face_probs(p: dict[str, np.ndarray], which: str) -> np.ndarray:
    return (p["cnn"] + p["fer"]) / 2 if which == "mean" else p[which]


TEMPERATURES = np.append(np.round(np.logspace(-1, 2, 31), 3), np.inf)  # inf: the modality says nothing


def calibrate(p: np.ndarray, t: float) -> np.ndarray:
    """Class probabilities sharpened (t < 1) or flattened (t > 1) by a temperature; t = inf gives the
    uniform distribution (the modality is left out of the fusion)."""
    if np.isinf(t):
        return np.full_like(p, 1.0 / p.shape[1], dtype=float)
    z = np.log(np.maximum(p, 1e-9)) / t
    z = np.exp(z - z.max(1, keepdims=True))
    return z / z.sum(1, keepdims=True)


def nll(y: np.ndarray, p: np.ndarray) -> float:
    return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-9))))


def temperature(y: np.ndarray, p: np.ndarray) -> float:
    """The temperature that gives ``p`` the lowest cross-entropy on (validation) clips."""
    return float(TEMPERATURES[int(np.argmin([nll(y, calibrate(p, t)) for t in TEMPERATURES]))])


def tuned_weight(y: np.ndarray, face: np.ndarray, voice: np.ndarray) -> tuple[float, np.ndarray]:
    """The fusion weight with the best UAR on (validation) clips, ties (common on few clips) broken by
    the lower cross-entropy of the fused probabilities; and the UAR of every weight."""
    fused = [v * face + (1 - v) * voice for v in WEIGHTS]
    curve = np.array([uar(y, f.argmax(1)) for f in fused])
    loss = np.array([nll(y, f) for f in fused])
    best = np.flatnonzero(curve >= curve.max() - 1e-9)
    return float(WEIGHTS[best[np.argmin(loss[best])]]), curve


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
    if val:  # per fold, on its training speakers (inner CV): each modality's temperature, then the weight
        fused = np.zeros_like(face)
        weights, temps = {}, {}
        for f, v in val.items():
            yv, vf = y[v["clips"]], _face_probs(v, cfg.fusion.face)
            tf, tv = temperature(yv, vf), temperature(yv, v["voice"])
            best, _ = tuned_weight(yv, calibrate(vf, tf), calibrate(v["voice"], tv))
            test = items.fold == f
            fused[test] = best * calibrate(face[test], tf) + (1 - best) * calibrate(p["voice"][test], tv)
            weights[str(f)], temps[str(f)] = best, {"face": tf, "voice": tv}
        out["fused_tuned"] = {**_scores(y, fused.argmax(1), labels, g),
                              "weight": float(np.mean(list(weights.values()))), "weights": weights,
                              "temperatures": temps}
    out["fusion_face"] = cfg.fusion.face
    return out




@register("judge", "av_emotion")
@dataclass
class AvEmotion(Judge):
    """Emotion from the face (fer, the CNN), the voice and their late fusion, by the per-fold models
    trained on the original clips (see :func:`emotion_figures`)."""

    medium = "video"
    key = "emotion"
    threats = ("video.emotion",)
    columns = (
        Column("face (fer, pretrained)", "face_fer.uar", "pct"),
        Column("face (CNN)", "face_cnn.uar", "pct"),
        Column("voice", "voice.uar", "pct"),
        Column("fused emotion UAR", "fused.uar", "pct", utility=True),
        Column("fused (calibrated, weight tuned)", "fused_tuned.uar", "pct"),
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return emotion_figures(j.extra("models"), j.side)
