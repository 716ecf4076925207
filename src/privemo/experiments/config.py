"""Experiment configuration: validated YAML (safe_load: a config never executes code).

An experiment names a corpus, the target, one or more *variants* (features, speaker normalisation,
an optional learner) and the evaluators, over speaker-independent folds and seeds. An unknown or
bad key is a :class:`ConfigError` naming it (``variants.1.normalize: ...``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from privemo.errors import ConfigError


def require_type(v: Any, known: str = "") -> Any:
    """A component mapping must name its registered ``type`` (``None``: an absent optional one)."""
    if v is not None and "type" not in v:
        raise ValueError(f"needs a 'type' key{f' ({known})' if known else ''}")
    return v


def check_color(v: str) -> str:
    """A face config's ``color``: gray or rgb."""
    if v not in ("gray", "rgb"):
        raise ValueError("color must be gray or rgb")
    return v


def unique_methods(methods: list[Any]) -> list[Any]:
    """An anonymization evaluation's methods: unique names, and never ``original`` (always the reference)."""
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique: {names}")
    if "original" in names:
        raise ValueError("'original' is always evaluated as the reference; do not list it")
    return methods


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CorpusConfig(_Strict):
    type: str
    root: str | None = None  # relative to the data root unless absolute; synthetic: generated when None
    options: dict[str, Any] = Field(default_factory=dict)  # loader keyword arguments (media, n_speakers, ...)


class StreamConfig(_Strict):
    """One input stream of a multimodal variant: its features and their normalisation."""

    features: dict[str, Any]
    normalize: Literal["none", "speaker"] = "none"

    @field_validator("features")
    @classmethod
    def _has_type(cls, v: dict[str, Any]) -> dict[str, Any]:
        return require_type(v)


