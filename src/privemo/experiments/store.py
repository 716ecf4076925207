"""The results store of a run folder: one file per finished unit, and results.jsonl built from them.

``runs/<name>/units/<unit>.json`` is written to a temporary name and renamed once the unit is done,
so a unit is either finished (and never redone on resume) or absent. ``results.jsonl`` is rebuilt
(atomically) from the unit files after each unit.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from privemo._files import atomic_write, inside, remove_stale_temps

__all__ = ["ResultStore", "atomic_write", "read_results", "report_guard", "reusable_units"]


def _clean(obj: Any) -> Any:
    if isinstance(obj, float) and (math.isnan(obj) or math.isinf(obj)):
        return None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    if hasattr(obj, "item"):  # numpy scalars
        return _clean(obj.item())
    return obj


class ResultStore:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = Path(run_dir)
        self.units = self.run_dir / "units"

    @staticmethod
    def unit_key(variant: str, fold: int, seed: int) -> str:
        return f"{variant}__fold{fold}__seed{seed}"

    def done(self) -> set[str]:
        if not self.units.is_dir():
            return set()
        return {p.stem for p in self._unit_files()}

    def _unit_files(self) -> list[Path]:
        """The finished units' files (an interrupted write's hidden temporary is no unit)."""
        return sorted(p for p in self.units.glob("*.json") if not p.name.startswith("."))

    def clean(self) -> list[Path]:
        """Remove the temporary files an interrupted run left in the run folder (before resuming)."""
        return remove_stale_temps(self.run_dir)

    def write_unit(self, key: str, rows: list[dict[str, Any]], spec: dict[str, Any] | None = None) -> None:
        """Record a finished unit; ``spec`` (its full resolved configuration) is kept beside it, so a
        resume can tell whether the unit still means the same."""
        if spec is not None:  # with the code that computed it
            atomic_write(inside(self.run_dir / "unit_specs", f"{key}.json"),
                         json.dumps(_clean({**spec, "code": code_version()}), sort_keys=True))
        atomic_write(inside(self.units, f"{key}.json"), json.dumps(_clean(rows)))
        self.rebuild()

    def spec(self, key: str) -> dict[str, Any] | None:
        """The configuration a finished unit recorded (None: an older run folder recorded none)."""
        path = inside(self.run_dir / "unit_specs", f"{key}.json")
        if not path.is_file():
            return None
        try:
            return json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return None

    def drop(self, key: str) -> None:
        """Forget a finished unit (to redo it)."""
        inside(self.units, f"{key}.json").unlink(missing_ok=True)
        inside(self.run_dir / "unit_specs", f"{key}.json").unlink(missing_ok=True)
        self.rebuild()

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.units.is_dir():
            for p in self._unit_files():
                out.extend(json.loads(p.read_text()))
        return out

    def rebuild(self) -> None:
        atomic_write(self.run_dir / "results.jsonl", "".join(json.dumps(r) + "\n" for r in self.rows()))


def read_results(run_dir: str | Path, required: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    """The rows of a run folder's ``results.jsonl``; a line that is not a JSON object (truncated,
    garbage, not UTF-8) or lacks a ``required`` key is a ConfigError naming the file and the line."""
    from privemo.errors import ConfigError

    path = Path(run_dir) / "results.jsonl"
    if not path.is_file():
        raise ConfigError(f"{path}: no results in this run folder (run the experiment first)")
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    rows: list[dict[str, Any]] = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            raise ConfigError(f"{path}: line {n} is not valid JSON ({exc}); the file is damaged: re-run "
                              "the experiment (finished units are kept) to rebuild it") from None
        if not isinstance(row, dict):
            raise ConfigError(f"{path}: line {n} is not a JSON object")
        missing = [k for k in required if k not in row]
        if missing:
            raise ConfigError(f"{path}: line {n} lacks {', '.join(missing)}")
        rows.append(row)
    return rows


F = TypeVar("F", bound=Callable[..., Any])


def report_guard(fn: F) -> F:
    """A report writer whose run folder's rows do not have the shape it reads (a missing key, a
    string where a number belongs, a damaged unit) fails with a ConfigError naming results.jsonl,
    before any report file is replaced (every writer computes its pages first, then writes)."""

    @functools.wraps(fn)
    def wrapper(run_dir: str | Path, *args: Any, **kwargs: Any) -> Any:
        from privemo.errors import ConfigError

        try:
            return fn(run_dir, *args, **kwargs)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as exc:
            what = f"missing key {exc}" if isinstance(exc, KeyError) else f"{type(exc).__name__}: {exc}"
            raise ConfigError(f"{Path(run_dir) / 'results.jsonl'}: rows do not have the shape this report "
                              f"reads ({what}); re-run the experiment to rebuild them") from None

    return wrapper  # type: ignore[return-value]


def run_config_data(run_dir: str | Path) -> dict[str, Any]:
    """The run folder's ``config.yaml`` as a mapping ({} where there is none); a damaged one is a
    ConfigError naming it."""
    from privemo.errors import ConfigError
    from privemo.experiments.config import read_yaml

    path = Path(run_dir) / "config.yaml"
    if not path.is_file():
        return {}
    data, _ = read_yaml(path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: not a mapping of keys")
    return data


def changed_keys(old: Any, new: Any, prefix: str = "") -> list[str]:
    """The dotted keys whose values differ between two parsed configurations."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for k in sorted(set(old) | set(new), key=str):
            out += changed_keys(old.get(k), new.get(k), f"{prefix}.{k}" if prefix else str(k))
        return out
    return [] if json.dumps(_clean(old), sort_keys=True, default=str) == json.dumps(_clean(new), sort_keys=True,
                                                                                   default=str) else [prefix or "<all>"]



