"""JAFFE (Lyons et al. 1998): ``KA.AN1.39.tiff``; 10 subjects, all female."""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.registry import register

EMOTIONS = {"AN": "angry", "DI": "disgust", "FE": "fearful", "HA": "happy", "NE": "neutral",
            "SA": "sad", "SU": "surprised"}
_NAME = re.compile(r"^([A-Z]{2})\.([A-Z]{2})(\d+)\.(\d+)\.(tiff?|TIFF?)$")


@register("corpus", "jaffe")
def load_jaffe(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    rows, bad = [], []
    for p in sorted(q for q in root.iterdir() if q.is_file() and q.suffix.lower() in (".tif", ".tiff")):
        m = _NAME.match(p.name)
        if not m or m.group(2) not in EMOTIONS:
            bad.append(p)
            continue
        subj, emo, idx, serial, _ = m.groups()
        rows.append({
            "item_id": f"jaffe/{p.stem}", "path": str(p), "media": "image", "speaker": f"jaffe_{subj}",
            "gender": "f", "emotion": EMOTIONS[emo], "emotion_raw": emo, "session": idx,
        })
    return finish(rows, root, "jaffe", skip_bad, bad_names=bad)
