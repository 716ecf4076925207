"""The audio-visual attackers, per frame, clip and speaker: face identification (pretrained dlib
against a gallery of original enrolment frames, the scenario-I CNN trained on originals, the informed
scenario-II CNN trained on anonymized enrolment frames) and speaker verification and identification
on the voice tracks (resemblyzer). Their threat models are declared in :mod:`privemo.attacks.face`,
:mod:`privemo.attacks.verification` and :mod:`privemo.attacks.voice`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from privemo.attacks.face import identify_pretrained
from privemo.attacks.verification import verification_attack
from privemo.attacks.voice import similarity_table
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.video import Models, VideoSide, _tensor, predict_proba
from privemo.evaluators.voice import Items as VoiceItems
from privemo.evaluators.voice import Side
from privemo.registry import register


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


_FACE = {"fmt": "pct", "threat": "face identity", "chance": "speakers", "target": 2.0, "relative": True,
         "check": "face identification <= 2 x chance (strongest)"}
_VOICE = {"fmt": "pct", "threat": "voice identity", "chance": "speakers", "target": 2.0, "relative": True,
          "check": "speaker identification <= 2 x chance (strongest)"}
_EER = {"fmt": "pct", "threat": "speaker verification", "chance": 0.5, "target": 0.40, "lower_is_private": False,
        "check": "speaker verification EER >= 40% (strongest)"}


@register("judge", "face_id")
@dataclass
class FaceId(Judge):
    """Face identification per frame, clip and speaker: dlib (pretrained), the scenario-I and the
    informed scenario-II CNN (see :func:`face_attacks`)."""

    medium = "video"
    key = "face_id"
    threats = ("face.dlib", "face.scenario_I", "face.scenario_II")
    columns = (
        Column("dlib frame", "dlib.frame", "pct"),
        Column("dlib clip", "dlib.clip", attacker="dlib, per clip", strongest=True, **_FACE),  # type: ignore[arg-type]
        Column("dlib speaker", "dlib.speaker", attacker="dlib, per speaker", strongest=True,
               **_FACE),  # type: ignore[arg-type]
        Column("dlib EER", "dlib.eer", "pct"),
        Column("CNN I clip", "cnn_I.clip", attacker="face CNN I, per clip", strongest=True,
               **_FACE),  # type: ignore[arg-type]
        Column("CNN II clip", "cnn_II.clip", attacker="face CNN II (informed), per clip", strongest=True,
               **_FACE),  # type: ignore[arg-type]
        Column("CNN II speaker", "cnn_II.speaker", attacker="face CNN II (informed), per speaker", strongest=True,
               **_FACE),  # type: ignore[arg-type]
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return face_attacks(j.extra("models"), j.side)


@register("judge", "av_speaker")
@dataclass
class AvSpeaker(Judge):
    """Speaker verification and identification on the voice tracks (see :func:`voice_attacks`)."""

    medium = "video"
    key = "speaker"
    threats = ("voice.lazy_verification", "voice.semi_verification", "voice.semi_lda_verification",
               "video.lazy_speaker_id", "video.informed_speaker_id")
    columns = (
        Column("voice lazy clip", "lazy.clip", attacker="resemblyzer lazy, per clip", strongest=True,
               **_VOICE),  # type: ignore[arg-type]
        Column("voice informed clip", "informed.clip", attacker="resemblyzer informed, per clip", strongest=True,
               **_VOICE),  # type: ignore[arg-type]
        Column("voice informed speaker", "informed.speaker", attacker="resemblyzer informed, per speaker",
               strongest=True, **_VOICE),  # type: ignore[arg-type]
        Column("EER lazy", "verification.lazy_eer_centroid", attacker="lazy", strongest=True,
               **_EER),  # type: ignore[arg-type]
        Column("EER semi", "verification.semi_eer_centroid", attacker="semi-informed", strongest=True,
               **_EER),  # type: ignore[arg-type]
        Column("EER semi-LDA", "verification.semi_lda_eer_centroid", attacker="semi-informed + LDA", strongest=True,
               **_EER),  # type: ignore[arg-type]
        Column("R2 sim", "similarity.r2.mean"),
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return voice_attacks(j.extra("models"), j.side)
