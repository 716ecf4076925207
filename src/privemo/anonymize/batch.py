"""Anonymize many clips: a manifest (for evaluations) or a file / folder (the CLI), resumably.

Outputs keep the input's relative layout and name under the output folder (an input container
that cannot hold 16-bit PCM, e.g. mp3 or m4a, is written as .wav). A clip whose output exists is not
redone, so an interrupted batch resumes where it stopped; a ``.privemo-anonymizer.json`` stamp in
the output folder records the configuration, and a resume with another configuration is refused
rather than mixing two methods in one folder. Each output is written to a temporary name and
renamed, so no half-written file is left behind.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from privemo._files import atomic_path, atomic_write, remove_stale_temps
from privemo.anonymize.base import Clip, VoiceAnonymizer
from privemo.corpora.manifest import Manifest
from privemo.errors import ConfigError, MediaError, PrivemoError
from privemo.executors import Executor, LocalExecutor
from privemo.media import read_audio, write_audio
from privemo.media._files import media_files
from privemo.registry import create

AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".mp3", ".m4a", ".aac", ".opus", ".webm")
_KEEP = (".wav", ".flac", ".ogg")
STAMP = ".privemo-anonymizer.json"


def create_anonymizer(spec: dict[str, Any] | str | VoiceAnonymizer) -> VoiceAnonymizer:
    if isinstance(spec, VoiceAnonymizer):
        return spec
    if isinstance(spec, str):
        spec = {"type": spec}
    spec = dict(spec)
    if isinstance(spec.get("alpha_range"), list):
        spec["alpha_range"] = tuple(spec["alpha_range"])
    anonymizer = create("anonymizer", **spec)
    if not isinstance(anonymizer, VoiceAnonymizer):
        raise ConfigError(f"anonymizer {spec['type']!r} is not a voice anonymizer (it works on {anonymizer.media})")
    return anonymizer


@dataclass
class BatchResult:
    written: int = 0
    skipped: int = 0  # already there (resume)
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0  # transform time only (no reading or writing), one thread per clip
    audio_seconds: float = 0.0

    @property
    def rtf(self) -> float | None:
        return self.seconds / self.audio_seconds if self.audio_seconds else None

    def as_dict(self) -> dict[str, Any]:
        return {"written": self.written, "skipped": self.skipped, "failed": len(self.failed),
                "transform_s": round(self.seconds, 3), "audio_s": round(self.audio_seconds, 3), "rtf": self.rtf}


def output_path(src: Path, root: Path, out_dir: Path) -> Path:
    rel = src.relative_to(root) if src.is_relative_to(root) else Path(src.name)
    return out_dir / (rel if rel.suffix.lower() in _KEEP else rel.with_suffix(".wav"))


def destinations(src: Path, out: Path, files: list[Path], root: Path,
                 name: Callable[[Path, Path, Path], Path]) -> tuple[Path, list[Path]]:
    """(output folder, output path of each file): a file goes to ``out`` (or into ``out`` where it is a
    folder), a folder's files keep their layout under ``out``; ``name(src, root, out_dir)`` names one."""
    if src.is_file():
        dst = [out / name(src, src.parent, Path()).name if out.is_dir() else out]
        return dst[0].parent, dst
    return out, [name(p, root, out) for p in files]


def check_stamp(out_dir: Path, anonymizer: Any, outputs: list[Path] | None = None, single: bool = False) -> None:
    """Record the configuration in ``out_dir``; refuse a folder made with another one. Then remove
    the temporary files an interrupted run left for ``outputs`` (a resume starts clean). With
    ``single`` (one input file to one output file) the stamp is the output's own
    (``.<name>.privemo-anonymizer.json`` beside it), so files of several methods may share a folder;
    a folder stamp already there must still agree."""
    cfg = json.loads(json.dumps(anonymizer.config(), default=list))
    own = out_dir / f".{outputs[0].name}{STAMP}" if single and outputs else None
    for stamp in (out_dir / STAMP, own):
        if stamp is None or not stamp.is_file():
            continue
        try:
            old = json.loads(stamp.read_text())
        except json.JSONDecodeError:
            old = None
        if old != cfg:
            what = f"{outputs[0]}: was anonymized" if stamp == own and outputs else f"{out_dir}: holds media anonymized"
            raise ConfigError(f"{what} with {old}, not {cfg}; choose another output "
                              + ("file" if stamp == own else "folder") + " (or delete it) rather than mixing two methods")
    target = own if own is not None else out_dir / STAMP
    if not target.is_file():
        atomic_write(target, json.dumps(cfg, indent=1))
    if outputs:
        remove_stale_temps(targets=outputs)


