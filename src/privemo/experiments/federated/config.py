"""Configuration of a federated experiment (nunez): validated YAML, like the runner's configs.

A federated experiment names a corpus, the features (openSMILE ComParE_2016 functionals by
default), the model, the federation's settings (strategy, rounds, fraction of clients per round,
local epochs) and a list of ``variants`` that override any of those settings (FedAvg, FedProx,
FedAdam or any other of Flower's strategies, client-side DP at several noise levels, ...). Each variant runs on the same
speaker-independent folds: a fold's test speakers never join the federation (the server evaluates
on them), every other speaker is one client.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from privemo.errors import ConfigError
from privemo.experiments.config import CorpusConfig, Name, _Strict, read_yaml, validate_mapping


class ModelConfig(_Strict):
    """``mlp``: dense layers of ``hidden`` widths with ReLU and dropout; ``logreg``: one linear layer."""

    type: Literal["mlp", "logreg"] = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [256])
    dropout: float = Field(0.3, ge=0.0, lt=1.0)


# an older privemo wrote these keys for every strategy; each meant something only to these strategies
_LEGACY = {"fedprox": {"mu"}, "fedadam": {"eta", "beta_1", "beta_2", "tau"}}
_LEGACY_KEYS = set().union(*_LEGACY.values())


def resolve_strategy(spec: Any) -> dict[str, Any]:
    """A federation's server strategy, any of Flower's registered under the ``strategy`` kind
    (:mod:`privemo.learners.federated.strategies`): ``{type: NAME, param: value, ...}`` checked
    against the strategy's own parameters, returned with every default filled in (what a unit
    records). ``fedprox``'s older ``mu`` is Flower's ``proximal_mu``."""
    from privemo.learners.federated.strategies import ALIASES
    from privemo.registry import check

    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, dict):
        raise ValueError(f"a strategy is a mapping with a 'type' key, got {spec!r:.80}")
    spec = dict(spec)
    spec.setdefault("type", "fedavg")
    if _LEGACY_KEYS <= set(spec):  # an older run folder's config.yaml held every strategy's keys
        spec = {k: v for k, v in spec.items() if k not in _LEGACY_KEYS or k in _LEGACY.get(spec["type"], set())}
    for old, new in ALIASES.get(spec["type"], {}).items():
        if old in spec and new not in spec:
            spec[new] = spec.pop(old)
    try:
        factory = check("strategy", spec, "strategy")
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return {"type": spec["type"], **factory.defaults(), **{k: v for k, v in spec.items() if k != "type"}}


class DPConfig(_Strict):
    """Client-side DP-SGD (Opacus): per-sample gradient clipping to ``max_grad_norm`` and Gaussian
    noise of std ``noise_multiplier x max_grad_norm`` in every local step, Poisson-sampled batches;
    each client's (epsilon, delta) over all its local steps from the RDP accountant."""

    noise_multiplier: float = Field(gt=0.0)
    max_grad_norm: float = Field(1.0, gt=0.0)
    delta: float = Field(1e-5, gt=0.0, lt=1.0)


class AttackConfig(_Strict):
    """The honest-but-curious server's gender inference from client updates: it knows the gender of
    ``known_fraction`` of the clients (gender-balanced), trains ``classifiers`` on their updates
    (a count sketch of ``sketch_dim`` of the flattened update, every round) and predicts the other
    clients' gender; the roles are swapped so that every client is a target once."""

    known_fraction: float = Field(0.5, gt=0.0, lt=1.0)
    classifiers: list[str] = Field(default_factory=lambda: ["logreg", "wide_mlp"])
    sketch_dim: int = Field(2048, ge=16)


