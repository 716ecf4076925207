"""The executors: settings refused before any work, lazy bounded fan-out, and the bytes path (workers
that do not share the driver's files) giving the same outputs and per-file errors as paths."""

from __future__ import annotations

import sys

import pytest

from privemo.errors import ConfigError
from privemo.executors import LocalExecutor, check_executor, make_executor
from tests.conftest import make_wav


def _square(shared, item):  # noqa: ANN001, ANN202  (module level: picklable for worker processes)
    return shared * item * item


@pytest.mark.parametrize(("kind", "workers", "address", "message"), [
    ("spark", 1, None, "not an executor"),
    ("local", 0, None, "workers"),
    ("local", 1, "auto", "address is for the ray executor"),
    ("ray", 1, "head.example.org", "no port"),
    ("ray", 1, "ray:// x", "address must be"),
])
def test_bad_settings_are_refused(kind, workers, address, message):
    with pytest.raises(ConfigError, match=message):
        check_executor(kind, workers, address, need_package=False)


def test_experiment_config_checks_the_ray_address_at_parse_time(synth_root):
    from privemo.experiments import parse_config

    data = {"name": "t", "corpus": {"type": "synthetic", "root": str(synth_root)},
            "variants": [{"name": "a", "features": {"type": "mfcc"}}], "evaluators": [{"type": "emotion"}],
            "executor": "ray", "ray_address": "head-without-port"}
    with pytest.raises(ConfigError, match="ray_address.*no port"):
        parse_config(data)


@pytest.mark.parametrize("workers", [1, 2])
def test_local_executor_maps_every_item_and_reads_them_lazily(workers):
    pulled = []

    def items():
        for i in range(40):
            pulled.append(i)
            yield i

    ex = make_executor("local", workers)
    it = ex.imap(_square, 3, items(), chunk=2)
    first = next(it)
    assert first in {3 * i * i for i in range(40)}
    assert len(pulled) <= 2 * workers * 2 + 2  # a bounded window in flight, not the whole input
    assert sorted([first, *it]) == sorted(3 * i * i for i in range(40))


class _Shipping(LocalExecutor):
    """Local processes that are handed bytes, as Ray's workers are."""

    ships_bytes = True


def test_voice_batch_through_bytes_matches_paths_and_names_bad_files(tmp_path):
    from privemo.anonymize import create_anonymizer
    from privemo.anonymize.batch import anonymize_files

    for i in range(5):
        make_wav(tmp_path / "in" / "spk" / f"c{i}.wav", seconds=0.4, freq=150 + 20 * i, seed=i)
    (tmp_path / "in" / "spk" / "bad.wav").write_bytes(b"RIFF nothing")
    outs = {}
    for name, ex in (("paths", LocalExecutor(1)), ("bytes", _Shipping(1)), ("bytes2", _Shipping(2))):
        res = anonymize_files(create_anonymizer({"type": "mcadams"}), tmp_path / "in", tmp_path / name, executor=ex)
        assert res.written == 5 and len(res.failed) == 1
        src, why = res.failed[0]
        assert src.endswith("bad.wav") and "privemo-unit" not in why  # the source's name, not a temp file
        outs[name] = {p.name: p.read_bytes() for p in (tmp_path / name / "spk").glob("*.wav")}
    assert len(outs["paths"]) == 5 and outs["paths"] == outs["bytes"] == outs["bytes2"]
    again = anonymize_files(create_anonymizer({"type": "mcadams"}), tmp_path / "in", tmp_path / "bytes",
                            executor=_Shipping(1))
    assert again.skipped == 5 and again.written == 0  # resume: the driver's outputs are kept


def test_face_batch_through_bytes_matches_paths(tmp_path):
    from privemo.anonymize.face import create_face_anonymizer
    from privemo.anonymize.face_batch import anonymize_face_files
    from tests.conftest import make_image

    for i in range(3):
        make_image(tmp_path / "in" / f"p{i}.png", size=48, mode="RGB", seed=i)
    outs = {}
    for name, ex in (("paths", LocalExecutor(1)), ("bytes", _Shipping(2))):
        res = anonymize_face_files(create_face_anonymizer({"type": "face_pixelate"}), tmp_path / "in",
                                   tmp_path / name, executor=ex)
        assert res.written == 3
        outs[name] = {p.name: p.read_bytes() for p in (tmp_path / name).glob("*.png")}
    assert len(outs["paths"]) == 3 and outs["paths"] == outs["bytes"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the parent-death signal is Linux's")
def test_dies_with_parent_sets_the_signal_from_many_threads_at_once():
    """A command through the launcher, from several threads at once (the federated deployment starts
    its nodes so), with no preexec function: every child starts, becomes the command, and carries
    SIGKILL as its parent-death signal."""
    import signal
    import subprocess
    import threading

    from privemo._procs import dies_with_parent

    probe = [sys.executable, "-c", "import ctypes, sys; v = ctypes.c_int(); ctypes.CDLL(None).prctl(2, ctypes.byref(v)); "
             "print(v.value, sys.argv[1])", "arg"]  # PR_GET_PDEATHSIG
    seen: list[str] = []

    def spawn() -> None:
        for _ in range(3):
            out = subprocess.run(dies_with_parent(probe), capture_output=True, text=True, timeout=60)
            seen.append(out.stdout.strip())

    threads = [threading.Thread(target=spawn) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not any(t.is_alive() for t in threads)
    assert seen == [f"{int(signal.SIGKILL)} arg"] * 18
