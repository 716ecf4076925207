"""The experiment runner: folds x seeds x variants, resumable, in-process or on Ray.

For each variant the features of every item are computed once (cached on disk), optionally
z-normalised per speaker. Each unit (variant, fold, seed) then trains what the variant names on the
fold's training speakers (a learner: with its validation speakers for early stopping; no learner:
the pooled features are the representation), and runs every evaluator on (train, test) views.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import inside
from privemo.corpora import Manifest, load
from privemo.corpora.splits import Fold, MembershipSplit, attacker_split, membership_split, speaker_folds
from privemo.errors import ConfigError
from privemo.evaluators import View
from privemo.experiments.config import ExperimentConfig, corpus_root, data_root
from privemo.experiments.evaluation import Evaluation, Planned
from privemo.experiments.store import ResultStore, atomic_write, run_config_data
from privemo.features import FeatureCache, extract, get_extractor, pool, speaker_znorm
from privemo.learners import SeqData
from privemo.registry import create

Progress = Callable[[str, int, int], None]


@dataclass
class Unit:
    variant: str
    fold: int
    seed: int

    @property
    def key(self) -> str:
        return ResultStore.unit_key(self.variant, self.fold, self.seed)


def load_corpus(cfg: ExperimentConfig, root: Path, progress: Progress | None = None) -> Manifest:
    options = dict(cfg.corpus.options)
    if cfg.skip_bad:
        options.setdefault("skip_bad", True)
    manifest = load(cfg.corpus.type, corpus_root(cfg.corpus, root), **options)
    manifest = manifest.labelled(cfg.target)
    if cfg.labels:
        manifest = Manifest(manifest.df[manifest.df[cfg.target].isin(cfg.labels)], manifest.skipped)
    if len(manifest) == 0:
        raise ConfigError(f"corpus {cfg.corpus.type}: no items with a known {cfg.target!r} label")
    return manifest


class Runner(Evaluation):
    cfg: ExperimentConfig
    select_option = "--variant"

    def __init__(self, config: ExperimentConfig, out: str | Path | None = None, data: str | Path | None = None,
                 cache: FeatureCache | None = None, progress: Progress | None = None,
                 log: Callable[[str], None] | None = None) -> None:
        super().__init__(config, Path(out) if out else Path("runs") / config.name, data_root(data), cache,
                         progress, log)

    def unit_specs(self, cfg: dict[str, Any]) -> dict[str, dict[str, Any]]:
        """Each unit's full resolved configuration, from a config mapping: its variant (without the
        report's ``reference``), its seed and fold, every setting all units share (corpus, target,
        folds, evaluators, protocol...); the run's name and executor are not
        part of what a unit means."""
        shared = {k: v for k, v in cfg.items() if k not in ("name", "variants", "seeds", "executor", "ray_num_cpus",
                                                    "ray_address")}
        folds = cfg.get("folds") if isinstance(cfg.get("folds"), int) else 0
        specs: dict[str, dict[str, Any]] = {}
        for v in cfg.get("variants") or []:
            if not isinstance(v, dict) or "name" not in v:
                continue
            variant = {k: x for k, x in v.items() if k != "reference"}
            for seed in cfg.get("seeds") or [0]:
                for f in range(folds):
                    specs[ResultStore.unit_key(v["name"], f, seed)] = {
                        "shared": shared, "variant": variant, "seed": seed, "fold": f}
        return specs

    def reusable(self, force: bool = False) -> tuple[set[str], dict[str, dict[str, Any]]]:
        from privemo.executors import check_executor

        check_executor(self.cfg.executor, 1, self.cfg.ray_address)  # ray installed? before any work
        return super().reusable(force)

    def old_config(self) -> dict[str, Any]:
        """The run folder's config as this code reads it (defaults filled in), or its raw mapping."""
        from privemo.experiments.config import parse_config, read_yaml

        path = self.run_dir / "config.yaml"
        if not path.is_file():
            return {}
        try:
            return parse_config(*read_yaml(path)).model_dump(mode="json")
        except ConfigError:
            return run_config_data(self.run_dir)

    def config_text(self) -> str:
        return self.cfg.to_yaml()

    def drop_unit(self, key: str) -> None:
        self.store.drop(key)
        inside(self.run_dir / "checkpoints", f"{key}.pt").unlink(missing_ok=True)

    def units(self) -> list[Unit]:
        return [Unit(v.name, f, s) for v in self.cfg.variants for s in self.cfg.seeds for f in range(self.cfg.folds)]

    def plan(self) -> list[Planned]:
        return [Planned(u.key, u.variant) for u in self.units()]

    @contextmanager
    def session(self) -> Iterator[tuple[Manifest, list[Any]]]:
        """The corpus (its manifest kept in the run folder) and the folds of its protocol."""
        manifest = load_corpus(self.cfg, self.data_root)
        if manifest.skipped:
            self.log(f"skipped {len(manifest.skipped)} bad files, e.g. {manifest.skipped[0]}")
        atomic_write(self.run_dir / "manifest.csv", manifest.df.to_csv(index=False))
        folds: list[Any]
        if self.cfg.protocol == "membership":
            folds = [membership_split(manifest, self.cfg.split_seed, rotation=r) for r in range(self.cfg.folds)]
        else:
            folds = speaker_folds(manifest, self.cfg.folds, self.cfg.split_seed, self.cfg.balance_gender,
                                  self.cfg.valid_speakers)
        yield manifest, folds

    def execute(self, todo: list[str], shared: tuple[Manifest, list[Any]]
                ) -> Iterator[tuple[str, list[dict[str, Any]]]]:
        """Variant by variant (its features computed once), its units here or as Ray tasks."""
        manifest, folds = shared
        keys = set(todo)
        for vcfg in self.cfg.variants:
            units = [u for u in self.units() if u.variant == vcfg.name and u.key in keys]
            if units:
                data = self.features(manifest, vcfg.name)
                for unit, rows in self._execute([(u, data) for u in units], folds, manifest):
                    yield unit.key, rows

    def report(self) -> list[dict[str, Any]]:  # type: ignore[override]
        """The rows (the page is `write_report`'s)."""
        return self.store.rows()

    def run(self, only: list[str] | None = None, force: bool = False) -> list[dict[str, Any]]:  # type: ignore[override]
        """Every unit not finished yet; ``force`` redoes the finished units whose configuration changed
        (without it such a resume is a ConfigError naming the unit and the changed keys)."""
        return super().run(only, force)  # type: ignore[return-value]

    # -- features ---------------------------------------------------------------------------------
    def features(self, manifest: Manifest, variant: str) -> dict[str, Any]:
        """Features of the variant's items (its media), ``None`` for the others, speaker-normalised
        if asked. A variant with several ``streams`` gets, per item, a tuple of their arrays (the
        item is kept only where every stream has features)."""
        vcfg = next(v for v in self.cfg.variants if v.name == variant)
        streams = vcfg.stream_configs()
        per_stream, kinds, fallback = [], [], 0
        for sname, st in streams.items():
            label = variant if len(streams) == 1 else f"{variant}.{sname}"
            ex = get_extractor(st.features)
            media: list[str] = list(vcfg.media) if vcfg.media else ["audio" if ex.media == "text" else ex.media]
            chosen = np.flatnonzero(manifest.df["media"].isin(media).to_numpy())
            if len(chosen) == 0:
                raise ConfigError(f"variants.{variant}: the corpus has no {'/'.join(media)} items for "
                                  f"{st.features['type']} features")
            prog = lambda i, n, label=label, p=self.progress: p(f"features {label}", i, n)  # noqa: E731
            feats = extract(manifest.subset(chosen), ex, self.cache, skip_bad=self.cfg.skip_bad, progress=prog)
            for path, why in feats.failed:
                self.log(f"feature extraction skipped {path}: {why}")
            values: list[Any] = [None] * len(manifest)
            for i, v in zip(chosen, feats.values, strict=True):
                values[i] = v
            if st.normalize == "speaker":
                values = speaker_znorm(values, manifest.df["speaker"].tolist())
            per_stream.append(values)
            kinds.append(feats.kind)
            fallback += int(sum(bool(n.get("fallback")) for n in feats.notes))
        if len(per_stream) == 1:
            combined = per_stream[0]
        else:
            combined = [tuple(vs) if all(v is not None for v in vs) else None for vs in zip(*per_stream, strict=True)]
        return {"values": combined, "ok": np.array([v is not None for v in combined]),
                "kind": kinds[0] if len(kinds) == 1 else "streams", "kinds": kinds,
                "streams": list(streams), "fallback": fallback}

    def _execute(self, payloads: list[tuple[Unit, dict[str, Any]]], folds: list[Fold], manifest: Manifest):
        """(unit, rows) of each unit, as they finish; a learner's checkpoint comes back as bytes and is
        written here, so no worker needs the run folder."""
        if not payloads:
            return
        units, data = [u for u, _ in payloads], payloads[0][1]
        if self.cfg.executor == "ray":
            from privemo.executors import make_executor

            ex = make_executor("ray", self.cfg.ray_num_cpus or 2, self.cfg.ray_address, where="executor")
            outcomes = ex.imap(_unit_job, (self.cfg, data, folds, manifest), units)
        else:
            progress = self.progress

            def on_epoch(key: str) -> Callable[[int, int], None] | None:
                return lambda e, n: progress(f"{key} epochs", e, n)

            outcomes = (_unit_job((self.cfg, data, folds, manifest), u, on_epoch(u.key)) for u in units)
        for unit, rows, checkpoint in outcomes:
            if checkpoint is not None:
                atomic_write(inside(self.run_dir / "checkpoints", f"{unit.key}.pt"), checkpoint)
            yield unit, rows