def reusable_units(store: ResultStore, specs: dict[str, dict[str, Any]], old_specs: dict[str, dict[str, Any]],
                   force: bool = False, drop: Callable[[str], None] | None = None,
                   log: Callable[[str], None] | None = None,
                   resolve: Callable[[dict[str, Any], str], dict[str, Any]] | None = None) -> set[str]:
    """The finished units of ``store`` that still mean what ``specs`` (every unit's full resolved
    configuration; the store adds the code version) asks for. A finished unit whose recorded configuration (its ``unit_specs/`` file,
    or for an older run folder that recorded none, ``old_specs`` computed from its config.yaml)
    differs is a ConfigError naming the unit and the changed keys, or with ``force`` is dropped
    (``drop(key)``, default ``store.drop``) to be redone. A unit no longer asked for is kept, not
    reported on. ``resolve(recorded, key)`` fills in a recorded configuration's defaults before it is
    compared (one recorded before its job spelled them out)."""
    from privemo.errors import ConfigError

    drop = drop or store.drop
    keep: set[str] = set()
    for key in sorted(store.done()):
        if key not in specs:
            keep.add(key)
            continue
        recorded = store.spec(key)
        if recorded is None:
            recorded = old_specs.get(key)
        if recorded is not None and resolve is not None:
            recorded = {**resolve({k: v for k, v in recorded.items() if k != "code"}, key),
                        **({"code": recorded["code"]} if "code" in recorded else {})}
        # the code version the store records with each unit (an older run folder recorded none)
        want = {**specs[key], "code": code_version()} if recorded and "code" in recorded else specs[key]
        changed = changed_keys(recorded, want) if recorded is not None else []
        if not changed:
            keep.add(key)
        elif force:
            if log:
                log(f"{key}: configuration changed ({', '.join(changed[:4])}); redoing it (--force)")
            drop(key)
        else:
            raise ConfigError(f"{store.run_dir}: unit {key} was run with another configuration "
                              f"({', '.join(changed[:4])} changed); re-run with --force to redo the changed "
                              "units, or choose another --out")
    return keep


def code_version() -> str:
    """What a unit records as the code that computed it."""
    from privemo import __version__

    return __version__
