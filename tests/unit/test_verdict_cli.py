"""The answer-first report (verdicts) and the newcomer's CLI: help in order with examples, the media
guessed by `privemo anonymize`."""

from __future__ import annotations

import json

import click
import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from privemo.cli.main import app
from privemo.experiments import verdict as vd
from tests.conftest import make_image, make_wav


def test_attack_targets_both_directions() -> None:
    assert vd.Attack("id", 0.10, 0.05, 0.10).met and not vd.Attack("id", 0.11, 0.05, 0.10).met
    assert vd.Attack("eer", 0.45, 0.5, 0.40, lower_is_private=False).met
    assert not vd.Attack("eer", 0.05, 0.5, 0.40, lower_is_private=False).met


def test_strongest_attacker_is_the_one_furthest_past_its_target() -> None:
    v = vd.Verdict("m", vd.PROTECTION, 0.5, 0.6, threats={"identity": [
        vd.Attack("weak", 0.20, 0.1, 0.2), vd.Attack("strong", 0.50, 0.1, 0.2), vd.Attack("mid", 0.30, 0.1, 0.2)]})
    assert v.strongest("identity").attacker == "strong"
    # kept 0.5 / 0.6 = 0.83 < 0.90: not met; identity 0.50 > 0.20: not met
    assert v.targets() == [("emotion", False), ("identity", False)]
    ok = vd.Verdict("m", vd.PROTECTION, 0.58, 0.6, threats={"identity": [vd.Attack("a", 0.15, 0.1, 0.2)]})
    assert ok.targets() == [("emotion", True), ("identity", True)]


def test_verdict_block_in_words_protections_first() -> None:
    vs = [vd.Verdict("feat", vd.NOT_PROTECTION, 0.9, why="features",
                  threats={"gender": [vd.Attack("g", 0.5, 0.5, 0.55)]}),
          vd.Verdict("orig", vd.REFERENCE, 0.8, threats={"gender": [vd.Attack("g", 0.95, 0.5, 0.55)]}),
          vd.Verdict("anon", vd.PROTECTION, 0.76, 0.8, threats={"gender": [vd.Attack("g", 0.7, 0.5, 0.55)]})]
    md = vd.verdict_markdown(vs)
    lines = [line for line in md.splitlines() if line.startswith("- ")]
    assert [line.split("**")[1] for line in lines] == ["anon", "orig", "feat"]
    assert "0.95 x" in lines[0] and "**not met**" in lines[0] and "1 of 2 targets met" in lines[0]
    assert "no protection" in lines[1] and "**not a protection** (features)" in lines[2]
    full, block = vd.with_verdict("# title\n\nintro\n\n## tables\n\n| a |\n|---|\n| 1 |\n", vs)
    assert full.index("## Verdict") < full.index("## tables") and block == md


def test_verdict_figure_draws_every_threat(tmp_path) -> None:
    vs = [vd.Verdict("orig", vd.REFERENCE, 0.8, threats={"id": [vd.Attack("a", 0.9, 0.1, 0.2)],
                                                  "eer": [vd.Attack("v", 0.05, 0.5, 0.4, lower_is_private=False)]}),
          vd.Verdict("anon", vd.PROTECTION, 0.7, 0.8, threats={"id": [vd.Attack("a", 0.3, 0.1, 0.2)],
                                                        "eer": [vd.Attack("v", 0.3, 0.5, 0.4, lower_is_private=False)]})]
    caption, png = vd.verdict_figure(vs, tmp_path)
    assert "Privacy-utility" in caption and len(png) > 1000
    assert (tmp_path / "figure_verdict.png").stat().st_size > 5000


