"""Training time per epoch of privemo's learners against a plain torch loop of the same model.

    python bench/bench_learner.py [--root ../shared/data/ravdess] [--items 600] [--epochs 3]

On speaker-normalised 40-d MFB of RAVDESS (the synthetic demo corpus where RAVDESS is absent), with
the acoustic conv+GRU encoder of configs/ravdess_jaiswal_table.yaml, it times in the same run:
  * baseline: a plain torch loop (the same EmotionNet, the same padded batches and random crops,
    RMSprop, cross-entropy), nothing else;
  * Gen: StandardLearner.fit (adds class weights, validation, checkpoint bookkeeping);
  * Priv: AdversarialLearner.fit with gender + speaker adversaries (3 adversary steps per batch)
    and the fresh-probe checkpoint choice.
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


def plain_loop(train: SeqData, n_classes: int, epochs: int) -> list[float]:
    """The baseline: the same model trained by the shortest loop torch allows."""
    learner = StandardLearner(**COMMON)
    torch.manual_seed(0)
    model = learner._build(int(train.x[0].shape[1]), n_classes)
    opt = torch.optim.RMSprop(model.parameters(), lr=1e-3)
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
    per_epoch = {k: float(np.median(v[1:] if len(v) > 1 else v)) for k, v in runs.items()}
    base = per_epoch["plain_torch_loop"]
    report = {"corpus": corpus, "train_items": len(tr), "epochs": args.epochs, "encoder": ENCODER,
              "machine": machine(), "torch_threads": torch.get_num_threads(),
              "seconds_per_epoch": per_epoch, "ratio_to_plain_loop": {k: v / base for k, v in per_epoch.items()}}
    lines = [f"# Learner time per epoch ({corpus}, {len(tr)} training items, {report['machine']})", "",
             "| loop | s / epoch | x plain loop |", "|---|---|---|"]
    lines += [f"| {k} | {v:.2f} | {v / base:.2f} |" for k, v in per_epoch.items()]
    lines += ["", "Same model, batches and crops in each; median over epochs after the first. "
              "`priv_with_validation_and_probe` is the whole fit per epoch (validation pass and the fresh "
              "gender probe included).", "Command: `python bench/bench_learner.py`"]
    write(args.out, "learner", report, lines)

if __name__ == "__main__":
    main()
