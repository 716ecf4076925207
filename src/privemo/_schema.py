"""Parameter schemas for every registered component, read from its signature.

A component's parameters are its dataclass fields or its constructor's (or loader's) keyword
arguments, with their type hints; a hint may carry limits (``Annotated[int, Field(ge=1)]``, or the
shorthands below). :func:`check_params` validates a mapping of parameters against them before any
work: an unknown key (a typo), a value of the wrong type (``k: abc``), a non-finite float
(``sigma: nan``) or one out of its range (``frame_period: 0``) is a ConfigError naming the key,
the component and what is allowed.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import typing
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from privemo.errors import ConfigError

# shorthands for the limits of component parameters
PosInt = Annotated[int, Field(ge=1, le=2**31 - 1)]
NonNegInt = Annotated[int, Field(ge=0, le=2**31 - 1)]
PosFloat = Annotated[float, Field(gt=0)]
NonNegFloat = Annotated[float, Field(ge=0)]
Unit = Annotated[float, Field(ge=0, le=1)]  # a fraction or a probability
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
SampleRate = Annotated[int, Field(ge=4000, le=384_000)]  # Hz: what the audio front-ends can work at

_CONFIG = ConfigDict(extra="forbid", allow_inf_nan=False, arbitrary_types_allowed=True)


def _hints(target: Any) -> dict[str, Any]:
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # an annotation that cannot be resolved here is checked as Any  # noqa: BLE001
        return {}


@functools.cache
def params_model(factory: Callable[..., Any], skip: tuple[str, ...] = ()) -> type[BaseModel] | None:
    """A pydantic model of ``factory``'s parameters but ``skip`` (None: it takes ``**kwargs`` of any
    kind)."""
    fields: dict[str, Any] = {}
    if dataclasses.is_dataclass(factory):
        hints = _hints(factory)
        for f in dataclasses.fields(factory):
            if not f.init or f.name in skip:
                continue
            default: Any = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else ...)
            fields[f.name] = (hints.get(f.name, Any), default)
    else:
        target = factory.__init__ if inspect.isclass(factory) else factory
        sig = inspect.signature(target)
        hints = _hints(target)
        for name, p in sig.parameters.items():
            if name == "self" or name in skip or p.kind is p.VAR_POSITIONAL:
                continue
            if p.kind is p.VAR_KEYWORD:
                return None
            hint = hints.get(name, Any)
            if "Callable" in str(hint):  # a callback (on_epoch...): no config value
                hint = Any
            fields[name] = (hint, p.default if p.default is not p.empty else ...)
    return create_model(f"{getattr(factory, '__name__', 'component')}Params", __config__=_CONFIG, **fields)


def problems(exc: ValidationError) -> str:
    """A pydantic error as one line: ``key: what is wrong`` for each problem."""
    return "; ".join(f"{'.'.join(str(p) for p in err['loc']) or '<root>'}: {err['msg']}" for err in exc.errors())


def check_params(factory: Callable[..., Any], params: dict[str, Any], what: str,
                 skip: tuple[str, ...] = ()) -> None:
    """Validate ``params`` against ``factory``'s parameter schema, or a ConfigError naming ``what``
    (e.g. ``methods.2.anonymizer (voice_vq)``) and each bad key."""
    model = params_model(factory, tuple(skip))
    if model is None:
        return
    data = {k: v for k, v in params.items() if k not in skip}
    try:
        model.model_validate(data)
    except ValidationError as exc:
        allowed = ", ".join(model.model_fields)
        raise ConfigError(f"{what}: {problems(exc)} (parameters: {allowed})") from None
    except RecursionError:
        raise ConfigError(f"{what}: parameters nested too deeply") from None
