"""Federated learning on Flower, end to end on the synthetic demo corpus: the simulation engine, then
the same federation as real SuperLink / SuperNode processes on localhost, which must give the same
result for the same seed."""

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


def test_deployment_gives_the_simulation_result(run, tmp_path):
    from privemo.learners.federated.deploy import deploy

    exp, rows = run
    job = exp.run_dir / "federations" / "fedavg__fold0" / "job.json"
    res = deploy(job, tmp_path / "deployment", port=9150, timeout=300)
    sim = [json.loads(line) for line in (job.parent / "rounds.jsonl").read_text().splitlines()]
    dep = [json.loads(line) for line in (tmp_path / "deployment" / "rounds.jsonl").read_text().splitlines()]
    assert len(dep) == len(sim) == 4
    assert res["final"]["server_uar"] == pytest.approx(sim[-1]["server_uar"], abs=0.02)
    with np.load(job.parent / "model.npz") as a, np.load(tmp_path / "deployment" / "model.npz") as b:
        for k in a.files:
            np.testing.assert_allclose(a[k], b[k], atol=1e-4)
