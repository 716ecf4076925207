"""``privemo vgan train|evaluate|figures CONFIG``: PPRL-VGAN (chen-2018) trained on one corpus's face
crops and judged as in §5.3-5.4, resumable.

The run folder holds ``config.yaml``, ``checkpoint.pt`` (training state, written every
``checkpoint_every`` iterations), ``model.pt`` (the trained model, for ``privemo anonymize face -m
face_vgan --model``), ``units/*.json`` and ``results.jsonl`` (one row per scenario), ``figures/*.png``
and ``report.md`` / ``report.html``.

Data (§5.1): the corpus's emotion-labelled images as aligned crops; ``test_fraction`` of each subject's
images of each expression held out for testing, the rest train the model and every attacker. With
``left_out``, one subject's images of one expression are kept out of everything (§5.5's left-out
expression synthesis shows them only as ground truth).
"""

from __future__ import annotations

import io
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from privemo._files import atomic_path
from privemo.corpora.splits import stratified_holdout
from privemo.errors import ConfigError
from privemo.executors import Executor, make_executor
from privemo.experiments.config import corpus_root
from privemo.experiments.evaluation import Evaluation, Planned
from privemo.experiments.store import atomic_write, run_config_data
from privemo.experiments.vgan.config import VganEvalConfig
from privemo.features.faceset import FaceSet, load_faces
from privemo.learners.vgan import Vgan, VganConfig

# the settings that choose the faces and their split (a run folder keeps one)
DATA_KEYS = ("corpus", "emotions", "size", "color", "detect", "test_fraction", "split", "seed", "left_out")
UNITS = ("unconstrained", "scenario_II", "scenario_III", "pretrained", "replacement")


@dataclass
class VganData:
    train: FaceSet
    test: FaceSet
    left_out: FaceSet  # the left-out subject x expression (empty without left_out)
    identities: list[str]
    expressions: list[str]

    def labels(self, part: FaceSet) -> tuple[np.ndarray, np.ndarray]:
        return (np.array([self.identities.index(s) for s in part.subject.tolist()], dtype=int),
                np.array([self.expressions.index(e) for e in part.emotion.tolist()], dtype=int))


def split(faces: FaceSet, cfg: VganEvalConfig) -> VganData:
    strata = faces.subject if cfg.split == "subject" else \
        np.array([f"{s}\x1f{e}" for s, e in zip(faces.subject, faces.emotion, strict=True)])
    held = np.zeros(len(faces), dtype=bool)
    if cfg.left_out is not None:
        held = (faces.subject == cfg.left_out.subject) & (faces.emotion == cfg.left_out.emotion)
        if not held.any():
            subjects = sorted(set(faces.subject.tolist()))
            raise ConfigError(f"left_out: no image of subject {cfg.left_out.subject!r} with emotion "
                              f"{cfg.left_out.emotion!r} in corpus {cfg.corpus.type} (subjects: "
                              f"{', '.join(subjects[:6])}{' ...' if len(subjects) > 6 else ''}; emotions: "
                              f"{', '.join(sorted(set(faces.emotion.tolist())))})")
    # whole recording groups (a CK+ sequence's near-identical frames) are held out, never split
    first = np.unique(faces.group, return_index=True)[1]
    heads = np.sort(first)
    test_head = stratified_holdout(strata[heads], cfg.test_fraction, cfg.seed)
    test = np.isin(faces.group, faces.group[heads[test_head]]) & ~held
    train = ~test & ~held
    identities = sorted(set(faces.subject[train].tolist()))
    expressions = sorted(set(faces.emotion[train].tolist()))
    if len(identities) < 2 or len(expressions) < 2:
        raise ConfigError(f"corpus {cfg.corpus.type}: PPRL-VGAN needs at least 2 subjects and 2 emotions to train on")
    if not test.any():
        raise ConfigError(f"corpus {cfg.corpus.type}: no test images (each subject x emotion needs 2 or more images; "
                          "`split: subject` holds out per subject instead)")
    return VganData(faces.take(np.flatnonzero(train)), faces.take(np.flatnonzero(test)),
                    faces.take(np.flatnonzero(held)), identities, expressions)


