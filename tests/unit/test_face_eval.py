"""``privemo evaluate face`` end to end on a tiny demo corpus: both parts, resume, report, errors."""

from __future__ import annotations

import json

import numpy as np
import yaml
from typer.testing import CliRunner

from privemo.cli.main import app
from tests.conftest import assert_report_page

CONFIG = {
    "name": "tiny_face",
    "corpus": {"type": "synthetic", "options": {"media": "image", "n_speakers": 4, "items": 2}},
    "emotions": ["happy", "sad", "neutral"],
    "size": 16, "color": "rgb", "detect": False, "augment": 60, "seed": 0,
    "narula": {"protocols": {"paper": 2, "subject": 2}, "channels": [4, 8], "hidden": [8], "epochs": 1, "T": 1,
               "init_epochs": 1, "id_epochs": 1},
    "anonymizers": {"folds": 2, "epochs": 1, "attackers": ["cnn", "vgg"], "vgg_channels": [4, 8],
                    "methods": [{"name": "pix", "anonymizer": {"type": "face_pixelate", "block": 16}},
                                {"name": "ae", "anonymizer": {"type": "face_autoencoder", "size": 16, "epochs": 1,
                                                              "latent": 8}}]},
}


def test_evaluate_face_end_to_end_and_resume(tmp_path, monkeypatch):
    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path / "cache"))
    cfg = tmp_path / "face.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    run = tmp_path / "run"
    runner = CliRunner()
    r = runner.invoke(app, ["evaluate", "face", str(cfg), "--out", str(run)])
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in (run / "results.jsonl").read_text().splitlines()]
    narula = [x for x in rows if x["part"] == "narula"]
    anon = {x["method"]: x for x in rows if x["part"] == "anonymizer"}
    assert len(narula) == 4 and set(anon) == {"original", "pix", "ae"}
    assert anon["original"]["dlib"]["chance"] == 0.25
    assert set(anon["pix"]["scenario"]) == {"cnn", "vgg"}
    assert anon["pix"]["gender"] is not None  # the demo faces know their gender
    md = (run / "report.md").read_text()
    assert "Hybrid2Face" in md and "| pix |" in md and "scenario I" in md
    html = (run / "report.html").read_text()
    assert "data:image/png;base64" in html and (run / "examples" / "ae.png").is_file()
    info = assert_report_page(run / "report.html", min_tables=2)
    assert info["images"] >= 2  # the privacy-utility figure and the examples
    stamp = {p.name: p.stat().st_mtime_ns for p in (run / "units").iterdir()}
    r = runner.invoke(app, ["evaluate", "face", str(cfg), "--out", str(run)])
    assert r.exit_code == 0, r.output
    assert {p.name: p.stat().st_mtime_ns for p in (run / "units").iterdir()} == stamp  # nothing redone
    changed = json.loads(json.dumps(CONFIG))
    changed["anonymizers"]["methods"][0]["anonymizer"]["block"] = 8  # same name, other parameters
    cfg.write_text(yaml.safe_dump(changed))
    r = runner.invoke(app, ["evaluate", "face", str(cfg), "--out", str(run), "--part", "anonymizers"])
    assert r.exit_code == 2 and "anonymizer__pix" in r.output and "method.anonymizer.block" in r.output
    r = runner.invoke(app, ["evaluate", "face", str(cfg), "--out", str(run), "--part", "anonymizers", "--force"])
    assert r.exit_code == 0, r.output
    now = {p.name: p.stat().st_mtime_ns for p in (run / "units").iterdir()}
    assert [k for k in now if now[k] != stamp.get(k)] == ["anonymizer__pix.json"]
    cfg.write_text(yaml.safe_dump(CONFIG))
    r = runner.invoke(app, ["evaluate", "face", str(run), "--report"])
    assert r.exit_code == 0 and "Face anonymizers" in r.output
    # every default of a method's anonymizer is recorded; a unit recorded with only the parameters the
    # config named (as before) is judged by the anonymizer its row says it ran: ae ran with another
    # default noise than today's, so resuming it is refused, naming the parameter
    spec = json.loads((run / "unit_specs" / "anonymizer__ae.json").read_text())
    assert spec["method"]["anonymizer"]["noise"] == 0.1 and spec["method"]["anonymizer"]["seed"] == 0
    spec["method"]["anonymizer"] = CONFIG["anonymizers"]["methods"][1]["anonymizer"]
    (run / "unit_specs" / "anonymizer__ae.json").write_text(json.dumps(spec))
    cfg.write_text(yaml.safe_dump(changed))  # what the run folder last ran
    r = runner.invoke(app, ["evaluate", "face", str(cfg), "--out", str(run), "--method", "ae"])
    assert r.exit_code == 0, r.output  # the row's anonymizer is today's: nothing redone
    units = run / "units" / "anonymizer__ae.json"
    rows = json.loads(units.read_text())
    rows[0]["anonymizer"]["noise"] = 0.3
    units.write_text(json.dumps(rows))
    r = runner.invoke(app, ["evaluate", "face", str(cfg), "--out", str(run), "--method", "ae"])
    assert r.exit_code == 2 and "anonymizer__ae" in r.output and "method.anonymizer.noise" in r.output


