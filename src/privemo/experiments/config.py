"""Experiment configuration: validated YAML (safe_load: a config never executes code).

An experiment names a corpus, the target, one or more *variants* (features, speaker normalisation,
an optional learner) and the evaluators, over speaker-independent folds and seeds. An unknown or
bad key is a :class:`ConfigError` naming it (``variants.1.normalize: ...``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from privemo._names import name_error
from privemo._schema import Seed
from privemo.errors import ConfigError


def _safe_name(v: str) -> str:
    err = name_error(v)
    if err:
        raise ValueError(err)
    return v


# a run, variant, method or evaluator name: it becomes part of file names, so a safe character set
Name = Annotated[str, AfterValidator(_safe_name)]


def component(kind: str, v: Any, known: str = "") -> Any:
    """A component mapping (``{type: NAME, ...}``) whose type is registered as ``kind`` and whose
    parameters fit its schema (for pydantic validators: the problem as a ValueError)."""
    require_type(v, known)
    if v is None:
        return v
    from privemo.registry import check

    try:
        check(kind, v)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    return v


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


# a config's executor settings: where work runs, never what it computes (no unit depends on them)
EXECUTOR_KEYS = ("executor", "workers", "ray_address")


def check_executor_setting(executor: str, workers: int, address: str | None) -> None:
    """A config's executor keys (``executor``, ``workers``, ``ray_address``), checked at parse time
    (a ValueError for pydantic, naming the key)."""
    from privemo.executors import check_executor

    try:
        check_executor(executor, workers, address, where="ray_address", need_package=False)
    except ConfigError as exc:
        raise ValueError(str(exc)) from None


# row keys of a method-by-method evaluation that no judge may take as its name
ROW_KEYS = frozenset({"method", "anonymizer", "face", "voice", "curve", "x", "n_items", "n_clips", "n_speakers", "folds",
                      "rtf", "batch", "wall_s", "dp", "reference", "faces_found"})


def check_judges(judges: list[Any], medium: str) -> list[dict[str, Any]]:
    """A list of judge mappings ({type: NAME, params...}): every type a registered judge of ``medium``,
    its parameters checked, each at most once (its results are stored under its name)."""
    from privemo.registry import check

    seen: set[str] = set()
    for i, spec in enumerate(judges):
        try:
            factory = check("judge", spec, f"judges.{i}")
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        if factory.medium != medium:
            raise ValueError(f"judges.{i}: {spec['type']!r} judges {factory.medium}, not {medium}")
        if factory.key in seen:
            raise ValueError(f"judges.{i}: {spec['type']!r} is listed twice (or another judge writing {factory.key!r})")
        if factory.key in ROW_KEYS:
            raise ValueError(f"judges.{i}: {spec['type']!r} writes its figures under {factory.key!r}, a row key")
        seen.add(factory.key)
    return [dict(j) for j in judges]


def unique_methods(methods: list[Any]) -> list[Any]:
    """An anonymization evaluation's methods: unique names, and never ``original`` (always the reference)."""
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise ValueError(f"method names must be unique: {names}")
    if "original" in names:
        raise ValueError("'original' is always evaluated as the reference; do not list it")
    return methods


# config numbers that count something and so must be at least 1 (whatever section they are in)
POSITIVE = frozenset({"T", "adv_epochs", "analysis_fps", "batch", "batch_size", "centralised_epochs",
                      "checkpoint_every", "client_eval_every", "detect_every", "detect_width", "dlib_frames",
                      "epochs", "face_size", "folds", "g_steps", "id_epochs", "init_epochs", "iterations",
                      "latent", "local_epochs", "max_clips_per_speaker", "max_items_per_speaker", "num_cpus",
                      "rounds", "size", "workers", "lr", "adv_lr", "init_std"})
INT_MAX = 2**31 - 1


def _sane_number(key: str, v: Any) -> None:
    if isinstance(v, bool) or not isinstance(v, int | float):
        return
    if isinstance(v, int) and abs(v) > INT_MAX:
        raise ValueError(f"{key}: {v} is out of range (at most {INT_MAX})")
    if key in POSITIVE and v <= 0:
        raise ValueError(f"{key}: must be > 0, got {v}")
    if v < 0:
        raise ValueError(f"{key}: must be >= 0, got {v}")