class VganExperiment(Evaluation):
    cfg: VganEvalConfig
    _data: VganData | None = None

    @property
    def model_path(self) -> Path:
        return self.run_dir / "model.pt"

    def data(self) -> VganData:
        if self._data is None:
            cfg = self.cfg
            faces, _ = load_faces(cfg.corpus.type, corpus_root(cfg.corpus, self.data_root), dict(cfg.corpus.options),
                                  cfg.emotions, cfg.size, cfg.color, self.cache, cfg.detect,
                                  progress=lambda i, n: self.progress("face crops", i, n))
            self._data = split(faces, cfg)
            d = self._data
            self.log(f"{cfg.corpus.type}: {len(d.train)} train / {len(d.test)} test faces, {len(d.identities)} "
                     f"subjects, expressions {d.expressions}" + (f", {len(d.left_out)} left out" if len(d.left_out) else ""))
        return self._data

    _trained: int | None = None  # the iterations the loaded model was trained for

    def unit_specs(self, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """The training unit depends on the data settings and the model's recipe (with the iterations
        the model was trained for, which ``vgan train --iterations`` may extend); every scenario unit
        on those and the attackers' settings."""
        data = {k: cfg.get(k) for k in DATA_KEYS}
        model = {k: v for k, v in (cfg.get("model") or {}).items() if k != "checkpoint_every"}
        if self._trained is not None:
            model["iterations"] = self._trained
        training = {"data": data, "model": model}
        attacks = dict(cfg.get("attacks") or {})
        codes = attacks.pop("pretrained_codes", 0)
        specs = {u: {**training, "attacks": attacks} for u in UNITS}  # the others never read it
        if codes:  # at its default it stays out, so older pretrained units stay valid
            specs["pretrained"] = {**training, "attacks": {**attacks, "pretrained_codes": codes}}
        return {"training": training, **specs}

    def config_text(self) -> str:
        """The config, refused where this run folder holds a run on other data."""
        path = self.run_dir / "config.yaml"
        text = yaml.safe_dump(self.cfg.model_dump(), sort_keys=False)
        if path.is_file():
            old = run_config_data(self.run_dir)
            mine = yaml.safe_load(text)
            for part in DATA_KEYS:
                default = VganEvalConfig.model_fields[part].default  # a key older runs did not write
                if old.get(part, default) != mine.get(part):
                    raise ConfigError(f"{path}: this run folder holds a run on other data ({part} differs); "
                                      "choose another --out or remove the folder")
        return text

    def _write_config(self) -> None:
        text = self.config_text()
        self.run_dir.mkdir(parents=True, exist_ok=True)
        atomic_write(self.run_dir / "config.yaml", text)

    # ----- training -------------------------------------------------------------------------------
    def train(self) -> Vgan:
        """Train (or resume, or load the finished model)."""
        d = self.data()  # bad data fails before the run folder is touched
        self._write_config()
        vcfg = self.cfg.vgan_config()
        if self.model_path.is_file():
            model = Vgan().load(self.model_path)
            if model.iteration_ >= vcfg.iterations and model.config.recipe() == vcfg.recipe():
                return model
        t0 = time.perf_counter()
        last = [t0]

        def prog(i: int, n: int, row: dict[str, float]) -> None:
            self.progress("PPRL-VGAN training", i, n, f"D {row['d_loss']:.3f} G {row['g_loss']:.3f} "
                          f"(id {row['g_identity']:.3f} expr {row['g_expression']:.3f} KL {row['kl']:.1f})")
            if time.perf_counter() - last[0] > 60 or i == n:
                last[0] = time.perf_counter()
                self.log(f"iteration {i}/{n}: D {row['d_loss']:.3f} (real/fake {row['d_real_fake']:.3f}, id "
                         f"{row['d_identity']:.3f}, expr {row['d_expression']:.3f}); G {row['g_loss']:.3f} (real/fake "
                         f"{row['g_real_fake']:.3f}, id {row['g_identity']:.3f}, expr {row['g_expression']:.3f}, "
                         f"KL {row['kl']:.2f})")

        try:
            if self.cfg.executor == "ray":
                model = self._train_on_executor(d, vcfg, prog)
            else:
                model = Vgan(vcfg).fit(d.train.images, d.train.subject, d.train.emotion,
                                       self.run_dir / "checkpoint.pt", prog)
        except ValueError as exc:  # a checkpoint of another config or data, a bad model file
            raise ConfigError(str(exc)) from exc
        model.save(self.model_path, training=False)
        self.log(f"trained {model.iteration_} iterations in {model.seconds_:.0f} s of training "
                 f"({time.perf_counter() - t0:.0f} s this session)")
        return model

    def executor(self) -> Executor:
        return make_executor(self.cfg.executor, self.cfg.workers, self.cfg.ray_address)

    def _train_on_executor(self, d: VganData, vcfg: VganConfig, prog: Callable[[int, int, dict[str, float]], None]
                           ) -> Vgan:
        """Training as a chain of tasks of ``checkpoint_every`` iterations on the executor: each task
        gets the checkpoint's bytes and the training faces, returns the next checkpoint's bytes, which
        this process writes (so resume works as locally, and no worker needs the run folder).
        Resuming from a checkpoint continues training exactly (tested), so the model is the one the
        local executor trains."""
        ckpt = self.run_dir / "checkpoint.pt"
        state: bytes | None = None
        model: Vgan | None = None
        if ckpt.is_file():  # another recipe or other data: named here, before any task starts
            model = Vgan(vcfg).load(ckpt, resume=True).check_data(d.train.images, d.train.subject,
                                                                   d.train.emotion, ckpt)
            state = ckpt.read_bytes()
        shared = (d.train.images, d.train.subject, d.train.emotion, asdict(vcfg))
        executor = self.executor()
        self.log(f"training on {executor.describe()}, {vcfg.checkpoint_every} iterations per task")
        with executor.running():
            while model is None or model.iteration_ < vcfg.iterations:
                done = model.iteration_ if model is not None else 0
                until = min(vcfg.iterations, (done // vcfg.checkpoint_every + 1) * vcfg.checkpoint_every)
                state = next(iter(executor.imap(_train_segment, shared, [(state, until)])))
                with atomic_path(ckpt) as tmp:
                    tmp.write_bytes(state)
                model = Vgan(vcfg).load(ckpt, resume=True)
                if model.history_:
                    prog(model.iteration_, vcfg.iterations, model.history_[-1])
        return model

    # ----- evaluation -----------------------------------------------------------------------------
    def evaluate(self, force: bool = False) -> dict[str, Any]:
        """Train if needed, then every scenario unit not finished yet; a finished unit whose
        configuration changed (the attackers' settings, a model trained longer) is refused naming
        the key, or with ``force`` redone."""
        return self.run(None, force)

    def run(self, only: list[str] | None = None, force: bool = False) -> dict[str, Any]:
        """Train (or resume, or load the trained model), then the scenario units."""
        self._model = self.train()
        self._trained = self._model.iteration_
        return super().run(only, force)

    def plan(self) -> list[Planned]:
        from privemo.attacks import vgan as scenarios

        skip = not (self.cfg.attacks.pretrained and scenarios.dlib_available())
        return [Planned("training"), *(Planned(u) for u in UNITS if not (u == "pretrained" and skip))]

    def choices(self) -> list[str]:
        return []

    @contextmanager
    def session(self) -> Iterator[dict[str, Any]]:
        """The data; the scenarios' judge, or with Ray every scenario left as a task (the model's bytes
        and the faces sent to the workers once), made when the first scenario needs them."""
        yield {"data": self.data()}

    def unit(self, key: str, shared: dict[str, Any]) -> list[dict[str, Any]]:
        from privemo.attacks import vgan as scenarios

        model, d = self._model, shared["data"]
        if key == "training":
            n_img = len(d.train) * (2 if model.config.flip else 1)
            return [{"unit": "training", "iterations": model.iteration_, "seconds": model.seconds_,
                     "images_per_s": model.iteration_ * model.config.batch * (1 + model.config.g_steps)
                     / max(model.seconds_, 1e-9),
                     "train_images": n_img, "final": model.history_[-1] if model.history_ else {},
                     "threads": torch.get_num_threads()}]
        if "judge" not in shared:
            shared["judge"] = scenarios.Judge(model, d, self.cfg.attacks, self.cfg.seed, self.log,
                                              lambda label, i, n: self.progress(label, i, n))
        rows = getattr(shared["judge"], key)()
        return [{"unit": key, **r} for r in rows]

    def execute(self, todo: list[str], shared: dict[str, Any]) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """With Ray, every scenario a task (the model's bytes and the faces sent to the workers once)."""
        if self.cfg.executor != "ray":
            yield from super().execute(todo, shared)
            return
        if "training" in todo:
            yield "training", self.unit("training", shared)
        scen = [k for k in todo if k != "training"]
        if scen:
            executor = self.executor()
            self.log(f"scenarios {', '.join(scen)} on {executor.describe()}")
            blob = _model_bytes(self._model)
            for unit, rows, _ in executor.imap(_scenario_unit, (blob, shared["data"], self.cfg.attacks, self.cfg.seed),
                                               scen):
                yield unit, [{"unit": unit, **r} for r in rows]

    def report(self) -> dict[str, Any]:
        from privemo.experiments.vgan.report import write_vgan_report

        self.figures(self._model)
        return write_vgan_report(self.run_dir)

    def figures(self, model: Vgan | None = None) -> list[Path]:
        from privemo.experiments.vgan.figures import draw_figures

        model = model or self.train()
        return draw_figures(model, self.data(), self.run_dir / "figures", self.cfg.seed)


# -- work units on the executor (module level: the workers import them) ----------------------------
def _train_segment(shared: tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]],
                   item: tuple[bytes | None, int]) -> bytes:
    """Train from the checkpoint ``state`` (None: from scratch) up to iteration ``until``; the new
    checkpoint's bytes."""
    images, subjects, emotions, config = shared
    state, until = item
    with tempfile.TemporaryDirectory(prefix="privemo-vgan-") as tmp:
        ckpt = Path(tmp) / "checkpoint.pt"
        if state is not None:
            ckpt.write_bytes(state)
        Vgan(VganConfig(**{**config, "iterations": until})).fit(images, subjects, emotions, ckpt)
        return ckpt.read_bytes()


def _model_bytes(model: Vgan) -> bytes:
    buf = io.BytesIO()
    torch.save(model.state(training=False), buf)
    return buf.getvalue()


def _scenario_unit(shared: tuple[bytes, VganData, Any, int], unit: str) -> tuple[str, list[dict[str, Any]], float]:
    from privemo.attacks import vgan as scenarios

    blob, data, attacks, seed = shared
    t0 = time.perf_counter()
    judge = scenarios.Judge(Vgan().load(io.BytesIO(blob)), data, attacks, seed, lambda m: None,
                            lambda label, i, n: None)
    return unit, getattr(judge, unit)(), time.perf_counter() - t0