def test_evaluate_face_config_errors(tmp_path):
    bad = dict(CONFIG, size=20)
    cfg = tmp_path / "bad.yaml"
    cfg.write_text(yaml.safe_dump(bad))
    r = CliRunner().invoke(app, ["evaluate", "face", str(cfg), "--out", str(tmp_path / "r")])
    assert r.exit_code != 0 and "size" in r.output
    cfg.write_text(yaml.safe_dump(dict(CONFIG, narula={"protocols": {"loso": 3}})))
    r = CliRunner().invoke(app, ["evaluate", "face", str(cfg), "--out", str(tmp_path / "r")])
    assert r.exit_code != 0 and "unknown protocols" in r.output
    r = CliRunner().invoke(app, ["evaluate", "face", str(cfg), "--part", "everything"])
    assert r.exit_code != 0 and "--part" in r.output


def test_subject_halves_are_disjoint_and_cover_every_subject(tmp_path, monkeypatch):
    from privemo.experiments.face.config import FaceEvalConfig
    from privemo.experiments.face.runner import FaceEvaluation
    from privemo.features import FeatureCache

    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path / "cache"))
    seen = {}
    for half in ("even", "odd", "all"):
        cfg = FaceEvalConfig.model_validate({**CONFIG, "subjects": half})
        faces = FaceEvaluation(cfg, tmp_path / half, tmp_path, FeatureCache(tmp_path / "cache")).faces()
        assert np.array_equal(faces.source, np.arange(len(faces)))
        seen[half] = set(faces.subject.tolist())
    assert seen["even"] and seen["odd"] and not seen["even"] & seen["odd"]
    assert seen["even"] | seen["odd"] == seen["all"]


def test_a_method_picks_its_unit_and_the_original_it_is_judged_against(tmp_path):
    from privemo.errors import ConfigError
    from privemo.experiments.face.config import parse_face_config
    from privemo.experiments.face.runner import FaceEvaluation

    ev = FaceEvaluation(parse_face_config(CONFIG), tmp_path / "run", tmp_path)
    plan = ev.plan()

    def picked(only):
        return [p.key for p in plan if p.picked(only)]

    assert picked(["ae"]) == ["anonymizer__original", "anonymizer__ae"]
    assert picked(["pix", "narula"]) == [p.key for p in plan if p.key.startswith("narula")] + [
        "anonymizer__original", "anonymizer__pix"]
    assert picked(["anonymizers"]) == [p.key for p in plan if p.key.startswith("anonymizer__")]
    assert len(picked([])) == len(plan)
    try:
        ev.run(["pixx"])
    except ConfigError as e:
        assert "--method" in str(e) and "pixx" in str(e) and "pix" in str(e)
    else:
        raise AssertionError("an unknown method ran")
    assert not (tmp_path / "run" / "config.yaml").exists()  # refused before anything was written
