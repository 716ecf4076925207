"""Hostile input: names never become paths or markup, writes are atomic, workers die with their
parent, bad media and configs are named errors, and a sample of the fuzz suite passes."""

from __future__ import annotations

import copy
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from privemo._files import atomic_path, atomic_write, inside, is_stale_temp, remove_stale_temps
from privemo._names import NAME_RE, check_name, file_key
from privemo.errors import ConfigError, MediaError
from privemo.experiments.config import parse_config
from privemo.experiments.html import markdown_html, page
from privemo.experiments.store import ResultStore, read_results
from tests.conftest import make_wav
from tests.fuzz.cases import BOMBS, CONFIGS, _get

ROOT = Path(__file__).resolve().parents[2]


def base_cfg(**kw):
    cfg = {"name": "t", "corpus": {"type": "synthetic"}, "variants": [{"name": "v", "features": {"type": "mfcc"}}],
           "evaluators": [{"type": "emotion"}]}
    cfg.update(kw)
    return cfg


# -- names ------------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", ["../elsewhere/pwn", "a/b", "<script>alert(1)</script>", "", ".hidden", "-x",
                                 "x" * 101, "a b", "caf\u00e9", "a\x00b"])
def test_bad_names_are_refused_at_parse_time(bad):
    with pytest.raises(ConfigError, match="not a valid name"):
        parse_config(base_cfg(name=bad))
    with pytest.raises(ConfigError, match="not a valid name"):
        parse_config(base_cfg(variants=[{"name": bad, "features": {"type": "mfcc"}}]))
    with pytest.raises(ConfigError, match="not a valid name"):
        parse_config(base_cfg(evaluators=[{"type": "emotion", "name": bad}]))


@pytest.mark.parametrize("loader,key", [("voice", "methods"), ("video", "methods"), ("face", "anonymizers")])
def test_method_names_of_every_evaluation_are_checked(tmp_path, loader, key):
    from privemo.experiments.face.config import load_face_config
    from privemo.experiments.video.config import load_video_config
    from privemo.experiments.voice.config import load_voice_config

    load = {"voice": load_voice_config, "video": load_video_config, "face": load_face_config}[loader]
    data = yaml.safe_load((CONFIGS / loader / "demo.yaml").read_text())
    methods = data[key]["methods"] if key == "anonymizers" else data[key]
    methods[0]["name"] = "../elsewhere/pwn"
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match=r"c\.yaml.*not a valid name"):
        load(path)


@given(st.text(max_size=120))
@settings(max_examples=300, deadline=None)
def test_a_name_is_accepted_exactly_when_it_is_safe(text):
    safe = bool(NAME_RE.fullmatch(text))
    if safe:
        assert check_name(text) == text and "/" not in text and not text.startswith(".")
    else:
        with pytest.raises(ConfigError):
            check_name(text)


@given(st.lists(st.text(min_size=1, max_size=200), min_size=2, max_size=6, unique=True))
@settings(max_examples=200, deadline=None)
def test_file_keys_are_safe_and_distinct(keys):
    out = [file_key(k) for k in keys]
    assert all(NAME_RE.fullmatch(k) for k in out)
    assert len(set(out)) == len(out)


def test_store_and_checkpoints_never_write_outside_the_run_folder(tmp_path):
    run = tmp_path / "run"
    store = ResultStore(run)
    with pytest.raises(ConfigError, match="outside the output folder"):
        store.write_unit("../../elsewhere/pwn", [{"a": 1}])
    with pytest.raises(ConfigError, match="outside"):
        inside(run, "../x.pt")
    assert inside(run, "units", "a.json") == run / "units" / "a.json"
    assert not (tmp_path / "elsewhere").exists() and sorted(p.name for p in tmp_path.rglob("*")) in ([], ["run"])


# -- report pages -----------------------------------------------------------------------------
def test_markdown_shows_markup_as_text_and_makes_no_link():
    out = markdown_html("| a |\n|---|\n| <script>alert(1)</script> |\n\n<div onclick=x>hi</div> [x](javascript:alert(1))")
    ours = out.replace("<div class='scroll'>", "")  # the page's own scroll box around a table
    assert "<script" not in out and "<div" not in ours and "href" not in out
    assert "&lt;script&gt;" in out and "<div class='scroll'><table>" in out
    html = page("<b>t</b>", "text", [("cap <i>", "AAAA")], threat_model="<img src=x onerror=alert(1)>",
                config="name: </pre><script>x</script>")
    assert "<script" not in html and "<img src=x" not in html
    assert "Content-Security-Policy" in html and "default-src 'none'" in html


