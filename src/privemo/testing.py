"""The component contract suite: ``check_component(kind, name)`` runs every contract a registered
component of that kind must keep (in the spirit of scikit-learn's ``check_estimator``), on small
synthetic inputs, in seconds. Use it on your own component once it is registered::

    from privemo.registry import register
    from privemo.testing import check_component

    @register("anonymizer", "my_method")
    @dataclass
    class MyMethod(VoiceAnonymizer): ...

    check_component("anonymizer", "my_method")           # raises ContractError naming the broken contract
    check_component("learner", "my_net", {"epochs": 1})   # parameters for a quick instance

What is checked, per kind:

- every kind: the parameter schema can be read from the signature; the component's configuration
  (``config()`` / ``get_config()``) names its type and exactly the constructor's parameters, and
  re-creating it from that configuration gives the same configuration;
- ``corpus``: a missing folder, an empty folder and a folder of badly named files are each a
  CorpusError naming a path inside the folder (with ``skip_bad``: the bad file skipped, or the
  folder named); a loader that generates its data (``synthetic``) instead has its manifest checked
  (the required columns, unique item ids, existing files);
- ``anonymizer``: voice: the same rate, length and dtype, finite samples within [-1, 1], the same
  samples for the same key from a fresh instance (per-key determinism), an empty clip a MediaError;
  face: the same shape and dtype, a batch equals its images one by one in any order;
- ``feature``: the declared kind's shape (sequence (T, D), vector (D,), image (H, W[, C])),
  finite values, the same values twice;
- ``learner``: fitted twice with one seed, the same class probabilities; probabilities in [0, 1]
  summing to 1; ``encode`` (n, d), ``predict`` (n,);
- ``evaluator``: JSON-able figures, the same twice, every rate (uar, accuracy, chance, eer, auc)
  in [0, 1]; its ``role`` one the runner knows;
- ``strategy``: Flower's class built with privemo's federation settings and the parameters;
- ``face_detector``: no face on a flat image; boxes (top, left, bottom, right) inside the image and
  landmarks a finite (n_landmarks, 2) array, the same twice.

A component may supply its own quick parameters with a ``contract_params(workdir)`` classmethod (for
instance a small trained model file); ``params`` given to ``check_component`` win over them.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from privemo.errors import ConfigError, CorpusError, MediaError, PrivemoError
from privemo.registry import lookup

__all__ = ["ContractError", "check_component", "quick_params"]

KINDS = ("corpus", "anonymizer", "feature", "learner", "evaluator", "strategy", "face_detector", "judge")
ROLES = ("utility", "attack", "reid", "membership")
RATE_KEYS = ("uar", "accuracy", "chance", "eer", "auc", "acc")
REQUIRED_COLUMNS = ("item_id", "path", "media", "corpus", "speaker", "gender", "emotion")

_TINY_ENCODER = {"type": "acoustic", "conv_layers": 1, "channels": 4, "gru_layers": 1, "gru_width": 4}
# quick parameters of the built-in components whose defaults take longer than the contract needs
_QUICK: dict[tuple[str, str], dict[str, Any]] = {
    ("learner", "standard"): {"encoder": _TINY_ENCODER, "epochs": 2, "batch_size": 8},
    ("learner", "grl"): {"encoder": _TINY_ENCODER, "epochs": 2, "batch_size": 8},
    ("anonymizer", "face_autoencoder"): {"epochs": 1, "latent": 8, "size": 32, "batch": 8},
    ("anonymizer", "voice_vq"): {"k": 4},
    ("strategy", "qfedavg"): {"client_learning_rate": 0.1},
    ("corpus", "synthetic"): {"n_speakers": 4, "items": 1, "media": "all"},
    ("judge", "finetuned"): {"steps": 2, "speakers": 2, "clips": 2},
    # the contract's 8 eGeMAPS-like features, named after one functional of most groups
    ("judge", "id_groups"): {"names": ["F0semitoneFrom27.5Hz_sma3nz_amean", "jitterLocal_sma3nz_amean",
                                       "F1frequency_sma3nz_amean", "alphaRatioV_sma3nz_amean", "mfcc1_sma3_amean",
                                       "loudness_sma3_amean", "VoicedSegmentsPerSec", "slopeV0-500_sma3nz_amean"]},
}


class ContractError(AssertionError):
    """A component broke one of its kind's contracts (the message names the component and which)."""


