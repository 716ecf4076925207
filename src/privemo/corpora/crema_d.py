"""CREMA-D (Cao et al. 2014): ``AudioWAV/1001_DFA_ANG_XX.wav``, ``VideoFlash/1001_DFA_ANG_XX.flv``."""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import files, finish, label_rows, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

EMOTIONS = {"ANG": "angry", "DIS": "disgust", "FEA": "fearful", "HAP": "happy", "NEU": "neutral", "SAD": "sad"}
SENTENCES = {
    "IEO": "It's eleven o'clock", "TIE": "That is exactly what happened",
    "IOM": "I'm on my way to the meeting", "IWW": "I wonder what this is about",
    "TAI": "The airplane is almost full", "MTI": "Maybe tomorrow it will be cold",
    "IWL": "I would like a new alarm clock", "ITH": "I think I have a doctor's appointment",
    "DFA": "Don't forget a jacket", "ITS": "I think I've seen this before",
    "TSI": "The surface is slick", "WSI": "We'll stop in a couple of minutes",
}
LEVELS = {"LO": "low", "MD": "medium", "HI": "high", "XX": "unspecified", "X": "unspecified"}
_NAME = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{1,2})$")
_FOLDERS = {"audio": ("AudioWAV", (".wav",)), "video": ("VideoFlash", (".flv", ".mp4"))}


def _demographics(path: Path) -> dict[str, str]:
    if not path.is_file():
        raise CorpusError(path, "VideoDemographics.csv not found (needed for speaker gender)")
    return {row["ActorID"].strip(): {"Male": "m", "Female": "f"}.get(row["Sex"].strip(), "")
            for row in label_rows(path, ("ActorID", "Sex"), "VideoDemographics.csv")}


@register("corpus", "crema_d")
def load_crema_d(root: str | Path, media: str = "audio", demographics: str | Path | None = None,
                 skip_bad: bool = False) -> Manifest:
    """Load CREMA-D ``media`` ("audio": AudioWAV, "video": VideoFlash) with gender per actor.

    ``demographics`` defaults to ``root/VideoDemographics.csv``.
    """
    root = require_dir(root)
    if media not in _FOLDERS:
        raise CorpusError(root, f"media must be 'audio' or 'video', got {media!r}")
    folder, exts = _FOLDERS[media]
    sub = require_dir(root / folder, f"CREMA-D {folder} folder")
    sex = _demographics(Path(demographics) if demographics else root / "VideoDemographics.csv")
    rows, bad = [], []
    for p in files(sub, exts, "*"):
        m = _NAME.match(p.stem)
        if not m or m.group(3) not in EMOTIONS or m.group(2) not in SENTENCES or m.group(4) not in LEVELS:
            bad.append(p)
            continue
        actor, sent, emo, level = m.groups()
        if actor not in sex:
            raise CorpusError(p, f"actor {actor} is not in VideoDemographics.csv")
        rows.append({
            "item_id": f"crema_d/{media}/{p.stem}", "path": str(p), "media": media,
            "speaker": f"crema_d_{actor}", "gender": sex[actor] or None, "emotion": EMOTIONS[emo],
            "emotion_raw": emo, "intensity": LEVELS[level], "sentence": sent, "text": SENTENCES[sent],
        })
    return finish(rows, root, "crema_d", skip_bad, bad_names=bad)
