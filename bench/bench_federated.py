"""Wall time per federated round and memory peak: Flower's simulation engine against a plain loop.

    python bench/bench_federated.py [--root ../shared/data/ravdess] [--rounds 10]

Every RAVDESS actor is a client (24; the synthetic demo corpus's speakers where RAVDESS is absent),
with the model and settings of configs/federated/ravdess.yaml (ComParE functionals, MLP 256, one
local epoch). In the same run it times:
  * baseline: the same FedAvg rounds as a plain Python loop calling the same task functions
    (no Flower, no Ray, no serialisation);
  * flower_simulation: the federation in Flower's simulation engine (Ray backend, 2 CPUs), local
    training each round and the clients' local evaluation every 5th (as in the config);
  * flower_simulation_dp: the same with client-side DP-SGD (Opacus, noise 4).
Seconds per round (median over rounds after the first: Ray's start-up is reported separately) and
the memory peak: the machine's used memory above what it was before the run, sampled every 0.2 s
(it covers the Ray workers, which are not children of this process). Writes
bench/results/federated.json and .md.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import psutil
from _common import ROOT, machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.experiments.federated import load_federated_config, parse_federated_config  # noqa: E402
from privemo.experiments.federated.data import load_corpus_data  # noqa: E402
from privemo.experiments.federated.runner import make_job, simulate  # noqa: E402
from privemo.features import FeatureCache  # noqa: E402
from privemo.learners.federated.task import Partition, build_model, get_weights, set_weights, train  # noqa: E402


class MemoryPeak:
    """Peak of the machine's used memory above its level at start, sampled in a thread."""

    def __init__(self) -> None:
        self.base = psutil.virtual_memory().used
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, psutil.virtual_memory().used - self.base)
            time.sleep(0.2)

    def __enter__(self) -> MemoryPeak:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()


def plain_loop(parts: list[Partition], job: dict, rounds: int) -> list[float]:
    s = job["settings"]
    model = build_model(job["n_in"], job["n_classes"], s["model"], job["seed"])
    w = get_weights(model)
    times = []
    for r in range(1, rounds + 1):
        t0 = time.perf_counter()
        new, ns = [], []
        for pid, p in enumerate(parts):
            m = build_model(job["n_in"], job["n_classes"], s["model"], job["seed"])
            set_weights(m, w)
            train(m, p.X[p.train], p.y[p.train], epochs=s["local_epochs"], batch_size=s["batch_size"], lr=s["lr"],
                  seed=r * 1009 + pid, n_classes=job["n_classes"])
            new.append(get_weights(m))
            ns.append(float(p.train.sum()))
        total = sum(ns)
        w = [sum(n * x[j] for n, x in zip(ns, new, strict=True)) / total for j in range(len(w))]
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = parser()
    ap.add_argument("--rounds", type=int, default=10)
    args = ap.parse_args()
    cfg = load_federated_config(ROOT / "configs" / "federated" / "ravdess.yaml")
    corpus = "ravdess"
    if not Path(args.root).is_dir():
        print(f"RAVDESS not found at {args.root}: measuring on the synthetic demo corpus instead")
        corpus = "synthetic"
        cfg = parse_federated_config({**cfg.model_dump(mode="json"), "corpus": {"type": "synthetic",
                                      "options": {"media": "audio", "n_speakers": 12, "items": 10, "seed": 0}}})
    else:
        cfg = cfg.model_copy(update={"corpus": cfg.corpus.model_copy(update={"root": str(Path(args.root).resolve())})})
    data = load_corpus_data(cfg, Path("."), FeatureCache())
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        clients, parts = [], []
        from privemo.experiments.federated.data import local_split

        for pid, spk in enumerate(sorted(set(data.speaker))):  # every speaker a client
            ix = np.flatnonzero(data.speaker == spk)
            p = Partition(data.X[ix], data.y[ix], local_split(data.y[ix], cfg.client_test_fraction, pid), spk,
                          str(data.gender[ix[0]]))
            p.save(d / f"client{pid:03d}.npz")
            parts.append(p)
            clients.append({"partition_id": pid, "speaker": spk, "gender": p.gender})
        Partition(np.concatenate([p.X[~p.train] for p in parts]), np.concatenate([p.y[~p.train] for p in parts]),
                  np.zeros(sum((~p.train).sum() for p in parts), bool)).save(d / "server.npz")
        from privemo.experiments.federated.data import FoldData

        fold = FoldData(d, clients, [], int(data.X.shape[1]), data.labels)
        cfg = cfg.model_copy(update={"rounds": args.rounds})
        results: dict[str, dict] = {}
        with MemoryPeak() as mem:
            times = plain_loop(parts, make_job(cfg, "fedavg", fold, d / "plain"), args.rounds)
        results["plain_fedavg_loop"] = {"s_per_round": float(np.median(times[1:])), "memory_peak_mb": mem.peak / 2**20}
        for name, variant in (("flower_simulation", "fedavg"), ("flower_simulation_dp", "fedavg_dp_sigma4")):
            job = make_job(cfg, variant, fold, d / name)
            job["record_updates"] = False
            t0 = time.perf_counter()
            with MemoryPeak() as mem:
                simulate(job, num_cpus=2)
            wall = time.perf_counter() - t0
            import json

            rows = [json.loads(line) for line in (d / name / "rounds.jsonl").read_text().splitlines()]
            secs = [r["seconds"] for r in rows[2:]]  # round 1 carries Ray's start-up
            results[name] = {"s_per_round": float(np.median(secs)), "first_round_s": rows[1]["seconds"],
                             "wall_s": wall, "memory_peak_mb": mem.peak / 2**20}
    base = results["plain_fedavg_loop"]["s_per_round"]
    report = {"corpus": corpus, "clients": len(clients), "rounds": args.rounds, "machine": machine(),
              "results": results, "ratio_to_plain_loop": {k: v["s_per_round"] / base for k, v in results.items()}}
    lines = [f"# Federated round time ({corpus}, {len(clients)} clients, {report['machine']})", "",
             "| loop | s / round | x plain loop | first round s | memory peak MB |", "|---|---|---|---|---|"]
    for k, v in results.items():
        lines.append(f"| {k} | {v['s_per_round']:.2f} | {v['s_per_round'] / base:.2f} | "
                     f"{v.get('first_round_s', float('nan')):.1f} | {v['memory_peak_mb']:.0f} |")
    lines += ["", "Median over rounds after the first; in the Flower rows every client also evaluates the "
              "global model on its local test items every 5th round (the plain loop does not). Memory: the machine's "
              "used memory above its level at the start of each row, Ray workers included.",
              "Command: `python bench/bench_federated.py`"]
    write(args.out, "federated", report, lines)


if __name__ == "__main__":
    main()
