"""MUG facial expression database (Aifanti et al. 2010): ``<subject>/<session>/<expression>/*.jpg``.

Frames of one take share a ``group``. Gender is not in the folder names; pass ``genders`` (a
mapping subject -> 'm'/'f') where known.
"""

from __future__ import annotations

from pathlib import Path

from privemo.corpora._common import IMAGE_EXT, files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.registry import register

EMOTIONS = {"anger": "angry", "disgust": "disgust", "fear": "fearful", "happiness": "happy",
            "neutral": "neutral", "sadness": "sad", "surprise": "surprised"}


@register("corpus", "mug")
def load_mug(root: str | Path, genders: dict[str, str] | None = None, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    genders = genders or {}
    rows, bad = [], []
    for p in files(root, IMAGE_EXT, "*/*/*/*"):
        expr, session, subject = p.parent.name.lower(), p.parent.parent.name, p.parent.parent.parent.name
        if expr not in EMOTIONS:
            bad.append(p)
            continue
        rows.append({
            "item_id": f"mug/{subject}/{session}/{expr}/{p.stem}", "path": str(p), "media": "image",
            "speaker": f"mug_{subject}", "gender": genders.get(subject), "emotion": EMOTIONS[expr],
            "emotion_raw": expr, "session": session, "group": f"mug/{subject}/{session}/{expr}",
        })
    return finish(rows, root, "mug", skip_bad, bad_names=bad)
