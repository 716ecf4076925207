"""A two-node Ray cluster on one machine, sharing nothing but the loopback network: a head node with
no CPUs (so no task can run there) and a second node started with its own temporary directory and
working directory. Anonymize batches (voice, and a real CREMA-D video) and a small `privemo run` go
through it and come out the same as on the local executor: byte-identical media, row-identical results. The driver passes relative
paths of its own working directory, which the worker node (another working directory) cannot open:
the media travel as bytes and only the driver writes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.conftest import SYNTH_OPTS, shared

pytestmark = [pytest.mark.integration, pytest.mark.slow]
BIN = Path(sys.executable).parent
ENV = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "OMP_NUM_THREADS": "1"}
# two loopback addresses, one per node (Ray replaces 127.0.0.1 itself by the machine's network address;
# the rest of 127.0.0.0/8 it leaves alone): nothing leaves the machine
HEAD_IP, NODE_IP = "127.0.0.2", "127.0.0.3"


def _free_ports(n: int) -> list[int]:
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("0.0.0.0", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


def _ray_status(address: str) -> str:
    out = subprocess.run([str(BIN / "ray"), "status", "--address", address], env=ENV, capture_output=True,
                         text=True, timeout=60)
    return out.stdout


@pytest.fixture(scope="module")
def cluster():
    pytest.importorskip("ray")
    root = Path(tempfile.mkdtemp(prefix="prv-ray-", dir="/tmp"))  # short: Ray's socket paths have a limit
    gcs, client, *agent = _free_ports(10)
    address = f"{HEAD_IP}:{gcs}"
    common = ["--block", "--disable-usage-stats"]
    nodes = {"head": ["--head", "--node-ip-address", HEAD_IP, "--port", str(gcs), "--num-cpus", "0",
                      "--include-dashboard", "false", "--ray-client-server-port", str(client)],
             "node": ["--address", address, "--node-ip-address", NODE_IP, "--num-cpus", "2"]}
    procs = []
    try:
        for k, (name, extra) in enumerate(nodes.items()):
            (root / f"{name}-tmp").mkdir()
            (root / f"{name}-cwd").mkdir()
            ports = agent[4 * k: 4 * k + 4]
            cmd = [str(BIN / "ray"), "start", *common, *extra, "--temp-dir", str(root / f"{name}-tmp"),
                   "--dashboard-agent-listen-port", str(ports[0]), "--dashboard-agent-grpc-port", str(ports[1]),
                   "--metrics-export-port", str(ports[2]), "--runtime-env-agent-port", str(ports[3])]
            log = open(root / f"{name}.log", "w")  # noqa: SIM115  (closed with the process)
            procs.append(subprocess.Popen(cmd, cwd=root / f"{name}-cwd", env=ENV, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
            end = time.monotonic() + 120
            want = "0.0/2.0 CPU" if name == "node" else "Active:"
            while want not in _ray_status(address):
                if time.monotonic() > end or procs[-1].poll() is not None:
                    pytest.fail(f"ray {name} did not start: {(root / f'{name}.log').read_text()[-3000:]}")
                time.sleep(1)
        yield address, root
    finally:
        for p in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGTERM)
        for p in reversed(procs):
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(p.pid, signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


def _privemo(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    out = subprocess.run([str(BIN / "privemo"), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                         timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return out


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_anonymize_batch_on_a_two_node_cluster_is_byte_identical(cluster, tmp_path):
    address, root = cluster
    actor = shared("ravdess", "Actor_01")
    drv = tmp_path / "driver"
    (drv / "in" / "a").mkdir(parents=True)
    for p in sorted(actor.iterdir())[:6]:
        (drv / "in" / "a" / p.name).write_bytes(p.read_bytes())
    (drv / "in" / "a" / "broken.wav").write_bytes(b"RIFF not audio")  # a per-file error, named the same way
    outs = {}
    for name, extra in (("local", []), ("local2", ["--workers", "2"]),
                        ("cluster", ["--executor", "ray", "--ray-address", address])):
        res = subprocess.run([str(BIN / "privemo"), "anonymize", "voice", "in", f"out_{name}", "-m", "mcadams",
                              *extra], cwd=drv, env=ENV, capture_output=True, text=True, timeout=600)
        said = res.stdout + res.stderr
        assert res.returncode == 1 and "in/a/broken.wav" in said, said  # the bad file, by its own name
        assert "privemo-unit" not in said  # never a worker's temporary file
        outs[name] = _tree(drv / f"out_{name}")
    assert len([k for k in outs["local"] if k.endswith(".flac")]) == 6
    assert outs["cluster"] == outs["local"] == outs["local2"]
    # the worker node's working directory holds nothing of the job
    assert not [p for p in (root / "node-cwd").rglob("*") if p.suffix in (".flac", ".wav")]


def test_anonymize_video_on_a_two_node_cluster_is_byte_identical(cluster, tmp_path):
    address, _ = cluster
    clip = sorted(shared("crema-d-sample", "VideoFlash").glob("*.flv"))[0]
    drv = tmp_path / "driver"
    (drv / "in").mkdir(parents=True)
    (drv / "in" / clip.name).write_bytes(clip.read_bytes())
    outs = {}
    for name, extra in (("local", []), ("cluster", ["--executor", "ray", "--ray-address", address])):
        _privemo(["anonymize", "video", "in", f"out_{name}", "--detect-every", "5", *extra], drv)
        outs[name] = _tree(drv / f"out_{name}")
    assert len([k for k in outs["local"] if not k.startswith(".")]) == 1 and outs["cluster"] == outs["local"]


def test_privemo_run_on_a_two_node_cluster_gives_the_same_rows(cluster, tmp_path, synth_root):
    address, _ = cluster
    learner = {"type": "standard", "epochs": 2, "encoder": {"type": "acoustic", "conv_layers": 1, "channels": 8,
                                                             "gru_layers": 1, "gru_width": 8}}
    cfg = {"name": "c", "corpus": {"type": "synthetic", "root": str(synth_root), "options": {"media": "audio",
                                                                                            **SYNTH_OPTS}},
           "variants": [{"name": "mfcc", "features": {"type": "mfcc"}},
                        {"name": "nn", "features": {"type": "mfb"}, "learner": learner}],
           "evaluators": [{"type": "emotion"}, {"type": "gender_attacker"}], "folds": 2, "valid_speakers": 1}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg))
    _privemo(["run", "c.yaml", "--out", "local"], tmp_path)
    _privemo(["run", "c.yaml", "--out", "cluster", "--executor", "ray", "--ray-address", address], tmp_path)

    def rows(run: str) -> list[dict]:
        out = [json.loads(line) for line in (tmp_path / run / "results.jsonl").read_text().splitlines()]
        return sorted(({k: (round(v, 6) if isinstance(v, float) else v) for k, v in r.items()
                        if not k.endswith("_s")} for r in out), key=lambda r: (r["variant"], r["fold"], r["evaluator"]))

    local, remote = rows("local"), rows("cluster")
    assert len(local) == 8 and local == remote
    # the learner checkpoints came back to the driver's run folder
    assert sorted(p.name for p in (tmp_path / "cluster" / "checkpoints").glob("*.pt")) == \
        sorted(p.name for p in (tmp_path / "local" / "checkpoints").glob("*.pt"))


def _rows(path: Path) -> list[dict]:
    """A run's result rows without timings (``*_s``, ``images_per_s``, ``seconds``), floats to 6 places."""
    def clean(v):  # noqa: ANN001, ANN202
        if isinstance(v, dict):
            return {k: clean(x) for k, x in v.items() if not (k.endswith("_s") or k in ("seconds", "threads"))}
        if isinstance(v, list):
            return [clean(x) for x in v]
        return round(v, 6) if isinstance(v, float) else v

    return [clean(json.loads(line)) for line in path.read_text().splitlines()]


