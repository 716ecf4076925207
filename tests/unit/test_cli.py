"""The CLI is a thin shell: inspect, features extract, run, report; errors are one clear line."""

from __future__ import annotations

import json

import yaml
from typer.testing import CliRunner

from privemo.cli.main import app
from tests.conftest import SYNTH_OPTS, make_wav

cli = CliRunner()


def test_data_inspect_json(tmp_path):
    for actor in ("01", "02", "03"):
        make_wav(tmp_path / f"Actor_{actor}" / f"03-01-03-01-01-01-{actor}.wav")
    (tmp_path / "Actor_01" / "03-01-03-01-01-02-01.wav").write_bytes(b"")
    res = cli.invoke(app, ["data", "inspect", "ravdess", str(tmp_path), "--check-files", "--json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["items"] == 3 and s["speakers_by_gender"] == {"m": 2, "f": 1, "unknown": 0}
    assert len(s["problems"]) == 1 and "empty" in s["problems"][0][1]


def test_clear_error_exit_code(tmp_path):
    res = cli.invoke(app, ["data", "inspect", "ravdess", str(tmp_path / "missing")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_features_extract(tmp_path):
    make_wav(tmp_path / "Actor_01" / "03-01-03-01-01-01-01.wav")
    res = cli.invoke(app, ["features", "extract", "ravdess", str(tmp_path), "-f", "mfb", "--out",
                           str(tmp_path / "f.npz")])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "f.npz").is_file()


def test_run_and_report(tmp_path, synth_root):
    cfg = {"name": "cli", "corpus": {"type": "synthetic", "root": str(synth_root),
                                     "options": {"media": "audio", **SYNTH_OPTS}},
           "variants": [{"name": "mfcc", "features": {"type": "mfcc"}}],
           "evaluators": [{"type": "emotion"}, {"type": "gender_attacker"}], "folds": 2, "valid_speakers": 1}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    res = cli.invoke(app, ["run", str(tmp_path / "c.yaml"), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    (tmp_path / "run" / "report.html").unlink()
    res = cli.invoke(app, ["report", str(tmp_path / "run")])
    assert res.exit_code == 0 and (tmp_path / "run" / "report.html").is_file()
    bad = cli.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert bad.exit_code == 2 and "not found" in bad.output


def test_federated_commands_give_clear_errors(tmp_path):
    bad = tmp_path / "fed.yaml"
    bad.write_text("name: x\ncorpus: {type: synthetic}\nrounds: 0\n")
    res = cli.invoke(app, ["federated", "run", str(bad)])
    assert res.exit_code == 2 and "rounds" in res.output
    res = cli.invoke(app, ["federated", "deploy", str(tmp_path / "job.json")])
    assert res.exit_code == 2 and "job file not found" in res.output
    res = cli.invoke(app, ["federated", "report", str(tmp_path)])
    assert res.exit_code == 2 and "no results" in res.output


def test_anonymize_methods_lists_every_registered_anonymizer():
    from typer.testing import CliRunner

    from privemo.cli.main import app
    from privemo.registry import names

    res = CliRunner().invoke(app, ["anonymize", "methods"], terminal_width=200)
    assert res.exit_code == 0
    assert all(f"  {n}: " in res.output for n in names("anonymizer"))