def _unit_job(shared: tuple[ExperimentConfig, dict[str, Any], list[Any], Manifest], unit: Unit,
              on_epoch: Callable[[int, int], None] | None = None) -> tuple[Unit, list[dict[str, Any]], bytes | None]:
    """One unit on any worker, in a scratch folder of its own: (unit, rows, the learner checkpoint's
    bytes or None)."""
    import tempfile

    cfg, data, folds, manifest = shared
    with tempfile.TemporaryDirectory(prefix="privemo-unit-") as tmp:
        rows = _unit_fn(cfg)(cfg, unit, data, folds[unit.fold], manifest, Path(tmp), on_epoch)
        ckpt = Path(tmp) / "checkpoints" / f"{unit.key}.pt"
        return unit, rows, ckpt.read_bytes() if ckpt.is_file() else None


def _unit_fn(cfg: ExperimentConfig) -> Callable[..., list[dict[str, Any]]]:
    return run_membership_unit if cfg.protocol == "membership" else run_unit


def run_unit(cfg: ExperimentConfig, unit: Unit, data: dict[str, Any], fold: Fold, manifest: Manifest,
             run_dir: Path, on_epoch: Callable[[int, int], None] | None = None) -> list[dict[str, Any]]:
    """One (variant, fold, seed): train what the variant names, then every evaluator. Pure of I/O
    except the learner checkpoint (under ``run_dir``, a worker's scratch folder), so it can run on
    another machine. ``on_epoch(done, max)``
    reports a learner's progress."""
    t0 = time.perf_counter()
    vcfg = next(v for v in cfg.variants if v.name == unit.variant)
    ok = data["ok"]
    train_idx, valid_idx, test_idx = (ix[ok[ix]] for ix in (fold.train, fold.valid, fold.test))
    d2_idx = np.array([], dtype=int)
    if cfg.attacker_data == "heldout":  # D2: training speakers set aside for the attacker alone
        train_idx, d2_idx = attacker_split(manifest, train_idx, cfg.heldout_fraction, cfg.split_seed + unit.fold)
    values = data["values"]
    target = manifest.df[cfg.target].astype(str).to_numpy()
    context = {"fold": unit.fold, "seed": unit.seed, "variant": unit.variant}
    extra: dict[str, Any] = {}
    if vcfg.learner:
        learner, labels, train_idx, valid_idx = _fit_learner(vcfg.learner, unit, values, target, manifest,
                                                            train_idx, valid_idx, run_dir, on_epoch)
        X = _encode(learner, values, len(manifest), np.concatenate([train_idx, valid_idx, d2_idx]))
        X[test_idx], proba, adv = learner.outputs([values[i] for i in test_idx])  # one pass over the test items
        pred = np.array(labels, dtype=object)[proba.argmax(1)]
        adv_pred = {k: np.array(["m", "f"], dtype=object)[v] for k, v in adv.items() if k.split(":")[0] == "gender"}
        extra = _learner_figures(learner)
    else:
        kept = [values[i] for i in np.flatnonzero(ok)]
        pooled = _pool_items(kept, data.get("kinds", [data["kind"]]), vcfg.pool)
        X = np.zeros((len(manifest), pooled.shape[1]), dtype=np.float32)
        X[np.flatnonzero(ok)] = pooled
        pred, proba, labels, adv_pred = None, None, None, None
    # the evaluators' training side: all non-test speakers (a learner used the validation speakers for
    # early stopping only; without a learner they simply join training)
    train_side = np.concatenate([train_idx, valid_idx])
    attack_side = d2_idx if cfg.attacker_data == "heldout" else train_side
    # re-identification (scenario III): the attacker enrols items of every speaker of the corpus
    reid_side = np.concatenate([train_side, d2_idx])
    views = {role: View(X[ix], manifest.subset(ix), None, context)
             for role, ix in (("utility", train_side), ("attack", attack_side), ("reid", reid_side))}
    test_view = View(X[test_idx], manifest.subset(test_idx), pred, context, proba, labels, adv_pred)
    if data.get("fallback"):
        extra["face_fallback"] = data["fallback"]
    sizes = {"n_train": int(len(train_side)), "n_attacker_train": int(len(attack_side)), "n_test": int(len(test_idx))}
    return _evaluate(cfg, unit, {**views, "membership": None}, test_view, {**sizes, **extra}, t0)


