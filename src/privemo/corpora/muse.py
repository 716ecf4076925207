"""MuSE, the Multimodal Stressed Emotion corpus (Jaiswal et al. 2020).

Layout read here (the corpus ships audio per subject and a table of per-utterance annotations):
``audio/<file>.wav`` plus ``annotations.csv`` with columns ``file, subject, gender, activation,
valence[, text, session]``; activation and valence on the 9-point scale, binned low [min, 4.5],
mid (4.5, 5.5], high above. ``gender`` is ``m``/``f`` (or Male/Female).
"""

from __future__ import annotations

from pathlib import Path

from privemo.corpora._common import bin_level, finish, label_rows, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

NEEDED = ("file", "subject", "gender", "activation", "valence")


@register("corpus", "muse")
def load_muse(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    labels = label_rows(root / "annotations.csv", NEEDED, "MuSE annotations.csv", "file", ("activation", "valence"))
    rows = []
    for rec in labels:
        p = root / "audio" / rec["file"]
        if not p.is_file():
            if skip_bad:
                continue
            raise CorpusError(p, "listed in annotations.csv but missing")
        g = str(rec["gender"]).strip().lower()
        rows.append({
            "item_id": f"muse/{p.stem}", "path": str(p), "media": "audio", "speaker": f"muse_{rec['subject']}",
            "gender": {"m": "m", "male": "m", "f": "f", "female": "f"}.get(g), "emotion": None,
            "activation": bin_level(rec["activation"], 4.5, 5.5), "valence": bin_level(rec["valence"], 4.5, 5.5),
            "text": rec.get("text") if isinstance(rec.get("text"), str) else None, "session": rec.get("session"),
        })
    return finish(rows, root, "muse", skip_bad)
