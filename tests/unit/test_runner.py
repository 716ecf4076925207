"""The runner: results rows, resume without redoing finished units, atomic files, reports, Ray."""

from __future__ import annotations

import json

import pytest

from privemo.errors import ConfigError
from privemo.experiments import Runner, parse_config, read_results, write_report
from tests.conftest import SYNTH_OPTS, assert_report_page


def config(synth_root, **over):
    data = {
        "name": "t",
        "corpus": {"type": "synthetic", "root": str(synth_root), "options": {"media": "audio", **SYNTH_OPTS}},
        "variants": [{"name": "mfcc_lr", "features": {"type": "mfcc"}},
                     {"name": "mfcc_lr_norm", "features": {"type": "mfcc"}, "normalize": "speaker"}],
        "evaluators": [{"type": "emotion"}, {"type": "gender_attacker"}, {"type": "speaker_id"}],
        "folds": 3, "seeds": [0], "valid_speakers": 1,
    }
    data.update(over)
    return parse_config(data)


def test_rows_and_report(tmp_path, synth_root):
    rows = Runner(config(synth_root), out=tmp_path / "run").run()
    assert len(rows) == 2 * 3 * 3
    assert {r["evaluator"] for r in rows} == {"emotion", "gender_attacker", "speaker_id"}
    assert all(r["synthetic"] and r["wall_s"] > 0 for r in rows)
    emo = [r for r in rows if r["evaluator"] == "emotion" and r["variant"] == "mfcc_lr"]
    assert all(0 <= r["uar"] <= 1 and "uar_m" in r and "uar_f" in r and r["confusion"] for r in emo)
    assert sum(r["n_test"] for r in emo) == 144  # every item tested once over the folds
    res = write_report(tmp_path / "run")
    assert (tmp_path / "run" / "report.html").stat().st_size > 10_000  # tables and embedded figures
    info = assert_report_page(tmp_path / "run" / "report.html", min_tables=2)
    assert info["images"] >= 2 and "Data and threat model" in (tmp_path / "run" / "report.html").read_text()
    assert "SYNTHETIC" in res["markdown"]
    assert (tmp_path / "run" / "config.yaml").is_file() and (tmp_path / "run" / "manifest.csv").is_file()
    assert read_results(tmp_path / "run") == rows


def test_resume_skips_finished_units(tmp_path, synth_root, monkeypatch):
    cfg = config(synth_root)
    Runner(cfg, out=tmp_path / "run").run()
    units = sorted((tmp_path / "run" / "units").glob("*.json"))
    stamps = {p.name: p.stat().st_mtime_ns for p in units}
    units[2].unlink()
    calls = []
    import privemo.experiments.runner as runner_mod

    real = runner_mod.run_unit
    monkeypatch.setattr(runner_mod, "run_unit", lambda *a, **k: calls.append(a[1].key) or real(*a, **k))
    rows = Runner(cfg, out=tmp_path / "run").run()
    assert calls == [units[2].stem]
    assert len(rows) == 18
    for p in units:
        if p != units[2]:
            assert p.stat().st_mtime_ns == stamps[p.name]


