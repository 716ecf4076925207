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

__all__ = ["Check", "Column", "Judge", "JudgeInput", "RowColumn", "column_value", "row_columns", "strongest_column",
           "run_judges", "target_checks"]


@dataclass(frozen=True)
class Column:
    """One figure of a judge's result. ``path``: dotted keys into the result; ``fmt``: ``pct`` or ``f3``.
    With ``threat``, the figure is an attack on that threat (a verdict lists it under ``attacker``'s
    name), against ``chance`` (a number, or ``"speakers"`` / ``"subjects"``: one over the row's count) and
    ``target``; ``strongest``: it competes for the headline (the strongest attacker of its threat).
    ``utility``: the emotion figure a verdict compares with the reference's. A figure without a threat
    but with a ``relative`` ``target`` is a utility check: at least ``target`` x the reference's.
    ``check``: the name of the target check the figure belongs to (the columns sharing one compete, the
    strongest is checked; default: its own label)."""

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
    #: ``target`` is a multiple of the chance level (2: at most twice chance), not a figure
    relative: bool = False
    check: str | None = None

    def chance_of(self, row: dict[str, Any]) -> float:
        """Its chance level on ``row``: a number, or one over the row's count of what it names
        (``speakers``: the row's ``n_speakers``; ``subjects``: its ``n_subjects``)."""
        if isinstance(self.chance, str):
            n = row.get(f"n_{self.chance}")
            return 1.0 / n if n else 0.0
        return float(self.chance or 0.0)

    def target_of(self, row: dict[str, Any]) -> float:
        return float(self.target or 0.0) * (self.chance_of(row) if self.relative else 1.0)

    @property
    def check_name(self) -> str:
        return self.check or self.label

    def __post_init__(self) -> None:
        if self.threat is not None and (self.target is None or self.chance is None or not self.attacker):
            raise ValueError(f"column {self.label!r}: an attack on {self.threat!r} declares its attacker, chance and target")
        if isinstance(self.chance, str) and self.chance not in CHANCES:
            raise ValueError(f"column {self.label!r}: chance {self.chance!r} is a number or one of {', '.join(CHANCES)}")


#: what a column's chance may be one over (the row's ``n_<name>``)
CHANCES = ("speakers", "subjects")


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
    #: where its result goes in a method's row (judges of different media may share one: ``emotion``)
    key: ClassVar[str]
    threats: ClassVar[tuple[str, ...]] = ()
    columns: ClassVar[tuple[Column, ...]] = ()

    def config(self) -> dict[str, Any]:
        """Its parameters (a judge is a dataclass of them), for the unit's record."""
        from dataclasses import asdict

        return asdict(self)  # type: ignore[call-overload]

    def __call__(self, j: JudgeInput) -> dict[str, Any]:
        raise NotImplementedError


def run_judges(specs: list[dict[str, Any]], j: JudgeInput, log: Callable[[str], None] | None = None,
               label: str = "") -> dict[str, Any]:
    """Every judge's figures on one method (``specs``: {type: NAME, params...}, in order), each under
    its key."""
    from privemo.registry import create

    row: dict[str, Any] = {}
    for spec in specs:
        judge = create("judge", **spec)
        if log:
            log(f"{label}: {spec['type']}")
        row[judge.key] = judge(j)
    return row


# ---- reading a results row through its judges' declarations (the reports use these) --------------
@dataclass(frozen=True)
class RowColumn:
    """A declared column of the judge ``judge`` (its result is the row's ``judge`` key; ``""``: a figure
    of the row itself, such as its real-time factor)."""

    judge: str
    column: Column

    @property
    def label(self) -> str:
        return self.column.label

    def get(self, row: dict[str, Any]) -> float | None:
        return column_value(row.get(self.judge) if self.judge else row, self.column.path)


def row_columns(rows: list[dict[str, Any]], medium: str, groups: tuple[str, ...] = ()) -> list[RowColumn]:
    """The declared columns of the ``medium`` judges these rows hold results of, grouped by threat in
    the order of ``groups`` (a figure without a threat goes with its judge's first threat; what no
    group names comes last), judges in the order the rows hold them."""
    judges = {cls.key: cls for cls in judges_present(rows, medium)}
    present = [k for k in dict.fromkeys(k for r in rows for k in r) if k in judges]
    cols: list[tuple[int, int, RowColumn]] = []
    for j, key in enumerate(present):
        cls = judges[key]
        own = next((c.threat for c in cls.columns if c.threat), None)
        for c in cls.columns:
            group = c.threat or own
            cols.append((groups.index(group) if group in groups else len(groups), j, RowColumn(key, c)))
    cols.sort(key=lambda t: (t[0], t[1]))
    return [c for _, _, c in cols]


def strongest_column(row: dict[str, Any], threat: str, cols: list[RowColumn]) -> tuple[RowColumn | None, float]:
    """The strongest attacker of ``threat`` on ``row`` among the ``cols`` that compete for it (the
    lowest figure where higher is more private, an EER; else the highest) and its figure."""
    vals = [(c, v) for c in cols if c.column.threat == threat and c.column.strongest and (v := c.get(row)) is not None]
    return _strongest(vals) if vals else (None, float("nan"))


def _strongest(vals: list[tuple[RowColumn, float]]) -> tuple[RowColumn, float]:
    """The strongest of competing attacks (the lowest figure where higher is more private, an EER;
    else the highest)."""
    return (max if vals[0][0].column.lower_is_private else min)(vals, key=lambda t: t[1])


@dataclass(frozen=True)
class Check:
    """One declared target on one row: an attack's strongest figure against its target, or a utility
    figure as a share of the reference's (``value`` is that share)."""

    name: str
    label: str  # the column that decided it
    value: float
    target: float
    met: bool
    utility: bool
    fmt: str
    lower_is_private: bool = True


def target_checks(row: dict[str, Any], reference: dict[str, Any] | None, cols: list[RowColumn]) -> list[Check]:
    """Every declared target of ``row``, in column order: per check name, the strongest of its attack
    columns that compete for the headline (``strongest``) against its target; a utility column with
    a relative target against ``reference``'s figure (none without a reference or its figure)."""
    out: list[Check] = []
    for name in dict.fromkeys(c.column.check_name for c in cols if c.column.target is not None):
        mine = [c for c in cols if c.column.check_name == name and c.column.target is not None]
        attacks = [(c, v) for c in mine if c.column.threat and c.column.strongest and (v := c.get(row)) is not None]
        if attacks:
            c, v = _strongest(attacks)
            lower, target = c.column.lower_is_private, c.column.target_of(row)
            out.append(Check(name, c.label, v, target, v <= target if lower else v >= target, False, c.column.fmt,
                             lower))
            continue
        for c in mine:
            v, ref = c.get(row), c.get(reference) if reference is not None else None
            if c.column.threat is None and c.column.relative and v is not None and ref:
                out.append(Check(name, c.label, v / ref, float(c.column.target or 0.0),
                                 v / ref >= float(c.column.target or 0.0), True, "ratio"))
                break
    return out


def judges_present(rows: list[dict[str, Any]], medium: str) -> list[Any]:
    """The registered ``medium`` judge classes these rows hold results of (every one without rows)."""
    from privemo.registry import lookup, names

    mine = [lookup("judge", n) for n in names("judge") if lookup("judge", n).medium == medium]
    keys = {k for r in rows for k in r}
    return [cls for cls in mine if not rows or cls.key in keys]
