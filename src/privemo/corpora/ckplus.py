"""CK+ (Lucey et al. 2010), two layouts.

* Original: ``cohn-kanade-images/S005/001/S005_001_00000001.png`` with
  ``Emotion/S005/001/S005_001_00000011_emotion.txt`` (one float code) labelling the last frame.
  Each labelled sequence gives its last ``peak_frames`` frames with that emotion and (with
  ``neutral_first``) its first frame as neutral; all frames of one sequence share a ``group``.
* CK+48: ``CK+48/<emotion>/S010_004_00000017.png``.
Gender is not part of the release.
"""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import IMAGE_EXT, files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

CODES = {0: "neutral", 1: "angry", 2: "contempt", 3: "disgust", 4: "fearful", 5: "happy", 6: "sad", 7: "surprised"}
FOLDERS = {"anger": "angry", "contempt": "contempt", "disgust": "disgust", "fear": "fearful",
           "happy": "happy", "sadness": "sad", "surprise": "surprised", "neutral": "neutral"}
_FRAME = re.compile(r"^(S\d{3})_(\d{3})_(\d{8})$")


@register("corpus", "ckplus")
def load_ckplus(root: str | Path, peak_frames: int = 3, neutral_first: bool = True,
                skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    images = root / "cohn-kanade-images"
    if not images.is_dir():
        ck48 = root / "CK+48" if (root / "CK+48").is_dir() else root
        if any((ck48 / f).is_dir() for f in FOLDERS):
            return _load_ck48(ck48, skip_bad)
        raise CorpusError(root, "neither cohn-kanade-images/ nor the CK+48 emotion folders found")
    emotion_dir = require_dir(root / "Emotion", "CK+ Emotion folder")
    rows, bad = [], []
    for lab in sorted(emotion_dir.glob("S*/*/*_emotion.txt")):
        subj, seq = lab.parent.parent.name, lab.parent.name
        try:
            code = int(float(lab.read_text().strip().split()[0]))
            emotion = CODES[code]
        except (ValueError, IndexError, KeyError) as exc:
            raise CorpusError(lab, f"expected one emotion code 0-7: {exc}") from exc
        frames = files(images / subj / seq, IMAGE_EXT, "*")
        if not frames:
            raise CorpusError(images / subj / seq, "labelled sequence has no frames")
        for p in frames:
            if not _FRAME.match(p.stem):
                bad.append(p)
        picks = [(p, emotion) for p in frames[-peak_frames:]]
        if neutral_first and len(frames) > peak_frames:
            picks.insert(0, (frames[0], "neutral"))
        for p, emo in picks:
            rows.append({
                "item_id": f"ckplus/{p.stem}", "path": str(p), "media": "image", "speaker": f"ckplus_{subj}",
                "gender": None, "emotion": emo, "emotion_raw": str(code if emo == emotion else 0),
                "session": seq, "group": f"ckplus/{subj}_{seq}",
            })
    return finish(rows, root, "ckplus", skip_bad, bad_names=bad)


def _load_ck48(root: Path, skip_bad: bool) -> Manifest:
    rows, bad = [], []
    for folder, emotion in FOLDERS.items():
        for p in files(root / folder, IMAGE_EXT, "*") if (root / folder).is_dir() else []:
            m = _FRAME.match(p.stem)
            if not m:
                bad.append(p)
                continue
            subj, seq, _ = m.groups()
            rows.append({
                "item_id": f"ckplus48/{folder}/{p.stem}", "path": str(p), "media": "image",
                "speaker": f"ckplus_{subj}", "gender": None, "emotion": emotion, "emotion_raw": folder,
                "session": seq, "group": f"ckplus/{subj}_{seq}",
            })
    return finish(rows, root, "ckplus", skip_bad, bad_names=bad)
