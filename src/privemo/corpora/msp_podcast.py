"""MSP-Podcast (Lotfian & Busso 2019): ``Audios/*.wav`` and ``Labels/labels_consensus.csv``.

The consensus CSV has columns FileName, EmoClass (A S H U F D C N O X), EmoAct, EmoVal, SpkrID,
Gender, Split_Set. Activation and valence (7-point) binned low [1, 3.75], mid (3.75, 4.25], high above.
"""

from __future__ import annotations

from pathlib import Path

from privemo.corpora._common import bin_level, finish, label_rows, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

EMOTIONS = {"A": "angry", "S": "sad", "H": "happy", "U": "surprised", "F": "fearful", "D": "disgust",
            "C": "contempt", "N": "neutral"}
NEEDED = ("FileName", "EmoClass", "EmoAct", "EmoVal", "SpkrID", "Gender")


@register("corpus", "msp_podcast")
def load_msp_podcast(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    labels = label_rows(root / "Labels" / "labels_consensus.csv", NEEDED, "consensus label file", "FileName",
                        ("EmoAct", "EmoVal"))
    audio = require_dir(root / "Audios", "MSP-Podcast Audios folder")
    rows = []
    for rec in labels:
        p = audio / rec["FileName"]
        if not p.is_file():
            if skip_bad:
                continue
            raise CorpusError(p, "listed in labels_consensus.csv but missing")
        spk = str(rec["SpkrID"]).strip()
        g = {"male": "m", "female": "f"}.get(str(rec["Gender"]).strip().lower())
        rows.append({
            "item_id": f"msp_podcast/{p.stem}", "path": str(p), "media": "audio",
            "speaker": f"msp_podcast_{spk}" if spk.lower() not in ("unknown", "nan") else f"msp_podcast_unk_{p.stem}",
            "gender": g, "emotion": EMOTIONS.get(str(rec["EmoClass"]).strip()),
            "emotion_raw": rec["EmoClass"], "session": rec.get("Split_Set"),
            "activation": bin_level(rec["EmoAct"], 3.75, 4.25), "valence": bin_level(rec["EmoVal"], 3.75, 4.25),
        })
    return finish(rows, root, "msp_podcast", skip_bad)
