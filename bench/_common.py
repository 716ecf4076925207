"""What the benchmarks share: their command-line basics and the corpus they measure on."""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default=str(ROOT.parent / "shared" / "data" / "ravdess"))
    ap.add_argument("--out", default=str(ROOT / "bench" / "results"))
    return ap


def corpus(root: str):
    """RAVDESS at ``root``, else (saying so) the synthetic demo corpus: (manifest, name)."""
    from privemo.corpora import load_ravdess, load_synthetic

    if Path(root).is_dir():
        return load_ravdess(root), "ravdess"
    print(f"RAVDESS not found at {root}: measuring on the synthetic demo corpus instead")
    return load_synthetic(media="audio"), "synthetic"


def machine() -> str:
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"


def write(out: str, name: str, report: dict[str, Any], lines: list[str]) -> None:
    """``report`` (plus python version and date) to ``<out>/<name>.json``, ``lines`` to ``<name>.md``,
    and print them."""
    report = {**report, "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.json").write_text(json.dumps(report, indent=1))
    (folder / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