class VariantConfig(_Strict):
    """A variant reads one kind of ``features`` (with ``normalize``), or several named ``streams``
    (e.g. ``acoustic`` MFB and ``lexical`` GloVe, each item then a tuple of arrays in that order)
    for a multimodal learner."""

    name: str
    features: dict[str, Any] | None = None
    normalize: Literal["none", "speaker"] = "none"
    streams: dict[str, StreamConfig] | None = None
    # the variant its figures are tested against (paired t-test); default: the first variant
    reference: str | None = None
    pool: list[Literal["mean", "std", "min", "max"]] = ["mean", "std"]
    learner: dict[str, Any] | None = None
    # which items of the corpus this variant reads (default: the features' own media; text -> audio)
    media: list[Literal["audio", "image", "video"]] | None = None

    @field_validator("features", "learner")
    @classmethod
    def _has_type(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        return require_type(v)

    @model_validator(mode="after")
    def _features_or_streams(self) -> VariantConfig:
        if (self.features is None) == (self.streams is None):
            raise ValueError("name either 'features' or 'streams' (not both)")
        if self.streams is not None and not self.streams:
            raise ValueError("streams: name at least one stream")
        encoder = (self.learner or {}).get("encoder") or {}
        if self.streams is not None and self.learner is not None and len(self.streams) > 1:
            if encoder.get("type") != "multimodal":
                raise ValueError("streams: several input streams need learner.encoder.type 'multimodal'")
            named = list(encoder.get("streams") or {})
            if named != list(self.streams):
                raise ValueError(f"learner.encoder.streams {named} must name the variant's streams "
                                 f"{list(self.streams)}, in the same order")
        return self

    def stream_configs(self) -> dict[str, StreamConfig]:
        """The variant's streams; a single-features variant is one stream named ``main``."""
        if self.streams is not None:
            return dict(self.streams)
        assert self.features is not None
        return {"main": StreamConfig(features=self.features, normalize=self.normalize)}


class ExperimentConfig(_Strict):
    name: str
    corpus: CorpusConfig
    target: str = "emotion"
    labels: list[str] | None = None  # keep only these target labels (e.g. 4 emotions)
    variants: list[VariantConfig]
    evaluators: list[dict[str, Any]]
    folds: int = Field(5, ge=2)
    seeds: list[int] = Field(default_factory=lambda: [0])
    split_seed: int = 0
    balance_gender: bool = True
    valid_speakers: int = Field(2, ge=0)
    skip_bad: bool = False
    # which data the attackers train on: the fold's training speakers, or a held-out part D2 of them
    # (speaker-disjoint, gender-balanced) that the learner never trains on (jaiswal-2020 §4.2)
    attacker_data: Literal["train", "heldout"] = "train"
    # "folds": speaker-independent k-fold; "membership": the five-fold membership protocol of
    # jaiswal-2020 §4.2 (every variant needs a learner; only "membership" evaluators run)
    protocol: Literal["folds", "membership"] = "folds"
    heldout_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    executor: Literal["local", "ray"] = "local"
    ray_num_cpus: int | None = None

    @field_validator("evaluators")
    @classmethod
    def _evaluators(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not v:
            raise ValueError("name at least one evaluator")
        for i, e in enumerate(v):
            if "type" not in e:
                raise ValueError(f"evaluator {i} needs a 'type' key")
        names = [e.get("name", e["type"]) for e in v]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluator names must be unique (give a 'name' key): {names}")
        return v

    @model_validator(mode="after")
    def _unique_variants(self) -> ExperimentConfig:
        if self.protocol == "membership":
            if self.folds != 5:
                raise ValueError("protocol membership: uses five speaker-independent folds (folds: 5)")
            if any(v.learner is None for v in self.variants):
                raise ValueError("protocol membership: every variant needs a learner")
        names = [v.name for v in self.variants]
        if not names:
            raise ValueError("variants: name at least one variant")
        for v in self.variants:
            if v.reference is not None and v.reference not in names:
                raise ValueError(f"variants: {v.name}.reference {v.reference!r} is not a variant of this config")
        if len(set(names)) != len(names):
            raise ValueError(f"variant names must be unique: {names}")
        return self

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)


M = TypeVar("M", bound=BaseModel)


def validate_mapping(model: type[M], data: Any, source: str) -> M:
    """``data`` (parsed YAML) as ``model``, or one ConfigError naming every bad key."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of keys, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}"
                             for err in exc.errors())
        raise ConfigError(f"{source}: {problems}") from None


def read_yaml(path: str | Path) -> tuple[Any, str]:
    """The parsed content of a YAML config file and its name, or a ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        return yaml.safe_load(path.read_text()), str(path)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def parse_config(data: Any, source: str = "<config>") -> ExperimentConfig:
    cfg = validate_mapping(ExperimentConfig, data, source)
    _check_components(cfg, source)
    return cfg


def _check_components(cfg: ExperimentConfig, source: str) -> None:
    from privemo.registry import names

    checks = [("corpus.type", "corpus", cfg.corpus.type)]
    for i, v in enumerate(cfg.variants):
        if v.features is not None:
            checks.append((f"variants.{i}.features.type", "feature", v.features["type"]))
        for name, st in (v.streams or {}).items():
            checks.append((f"variants.{i}.streams.{name}.features.type", "feature", st.features["type"]))
        if v.learner:
            checks.append((f"variants.{i}.learner.type", "learner", v.learner["type"]))
    checks += [(f"evaluators.{i}.type", "evaluator", e["type"]) for i, e in enumerate(cfg.evaluators)]
    for key, kind, name in checks:
        known = names(kind)
        if name not in known:
            raise ConfigError(f"{source}: {key}: unknown {kind} {name!r} (known: {', '.join(known)})")


def load_config(path: str | Path) -> ExperimentConfig:
    return parse_config(*read_yaml(path))


def data_root(explicit: str | Path | None = None) -> Path:
    """``--data-root``, else ``$PRIVEMO_DATA``, else ``../shared/data``."""
    if explicit:
        return Path(explicit)
    if os.environ.get("PRIVEMO_DATA"):
        return Path(os.environ["PRIVEMO_DATA"])
    return Path("../shared/data")


def corpus_root(cfg: CorpusConfig, root: Path) -> Path | None:
    if cfg.root is None:
        return None
    p = Path(cfg.root).expanduser()
    return p if p.is_absolute() else root / p
