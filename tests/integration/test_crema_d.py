"""CREMA-D loader against the real metadata (../shared/data/crema-d-metadata) and published names."""

from __future__ import annotations

import csv
import shutil

import pytest

from privemo.corpora import load_crema_d
from tests.conftest import make_wav, shared

pytestmark = pytest.mark.integration


def test_genders_from_real_demographics(tmp_path):
    meta = shared("crema-d-metadata")
    shutil.copy(meta / "VideoDemographics.csv", tmp_path / "VideoDemographics.csv")
    with open(meta / "SentenceFilenames.csv", newline="") as fh:
        names = [row["Filename"] for row in csv.DictReader(fh)]
    one_per_actor = {}
    for n in names:
        one_per_actor.setdefault(n.split("_")[0], n)
    for n in one_per_actor.values():
        make_wav(tmp_path / "AudioWAV" / f"{n}.wav", seconds=0.05)
    m = load_crema_d(tmp_path)
    s = m.summary()
    assert s["speakers"] == 91
    assert s["speakers_by_gender"] == {"m": 48, "f": 43, "unknown": 0}