class Settings(_Strict):
    """What a variant may override."""

    model: ModelConfig = Field(default_factory=lambda: ModelConfig.model_validate({}))
    # Flower's server strategy and its parameters (see resolve_strategy)
    strategy: dict[str, Any] = Field(default_factory=lambda: {"type": "fedavg"})
    rounds: int = Field(50, ge=1)
    fraction: float = Field(1.0, gt=0.0, le=1.0)  # fraction of the clients trained each round
    local_epochs: int = Field(1, ge=1)
    batch_size: int = Field(16, ge=1)
    lr: float = Field(1e-3, gt=0.0)
    optimizer: Literal["adam", "sgd"] = "adam"
    client_eval_every: int = Field(1, ge=1)  # the clients evaluate the global model every k rounds (and the last)
    dp: DPConfig | None = None

    @field_validator("strategy", mode="before")
    @classmethod
    def _strategy(cls, v: Any) -> dict[str, Any]:
        return resolve_strategy(v)


class VariantSettings(Settings):
    name: Name


class FederatedConfig(Settings):
    name: Name
    corpus: CorpusConfig
    target: Literal["emotion", "activation", "valence"] = "emotion"
    labels: list[str] | None = None
    features: dict[str, Any] = Field(default_factory=lambda: {"type": "compare"})
    # "speaker": every client z-normalises its own features on its device (and the server its
    # held-out speakers' features, one speaker at a time); nothing but model updates is shared.
    # "global": one mean and std for everyone, those of the clients' training items pooled (what the
    # server learns by summing per-client feature sums, e.g. under secure aggregation)
    normalize: Literal["speaker", "global", "none"] = "speaker"
    folds: int = Field(4, ge=2, le=100)  # speaker-independent folds: test speakers held out by the server
    run_folds: list[int] | None = None  # run only these folds (default: all)
    split_seed: int = 0
    seed: int = 0
    client_test_fraction: float = Field(0.3, gt=0.0, lt=1.0)  # each client's local test items
    centralised_epochs: int = Field(50, ge=1)
    loso: bool = True  # the paper's leave-one-speaker-out centralised baseline
    attack: AttackConfig | None = Field(default_factory=lambda: AttackConfig.model_validate({}))
    variants: list[dict[str, Any]] = Field(default_factory=lambda: [{"name": "fedavg"}])
    num_cpus: int | None = None  # Ray's CPUs for the simulation (default: all)

    @model_validator(mode="after")
    def _check(self) -> FederatedConfig:
        names = []
        for i, v in enumerate(self.variants):
            if "name" not in v:
                raise ValueError(f"variants.{i}: needs a 'name'")
            try:
                self.variant(v["name"])
            except ValidationError as exc:
                problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
                raise ValueError(f"variants.{i}: {problems}") from None
            names.append(v["name"])
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique: {names}")
        if self.run_folds is not None and any(not 0 <= f < self.folds for f in self.run_folds):
            raise ValueError(f"run_folds: each fold must be in 0..{self.folds - 1}")
        return self

    def variant(self, name: str) -> VariantSettings:
        """The settings of one variant: the experiment's, with the variant's overrides (nested
        mappings such as ``strategy`` merged key by key)."""
        over = next((v for v in self.variants if v["name"] == name), None)
        if over is None:
            raise ConfigError(f"no variant {name!r} (variants: {', '.join(v['name'] for v in self.variants)})")
        base = {k: getattr(self, k) for k in Settings.model_fields}
        base = {k: (v.model_dump() if isinstance(v, BaseModel) else v) for k, v in base.items()}
        merged = dict(base)
        for k, v in over.items():
            if k == "strategy" and isinstance(v, dict) and v.get("type", merged[k]["type"]) != merged[k]["type"]:
                merged[k] = v  # another strategy: none of the base's parameters
            elif isinstance(v, dict) and isinstance(merged.get(k), dict):
                merged[k] = {**merged[k], **v}
            else:
                merged[k] = v
        return VariantSettings.model_validate(merged)

    def fold_list(self) -> list[int]:
        return list(self.run_folds) if self.run_folds is not None else list(range(self.folds))

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


def parse_federated_config(data: Any, source: str = "<config>") -> FederatedConfig:
    from privemo.registry import check

    cfg = validate_mapping(FederatedConfig, data, source)
    check("feature", cfg.features, f"{source}: features")
    return cfg


def load_federated_config(path: str | Path) -> FederatedConfig:
    return parse_federated_config(*read_yaml(path))
