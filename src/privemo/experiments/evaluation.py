"""What the method-by-method evaluations (voice, face, PPRL-VGAN, audio-visual) share: their config,
run folder, data root, feature cache, progress callback ``(label, done, total[, detail])``, log, and
the run folder's results store."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from privemo.experiments.store import ResultStore
from privemo.features import FeatureCache


class Evaluation:
    cfg: Any

    def __init__(self, cfg: Any, run_dir: str | Path, data_root: Path, cache: FeatureCache | None = None,
                 progress: Callable[..., None] | None = None, log: Callable[[str], None] | None = None) -> None:
        self.cfg, self.run_dir, self.data_root = cfg, Path(run_dir), data_root
        self.cache = cache or FeatureCache()
        self.progress = progress or (lambda *a: None)
        self.log = log or (lambda msg: None)
        self.store = ResultStore(self.run_dir)
        self.store.clean()  # an interrupted run's temporary files (never a finished unit)
