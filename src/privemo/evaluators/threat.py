"""What every attacker and judge declares about itself: who attacks, what they see, what they train on,
and the headline figure. Reports write their *Data and threat model* section from these declarations
(:func:`describe`), so the prose of a page always matches the attackers that produced its figures.

An evaluator class carries its declaration as ``threat``; an attack function of a media evaluation
declares it with :func:`declare` under a dotted name (``voice.semi_verification``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["ThreatModel", "declare", "declared", "describe"]


@dataclass(frozen=True)
class ThreatModel:
    """``role``: "attack" (it tries to learn who, or what the person would not tell) or "utility"."""

    name: str
    role: str
    who: str
    sees: str
    trains_on: str
    figure: str

    def markdown(self) -> str:
        if self.role == "utility":
            return f"- **{self.name}** (utility): {self.who}; it sees {self.sees}; trained on {self.trains_on}. {self.figure}."
        return (f"- **{self.name}**: {self.who}; sees {self.sees}; trains on {self.trains_on}. "
                f"Headline: {self.figure}.")


_DECLARED: dict[str, ThreatModel] = {}


def declare(key: str, threat: ThreatModel) -> ThreatModel:
    """Record the declaration of the attacker or judge ``key`` (dotted: ``voice.gender``)."""
    if key in _DECLARED and _DECLARED[key] != threat:
        raise ValueError(f"threat model {key!r} declared twice")
    _DECLARED[key] = threat
    return threat


# the modules that declare the threat models of the media evaluations' attackers (imported on first use)
_PROVIDERS = ("privemo.attacks.verification", "privemo.attacks.voice", "privemo.attacks.face",
              "privemo.attacks.updates", "privemo.learners.narula")


def declared(key: str) -> ThreatModel:
    """The declaration of ``key``: a declared dotted name (``face.dlib``) or a registered evaluator's
    type (its class's ``threat``)."""
    if "." in key and key not in _DECLARED:
        import importlib

        for module in _PROVIDERS:
            importlib.import_module(module)
    if key in _DECLARED:
        return _DECLARED[key]
    from privemo.errors import ConfigError
    from privemo.registry import lookup

    try:
        threat = getattr(lookup("evaluator", key), "threat", None)
    except ConfigError as exc:
        raise KeyError(str(exc)) from None
    if not isinstance(threat, ThreatModel):
        raise KeyError(f"evaluator {key!r} declares no threat model")
    return threat


def describe(keys: Iterable[str], intro: str = "", extra: Iterable[str] = ()) -> str:
    """The *Data and threat model* section of a report: ``intro``, then one line per declared attacker
    or judge of ``keys`` (each once, in order), then ``extra`` lines."""
    lines = [intro] if intro else []
    seen: set[str] = set()
    for key in keys:
        tm = declared(key)
        if tm.name in seen:
            continue
        seen.add(tm.name)
        lines.append(tm.markdown())
    lines += list(extra)
    return "\n".join(lines) + "\n"
