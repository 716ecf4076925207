"""Judges of the media evaluations: registered, declared, validated at parse time, and read by the
report (a new judge shows in the table, the verdicts and the threat model without touching the report)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from privemo import registry
from privemo.errors import ConfigError
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.threat import ThreatModel, declare
from privemo.experiments.voice.config import parse_voice_config
from privemo.testing import ContractError, check_component

BASE = {"name": "t", "corpus": {"type": "synthetic"}, "methods": [{"name": "m", "anonymizer": {"type": "mcadams"}}]}

declare("test.pitch_id", ThreatModel("pitch identification (test)", "attack", "a pitch-range identifier",
                                     "anonymized clips", "anonymized enrolment clips", "its accuracy"))


@dataclass
class PitchId(Judge):
    """A user's own attacker: two files (this class and its import) and it is in every table."""

    bins: int = 4

    medium = "voice"
    key = "test_pitch_id"
    threats = ("test.pitch_id",)
    columns = (Column("speaker ID (pitch range)", "accuracy", "pct", "voice identification", "pitch range",
                      "speakers", 0.25, strongest=True),)

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        return {"accuracy": 0.9}


@pytest.fixture
def pitch_judge():
    registry.register("judge", "test_pitch_id")(PitchId)
    yield
    registry._REGISTRY["judge"].pop("test_pitch_id", None)


