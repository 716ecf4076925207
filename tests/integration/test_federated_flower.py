"""Federated learning on Flower, end to end on the synthetic demo corpus: the simulation engine, then
the same federation as real SuperLink / SuperNode processes on localhost, over TLS with authenticated
SuperNodes, which must give the same result for the same seed (and let no intruder in)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from privemo.corpora.synthetic import generate
from privemo.experiments.federated import parse_federated_config
from privemo.experiments.federated.report import write_federated_report
from privemo.experiments.federated.runner import FederatedExperiment
from tests.conftest import assert_report_page

pytest.importorskip("flwr")

OPTS = {"media": "audio", "n_speakers": 6, "items": 6, "videos": 0, "seed": 0}


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = generate(tmp_path_factory.mktemp("synth6"), **{k: v for k, v in OPTS.items() if k != "media"})
    cfg = parse_federated_config({
        "name": "fl_test", "corpus": {"type": "synthetic", "root": str(root), "options": OPTS},
        "features": {"type": "egemaps"}, "model": {"type": "mlp", "hidden": [32], "dropout": 0.0},
        "rounds": 3, "local_epochs": 2, "batch_size": 8, "lr": 0.01, "folds": 3, "run_folds": [0],
        "centralised_epochs": 8, "loso": False, "num_cpus": 2,
        "variants": [{"name": "fedavg"}, {"name": "fedavg_dp", "dp": {"noise_multiplier": 1.0}}],
        "attack": {"classifiers": ["logreg"], "sketch_dim": 256}})
    out = tmp_path_factory.mktemp("run")
    exp = FederatedExperiment(cfg, out, data=root.parent)
    rows = exp.run()
    return exp, rows


def test_simulation_runs_baselines_federations_and_attack(run):
    exp, rows = run
    kinds = {(r["kind"], r.get("setting") or r.get("variant")) for r in rows}
    assert kinds == {("centralised", "dependent"), ("centralised", "independent"), ("federated", "fedavg"),
                     ("federated", "fedavg_dp")}
    fed = next(r for r in rows if r.get("variant") == "fedavg")
    assert fed["n_clients"] == 4 and len(fed["curve_server_uar"]) == 4  # before round 1, then each round
    assert fed["client_uar"] is not None and "update_uar" in fed["attack"]
    dp = next(r for r in rows if r.get("variant") == "fedavg_dp")
    assert dp["epsilon"] > 0
    updates = np.load(exp.run_dir / "federations" / "fedavg__fold0" / "updates.npz")
    assert sorted(set(updates["client"].tolist())) == [0, 1, 2, 3] and len(updates["client"]) == 12
    report = write_federated_report(exp.run_dir)
    assert "held-out UAR" in report["markdown"] and (exp.run_dir / "report.html").is_file()
    assert assert_report_page(exp.run_dir / "report.html", min_tables=2)["images"] >= 1
    # resuming a finished run redoes nothing
    assert len(exp.run()) == len(rows)


def test_deployment_across_hosts_over_tls_with_authenticated_supernodes(run, tmp_path):
    """The same federation as real processes, laid out as across hosts: the SuperLink alone
    (``role="superlink"``) and two groups of SuperNodes (``role="supernodes"``), each reading its
    partition files from a folder of its own, over TLS (certificates of `privemo federated certs`) with
    SuperNode authentication. It gives the simulation's result, while an intruder SuperNode with an
    unregistered key, and one speaking plain HTTP, are refused during the run."""
    import contextlib
    import os
    import shutil
    import signal
    import subprocess
    import sys
    import threading
    import time
    from pathlib import Path

    from privemo.learners.federated.deploy import _wait_port, deploy, node_name
    from privemo.learners.federated.security import make_certificates, make_node_keys

    exp, rows = run
    job = exp.run_dir / "federations" / "fedavg__fold0" / "job.json"
    parts = Path(json.loads(job.read_text())["data_dir"])
    certs = make_certificates(tmp_path / "certs", ["127.0.0.1"])
    groups = {"hostA": [0, 1], "hostB": [2, 3]}
    for host, pids in groups.items():  # each host: its own keys and its own clients' partition files
        make_node_keys(tmp_path / host / "keys", [node_name(p) for p in pids])
        (tmp_path / host / "parts").mkdir()
        for p in pids:
            shutil.copy(parts / f"client{p:03d}.npz", tmp_path / host / "parts")
        for pub in (tmp_path / host / "keys").glob("*.pub"):  # the public keys go to the SuperLink host
            (tmp_path / "link-keys").mkdir(exist_ok=True)
            shutil.copy(pub, tmp_path / "link-keys")
    rogue_key, _ = make_node_keys(tmp_path / "rogue", ["rogue"])[0]
    port, bindir = 9150, Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    tried: dict[str, tuple[int, str]] = {}
    done: dict[str, dict] = {}
    failed: list[BaseException] = []

    def guarded(fn):  # noqa: ANN001, ANN202
        def call(*a):  # noqa: ANN002, ANN202
            try:
                fn(*a)
            except BaseException as exc:  # noqa: BLE001  (re-raised in the test)
                failed.append(exc)
        return call

    def registered() -> None:
        _wait_port(port, 120)
        log = tmp_path / "deployment" / "logs" / "register.log"
        end = time.monotonic() + 120
        while time.monotonic() < end and (not log.is_file() or log.read_text().count("registered successfully") < 4):
            time.sleep(0.5)

    @guarded
    def nodes(host: str, k: int) -> None:
        registered()
        done[host] = deploy(job, tmp_path / host / "out", port=port + 10 * (k + 1), timeout=300, role="supernodes",
                            superlink=f"127.0.0.1:{port}", tls_dir=tmp_path / "certs", auth=True,
                            keys_dir=tmp_path / host / "keys", partitions=groups[host],
                            data_dir=tmp_path / host / "parts", linger=3)

    @guarded
    def intruders() -> None:
        registered()
        base = [str(bindir / "flower-supernode"), "--superlink", f"127.0.0.1:{port}", "--max-retries", "1",
                "--node-config", "partition-id=0 num-partitions=4"]
        for name, extra in (("unregistered", ["--root-certificates", str(certs["ca.crt"]),
                                              "--auth-supernode-private-key", str(rogue_key), "--port", str(port + 50)]),
                            ("plain", ["--insecure", "--port", str(port + 51)])):
            logf = tmp_path / f"{name}.log"
            with open(logf, "w") as fh:  # a file, not a pipe: the node's helper process may outlive it
                proc = subprocess.Popen(base + extra, stdout=fh, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
                try:
                    code = proc.wait(120)
                finally:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, signal.SIGKILL)
            tried[name] = (code, logf.read_text())

    threads = [threading.Thread(target=nodes, args=(h, k)) for k, h in enumerate(groups)]
    threads.append(threading.Thread(target=intruders))
    # the clients' partition files of the job's folder are out of reach during the run (the SuperLink
    # keeps its held-out server.npz): a node that read the job's folder would fail
    hidden = parts.with_name(parts.name + ".hidden")
    hidden.mkdir()
    for f in parts.glob("client*.npz"):
        f.rename(hidden / f.name)
    try:
        for t in threads:
            t.start()
        res = deploy(job, tmp_path / "deployment", port=port, timeout=300, role="superlink",
                     tls_dir=tmp_path / "certs", auth=True, keys_dir=tmp_path / "link-keys")
        for t in threads:
            t.join()
    finally:
        for f in hidden.glob("client*.npz"):
            f.rename(parts / f.name)
        hidden.rmdir()
    if failed:
        raise failed[0]
    for name, (code, said) in tried.items():
        assert code != 0, f"the {name} SuperNode was let in: {said[-2000:]}"
    assert "Failed to activate SuperNode" in tried["unregistered"][1]
    link_log = (tmp_path / "deployment" / "logs" / "superlink.log").read_text()
    assert "No SuperNode found with the given public key" in link_log and "https://127.0.0.1" in link_log
    assert {h: r["partitions"] for h, r in done.items()} == groups
    for host in groups:
        assert all(p.stat().st_mode & 0o077 == 0 for p in (tmp_path / host / "keys").glob("*.key"))  # the node's alone
    sim = [json.loads(line) for line in (job.parent / "rounds.jsonl").read_text().splitlines()]
    dep = [json.loads(line) for line in (tmp_path / "deployment" / "rounds.jsonl").read_text().splitlines()]
    assert len(dep) == len(sim) == 4
    assert res["final"]["server_uar"] == pytest.approx(sim[-1]["server_uar"], abs=0.02)
    with np.load(job.parent / "model.npz") as a, np.load(tmp_path / "deployment" / "model.npz") as b:
        for k in a.files:
            np.testing.assert_allclose(a[k], b[k], atol=1e-4)