def test_interrupted_run_leaves_whole_files(tmp_path, synth_root, monkeypatch):
    import privemo.experiments.runner as runner_mod

    real = runner_mod.run_unit
    count = {"n": 0}

    def flaky(*a, **k):
        count["n"] += 1
        if count["n"] == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(runner_mod, "run_unit", flaky)
    with pytest.raises(KeyboardInterrupt):
        Runner(config(synth_root), out=tmp_path / "run").run()
    lines = (tmp_path / "run" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 2 * 3 and all(json.loads(line) for line in lines)
    assert not list((tmp_path / "run").rglob("*.tmp"))
    monkeypatch.setattr(runner_mod, "run_unit", real)
    assert len(Runner(config(synth_root), out=tmp_path / "run").run()) == 18


def test_changed_config_is_refused(tmp_path, synth_root):
    Runner(config(synth_root, folds=2, variants=[{"name": "a", "features": {"type": "mfcc"}}]),
           out=tmp_path / "run").run()
    with pytest.raises(ConfigError, match=r"unit a__fold0__seed0 was run with another configuration "
                                          r"\(shared\.folds changed\)"):
        Runner(config(synth_root, folds=3, variants=[{"name": "a", "features": {"type": "mfcc"}}]),
               out=tmp_path / "run").run()


def test_changed_learner_parameter_is_refused_or_redone(tmp_path, synth_root):
    """A learner parameter changed under the same variant name: refused naming the key; --force redoes
    exactly that variant's units (the other variant's unit files are not touched)."""
    def cfg(epochs):
        learner = {"type": "standard", "epochs": epochs, "encoder": {"type": "acoustic", "conv_layers": 1,
                                                                      "channels": 8, "gru_layers": 1, "gru_width": 8}}
        return config(synth_root, folds=2, evaluators=[{"type": "emotion"}],
                      variants=[{"name": "plain", "features": {"type": "mfcc"}},
                                {"name": "nn", "features": {"type": "mfb"}, "learner": learner}])

    run = tmp_path / "run"
    Runner(cfg(1), out=run).run()
    plain = {p.name: p.stat().st_mtime_ns for p in (run / "units").glob("plain__*.json")}
    assert len(plain) == 2
    with pytest.raises(ConfigError, match=r"unit nn__fold0__seed0 .*variant\.learner\.epochs changed"):
        Runner(cfg(2), out=run).run()
    assert run.joinpath("units", "nn__fold0__seed0.json").is_file()  # refused: nothing dropped
    rows = Runner(cfg(2), out=run).run(force=True)
    assert {r["epochs"] for r in rows if r["variant"] == "nn"} == {2}
    assert {p.name: p.stat().st_mtime_ns for p in (run / "units").glob("plain__*.json")} == plain
    assert len(Runner(cfg(2), out=run).run()) == len(rows)  # and now it resumes as it is


def test_learner_variant(tmp_path, synth_root):
    learner = {"type": "standard", "epochs": 2, "encoder": {"type": "acoustic", "conv_layers": 1, "channels": 8,
                                                             "gru_layers": 1, "gru_width": 8}}
    cfg = config(synth_root, folds=2, variants=[{"name": "nn", "features": {"type": "mfb"}, "learner": learner}],
                 evaluators=[{"type": "emotion"}, {"type": "gender_attacker"}])
    rows = Runner(cfg, out=tmp_path / "run").run()
    emo = [r for r in rows if r["evaluator"] == "emotion"]
    assert all(r["predictor"] == "learner" and r["epochs"] == 2 for r in emo)
    assert len(list((tmp_path / "run" / "checkpoints").glob("*.pt"))) == 2


@pytest.mark.slow
def test_ray_executor(tmp_path, synth_root):
    pytest.importorskip("ray")
    cfg = config(synth_root, folds=2, executor="ray", ray_num_cpus=2,
                 variants=[{"name": "a", "features": {"type": "mfcc"}}])
    rows = Runner(cfg, out=tmp_path / "run").run()
    local = Runner(config(synth_root, folds=2, variants=[{"name": "a", "features": {"type": "mfcc"}}]),
                   out=tmp_path / "local").run()
    key = lambda r: (r["fold"], r["evaluator"])  # noqa: E731
    assert [round(r["uar"], 6) for r in sorted(rows, key=key)] == [round(r["uar"], 6) for r in sorted(local, key=key)]


def test_heldout_attacker_data_is_never_trained_on(tmp_path, synth_root, monkeypatch):
    from privemo.learners import StandardLearner

    seen = []
    real_fit = StandardLearner.fit
    monkeypatch.setattr(StandardLearner, "fit", lambda self, train, *a, **k: seen.append(len(train)) or
                        real_fit(self, train, *a, **k))
    learner = {"type": "standard", "epochs": 1, "encoder": {"type": "acoustic", "conv_layers": 1, "channels": 4,
                                                             "gru_layers": 1, "gru_width": 4}}
    cfg = config(synth_root, folds=2, valid_speakers=0, attacker_data="heldout", heldout_fraction=0.34,
                 variants=[{"name": "nn", "features": {"type": "mfb"}, "learner": learner}],
                 evaluators=[{"type": "emotion"}, {"type": "gender_attacker", "classifier": ["logreg", "gbm"]}])
    rows = Runner(cfg, out=tmp_path / "run").run()
    atk = [r for r in rows if r["evaluator"] == "gender_attacker"]
    for r, n_fit in zip(sorted(atk, key=lambda r: r["fold"]), seen, strict=True):
        # 3 training speakers per fold (24 items each): 2 train the learner, 1 is the attacker's D2
        assert n_fit == r["n_train"] and n_fit + r["n_attacker_train"] == 72
        assert r["n_attacker_train"] == 24
        assert r["uar"] == max(r["uar_logreg"], r["uar_gbm"]) and r["attacker"] in ("logreg", "gbm")


def test_report_marks_significance(tmp_path, synth_root):
    Runner(config(synth_root), out=tmp_path / "run").run()
    res = write_report(tmp_path / "run")
    norm = [e for e in res["summary"] if e["variant"] == "mfcc_lr_norm"]
    assert all(e["reference"] == "mfcc_lr" and 0 <= e["q_vs_reference"] <= 1 for e in norm)
    assert "differs from the variant's reference (`mfcc_lr`" in res["markdown"]


def test_membership_protocol(tmp_path, synth_root):
    from privemo.corpora import load_synthetic
    from privemo.corpora.splits import membership_split

    opts = {**SYNTH_OPTS, "n_speakers": 10, "items": 2}
    root = tmp_path / "synth10"
    learner = {"type": "standard", "epochs": 2, "encoder": {"type": "acoustic", "conv_layers": 1, "channels": 4,
                                                             "gru_layers": 1, "gru_width": 4}}
    cfg = parse_config({
        "name": "mi", "corpus": {"type": "synthetic", "root": str(root), "options": {"media": "audio", **opts}},
        "variants": [{"name": "nn", "features": {"type": "mfcc"}, "learner": learner}],
        "evaluators": [{"type": "emotion"}, {"type": "membership", "classifier": "logreg"}],
        "folds": 5, "protocol": "membership"})
    rows = Runner(cfg, out=tmp_path / "run").run()
    assert len(rows) == 5 and {r["evaluator"] for r in rows} == {"membership"}  # utility does not apply
    m = load_synthetic(root, media="audio", **opts)
    for r in rows:
        ms = membership_split(m, 0, rotation=r["fold"])
        assert r["n_train"] == len(ms.train) and r["n_test"] == len(ms.attack_test)
        assert 0 <= r["uar"] <= 1 and 0 <= r["uar_speakers"] <= 1 and r["chance"] == 0.5


def test_membership_protocol_needs_learners_and_five_folds(synth_root):
    with pytest.raises(ConfigError, match="needs a learner"):
        config(synth_root, folds=5, protocol="membership")
    with pytest.raises(ConfigError, match="five"):
        config(synth_root, folds=3, protocol="membership",
               variants=[{"name": "a", "features": {"type": "mfcc"}, "learner": {"type": "standard"}}])


def test_jaiswal_pipeline_multimodal_priv_seed_average_and_paper_table(tmp_path, synth_root, monkeypatch):
    """Gen and Priv on fused acoustic + lexical streams, attackers on held-out speakers D2 that never
    see a test speaker's label, two seeds averaged, the paper's table and the privacy-utility figure."""
    from privemo.attacks.attribute import GenderAttacker

    seen = []
    real = GenderAttacker.evaluate
    monkeypatch.setattr(GenderAttacker, "evaluate", lambda self, train, test: seen.append(
        (set(train.manifest.df["speaker"]), set(test.manifest.df["speaker"]))) or real(self, train, test))
    tiny = {"type": "acoustic", "conv_layers": 1, "channels": 4, "gru_layers": 1, "gru_width": 4}
    enc = {"type": "multimodal", "streams": {"acoustic": tiny, "lexical": {"type": "lexical", "gru_layers": 1,
                                                                           "gru_width": 4}}}
    streams = {"acoustic": {"features": {"type": "mfb"}, "normalize": "speaker"},
               "lexical": {"features": {"type": "glove"}}}
    gen = {"type": "standard", "epochs": 2, "encoder": enc}
    priv = {**gen, "type": "grl", "adversary_steps": 2, "select": "probe",
            "adversaries": [{"target": "gender", "stream": "acoustic"}, {"target": "speaker", "lambda": 0.5}]}
    cfg = config(synth_root, folds=2, seeds=[0, 1], valid_speakers=1, attacker_data="heldout",
                 heldout_fraction=0.34,
                 variants=[{"name": "gen", "streams": streams, "learner": gen},
                           {"name": "priv", "streams": streams, "learner": priv, "reference": "gen"}],
                 evaluators=[{"type": "emotion"}, {"type": "leakage"}, {"type": "gender_attacker"},
                             {"type": "speaker_id"}])
    rows = Runner(cfg, out=tmp_path / "run").run()
    assert seen and all(not (tr & te) for tr, te in seen)  # the attacker never trains on a test speaker
    leak = {r["variant"]: r for r in rows if r["evaluator"] == "leakage"}
    assert leak["priv"]["source"] == "gender:acoustic" and leak["gen"]["source"] == "logreg"
    spk = [r for r in rows if r["evaluator"] == "speaker_id"]
    assert all(r["n_speakers"] == 6 for r in spk)  # enrolment covers every speaker, D2 included
    res = write_report(tmp_path / "run")
    emo = next(e for e in res["summary"] if e["variant"] == "priv" and e["evaluator"] == "emotion")
    assert emo["seed_avg"]["seeds"] == [0, 1] and len(emo["seed_avg"]["uar"]["per_fold"]) == 2
    table = json.loads((tmp_path / "run" / "paper_table.json").read_text())
    assert [r["variant"] for r in table] == ["gen", "priv"] and table[1]["private"] and not table[0]["private"]
    assert {"U", "U(M)", "U(F)", "L", "P", "speaker ID"} <= set(table[1])
    assert "jaiswal-2020 Tables 1-5" in res["markdown"]
    assert (tmp_path / "run" / "figure_privacy_utility.png").stat().st_size > 5_000


def test_binned_activation_target_with_transcripts(tmp_path):
    """A MuSE-layout corpus (binned activation, transcripts): Gen and Priv multimodal learn the
    three activation levels through the same runner."""
    from tests.conftest import make_wav

    root = tmp_path / "muse"
    lines = ["file,subject,gender,activation,valence,text"]
    words = {"low": "so tired and slow", "mid": "it is fine", "high": "wow this is amazing"}
    for s in range(6):
        for k, (level, score) in enumerate([("low", 3.0), ("mid", 5.0), ("high", 7.0)] * 2):
            name = f"s{s}_{k}.wav"
            make_wav(root / "audio" / name, freq=150.0 + 100 * k % 300 + 10 * s, seed=s * 10 + k)
            lines.append(f"{name},{s},{'Male' if s % 2 else 'Female'},{score},5.0,{words[level]}")
    (root / "annotations.csv").write_text("\n".join(lines) + "\n")
    enc = {"type": "multimodal", "streams": {
        "acoustic": {"type": "acoustic", "conv_layers": 1, "channels": 4, "gru_layers": 1, "gru_width": 4},
        "lexical": {"type": "lexical", "gru_layers": 1, "gru_width": 4}}}
    streams = {"acoustic": {"features": {"type": "mfb"}}, "lexical": {"features": {"type": "glove"}}}
    gen = {"type": "standard", "epochs": 2, "encoder": enc}
    cfg = parse_config({
        "name": "muse_activation", "corpus": {"type": "muse", "root": str(root)}, "target": "activation",
        "variants": [{"name": "gen", "streams": streams, "learner": gen},
                     {"name": "priv", "streams": streams, "learner": {**gen, "type": "grl"}}],
        "evaluators": [{"type": "emotion", "target": "activation"}, {"type": "leakage"},
                       {"type": "gender_attacker"}],
        "folds": 3, "valid_speakers": 0})
    rows = Runner(cfg, out=tmp_path / "run").run()
    emo = [r for r in rows if r["evaluator"] == "emotion"]
    assert len(emo) == 6 and all(r["labels"] == ["high", "low", "mid"] and r["chance"] == 1 / 3 for r in emo)
    assert all(r["predictor"] == "learner" for r in emo)


def test_units_record_the_code_version_and_a_new_version_is_refused(tmp_path, monkeypatch):
    import json

    from privemo.experiments import store as store_mod
    from privemo.experiments.store import ResultStore, reusable_units

    st = ResultStore(tmp_path)
    st.write_unit("a", [{"x": 1}], {"p": 1})
    assert json.loads((tmp_path / "unit_specs" / "a.json").read_text())["code"] == store_mod.code_version()
    assert reusable_units(st, {"a": {"p": 1}}, {}) == {"a"}
    (tmp_path / "unit_specs" / "a.json").write_text(json.dumps({"p": 1}))  # an older folder recorded no version
    assert reusable_units(st, {"a": {"p": 1}}, {}) == {"a"}
    st.write_unit("a", [{"x": 1}], {"p": 1})
    monkeypatch.setattr(store_mod, "code_version", lambda: "99.0")
    with pytest.raises(ConfigError, match=r"unit a .*\(code changed\)"):
        reusable_units(st, {"a": {"p": 1}}, {})


def test_a_changed_default_under_an_unchanged_method_name_is_a_changed_unit(tmp_path, monkeypatch):
    """A media unit records its anonymizer with every default spelled out: when a default changes,
    the unit is refused on resume (or redone with --force); a unit recorded before (the parameters
    the config named) resolves with today's defaults."""
    import json
    from dataclasses import fields

    from privemo.anonymize.mcadams import McAdams
    from privemo.experiments.media import MediaEvaluation, resolved_anonymizer
    from privemo.experiments.store import ResultStore, reusable_units

    spec = {"shared": {"folds": 2}, "method": {"name": "m", "anonymizer": {"type": "mcadams"}}}
    ev = MediaEvaluation.__new__(MediaEvaluation)
    resolved = ev.resolve_spec(spec)
    assert resolved["method"]["anonymizer"]["alpha"] == 0.8 and resolved["method"]["anonymizer"]["order"] == 20
    assert resolved_anonymizer({"type": "no_such"}) == {"type": "no_such"}  # left for the config check
    st = ResultStore(tmp_path)
    st.write_unit("m", [{"x": 1}], resolved)
    assert reusable_units(st, {"m": ev.resolve_spec(spec)}, {}, resolve=ev.resolve_recorded) == {"m"}
    alpha = next(f for f in fields(McAdams) if f.name == "alpha")
    monkeypatch.setattr(alpha, "default", 0.7)  # a release changes the default
    monkeypatch.setattr(McAdams.__init__, "__defaults__", tuple(
        0.7 if d == 0.8 else d for d in McAdams.__init__.__defaults__))
    with pytest.raises(ConfigError, match=r"unit m .*method\.anonymizer\.alpha"):
        reusable_units(st, {"m": ev.resolve_spec(spec)}, {}, resolve=ev.resolve_recorded)
    dropped = []
    assert reusable_units(st, {"m": ev.resolve_spec(spec)}, {}, force=True, drop=dropped.append,
                          resolve=ev.resolve_recorded) == set() and dropped == ["m"]
    # a unit recorded before the defaults were spelled out: judged with today's defaults
    (tmp_path / "unit_specs" / "m.json").write_text(json.dumps(spec))
    assert reusable_units(st, {"m": ev.resolve_spec(spec)}, {}, resolve=ev.resolve_recorded) == {"m"}
