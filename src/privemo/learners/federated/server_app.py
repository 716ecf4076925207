"""The Flower ServerApp: a thin adapter that runs one federation described by a job file.

The job (written by :mod:`privemo.experiments.federated.runner`, or by hand) names the partition
folder, the model, the strategy and its settings, and where results go. Each round the server
sends the global model to the sampled clients, aggregates their updates with the strategy
(any of Flower's own: FedAvg, FedProx, FedAdam, FedYogi, Krum...), asks the clients to evaluate the global model on their
local test items (the speaker-dependent view), and evaluates it itself on the held-out speakers
(the subject-independent view). It also *records* what an honest-but-curious server sees: a count
sketch of every client's update, for the gender-inference attack run afterwards.

In simulation the experiment builds the app around the job with :func:`make_server_app`; in a
deployment (``flwr run``) the module-level ``app`` reads the job path from the run config key
``job``.
"""

# Flower's record values are typed as unions of every value kind; the values read here are numbers
# mypy: disable-error-code="arg-type,union-attr"

from __future__ import annotations

import inspect
import json
import logging
import random
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid, ServerApp

from privemo._files import atomic_path
from privemo.learners.federated.strategies import ALIASES
from privemo.learners.federated.task import (
    Partition,
    build_model,
    evaluate,
    flat_update,
    get_weights,
    set_weights,
    uar_of_confusion,
    write_atomic,
)


class CountSketch:
    """A fixed random linear map of a long vector to ``dim`` numbers (each coordinate added, with a
    random sign, to one random bucket): inner products and norms are kept in expectation, so a
    classifier on sketches sees what it would on the full update, at a fraction of the memory."""

    def __init__(self, n: int, dim: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.bucket = rng.integers(0, dim, size=n)
        self.sign = rng.choice(np.array([-1.0, 1.0]), size=n)
        self.dim = dim

    def __call__(self, v: np.ndarray) -> np.ndarray:
        return np.bincount(self.bucket, weights=self.sign * v, minlength=self.dim).astype(np.float32)


def _train_aggr(records: list[RecordDict], key: str) -> MetricRecord:
    """Mean training loss weighted by items; the largest client epsilon (the guarantee that holds
    for every client)."""
    ms = [next(iter(r.metric_records.values())) for r in records]
    w = np.array([float(m[key]) for m in ms])
    out = {"train-loss": float(np.dot(w, [float(m["train-loss"]) for m in ms]) / max(w.sum(), 1e-12)),
           "clients": len(ms)}
    eps = [float(m["epsilon"]) for m in ms if "epsilon" in m]
    if eps:
        out["epsilon-max"] = max(eps)
    return MetricRecord(out)


def _eval_aggr(records: list[RecordDict], key: str) -> MetricRecord:
    """UAR over all clients' local test items together (their confusion counts summed)."""
    ms = [next(iter(r.metric_records.values())) for r in records]
    cms = [np.asarray(m["confusion"], dtype=np.int64) for m in ms]
    total = np.sum(cms, axis=0)
    k = int(round(np.sqrt(total.size)))
    out: dict[str, Any] = {"uar": uar_of_confusion(total.reshape(k, k)), "confusion": [int(v) for v in total]}
    w = np.array([float(m[key]) for m in ms])
    losses = [float(m["loss"]) if "loss" in m else 0.0 for m in ms]
    if w.sum() > 0:
        out["loss"] = float(np.dot(w, losses) / w.sum())
    return MetricRecord(out)


def make_strategy(settings: dict[str, Any], n_clients: int, recorder: UpdateRecorder | None = None) -> Any:
    """Flower's strategy named by ``settings['strategy']``, recording client updates if asked."""
    from privemo.registry import lookup

    params = dict(settings["strategy"])
    kind = params.pop("type")
    for old, new in ALIASES.get(kind, {}).items():  # a job file written before Flower's names
        if old in params:
            params.setdefault(new, params.pop(old))
    base = lookup("strategy", kind).cls
    accepted = inspect.signature(base.__init__).parameters
    params = {k: v for k, v in params.items() if k in accepted}  # an older job's unused keys
    n_train = max(1, int(round(settings["fraction"] * n_clients)))
    common = {"fraction_train": settings["fraction"], "fraction_evaluate": 1.0, "min_train_nodes": min(n_train, n_clients),
              "min_evaluate_nodes": n_clients, "min_available_nodes": n_clients,
              "train_metrics_aggr_fn": _train_aggr, "evaluate_metrics_aggr_fn": _eval_aggr}
    if "train_loss_key" in accepted:  # q-FedAvg reads the clients' training loss
        common["train_loss_key"] = "train-loss"
    common = {k: v for k, v in common.items() if k in accepted}

    class Recording(base):  # type: ignore[misc, valid-type]
        def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                            grid: Grid) -> Iterable[Message]:
            if recorder is not None:
                recorder.global_weights = arrays.to_numpy_ndarrays()
            return super().configure_train(server_round, arrays, config, grid)

        def configure_evaluate(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                               grid: Grid) -> Iterable[Message]:
            every = int(settings.get("client_eval_every", 1))
            if server_round % every and server_round != settings["rounds"]:
                return []  # the clients evaluate every few rounds (and after the last)
            return super().configure_evaluate(server_round, arrays, config, grid)

        def aggregate_train(self, server_round: int, replies: Iterable[Message]) -> Any:
            replies = list(replies)
            if recorder is not None:
                recorder.record(server_round, replies)
            return super().aggregate_train(server_round, replies)

    Recording.__name__ = base.__name__
    return Recording(**common, **params)


