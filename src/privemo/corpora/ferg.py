"""FERG-DB (Aneja et al. 2016): ``FERG_DB_256/<character>/<character>_<expression>/<file>.png``.

Six stylised characters; gender as the characters are drawn: aia, bonnie, mery female; jules,
malcolm, ray male.
"""

from __future__ import annotations

from pathlib import Path

from privemo.corpora._common import IMAGE_EXT, files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.registry import register

GENDER = {"aia": "f", "bonnie": "f", "mery": "f", "jules": "m", "malcolm": "m", "ray": "m"}
EMOTIONS = {"anger": "angry", "disgust": "disgust", "fear": "fearful", "joy": "happy", "neutral": "neutral",
            "sadness": "sad", "surprise": "surprised"}


@register("corpus", "ferg")
def load_ferg(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    base = root / "FERG_DB_256" if (root / "FERG_DB_256").is_dir() else root
    rows, bad = [], []
    for p in files(base, IMAGE_EXT, "*/*/*"):
        character, folder = p.parent.parent.name.lower(), p.parent.name.lower()
        expr = folder.split("_", 1)[1] if "_" in folder else ""
        if character not in GENDER or not folder.startswith(character + "_") or expr not in EMOTIONS:
            bad.append(p)
            continue
        rows.append({
            "item_id": f"ferg/{character}/{p.stem}", "path": str(p), "media": "image",
            "speaker": f"ferg_{character}", "gender": GENDER[character], "emotion": EMOTIONS[expr],
            "emotion_raw": expr,
        })
    return finish(rows, root, "ferg", skip_bad, bad_names=bad)
