"""A federated experiment end to end: data, centralised baselines, federations, attacks, report.

For each fold (its test speakers held out by the server, every other speaker one client):
  * the centralised baselines on the same items (speaker-dependent 70:30, subject-independent);
  * every variant as a Flower federation in the simulation engine (``flwr.simulation``, Ray);
  * the gender attack on the updates the server recorded.
Plus the paper's leave-one-speaker-out centralised baseline over the whole corpus. Each finished
piece (a unit) is written at once, so an interrupted run resumes where it stopped; the report is
rebuilt from the results alone.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import inside
from privemo.experiments.config import data_root
from privemo.experiments.evaluation import Evaluation, Planned
from privemo.experiments.federated.config import FederatedConfig, Settings, parse_federated_config
from privemo.experiments.federated.data import CorpusData, FoldData, load_corpus_data, write_fold
from privemo.experiments.store import atomic_write
from privemo.features import FeatureCache

Log = Callable[[str], None]


def make_job(cfg: FederatedConfig, variant: str, fold: FoldData, out_dir: Path) -> dict[str, Any]:
    """Everything the ServerApp and the ClientApps need, as plain JSON."""
    settings = cfg.variant(variant).model_dump(mode="json")
    return {"variant": variant, "settings": settings, "data_dir": str(fold.dir.resolve()),
            "out_dir": str(out_dir.resolve()), "n_in": fold.n_in, "n_classes": len(fold.labels),
            "labels": fold.labels, "clients": fold.clients, "seed": cfg.seed,
            "sketch_dim": cfg.attack.sketch_dim if cfg.attack else 2048, "record_updates": cfg.attack is not None}


def simulate(job: dict[str, Any], num_cpus: int | None = None, log: Log | None = None,
             verbose: bool = False) -> dict[str, Any]:
    """Run one federation in Flower's simulation engine (Ray backend, one virtual SuperNode per
    client). Returns the server's summary."""
    from flwr.simulation import run_simulation

    from privemo.learners.federated.client_app import app as client_app
    from privemo.learners.federated.server_app import make_server_app

    sink: dict[str, Any] = {}
    server_app = make_server_app(job, log, sink)
    cpus = num_cpus or os.cpu_count() or 1
    backend_config = {"client_resources": {"num_cpus": 1, "num_gpus": 0.0}, "init_args": {"num_cpus": cpus}}
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")  # no GPUs: silence Ray's notice
    flwr_logger = logging.getLogger("flwr")
    level = flwr_logger.level
    if not verbose:  # Flower's INFO log (and its notice that run_simulation will move to `flwr run`)
        flwr_logger.setLevel(logging.ERROR)
    try:
        run_simulation(server_app=server_app, client_app=client_app, num_supernodes=len(job["clients"]),
                       backend_config=backend_config, verbose_logging=verbose)  # type: ignore[arg-type]
    finally:
        flwr_logger.setLevel(level)
    if not sink:
        raise RuntimeError(f"federation {job['variant']}: the simulation ended without a result "
                           "(see Flower's log above)")
    return sink