Job = tuple[str, str, "str | None", str, int]  # (source, destination, speaker, key, output rate or 0)


def _voice_unit(anonymizer: VoiceAnonymizer, item: tuple[str, str | bytes, str, str | None, str, int]
                ) -> tuple[str, bytes | None, float, float, str | None]:
    """One clip, on any worker: (source label, its media as a path or as bytes, output suffix, speaker,
    key, rate) -> (label, the anonymized file's bytes or None, transform s, audio s, error). Errors name
    the source, never a worker's temporary file."""
    label, media, suffix, speaker, key, sr = item
    with tempfile.TemporaryDirectory(prefix="privemo-unit-") as tmp:
        src = media if isinstance(media, str) else spill(tmp, label, media)
        try:
            x, rate = read_audio(src, sr if sr > 0 else None)
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1):
                t0 = time.perf_counter()
                y = anonymizer.transform(Clip(x, rate, speaker, key)).audio
                dt = time.perf_counter() - t0
            out = Path(tmp) / f"out{suffix}"
            write_audio(out, y, rate)
            return label, out.read_bytes(), dt, len(x) / rate, None
        except (PrivemoError, OSError, ValueError) as exc:
            return label, None, 0.0, 0.0, str(exc).replace(str(src), label).replace(str(Path(tmp) / "out"), label)


def spill(tmp: str, label: str, media: bytes) -> str:
    """Bytes shipped to a worker, as a file in its own temporary folder (the source's suffix kept)."""
    path = Path(tmp) / f"in{Path(label).suffix.lower()}"
    path.write_bytes(media)
    return str(path)


def shipped(path: str, executor: Executor) -> str | bytes:
    """What a work unit carries of a source file: its path, or (workers without the driver's files) its
    bytes; an unreadable file is left for the worker to name as a per-file error."""
    if not executor.ships_bytes:
        return path
    try:
        return Path(path).read_bytes()
    except OSError:
        return path


def write_output(dst: str | Path, data: bytes) -> None:
    """The driver's one write of an output, atomically."""
    with atomic_path(dst) as tmp:
        tmp.write_bytes(data)


def record_unit(dst: str | Path, label: str, data: bytes | None, err: str | None,
                failed: list[tuple[str, str]], skip_bad: bool) -> bool:
    """The driver's side of one unit: its output written (atomically) when it has one; a failure,
    the unit's or the write's, recorded in ``failed`` (or raised as :class:`MediaError` naming the
    file when ``skip_bad`` is off). True when the unit did not fail."""
    if err is None and data is not None:
        try:
            write_output(dst, data)
        except OSError as exc:
            err = f"{dst}: cannot write ({exc})"
    if err is None:
        return True
    failed.append((label, err))
    if not skip_bad:
        raise MediaError(label, err[len(label) + 2:] if err.startswith(label) else err)
    return False


