"""EmoDB (Burkhardt et al. 2005): ``wav/03a01Fa.wav``."""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.registry import register

MALE = {"03", "10", "11", "12", "15"}
FEMALE = {"08", "09", "13", "14", "16"}
EMOTIONS = {"W": "angry", "L": "boredom", "E": "disgust", "A": "fearful", "F": "happy", "T": "sad", "N": "neutral"}
SENTENCES = {
    "a01": "Der Lappen liegt auf dem Eisschrank.",
    "a02": "Das will sie am Mittwoch abgeben.",
    "a04": "Heute abend könnte ich es ihm sagen.",
    "a05": "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück.",
    "a07": "In sieben Stunden wird es soweit sein.",
    "b01": "Was sind denn das für Tüten, die da unter dem Tisch stehen?",
    "b02": "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter.",
    "b03": "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht.",
    "b09": "Ich will das eben wegbringen und dann mit Karl was trinken gehen.",
    "b10": "Die wird auf dem Platz sein, wo wir sie immer hinlegen.",
}
_NAME = re.compile(r"^(\d\d)([ab]\d\d)([WLEAFTN])([a-z])$")


@register("corpus", "emodb")
def load_emodb(root: str | Path, skip_bad: bool = False) -> Manifest:
    """Load EmoDB from ``root/wav`` (or ``root`` itself if it holds the wav files)."""
    root = require_dir(root)
    wav = root / "wav" if (root / "wav").is_dir() else root
    rows, bad = [], []
    for p in files(wav, (".wav",), "*"):
        m = _NAME.match(p.stem)
        if not m or m.group(1) not in MALE | FEMALE:
            bad.append(p)
            continue
        spk, text, emo, version = m.groups()
        rows.append({
            "item_id": f"emodb/{p.stem}", "path": str(p), "media": "audio", "speaker": f"emodb_{spk}",
            "gender": "m" if spk in MALE else "f", "emotion": EMOTIONS[emo], "emotion_raw": emo,
            "sentence": text, "text": SENTENCES.get(text), "session": version,
        })
    return finish(rows, root, "emodb", skip_bad, bad_names=bad)
