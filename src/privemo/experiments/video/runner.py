"""``privemo evaluate video CONFIG``: ranade's audio-visual pipeline. Every method anonymizes the
clips (faces in every frame, the voice in the track); emotion is recognised from the face and from
the voice and late-fused; face and speaker attackers try to say who it is. One row per method
(``original`` first, the reference), resumable per method.

The run folder holds ``config.yaml``, ``video/<method>/`` (the anonymized clips, resumable),
``sides/<method>.npz`` (what the models and attackers read of each version: face crops, dlib
descriptors, fer probabilities, voice embeddings and features), ``audio/<method>/`` (the tracks as
16 kHz WAV, for the speech features), ``units/<method>.json``, ``results.jsonl``, ``examples/``
(playable clips) and ``report.md`` / ``report.html``.

Protocols (threat models are stated in the report):

- emotion: speaker-independent folds; the face CNN and the voice model are trained on ORIGINAL
  clips of the other folds' speakers (the deployed models) and tested on the fold's clips, original
  or anonymized; fer is pretrained (FER2013) and never trained here. Frame probabilities are
  averaged per clip; fusion is p = w p_face + (1 - w) p_voice (w = 0.6 by default, or chosen per fold
  by cross-validation inside its training speakers: each other fold predicted by models trained
  without it and without the test fold).
- face identity: each speaker's clips are split into enrolment and trial halves. dlib's pretrained
  descriptor (gallery: original enrolment frames) and CNN identifiers: scenario I (trained on
  original enrolment frames) and the informed scenario II (trained on anonymized enrolment frames);
  tested on anonymized trial frames, per frame, per clip (frames averaged) and per speaker (all of
  a speaker's trial frames averaged).
- speaker: resemblyzer embeddings of each clip's track; verification (lazy- and semi-informed EER)
  and identification (lazy: original enrolment centroids; informed: anonymized ones), per clip and
  per speaker.
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
from privemo.anonymize import create_anonymizer
from privemo.anonymize.batch import check_stamp, shipped, write_output
from privemo.anonymize.video import (
    FAST_PRESET,
    TrackerConfig,
    VideoStamp,
    _video_unit,
    clip_totals,
    fit_on_videos,
)
from privemo.corpora import Manifest, load
from privemo.corpora.splits import assign_speaker_folds
from privemo.errors import ConfigError, MediaError
from privemo.evaluators.video import Items, VideoSide
from privemo.executors import make_executor
from privemo.experiments.config import corpus_root
from privemo.experiments.media import MediaEvaluation, extras
from privemo.experiments.video.config import VideoEvalConfig, VideoMethodConfig
from privemo.media import read_video

# the reference row (face "none": frames kept; built unvalidated, "none" is no registered anonymizer)
ORIGINAL = VideoMethodConfig.model_construct(name="original", face={"type": "none"}, voice={"type": "original"})


def load_video_corpus(cfg: VideoEvalConfig, data_root: Path) -> Manifest:
    """The corpus's emotion-labelled video clips (at most ``max_clips_per_speaker`` per speaker,
    spread over the emotions)."""
    manifest = load(cfg.corpus.type, corpus_root(cfg.corpus, data_root), **dict(cfg.corpus.options)).labelled("emotion")
    df = manifest.df[manifest.df["media"] == "video"]
    if df.empty:
        raise ConfigError(f"corpus {cfg.corpus.type}: no video clips (set options: {{media: video}})")
    if cfg.max_clips_per_speaker:
        rng = np.random.default_rng(cfg.seed)
        keep = []
        for _, g in df.groupby("speaker", sort=True):
            ranks: dict[str, int] = {}
            ranked = []  # (rank within its emotion, emotion, index): round-robin over the emotions
            for i in rng.permutation(g.index.to_numpy()):
                e = g.at[i, "emotion"]
                ranked.append((ranks.get(e, 0), e, i))
                ranks[e] = ranks.get(e, 0) + 1
            keep += [i for _, _, i in sorted(ranked)[: cfg.max_clips_per_speaker]]
        df = df.loc[sorted(keep)]
    manifest = Manifest(df.reset_index(drop=True), manifest.skipped)
    n_spk = manifest.df["speaker"].nunique()
    if n_spk < max(cfg.folds, 2):
        raise ConfigError(f"corpus {cfg.corpus.type}: {n_spk} speakers with emotion-labelled video; the "
                          f"evaluation needs at least {max(cfg.folds, 2)} (folds: {cfg.folds})")
    if manifest.df.groupby("speaker").size().min() < 2:
        raise ConfigError(f"corpus {cfg.corpus.type}: every speaker needs at least 2 clips (enrolment and trial)")
    return manifest


class VideoEvaluation(MediaEvaluation):
    cfg: VideoEvalConfig
    original = ORIGINAL.model_dump()
    method_folders = ("video", "audio")

    def reference(self) -> VideoMethodConfig:
        return ORIGINAL

    def drop_unit(self, key: str) -> None:
        """A redone method starts afresh: its clips, tracks and side go; the original's also takes
        the per-fold models trained on it."""
        super().drop_unit(key)
        inside(self.run_dir, "sides", f"{key}.npz").unlink(missing_ok=True)
        if key == "original":
            shutil.rmtree(self.run_dir / "models", ignore_errors=True)

    @contextmanager
    def session(self) -> Iterator[tuple[Manifest, Items, VideoSide, Any]]:
        from privemo.evaluators.video import Models

        manifest = load_video_corpus(self.cfg, self.data_root)
        self.log(f"{self.cfg.corpus.type}: {len(manifest)} clips, {manifest.df['speaker'].nunique()} speakers")
        items = self._items(manifest)
        original = self._side(manifest, "original")
        yield manifest, items, original, Models(self.cfg, items, original, self.run_dir / "models", self.progress)

    def unit(self, key: str, shared: tuple[Manifest, Items, VideoSide, Any]) -> list[dict[str, Any]]:
        manifest, items, original, models = shared
        m = self.method(key)
        t0 = time.perf_counter()
        batch: dict[str, Any] = {}
        if m.name == "original":
            side = original
        else:
            anon, batch = self._anonymize(m, manifest)
            side = self._side(anon, m.name)
            self._examples(m.name, manifest, anon)
        self.log(f"{m.name}: emotion models, fusion and attacks")
        row = {"method": m.name, "face": m.face, "voice": m.voice, "n_clips": len(manifest),
               "n_speakers": len(items.fold_of), "folds": self.cfg.folds, "batch": batch,
               **self._judge(m.name, models, original, side, items)}
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        return [row]

    def _judge(self, name: str, models: Any, original: VideoSide, side: VideoSide, items: Items) -> dict[str, Any]:
        """Every judge's figures of one method (emotion per modality and fused, the face and voice
        attackers by default), each under its key, and the share of frames with a face found."""
        from privemo.evaluators.judge import JudgeInput, run_judges

        j = JudgeInput(original, side, items, self.cfg.seed, name == "original",
                       extras("video", {"models": lambda: models}),
                       lambda what, i, n: self.progress(f"{name}: {what}", i, n))
        return {**run_judges(self.cfg.judge_specs(), j),
                "faces_found": float(np.mean(side.found)) if len(side.found) else 0.0,
                "reference": name == "original"}

    def report(self) -> dict[str, Any]:
        from privemo.experiments.video.report import write_video_report

        return write_video_report(self.run_dir)

    # ------------------------------------------------------------------ data
    def _items(self, manifest: Manifest) -> Items:
        from privemo.attacks.verification import enrol_split

        df = manifest.df
        fold_of = assign_speaker_folds(manifest, self.cfg.folds, self.cfg.seed)
        spk = df["speaker"].astype(str).to_numpy()
        gender = df["gender"].astype(object).where(df["gender"].notna(), "?").astype(str).to_numpy()
        emotion = df["emotion"].astype(str).to_numpy()
        return Items(spk, gender, emotion, sorted(set(emotion.tolist())),
                     enrol_split(spk, df["item_id"].astype(str).to_numpy(), self.cfg.seed),
                     np.array([fold_of[s] for s in spk]), {str(k): int(v) for k, v in fold_of.items()})

    def _anonymize(self, m: VideoMethodConfig, manifest: Manifest) -> tuple[Manifest, dict[str, Any]]:
        from privemo.anonymize.face import create_face_anonymizer

        cfg = self.cfg
        face = create_face_anonymizer({"seed": cfg.seed, **m.face})
        voice = create_anonymizer({"seed": cfg.seed, **m.voice})
        paths = [Path(p) for p in manifest.df["path"]]
        out_dir = inside(self.run_dir, "video", m.name)
        dst = [out_dir / f"{file_key(k)}.mp4" for k in manifest.df["item_id"]]
        tracker = TrackerConfig(**cfg.tracker.model_dump())
        todo = [i for i, d in enumerate(dst) if not d.is_file()]
        clips: list[dict[str, Any]] = []
        if todo:
            self.log(f"{m.name}: fitting {face.name} and {voice.name} on the clips")
            fit_on_videos(face, voice, paths, every=5, size=getattr(face, "size", 64),
                          progress=lambda i, n: self.progress(f"{m.name}: fit", i, n))
            check_stamp(out_dir, VideoStamp(face, voice, None, tracker, cfg.margin, cfg.no_face))
            # on the executor: this process (local), or Ray tasks handed each clip's bytes; written here
            executor = make_executor(cfg.executor, cfg.workers if cfg.executor == "ray" else 1, cfg.ray_address)
            dst_of = {str(paths[i]): dst[i] for i in todo}
            items = ((str(paths[i]), shipped(str(paths[i]), executor), ".mp4", str(manifest.df["item_id"].iat[i]),
                      str(manifest.df["speaker"].iat[i])) for i in todo)
            shared = (face, voice, None, tracker, cfg.margin, cfg.no_face, FAST_PRESET)
            for j, (label, data, stats, err) in enumerate(executor.imap(_video_unit, shared, items)):
                if err is not None or data is None:
                    raise MediaError(label, err[len(label) + 2:] if err and err.startswith(label) else str(err))
                write_output(dst_of[label], data)
                clips.append(stats)
                self.progress(f"{m.name}: anonymize", j + 1, len(todo), f"{clip_totals(clips)['frames_per_s']} frames/s")
        batch = clip_totals(clips) if clips else {}
        out = manifest.df.copy()
        out["path"] = [str(d) for d in dst]
        return Manifest(out), batch

    def _side(self, manifest: Manifest, label: str) -> VideoSide:
        path = inside(self.run_dir, "sides", f"{label}.npz")
        if path.is_file():
            try:
                return VideoSide.load(path)
            except (OSError, ValueError, KeyError):
                path.unlink()  # a damaged file from an interruption: computed again
        side = self._compute_side(manifest, label)
        side.save(path)
        return side

    def _compute_side(self, manifest: Manifest, label: str) -> VideoSide:
        from privemo.evaluators.video import video_side

        return video_side(manifest, label, self.cfg, self.run_dir / "audio" / label, self.cache, self.progress,
                          self.log)

    def _examples(self, name: str, manifest: Manifest, anon: Manifest) -> None:
        """The first ``examples`` clips (one per speaker), original and anonymized, as small WebM files
        (VP8 + Opus) that any browser plays; the report embeds them."""
        n = self.cfg.examples
        if n <= 0:
            return
        from privemo.media import write_video

        picks = manifest.df.drop_duplicates("speaker").index[:n]
        for i in picks:
            item = file_key(manifest.df["item_id"].iat[i])
            for label, df in (("original", manifest.df), (name, anon.df)):
                out = self.run_dir / "examples" / label / f"{item}.webm"
                if not out.is_file():
                    clip = read_video(df["path"].iat[i], sr=None)
                    write_video(out, _fit_width(clip.frames, 320), clip.fps, clip.audio, clip.sr, bit_rate=400_000)


def _fit_width(frames: np.ndarray, width: int) -> np.ndarray:
    import cv2

    h, w = frames.shape[1:3]
    if w <= width:
        return frames
    size = (width, int(round(h * width / w)))
    return np.stack([cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames])
