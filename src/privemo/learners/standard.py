"""The learners of jaiswal-2020: ``Gen`` (encoder + emotion head) and ``Priv`` (plus adversaries
behind gradient reversal), one training loop, optionally differentially private (DP-SGD).

RMSprop, class-weighted cross-entropy, at most ``epochs`` epochs, early stopping on the validation
emotion loss with ``patience``, and the weights of the best epoch restored at the end. Seeds make a
run repeatable on the CPU. Checkpoints are plain state dicts, loaded with ``weights_only=True``.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from torch import nn

from privemo._files import atomic_path
from privemo._schema import NonNegInt, PosFloat, PosInt, Seed, Unit, check_params, problems
from privemo.errors import ConfigError
from privemo.evaluators.base import Classifier
from privemo.learners.data import Inputs, SeqData, batches, class_weights, pad_streams
from privemo.learners.erasure import LeaceEraser
from privemo.metrics import uar
from privemo.models import (
    AcousticEncoder,
    FunctionalEncoder,
    LexicalEncoder,
    MLPHead,
    MultimodalEncoder,
    grad_reverse,
)
from privemo.registry import register

ENCODERS: dict[str, type[nn.Module]] = {"acoustic": AcousticEncoder, "lexical": LexicalEncoder,
                                        "functional": FunctionalEncoder}


class AdversaryEnsemble(nn.Module):
    """Several adversary heads for one attribute, trained side by side (each with its own loss
    through the gradient reversal layer, averaged) and re-initialised in turn by the learner, so the
    encoder must hide the attribute from fresh attackers too, not only from one it has learnt to
    fool. Its prediction is the members' mean logits."""

    def __init__(self, members: list[nn.Module]) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)

    def member_logits(self, h: torch.Tensor) -> list[torch.Tensor]:
        return [m(h) for m in self.members]

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return torch.stack(self.member_logits(h)).mean(0)

    def reset(self, j: int) -> list[nn.Parameter]:
        """Re-initialise member ``j``; its parameters (whose optimiser state must go too)."""
        for mod in self.members[j].modules():
            if isinstance(mod, nn.Linear):
                mod.reset_parameters()
        return list(self.members[j].parameters())


