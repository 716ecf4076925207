"""What the media evaluations share (``privemo evaluate voice|video``): the original first, every
method after it, one unit each, judged by the same registered judges
(:mod:`privemo.evaluators.judge`) in the order the config lists them."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from typing import Any, ClassVar

from privemo._files import inside
from privemo.errors import ConfigError
from privemo.experiments.config import EXECUTOR_KEYS
from privemo.experiments.evaluation import Evaluation, Planned


def extras(medium: str, makers: dict[str, Callable[[], Any]]) -> Callable[[str], Any]:
    """``JudgeInput.extra``: each input only some judges need, made on first use and kept."""
    made: dict[str, Any] = {}

    def extra(name: str) -> Any:
        if name not in makers:
            raise ConfigError(f"a {medium} judge asked for {name!r}; the {medium} evaluation gives "
                              f"{', '.join(repr(k) for k in makers)}")
        if name not in made:
            made[name] = makers[name]()
        return made[name]

    return extra


class MediaEvaluation(Evaluation):
    """The original (every method is judged against it), then each method of ``cfg.methods``."""

    #: the reference row's method, as its unit records it (a mapping, as a method of the config)
    original: ClassVar[dict[str, Any]]
    #: run-folder parts (one sub-folder per method) that a redone method starts without
    method_folders: ClassVar[tuple[str, ...]] = ()

    def unit_specs(self, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """A method's unit depends on the method and on every setting but the name, the executor
        settings and the number of examples."""
        shared = {k: v for k, v in cfg.items() if k not in ("name", "methods", "examples", *EXECUTOR_KEYS)}
        if shared.get("judges", None) is None:  # the default (older units recorded no such key)
            shared.pop("judges", None)
        methods = [self.original, *cfg.get("methods", [])]
        return {m["name"]: self.resolve_spec({"shared": shared, "method": m})
                for m in methods if isinstance(m, dict) and "name" in m}

    def resolve_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """The unit's configuration with each anonymizer of its method (``anonymizer``, or a video
        method's ``face`` and ``voice``) spelled out with every parameter's default, so that a changed
        default under an unchanged method name is a changed unit too. A spec recorded before (only the
        parameters the config named) resolves with today's defaults: the same unit."""
        method = spec.get("method")
        if not isinstance(method, dict):
            return spec
        out = dict(method)
        for part in ("anonymizer", "face", "voice"):
            if isinstance(out.get(part), dict):
                out[part] = resolved_anonymizer(out[part])
        return {**spec, "method": out}

    def drop_unit(self, key: str) -> None:
        """A redone method starts afresh (its folders' stamps name the old configuration)."""
        super().drop_unit(key)
        for part in self.method_folders:
            shutil.rmtree(inside(self.run_dir, part, key), ignore_errors=True)

    def plan(self) -> list[Planned]:
        return [Planned("original"), *(Planned(m.name, m.name) for m in self.cfg.methods)]

    def reference(self) -> Any:
        """The original's method config (built from :attr:`original`)."""
        raise NotImplementedError

    def method(self, key: str) -> Any:
        """The config of the unit ``key``'s method."""
        return next((m for m in self.cfg.methods if m.name == key), None) or self.reference()


def resolved_anonymizer(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` with every parameter of its registered anonymizer (defaults filled in); as given
    where it names no registered anonymizer or does not validate (the config check reports that)."""
    from privemo.errors import PrivemoError
    from privemo.registry import create

    if not isinstance(config.get("type"), str):
        return config
    try:
        full = create("anonymizer", **config).config()
    except (PrivemoError, TypeError, ValueError):
        return config
    return json.loads(json.dumps(full, default=str))
