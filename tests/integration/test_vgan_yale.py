"""PPRL-VGAN on real faces (../shared/data/yalefaces): the whole experiment runs on dlib-aligned gray
crops, the identifier judges real faces, and identity replacement follows its code."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from privemo.cli.main import app
from tests.conftest import shared

pytestmark = pytest.mark.integration


def test_vgan_experiment_on_yale(tmp_path, monkeypatch):
    root = shared("yalefaces")
    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path / "cache"))
    cfg = {"name": "yale_vgan", "corpus": {"type": "yale", "root": str(root)}, "size": 32, "color": "gray",
           "split": "subject", "test_fraction": 0.2,
           "model": {"iterations": 150, "batch": 32, "checkpoint_every": 50},
           "attacks": {"epochs": 15, "scenario2_codes": 1, "latent": ["svm"], "pretrained": False}}
    path = tmp_path / "yale.yaml"
    path.write_text(yaml.safe_dump(cfg))
    r = CliRunner().invoke(app, ["vgan", "evaluate", str(path), "--out", str(tmp_path / "run")])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (tmp_path / "run" / "results.jsonl").read_text().splitlines()]
    get = {(r.get("scenario"), r.get("attacker")): r for r in rows}
    chance = get[("unconstrained", "cnn")]["id_chance"]
    assert chance == pytest.approx(1 / 15)
    # an identifier trained on real training faces recognises the held-out real faces
    assert get[("unconstrained", "cnn")]["identification"]["acc"] > 3 * chance
    # after 150 iterations the generator already draws the code's identity for the model's own D2
    assert get[("replacement", "D2")]["target_identity"]["acc"] > 3 * chance
    assert (tmp_path / "run" / "figures" / "replacement.png").is_file()
