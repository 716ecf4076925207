"""The results store of a run folder: one file per finished unit, and results.jsonl built from them.

``runs/<name>/units/<unit>.json`` is written to a temporary name and renamed once the unit is done,
so a unit is either finished (and never redone on resume) or absent. ``results.jsonl`` is rebuilt
(atomically) from the unit files after each unit.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import Any

from privemo._files import mkstemp_public


def atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = mkstemp_public(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        return {p.stem for p in self.units.glob("*.json")}

    def write_unit(self, key: str, rows: list[dict[str, Any]]) -> None:
        atomic_write(self.units / f"{key}.json", json.dumps(_clean(rows)))
        self.rebuild()

    def rows(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        if self.units.is_dir():
            for p in sorted(self.units.glob("*.json")):
                out.extend(json.loads(p.read_text()))
        return out

    def rebuild(self) -> None:
        atomic_write(self.run_dir / "results.jsonl", "".join(json.dumps(r) + "\n" for r in self.rows()))


def read_results(run_dir: str | Path) -> list[dict[str, Any]]:
    path = Path(run_dir) / "results.jsonl"
    if not path.is_file():
        from privemo.errors import ConfigError

        raise ConfigError(f"{path}: no results in this run folder (run the experiment first)")
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