class _Strict(BaseModel):
    """A config section: unknown keys, non-finite floats, negative or huge integers, and counts
    (:data:`POSITIVE`) below 1 are refused, whichever section they are in."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    @model_validator(mode="after")
    def _sane_numbers(self) -> Any:
        for key in type(self).model_fields:
            value = getattr(self, key)
            for v in (value if isinstance(value, list | tuple) else [value]):
                _sane_number(key, v)
        return self


class CorpusConfig(_Strict):
    type: str
    root: str | None = None  # relative to the data root unless absolute; synthetic: generated when None
    options: dict[str, Any] = Field(default_factory=dict)  # loader keyword arguments (media, n_speakers, ...)

    @model_validator(mode="after")
    def _loader_takes_options(self) -> CorpusConfig:
        from privemo._schema import check_params
        from privemo.registry import lookup

        try:
            loader = lookup("corpus", self.type)
        except ConfigError as exc:
            raise ValueError(f"corpus.type: {exc}") from None
        try:
            check_params(loader, self.options, f"corpus.options ({self.type})", skip=("root",))
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
        return self


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

    name: Name
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
        if not isinstance(encoder, dict):
            raise ValueError(f"learner.encoder: a mapping with a 'type' key, got {encoder!r:.60}")
        if not isinstance(encoder.get("streams") or {}, dict):
            raise ValueError("learner.encoder.streams: a mapping of stream name to encoder")
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
    name: Name
    corpus: CorpusConfig
    # the label the emotion task predicts: the canonical emotion, or a binned dimension
    target: Literal["emotion", "activation", "valence"] = "emotion"
    labels: list[str] | None = None  # keep only these target labels (e.g. 4 emotions)
    variants: list[VariantConfig]
    evaluators: list[dict[str, Any]]
    folds: int = Field(5, ge=2, le=100)
    seeds: list[Seed] = Field(default_factory=lambda: [0], min_length=1, max_length=100)
    split_seed: Seed = 0
    balance_gender: bool = True
    valid_speakers: int = Field(2, ge=0, le=1000)
    skip_bad: bool = False
    # which data the attackers train on: the fold's training speakers, or a held-out part D2 of them
    # (speaker-disjoint, gender-balanced) that the learner never trains on (jaiswal-2020 §4.2)
    attacker_data: Literal["train", "heldout"] = "train"
    # "folds": speaker-independent k-fold; "membership": the five-fold membership protocol of
    # jaiswal-2020 §4.2 (every variant needs a learner; only "membership" evaluators run)
    protocol: Literal["folds", "membership"] = "folds"
    heldout_fraction: float = Field(0.3, gt=0.0, lt=1.0)
    executor: Literal["local", "ray"] = "local"
    ray_num_cpus: int | None = Field(None, ge=1, le=4096)  # a local Ray's CPUs (without ray_address)
    ray_address: str | None = None  # a running Ray cluster: auto, ray://host:port or host:port

    @field_validator("evaluators")
    @classmethod
    def _evaluators(cls, v: list[dict[str, Any]]) -> list[dict[str, Any]]:
        if not v:
            raise ValueError("name at least one evaluator")
        for i, e in enumerate(v):
            if not isinstance(e, dict) or not isinstance(e.get("type"), str):
                raise ValueError(f"evaluator {i} needs a 'type' key naming an evaluator")
            if "name" in e and name_error(e["name"]):
                raise ValueError(f"evaluator {i} name: {name_error(e['name'])}")
        names = [e.get("name", e["type"]) for e in v]
        if len(set(names)) != len(names):
            raise ValueError(f"evaluator names must be unique (give a 'name' key): {names}")
        return v

    @model_validator(mode="after")
    def _unique_variants(self) -> ExperimentConfig:
        from privemo.executors import check_executor

        try:
            check_executor(self.executor, 1, self.ray_address, where="ray_address", need_package=False)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None
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
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except (TypeError, KeyError, AttributeError, IndexError) as exc:  # a validator met a value of an odd shape
        raise ConfigError(f"{source}: a value of the wrong kind ({type(exc).__name__}: {exc})") from None


MAX_CONFIG_BYTES = 4 * 2**20
MAX_CONFIG_VALUES = 100_000  # after YAML aliases are expanded (a "billion laughs" file stops here)
MAX_CONFIG_DEPTH = 64


def read_yaml(path: str | Path) -> tuple[Any, str]:
    """The parsed content of a YAML config file and its name, or a ConfigError naming the file: not a
    regular file, too large, not UTF-8, not YAML, nested too deeply or expanding to too many values."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{path}: {path.stat().st_size} bytes is too large for a config "
                              f"(at most {MAX_CONFIG_BYTES})")
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise ConfigError(f"{path}: not a usable YAML value: {exc}") from None
    check_shape(data, str(path))
    return data, str(path)


def check_shape(data: Any, source: str) -> None:
    """Refuse parsed data nested deeper than MAX_CONFIG_DEPTH or holding more than MAX_CONFIG_VALUES
    values once aliases are expanded (walked without recursion; stops at the limit)."""
    stack: list[tuple[Any, int]] = [(data, 0)]
    seen = 0
    while stack:
        node, depth = stack.pop()
        seen += 1
        if seen > MAX_CONFIG_VALUES:
            raise ConfigError(f"{source}: expands to more than {MAX_CONFIG_VALUES} values (YAML aliases?)")
        if depth > MAX_CONFIG_DEPTH:
            raise ConfigError(f"{source}: nested more than {MAX_CONFIG_DEPTH} levels deep")
        if isinstance(node, dict):
            for k, v in node.items():
                if not isinstance(k, str | int | float | bool) and k is not None:
                    raise ConfigError(f"{source}: a key must be a plain value, got {type(k).__name__}")
                stack.append((v, depth + 1))
        elif isinstance(node, list | tuple):
            stack.extend((v, depth + 1) for v in node)


def parse_config(data: Any, source: str = "<config>") -> ExperimentConfig:
    cfg = validate_mapping(ExperimentConfig, data, source)
    _check_components(cfg, source)
    return cfg


def _check_components(cfg: ExperimentConfig, source: str) -> None:
    """Every component the config names exists and takes the parameters given (before any work)."""
    from privemo.registry import check

    for i, v in enumerate(cfg.variants):
        if v.features is not None:
            check("feature", v.features, f"{source}: variants.{i}.features")
        for name, st in (v.streams or {}).items():
            check("feature", st.features, f"{source}: variants.{i}.streams.{name}.features")
        if v.learner:
            check("learner", v.learner, f"{source}: variants.{i}.learner")
    for i, e in enumerate(cfg.evaluators):
        check("evaluator", e, f"{source}: evaluators.{i}", skip=("name",))


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
