"""RAVDESS speech (Livingstone & Russo 2018): ``Actor_AA/MM-VV-EE-II-SS-RR-AA.{wav,flac}``."""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import AUDIO_EXT, files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.registry import register

EMOTIONS = {"01": "neutral", "02": "calm", "03": "happy", "04": "sad", "05": "angry",
            "06": "fearful", "07": "disgust", "08": "surprised"}
SENTENCES = {"01": "Kids are talking by the door", "02": "Dogs are sitting by the door"}
_NAME = re.compile(r"^(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)$")


@register("corpus", "ravdess")
def load_ravdess(root: str | Path, skip_bad: bool = False) -> Manifest:
    """Load RAVDESS speech; odd actors are male, even female; ``text`` from the statement code."""
    root = require_dir(root)
    rows, bad = [], []
    for p in files(root, AUDIO_EXT):
        m = _NAME.match(p.stem)
        if not m or m.group(3) not in EMOTIONS or m.group(5) not in SENTENCES:
            bad.append(p)
            continue
        modality, channel, emo, intensity, stmt, rep, actor = m.groups()
        if p.parent.name.startswith("Actor_") and p.parent.name != f"Actor_{actor}":
            bad.append(p)
            continue
        rows.append({
            "item_id": f"ravdess/{p.stem}", "path": str(p), "media": "audio", "speaker": f"ravdess_{actor}",
            "gender": "m" if int(actor) % 2 else "f", "emotion": EMOTIONS[emo], "emotion_raw": emo,
            "intensity": "normal" if intensity == "01" else "strong", "sentence": stmt,
            "text": SENTENCES[stmt], "session": rep,
        })
    return finish(rows, root, "ravdess", skip_bad, bad_names=bad)
