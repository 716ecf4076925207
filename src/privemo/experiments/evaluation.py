"""The one run loop every job shares (voice, face, audio-visual, PPRL-VGAN, federated): its config,
run folder, data root, feature cache, progress callback ``(label, done, total[, detail])``, log, the
run folder's results store, the resume guard (a finished unit is reused only while its recorded
configuration is the one asked for), and the loop itself (:meth:`Evaluation.run`).

A job says only what is its own: its units in order (:meth:`Evaluation.plan`), what they share
(:meth:`Evaluation.session`, entered only when a unit is left to do), one unit's rows
(:meth:`Evaluation.unit`) and its report (:meth:`Evaluation.report`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from privemo.errors import ConfigError
from privemo.experiments.store import ResultStore, atomic_write, reusable_units, run_config_data
from privemo.features import FeatureCache


@dataclass(frozen=True)
class Planned:
    """One unit of a run: its key in the store, and the name a selection (``--method``, ``--part``)
    picks it by (None: it always runs, as the reference every other unit is judged against); ``also``:
    other names that pick it (a face anonymizer's method name, beside its part)."""

    key: str
    choice: str | None = None
    also: tuple[str, ...] = ()

    def picked(self, only: list[str]) -> bool:
        return not only or self.choice is None or self.choice in only or bool(set(self.also) & set(only))


class Evaluation:
    cfg: Any
    #: the command-line option that selects units (its choices are :meth:`choices`)
    select_option = "--method"

    def __init__(self, cfg: Any, run_dir: str | Path, data_root: Path, cache: FeatureCache | None = None,
                 progress: Callable[..., None] | None = None, log: Callable[[str], None] | None = None) -> None:
        self.cfg, self.run_dir, self.data_root = cfg, Path(run_dir), data_root
        self.cache = cache or FeatureCache()
        self.progress = progress or (lambda *a: None)
        self.log = log or (lambda msg: None)
        self.store = ResultStore(self.run_dir)
        self.store.clean()  # an interrupted run's temporary files (never a finished unit)
        self.specs: dict[str, dict[str, Any]] = {}

    # ---- what a job says about itself -----------------------------------------------------------
    def unit_specs(self, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Each unit's full configuration, from a config mapping (``model_dump()`` of this kind)."""
        raise NotImplementedError

    def plan(self) -> list[Planned]:
        """Every unit of this config, in the order they run (from the config alone: no data read)."""
        raise NotImplementedError

    def choices(self) -> list[str]:
        """The names a selection may give (an always-run unit's own key among them)."""
        return sorted({n for p in self.plan() for n in (p.choice or p.key, *p.also)})

    @contextmanager
    def session(self) -> Iterator[Any]:
        """What the units to do share (the corpus, the reference side, an executor), entered once."""
        yield None

    def unit(self, key: str, shared: Any) -> list[dict[str, Any]]:
        """The rows of the unit ``key``."""
        raise NotImplementedError

    def execute(self, todo: list[str], shared: Any) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """(key, rows) of each unit of ``todo`` as it finishes: one after another here; a job whose
        units can run on an executor (Ray) hands them out there instead."""
        for key in todo:
            yield key, self.unit(key, shared)

    def report(self) -> dict[str, Any]:
        raise NotImplementedError

    def config_text(self) -> str:
        """What ``config.yaml`` records (refusing, where the job has such settings, a folder of other data)."""
        return yaml.safe_dump(self.cfg.model_dump(), sort_keys=False)

    # ---- the loop ---------------------------------------------------------------------------------
    def run(self, only: list[str] | None = None, force: bool = False) -> dict[str, Any]:
        """Every planned unit not finished yet (of the selected ones, with ``only``), then the report.
        A finished unit whose configuration changed is refused naming the key, or with ``force``
        redone; a selection naming no unit is refused before any work."""
        only = list(only or [])
        plan = self.plan()
        unknown = sorted(set(only) - set(self.choices()))
        if unknown:
            raise ConfigError(f"{self.select_option}: {unknown} not among the config's choices "
                              f"({', '.join(self.choices())})")
        done, self.specs = self.reusable(force)  # before config.yaml is replaced
        text = self.config_text()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.run_dir / "config.yaml", text)
        todo = [p.key for p in plan if p.key not in done and p.picked(only)]
        if len(done) and todo:
            self.log(f"resuming: {len(set(done) & {p.key for p in plan})} of {len(plan)} units already done")
        if todo:
            with self.session() as shared:
                t0 = time.perf_counter()
                for j, (key, rows) in enumerate(self.execute(todo, shared)):
                    self.store.write_unit(key, rows, self.specs.get(key))
                    self.log(f"{key}: done in {time.perf_counter() - t0:.0f} s")
                    self.progress("units", j + 1, len(todo))
                    t0 = time.perf_counter()
        return self.report()

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
        old_cfg = self.old_config()
        try:
            old_specs = self.unit_specs(old_cfg) if old_cfg else {}
        except (ConfigError, KeyError, TypeError, ValueError, AttributeError):
            old_specs = {}  # a config file this job cannot read: judged by the units' own records
        return reusable_units(self.store, specs, old_specs, force, self.drop_unit, self.log,
                              self.resolve_recorded), specs

    def resolve_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """A unit's configuration with its components' defaults filled in (as :meth:`unit_specs`
        records it); a recorded one is resolved the same way before it is compared."""
        return spec

    def resolve_recorded(self, spec: dict[str, Any], key: str) -> dict[str, Any]:
        """The configuration the finished unit ``key`` recorded, ``spec``, resolved to compare with
        today's (by default :meth:`resolve_spec`; a job whose rows record what ran may read them)."""
        return self.resolve_spec(spec)

    def old_config(self) -> dict[str, Any]:
        """The run folder's config.yaml as a mapping (empty where there is none)."""
        return run_config_data(self.run_dir)

    def drop_unit(self, key: str) -> None:
        """Forget a finished unit and what it wrote, so that it is redone."""
        self.store.drop(key)