def quick_params(kind: str, name: str, workdir: Path | None = None) -> dict[str, Any]:
    """Parameters for a quick instance: the component's ``contract_params(workdir)``, or privemo's own
    for the built-ins, else none (the defaults)."""
    factory = lookup(kind, name)
    hook = getattr(getattr(factory, "cls", factory), "contract_params", None)
    if callable(hook):
        return dict(hook(workdir or Path(tempfile.mkdtemp(prefix="privemo-contract-"))))
    return dict(_QUICK.get((kind, name), {}))


def check_component(kind: str, name: str, params: dict[str, Any] | None = None,
                    workdir: str | Path | None = None) -> list[str]:
    """Run every contract of ``kind`` on the component registered as ``name`` (built with
    ``params`` over its quick parameters). Returns the names of the checks that ran; the first
    broken contract is a ContractError naming it."""
    if kind not in KINDS:
        raise ConfigError(f"kind {kind!r}: the contract suite knows {', '.join(KINDS)}")
    lookup(kind, name)  # an unknown name is a ConfigError listing the registered ones
    with tempfile.TemporaryDirectory(prefix="privemo-contract-") as tmp:
        work = Path(workdir) if workdir else Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        p = {**quick_params(kind, name, work), **(params or {})}
        suite = _Suite(kind, name, p, work)
        getattr(suite, f"check_{kind}")()
        return suite.ran