def test_face_evaluation_on_a_two_node_cluster_gives_the_same_rows(cluster, tmp_path):
    """The face anonymizers (a learning one among them, fitted here and sent once) transform the crops
    on the cluster; the table's rows are the local executor's."""
    address, _ = cluster
    cfg = {"name": "f", "corpus": {"type": "synthetic", "options": {"media": "image", "n_speakers": 4, "items": 2}},
           "emotions": ["happy", "sad", "neutral"], "size": 16, "color": "rgb", "detect": False, "augment": 0,
           "narula": None,
           "anonymizers": {"folds": 2, "epochs": 1, "attackers": ["cnn"], "pretrained": False,
                           "methods": [{"name": "pix", "anonymizer": {"type": "face_pixelate", "block": 4}},
                                       {"name": "blur", "anonymizer": {"type": "face_blur", "sigma": 2}},
                                       {"name": "ae", "anonymizer": {"type": "face_autoencoder", "size": 16,
                                                                     "epochs": 1, "latent": 8}}]}}
    (tmp_path / "f.yaml").write_text(yaml.safe_dump(cfg))
    _privemo(["evaluate", "face", "f.yaml", "--out", "local"], tmp_path)
    out = _privemo(["run", "f.yaml", "--out", "cluster", "--executor", "ray", "--ray-address", address], tmp_path)
    assert f"Ray at {address}" in out.stdout + out.stderr
    local, remote = _rows(tmp_path / "local" / "results.jsonl"), _rows(tmp_path / "cluster" / "results.jsonl")
    assert len(local) == 4 and local == remote
    assert _tree(tmp_path / "local" / "examples") == _tree(tmp_path / "cluster" / "examples")


def test_vgan_on_a_two_node_cluster_trains_the_same_model(cluster, tmp_path):
    """PPRL-VGAN on the cluster: training as a chain of checkpointed tasks (the checkpoint's bytes
    travel, the driver writes it), the scenarios fanned out; the same model and rows as locally."""
    address, _ = cluster
    cfg = {"name": "v", "corpus": {"type": "synthetic", "options": {"media": "image", "n_speakers": 4, "items": 4}},
           "size": 32, "detect": False, "model": {"iterations": 5, "batch": 16, "checkpoint_every": 2},
           "attacks": {"epochs": 1, "pretrained": False, "latent": ["svm"]}}
    (tmp_path / "v.yaml").write_text(yaml.safe_dump(cfg))
    _privemo(["vgan", "evaluate", "v.yaml", "--out", "local"], tmp_path)
    out = _privemo(["run", "v.yaml", "--out", "cluster", "--executor", "ray", "--ray-address", address], tmp_path)
    assert "2 iterations per task" in out.stdout + out.stderr
    import torch

    a, b = (torch.load(tmp_path / r / "model.pt", weights_only=True) for r in ("local", "cluster"))
    assert a["iteration"] == b["iteration"] == 5
    for part in ("encoder", "decoder", "discriminator"):
        assert all(torch.equal(a[part][k], b[part][k]) for k in a[part]), part
    key = lambda r: (r["unit"], r.get("scenario", ""), r.get("attacker", ""), r.get("representation", ""))  # noqa: E731
    local = sorted(_rows(tmp_path / "local" / "results.jsonl"), key=key)
    remote = sorted(_rows(tmp_path / "cluster" / "results.jsonl"), key=key)
    assert len(local) >= 6 and local == remote
