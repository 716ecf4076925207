"""One registry for every kind of component: ``register(kind, name)`` and ``create(kind, **config)``.

Kinds used in privemo: ``corpus``, ``feature``, ``anonymizer``, ``learner``, ``evaluator``, ``strategy``
(Flower's server strategies), ``face_detector`` (face front-ends: a detector and its landmarks),
``judge`` (the attackers and utility models of a media evaluation, :mod:`privemo.evaluators.judge`).
A component is registered under a ``type`` name; an experiment config names it by that ``type``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any, TypeVar

from privemo.errors import ConfigError

T = TypeVar("T")
_REGISTRY: dict[str, dict[str, Any]] = {}


def register(kind: str, name: str) -> Callable[[T], T]:
    """Class or function decorator that registers ``obj`` as ``kind``/``name``."""

    def deco(obj: T) -> T:
        table = _REGISTRY.setdefault(kind, {})
        if name in table and table[name] is not obj:
            raise ValueError(f"{kind} {name!r} is registered twice")
        table[name] = obj
        return obj

    return deco


def names(kind: str) -> list[str]:
    """The registered names of ``kind``, sorted."""
    _load_builtins(kind)
    return sorted(_REGISTRY.get(kind, {}))


def lookup(kind: str, name: str) -> Any:
    _load_builtins(kind)
    table = _REGISTRY.get(kind, {})
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise ConfigError(f"unknown {kind} type {name!r} (known: {known})")
    return table[name]


def check(kind: str, spec: Any, where: str = "", skip: tuple[str, ...] = (), construct: bool = True) -> Any:
    """Validate a component mapping (``{type: NAME, param: value, ...}``) before any work: the type
    is registered and every parameter fits the component's schema (:mod:`privemo._schema`); else a
    ConfigError naming ``where``, the component and the bad key. Returns the factory."""
    from privemo._schema import check_params

    if not isinstance(spec, dict) or not isinstance(spec.get("type"), str):
        raise ConfigError(f"{where}: a {kind} is a mapping with a 'type' key, got {spec!r:.80}")
    try:
        factory = lookup(kind, spec["type"])
    except ConfigError as exc:
        raise ConfigError(f"{where}.type: {exc}" if where else str(exc)) from None
    what = f"{where} ({kind} {spec['type']!r})" if where else f"{kind} {spec['type']!r}"
    params = {k: v for k, v in spec.items() if k != "type" and k not in skip}
    check_params(getattr(factory, "__params__", factory), params, what)
    if hasattr(factory, "check_config"):  # nested parts (a learner's encoder and head)
        factory.check_config(params, where or kind)
    if construct and kind in ("learner", "evaluator"):  # their constructors only store and check: run them now
        try:
            factory(**params)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}" if where else str(exc)) from None
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{what}: {exc}") from None
    return factory


def create(kind: str, type: str, **config: Any) -> Any:  # noqa: A002 - 'type' is the config key
    """Build the ``kind`` component registered as ``type`` from its configuration (validated first)."""
    factory = check(kind, {"type": type, **config}, "", construct=False)  # built below
    try:
        return factory(**config)
    except TypeError as exc:
        raise ConfigError(f"{kind} {type!r}: bad configuration {config!r}: {exc}") from exc
    except ValueError as exc:
        raise ConfigError(f"{kind} {type!r}: {exc}") from exc


# the packages whose modules register each kind (imported on first use: loading a corpus must not
# import torch)
_PROVIDERS = {
    "corpus": ("privemo.corpora",),
    "feature": ("privemo.features",),
    "learner": ("privemo.learners",),
    "evaluator": ("privemo.evaluators", "privemo.attacks"),
    "anonymizer": ("privemo.anonymize", "privemo.anonymize.face", "privemo.anonymize.face_vgan",
                   "privemo.anonymize.face_pseudo"),
    "strategy": ("privemo.learners.federated.strategies",),
    "face_detector": ("privemo.features.frontend",),
    "judge": ("privemo.attacks.verification", "privemo.attacks.voice", "privemo.attacks.finetuned",
              "privemo.evaluators.voice", "privemo.attacks.video", "privemo.evaluators.video",
              "privemo.attacks.face_table", "privemo.evaluators.face"),
}
_loaded: set[str] = set()


def _load_builtins(kind: str) -> None:
    """Import the packages that register the built-in components of ``kind``."""
    if kind in _loaded:
        return
    _loaded.add(kind)
    for module in _PROVIDERS.get(kind, ()):
        importlib.import_module(module)