def run_jobs(anonymizer: VoiceAnonymizer, jobs: Sequence[Job], workers: int = 1,
             skip_bad: bool = True, progress: Callable[[int, int], None] | None = None,
             executor: Executor | None = None) -> BatchResult:
    """Every job whose output is not there yet, on ``executor`` (default: ``workers`` local processes);
    the sources are read lazily and each output is written here as it comes back."""
    executor = executor or LocalExecutor(workers)
    result = BatchResult()
    todo = [j for j in jobs if not Path(j[1]).is_file()]
    result.skipped = len(jobs) - len(todo)
    done = result.skipped
    dst_of = {j[0]: j[1] for j in todo}
    if progress:
        progress(done, len(jobs))
    items = ((src, shipped(src, executor), Path(dst).suffix.lower(), spk, key, sr)
             for src, dst, spk, key, sr in todo)
    for src, data, dt, dur, err in executor.imap(_voice_unit, anonymizer, items, chunk=4):
        done += 1
        if record_unit(dst_of[src], src, data, err, result.failed, skip_bad):
            result.written += 1
            result.seconds += dt
            result.audio_seconds += dur
        if progress:
            progress(done, len(jobs))
    return result


def anonymize_corpus(anonymizer: VoiceAnonymizer, manifest: Manifest, out_dir: str | Path, sr: int = 16000,
                     workers: int = 1, skip_bad: bool = True,
                     progress: Callable[[int, int], None] | None = None,
                     executor: Executor | None = None) -> tuple[Manifest, BatchResult]:
    """Anonymize every audio item of the (already fitted) ``anonymizer``'s corpus into ``out_dir``.

    Returns the manifest of the anonymized items (same rows, ``path`` pointing to the new files;
    items that failed are dropped and listed in the result) and the batch figures.
    """
    out_dir = Path(out_dir)
    df = manifest.df
    paths = [Path(p) for p in df["path"]]
    root = Path(os.path.commonpath([str(p.parent) for p in paths])) if paths else out_dir
    dst = [output_path(p, root, out_dir) for p in paths]
    check_stamp(out_dir, anonymizer, dst)
    jobs = [(str(p), str(d), str(s), str(k), sr) for p, d, s, k in zip(paths, dst, df["speaker"], df["item_id"],
                                                                     strict=True)]
    result = run_jobs(anonymizer, jobs, workers, skip_bad, progress, executor)
    bad = {src for src, _ in result.failed}
    keep = np.array([str(p) not in bad for p in paths])
    out = df.copy()
    out["path"] = [str(d) for d in dst]
    return Manifest(out[keep]), result


def audio_files(path: Path) -> tuple[list[Path], Path]:
    """The audio files under ``path`` (a file or a folder, recursively) and their common root."""
    return media_files(path, AUDIO_SUFFIXES, "audio files")


def folder_manifest(files: list[Path], root: Path, speaker_from: str = "none") -> Manifest:
    """A manifest of plain audio files (for fitting); ``speaker_from="parent"`` takes each file's
    folder name as its speaker."""
    rows = []
    for p in files:
        spk = p.parent.name if speaker_from == "parent" else "unknown"
        rows.append({"item_id": str(p.relative_to(root)) if p.is_relative_to(root) else p.name,
                     "path": str(p), "media": "audio", "corpus": "files", "speaker": spk, "gender": None,
                     "emotion": None})
    return Manifest(rows)


def anonymize_files(anonymizer: VoiceAnonymizer, src: str | Path, out: str | Path, sr: int | None = None,
                    speaker_from: str = "none", fit_on: Manifest | None = None, workers: int = 1,
                    skip_bad: bool = True, progress: Callable[[int, int], None] | None = None,
                    executor: Executor | None = None) -> BatchResult:
    """Anonymize a file (``out`` is the output file) or a folder (``out`` is a folder; layout and
    names kept). The anonymizer is fitted on ``fit_on`` or, by default, on the input files."""
    src, out = Path(src), Path(out)
    files, root = audio_files(src)
    manifest = folder_manifest(files, root, speaker_from)
    anonymizer.fit(fit_on if fit_on is not None else manifest)
    speakers = manifest.df["speaker"].tolist()
    keys = manifest.df["item_id"].tolist()
    out_dir, dst = destinations(src, out, files, root, output_path)
    check_stamp(out_dir, anonymizer, dst, single=src.is_file())
    jobs = [(str(p), str(d), None if speaker_from == "none" else s, k, sr or 0)
            for p, d, s, k in zip(files, dst, speakers, keys, strict=True)]
    return run_jobs(anonymizer, jobs, workers, skip_bad, progress, executor)
