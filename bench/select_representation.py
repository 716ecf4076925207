"""How the functional Gen and Priv rows of configs/ravdess_jaiswal_table.yaml were chosen: on the
validation speakers of each fold, never on its test speakers.

    python bench/select_representation.py [--root ../shared/data/ravdess] [--folds 5]

For each candidate setting and each of the table's speaker-independent folds (seed 0), the learner
trains on the fold's training speakers minus D2 (the attackers' held-out speakers), with early
stopping on the fold's validation speakers, exactly as ``privemo run`` does. It then measures, on
the validation speakers only:
  * emotion UAR of the learner;
  * the strongest of the table's four gender attackers (logreg, paper_mlp, wide_mlp, gbm), each
    trained on D2's representations;
  * closed-set speaker identification over the D2 and validation speakers (2-fold logreg).
The mean over folds goes to bench/results/select_representation.{json,md}. Needs RAVDESS.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import ROOT, machine, parser, write  # noqa: E402  (puts src/ on the path)
from sklearn.model_selection import StratifiedKFold

from privemo.corpora.splits import attacker_split, speaker_folds  # noqa: E402
from privemo.evaluators.base import fit_predict  # noqa: E402
from privemo.experiments.config import parse_config, read_yaml  # noqa: E402
from privemo.experiments.runner import Runner, Unit, _fit_learner, load_corpus  # noqa: E402
from privemo.metrics import uar  # noqa: E402

ENC = {"type": "functional", "layers": 2, "dropout": 0.5, "input_dropout": 0.2}
GEN = {"type": "standard", "epochs": 100, "patience": 10, "lr": 3e-4}
LEVERS = {"adversary_steps": 3, "reinit_every": 2, "erase": ["gender", "speaker"], "select": "probe",
          "probe": ["logreg", "mlp"], "probe_targets": ["gender", "speaker"]}
ADV = lambda lam, n: [{"target": "gender", "lambda": lam, "layers": 2, "ensemble": n},  # noqa: E731
                      {"target": "speaker", "lambda": lam, "layers": 2, "ensemble": n}]
CANDIDATES = {
    "Gen functional 2x256": {**GEN, "encoder": {**ENC, "width": 256}},
    "Gen functional 2x256 + post-hoc LEACE": {**GEN, "encoder": {**ENC, "width": 256},
                                              "erase": ["gender", "speaker"], "erase_during_training": False},
    "Gen functional 2x32": {**GEN, "encoder": {**ENC, "width": 32}},
    "Priv 2x256, paper levers (GRL 0.5/0.3, 3 steps)": {
        **GEN, "type": "grl", "encoder": {**ENC, "width": 256}, "adversary_steps": 3, "select": "probe",
        "adversaries": [{"target": "gender", "lambda": 0.5, "layers": 2}, {"target": "speaker", "lambda": 0.3, "layers": 2}]},
    "Priv 2x256, ensembles + reinit + LEACE + probes": {**GEN, "type": "grl", "encoder": {**ENC, "width": 256},
                                                       "adversaries": ADV(0.5, 4), **LEVERS},
    "Priv 2x32, ensembles + reinit + LEACE + probes": {**GEN, "type": "grl", "encoder": {**ENC, "width": 32},
                                                      "adversaries": ADV(0.5, 4), **LEVERS},
}
ATTACKERS = ["logreg", "paper_mlp", "wide_mlp", "gbm"]


def main() -> None:
    ap = parser()
    ap.add_argument("--folds", type=int, default=5, help="how many of the table's folds to use")
    args = ap.parse_args()
    if not Path(args.root).is_dir():
        sys.exit(f"RAVDESS not found at {args.root}: this selection needs it")
    cfg = parse_config(*read_yaml(ROOT / "configs" / "ravdess_jaiswal_table.yaml"))
    scratch = tempfile.TemporaryDirectory(prefix="privemo-select-")  # the candidates' checkpoints, thrown away
    runner = Runner(cfg, out=scratch.name, data=Path(args.root).parent)
    man = load_corpus(cfg, runner.data_root)
    folds = speaker_folds(man, cfg.folds, cfg.split_seed, cfg.balance_gender, cfg.valid_speakers)[: args.folds]
    variant = next(v for v in cfg.variants if v.name == "gen_functional")
    values = runner.features(man, variant.name)["values"]
    target = man.df[cfg.target].astype(str).to_numpy()
    gender, spk = man.df["gender"].astype(str).to_numpy(), man.df["speaker"].astype(str).to_numpy()
    lines = [f"# Choosing the functional Gen and Priv on validation speakers ({len(folds)} folds, seed 0, "
             f"{machine()})", "",
             "| setting | valid emotion UAR | strongest gender attacker | speaker ID (chance) | seconds |",
             "|---|---|---|---|---|"]
    report = {}
    for name, lcfg in CANDIDATES.items():
        t0, res = time.perf_counter(), []
        for k, fold in enumerate(folds):
            train, d2 = attacker_split(man, fold.train, cfg.heldout_fraction, cfg.split_seed + k)
            learner, labels, _, valid = _fit_learner(lcfg, Unit(name, k, 0), values, target, man, train, fold.valid,
                                                     runner.run_dir, None)
            pred = np.array(labels)[learner.predict([values[i] for i in valid])]
            h_d2, h_va = learner.encode([values[i] for i in d2]), learner.encode([values[i] for i in valid])
            g = max(uar(gender[valid], fit_predict(c, h_d2, gender[d2], h_va).astype(str)) for c in ATTACKERS)
            h, who = np.vstack([h_d2, h_va]), spk[np.concatenate([d2, valid])]
            acc = [np.mean(fit_predict("logreg", h[a], who[a], h[b]).astype(str) == who[b])
                   for a, b in StratifiedKFold(2, shuffle=True, random_state=0).split(h, who)]
            res.append((uar(target[valid], pred), g, float(np.mean(acc)), 1 / len(set(who))))
        u, g, s, chance = np.mean(res, 0)
        secs = time.perf_counter() - t0
        report[name] = {"config": lcfg, "valid_uar": u, "gender": g, "speaker_id": s, "chance": chance, "seconds": secs}
        lines.append(f"| {name} | {u:.3f} | {g:.3f} | {s:.3f} ({chance:.3f}) | {secs:.0f} |")
        print(lines[-1], flush=True)
    write(args.out, "select_representation", report, lines)
    scratch.cleanup()


if __name__ == "__main__":
    main()
