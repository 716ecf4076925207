"""Face privacy on Yale (../shared/data/yalefaces): the pretrained judges and attackers work on real
faces, a strong degradation defeats the pretrained identifier, and narula-2020's models learn."""

from __future__ import annotations

import numpy as np
import pytest

from privemo.anonymize.face import FacePixelate
from privemo.attacks.face import identify_pretrained
from privemo.evaluators.face import fer_predict
from privemo.experiments.face.config import NarulaConfig
from privemo.features import FeatureCache
from privemo.features.face import face_descriptors
from privemo.features.faceset import augmented, load_faces
from privemo.learners.narula import narula_unit, protocol_folds
from tests.conftest import shared

pytestmark = pytest.mark.integration
EMOTIONS = ["happy", "sad", "neutral", "surprised"]


@pytest.fixture(scope="module")
def yale(tmp_path_factory):
    faces, _ = load_faces("yale", shared("yalefaces"), {}, EMOTIONS, 64, "gray",
                          FeatureCache(tmp_path_factory.mktemp("cache")))
    return faces


def test_pretrained_judges_on_real_faces(yale):
    assert len(yale) == 60 and yale.found.all()
    pred = fer_predict(yale.images)
    assert np.mean(pred == yale.emotion) > 0.45  # chance 0.25
    assert np.mean(pred[yale.emotion == "happy"] == "happy") > 0.8
    desc = face_descriptors(yale.images)
    gallery = yale.emotion == "neutral"
    orig = identify_pretrained(desc[gallery], yale.subject[gallery], desc[~gallery], yale.subject[~gallery])
    assert orig["acc"] > 0.9 and orig["eer"] < 0.05
    pix = FacePixelate(block=16).transform_batch(yale.images[~gallery])
    anon = identify_pretrained(desc[gallery], yale.subject[gallery], face_descriptors(pix), yale.subject[~gallery])
    assert anon["acc"] < 0.25 and anon["eer"] > 0.3


def test_narula_models_learn_identity_on_yale(yale):
    import cv2

    small = yale.take(np.arange(len(yale)))
    small.images = np.stack([cv2.resize(im, (32, 32), interpolation=cv2.INTER_AREA) for im in yale.images])
    data = augmented(small, 600, 0)
    folds = protocol_folds(data, "paper", 4, 0)
    cfg = NarulaConfig(channels=[16, 32, 64], epochs=12, T=2, init_epochs=3, id_epochs=2)
    row = narula_unit(data, "paper", 0, folds, cfg, 0)
    assert row["Face"]["acc"] > 0.4 and row["Emotion2Face"]["acc"] > 0.4  # chance 1/15
    assert 0.0 <= row["Hybrid2Face"]["acc"] <= 1.0