def run_membership_unit(cfg: ExperimentConfig, unit: Unit, data: dict[str, Any], split: MembershipSplit,
                        manifest: Manifest, run_dir: Path, on_epoch: Callable[[int, int], None] | None = None
                        ) -> list[dict[str, Any]]:
    """One unit of the membership protocol (jaiswal-2020 §4.2): the learner trains on folds s1-s3 plus
    some items of the selected speakers of s4 and s5 (``split.train``); the attacker learns
    membership from training items (1) and s4's unused items (selected 1, not selected 0) and is
    tested on s5's unused items."""
    t0 = time.perf_counter()
    vcfg = next(v for v in cfg.variants if v.name == unit.variant)
    if not vcfg.learner:
        raise ConfigError(f"variants.{unit.variant}: protocol 'membership' needs a learner")
    ok, values = data["ok"], data["values"]
    target = manifest.df[cfg.target].astype(str).to_numpy()
    train_idx = split.train[ok[split.train]]
    learner, _, train_idx, _ = _fit_learner(vcfg.learner, unit, values, target, manifest, train_idx,
                                            np.array([], dtype=int), run_dir, on_epoch)
    s4 = ok[split.attack_train]
    s5 = ok[split.attack_test]
    a_idx, a_lab = split.attack_train[s4], split.attack_labels[s4]
    t_idx, t_lab = split.attack_test[s5], split.test_labels[s5]
    rng = np.random.default_rng(unit.seed)
    members = rng.choice(train_idx, size=min(len(train_idx), len(a_idx)), replace=False)
    atk_idx = np.concatenate([members, a_idx])
    atk_lab = np.concatenate([np.ones(len(members), dtype=int), a_lab])
    X = _encode(learner, values, len(manifest), np.concatenate([train_idx, a_idx, t_idx]))
    context = {"fold": unit.fold, "seed": unit.seed, "variant": unit.variant}

    def view(ix: np.ndarray, member: np.ndarray) -> View:
        sub = manifest.subset(ix)
        sub.df["member"] = member
        return View(X[ix], sub, None, context)

    sizes = {"n_train": int(len(train_idx)), "n_attacker_train": int(len(atk_idx)), "n_test": int(len(t_idx))}
    return _evaluate(cfg, unit, {"membership": view(atk_idx, atk_lab)}, view(t_idx, t_lab),
                     {**sizes, **_learner_figures(learner)}, t0)


