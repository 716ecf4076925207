"""A speaker attacker that learns from anonymized speech (VoicePrivacy 2024's semi-informed attacker).

For each speaker-independent fold, resemblyzer's GE2E speaker encoder starts from its packaged
weights (similarity scale and bias included) and is fine-tuned with the GE2E softmax loss on the
ANONYMIZED clips of the other folds' speakers only; it then embeds the anonymized clips and scores
the fold's speakers, whom it has never heard:

- *verification*: enrolment and trials both anonymized (each speaker's clips split in halves), EER
  with centroid enrolment and with utterance pairs, per fold, averaged over folds;
- *closed-set identification*: logistic regression on the fine-tuned embeddings of the anonymized
  enrolment halves of every speaker, tested on the trial halves of the fold's speakers (chance =
  1 / speakers), pooled over folds.

Inputs are resemblyzer's mel frames (the ``resemblyzer_mel`` feature); training crops 1.6 s partials
at random, embedding averages partials 1.6 s long every ~0.77 s, as resemblyzer does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Annotated, Any

import numpy as np
from pydantic import Field

from privemo.attacks.verification import VERIFY_CHECK, verification_eers
from privemo.attacks.voice import ID_CHECK
from privemo.evaluators.base import fit_predict
from privemo.evaluators.judge import Column, Judge, JudgeInput
from privemo.evaluators.threat import ThreatModel, declare
from privemo.evaluators.voice import Items
from privemo.metrics import accuracy
from privemo.registry import register

FINETUNED = declare("voice.finetuned", ThreatModel(
    "fine-tuned encoder (semi-informed)", "attack",
    "resemblyzer's GE2E speaker encoder fine-tuned from its packaged weights on ANONYMIZED speech",
    "anonymized trial clips of the fold's speakers",
    "fine-tuning: anonymized clips of the other folds' speakers only (never a test speaker); enrolment: "
    "anonymized clips; identification: a classifier on the anonymized enrolment halves of every speaker",
    "its verification EER (per fold, averaged) and closed-set identification accuracy (chance = 1 / speakers)"))

PARTIAL = 160  # frames of a partial utterance (1.6 s at 10 ms), resemblyzer's
STEP = 77  # frames between partials when embedding (resemblyzer's rate 1.3 per second)


@dataclass(frozen=True)
class FineTune:
    """How the attacker fine-tunes: ``steps`` GE2E updates of ``speakers`` x ``clips`` random partials."""

    steps: int = 100
    speakers: int = 8
    clips: int = 4
    lr: float = 1e-4

    def __post_init__(self) -> None:
        if not (isinstance(self.steps, int) and 0 <= self.steps <= 100_000):
            raise ValueError(f"finetune steps must be a whole number from 0 to 100000, got {self.steps!r}")
        if not (isinstance(self.speakers, int) and 2 <= self.speakers <= 1000):
            raise ValueError(f"finetune speakers (per batch) must be 2 to 1000, got {self.speakers!r}")
        if not (isinstance(self.clips, int) and 2 <= self.clips <= 100):
            raise ValueError(f"finetune clips (per speaker and batch) must be 2 to 100, got {self.clips!r}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr <= 0.1):
            raise ValueError(f"finetune lr must be in (0, 0.1], got {self.lr!r}")


def _encoder() -> Any:
    """A fresh copy of resemblyzer's packaged encoder, with the GE2E similarity scale and bias it was
    trained with (its checkpoint holds them; ``VoiceEncoder`` leaves them out)."""
    from pathlib import Path

    import resemblyzer
    import torch
    from resemblyzer import VoiceEncoder

    model = VoiceEncoder("cpu", verbose=False)
    state = torch.load(Path(resemblyzer.__file__).parent / "pretrained.pt", map_location="cpu")["model_state"]
    model.similarity_weight = torch.nn.Parameter(state["similarity_weight"].clone().reshape(()))
    model.similarity_bias = torch.nn.Parameter(state["similarity_bias"].clone().reshape(()))
    return model


def _crop(mel: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if len(mel) <= PARTIAL:
        return np.pad(mel, ((0, PARTIAL - len(mel)), (0, 0)))
    start = int(rng.integers(0, len(mel) - PARTIAL + 1))
    return mel[start:start + PARTIAL]


def ge2e_loss(embeds: Any, w: Any, b: Any) -> Any:
    """GE2E softmax loss of (N speakers, M clips, D) unit embeddings (Wan et al. 2018): each clip's
    similarity to every speaker's centroid, its own centroid computed without it."""
    import torch

    n, m, _ = embeds.shape
    incl = embeds.mean(dim=1)
    excl = (embeds.sum(dim=1, keepdim=True) - embeds) / (m - 1)
    incl = incl / incl.norm(dim=1, keepdim=True).clamp_min(1e-8)
    excl = excl / excl.norm(dim=2, keepdim=True).clamp_min(1e-8)
    sim = torch.einsum("nmd,kd->nmk", embeds, incl)
    own = (embeds * excl).sum(dim=2)
    eye = torch.eye(n, dtype=torch.bool).unsqueeze(1).expand(n, m, n)
    sim = torch.where(eye, own.unsqueeze(2).expand(n, m, n), sim)
    sim = w.clamp_min(1e-6) * sim + b
    target = torch.arange(n).repeat_interleave(m)
    return torch.nn.functional.cross_entropy(sim.reshape(n * m, n), target)


