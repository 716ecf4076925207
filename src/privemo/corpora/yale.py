"""Yale Face Database (Belhumeur et al. 1997): ``subjectNN.<condition>`` (GIF, no extension).

Expression-bearing conditions map to canonical emotions (normal -> neutral, happy, sad, surprised,
sleepy); wink and the lighting/glasses conditions keep their code in ``emotion_raw`` and have no
emotion. Gender is not encoded in this corpus.
"""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.registry import register

CONDITIONS = ("happy", "sad", "surprised", "normal", "sleepy", "wink", "centerlight", "leftlight",
              "rightlight", "glasses", "noglasses")
EMOTIONS = {"happy": "happy", "sad": "sad", "surprised": "surprised", "normal": "neutral", "sleepy": "sleepy"}
_NAME = re.compile(r"^subject(\d\d)\.([a-z]+)(\.(gif|png|pgm))?$")


@register("corpus", "yale")
def load_yale(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    rows, bad = [], []
    for p in sorted(q for q in root.iterdir() if q.is_file() and not q.name.startswith(".")):
        if p.name.lower() in ("readme", "readme.txt", "readme.md", "license", "license.txt"):
            continue
        m = _NAME.match(p.name)
        if not m or m.group(2) not in CONDITIONS:
            bad.append(p)
            continue
        subj, cond = m.group(1), m.group(2)
        rows.append({
            "item_id": f"yale/subject{subj}.{cond}", "path": str(p), "media": "image",
            "speaker": f"yale_{subj}", "gender": None, "emotion": EMOTIONS.get(cond), "emotion_raw": cond,
        })
    return finish(rows, root, "yale", skip_bad, bad_names=bad)
