"""``privemo evaluate voice CONFIG``: every method anonymizes the corpus, the same attackers and
utility models judge each, one row per method; resumable per method.

The run folder holds ``config.yaml``, ``audio/<method>/`` (the anonymized corpus, resumable),
``units/<method>.json`` and ``results.jsonl`` (one row per method), ``examples/<method>/`` (listening
examples) and ``report.md`` / ``report.html``.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import inside
from privemo._names import file_key
from privemo.anonymize import LaplaceMFCC, VoiceAnonymizer, anonymize_corpus, clip_of, create_anonymizer
from privemo.attacks.verification import enrol_split
from privemo.corpora import Manifest, load
from privemo.corpora.splits import assign_speaker_folds
from privemo.errors import ConfigError
from privemo.evaluators.judge import JudgeInput, run_judges
from privemo.evaluators.voice import Items, Side, voice_side
from privemo.executors import make_executor
from privemo.experiments.config import corpus_root
from privemo.experiments.media import MediaEvaluation, extras
from privemo.experiments.voice.config import MethodConfig, VoiceEvalConfig
from privemo.features.batch import extract_all, require


def load_voice_corpus(cfg: VoiceEvalConfig, data_root: Path) -> Manifest:
    manifest = load(cfg.corpus.type, corpus_root(cfg.corpus, data_root), **dict(cfg.corpus.options))
    manifest = manifest.labelled("emotion")
    df = manifest.df[manifest.df["media"] == "audio"]
    if cfg.speakers != "all":
        df = df[df["speaker"].astype(str).isin(half_of_speakers(df, cfg.speakers))]
    if cfg.max_items_per_speaker:
        rng = np.random.default_rng(cfg.seed)
        keep = [i for _, g in df.groupby("speaker", sort=True)
                for i in rng.permutation(g.index.to_numpy())[: cfg.max_items_per_speaker]]
        df = df.loc[sorted(keep)]
    manifest = Manifest(df, manifest.skipped)
    n_spk = manifest.df["speaker"].nunique()
    if n_spk < max(cfg.folds, 2):
        raise ConfigError(f"corpus {cfg.corpus.type}: {n_spk} speakers with emotion-labelled audio; the "
                          f"evaluation needs at least {max(cfg.folds, 2)} (folds: {cfg.folds})")
    return manifest


def half_of_speakers(df: Any, half: str) -> set[str]:
    """Every second speaker within each gender, in sorted order (``even``: the 1st, 3rd, ...;
    ``odd``: the 2nd, 4th, ...), so each half keeps the corpus's gender balance."""
    gender = df["gender"].astype(object).where(df["gender"].notna(), "?").astype(str)
    out: set[str] = set()
    for _, g in df.assign(_g=gender).groupby("_g", sort=True):
        names = sorted(set(g["speaker"].astype(str)))
        out |= set(names[0 if half == "even" else 1::2])
    return out