def test_a_page_with_markup_in_its_results_runs_no_script(tmp_path):
    import random

    from privemo.experiments.report import write_report
    from tests.conftest import assert_report_page
    from tests.fuzz.cases import _results

    run = tmp_path / "run"
    run.mkdir()
    rows = _results(random.Random(0))
    (run / "results.jsonl").write_text("".join(__import__("json").dumps(r) + "\n" for r in rows))
    write_report(run)
    assert_report_page(run / "report.html")  # re-draws it with markup in every name, opens it in chromium


# -- atomic writes and temporary files --------------------------------------------------------
def test_a_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "x.json"
    atomic_write(target, "old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_stale_temps_of_our_pattern_only_are_removed(tmp_path):
    (tmp_path / "a").mkdir()
    stale = tmp_path / "a" / ".clip.flac.k3j_x9.privemo-tmp.flac"
    stale.write_bytes(b"x")
    keep = [tmp_path / "a" / ".hidden.flac", tmp_path / "a" / "clip.privemo-tmp.flac", tmp_path / "a" / "clip.flac"]
    for p in keep:
        p.write_bytes(b"x")
    assert is_stale_temp(stale) and not any(is_stale_temp(p) for p in keep)
    assert remove_stale_temps(targets=[tmp_path / "a" / "other.flac"]) == []
    assert remove_stale_temps(targets=[tmp_path / "a" / "clip.flac"]) == [stale]
    assert all(p.exists() for p in keep)
    stale.write_bytes(b"x")
    assert remove_stale_temps(tmp_path) == [stale]


def test_a_half_written_unit_is_no_finished_unit_and_is_removed_on_resume(tmp_path):
    store = ResultStore(tmp_path)
    store.write_unit("v__fold0__seed0", [{"variant": "v", "evaluator": "e"}])
    stale = tmp_path / "units" / ".v__fold1__seed0.json.x1y2z3.privemo-tmp.json"
    stale.write_text('[{"variant": "v", "evalu')  # killed mid-write
    assert store.done() == {"v__fold0__seed0"} and len(store.rows()) == 1
    assert store.clean() == [stale] and not stale.exists()


def test_no_hand_written_temp_then_rename_is_left():
    """Every temp-then-rename goes through privemo._files (one atomic-write helper)."""
    offenders = []
    for p in (ROOT / "src" / "privemo").rglob("*.py"):
        if p.name == "_files.py":
            continue
        text = p.read_text()
        for needle in ("os.replace(", ".replace(path)", "mkstemp", '".tmp"', ".tmp.npz"):
            if needle in text:
                offenders.append(f"{p.relative_to(ROOT)}: {needle}")
    assert not offenders, offenders


def _children(pid: int) -> set[int]:
    out = set()
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                if int((d / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.add(int(d.name))
            except (OSError, IndexError, ValueError):
                pass
    return out


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_kill_9_of_a_two_worker_batch_leaves_no_process_and_resumes_identically(tmp_path):
    src = tmp_path / "in"
    for i in range(24):
        make_wav(src / f"c{i:02d}.wav", seconds=1.5, freq=150 + 10 * i, seed=i)
    exe = Path(sys.executable).parent / "privemo"
    cmd = [str(exe), "anonymize", "voice", str(src), str(tmp_path / "out"), "-m", "mcadams", "--workers", "2"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    workers: set[int] = set()
    deadline = time.time() + 120
    while time.time() < deadline and len(list((tmp_path / "out").glob("*.wav"))) < 3:
        workers |= _children(proc.pid)
        time.sleep(0.05)
    workers |= _children(proc.pid)
    assert len(list((tmp_path / "out").glob("*.wav"))) >= 3, "the batch did not start"
    assert len(list((tmp_path / "out").glob("*.wav"))) < 24, "the batch finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(1.0)
    survivors = [w for w in workers if _alive(w)]
    assert workers and not survivors, f"workers {survivors} outlived their parent"
    # a temporary file as a kill between write and rename leaves it
    (tmp_path / "out" / ".c23.wav.abcdef.privemo-tmp.wav").write_bytes(b"half")
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    subprocess.run([*cmd[:4], str(tmp_path / "ref"), *cmd[5:-2], "--workers", "1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    outs = sorted((tmp_path / "out").glob("*.wav"))
    assert len(outs) == 24 and not [p for p in (tmp_path / "out").rglob(".*") if p.name != ".privemo-anonymizer.json"]
    assert all(p.read_bytes() == (tmp_path / "ref" / p.name).read_bytes() for p in outs)


_FOLDS_SCRIPT = """
import os, sys, time
import numpy as np
import privemo.evaluators.voice as v

def slow(model, Xtr, ytr, Xte, seed):  # a fold that takes long, sent to the workers by value
    open(os.path.join(sys.argv[1], str(os.getpid())), "w").close()
    time.sleep(120)
    return np.zeros(len(Xte))

v._fit_one = slow
X = np.zeros((8, 2))
mask = np.ones(8, bool)
v._fold_predictions([("logreg", X, X, mask, mask)] * 4, np.zeros(8), 0, 2)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_a_killed_evaluation_leaves_no_fold_worker_computing(tmp_path):
    """The voice judges' folds run in joblib's reusable pool; a kill -9 of the evaluation ends them."""
    script = tmp_path / "folds.py"
    script.write_text(_FOLDS_SCRIPT)
    marks = tmp_path / "pids"
    marks.mkdir()
    proc = subprocess.Popen([sys.executable, str(script), str(marks)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(marks.iterdir())) < 2:
        time.sleep(0.05)
    workers = {int(p.name) for p in marks.iterdir()}
    assert len(workers) == 2 and all(_alive(w) for w in workers), "the folds did not start in two workers"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.1)
    survivors = [w for w in workers if _alive(w)]
    for w in survivors:  # no stray process left behind by a failing run
        os.kill(w, signal.SIGKILL)
    assert not survivors, f"fold workers {survivors} outlived the evaluation"


# -- media and configs ------------------------------------------------------------------------
@pytest.mark.parametrize("fmt", sorted(BOMBS))
def test_decompression_bomb_headers_are_a_media_error(tmp_path, fmt):
    from privemo.media import read_image

    path = tmp_path / f"bomb.{fmt}"
    path.write_bytes(BOMBS[fmt](60000, 60000))
    with pytest.raises(MediaError, match=f"bomb.{fmt}"):
        read_image(path)


@pytest.mark.parametrize("sr", [1, 8, 999, 800_000])
def test_audio_at_an_absurd_rate_is_a_media_error(tmp_path, sr):
    import soundfile as sf

    from privemo.media import read_audio

    path = tmp_path / "x.wav"
    sf.write(path, np.full(max(64, sr // 10), 0.1, dtype=np.float32), sr)
    with pytest.raises(MediaError, match="x.wav.*sample rate"):
        read_audio(path, sr=None)


def _components(node, path=()):
    if isinstance(node, dict):
        if isinstance(node.get("type"), str) and path:
            yield path
        for k, v in node.items():
            yield from _components(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _components(v, (*path, i))


def test_a_typo_in_any_component_of_any_shipped_config_is_named_at_parse_time(tmp_path):
    from typer.testing import CliRunner

    from privemo.cli.main import app

    runner = CliRunner()
    checked = 0
    for cfg_path in sorted(CONFIGS.rglob("*.yaml")):
        data = yaml.safe_load(cfg_path.read_text())
        assert runner.invoke(app, ["check", str(cfg_path)]).exit_code == 0, cfg_path
        for path in _components(data):
            bad = copy.deepcopy(data)
            _get(bad, path)["typo_kee"] = 1
            out = tmp_path / cfg_path.name
            out.write_text(yaml.safe_dump(bad))
            res = runner.invoke(app, ["check", str(out)])
            assert res.exit_code == 2 and "typo_kee" in res.output and cfg_path.name in res.output, (cfg_path, path)
            checked += 1
    assert checked > 60


def test_a_damaged_results_file_is_named_by_line(tmp_path):
    (tmp_path / "results.jsonl").write_text('{"variant": "a", "evaluator": "e"}\n{"variant": "b", "ev\n')
    with pytest.raises(ConfigError, match=r"results\.jsonl: line 2"):
        read_results(tmp_path)
    (tmp_path / "results.jsonl").write_text('{"variant": "a"}\n')
    with pytest.raises(ConfigError, match="line 1 lacks evaluator"):
        read_results(tmp_path, required=("variant", "evaluator"))
    (tmp_path / "results.jsonl").write_bytes(b'{"a": 1}\n\xff\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        read_results(tmp_path)


def test_a_sample_of_the_fuzz_suite_passes():
    """About 64 malformed inputs of every kind through the real CLI: each a clean error naming the
    input or a sane output; no traceback, hang or unnamed error (the full suite: ``make fuzz``)."""
    import json

    # a fresh process: its children are forked before any torch or OpenMP thread exists (a fork of
    # this test process, whose thread pools other tests started, could deadlock)
    out = ROOT / ".pytest-fuzz.json"
    try:
        res = subprocess.run([sys.executable, "-m", "tests.fuzz.runner", "--sample", "64", "--seed", "1",
                              "--scale", "0.3", "--json", str(out)], cwd=ROOT, capture_output=True, text=True,
                             timeout=900)
        report = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert not report["failures"], report["failures"]
    assert set(report["counts"]) == {"audio", "image", "video", "config", "labels", "corpus", "cli", "runfolder"}
    assert sum(k["cases"] for k in report["counts"].values()) >= 64


# -- properties -------------------------------------------------------------------------------
@given(st.binary(max_size=400))
@settings(max_examples=150, deadline=None)
def test_any_results_file_gives_rows_or_a_named_error(tmp_path_factory, data):
    d = tmp_path_factory.mktemp("r")
    (d / "results.jsonl").write_bytes(data)
    try:
        rows = read_results(d, required=("variant",))
    except ConfigError as exc:
        assert "results.jsonl" in str(exc)
    else:
        assert all(isinstance(r, dict) and "variant" in r for r in rows)


@given(st.binary(max_size=400) | st.text(max_size=300).map(str.encode))
@settings(max_examples=150, deadline=None)
def test_any_config_file_parses_or_is_a_named_error(tmp_path_factory, data):
    from privemo.experiments.config import read_yaml

    d = tmp_path_factory.mktemp("c")
    (d / "c.yaml").write_bytes(data)
    try:
        read_yaml(d / "c.yaml")
        parse_config(read_yaml(d / "c.yaml")[0], "c.yaml")
    except ConfigError as exc:
        assert "c.yaml" in str(exc)


@given(st.text(alphabet=st.sampled_from(list("<>&\"'=/ |-*_[]()#!:;`~\\\nabcjvscriptonerrorimg")), max_size=200))
@settings(max_examples=300, deadline=None)
def test_no_text_becomes_active_markup_on_a_page(text):
    from tests.fuzz.cases import active_markup

    assert not active_markup(page(text, text, [(text, "AAAA")], threat_model=text, config=text))


def test_resume_guard_reads_an_older_run_folder_config_and_names_the_changed_key(tmp_path):
    """A unit of a run folder written before units recorded their configuration is judged by the
    folder's config.yaml; a changed parameter is refused by name, or the unit dropped with force."""
    from pydantic import BaseModel

    from privemo.experiments.evaluation import Evaluation

    class Cfg(BaseModel):
        name: str = "t"
        methods: list[dict] = [{"name": "m", "anonymizer": {"type": "mcadams", "alpha": 0.8}}]

    class Ev(Evaluation):
        def unit_specs(self, cfg):
            return {m["name"]: {"method": m} for m in cfg["methods"]}

    run = tmp_path / "run"
    ResultStore(run).write_unit("m", [{"method": "m"}])  # no recorded configuration (an older folder)
    (run / "config.yaml").write_text(yaml.safe_dump(Cfg().model_dump()))
    assert Ev(Cfg(), run, tmp_path).reusable()[0] == {"m"}
    new = Cfg(methods=[{"name": "m", "anonymizer": {"type": "mcadams", "alpha": 0.7}}])
    with pytest.raises(ConfigError, match=r"unit m .*method\.anonymizer\.alpha changed.*--force"):
        Ev(new, run, tmp_path).reusable()
    assert Ev(new, run, tmp_path).reusable(force=True)[0] == set() and not (run / "units" / "m.json").exists()