class UpdateRecorder:
    """What the server sees of each client's update: (round, partition id, sketch)."""

    def __init__(self, n_params: int, dim: int, seed: int) -> None:
        self.sketch = CountSketch(n_params, dim, seed)
        self.global_weights: list[np.ndarray] = []
        self.rounds: list[int] = []
        self.clients: list[int] = []
        self.sketches: list[np.ndarray] = []
        self.epsilons: dict[int, float] = {}

    def record(self, server_round: int, replies: list[Message]) -> None:
        for msg in replies:
            if msg.has_error():
                continue
            metrics = next(iter(msg.content.metric_records.values()))
            pid = int(metrics["partition-id"])
            new = next(iter(msg.content.array_records.values())).to_numpy_ndarrays()
            self.rounds.append(server_round)
            self.clients.append(pid)
            self.sketches.append(self.sketch(flat_update(new, self.global_weights)))
            if "epsilon" in metrics:
                self.epsilons[pid] = float(metrics["epsilon"])

    def save(self, path: Path) -> None:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, round=np.array(self.rounds, dtype=np.int64), client=np.array(self.clients, dtype=np.int64),
                     sketch=np.stack(self.sketches) if self.sketches else np.zeros((0, self.sketch.dim), np.float32))


def run_federation(grid: Grid, job: dict[str, Any], log: Callable[[str], None] | None = None) -> dict[str, Any]:
    """The server's whole job: rounds of training and evaluation; writes ``rounds.jsonl``,
    ``model.npz``, ``updates.npz`` and ``federation_result.json`` into ``job['out_dir']``."""
    log = log or (lambda m: None)
    random.seed(job["seed"])  # Flower samples the clients of a round with Python's random
    settings = job["settings"]
    out = Path(job["out_dir"])
    out.mkdir(parents=True, exist_ok=True)
    model = build_model(job["n_in"], job["n_classes"], settings["model"], job["seed"])
    initial = get_weights(model)
    n_params = int(sum(w.size for w in initial))
    recorder = UpdateRecorder(n_params, job.get("sketch_dim", 2048), job["seed"]) if job.get("record_updates", True) \
        else None
    strategy = make_strategy(settings, len(job["clients"]), recorder)
    server = Partition.load(Path(job["data_dir"]) / "server.npz")
    rows: list[dict[str, Any]] = []
    t_start = time.perf_counter()
    t_round = [time.perf_counter()]

    def evaluate_fn(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        set_weights(model, arrays.to_numpy_ndarrays())
        ev = evaluate(model, server.X, server.y, job["n_classes"])
        now = time.perf_counter()
        row = {"round": server_round, "server_uar": ev["uar"], "server_loss": ev["loss"],
               "server_confusion": ev["confusion"], "seconds": now - t_round[0]}
        t_round[0] = now
        rows.append(row)
        if server_round:
            log(f"round {server_round}/{settings['rounds']}: held-out speakers UAR {ev['uar']:.3f} "
                f"({row['seconds']:.1f} s)")
        return MetricRecord({"uar": ev["uar"], "loss": ev["loss"]})

    payload = json.dumps(job)  # train and evaluate get records of their own (the strategy adds keys)
    result = strategy.start(grid=grid, initial_arrays=ArrayRecord(initial), num_rounds=settings["rounds"],
                            train_config=ConfigRecord({"privemo-job": payload}),
                            evaluate_config=ConfigRecord({"privemo-job": payload}),
                            evaluate_fn=evaluate_fn)
    for r in rows:  # what the clients measured on their local test items, per round
        rnd = r["round"]
        cm = result.evaluate_metrics_clientapp.get(rnd)
        if cm is not None:
            r["client_uar"], r["client_confusion"] = float(cm["uar"]), list(cm["confusion"])
        tm = result.train_metrics_clientapp.get(rnd)
        if tm is not None:
            r["train_loss"] = float(tm["train-loss"])
            if "epsilon-max" in tm:
                r["epsilon"] = float(tm["epsilon-max"])
    final = result.arrays.to_numpy_ndarrays() if result.arrays is not None else initial
    with atomic_path(out / "model.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, *final)
    if recorder is not None:
        recorder.save(out / "updates.npz")
    write_atomic(out / "rounds.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    summary = {"rounds": settings["rounds"], "wall_s": time.perf_counter() - t_start, "final": rows[-1] if rows else {},
               "client_epsilons": recorder.epsilons if recorder is not None else {}}
    write_atomic(out / "federation_result.json", json.dumps(summary, indent=1))
    return summary


def make_server_app(job: dict[str, Any], log: Callable[[str], None] | None = None,
                    sink: dict[str, Any] | None = None) -> ServerApp:
    """A ServerApp bound to ``job`` (for the simulation engine); its summary lands in ``sink``."""
    server_app = ServerApp()

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        summary = run_federation(grid, job, log)
        if sink is not None:
            sink.update(summary)

    return server_app


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    """Deployment entry point: ``flwr run`` with ``--run-config "job='<path of job.json>'"``."""
    path = Path(str(context.run_config["job"]))
    job = json.loads(path.read_text())
    logging.getLogger("privemo").info("federation job %s", path)
    run_federation(grid, job, lambda m: print(m, flush=True))
