"""The contract of a judge of a media evaluation (``privemo evaluate voice|video``): an attacker or a
utility model that looks at the original and the protected version of a corpus and returns its figures.

A judge is registered under the kind ``judge`` and declares, besides its parameters (its constructor's
keyword arguments, validated when the config is parsed):

* ``medium``: the evaluation it judges (``voice``, ``video``);
* ``threats``: the keys of its declared threat models (:mod:`privemo.evaluators.threat`), which the
  report's *Data and threat model* section prints;
* ``columns``: the figures of its result a report shows (:class:`Column`), each with the threat it
  measures, its chance level and target, so the report's table, its bold strongest attacker, its
  target checks and its verdicts all come from these declarations.

A judge's result is stored in the method's row under its name; ``privemo.testing`` checks every
registered judge (config round trip, declarations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

__all__ = ["Column", "Judge", "JudgeInput", "column_value"]


@dataclass(frozen=True)
class Column:
    """One figure of a judge's result. ``path``: dotted keys into the result; ``fmt``: ``pct`` or ``f3``.
    With ``threat``, the figure is an attack on that threat (a verdict lists it under ``attacker``'s
    name), against ``chance`` (a number, or ``"speakers"``: one over the number of speakers) and
    ``target``; ``strongest``: it competes for the headline (the strongest attacker of its threat).
    ``utility``: the emotion figure a verdict compares with the reference's."""

    label: str
    path: str
    fmt: str = "f3"
    threat: str | None = None
    attacker: str = ""
    chance: float | str | None = None
    target: float | None = None
    lower_is_private: bool = True
    strongest: bool = False
    utility: bool = False

    def __post_init__(self) -> None:
        if self.threat is not None and (self.target is None or self.chance is None or not self.attacker):
            raise ValueError(f"column {self.label!r}: an attack on {self.threat!r} declares its attacker, chance and target")


def column_value(result: Any, path: str) -> float | None:
    """The figure at ``path`` in a judge's result (None where absent or not a number)."""
    v = result
    for k in path.split("."):
        if not isinstance(v, dict) or k not in v:
            return None
        v = v[k]
    if isinstance(v, bool) or not isinstance(v, int | float) or v != v:
        return None
    return float(v)


@dataclass
class JudgeInput:
    """What a judge sees of one method: the original and this method's side (what the evaluation
    extracted from each version of the corpus), the items (speakers, genders, emotions, folds, the
    enrolment split), the seed, whether this is the original itself, ``extra(name)`` for inputs only
    some judges need (computed once, on first use: the mel frames of the fine-tuned attacker, the
    audio-visual per-fold models) and a progress callback ``(label, done, total)``."""

    original: Any
    side: Any
    items: Any
    seed: int
    reference: bool
    extra: Callable[[str], Any] = field(default=lambda name: None)
    progress: Callable[[str, int, int], None] = field(default=lambda label, i, n: None)


class Judge:
    medium: ClassVar[str]
    threats: ClassVar[tuple[str, ...]] = ()
    columns: ClassVar[tuple[Column, ...]] = ()
    #: inputs it asks ``JudgeInput.extra`` for
    needs: ClassVar[tuple[str, ...]] = ()

    def config(self) -> dict[str, Any]:
        """Its parameters (a judge is a dataclass of them), for the unit's record."""
        from dataclasses import asdict

        return asdict(self)  # type: ignore[call-overload]

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        raise NotImplementedError