def _pool_items(items: list[Any], kinds: list[str], how: Sequence[str]) -> np.ndarray:
    """Fixed-length vectors of variable-length features (images flattened); streams concatenated."""
    if len(kinds) > 1:
        return np.hstack([_pool_items([it[k] for it in items], [kind], how) for k, kind in enumerate(kinds)])
    if kinds[0] == "image":
        return np.stack([v.reshape(-1) for v in items])
    return pool(items, list(how))  # type: ignore[arg-type]


def _fit_learner(lcfg: dict[str, Any], unit: Unit, values: list[Any], target: np.ndarray, manifest: Manifest,
                 train_idx: np.ndarray, valid_idx: np.ndarray, run_dir: Path,
                 on_epoch: Callable[[int, int], None] | None) -> tuple[Any, list[str], np.ndarray, np.ndarray]:
    """Build and fit the variant's learner on ``train_idx`` (early stopping on ``valid_idx``), save its
    checkpoint; returns it, its labels and the index sets it used (items of unseen labels dropped)."""
    labels = sorted(set(target[np.concatenate([train_idx, valid_idx])]))
    code = {lab: i for i, lab in enumerate(labels)}
    known = np.array([t in code for t in target])
    train_idx, valid_idx = train_idx[known[train_idx]], valid_idx[known[valid_idx]]
    learner = create("learner", **{**dict(lcfg), "seed": unit.seed})
    aux = _aux_labels(manifest, train_idx, getattr(learner, "targets", []))
    if "speaker" in getattr(learner, "probe_targets", []):  # the speaker probe's codes, read on validation items only
        spk = manifest.df["speaker"].to_numpy()
        vcode = {s: i for i, s in enumerate(sorted(set(spk[valid_idx])))}
        aux["valid_speaker"] = np.array([vcode.get(s, -1) for s in spk])

    def enc(ix: np.ndarray) -> SeqData:
        return SeqData([values[i] for i in ix], np.array([code[t] for t in target[ix]]),
                       {k: v[ix] for k, v in aux.items()})

    if on_epoch:
        learner.on_epoch = lambda epoch, record: on_epoch(epoch + 1, learner.epochs)
    learner.fit(enc(train_idx), enc(valid_idx) if len(valid_idx) else None, n_classes=len(labels))
    learner.save(inside(Path(run_dir) / "checkpoints", f"{unit.key}.pt"))
    return learner, labels, train_idx, valid_idx


