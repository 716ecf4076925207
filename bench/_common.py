"""What the benchmarks share: their command-line basics and the corpus they measure on."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

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