def _row(method: str, pitch: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {
        "method": method, "anonymizer": {"type": "mcadams" if method != "original" else "original"}, "rtf": 0.01,
        "n_speakers": 8, "n_items": 48, "curve": None,
        "verification": {"semi_eer_centroid": 0.3, "semi_lda_eer_centroid": 0.2, "semi_eer_pairs": 0.3,
                         "lazy_eer_centroid": 0.4},
        "emotion": {"logreg_orig_uar": 0.6, "logreg_anon_uar": 0.55, "rf_anon_uar": 0.5, "labels": ["a", "b"],
                    "logreg_anon_recall": {"a": 0.5, "b": 0.6}, "logreg_anon_per_gender": {"m": 0.5, "f": 0.6}},
    }
    if pitch is not None:
        row["test_pitch_id"] = {"accuracy": pitch}
    return row


def test_a_new_judge_reaches_the_table_the_verdicts_and_the_threat_model(pitch_judge):
    from privemo.evaluators.threat import declared
    from privemo.experiments.voice import report

    rows = [_row("original", 0.95), _row("m", 0.9)]
    labels = [c.label for c in report.columns(rows)]
    assert "speaker ID (pitch range)" in labels and "gender attacker UAR" not in labels  # only what ran
    assert report.informed_id(rows[1]) == pytest.approx(0.9)  # it competes for the strongest identifier
    v = next(v for v in report.verdicts(rows) if v.name == "m")
    assert v.strongest("voice identification").attacker == "pitch range"
    assert declared("test.pitch_id").markdown() in report.threat_model(rows)
    assert "| **90.0%** |" in report.markdown(rows)
    # a run without it: no column, no threat line
    plain = [_row("original", None), _row("m", None)]
    assert "speaker ID (pitch range)" not in [c.label for c in report.columns(plain)]
    assert declared("test.pitch_id").markdown() not in report.threat_model(plain)


def test_judges_are_validated_when_the_config_is_parsed(pitch_judge):
    cfg = parse_voice_config({**BASE, "judges": [{"type": "test_pitch_id", "bins": 8}, {"type": "emotion"}]})
    assert cfg.judge_specs() == [{"type": "test_pitch_id", "bins": 8}, {"type": "emotion"}]
    for bad, said in (([{"type": "gender", "attackerz": ["logreg"]}], "attackerz"),
                      ([{"type": "nope"}], "unknown judge type 'nope'"),
                      ([{"type": "emotion"}, {"type": "emotion"}], "listed twice"),
                      ([{"type": "finetuned", "steps": 0}], "steps"),
                      ([{"type": "test_pitch_id", "bins": "many"}], "bins")):
        with pytest.raises(ConfigError, match=said):
            parse_voice_config({**BASE, "judges": bad}, "v.yaml")


def test_the_default_judges_spell_out_the_older_settings():
    cfg = parse_voice_config({**BASE, "attackers": ["logreg"], "finetune": {"steps": 0}})
    assert [j["type"] for j in cfg.judge_specs()] == ["verification", "speaker_id", "gender", "similarity", "emotion"]
    assert cfg.judge_specs()[2] == {"type": "gender", "attackers": ["logreg"]}
    assert {"type": "finetuned", "steps": 100, "speakers": 8, "clips": 4, "lr": 1e-4} in \
        parse_voice_config(BASE).judge_specs()


def test_a_changed_judge_changes_the_units_and_the_default_adds_no_key(tmp_path):
    from privemo.experiments.voice.runner import VoiceEvaluation

    ev = VoiceEvaluation(parse_voice_config(BASE), tmp_path / "run", tmp_path)
    default = ev.unit_specs(parse_voice_config(BASE).model_dump(mode="json"))
    assert "judges" not in default["m"]["shared"]  # units of runs before judges existed stay valid
    one = ev.unit_specs(parse_voice_config({**BASE, "judges": [{"type": "gender", "attackers": ["logreg"]}]})
                        .model_dump(mode="json"))
    other = ev.unit_specs(parse_voice_config({**BASE, "judges": [{"type": "gender", "attackers": ["gbm"]}]})
                          .model_dump(mode="json"))
    assert one["m"] != other["m"] and one["original"] != other["original"]


def test_the_contract_catches_a_judge_whose_declared_column_is_missing():
    @dataclass
    class Liar(Judge):
        medium = "voice"
        key = "test_liar"
        threats = ("voice.gender",)
        columns = (Column("gender UAR", "uar", threat="gender", attacker="liar", chance=0.5, target=0.7),)

        def __call__(self, j: JudgeInput) -> dict[str, Any]:
            return {"accuracy": 0.5}

    registry.register("judge", "test_liar")(Liar)
    try:
        with pytest.raises(ContractError, match="declared column"):
            check_component("judge", "test_liar")
    finally:
        registry._REGISTRY["judge"].pop("test_liar", None)
    with pytest.raises(ValueError, match="declares its attacker, chance and target"):
        Column("x", "x", threat="gender")


def test_video_judges_are_validated_and_need_the_emotion_judge():
    from privemo.experiments.video.config import parse_video_config

    base = {"name": "v", "corpus": {"type": "synthetic"},
            "methods": [{"name": "p", "face": {"type": "face_pixelate"}, "voice": {"type": "mcadams"}}]}
    assert [j["type"] for j in parse_video_config(base).judge_specs()] == ["av_emotion", "face_id", "av_speaker"]
    assert parse_video_config({**base, "judges": [{"type": "av_emotion"}, {"type": "face_id"}]}).judge_specs() == \
        [{"type": "av_emotion"}, {"type": "face_id"}]
    for bad, said in (([{"type": "face_id"}], "needs av_emotion"),
                      ([{"type": "av_emotion"}, {"type": "gender"}], "judges voice, not video"),
                      ([{"type": "av_emotion"}, {"type": "face_idd"}], "unknown judge type")):
        with pytest.raises(ConfigError, match=said):
            parse_video_config({**base, "judges": bad}, "v.yaml")


def test_the_voice_table_shows_the_rows_own_real_time_factor():
    from privemo.experiments.voice import report

    rows = [_row("original", None), _row("m", None)]
    rtf = next(c for c in report.columns(rows) if c.label.startswith("real-time factor"))
    assert rtf.get(rows[1]) == pytest.approx(0.01)
    assert "| 0.010 |" in report.markdown(rows)


def test_target_checks_take_the_strongest_attacker_of_a_check_and_utility_against_the_reference():
    from privemo.evaluators.judge import RowColumn, target_checks

    ident = {"fmt": "pct", "threat": "face identity", "chance": "subjects", "relative": True, "strongest": True}
    cols = [RowColumn("a", Column("I x", "x", attacker="x", target=2.0, check="scenario I", **ident)),
            RowColumn("a", Column("I y", "y", attacker="y", target=2.0, check="scenario I", **ident)),
            RowColumn("e", Column("expr", "acc", fmt="pct", target=0.9, relative=True))]
    row = {"n_subjects": 10, "a": {"x": 0.15, "y": 0.25}, "e": {"acc": 0.45}}
    ref = {"n_subjects": 10, "a": {"x": 0.9, "y": 0.8}, "e": {"acc": 0.5}}
    ident_check, utility = target_checks(row, ref, cols)
    assert (ident_check.name, ident_check.label, ident_check.value) == ("scenario I", "I y", 0.25)
    assert ident_check.target == pytest.approx(0.2) and not ident_check.met  # 2 x chance (1 / 10 subjects)
    assert utility.utility and utility.value == pytest.approx(0.9) and utility.met
    assert [c.name for c in target_checks(row, None, cols)] == ["scenario I"]  # no reference: no ratio
    with pytest.raises(ValueError, match="chance 'people'"):
        Column("z", "z", threat="t", attacker="z", chance="people", target=1.0)


FACE = {"name": "f", "corpus": {"type": "synthetic"}, "narula": None,
        "anonymizers": {"methods": [{"name": "p", "anonymizer": {"type": "face_pixelate"}}]}}


def test_face_judges_are_validated_and_the_default_spells_out_the_older_settings(tmp_path):
    from privemo.experiments.face.config import parse_face_config
    from privemo.experiments.face.runner import FaceEvaluation

    cfg = parse_face_config({**FACE, "anonymizers": {**FACE["anonymizers"], "attackers": ["cnn"]}})
    assert cfg.anonymizers.judge_specs() == [{"type": "face_identity", "attackers": ["cnn"]},
                                             {"type": "face_expression"}, {"type": "face_dlib"},
                                             {"type": "face_gender"}, {"type": "face_fer"}]
    specs = FaceEvaluation(cfg, tmp_path / "r", tmp_path).unit_specs(cfg.model_dump(mode="json"))
    assert "judges" not in specs["anonymizer__p"]["table"]  # units of runs before judges existed stay valid
    for bad, said in (([{"type": "face_identity"}], "needs face_expression"),
                      ([{"type": "face_expression"}, {"type": "face_identity", "attackers": ["resnet"]}],
                       "attackers"),
                      ([{"type": "face_expression"}, {"type": "gender"}], "judges voice, not face"),
                      ([{"type": "face_expression"}, {"type": "face_dlibb"}], "unknown judge type")):
        with pytest.raises(ConfigError, match=said):
            parse_face_config({**FACE, "anonymizers": {**FACE["anonymizers"], "judges": bad}}, "f.yaml")


@dataclass
class Brightness(Judge):
    """A user's own face attacker: identifies a subject by the mean brightness of its faces."""

    medium = "face"
    key = "test_brightness"
    threats = ("test.brightness",)
    columns = (Column("ID (brightness)", "acc", "pct", "face identity", "brightness", "subjects", 2.0,
                      relative=True, strongest=True),)

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        import numpy as np

        t, hits = j.original, []
        for fold in range(t.cfg.folds):
            tr, te = t.split("identity", fold)
            x = j.side.images("identity", fold).reshape(len(t.data), -1).mean(axis=1)
            centres = {s: x[tr][t.data.subject[tr] == s].mean() for s in set(t.data.subject[tr].tolist())}
            guess = [min(centres, key=lambda s: abs(centres[s] - v)) for v in x[te]]
            hits.append(float(np.mean(np.array(guess) == t.data.subject[te])))
        return {"acc": float(np.mean(hits))}


declare("test.brightness", ThreatModel("brightness identification (test)", "attack", "a brightness identifier",
                                       "protected faces", "protected faces of every subject", "its accuracy"))


def test_a_face_judge_of_your_own_reaches_the_face_table_verdicts_and_threat_model(tmp_path, monkeypatch):
    import yaml
    from typer.testing import CliRunner

    from privemo.cli.main import app

    monkeypatch.setenv("PRIVEMO_CACHE", str(tmp_path / "cache"))
    registry.register("judge", "test_brightness")(Brightness)
    try:
        cfg = {"name": "tb", "corpus": {"type": "synthetic", "options": {"media": "image", "n_speakers": 4, "items": 2}},
               "emotions": ["happy", "sad"], "size": 16, "color": "rgb", "detect": False, "narula": None,
               "anonymizers": {"folds": 2, "epochs": 1, "judges": [{"type": "test_brightness"},
                                                                   {"type": "face_expression"}],
                               "methods": [{"name": "pix", "anonymizer": {"type": "face_pixelate", "block": 16}}]}}
        (tmp_path / "f.yaml").write_text(yaml.safe_dump(cfg))
        r = CliRunner().invoke(app, ["run", str(tmp_path / "f.yaml"), "--out", str(tmp_path / "run")])
        assert r.exit_code == 0, r.output
        md = (tmp_path / "run" / "report.md").read_text()
        assert "| ID (brightness) | expr CNN (paper) |" in md and "I cnn" not in md  # only what ran
        assert "*brightness*" in md  # the verdicts name it
        assert "brightness identification (test)" in (tmp_path / "run" / "report.html").read_text()  # threat model
    finally:
        registry._REGISTRY["judge"].pop("test_brightness", None)


def test_inputs_only_some_judges_need_are_made_once_and_an_unknown_one_is_named():
    from privemo.experiments.media import extras

    made = []
    extra = extras("voice", {"mels": lambda: made.append(1) or ["m"]})
    assert extra("mels") == ["m"] and extra("mels") == ["m"] and made == [1]
    with pytest.raises(ConfigError, match="a voice judge asked for 'models'; the voice evaluation gives 'mels'"):
        extra("models")


def test_media_evaluations_name_their_reference_method(tmp_path):
    from privemo.experiments.video.config import parse_video_config
    from privemo.experiments.video.runner import VideoEvaluation
    from privemo.experiments.voice.runner import VoiceEvaluation

    voice = VoiceEvaluation(parse_voice_config(BASE), tmp_path / "v", tmp_path)
    assert voice.method("m").anonymizer["type"] == "mcadams" and voice.method("original").anonymizer == {"type": "original"}
    assert [p.key for p in voice.plan()] == ["original", "m"]
    video = VideoEvaluation(parse_video_config({"name": "v", "corpus": {"type": "synthetic"}, "methods": [
        {"name": "p", "face": {"type": "face_pixelate"}, "voice": {"type": "mcadams"}}]}), tmp_path / "w", tmp_path)
    assert video.method("original").face == {"type": "none"} and video.method("p").voice["type"] == "mcadams"


def test_the_video_target_checks_read_the_declared_targets():
    from privemo.experiments.video.report import checks

    emo = {"face_fer": {"uar": 0.3}, "face_cnn": {"uar": 0.5}, "voice": {"uar": 0.6},
           "fused": {"uar": 0.62, "weight": 0.6}}
    rows = [{"method": m, "n_speakers": 6, "emotion": emo,
             "face_id": {"dlib": {"clip": c, "speaker": c, "clip_p_above_chance": 0.5}, "cnn_II": {"clip": c2}},
             "speaker": {"informed": {"clip": 0.9}, "verification": {"semi_eer_centroid": 0.45}}}
            for m, c, c2 in (("original", 0.9, 0.9), ("p", 0.2, 0.4))]
    got = {c["check"]: c for c in checks(rows)["p"]["privacy"]}
    face = got["face identification <= 2 x chance (strongest)"]
    assert face["attacker"] == "CNN II clip" and face["value"] == 0.4 and not face["met"]  # the strongest of three
    assert face["target"] == pytest.approx(2 / 6)
    assert got["speaker verification EER >= 40% (strongest)"]["met"]
    assert "privacy" not in checks(rows)["original"]