def _encode(learner: Any, values: list[Any], n: int, index: np.ndarray) -> np.ndarray:
    """(n, D) representations, filled at ``index`` (other rows stay zero and are never read)."""
    reps = learner.encode([values[i] for i in index])
    X = np.zeros((n, reps.shape[1]), dtype=np.float32)
    X[index] = reps
    return X


def _learner_figures(learner: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"epochs": len(learner.history_), "best_epoch": int(getattr(learner, "best_epoch_", -1))}
    if getattr(learner, "adversaries", None):
        out["private_checkpoint"] = bool(learner.private_checkpoint_)
    if getattr(learner, "erase", None):
        out["erasure"] = "+".join(learner.erase)
        eraser = getattr(learner, "eraser_", None)
        if eraser is not None:  # what the erasure costs: directions removed of the representation's width
            out["erased_dims"], out["representation_dims"] = int(eraser.rank_), int(eraser.proj_.shape[0])
    if getattr(learner, "epsilon_", None) is not None:
        out["epsilon"], out["delta"] = float(learner.epsilon_), float(learner.dp.get("delta", 1e-5))
    return out


def _evaluate(cfg: ExperimentConfig, unit: Unit, views: dict[str, View | None], test_view: View,
              extra: dict[str, Any], t0: float) -> list[dict[str, Any]]:
    """Run each evaluator whose role has a training view in this protocol; one row each."""
    rows = []
    for ecfg in cfg.evaluators:
        ecfg = dict(ecfg)
        name = ecfg.pop("name", ecfg["type"])
        evaluator = create("evaluator", **ecfg)
        train_view = views.get(getattr(evaluator, "role", "utility"))
        if train_view is None:
            continue
        e0 = time.perf_counter()
        figures = evaluator.evaluate(train_view, test_view)
        rows.append({"run": cfg.name, "corpus": cfg.corpus.type, "synthetic": cfg.corpus.type == "synthetic",
                     "variant": unit.variant, "variant_order": [v.name for v in cfg.variants].index(unit.variant),
                     "reference": _reference(cfg, unit.variant),
                     "fold": unit.fold, "seed": unit.seed, "evaluator": name, "evaluator_type": ecfg["type"],
                     "protocol": cfg.protocol, **extra, **figures, "eval_s": time.perf_counter() - e0})
    wall = time.perf_counter() - t0
    for r in rows:
        r["wall_s"] = wall
    return rows


def _reference(cfg: ExperimentConfig, variant: str) -> str:
    vcfg = next(v for v in cfg.variants if v.name == variant)
    return vcfg.reference or cfg.variants[0].name


def _aux_labels(manifest: Manifest, train_idx: np.ndarray, targets: list[str]) -> dict[str, np.ndarray]:
    """Integer labels of every item for the adversaries (-1 where unknown): gender m=0 / f=1, and
    speaker codes of the training speakers (other speakers are unknown to the speaker adversary)."""
    out: dict[str, np.ndarray] = {}
    if "gender" in targets:
        g = manifest.df["gender"].astype(object).to_numpy()
        out["gender"] = np.array([{"m": 0, "f": 1}.get(x, -1) if isinstance(x, str) else -1 for x in g])
    if "speaker" in targets:
        spk = manifest.df["speaker"].to_numpy()
        code = {s: i for i, s in enumerate(sorted(set(spk[train_idx])))}
        out["speaker"] = np.array([code.get(s, -1) for s in spk])
    return out
