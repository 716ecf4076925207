"""What the method-by-method evaluations (voice, face, PPRL-VGAN, audio-visual) share: their config,
run folder, data root, feature cache, progress callback ``(label, done, total[, detail])``, log, the
run folder's results store, and the resume guard (a finished unit is reused only while its recorded
configuration is the one asked for)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from privemo.experiments.store import ResultStore, reusable_units, run_config_data
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

    def unit_specs(self, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Each unit's full configuration, from a config mapping (``model_dump()`` of this kind)."""
        raise NotImplementedError

    def reusable(self, force: bool = False) -> tuple[set[str], dict[str, dict[str, Any]]]:
        """The finished units that still mean what the config asks for, and every unit's configuration
        (to record with the units this run writes). A unit whose configuration
        changed (a method's parameters under the same name, or a setting every unit depends on) is a
        ConfigError naming the unit and the changed keys, or with ``force`` is dropped to be redone.
        Call before the run folder's config.yaml is replaced: a unit of an older run folder that
        recorded no configuration is judged by that file."""
        specs = self.unit_specs(self.cfg.model_dump(mode="json"))
        if not self.store.done():
            return set(), specs
        old_cfg = run_config_data(self.run_dir)
        old_specs = self.unit_specs(old_cfg) if old_cfg else {}
        return reusable_units(self.store, specs, old_specs, force, self.drop_unit, self.log), specs

    def drop_unit(self, key: str) -> None:
        """Forget a finished unit and what it wrote, so that it is redone."""
        self.store.drop(key)

