"""``privemo evaluate face CONFIG``: narula-2020's table under both protocols and the face anonymizers
side by side, on one corpus's aligned face crops; resumable (one unit per protocol x fold, and one
per anonymizer).

The run folder holds ``config.yaml``, ``units/*.json``, ``results.jsonl`` (rows with ``part``
"narula" or "anonymizer"), ``examples/`` (a strip of faces per method) and ``report.md`` / ``.html``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

import numpy as np
import torch

from privemo._files import inside
from privemo.anonymize.face import FaceAnonymizer, create_face_anonymizer
from privemo.errors import ConfigError
from privemo.executors import make_executor
from privemo.experiments.config import EXECUTOR_KEYS, corpus_root
from privemo.experiments.evaluation import Evaluation, Planned
from privemo.experiments.face.config import FaceEvalConfig, FaceMethodConfig
from privemo.experiments.media import resolved_anonymizer
from privemo.features.faceset import FaceSet, augmented, load_faces
from privemo.learners.narula import narula_unit, protocol_folds
from privemo.media import write_image

# narula options added after runs were recorded, with the values those runs had
NARULA_LATER = {"reinit_identity": False, "select": "last", "valid_folds": 5}


class FaceEvaluation(Evaluation):
    cfg: FaceEvalConfig

    def faces(self) -> FaceSet:
        cfg = self.cfg
        faces, _ = load_faces(cfg.corpus.type, corpus_root(cfg.corpus, self.data_root), dict(cfg.corpus.options),
                              cfg.emotions, cfg.size, cfg.color, self.cache, cfg.detect,
                              progress=lambda i, n: self.progress("face crops", i, n), detector=cfg.detector)
        if cfg.subjects != "all":
            ordered = sorted(set(faces.subject.tolist()))
            faces = faces.originals_of(ordered[0 if cfg.subjects == "even" else 1::2])
        if len(set(faces.subject.tolist())) < 2 or len(set(faces.emotion.tolist())) < 2:
            raise ConfigError(f"corpus {cfg.corpus.type}: needs at least 2 subjects and 2 emotions")
        return faces

    def unit_specs(self, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """narula's units depend on its settings, an anonymizer's on the table's settings and its method;
        both on the shared face settings (corpus, crops, augmentation, seed)."""
        shared = {k: v for k, v in cfg.items() if k not in ("name", "narula", "anonymizers", *EXECUTOR_KEYS)}
        specs: dict[str, dict[str, Any]] = {}
        narula = cfg.get("narula")
        if isinstance(narula, dict):  # options added later count only when set (older units stay valid)
            narula = {k: v for k, v in narula.items() if k not in NARULA_LATER or v != NARULA_LATER[k]}
            for protocol, k in (narula.get("protocols") or {}).items():
                for f in range(int(k) if isinstance(k, int) else 0):
                    specs[f"narula__{protocol}__fold{f}"] = {"shared": shared, "narula": narula}
        table = cfg.get("anonymizers")
        if isinstance(table, dict):
            settings = {k: v for k, v in table.items() if k != "methods"}
            if settings.get("judges", None) is None:  # the default (older units recorded no such key)
                settings.pop("judges", None)
            methods = [{"name": "original", "anonymizer": {"type": "face_original"}}, *(table.get("methods") or [])]
            for m in methods:
                if isinstance(m, dict) and "name" in m:
                    specs[f"anonymizer__{m['name']}"] = self.resolve_spec(
                        {"shared": shared, "table": settings, "method": m})
        return specs

    def resolve_spec(self, spec: dict[str, Any]) -> dict[str, Any]:
        """An anonymizer unit's method with every parameter of its anonymizer spelled out, as the unit
        creates it (the run's seed, the defaults), so a changed default under an unchanged method name
        is a changed unit."""
        method, shared = spec.get("method"), spec.get("shared")
        if not isinstance(method, dict) or not isinstance(method.get("anonymizer"), dict):
            return spec
        seed = shared.get("seed", 0) if isinstance(shared, dict) else 0
        return {**spec, "method": {**method, "anonymizer": resolved_anonymizer({"seed": seed, **method["anonymizer"]})}}

    def resolve_recorded(self, spec: dict[str, Any], key: str) -> dict[str, Any]:
        """A finished anonymizer unit's row names the anonymizer it ran with every parameter (since
        before units recorded their configuration): that, with parameters added since at their
        defaults, is what the unit means, whatever the defaults are today."""
        spec = self.resolve_spec(spec)
        method = spec.get("method")
        if key.startswith("anonymizer__") and isinstance(method, dict):
            try:
                rows = json.loads(inside(self.store.units, f"{key}.json").read_text())
                ran = rows[0]["anonymizer"]
            except (OSError, ValueError, KeyError, IndexError, TypeError):
                return spec
            if isinstance(ran, dict) and ran.get("type") == method["anonymizer"].get("type"):
                return {**spec, "method": {**method, "anonymizer": resolved_anonymizer(ran)}}
        return spec

    select_option = "--part or --method"

    def plan(self) -> list[Planned]:
        cfg = self.cfg
        units = [] if cfg.narula is None else [
            Planned(f"narula__{protocol}__fold{f}", "narula") for protocol, k in cfg.narula.protocols.items()
            for f in range(k)]
        if cfg.anonymizers is not None:
            names = [m.name for m in cfg.anonymizers.methods]  # a method's name picks it and the original
            units += [Planned("anonymizer__original", "anonymizers", tuple(names)),
                      *(Planned(f"anonymizer__{name}", "anonymizers", (name,)) for name in names)]
        return units

    def choices(self) -> list[str]:
        methods = [] if self.cfg.anonymizers is None else [m.name for m in self.cfg.anonymizers.methods]
        return ["anonymizers", "narula", *methods]

    @contextmanager
    def session(self) -> Iterator[dict[str, Any]]:
        """The faces; narula's augmented data and folds, and the anonymizer table with its executor,
        made when a unit first needs them."""
        cfg = self.cfg
        torch.manual_seed(cfg.seed)
        faces = self.faces()
        self.log(f"{cfg.corpus.type}: {len(faces)} faces, {len(set(faces.subject.tolist()))} subjects, "
                 f"emotions {sorted(set(faces.emotion.tolist()))}; detector found {faces.found.mean():.0%}")
        with ExitStack() as stack:
            yield {"faces": faces, "stack": stack}

    def unit(self, key: str, shared: dict[str, Any]) -> list[dict[str, Any]]:
        cfg = self.cfg
        part, rest = key.split("__", 1)
        if part == "narula":
            assert cfg.narula is not None
            protocol, fold = rest.rsplit("__fold", 1)
            if "narula" not in shared:
                shared["narula"] = augmented(shared["faces"], cfg.augment, cfg.seed)
            data = shared["narula"]
            if protocol not in shared:
                shared[protocol] = protocol_folds(data, protocol, cfg.narula.protocols[protocol], cfg.seed)
            row = narula_unit(data, protocol, int(fold), shared[protocol], cfg.narula, cfg.seed, self.log)
            return [{"part": "narula", **row}]
        if "table" not in shared:
            shared["table"] = self._table(shared["faces"], shared["stack"])
        table = shared["table"]
        assert cfg.anonymizers is not None
        methods = {m.name: m for m in cfg.anonymizers.methods}
        m = methods.get(rest) or FaceMethodConfig(name="original", anonymizer={"type": "face_original"})
        anonymizer = create_face_anonymizer({"seed": cfg.seed, **m.anonymizer})
        self.log(f"{m.name}: {anonymizer.config()}")
        row = table.method(m.name, anonymizer, cfg.anonymizers.judge_specs(), self.progress)
        self._examples(m.name, anonymizer, table.data)
        return [{"part": "anonymizer", **row}]

    def _table(self, faces: FaceSet, stack: ExitStack) -> Any:
        """The anonymizer table: its crops are transformed on the executor (the fitted anonymizer sent
        once); the rest runs here."""
        from privemo.attacks.face_table import AnonymizerTable

        cfg, acfg = self.cfg, self.cfg.anonymizers
        assert acfg is not None
        channels = tuple(cfg.narula.channels) if cfg.narula else (16, 32, 64)
        executor = make_executor(cfg.executor, cfg.workers, cfg.ray_address)
        self.log(f"face anonymizers transform on {executor.describe()}")
        stack.enter_context(executor.running())
        from privemo.anonymize.face_batch import anonymize_crops

        return AnonymizerTable(augmented(faces, acfg.augment, cfg.seed), acfg, cfg.seed, channels, self.log,
                               lambda anonymizer, images, keys: anonymize_crops(anonymizer, images, keys, executor))

    def report(self) -> dict[str, Any]:
        from privemo.experiments.face.report import write_face_report

        return write_face_report(self.run_dir)

    def _examples(self, name: str, anonymizer: FaceAnonymizer, data: FaceSet, n: int = 6) -> None:
        """A strip of ``n`` faces (one per subject where possible), as this method leaves them."""
        originals = np.flatnonzero(data.source == np.arange(len(data)))
        _, first = np.unique(data.subject[originals], return_index=True)
        pick = originals[np.sort(first)[:n]]
        out = anonymizer.transform_batch(data.images[pick], list(data.item_id[pick]))
        write_image(inside(self.run_dir, "examples", f"{name}.png"), np.concatenate(list(out), axis=1))
