"""MSP-IMPROV (Busso et al. 2017).

Layout: audio anywhere under ``root`` as ``MSP-IMPROV-S01A-F01-P-FM01.wav`` (sentence S01, target
emotion letter, speaker F01 = female of session 1, scenario P/R/S/T) and the label file
``Evalution.txt`` or ``Evaluation.txt`` with one line per utterance:
``UTD-IMPROV-S01A-F01-P-FM01.avi; A; A:2.4; V:3.0; D:2.8; N:5;``. Activation and valence (5-point)
binned low [1, 2.75], mid (2.75, 3.25], high above.
"""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import bin_level, files, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

EMOTIONS = {"A": "angry", "H": "happy", "S": "sad", "N": "neutral"}  # O other, X no agreement
_NAME = re.compile(r"^MSP-IMPROV-(S\d\d)([AHSN])-([MF])(\d\d)-([PRST])-([MF]{2}\d\d)$")
_LINE = re.compile(r"^UTD-IMPROV-(\S+?)\.avi;\s*([A-Z]);\s*A:([\d.]+);\s*V:([\d.]+);")


@register("corpus", "msp_improv")
def load_msp_improv(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    label_file = next((root / n for n in ("Evalution.txt", "Evaluation.txt") if (root / n).is_file()), None)
    if label_file is None:
        raise CorpusError(root, "label file Evalution.txt (or Evaluation.txt) not found")
    labels = {}
    for line in label_file.read_text(errors="replace").splitlines():
        m = _LINE.match(line.strip())
        if m:
            labels["MSP-IMPROV-" + m.group(1)] = (m.group(2), float(m.group(3)), float(m.group(4)))
    rows, bad = [], []
    for p in files(root, (".wav",)):
        m = _NAME.match(p.stem)
        if not m:
            bad.append(p)
            continue
        if p.stem not in labels:
            raise CorpusError(p, f"no line for this utterance in {label_file.name}")
        sent, _target, gender, session, scenario, _ = m.groups()
        cat, act, val = labels[p.stem]
        rows.append({
            "item_id": f"msp_improv/{p.stem}", "path": str(p), "media": "audio",
            "speaker": f"msp_improv_{gender}{session}", "gender": gender.lower(),
            "emotion": EMOTIONS.get(cat), "emotion_raw": cat, "sentence": sent, "session": session,
            "activation": bin_level(act, 2.75, 3.25), "valence": bin_level(val, 2.75, 3.25),
        })
    return finish(rows, root, "msp_improv", skip_bad, bad_names=bad)