def measure_rtf(anonymizer: VoiceAnonymizer, manifest: Manifest, n: int) -> float:
    """Transform time / audio time over ``n`` clips, one thread, no file input or output."""
    from threadpoolctl import threadpool_limits

    rows = manifest.df.to_dict("records")[:: max(1, len(manifest) // max(n, 1))][:n]
    spent = audio = 0.0
    with threadpool_limits(1):
        import torch

        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for row in rows:
                clip = clip_of(row)
                t0 = time.perf_counter()
                anonymizer.transform(clip)
                spent += time.perf_counter() - t0
                audio += len(clip.audio) / clip.sr
        finally:
            torch.set_num_threads(threads)
    return spent / audio if audio else float("nan")


class VoiceEvaluation(MediaEvaluation):
    cfg: VoiceEvalConfig
    original = {"name": "original", "anonymizer": {"type": "original"}}
    method_folders = ("audio",)

    def reference(self) -> MethodConfig:
        return MethodConfig(**self.original)

    @contextmanager
    def session(self) -> Iterator[tuple[Manifest, Side, Items]]:
        manifest = load_voice_corpus(self.cfg, self.data_root)
        self.log(f"{self.cfg.corpus.type}: {len(manifest)} clips, {manifest.df['speaker'].nunique()} speakers")
        yield manifest, self._side(manifest, "original"), self._items(manifest)

    def unit(self, key: str, shared: tuple[Manifest, Side, Items]) -> list[dict[str, Any]]:
        t0 = time.perf_counter()
        row = self._method(self.method(key), *shared)
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        return [row]

    def report(self) -> dict[str, Any]:
        from privemo.experiments.voice.report import write_voice_report

        return write_voice_report(self.run_dir)

    def _items(self, manifest: Manifest) -> Items:
        df = manifest.df
        fold_of = assign_speaker_folds(manifest, self.cfg.folds, self.cfg.seed)
        spk = df["speaker"].astype(str).to_numpy()
        gender = df["gender"].astype(object).where(df["gender"].notna(), "?").astype(str).to_numpy()
        return Items(spk, gender, df["emotion"].astype(str).to_numpy(),
                     enrol_split(spk, df["group"].astype(str).to_numpy(), self.cfg.seed),
                     np.array([fold_of[s] for s in spk]), {str(k): int(v) for k, v in fold_of.items()})

    def _side(self, manifest: Manifest, label: str) -> Side:
        return voice_side(manifest, label, self.cfg.emotion_features, self.cache, self.cfg.workers,
                          lambda i, n: self.progress(f"{label}: features", i, n))

    def _method(self, m: MethodConfig, manifest: Manifest, original: Side, items: Items) -> dict[str, Any]:
        cfg = self.cfg
        anonymizer = create_anonymizer({"seed": cfg.seed, **m.anonymizer})
        self.log(f"{m.name}: fitting {anonymizer.config()}")
        anonymizer.fit(manifest, lambda i, n: self.progress(f"{m.name}: fit", i, n))
        reference = m.name == "original"
        batch: dict[str, Any] = {}
        if reference:
            side = original
        else:
            anon, result = anonymize_corpus(anonymizer, manifest, inside(self.run_dir, "audio", m.name),
                                            workers=cfg.workers,
                                            progress=lambda i, n: self.progress(f"{m.name}: anonymize", i, n),
                                            executor=make_executor(cfg.executor, cfg.workers, cfg.ray_address))
            if result.failed:
                raise ConfigError(f"{m.name}: {len(result.failed)} clips failed, e.g. {result.failed[0]}")
            batch = result.as_dict()
            side = self._side(anon, m.name)
            self._examples(m.name, manifest, anon)
        row: dict[str, Any] = {
            "method": m.name, "anonymizer": anonymizer.config(), "curve": m.curve, "x": m.x,
            "n_items": len(manifest), "n_speakers": int(len(items.fold_of)), "folds": cfg.folds,
            "rtf": measure_rtf(anonymizer, manifest, cfg.rtf_clips), "batch": batch,
        }
        self.log(f"{m.name}: attacks and utility")
        extra = extras("voice", {"mels": lambda: self._mels(manifest if reference else anon, m.name)})
        j = JudgeInput(original, side, items, cfg.seed, reference, extra,
                       lambda what, i, n: self.progress(f"{m.name}: {what}", i, n))
        row.update(run_judges(cfg.judge_specs(), j, self.log, m.name))
        if isinstance(anonymizer, LaplaceMFCC):
            row["dp"] = {"epsilon_per_frame": anonymizer.epsilon, "l1_sensitivity": anonymizer.sensitivity_,
                         "laplace_scale": anonymizer.scale}
        return row

    def _mels(self, manifest: Manifest, label: str) -> list[np.ndarray]:
        feats = extract_all(manifest, ["resemblyzer_mel"], self.cache, self.cfg.workers,
                            lambda i, n: self.progress(f"{label}: mel frames", i, n))
        require(manifest, feats, label, "mel frames")
        return feats["resemblyzer_mel"]  # type: ignore[return-value]

    def _examples(self, name: str, manifest: Manifest, anon: Manifest) -> None:
        n = self.cfg.examples
        if n <= 0:
            return
        out = self.run_dir / "examples"
        picks = list(range(0, len(manifest), max(1, len(manifest) // n)))[:n]
        for i in picks:
            item = file_key(manifest.df["item_id"].iat[i])
            src, dst = Path(manifest.df["path"].iat[i]), Path(anon.df["path"].iat[i])
            orig_copy = out / "original" / f"{item}{src.suffix}"
            if not orig_copy.exists():
                orig_copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(src, orig_copy)
            target = inside(out, name, f"{item}{dst.suffix}")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(dst, target)