class _Suite:
    def __init__(self, kind: str, name: str, params: dict[str, Any], work: Path) -> None:
        self.kind, self.name, self.params, self.work = kind, name, params, work
        self.factory = lookup(kind, name)
        self.ran: list[str] = []

    # -- helpers ----------------------------------------------------------------------------------
    def fail(self, check: str, problem: str) -> None:
        raise ContractError(f"{self.kind} {self.name!r}, contract '{check}': {problem}")

    def ok(self, check: str) -> None:
        self.ran.append(check)

    def create(self, **extra: Any) -> Any:
        from privemo.registry import create

        try:
            return create(self.kind, type=self.name, **{**self.params, **extra})
        except PrivemoError as exc:
            self.fail("construct", f"cannot be built from {self.params!r}: {exc}")

    def signature_params(self) -> set[str]:
        target = getattr(self.factory, "__params__", self.factory)
        if inspect.isclass(target) and not hasattr(target, "__dataclass_fields__"):
            target = target.__init__
        if dataclasses.is_dataclass(target):
            return {f.name for f in dataclasses.fields(target) if f.init}
        sig = inspect.signature(target)
        if any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()):
            return set()  # **kwargs: any keys
        return {n for n, p in sig.parameters.items() if n != "self" and p.kind is not p.VAR_POSITIONAL
                and "Callable" not in str(p.annotation)}  # a callback (on_epoch) is no configuration

    def check_schema_and_round_trip(self, obj: Any, config_of: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
        from privemo._schema import params_model

        try:
            params_model(getattr(self.factory, "__params__", self.factory))
        except Exception as exc:  # noqa: BLE001 - any failure to read the schema breaks the contract
            self.fail("schema", f"its parameter schema cannot be read from the signature: {exc}")
        self.ok("schema")
        cfg = config_of(obj)
        if not isinstance(cfg, dict) or cfg.get("type") != self.name:
            self.fail("config", f"its configuration must be a mapping with type {self.name!r}, got {cfg!r:.120}")
        keys, expected = set(cfg) - {"type"}, self.signature_params()
        if expected and keys != expected:
            missing, extra = sorted(expected - keys), sorted(keys - expected)
            self.fail("config", f"its configuration must name exactly the constructor's parameters "
                      f"(missing {missing}, not parameters {extra})")
        try:
            json.dumps(cfg)
        except TypeError as exc:
            self.fail("config", f"its configuration is not JSON-able (a run folder records it): {exc}")
        from privemo.registry import create

        again = config_of(create(self.kind, **cfg))
        if again != cfg:
            self.fail("config round trip", f"re-created from {cfg!r:.160} it reports {again!r:.160}")
        self.ok("config round trip")
        return cfg

    # -- corpus -----------------------------------------------------------------------------------
    def check_corpus(self) -> None:
        from privemo.corpora import load

        loader = self.factory
        if getattr(loader, "generates_data", False):
            root = self.work / "generated"
            manifest = load(self.name, root, **self.params)
            self.check_manifest(manifest)
            return
        work = self.work
        self.expect_corpus_error("missing folder", lambda: load(self.name, work / "missing", **self.params),
                                 work / "missing")
        (work / "empty").mkdir(exist_ok=True)
        self.expect_corpus_error("empty folder", lambda: load(self.name, work / "empty", **self.params),
                                 work / "empty")
        bad = work / "badly_named"
        _badly_named_folder(bad)
        self.expect_corpus_error("badly named files", lambda: load(self.name, bad, **self.params), bad)
        if "skip_bad" in self.signature_params():
            try:
                m = load(self.name, bad, **{**self.params, "skip_bad": True})
            except CorpusError as exc:
                if str(bad) not in str(exc):
                    self.fail("skip_bad", f"with skip_bad, a folder of bad files must be named; got: {exc}")
            else:
                if len(m) and not m.skipped:
                    self.fail("skip_bad", f"with skip_bad, {len(m)} items came from a folder of badly named files "
                              "and nothing was reported skipped")
            self.ok("skip_bad")

    def expect_corpus_error(self, check: str, call: Callable[[], Any], folder: Path) -> None:
        try:
            got = call()
        except CorpusError as exc:
            if str(folder) not in str(exc):
                self.fail(check, f"the CorpusError must name a path in {folder}; got: {exc}")
            self.ok(check)
            return
        except Exception as exc:  # noqa: BLE001 - anything else breaks the contract
            self.fail(check, f"must be a CorpusError naming the folder, got {type(exc).__name__}: {exc}")
        self.fail(check, f"must be a CorpusError naming the folder, got a manifest of {len(got)} items")

    def check_manifest(self, manifest: Any) -> None:
        df = manifest.df
        missing = [c for c in REQUIRED_COLUMNS if c not in df.columns]
        if missing:
            self.fail("manifest", f"the manifest lacks the columns {missing}")
        if len(df) == 0 or df["item_id"].duplicated().any():
            self.fail("manifest", "the manifest must have items with unique item ids")
        absent = [p for p in df["path"].astype(str) if not Path(p).exists()]
        if absent:
            self.fail("manifest", f"{len(absent)} items name files that do not exist, e.g. {absent[0]}")
        self.ok("manifest")

    # -- anonymizer -------------------------------------------------------------------------------
    def check_anonymizer(self) -> None:
        anon = self.create()
        self.check_schema_and_round_trip(anon, lambda a: a.config())
        media = getattr(anon, "media", "")
        if media == "audio":
            self.check_voice()
        elif media == "image":
            self.check_face()
        else:
            self.fail("media", f"media must be 'audio' or 'image', got {media!r}")

    def check_voice(self) -> None:
        from privemo.anonymize.base import Clip, clip_of

        manifest = self.synthetic("audio")
        rows = manifest.df.to_dict("records")
        fitted = self.create().fit(manifest)
        for row in rows[:2]:
            clip = clip_of(row)
            out = fitted.transform(clip)
            if out.sr != clip.sr or len(out.audio) != len(clip.audio) or out.audio.dtype != np.float32:
                self.fail("media", f"a {len(clip.audio)}-sample float32 clip at {clip.sr} Hz came back as "
                          f"{len(out.audio)} {out.audio.dtype} samples at {out.sr} Hz")
            if not np.isfinite(out.audio).all() or np.abs(out.audio).max() > 1.0:
                self.fail("media", "the anonymized samples must be finite and within [-1, 1]")
        self.ok("media")
        again = self.create().fit(manifest)
        for row in reversed(rows[:2]):
            clip = clip_of(row)
            if not np.array_equal(fitted.transform(clip).audio, again.transform(clip).audio):
                self.fail("determinism per key", f"clip {clip.key!r} anonymized twice (fresh instance, other "
                          "order) gave other samples")
        self.ok("determinism per key")
        try:
            fitted.transform(Clip(np.zeros(0, np.float32), 16000, None, "empty"))
        except MediaError:
            self.ok("empty clip")
        else:
            self.fail("empty clip", "an empty clip must be a MediaError")

    def check_face(self) -> None:
        faces = self.face_images()
        fitted = self.create().fit(faces)
        keys = [f"face{i}" for i in range(len(faces))]
        batch = fitted.transform_batch(faces, keys)
        if batch.shape != faces.shape or batch.dtype != faces.dtype:
            self.fail("media", f"{faces.shape} {faces.dtype} faces came back as {batch.shape} {batch.dtype}")
        self.ok("media")
        one = np.stack([fitted.transform(f, k) for f, k in zip(faces, keys, strict=True)])
        rev = fitted.transform_batch(faces[::-1].copy(), keys[::-1])[::-1]
        again = self.create().fit(faces).transform_batch(faces, keys)
        for what, other in (("one by one", one), ("in reverse order", rev), ("from a fresh instance", again)):
            if not np.allclose(batch.astype(np.float64), other.astype(np.float64), atol=1.0 if batch.dtype == np.uint8 else 1e-4):
                self.fail("determinism per key", f"the faces anonymized {what} differ from the batch")
        self.ok("determinism per key")

    # -- feature ----------------------------------------------------------------------------------
    def check_feature(self) -> None:
        ex = self.create()
        self.check_schema_and_round_trip(ex, lambda e: e.config())
        if ex.kind not in ("sequence", "vector", "image") or ex.media not in ("audio", "image", "text", "video"):
            self.fail("declaration", f"kind {ex.kind!r} / media {ex.media!r} is not one privemo knows")
        row = self.feature_row(ex.media)
        a, _ = ex.compute(row)
        b, _ = ex.compute(row)
        a = np.asarray(a)
        ndim = {"sequence": 2, "vector": 1}.get(ex.kind)
        if (ndim and a.ndim != ndim) or (ex.kind == "image" and a.ndim not in (2, 3)) or a.size == 0:
            self.fail("shape", f"a {ex.kind} feature came back with shape {a.shape}")
        if not np.isfinite(a.astype(np.float64)).all():
            self.fail("finite", "the features must be finite")
        if not np.array_equal(a, np.asarray(b)):
            self.fail("determinism", "the same item gave other features the second time")
        self.ok("shape")
        self.ok("determinism")

    # -- learner ----------------------------------------------------------------------------------
    def check_learner(self) -> None:
        from privemo.learners import SeqData

        learner = self.create()
        cfg = self.check_schema_and_round_trip(learner, lambda x: x.get_config())
        rng = np.random.default_rng(0)
        x = [rng.normal(0, 1, (int(rng.integers(8, 16)), 5)).astype(np.float32) for _ in range(24)]
        y = np.tile([0, 1, 2], 8)
        for i, lab in enumerate(y):
            x[i][:, lab] += 1.5
        data = SeqData(x, y, {"gender": np.tile([0, 1], 12), "speaker": np.repeat(np.arange(4), 6)})
        from privemo.registry import create

        a = create("learner", **cfg).fit(data, data)
        b = create("learner", **cfg).fit(data, data)
        pa, pb = np.asarray(a.predict_proba(x)), np.asarray(b.predict_proba(x))
        if pa.shape != (24, 3):
            self.fail("shapes", f"predict_proba of 24 items of 3 classes has shape {pa.shape}")
        if not np.allclose(pa, pb, atol=1e-6):
            self.fail("determinism", "two fits with the same seed predict other probabilities")
        if (pa < -1e-6).any() or (pa > 1 + 1e-6).any() or not np.allclose(pa.sum(1), 1.0, atol=1e-4):
            self.fail("ranges", "class probabilities must lie in [0, 1] and sum to 1")
        h, pred = np.asarray(a.encode(x)), np.asarray(a.predict(x))
        if h.ndim != 2 or h.shape[0] != 24 or pred.shape != (24,):
            self.fail("shapes", f"encode gave {h.shape} and predict {pred.shape} for 24 items")
        self.ok("determinism")
        self.ok("shapes")
        self.ok("ranges")

    # -- evaluator --------------------------------------------------------------------------------
    def check_evaluator(self) -> None:
        ev = self.create()
        cfg = self.check_schema_and_round_trip(ev, lambda e: e.get_config())
        if getattr(ev, "role", None) not in ROLES:
            self.fail("role", f"role must be one of {ROLES}, got {getattr(ev, 'role', None)!r}")
        from privemo.registry import create

        train, test = _views()
        a = ev.evaluate(train, test)
        b = create("evaluator", **cfg).evaluate(train, test)
        if not isinstance(a, dict):
            self.fail("figures", f"evaluate must return a mapping of figures, got {type(a).__name__}")
        try:
            ja, jb = json.dumps(_plain(a), sort_keys=True), json.dumps(_plain(b), sort_keys=True)
        except TypeError as exc:
            self.fail("figures", f"the figures must be JSON-able (results.jsonl): {exc}")
        if ja != jb:
            self.fail("determinism", "the same views gave other figures the second time")
        for key, value in _walk(a):
            if key.split(".")[-1] in RATE_KEYS and isinstance(value, float) and math.isfinite(value) \
                    and not 0.0 <= value <= 1.0:
                self.fail("ranges", f"{key} = {value} is a rate outside [0, 1]")
        self.ok("determinism")
        self.ok("ranges")

    # -- judge of a media evaluation ----------------------------------------------------------------
    def check_judge(self) -> None:
        from privemo.evaluators.judge import Column, Judge, column_value
        from privemo.evaluators.threat import declared

        judge = self.create()
        self.check_schema_and_round_trip(judge, lambda j: {"type": self.name, **j.config()})
        if not isinstance(judge, Judge) or getattr(judge, "medium", None) not in JUDGE_MEDIA:
            self.fail("declaration", f"a judge is a privemo.evaluators.judge.Judge of a medium in {JUDGE_MEDIA}")
        for key in judge.threats:
            try:
                declared(key)
            except KeyError as exc:
                self.fail("declaration", f"threat model {key!r} is not declared: {exc}")
        if not judge.threats or not all(isinstance(c, Column) for c in judge.columns):
            self.fail("declaration", "a judge declares its threat models and its columns (evaluators.judge.Column)")
        self.ok("declaration")
        if judge.medium != "voice":
            return  # the figures of the other media's judges are checked by their evaluation's tests
        a = _plain(judge(_voice_input()))
        b = _plain(self.create()(_voice_input()))
        try:
            ja, jb = json.dumps(a, sort_keys=True), json.dumps(b, sort_keys=True)
        except TypeError as exc:
            self.fail("figures", f"the figures must be JSON-able (results.jsonl): {exc}")
        if ja != jb:
            self.fail("determinism", "the same input gave other figures the second time")
        for c in judge.columns:
            value = column_value(a, c.path)
            if value is None:
                self.fail("columns", f"declared column {c.label!r} ({c.path}) is not a number in its result")
            if c.fmt == "pct" and not 0.0 <= value <= 1.0:  # type: ignore[operator]
                self.fail("ranges", f"{c.path} = {value} is a rate outside [0, 1]")
        self.ok("determinism")
        self.ok("columns")

    # -- strategy ---------------------------------------------------------------------------------
    def check_strategy(self) -> None:
        from privemo.experiments.federated.config import resolve_strategy
        from privemo.learners.federated.server_app import make_strategy

        try:
            spec = resolve_strategy({"type": self.name, **self.params})
        except ValueError as exc:
            self.fail("schema", str(exc))
        self.ok("schema")
        if resolve_strategy(spec) != spec:
            self.fail("config round trip", f"{spec!r} resolves to {resolve_strategy(spec)!r}")
        self.ok("config round trip")
        settings = {"strategy": spec, "fraction": 1.0, "rounds": 2, "client_eval_every": 1}
        st = make_strategy(settings, n_clients=4)
        if not isinstance(st, self.factory.cls):
            self.fail("construct", f"make_strategy built a {type(st).__name__}, not a {self.factory.cls.__name__}")
        for k, v in spec.items():
            if k != "type" and v is not None and hasattr(st, k) and getattr(st, k) != v:
                self.fail("parameters", f"{k} = {v!r} was asked for and {getattr(st, k)!r} built")
        self.ok("construct")

    # -- inputs -----------------------------------------------------------------------------------
    def synthetic(self, media: str) -> Any:
        from privemo.corpora import load

        m = load("synthetic", _synthetic_root(), media="all", n_speakers=4, items=1, videos=1)
        return m.subset(np.flatnonzero(m.df["media"].to_numpy() == media))

    # -- face front-end ---------------------------------------------------------------------------
    def check_face_detector(self) -> None:
        fe = self.create()
        self.check_schema_and_round_trip(fe, lambda f: f.config())
        n_points = int(getattr(fe, "n_landmarks", 0))
        if n_points < 5:
            self.fail("declaration", f"n_landmarks must be at least 5, got {n_points}")
        blank = np.full((120, 160, 3), 128, np.uint8)
        if fe.detect(blank):
            self.fail("no face", "a flat gray image must have no face")
        self.ok("no face")
        for img in self.face_images(96):
            h, w = img.shape[:2]
            boxes = fe.detect(img)
            if boxes != fe.detect(img.copy()):
                self.fail("determinism", "the same image gave other boxes the second time")
            for t, lf, b, r in boxes:
                if not (0 <= t < b <= h and 0 <= lf < r <= w):
                    self.fail("boxes", f"box {(t, lf, b, r)} is not (top, left, bottom, right) inside a {h}x{w} image")
            box = boxes[0] if boxes else (h // 8, w // 8, h - h // 8, w - w // 8)
            pts = fe.landmarks(img, box)
            if pts is None:
                continue
            pts = np.asarray(pts)
            if pts.shape != (n_points, 2) or not np.isfinite(pts).all():
                self.fail("landmarks", f"landmarks must be a finite ({n_points}, 2) array, got {pts.shape}")
            again = fe.landmarks(img, box)
            if again is None or not np.allclose(pts, again):
                self.fail("determinism", "the same face gave other landmarks the second time")
        self.ok("boxes")
        self.ok("landmarks")
        self.ok("determinism")

    def face_images(self, size: int | None = None) -> np.ndarray:
        import cv2

        from privemo.media import read_image

        size = size or int(self.params.get("size", 64))
        rows = self.synthetic("image").df.to_dict("records")[:6]
        return np.stack([cv2.resize(read_image(r["path"], "rgb"), (size, size), interpolation=cv2.INTER_AREA)
                         for r in rows]).astype(np.uint8)

    def feature_row(self, media: str) -> dict[str, Any]:
        m = self.synthetic("image" if media == "image" else ("video" if media == "video" else "audio"))
        row = m.df.to_dict("records")[0]
        if media == "text":
            row = {**row, "text": row.get("text") or "kids are talking by the door"}
        return row


_SYNTHETIC: list[Path] = []


def _synthetic_root() -> Path:
    """One small synthetic corpus per process for every check's inputs (removed at exit)."""
    if not _SYNTHETIC:
        import atexit
        import shutil

        root = Path(tempfile.mkdtemp(prefix="privemo-contract-corpus-"))
        atexit.register(shutil.rmtree, root, True)
        _SYNTHETIC.append(root)
    return _SYNTHETIC[0]


def _badly_named_folder(folder: Path) -> None:
    """A folder of files no corpus layout names this way (a WAV, a PNG, a text file, one level down
    too)."""
    import soundfile as sf

    from privemo.media import write_image

    (folder / "sub").mkdir(parents=True, exist_ok=True)
    tone = (0.1 * np.sin(np.arange(1600) / 5)).astype(np.float32)
    for d in (folder, folder / "sub"):
        sf.write(d / "not_a_corpus_name.wav", tone, 16000)
        write_image(d / "not_a_corpus_name.png", np.full((48, 48, 3), 128, np.uint8))
    (folder / "notes.txt").write_text("not a corpus file\n")


def _views() -> tuple[Any, Any]:
    import pandas as pd

    from privemo.corpora import Manifest
    from privemo.evaluators import View

    rng = np.random.default_rng(0)
    rows = [{"item_id": f"i{i}", "path": f"/x/{i}", "media": "audio", "corpus": "t", "speaker": f"s{i % 8}",
             "gender": "m" if (i % 8) < 4 else "f", "emotion": ["happy", "sad"][i % 2],
             "member": int((i % 8) in (0, 1, 4, 5))} for i in range(64)]
    m = Manifest(pd.DataFrame(rows))
    X = rng.normal(0, 1, (64, 6)) + (m["gender"] == "m").to_numpy()[:, None] + (m["emotion"] == "sad").to_numpy()[:, None]
    tr = m["speaker"].isin(["s0", "s1", "s4", "s5", "s6", "s2"]).to_numpy()
    ctx = {"fold": 0, "seed": 0}
    return View(X[tr], m.subset(tr), None, ctx), View(X[~tr], m.subset(~tr), None, ctx)


JUDGE_MEDIA = ("voice", "video", "face")


def _voice_input() -> Any:
    """A small voice evaluation's input: 8 speakers (4 m, 4 f) x 6 clips, 2 emotions, 4 speaker folds,
    each speaker's clips split in enrolment and trial halves; embeddings carry speaker and gender."""
    from privemo.evaluators.judge import JudgeInput
    from privemo.evaluators.voice import Items, Side

    rng = np.random.default_rng(0)
    spk = np.repeat([f"s{i}" for i in range(8)], 6)
    gender = np.array(["m" if int(s[1]) < 4 else "f" for s in spk])
    emotion = np.tile(["happy", "sad"], 24)
    centre = {s: rng.normal(0, 1, 16) for s in set(spk.tolist())}

    def side(noise: float) -> Side:
        emb = np.stack([centre[s] for s in spk]) + rng.normal(0, noise, (48, 16))
        emb /= np.linalg.norm(emb, axis=1, keepdims=True)
        eg = rng.normal(0, 1, (48, 8)) + (gender == "m")[:, None]
        emo = rng.normal(0, 1, (48, 6)) + (emotion == "sad")[:, None]
        return Side(emb.astype(np.float32), eg, emo.astype(np.float32))

    fold_of = {f"s{i}": i % 4 for i in range(8)}
    items = Items(spk, gender, emotion, np.tile([True, True, True, False, False, False], 8),
                  np.array([fold_of[s] for s in spk]), fold_of)
    mels = [rng.normal(0, 1, (200, 40)).astype(np.float32) for _ in range(48)]
    return JudgeInput(side(0.3), side(0.6), items, 0, False, lambda name: mels if name == "mels" else None)


def _plain(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _plain(obj.tolist())
    if hasattr(obj, "item") and not isinstance(obj, str | bytes):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _walk(obj: Any, prefix: str = "") -> Any:
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, float(obj) if isinstance(obj, int | float | np.floating) and not isinstance(obj, bool) else obj