class EmotionNet(nn.Module):
    """Encoder + emotion head, and optional adversary heads that read the representation through a
    gradient reversal layer (they learn the attribute; the encoder learns to hide it). An adversary
    keyed ``"<target>:<stream>"`` reads one stream's pooled vector of a multimodal encoder (before
    fusion); one keyed ``"<target>"`` reads the fused representation."""

    def __init__(self, encoder: nn.Module, head: nn.Module, adversaries: dict[str, nn.Module] | None = None,
                 lambdas: dict[str, float] | None = None, erase: bool = False) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.adversaries = nn.ModuleDict(adversaries or {})
        self.lambdas = dict(lambdas or {})
        self.erase = erase
        if erase:  # the fitted LEACE eraser, r(h) = h @ A + b (identity until it is fitted)
            d = int(encoder.out_dim)  # type: ignore[arg-type]
            self.register_buffer("erase_A", torch.eye(d))
            self.register_buffer("erase_b", torch.zeros(d))

    def raw_encode(self, inputs: Inputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The encoder's output before erasure and, for a multimodal encoder, each stream's part."""
        if isinstance(self.encoder, MultimodalEncoder):
            parts = self.encoder.parts(inputs)
            return torch.cat(list(parts.values()), dim=1), parts
        return self.encoder(*inputs[0]), {}

    def encode(self, inputs: Inputs) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The representation (erased, where an eraser is fitted) and the streams' parts."""
        h, parts = self.raw_encode(inputs)
        if self.erase:
            h = h @ self.erase_A + self.erase_b
        return h, parts

    def set_eraser(self, eraser: LeaceEraser) -> None:
        A, b = eraser.as_torch()
        self.erase_A.copy_(A)
        self.erase_b.copy_(b)

    def adversary_member_logits(self, h: torch.Tensor, parts: dict[str, torch.Tensor] | None = None
                                ) -> dict[str, list[torch.Tensor]]:
        """Each adversary's members' logits through the gradient reversal layer (one for a plain head)."""
        out = {}
        for k, head in self.adversaries.items():
            x = grad_reverse(self.adversary_input(k, h, parts or {}), self.lambdas[k])
            out[k] = head.member_logits(x) if isinstance(head, AdversaryEnsemble) else [head(x)]
        return out

    def adversary_input(self, key: str, h: torch.Tensor, parts: dict[str, torch.Tensor]) -> torch.Tensor:
        return parts[key.split(":", 1)[1]] if ":" in key else h

    def adversary_logits(self, h: torch.Tensor, parts: dict[str, torch.Tensor] | None = None
                         ) -> dict[str, torch.Tensor]:
        """Each adversary's logits through the gradient reversal layer (an ensemble's mean)."""
        return {k: m[0] if len(m) == 1 else torch.stack(m).mean(0)
                for k, m in self.adversary_member_logits(h, parts).items()}

    def forward(self, inputs: Inputs) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        h, parts = self.encode(inputs)
        return h, self.head(h), parts


def _mean_loss(fn: nn.CrossEntropyLoss, members: list[torch.Tensor], y: torch.Tensor) -> torch.Tensor:
    """The mean of ``fn`` over an adversary ensemble's members (one member: plain ``fn``)."""
    if len(members) == 1:
        return fn(members[0], y)
    return torch.stack([fn(m, y) for m in members]).mean()


def _per_sample_mean(fn: nn.CrossEntropyLoss, logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``fn``'s class weights and ignored label, but averaged over the batch size (not the weights)."""
    return nn.functional.cross_entropy(logits, y, weight=fn.weight, ignore_index=fn.ignore_index,
                                       reduction="sum") / len(y)


class AdversarySpec(BaseModel):
    """One adversary head of ``adversaries`` (checked when a config is parsed)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, populate_by_name=True)
    target: Literal["gender", "speaker"]
    lambda_: Annotated[float, Field(ge=0, le=1000, alias="lambda")] = 1.0
    layers: Annotated[int, Field(ge=0, le=32)] = 1
    width: Annotated[int, Field(ge=1, le=65536)] = 64
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.2
    stream: str | None = None
    ensemble: Annotated[int, Field(ge=1, le=64)] = 1


@register("learner", "standard")
class StandardLearner:
    """Encoder (``encoder={"type": "acoustic" | "lexical" | "multimodal", ...}``) + MLP emotion
    head (``Gen``).

    Training crops each item to a random window of ``max_frames`` frames (3 s of MFB by default: an
    augmentation, and a faster epoch); inference encodes whole utterances. ``adversaries`` (a list
    of ``{"target": "gender" | "speaker", "lambda": 1.0, "layers": 1, "width": 64, "stream": ...}``)
    adds heads behind gradient reversal: that is the ``Priv`` learner of jaiswal-2020 (registered
    as ``grl``). ``adversary_steps`` k gives the adversaries k-1 extra updates per batch on the
    detached representation. ``select="adversary"`` prefers the best epoch whose gender adversary is
    within ``chance_tolerance`` of chance on the validation speakers; ``"probe"`` asks a fresh
    logistic regression instead (the adversary itself is easily fooled). ``dp`` trains with DP-SGD
    (Opacus) and records the (epsilon, delta) spent in ``epsilon_``.

    Against fresh attackers (issue 21): an adversary with ``ensemble: n`` trains n heads side by
    side, and ``reinit_every: k`` re-initialises one of them (in turn) every k epochs, so the
    encoder cannot settle on fooling one head. ``erase: [gender, speaker]`` fits a LEACE concept
    eraser (:mod:`privemo.learners.erasure`) on the training representations, so no linear attacker
    reads those attributes on the training data; with ``erase_during_training`` it is re-fitted
    every epoch and the head and adversaries read the erased representation (the adversaries
    then chase the non-linear remainder); without it the eraser is fitted once after training (a
    post-hoc eraser of a trained ``Gen``, which needs no retraining). ``probe`` names the fresh
    attackers of ``select: probe`` (worst case over them; logistic regression by default), and
    ``probe_targets: [gender, speaker]`` adds a speaker probe (closed set over the validation
    speakers, half of each one's items enrolled): the checkpoint is chosen on validation speakers
    only, never on test speakers.
    """

    def __init__(self, encoder: dict[str, Any] | None = None, head: dict[str, Any] | None = None,
                 epochs: PosInt = 50, patience: NonNegInt = 5, lr: PosFloat = 1e-3, batch_size: PosInt = 32,
                 max_frames: PosInt | None = 300, seed: Seed = 0, weighted: bool = True,
                 adversaries: list[dict[str, Any]] | None = None, chance_tolerance: Unit = 0.05,
                 adversary_steps: Annotated[int, Field(ge=1, le=100)] = 1, adversary_lr: PosFloat | None = None,
                 select: Literal["adversary", "probe"] = "adversary",
                 dp: dict[str, Any] | None = None,
                 reinit_every: Annotated[int, Field(ge=0, le=10000)] = 0,
                 erase: list[Literal["gender", "speaker"]] | None = None, erase_during_training: bool = True,
                 probe: list[Classifier] | None = None,
                 probe_targets: list[Literal["gender", "speaker"]] | None = None,
                 on_epoch: Callable[[int, dict[str, float]], None] | None = None) -> None:
        self.encoder = dict(encoder or {"type": "acoustic"})
        self.head = dict(head or {})
        self.epochs, self.patience, self.lr = epochs, patience, lr
        self.batch_size, self.max_frames, self.seed, self.weighted = batch_size, max_frames, seed, weighted
        self.adversaries = [dict(a) for a in (adversaries or [])]
        self.chance_tolerance = chance_tolerance
        self.adversary_steps, self.adversary_lr, self.select = int(adversary_steps), adversary_lr, select
        if self.adversary_steps < 1:
            raise ConfigError(f"learner.adversary_steps: must be >= 1, got {adversary_steps}")
        self.dp = dict(dp) if dp else None
        if self.dp is not None:
            unknown = set(self.dp) - {"noise_multiplier", "max_grad_norm", "delta"}
            if unknown:
                raise ConfigError(f"learner.dp: unknown keys {sorted(unknown)} (noise_multiplier, max_grad_norm, delta)")
            if float(self.dp.get("noise_multiplier", 1.0)) <= 0 or float(self.dp.get("max_grad_norm", 1.0)) <= 0:
                raise ConfigError("learner.dp: noise_multiplier and max_grad_norm must be > 0")
            if self.adversary_steps > 1:
                raise ConfigError("learner.dp: DP-SGD counts every gradient step; use adversary_steps: 1")
        if select not in ("adversary", "probe"):
            raise ConfigError(f"learner.select: must be 'adversary' or 'probe', got {select!r}")
        self.on_epoch = on_epoch
        self.reinit_every = int(reinit_every)
        self.erase = sorted(set(erase or []))
        self.erase_during_training = bool(erase_during_training)
        self.probe = list(probe or ["logreg"])
        self.probe_targets = list(probe_targets or ["gender"])
        if any(t not in ("gender", "speaker") for t in self.erase):
            raise ConfigError(f"learner.erase: the attributes to erase are 'gender' and/or 'speaker', got {erase!r}")
        if any(t not in ("gender", "speaker") for t in self.probe_targets):
            raise ConfigError(f"learner.probe_targets: 'gender' and/or 'speaker', got {probe_targets!r}")
        if self.dp is not None and (self.reinit_every or self.erase):
            raise ConfigError("learner.dp: DP-SGD's accounting covers plain training only; drop reinit_every and erase")
        for i, a in enumerate(self.adversaries):
            if a.get("target") not in ("gender", "speaker"):
                raise ConfigError(f"learner.adversaries.{i}.target: must be 'gender' or 'speaker', got {a.get('target')!r}")
            unknown = set(a) - {"target", "lambda", "layers", "width", "dropout", "stream", "ensemble"}
            if unknown:
                raise ConfigError(f"learner.adversaries.{i}: unknown keys {sorted(unknown)}")

    @classmethod
    def check_config(cls, params: dict[str, Any], where: str) -> None:
        """The encoder's and the head's parameters (validated at config time, like the learner's)."""
        enc = params.get("encoder") or {"type": "acoustic"}
        if not isinstance(enc, dict):
            raise ConfigError(f"{where}.encoder: a mapping with a 'type' key, got {enc!r:.60}")
        enc = dict(enc)
        kind = enc.pop("type", "acoustic")
        if not isinstance(kind, str):
            raise ConfigError(f"{where}.encoder.type: an encoder name, got {kind!r:.60}")
        streams = enc.pop("streams", None) if kind == "multimodal" else None
        if isinstance(streams, dict) and not all(isinstance(v, dict) for v in streams.values()):
            raise ConfigError(f"{where}.encoder.streams: each stream is a mapping with a 'type' key")
        specs = {f"encoder.streams.{k}": dict(v) for k, v in streams.items()} if isinstance(streams, dict) else \
            ({} if kind == "multimodal" else {"encoder": {"type": kind, **enc}})
        if kind == "multimodal" and (not isinstance(streams, dict) or enc):
            extra = f" (not {', '.join(map(str, enc))})" if enc else ""
            raise ConfigError(f"{where}.encoder: a multimodal encoder names one encoder per input stream under "
                              f"'streams', and nothing else{extra}")
        for key, spec in specs.items():
            sub = spec.pop("type", "acoustic") if isinstance(spec, dict) else None
            if not isinstance(sub, str) or sub not in ENCODERS:
                raise ConfigError(f"{where}.{key}.type: unknown encoder {sub!r} (known: "
                                  f"{', '.join(sorted(ENCODERS))}, multimodal)")
            check_params(ENCODERS[sub], spec, f"{where}.{key} ({sub})", skip=("n_in", "dp"))
        for i, a in enumerate(params.get("adversaries") or []):
            if not isinstance(a, dict):
                raise ConfigError(f"{where}.adversaries.{i}: a mapping (target, lambda, layers, ...), got {a!r:.60}")
            try:
                AdversarySpec.model_validate(a)
            except ValidationError as exc:
                raise ConfigError(f"{where}.adversaries.{i}: {problems(exc)}") from None
        head = params.get("head") or {}
        if not isinstance(head, dict):
            raise ConfigError(f"{where}.head: a mapping of MLP head parameters, got {head!r:.60}")
        check_params(MLPHead, head, f"{where}.head", skip=("n_in", "n_out"))

    def get_config(self) -> dict[str, Any]:
        return {"type": "standard", "encoder": self.encoder, "head": self.head, "epochs": self.epochs,
                "patience": self.patience, "lr": self.lr, "batch_size": self.batch_size,
                "max_frames": self.max_frames, "seed": self.seed, "weighted": self.weighted,
                "adversaries": self.adversaries, "chance_tolerance": self.chance_tolerance,
                "adversary_steps": self.adversary_steps, "adversary_lr": self.adversary_lr, "select": self.select,
                "dp": self.dp, "reinit_every": self.reinit_every, "erase": self.erase,
                "erase_during_training": self.erase_during_training, "probe": self.probe,
                "probe_targets": self.probe_targets}

    @property
    def targets(self) -> list[str]:
        """The attributes the adversaries and the eraser need labels for (``SeqData.aux`` keys; the
        probes read the gender labels there, and the speaker probe the runner's ``valid_speaker``)."""
        return sorted({a["target"] for a in self.adversaries} | set(self.erase))

    @staticmethod
    def adversary_key(a: dict[str, Any]) -> str:
        return f"{a['target']}:{a['stream']}" if a.get("stream") else str(a["target"])

    # -- building -------------------------------------------------------------------------------
    def _build(self, n_in: int | list[int], n_classes: int, n_aux: dict[str, int] | None = None) -> EmotionNet:
        cfg = dict(self.encoder)
        kind = cfg.pop("type", "acoustic")
        dims = n_in if isinstance(n_in, list) else [n_in]
        if kind == "multimodal":
            streams = cfg.pop("streams", None)
            if not isinstance(streams, dict) or len(streams) != len(dims) or cfg:
                raise ConfigError(f"learner.encoder: a multimodal encoder names one encoder per input stream "
                                  f"under 'streams' ({len(dims)} here), and nothing else")
            enc: nn.Module = MultimodalEncoder({name: self._stream_encoder(dict(sc), d, f"streams.{name}")
                                                for (name, sc), d in zip(streams.items(), dims, strict=True)})
        else:
            if len(dims) != 1:
                raise ConfigError(f"learner.encoder.type: {len(dims)} input streams need the 'multimodal' encoder")
            enc = self._stream_encoder({"type": kind, **cfg}, dims[0], "type")
        out_dim: int = enc.out_dim  # type: ignore[assignment]
        part_dims = ({k: int(m.out_dim) for k, m in enc.streams.items()}  # type: ignore[union-attr,arg-type]
                     if isinstance(enc, MultimodalEncoder) else {})
        heads: dict[str, nn.Module] = {}
        lambdas: dict[str, float] = {}
        for i, a in enumerate(self.adversaries):
            key = self.adversary_key(a)
            if a.get("stream") and a["stream"] not in part_dims:
                raise ConfigError(f"learner.adversaries.{i}.stream: {a['stream']!r} is not a stream of the "
                                  f"encoder (streams: {sorted(part_dims) or 'none, not multimodal'})")
            if key in heads:
                raise ConfigError(f"learner.adversaries.{i}: a second adversary for {key!r}")
            d_in = part_dims[a["stream"]] if a.get("stream") else out_dim
            def member(a: dict[str, Any] = a, d_in: int = d_in) -> nn.Module:
                return MLPHead(d_in, (n_aux or {})[a["target"]], layers=a.get("layers", 1),
                               width=a.get("width", 64), dropout=a.get("dropout", 0.2))

            n_members = int(a.get("ensemble", 1))
            heads[key] = AdversaryEnsemble([member() for _ in range(n_members)]) if n_members > 1 else member()
            lambdas[key] = float(a.get("lambda", 1.0))
        return EmotionNet(enc, MLPHead(out_dim, n_classes, **self.head), heads, lambdas, erase=bool(self.erase))

    def _stream_encoder(self, cfg: dict[str, Any], n_in: int, where: str) -> nn.Module:
        kind = cfg.pop("type", "acoustic")
        if self.dp is not None:
            cfg["dp"] = True
        if kind not in ENCODERS:
            raise ConfigError(f"learner.encoder.{where}: unknown encoder {kind!r} (known: "
                              f"{', '.join(sorted(ENCODERS))}, multimodal)")
        try:
            return ENCODERS[kind](n_in=n_in, **cfg)
        except TypeError as exc:
            raise ConfigError(f"learner.encoder.{where}: {exc}") from None

    # -- training -------------------------------------------------------------------------------
    def fit(self, train: SeqData, valid: SeqData | None = None, n_classes: int | None = None) -> StandardLearner:
        if train.y is None or len(train) == 0:
            raise ConfigError("learner.fit needs labelled training data")
        missing = [t for t in self.targets if t not in train.aux]
        if missing:
            raise ConfigError(f"learner.fit: the adversaries need {missing} labels in the training data")
        torch.manual_seed(self.seed)
        rng = np.random.default_rng(self.seed)
        self.n_classes_ = int(n_classes or int(max(train.y.max(), valid.y.max() if valid and valid.y is not None
                                                    and len(valid) else 0)) + 1)
        self.n_aux_ = {t: int(train.aux[t].max()) + 1 for t in self.targets}
        first = train.x[0]
        self.n_in_ = ([int(np.asarray(v).shape[-1]) for v in first] if isinstance(first, tuple)
                      else int(np.asarray(first).shape[-1]))
        self.model_ = self._build(self.n_in_, self.n_classes_, self.n_aux_)
        loss_fn = nn.CrossEntropyLoss(weight=class_weights(train.y, self.n_classes_) if self.weighted else None)
        aux_fns = {t: nn.CrossEntropyLoss(weight=class_weights(train.aux[t][train.aux[t] >= 0], self.n_aux_[t])
                                          if self.weighted else None, ignore_index=-1) for t in self.targets}
        target_of = {self.adversary_key(a): a["target"] for a in self.adversaries}
        opt: torch.optim.Optimizer = torch.optim.RMSprop(self.model_.parameters(), lr=self.lr)
        net: nn.Module = self.model_
        accountant = None
        if self.dp is not None:  # DP-SGD: per-sample clipping + Gaussian noise, Poisson-sampled batches
            net, opt, accountant = self._make_private(opt, len(train))
        adv_opt = (torch.optim.RMSprop(self.model_.adversaries.parameters(), lr=self.adversary_lr or self.lr)
                   if self.adversaries and self.adversary_steps > 1 else None)
        best, best_state, bad, self.history_ = np.inf, None, 0, []
        best_private: tuple[float, Any, int] | None = None
        for epoch in range(self.epochs):
            t0 = time.perf_counter()
            if epoch and self.reinit_every and epoch % self.reinit_every == 0:
                self._reinit_one(epoch // self.reinit_every - 1, [opt, adv_opt])
            if self.erase and self.erase_during_training and epoch:
                self._fit_eraser(train, rng)
            self.model_.train()
            total, seen = 0.0, 0
            for idx in (self._poisson_batches(len(train), rng) if accountant is not None
                        else batches(len(train), self.batch_size, rng)):
                inputs = pad_streams([train.x[i] for i in idx], self.max_frames, rng)
                h, logits, parts = net(inputs)
                aux_y = {t: torch.as_tensor(train.aux[t][idx], dtype=torch.long) for t in self.targets}
                if adv_opt is not None:  # the adversaries catch up on the current representation first
                    hd, pd = h.detach(), {k: v.detach() for k, v in parts.items()}
                    for _ in range(self.adversary_steps - 1):
                        adv_loss = sum(_mean_loss(aux_fns[target_of[k]], members, aux_y[target_of[k]])
                                       for k, members in self.model_.adversary_member_logits(hd, pd).items())
                        adv_opt.zero_grad()
                        adv_loss.backward()  # type: ignore[union-attr]
                        adv_opt.step()
                y_b = torch.as_tensor(train.y[idx], dtype=torch.long)
                # with DP each sample's loss must not depend on the others: weighted sum / batch size
                loss = _per_sample_mean(loss_fn, logits, y_b) if accountant is not None else loss_fn(logits, y_b)
                for k, members in self.model_.adversary_member_logits(h, parts).items():
                    fn, y_a = aux_fns[target_of[k]], aux_y[target_of[k]]
                    loss = loss + (_per_sample_mean(fn, members[0], y_a) if accountant is not None
                                   else _mean_loss(fn, members, y_a))
                opt.zero_grad()
                loss.backward()
                opt.step()
                total, seen = total + loss.item() * len(idx), seen + len(idx)
            record: dict[str, float] = {"epoch": epoch, "train_loss": total / max(seen, 1),
                                        "seconds": time.perf_counter() - t0}
            if accountant is not None:
                record["epsilon"] = self._epsilon(accountant)
            if valid is not None and len(valid):
                record.update(self._validate(valid, loss_fn))
                if self.adversaries and self.select == "probe" and "gender" in valid.aux:
                    record.update(self._probe(train, valid, rng))
            self.history_.append(record)
            if self.on_epoch:
                self.on_epoch(epoch, record)
            monitor = record.get("valid_loss", record["train_loss"])
            private = (record.get("valid_gender_uar", 0.5) <= 0.5 + self.chance_tolerance
                       and record.get("valid_speaker_acc", 0.0) <= 2 * record.get("valid_speaker_chance", 1.0))
            improved = False
            if self.adversaries and private and (best_private is None or monitor < best_private[0] - 1e-6):
                best_private, improved = (monitor, copy.deepcopy(self.model_.state_dict()), epoch), True
            if monitor < best - 1e-6:
                best, best_state, self.best_epoch_ = monitor, copy.deepcopy(self.model_.state_dict()), epoch
                improved = True
            bad = 0 if improved else bad + 1
            if bad >= self.patience:  # no better epoch (nor, for Priv, better private epoch) for a while
                break
        if best_private is not None:  # Priv: prefer the best epoch whose adversary is at chance
            _, best_state, self.best_epoch_ = best_private
        self.private_checkpoint_ = best_private is not None
        # every epoch trained counts (the best-epoch choice looked at all of them)
        self.epsilon_ = self._epsilon(accountant) if accountant is not None else None
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        if self.erase:  # the released eraser: fitted on every training item with the final weights
            self._fit_eraser(train, None)
        self.model_.eval()
        return self

    def _reinit_one(self, turn: int, optimizers: list[torch.optim.Optimizer | None]) -> None:
        """Re-initialise member ``turn mod n`` of every adversary ensemble (and forget its optimiser state)."""
        for head in self.model_.adversaries.values():
            if isinstance(head, AdversaryEnsemble):
                for p in head.reset(turn % len(head.members)):
                    for o in optimizers:
                        if o is not None:
                            o.state.pop(p, None)

    @torch.no_grad()
    def _fit_eraser(self, data: SeqData, rng: np.random.Generator | None, n: int = 4000) -> None:
        """Fit the LEACE eraser on (at most ``n``, drawn by ``rng``; all without it) training
        representations before erasure, and install it."""
        pick = np.arange(len(data)) if rng is None or len(data) <= n else np.sort(rng.choice(len(data), n, replace=False))
        was_training = self.model_.training
        self.model_.eval()
        hs = []
        for i in range(0, len(pick), 128):
            hs.append(self.model_.raw_encode(pad_streams([data.x[int(j)] for j in pick[i:i + 128]]))[0])
        H = torch.cat(hs).numpy()
        self.eraser_ = LeaceEraser().fit(H, {t: data.aux[t][pick] for t in self.erase})
        self.model_.set_eraser(self.eraser_)
        self.model_.train(was_training)
    def _make_private(self, opt: torch.optim.Optimizer, n: int) -> tuple[nn.Module, torch.optim.Optimizer, Any]:
        from privemo.models.training import accountant_for, make_private

        assert self.dp is not None
        net, dp_opt = make_private(self.model_, opt, self.dp, self.batch_size, "learner.dp")
        return net, dp_opt, accountant_for(dp_opt, self.batch_size / n)

    def _poisson_batches(self, n: int, rng: np.random.Generator) -> Any:
        from privemo.models.training import poisson_batches

        return poisson_batches(n, self.batch_size, rng)

    def _epsilon(self, accountant: Any) -> float:
        assert self.dp is not None
        return float(accountant.get_epsilon(delta=float(self.dp.get("delta", 1e-5))))

    @torch.no_grad()
    def _validate(self, data: SeqData, loss_fn: nn.Module) -> dict[str, float]:
        h, logits, parts = self._forward(data.x)
        out = {"valid_loss": float(loss_fn(logits, torch.as_tensor(data.y, dtype=torch.long)))}
        if "gender" in data.aux:  # the worst case over the gender adversaries (fused and per stream)
            y = data.aux["gender"]
            known = y >= 0
            uars = [uar(y[known], head(self.model_.adversary_input(k, h, parts)).argmax(1).numpy()[known])
                    for k, head in self.model_.adversaries.items() if k.split(":")[0] == "gender"]
            if known.any() and uars:
                out["valid_gender_uar"] = max(uars)
        return out

    def _probe(self, train: SeqData, valid: SeqData, rng: np.random.Generator, n: int = 400) -> dict[str, float]:
        """Fresh attackers on the validation speakers, which the encoder was never trained to fool
        (unlike its adversary heads): gender UAR of each ``probe`` classifier trained on at most
        ``n`` training representations (the worst case is kept); with ``"speaker"`` in
        ``probe_targets``, closed-set identification among the validation speakers, enrolling half
        of each one's items and tested on the other half. Only ``train`` and ``valid`` are read."""
        from privemo.evaluators.base import fit_predict

        out: dict[str, float] = {}
        g_tr = train.aux["gender"]
        pick = np.flatnonzero(g_tr >= 0)
        pick = rng.choice(pick, size=min(n, len(pick)), replace=False)
        g_va = valid.aux["gender"]
        known = np.flatnonzero(g_va >= 0)
        if len(known) and len(np.unique(g_tr[pick])) >= 2:
            h_tr = self.encode([train.x[int(i)] for i in pick])
            h_va = self.encode([valid.x[int(i)] for i in known])
            out["valid_gender_uar"] = max(uar(g_va[known], fit_predict(c, h_tr, g_tr[pick], h_va, seed=0).astype(int))
                                          for c in self.probe)
        else:
            out["valid_gender_uar"] = 0.5
        if "speaker" in self.probe_targets and "valid_speaker" in valid.aux:
            spk = valid.aux["valid_speaker"]
            enrol = np.zeros(len(spk), dtype=bool)
            for s_ in np.unique(spk[spk >= 0]):
                idx = np.flatnonzero(spk == s_)
                enrol[rng.permutation(idx)[: len(idx) // 2]] = True
            probe_set = (spk >= 0) & ~enrol
            if enrol.any() and probe_set.any() and len(np.unique(spk[enrol])) >= 2:
                h = self.encode(list(valid.x))
                pred = fit_predict("logreg", h[enrol], spk[enrol], h[probe_set], seed=0).astype(int)
                out["valid_speaker_acc"] = float(np.mean(pred == spk[probe_set]))
                out["valid_speaker_chance"] = 1.0 / len(np.unique(spk[enrol]))
        return out

    @torch.no_grad()
    def _forward(self, xs: Any, batch_size: int = 128) -> tuple[torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        self.model_.eval()
        hs, ls, ps = [], [], []
        for i in range(0, len(xs), batch_size):
            h, logits, parts = self.model_(pad_streams(list(xs[i:i + batch_size])))  # whole utterances
            hs.append(h)
            ls.append(logits)
            ps.append(parts)
        parts_all = {k: torch.cat([p[k] for p in ps]) for k in (ps[0] if ps else {})}
        return torch.cat(hs), torch.cat(ls), parts_all

    # -- using ------------------------------------------------------------------------------------
    def encode(self, xs: Any) -> np.ndarray:
        """The representation that leaves the device: (N, D) pooled encoder outputs (for a
        multimodal encoder, the streams' pooled vectors concatenated)."""
        return self._forward(xs)[0].numpy()

    def predict_proba(self, xs: Any) -> np.ndarray:
        return torch.softmax(self._forward(xs)[1], dim=1).numpy()

    @torch.no_grad()
    def outputs(self, xs: Any) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
        """One pass: the representation, the emotion probabilities and each adversary head's
        predictions (as :meth:`encode`, :meth:`predict_proba` and :meth:`adversary_predict`)."""
        h, logits, parts = self._forward(xs)
        adv = {k: head(self.model_.adversary_input(k, h, parts)).argmax(1).numpy()
               for k, head in self.model_.adversaries.items()}
        return h.numpy(), torch.softmax(logits, dim=1).numpy(), adv

    def predict(self, xs: Any) -> np.ndarray:
        return self.predict_proba(xs).argmax(1)

    def adversary_predict(self, xs: Any) -> dict[str, np.ndarray]:
        """Each adversary head's class predictions (codes of ``SeqData.aux``), keyed like the heads."""
        return self.outputs(xs)[2] if len(self.model_.adversaries) else {}

    # -- checkpoints ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        with atomic_path(path) as tmp:
            torch.save({"state": self.model_.state_dict(), "n_in": self.n_in_, "n_classes": self.n_classes_,
                        "n_aux": self.n_aux_}, tmp)

    def load(self, path: str | Path) -> StandardLearner:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
        n_in = ckpt["n_in"]
        self.n_in_ = [int(v) for v in n_in] if isinstance(n_in, list) else int(n_in)
        self.n_classes_ = int(ckpt["n_classes"])
        self.n_aux_ = {k: int(v) for k, v in ckpt.get("n_aux", {}).items()}
        self.model_ = self._build(self.n_in_, self.n_classes_, self.n_aux_)
        self.model_.load_state_dict(ckpt["state"])
        self.model_.eval()
        return self


@register("learner", "grl")
class AdversarialLearner(StandardLearner):
    __params__ = StandardLearner  # its parameters are the standard learner's

    """``Priv`` (jaiswal-2020): the standard learner plus adversary heads behind gradient reversal.

    Default: one gender adversary with lambda 1. ``adversaries=[{"target": "gender", "lambda": 0.5},
    {"target": "speaker", "lambda": 0.3}]`` unlearns both, each with its own lambda.
    """

    __params__ = StandardLearner  # its parameters are the standard learner's (privemo._schema)

    def __init__(self, adversaries: list[dict[str, Any]] | None = None, **kw: Any) -> None:
        super().__init__(adversaries=adversaries or [{"target": "gender", "lambda": 1.0}], **kw)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "type": "grl"}
