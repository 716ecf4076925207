"""``privemo evaluate face CONFIG``: narula-2020's table under both protocols and the face anonymizers
side by side, on one corpus's aligned face crops; resumable (one unit per protocol x fold, and one
per anonymizer).

The run folder holds ``config.yaml``, ``units/*.json``, ``results.jsonl`` (rows with ``part``
"narula" or "anonymizer"), ``examples/`` (a strip of faces per method) and ``report.md`` / ``.html``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import yaml

from privemo._files import inside
from privemo.anonymize.face import FaceAnonymizer, create_face_anonymizer
from privemo.errors import ConfigError
from privemo.executors import make_executor
from privemo.experiments.config import EXECUTOR_KEYS, corpus_root
from privemo.experiments.evaluation import Evaluation
from privemo.experiments.face.config import FaceEvalConfig, FaceMethodConfig
from privemo.experiments.face.data import FaceSet, augmented, load_faces
from privemo.experiments.face.narula import narula_unit, protocol_folds
from privemo.experiments.store import atomic_write
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
            methods = [{"name": "original", "anonymizer": {"type": "face_original"}}, *(table.get("methods") or [])]
            for m in methods:
                if isinstance(m, dict) and "name" in m:
                    specs[f"anonymizer__{m['name']}"] = {"shared": shared, "table": settings, "method": m}
        return specs

    def run(self, parts: list[str] | None = None, force: bool = False) -> dict[str, Any]:
        cfg = self.cfg
        done, self._specs = self.reusable(force)  # before config.yaml is replaced
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.run_dir / "config.yaml", yaml.safe_dump(cfg.model_dump(), sort_keys=False))
        torch.manual_seed(cfg.seed)
        faces = self.faces()
        self.log(f"{cfg.corpus.type}: {len(faces)} faces, {len(set(faces.subject.tolist()))} subjects, "
                 f"emotions {sorted(set(faces.emotion.tolist()))}; detector found {faces.found.mean():.0%}")
        if cfg.narula is not None and (not parts or "narula" in parts):
            data = augmented(faces, cfg.augment, cfg.seed)
            for protocol, k in cfg.narula.protocols.items():
                folds = protocol_folds(data, protocol, k, cfg.seed)
                for f in range(k):
                    key = f"narula__{protocol}__fold{f}"
                    if key in done:
                        continue
                    row = narula_unit(data, protocol, f, folds, cfg.narula, cfg.seed, self.log)
                    self.store.write_unit(key, [{"part": "narula", **row}], self._specs.get(key))
        if cfg.anonymizers is not None and (not parts or "anonymizers" in parts):
            self._anonymizers(faces, done)
        from privemo.experiments.face.report import write_face_report

        return write_face_report(self.run_dir)

    def _anonymizers(self, faces: FaceSet, done: set[str]) -> None:
        from privemo.experiments.face.anonymizers import AnonymizerTable

        cfg, acfg = self.cfg, self.cfg.anonymizers
        assert acfg is not None
        data = augmented(faces, acfg.augment, cfg.seed)
        channels = tuple(cfg.narula.channels) if cfg.narula else (16, 32, 64)
        methods = [FaceMethodConfig(name="original", anonymizer={"type": "face_original"}), *acfg.methods]
        todo = [m for m in methods if f"anonymizer__{m.name}" not in done]
        if not todo:
            return
        # the crops are transformed on the executor (the fitted anonymizer sent once); the rest runs here
        executor = make_executor(cfg.executor, cfg.workers, cfg.ray_address)
        self.log(f"face anonymizers transform on {executor.describe()}")
        table = AnonymizerTable(data, acfg, cfg.seed, channels, self.log, executor)
        with executor.running():
            for m in todo:
                key = f"anonymizer__{m.name}"
                anonymizer = create_face_anonymizer({"seed": cfg.seed, **m.anonymizer})
                self.log(f"{m.name}: {anonymizer.config()}")
                t0 = time.perf_counter()
                row = table.method(m.name, anonymizer)
                self._examples(m.name, anonymizer, data)
                self.log(f"{m.name}: done in {time.perf_counter() - t0:.0f} s")
                self.store.write_unit(key, [{"part": "anonymizer", **row}], self._specs.get(key))

    def _examples(self, name: str, anonymizer: FaceAnonymizer, data: FaceSet, n: int = 6) -> None:
        """A strip of ``n`` faces (one per subject where possible), as this method leaves them."""
        originals = np.flatnonzero(data.source == np.arange(len(data)))
        _, first = np.unique(data.subject[originals], return_index=True)
        pick = originals[np.sort(first)[:n]]
        out = anonymizer.transform_batch(data.images[pick], list(data.item_id[pick]))
        write_image(inside(self.run_dir, "examples", f"{name}.png"), np.concatenate(list(out), axis=1))
