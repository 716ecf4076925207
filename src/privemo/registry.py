"""One registry for every kind of component: ``register(kind, name)`` and ``create(kind, **config)``.

Kinds used in privemo: ``corpus``, ``feature``, ``anonymizer``, ``learner``, ``evaluator``.
A component is registered under a ``type`` name; an experiment config names it by that ``type``.
"""

from __future__ import annotations

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
    _load_builtins()
    return sorted(_REGISTRY.get(kind, {}))


def lookup(kind: str, name: str) -> Any:
    _load_builtins()
    table = _REGISTRY.get(kind, {})
    if name not in table:
        known = ", ".join(sorted(table)) or "none"
        raise ConfigError(f"unknown {kind} type {name!r} (known: {known})")
    return table[name]


def create(kind: str, type: str, **config: Any) -> Any:  # noqa: A002 - 'type' is the config key
    """Build the ``kind`` component registered as ``type`` from its configuration."""
    factory = lookup(kind, type)
    try:
        return factory(**config)
    except TypeError as exc:
        raise ConfigError(f"{kind} {type!r}: bad configuration {config!r}: {exc}") from exc


_loaded = False


def _load_builtins() -> None:
    """Import the packages whose modules register the built-in components."""
    global _loaded
    if _loaded:
        return
    _loaded = True
    import privemo.attacks  # noqa: F401
    import privemo.corpora  # noqa: F401
    import privemo.evaluators  # noqa: F401
    import privemo.features  # noqa: F401
    import privemo.learners  # noqa: F401