def fine_tune(mels: Sequence[np.ndarray], speakers: np.ndarray, cfg: FineTune, seed: int,
              progress: Callable[[int, int], None] | None = None) -> tuple[Any, list[float]]:
    """The packaged encoder fine-tuned on these clips (and the loss of every step)."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _encoder()
    by_spk = {s: np.flatnonzero(speakers == s) for s in sorted(set(speakers.tolist()))}
    names = [s for s, idx in by_spk.items() if len(idx) > 0]
    losses: list[float] = []
    if cfg.steps == 0 or len(names) < 2:
        return model, losses
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    n = min(cfg.speakers, len(names))
    model.train()
    for step in range(cfg.steps):
        chosen = rng.choice(len(names), n, replace=False)
        batch = []
        for k in chosen:
            idx = by_spk[names[k]]
            picks = rng.choice(idx, cfg.clips, replace=len(idx) < cfg.clips)
            batch.extend(_crop(mels[i], rng) for i in picks)
        x = torch.from_numpy(np.stack(batch))
        emb = model(x).reshape(n, cfg.clips, -1)
        loss = ge2e_loss(emb, model.similarity_weight, model.similarity_bias)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 3.0)
        opt.step()
        losses.append(float(loss.detach()))
        if progress:
            progress(step + 1, cfg.steps)
    model.eval()
    return model, losses


def embed_mels(model: Any, mels: Sequence[np.ndarray], batch: int = 256) -> np.ndarray:
    """One unit embedding per clip: the normalised mean of its partials' embeddings."""
    import torch

    parts, owner = [], []
    for i, mel in enumerate(mels):
        starts = list(range(0, max(1, len(mel) - PARTIAL + STEP), STEP)) or [0]
        for s in starts:
            seg = mel[s:s + PARTIAL]
            if len(seg) < PARTIAL // 2 and len(starts) > 1:
                continue
            parts.append(np.pad(seg, ((0, PARTIAL - len(seg)), (0, 0))))
            owner.append(i)
    out = np.zeros((len(mels), 256), dtype=np.float64)
    owner_a = np.asarray(owner)
    with torch.no_grad():
        for j in range(0, len(parts), batch):
            e = model(torch.from_numpy(np.stack(parts[j:j + batch]))).numpy()
            np.add.at(out, owner_a[j:j + batch], e)
    out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
    return out.astype(np.float32)


def finetuned_attack(mels: Sequence[np.ndarray], items: Items, cfg: FineTune, seed: int,
                     progress: Callable[[str, int, int], None] | None = None) -> dict[str, Any]:
    """Every figure of the fine-tuned attacker on one method's anonymized clips (see the module)."""
    spk = items.speaker.astype(str)
    folds = sorted(set(items.fold.tolist()))
    per_fold: list[dict[str, Any]] = []
    correct = total = 0
    for f in folds:
        test, train = items.fold == f, items.fold != f
        train_idx = np.flatnonzero(train)
        model, losses = fine_tune([mels[i] for i in train_idx], spk[train], cfg, seed + 1000 * int(f),
                                  (lambda i, n, f=f: progress(f"fold {f} fine-tuning", i, n)) if progress else None)
        E = embed_mels(model, mels)
        enrol, trial = items.enrol & test, ~items.enrol & test
        row: dict[str, Any] = {"fold": int(f), "train_speakers": sorted(set(spk[train].tolist())),
                               "loss_first": losses[0] if losses else None,
                               "loss_last": float(np.mean(losses[-10:])) if losses else None}
        if len(set(spk[enrol].tolist())) >= 2 and trial.any():
            row.update(verification_eers(E[enrol], spk[enrol], E[trial], spk[trial]))
        pred = fit_predict("logreg", E[items.enrol], spk[items.enrol], E[trial], seed=seed).astype(str)
        row["id_accuracy"] = accuracy(spk[trial], pred)
        correct += int(np.sum(pred == spk[trial]))
        total += int(trial.sum())
        per_fold.append(row)
    eers = [r for r in per_fold if "eer_centroid" in r]
    return {
        "eer_centroid": float(np.mean([r["eer_centroid"] for r in eers])) if eers else float("nan"),
        "eer_pairs": float(np.mean([r["eer_pairs"] for r in eers])) if eers else float("nan"),
        "id_accuracy": correct / total if total else float("nan"),
        "chance": 1.0 / len(set(spk.tolist())),
        "per_fold": per_fold, "finetune": asdict(cfg),
    }


@register("judge", "finetuned")
@dataclass
class FineTuned(Judge):
    """resemblyzer's encoder fine-tuned on the other folds' anonymized speech (see the module)."""

    steps: Annotated[int, Field(ge=1, le=100_000)] = 100
    speakers: Annotated[int, Field(ge=2, le=1000)] = 8
    clips: Annotated[int, Field(ge=2, le=100)] = 4
    lr: Annotated[float, Field(gt=0, le=0.1)] = 1e-4

    medium = "voice"
    key = "finetuned"
    threats = ("voice.finetuned",)
    columns = (
        Column("semi-informed EER (centroid, fine-tuned encoder)", "eer_centroid", "pct", "voice verification",
               "semi-informed, fine-tuned encoder", 0.5, 0.40, lower_is_private=False, strongest=True,
               check=VERIFY_CHECK),
        Column("speaker ID informed (fine-tuned encoder)", "id_accuracy", "pct", "voice identification",
               "informed, fine-tuned encoder", "speakers", 0.25, strongest=True, check=ID_CHECK),
    )

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        cfg = FineTune(self.steps, self.speakers, self.clips, self.lr)
        return finetuned_attack(j.extra("mels"), j.items, cfg, j.seed, j.progress)
