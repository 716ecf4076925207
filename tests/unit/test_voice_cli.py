"""``privemo evaluate voice`` and ``privemo anonymize voice`` end to end on the synthetic corpus."""

from __future__ import annotations

import json

import pytest
import yaml
from typer.testing import CliRunner

from privemo.cli.main import app
from privemo.experiments.store import read_results
from tests.conftest import assert_report_page, make_wav

cli = CliRunner()


@pytest.mark.slow
def test_evaluate_voice_end_to_end_and_resume(tmp_path):
    cfg = {"name": "t", "corpus": {"type": "synthetic", "root": str(tmp_path / "synth"),
                                   "options": {"media": "audio", "n_speakers": 6, "items": 2, "seed": 0}},
           "folds": 3, "workers": 1, "examples": 1, "rtf_clips": 2, "attackers": ["logreg"],
           "emotion_features": "egemaps", "finetune": {"steps": 3, "speakers": 3, "clips": 2},
           "methods": [{"name": "mcadams", "anonymizer": {"type": "mcadams"}},
                       {"name": "vq4", "anonymizer": {"type": "voice_vq", "k": 4, "n_iter": 4}, "curve": "voice_vq",
                        "x": 4}]}
    path = tmp_path / "voice.yaml"
    path.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "run"
    res = cli.invoke(app, ["evaluate", "voice", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = {r["method"]: r for r in read_results(out)}
    assert set(rows) == {"original", "mcadams", "vq4"}
    for r in rows.values():
        v = r["verification"]
        assert all(0 <= v[k] <= 1 for k in ("lazy_eer_centroid", "semi_eer_pairs", "semi_lda_eer_centroid"))
        assert 0 <= r["speaker_id"]["informed_resemblyzer"] <= 1 and r["rtf"] >= 0
        assert len(r["emotion"]["logreg_anon_confusion"]) == len(r["emotion"]["labels"])
        assert set(r["emotion"]["logreg_anon_recall"]) == set(r["emotion"]["labels"])
        ft = r["finetuned"]  # the attacker fine-tuned on each fold's other speakers
        assert 0 <= ft["eer_centroid"] <= 1 and 0 <= ft["id_accuracy"] <= 1 and len(ft["per_fold"]) == 3
    assert rows["original"]["similarity"]["r2"]["mean"] == pytest.approx(1.0)
    md = (out / "report.md").read_text()
    assert "| mcadams |" in md and "voice_vq" in md and "Table 1" in md
    assert "fine-tuned encoder" in md and "Recall per emotion" in md and "**" in md  # the strongest in bold
    assert "Listening checks" in md and "spectrograms of the first listening example" in (out / "report.html").read_text()
    info = assert_report_page(out / "report.html", min_tables=2)
    assert sum(m["tag"] == "AUDIO" for m in info["media"]) >= 2  # listening examples, embedded and playable
    assert len(list((out / "audio" / "mcadams").rglob("*.wav"))) == 6 * 6 * 2
    before = (out / "units" / "mcadams.json").stat().st_mtime_ns
    res = cli.invoke(app, ["evaluate", "voice", str(path), "--out", str(out)])  # resume: nothing redone
    assert res.exit_code == 0 and (out / "units" / "mcadams.json").stat().st_mtime_ns == before
    # the same method name with other parameters: refused (naming the method and the key), or redone
    cfg["methods"][0]["anonymizer"]["alpha"] = 0.7
    path.write_text(yaml.safe_dump(cfg))
    res = cli.invoke(app, ["evaluate", "voice", str(path), "--out", str(out)])
    assert res.exit_code == 2 and "unit mcadams" in res.output and "method.anonymizer.alpha" in res.output
    assert (out / "units" / "mcadams.json").stat().st_mtime_ns == before  # nothing lost
    vq = (out / "units" / "vq4.json").stat().st_mtime_ns
    res = cli.invoke(app, ["evaluate", "voice", str(path), "--out", str(out), "--force"])
    assert res.exit_code == 0, res.output
    assert (out / "units" / "mcadams.json").stat().st_mtime_ns != before
    assert (out / "units" / "vq4.json").stat().st_mtime_ns == vq  # only the changed unit redone
    res = cli.invoke(app, ["evaluate", "voice", str(path), "--out", str(out)])
    assert res.exit_code == 0, res.output  # the redone unit records its new configuration
    _compare_with_a_representation_run(tmp_path, out)


def _compare_with_a_representation_run(tmp_path, voice_run):
    """The voice anonymizers and an adversarial representation of the same corpus on one figure."""
    enc = {"type": "acoustic", "conv_layers": 1, "channels": 8, "gru_layers": 1, "gru_width": 8}
    rcfg = {"name": "rep", "corpus": {"type": "synthetic", "root": str(tmp_path / "synth"),
                                      "options": {"media": "audio", "n_speakers": 6, "items": 2, "seed": 0}},
            "variants": [{"name": "gen", "features": {"type": "mfb"},
                          "learner": {"type": "standard", "epochs": 2, "encoder": enc}},
                         {"name": "priv", "features": {"type": "mfb"}, "reference": "gen",
                          "learner": {"type": "grl", "epochs": 2, "encoder": enc,
                                      "adversaries": [{"target": "gender", "lambda": 0.5}]}}],
            "evaluators": [{"type": "emotion"}, {"type": "gender_attacker", "classifier": "logreg"}, {"type": "speaker_id"}],
            "folds": 3, "valid_speakers": 1}
    rpath = tmp_path / "rep.yaml"
    rpath.write_text(yaml.safe_dump(rcfg))
    rep = tmp_path / "rep"
    res = cli.invoke(app, ["run", str(rpath), "--out", str(rep)])
    assert res.exit_code == 0, res.output
    cmp_dir = tmp_path / "cmp"
    res = cli.invoke(app, ["compare", str(voice_run), str(rep), "--out", str(cmp_dir)])
    assert res.exit_code == 0, res.output
    pts = json.loads((cmp_dir / "points.json").read_text())
    got = {(p["run"], p["row"], p["threat"]) for p in pts}
    assert {("t", "mcadams", "speaker verification"), ("t", "mcadams", "speaker identification"),
            ("t", "mcadams", "gender"), ("rep", "priv", "gender"), ("rep", "priv", "speaker identification")} <= got
    priv = next(p for p in pts if p["row"] == "priv" and p["threat"] == "gender")
    assert priv["kind"] == "protection" and priv["kept"] > 0 and 0 <= priv["value"] <= 1
    assert next(p for p in pts if p["row"] == "gen")["kind"] == "reference"
    assert (cmp_dir / "figure_synthetic.png").stat().st_size > 10_000
    md = (cmp_dir / "report.md").read_text()
    assert "| t | voice | synthetic | 3 speaker-independent folds |" in md and "| rep | representation |" in md
    assert assert_report_page(cmp_dir / "report.html", min_tables=2)["images"] >= 1
    # a folder that holds no run is named; the output may not be one of the inputs
    res = cli.invoke(app, ["compare", str(voice_run), str(tmp_path / "nothing"), "--out", str(tmp_path / "c2")])
    assert res.exit_code == 2 and "nothing" in res.output and not (tmp_path / "c2").exists()
    res = cli.invoke(app, ["compare", str(voice_run), "--out", str(voice_run)])
    assert res.exit_code == 2 and "one of the runs" in res.output
    # one entry for every job: `privemo run` of a voice config is the voice evaluation (here a resume,
    # nothing redone) and `privemo report` re-draws any run's report
    before = (voice_run / "units" / "mcadams.json").stat().st_mtime_ns
    res = cli.invoke(app, ["run", str(tmp_path / "voice.yaml"), "--out", str(voice_run)])
    assert res.exit_code == 0 and (voice_run / "units" / "mcadams.json").stat().st_mtime_ns == before, res.output
    # the executor options reach the voice evaluation: a bad address is refused before any work, and a
    # resume on another executor redoes nothing
    res = cli.invoke(app, ["run", str(tmp_path / "voice.yaml"), "--out", str(voice_run), "--executor", "local",
                           "--ray-address", "auto"])
    assert res.exit_code == 2 and "address is for the ray executor" in res.output, res.output
    res = cli.invoke(app, ["run", str(tmp_path / "voice.yaml"), "--out", str(voice_run), "--executor", "local"])
    assert res.exit_code == 0 and (voice_run / "units" / "mcadams.json").stat().st_mtime_ns == before, res.output
    fed = tmp_path / "fed.yaml"
    fed.write_text("name: f\nrounds: 2\n")
    res = cli.invoke(app, ["run", str(fed), "--executor", "ray"])
    assert res.exit_code == 2 and "federated run has no executor" in res.output, res.output
    for run in (voice_run, rep):
        res = cli.invoke(app, ["report", str(run)])
        assert res.exit_code == 0 and "report" in res.output, res.output


def test_anonymize_voice_cli(tmp_path):
    for spk in ("a", "b"):
        make_wav(tmp_path / "in" / spk / "x.wav", seconds=0.5, freq=150 if spk == "a" else 240)
    (tmp_path / "in" / "b" / "bad.wav").write_bytes(b"nope")
    res = cli.invoke(app, ["anonymize", "voice", str(tmp_path / "in"), str(tmp_path / "out"), "-m", "mcadams",
                           "-p", "alpha=0.75"])
    assert res.exit_code == 1 and "bad.wav" in res.output
    assert (tmp_path / "out" / "a" / "x.wav").is_file() and (tmp_path / "out" / "b" / "x.wav").is_file()
    stamp = json.loads((tmp_path / "out" / ".privemo-anonymizer.json").read_text())
    assert stamp["alpha"] == 0.75
    res = cli.invoke(app, ["anonymize", "voice", str(tmp_path / "in" / "a" / "x.wav"), str(tmp_path / "one.wav"),
                           "-m", "pseudo_speaker"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "one.wav").is_file()
    # one file to one file: the stamp is the output's own, so other methods' files may sit beside it...
    res = cli.invoke(app, ["anonymize", "voice", str(tmp_path / "in" / "a" / "x.wav"), str(tmp_path / "two.wav"),
                           "-m", "mcadams"])
    assert res.exit_code == 0 and (tmp_path / "two.wav").is_file(), res.output
    # ...but the same output is never resumed with another method
    res = cli.invoke(app, ["anonymize", "voice", str(tmp_path / "in" / "a" / "x.wav"), str(tmp_path / "two.wav"),
                           "-m", "noise"])
    assert res.exit_code == 2 and "two.wav: was anonymized with" in res.output
    res = cli.invoke(app, ["anonymize", "voice", str(tmp_path / "in"), str(tmp_path / "o2"), "-m", "nope"])
    assert res.exit_code == 2 and "unknown anonymizer" in res.output
