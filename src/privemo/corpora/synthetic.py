"""The built-in demo corpus ``synthetic``: invented people who speak and show emotions.

Generated locally, deterministically from a seed, with no network: speech clips (a source-filter
voice), face images (procedural drawing) and short talking-face videos (the face's mouth follows
the speech envelope; the clip's audio track is that speech) of ``n_speakers`` people balanced by
gender, in the six emotions neutral, happy, sad, angry, fearful and disgust. Identity, gender and
emotion are all in the signal (see ``_synth_voice`` and ``_synth_face``), so a privacy method has
something to remove. Anything measured on it is a measurement on synthetic data, and reports say so.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from pydantic import Field

from privemo._files import atomic_write
from privemo._schema import Seed
from privemo.corpora import _synth_face as face_
from privemo.corpora import _synth_voice as voice_
from privemo.corpora._common import finish
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.media import write_audio, write_image, write_video
from privemo.registry import register

EMOTIONS = ("neutral", "happy", "sad", "angry", "fearful", "disgust")
SENTENCES = (
    "Kids are talking by the door",
    "Dogs are sitting by the door",
    "It is eleven o'clock",
    "Maybe tomorrow it will be cold",
)
VIDEO_FPS = 12


def default_root(seed: int = 0) -> Path:
    base = Path(os.environ.get("PRIVEMO_CACHE", Path.home() / ".cache" / "privemo"))
    return base / f"synthetic-seed{seed}"


def _spec(n_speakers: int, items: int, videos: int, seed: int) -> dict:
    return {"version": 2, "n_speakers": n_speakers, "items": items, "videos": videos, "seed": seed}


def generate(root: str | Path | None = None, n_speakers: int = 12, items: int = 10, videos: int = 1,
             seed: int = 0, progress: Callable[[int, int], None] | None = None) -> Path:
    """Write the corpus under ``root`` (resumable: finished files are kept) and return ``root``."""
    if n_speakers < 2 or n_speakers % 2:
        raise CorpusError(str(root), f"n_speakers must be an even number >= 2, got {n_speakers}")
    root = Path(root) if root else default_root(seed)
    spec = _spec(n_speakers, items, videos, seed)
    done = root / "DONE.json"
    if done.is_file() and json.loads(done.read_text()) == spec:
        return root
    root.mkdir(parents=True, exist_ok=True)
    for s in range(n_speakers):
        _speaker(root, s, spec)
        if progress:
            progress(s + 1, n_speakers)
    atomic_write(done, json.dumps(spec))
    return root


def _people(s: int, seed: int) -> tuple[str, str, voice_.Voice, face_.Face]:
    gender = "m" if s % 2 == 0 else "f"
    rng = np.random.default_rng([seed, s, 7919])
    return f"spk{s:02d}", gender, voice_.random_voice(rng, gender), face_.random_face(rng, gender)


def _speaker(root: Path, s: int, spec: dict) -> None:
    spk, _gender, voice, face = _people(s, spec["seed"])
    for e, emotion in enumerate(EMOTIONS):
        for k in range(spec["items"]):
            rng = np.random.default_rng([spec["seed"], s, e, k])
            wav = root / "audio" / spk / f"{spk}_{emotion}_{k:02d}.wav"
            if not wav.exists():
                write_audio(wav, voice_.speak(SENTENCES[k % len(SENTENCES)], voice, emotion, rng), voice_.SR)
            png = root / "faces" / spk / f"{spk}_{emotion}_{k:02d}.png"
            if not png.exists():
                write_image(png, face_.draw(face, emotion, rng))
        for k in range(spec["videos"]):
            mp4 = root / "video" / spk / f"{spk}_{emotion}_{k:02d}.mp4"
            if mp4.exists():
                continue
            rng = np.random.default_rng([spec["seed"], s, e, 1000 + k])
            audio = voice_.speak(SENTENCES[(k + s) % len(SENTENCES)], voice, emotion, rng)
            env = voice_.envelope(audio, VIDEO_FPS)
            frames = np.stack([face_.draw(face, emotion, np.random.default_rng([spec["seed"], s, e, k, i]),
                                          mouth_extra=0.8 * float(v)) for i, v in enumerate(env)])
            write_video(mp4, frames, VIDEO_FPS, audio, voice_.SR)


@register("corpus", "synthetic")
def load_synthetic(root: str | Path | None = None, media: Literal["audio", "image", "video", "all"] = "audio",
                   n_speakers: Annotated[int, Field(ge=2, le=200)] = 12, items: Annotated[int, Field(ge=1, le=1000)] = 10,
                   videos: Annotated[int, Field(ge=0, le=100)] = 1, seed: Seed = 0, skip_bad: bool = False) -> Manifest:
    """Generate (if needed) and load the demo corpus; ``media`` is audio, image, video or all."""
    kinds = {"audio": ("audio", ".wav"), "image": ("faces", ".png"), "video": ("video", ".mp4")}
    wanted = list(kinds) if media == "all" else [media]
    if any(m not in kinds for m in wanted):
        raise CorpusError(str(root), f"media must be audio, image, video or all, got {media!r}")
    root = generate(root, n_speakers, items, videos, seed)
    rows = []
    for s in range(n_speakers):
        spk, gender, _, _ = _people(s, seed)
        for m in wanted:
            folder, ext = kinds[m]
            count = videos if m == "video" else items
            for emotion in EMOTIONS:
                for k in range(count):
                    p = root / folder / spk / f"{spk}_{emotion}_{k:02d}{ext}"
                    sent = (k + s) % len(SENTENCES) if m == "video" else k % len(SENTENCES)
                    rows.append({
                        "item_id": f"synthetic/{m}/{p.stem}", "path": str(p), "media": m,
                        "speaker": f"synthetic_{spk}", "gender": gender, "emotion": emotion,
                        "emotion_raw": emotion, "sentence": str(sent), "text": SENTENCES[sent],
                    })
    return finish(rows, root, "synthetic", skip_bad)


load_synthetic.generates_data = True  # type: ignore[attr-defined]  # writes its corpus under root
