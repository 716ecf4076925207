"""Training time per epoch of privemo's learners against a plain torch loop of the same model.

    python bench/bench_learner.py [--root ../shared/data/ravdess] [--items 600] [--epochs 3]

On speaker-normalised 40-d MFB of RAVDESS (the synthetic demo corpus where RAVDESS is absent), with
the acoustic conv+GRU encoder of configs/ravdess_jaiswal_table.yaml, it times in the same run:
  * baseline: a plain torch loop (the same EmotionNet, the same padded batches and random crops,
    RMSprop, cross-entropy), nothing else;
  * Gen: StandardLearner.fit (adds class weights, validation, checkpoint bookkeeping);
  * Priv: AdversarialLearner.fit with gender + speaker adversaries (3 adversary steps per batch)
    and the fresh-probe checkpoint choice.
and, on speaker-normalised ComParE functionals with the functional MLP of the issue-21 rows:
  * baseline: a plain torch loop of the same 2 x 256 functional MLP (lr 3e-4);
  * gen_functional: StandardLearner.fit of that MLP;
  * gen_functional_leace: the same plus the post-hoc LEACE eraser of gender and speaker;
  * priv_functional: the 2 x 32 MLP with re-initialised ensembles of 4 gender and 4 speaker
    adversaries, LEACE re-fitted every epoch and the fresh-probe checkpoint choice (whole fit per
    epoch; its baseline is a plain loop of the same 2 x 32 MLP).
Seconds per epoch (median over epochs after the first) and the ratio to the baseline. Writes
bench/results/learner.json and bench/results/learner.md.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from _common import corpus as load_corpus  # noqa: E402
from _common import machine, parser, write  # noqa: E402  (puts src/ on the path)

from privemo.features import FeatureCache, extract, speaker_znorm  # noqa: E402
from privemo.learners import SeqData, StandardLearner  # noqa: E402
from privemo.learners.data import batches, pad_streams  # noqa: E402
from privemo.learners.standard import AdversarialLearner  # noqa: E402

ENCODER = {"type": "acoustic", "conv_layers": 3, "kernel": 3, "channels": 32, "gru_layers": 2, "gru_width": 32,
           "stride": 4}
COMMON = {"encoder": ENCODER, "max_frames": 250, "batch_size": 32, "patience": 1000}


FUNCTIONAL = {"type": "functional", "layers": 2, "width": 256, "dropout": 0.5, "input_dropout": 0.2}
FUNCTIONAL_COMMON = {"encoder": FUNCTIONAL, "batch_size": 32, "patience": 1000, "lr": 3e-4}
PRIV_FUNCTIONAL = {**FUNCTIONAL_COMMON, "encoder": {**FUNCTIONAL, "width": 32}}


def plain_loop(train: SeqData, n_classes: int, epochs: int, common: dict | None = None) -> list[float]:
    """The baseline: the same model trained by the shortest loop torch allows."""
    common = common or COMMON
    learner = StandardLearner(**common)
    torch.manual_seed(0)
    model = learner._build(int(train.x[0].shape[1]), n_classes)
    opt = torch.optim.RMSprop(model.parameters(), lr=common.get("lr", 1e-3))
    rng = np.random.default_rng(0)
    times = []
    for _ in range(epochs):
        t0 = time.perf_counter()
        model.train()
        for idx in batches(len(train), 32, rng):
            _, logits, _ = model(pad_streams([train.x[i] for i in idx], 250, rng))
            loss = torch.nn.functional.cross_entropy(logits, torch.as_tensor(train.y[idx], dtype=torch.long))
            opt.zero_grad()
            loss.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    ap = parser()
    ap.add_argument("--items", type=int, default=600, help="training items (the rest of 1440: validation)")
    ap.add_argument("--epochs", type=int, default=4)
    args = ap.parse_args()
    manifest, corpus = load_corpus(args.root)
    feats = extract(manifest, "mfb", FeatureCache())
    values = speaker_znorm(feats.values, manifest["speaker"].tolist())
    rng = np.random.default_rng(0)
    order = rng.permutation(len(values))
    tr, va = order[:args.items], order[args.items:args.items + 120]
    labels = sorted(set(manifest["emotion"]))
    y = np.array([labels.index(e) for e in manifest["emotion"]])
    g = np.array([{"m": 0, "f": 1}[x] for x in manifest["gender"]])
    spk = sorted(set(manifest["speaker"]))
    s = np.array([spk.index(x) for x in manifest["speaker"]])

    def data(ix):
        return SeqData([values[i] for i in ix], y[ix], {"gender": g[ix], "speaker": s[ix]})

    runs = {"plain_torch_loop": plain_loop(data(tr), len(labels), args.epochs)}
    gen = StandardLearner(**COMMON, epochs=args.epochs).fit(data(tr), data(va), n_classes=len(labels))
    runs["gen_standard_learner"] = [h["seconds"] for h in gen.history_]
    priv = AdversarialLearner(**COMMON, epochs=args.epochs, adversary_steps=3, select="probe",
                              adversaries=[{"target": "gender", "lambda": 0.5, "layers": 2},
                                           {"target": "speaker", "lambda": 0.3, "layers": 2}])
    t0 = time.perf_counter()
    priv.fit(data(tr), data(va), n_classes=len(labels))
    wall = time.perf_counter() - t0
    runs["priv_adversarial_learner"] = [h["seconds"] for h in priv.history_]
    # the probe and the validation pass run after the timed training pass of each epoch
    runs["priv_with_validation_and_probe"] = [wall / len(priv.history_)] * len(priv.history_)
    # the functional learners of issue 21 over speaker-normalised ComParE functionals
    cfe = extract(manifest, "compare", FeatureCache())
    cvalues = speaker_znorm(cfe.values, manifest["speaker"].tolist())

    def cdata(ix):
        return SeqData([np.asarray(cvalues[i], dtype=np.float32).reshape(1, -1) for i in ix], y[ix],
                       {"gender": g[ix], "speaker": s[ix]})

    f_epochs = max(args.epochs, 4)
    fruns = {"plain_torch_loop_2x256": plain_loop(cdata(tr), len(labels), f_epochs, FUNCTIONAL_COMMON)}
    fgen = StandardLearner(**FUNCTIONAL_COMMON, epochs=f_epochs).fit(cdata(tr), cdata(va), n_classes=len(labels))
    fruns["gen_functional"] = [h["seconds"] for h in fgen.history_]
    t0 = time.perf_counter()
    fleace = StandardLearner(**FUNCTIONAL_COMMON, epochs=f_epochs, erase=["gender", "speaker"],
                             erase_during_training=False)
    fleace.fit(cdata(tr), cdata(va), n_classes=len(labels))
    fruns["gen_functional_leace"] = [(time.perf_counter() - t0) / len(fleace.history_)] * len(fleace.history_)
    fruns["plain_torch_loop_2x32"] = plain_loop(cdata(tr), len(labels), f_epochs, PRIV_FUNCTIONAL)
    fpriv = AdversarialLearner(**PRIV_FUNCTIONAL, epochs=f_epochs, adversary_steps=3, select="probe",
                               reinit_every=2, erase=["gender", "speaker"], probe=["logreg", "mlp"],
                               probe_targets=["gender"],
                               adversaries=[{"target": "gender", "lambda": 0.5, "layers": 2, "ensemble": 4},
                                            {"target": "speaker", "lambda": 0.5, "layers": 2, "ensemble": 4}])
    t0 = time.perf_counter()
    fpriv.fit(cdata(tr), cdata(va), n_classes=len(labels))
    fruns["priv_functional"] = [(time.perf_counter() - t0) / len(fpriv.history_)] * len(fpriv.history_)
    runs.update(fruns)
    per_epoch = {k: float(np.median(v[1:] if len(v) > 1 else v)) for k, v in runs.items()}
    baseline_of = {k: "plain_torch_loop" for k in ("plain_torch_loop", "gen_standard_learner",
                                                   "priv_adversarial_learner", "priv_with_validation_and_probe")}
    baseline_of.update({"plain_torch_loop_2x256": "plain_torch_loop_2x256", "gen_functional": "plain_torch_loop_2x256",
                        "gen_functional_leace": "plain_torch_loop_2x256",
                        "plain_torch_loop_2x32": "plain_torch_loop_2x32", "priv_functional": "plain_torch_loop_2x32"})
    ratio = {k: v / per_epoch[baseline_of[k]] for k, v in per_epoch.items()}
    report = {"corpus": corpus, "train_items": len(tr), "epochs": args.epochs, "functional_epochs": f_epochs,
              "encoder": ENCODER, "functional_encoder": FUNCTIONAL, "machine": machine(),
              "torch_threads": torch.get_num_threads(), "seconds_per_epoch": per_epoch,
              "baseline_of": baseline_of, "ratio_to_plain_loop": ratio}
    lines = [f"# Learner time per epoch ({corpus}, {len(tr)} training items, {report['machine']})", "",
             "| loop | input | s / epoch | baseline | x baseline |", "|---|---|---|---|---|"]
    lines += [f"| {k} | {'ComParE functionals' if k in fruns else 'MFB frames'} | {v:.3f} | {baseline_of[k]} | "
              f"{ratio[k]:.2f} |" for k, v in per_epoch.items()]
    lines += ["", "Same model, batches and crops as its baseline in each; median over epochs after the first. "
              "`priv_with_validation_and_probe`, `gen_functional_leace` and `priv_functional` are the whole fit "
              "per epoch (validation pass, the fresh probes, the LEACE fits included); the functional "
              "learners' baselines are plain loops of the same MLP.", "Command: `python bench/bench_learner.py`"]
    write(args.out, "learner", report, lines)

if __name__ == "__main__":
    main()