class FederatedExperiment(Evaluation):
    cfg: FederatedConfig

    def __init__(self, config: FederatedConfig, out: str | Path | None = None, data: str | Path | None = None,
                 cache: FeatureCache | None = None, log: Log | None = None,
                 progress: Callable[[str, int, int], None] | None = None, verbose: bool = False) -> None:
        super().__init__(config, Path(out) if out else Path("runs") / config.name, data_root(data), cache,
                         progress, log)
        self.verbose = verbose

    def unit_specs(self, cfg: dict[str, Any] | FederatedConfig) -> dict[str, dict[str, Any]]:
        """Each unit's full resolved configuration: a federation's is its variant's settings (strategy
        with every parameter, rounds, DP...), a centralised baseline's the first variant's settings and
        its epochs; both add the data settings (corpus, features, normalisation, folds, seeds) and
        the attack. The run's name, CPU count and fold subset are not part of
        what a unit means."""
        if isinstance(cfg, dict):  # resolved like a config file (an older folder's defaults filled in)
            cfg = parse_federated_config(cfg, str(self.run_dir / "config.yaml"))
        data = cfg.model_dump(mode="json")
        shared = {k: v for k, v in data.items()
                  if k not in ("name", "variants", "num_cpus", "run_folds", "centralised_epochs", "loso", *Settings.model_fields)}
        first = cfg.variant(cfg.variants[0]["name"]).model_dump(mode="json")
        central = {"shared": shared, "settings": {k: v for k, v in first.items() if k != "name"},
                   "epochs": cfg.centralised_epochs}
        specs: dict[str, dict[str, Any]] = {"loso": central}
        for f in range(cfg.folds):
            specs[f"centralised__fold{f}"] = {**central, "fold": f}
            for v in cfg.variants:
                specs[f"{v['name']}__fold{f}"] = {"shared": shared, "fold": f,
                                                   "settings": cfg.variant(v["name"]).model_dump(mode="json")}
        return specs

    def config_text(self) -> str:
        return self.cfg.to_yaml()

    def drop_unit(self, key: str) -> None:
        self.store.drop(key)
        shutil.rmtree(inside(self.run_dir, "federations", key), ignore_errors=True)

    def plan(self) -> list[Planned]:
        keys = []
        for f in self.cfg.fold_list():
            keys.append(f"centralised__fold{f}")
            keys += [f"{v['name']}__fold{f}" for v in self.cfg.variants]
        if self.cfg.loso:
            keys.append("loso")
        return [Planned(k) for k in keys]

    def choices(self) -> list[str]:
        return []

    @contextmanager
    def session(self) -> Iterator[CorpusData]:
        data = load_corpus_data(self.cfg, self.data_root, self.cache, self.progress, self.log)
        self.log(f"{self.cfg.corpus.type}: {len(data.y)} items, {len(set(data.speaker))} speakers, "
                 f"{data.X.shape[1]} {self.cfg.features['type']} features, labels {', '.join(data.labels)}")
        yield data

    def report(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The rows (the page is `write_federated_report`'s)."""
        return self.store.rows()

    def run(self, only: list[str] | None = None, force: bool = False) -> list[dict[str, Any]]:  # type: ignore[override]
        """Every unit not finished yet; ``force`` redoes the finished units whose configuration changed
        (without it such a resume is a ConfigError naming the unit and the changed keys)."""
        return super().run(only, force)  # type: ignore[return-value]

    def fold_data(self, data: CorpusData, fold: int) -> FoldData:
        return write_fold(data, self.cfg, fold, self.run_dir / "partitions" / f"fold{fold}")

    def unit(self, key: str, data: CorpusData) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        rows = self._rows(key, data)
        for r in rows:
            r.setdefault("wall_s", time.perf_counter() - t0)
        return rows

    def _rows(self, key: str, data: CorpusData) -> list[dict[str, Any]]:
        from privemo.experiments.federated import centralised

        base = {"run": self.cfg.name, "corpus": self.cfg.corpus.type, "labels": data.labels}
        if key == "loso":
            self.log("centralised leave-one-speaker-out baseline")
            settings = self.cfg.variant(self.cfg.variants[0]["name"]).model_dump(mode="json")
            res = centralised.loso(data, settings, self.cfg.centralised_epochs, self.cfg.seed,
                                   lambda i, n: self.progress("LOSO speakers", i, n), self.cfg.normalize)
            return [{**base, "kind": "centralised", "setting": "loso", "fold": -1, **res}]
        name, fold_s = key.split("__fold")
        fold = self.fold_data(data, int(fold_s))
        info = {**base, "fold": int(fold_s), "n_clients": len(fold.clients), "test_speakers": fold.test_speakers}
        if name == "centralised":
            settings = self.cfg.variant(self.cfg.variants[0]["name"]).model_dump(mode="json")
            res = centralised.fold_baselines(fold, settings, self.cfg.centralised_epochs, self.cfg.seed)
            self.log(f"fold {fold_s} centralised: dependent UAR {res['dependent']['uar']:.3f}, "
                     f"independent UAR {res['independent']['uar']:.3f}")
            return [{**info, "kind": "centralised", "setting": s, "uar": res[s]["uar"],
                     "accuracy": res[s]["accuracy"], "confusion": res[s]["confusion"], "n_test": res[s]["n"],
                     "n_train": res["n_train"]} for s in ("dependent", "independent")]
        out_dir = self.run_dir / "federations" / key
        job = make_job(self.cfg, name, fold, out_dir)
        atomic_write(out_dir / "job.json", json.dumps(job, indent=1))
        self.log(f"federation {name}, fold {fold_s}: {len(fold.clients)} clients, {job['settings']['rounds']} rounds")
        summary = simulate(job, self.cfg.num_cpus, lambda m: self.log(f"  {name} fold {fold_s} {m}"), self.verbose)
        return self._federation_rows(info, name, job, summary, out_dir)

    def _federation_rows(self, info: dict[str, Any], name: str, job: dict[str, Any], summary: dict[str, Any],
                         out_dir: Path) -> list[dict[str, Any]]:
        from privemo.attacks.updates import gender_attack

        rounds = [json.loads(line) for line in (out_dir / "rounds.jsonl").read_text().splitlines() if line]
        final = rounds[-1]
        s = job["settings"]
        row = {**info, "kind": "federated", "variant": name, "strategy": s["strategy"]["type"],
               "rounds": s["rounds"], "fraction": s["fraction"], "local_epochs": s["local_epochs"],
               "dp": s.get("dp"), "uar": final["server_uar"], "confusion": final["server_confusion"],
               "client_uar": final.get("client_uar"), "client_confusion": final.get("client_confusion"),
               "curve_server_uar": [r["server_uar"] for r in rounds],
               "curve_client_uar": [r.get("client_uar") for r in rounds],
               "seconds_per_round": float(np.mean([r["seconds"] for r in rounds[1:]])) if len(rounds) > 1 else None,
               "federation_wall_s": summary.get("wall_s")}
        if summary.get("client_epsilons"):
            eps = list(summary["client_epsilons"].values())
            row["epsilon"], row["epsilon_min"] = float(max(eps)), float(min(eps))
            row["delta"] = s["dp"]["delta"]
        if self.cfg.attack is not None and (out_dir / "updates.npz").is_file():
            with np.load(out_dir / "updates.npz") as z:
                sketch, client = z["sketch"], z["client"]
            att = gender_attack(sketch, client, job["clients"], list(self.cfg.attack.classifiers),
                                self.cfg.attack.known_fraction, self.cfg.seed)
            row["attack"] = att
            if "update_uar" in att:
                self.log(f"  {name} fold {info['fold']}: gender attack on updates UAR {att['update_uar']:.3f} "
                         f"(per client {att['client_uar']:.3f})")
        self.log(f"  {name} fold {info['fold']}: held-out UAR {row['uar']:.3f}, clients' local test UAR "
                 f"{row['client_uar'] if row['client_uar'] is None else round(row['client_uar'], 3)}")
        return [row]
