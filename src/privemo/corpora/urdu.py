"""URDU (Latif et al. 2018): ``<Emotion>/S{M|F}{id}_F{n}_{A|H|N|S}{k}.wav``."""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

EMOTIONS = {"A": "angry", "H": "happy", "N": "neutral", "S": "sad"}
FOLDERS = {"angry": "A", "happy": "H", "neutral": "N", "sad": "S"}
_NAME = re.compile(r"^S([MF])(\d+)_F(\d+)_([AHNS])(\d+)$")


@register("corpus", "urdu")
def load_urdu(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    rows, bad = [], []
    for p in files(root, (".wav",), "*/*"):
        m = _NAME.match(p.stem)
        folder = FOLDERS.get(p.parent.name.lower())
        if not m or folder is None:
            bad.append(p)
            continue
        g, spk, file_no, emo, k = m.groups()
        if emo != folder:
            raise CorpusError(p, f"emotion code {emo} does not match folder {p.parent.name}")
        rows.append({
            "item_id": f"urdu/{p.stem}", "path": str(p), "media": "audio", "speaker": f"urdu_{g}{spk}",
            "gender": g.lower(), "emotion": EMOTIONS[emo], "emotion_raw": emo, "session": file_no,
        })
    return finish(rows, root, "urdu", skip_bad, bad_names=bad)