def test_speaker_normalisation_is_not_a_protection_on_the_report(tmp_path) -> None:
    """The demo's trap: per-speaker normalisation puts the gender attacker at chance; the verdict says it
    is not a protection, and says why."""
    from privemo.experiments.report import write_report

    rows = []
    for variant, order, gender_uar in (("feats", 0, 0.95), ("feats_spknorm", 1, 0.5)):
        for fold in range(2):
            base = {"run": "r", "corpus": "c", "variant": variant, "variant_order": order, "reference": "feats",
                    "fold": fold, "seed": 0, "protocol": "folds", "chance": 0.5}
            rows.append({**base, "evaluator": "emotion", "evaluator_type": "emotion", "uar": 0.6, "accuracy": 0.6,
                         "chance": 0.25})
            rows.append({**base, "evaluator": "gender_attacker", "evaluator_type": "gender_attacker",
                         "uar": gender_uar, "privacy": 1 - gender_uar})
    run = tmp_path / "run"
    run.mkdir()
    (run / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (run / "config.yaml").write_text("variants:\n  - {name: feats}\n  - {name: feats_spknorm, normalize: speaker}\n")
    md = write_report(run)["markdown"]
    line = next(line for line in md.splitlines() if line.startswith("- **feats_spknorm**"))
    assert "**not a protection** (per-speaker normalisation" in line
    html = (run / "report.html").read_text()
    assert html.index("id='verdict'") < html.index("<table>")


def _leaf_commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            yield from _leaf_commands(cmd, (*prefix, name))
        else:
            yield (*prefix, name)


def test_every_command_help_has_an_example_and_the_jobs_come_in_order() -> None:
    runner = CliRunner()
    top = runner.invoke(app, ["--help"], terminal_width=200)
    assert top.exit_code == 0
    listed = [w for w in ("demo", "anonymize", "evaluate", "run", "report", "check", "data", "features", "vgan",
                          "federated") if f"│ {w} " in top.output]
    assert listed == sorted(listed, key=lambda w: top.output.index(f"│ {w} "))
    assert top.output.index("│ demo ") < top.output.index("│ anonymize ") < top.output.index("│ run ")
    group = typer.main.get_command(app)
    leaves = list(_leaf_commands(group))
    assert len(leaves) >= 15
    for path in leaves:
        out = runner.invoke(app, [*path, "--help"], terminal_width=200)
        assert out.exit_code == 0, (path, out.output)
        assert "Example" in out.output, f"privemo {' '.join(path)} --help has no example"


def test_anonymize_guesses_the_media(tmp_path) -> None:
    from privemo.cli.anonymize import guess_media
    from privemo.errors import ConfigError
    from privemo.media import write_video

    wav = make_wav(tmp_path / "a" / "x.wav")
    png = make_image(tmp_path / "faces" / "x.png")
    make_image(tmp_path / "faces" / "y.jpg", mode="RGB")
    make_wav(tmp_path / "faces" / "stray.wav")
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    write_video(tmp_path / "v.mp4", frames, 4.0, np.zeros(16000, np.float32), 16000)
    write_video(tmp_path / "v.webm", frames, 4.0, np.zeros(16000, np.float32), 16000)
    assert guess_media(wav) == "voice" and guess_media(png) == "face"
    assert guess_media(tmp_path / "v.mp4") == "video" and guess_media(tmp_path / "v.webm") == "video"
    assert guess_media(tmp_path / "faces") == "face"  # the kind most files are
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(ConfigError, match="notes.txt: cannot tell"):
        guess_media(tmp_path / "notes.txt")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no audio, image or video files"):
        guess_media(tmp_path / "empty")


def test_anonymize_without_a_kind_runs_the_guessed_one(tmp_path) -> None:
    wav = make_wav(tmp_path / "talk.wav", seconds=0.5)
    out = tmp_path / "talk_anon.wav"
    res = CliRunner().invoke(app, ["anonymize", str(wav), str(out), "--method", "mcadams"])
    assert res.exit_code == 0, res.output
    assert out.is_file() and '"written": 1' in res.output
    bad = CliRunner().invoke(app, ["anonymize", str(tmp_path / "missing.wav"), str(out)])
    assert bad.exit_code == 2 and "no such file or folder" in bad.output
