"""IEMOCAP (Busso et al. 2008), standard release.

Layout: ``Session{1..5}/sentences/wav/<dialog>/<utt>.wav``; labels in
``Session{n}/dialog/EmoEvaluation/<dialog>.txt`` (lines ``[start - end]\\t<utt>\\t<cat>\\t[V, A, D]``);
transcripts in ``Session{n}/dialog/transcriptions/<dialog>.txt`` (``<utt> [start-end]: text``).
The speaker is the session plus the gender letter of the utterance (``Ses01F_impro01_M003`` -> male
speaker of session 1). Activation and valence (5-point) are binned low [1, 2.75], mid (2.75, 3.25],
high above.
"""

from __future__ import annotations

import re
from pathlib import Path

from privemo.corpora._common import bin_level, finish, require_dir
from privemo.corpora.manifest import Manifest
from privemo.errors import CorpusError
from privemo.registry import register

EMOTIONS = {"neu": "neutral", "hap": "happy", "exc": "happy", "sad": "sad", "ang": "angry",
            "fea": "fearful", "dis": "disgust", "sur": "surprised"}  # fru, oth, xxx: no canonical label
_LABEL = re.compile(r"^\[\s*([\d.]+)\s*-\s*([\d.]+)\s*\]\s+(\S+)\s+(\S+)\s+\[\s*([\d.]+),\s*([\d.]+),\s*([\d.]+)\s*\]")
_TRANS = re.compile(r"^(Ses\d\d[MF]_\S+?)\s+\[[^\]]*\]:\s*(.*)$")
_UTT = re.compile(r"^Ses(\d\d)([MF])_.*_([MF])[A-Z]*\d+$")


@register("corpus", "iemocap")
def load_iemocap(root: str | Path, skip_bad: bool = False) -> Manifest:
    root = require_dir(root)
    sessions = sorted(p for p in root.glob("Session*") if p.is_dir())
    if not sessions:
        raise CorpusError(root, "no Session1..5 folders (is this the IEMOCAP release folder?)")
    rows, bad = [], []
    for ses in sessions:
        labels: dict[str, tuple[str, float, float]] = {}
        for lab in sorted((ses / "dialog" / "EmoEvaluation").glob("*.txt")):
            for line in lab.read_text(errors="replace").splitlines():
                m = _LABEL.match(line.strip())
                if m:
                    labels[m.group(3)] = (m.group(4), float(m.group(5)), float(m.group(6)))
        texts: dict[str, str] = {}
        for tr in sorted((ses / "dialog" / "transcriptions").glob("*.txt")):
            for line in tr.read_text(errors="replace").splitlines():
                m = _TRANS.match(line.strip())
                if m:
                    texts[m.group(1)] = m.group(2).strip()
        for p in sorted((ses / "sentences" / "wav").glob("*/*.wav")):
            if p.name.startswith("."):
                continue
            m = _UTT.match(p.stem)
            if not m:
                bad.append(p)
                continue
            if p.stem not in labels:
                raise CorpusError(p, "no label line in dialog/EmoEvaluation for this utterance")
            cat, val, act = labels[p.stem]
            session, _, gender = m.groups()
            rows.append({
                "item_id": f"iemocap/{p.stem}", "path": str(p), "media": "audio",
                "speaker": f"iemocap_{session}{gender}", "gender": gender.lower(),
                "emotion": EMOTIONS.get(cat), "emotion_raw": cat, "text": texts.get(p.stem),
                "activation": bin_level(act, 2.75, 3.25), "valence": bin_level(val, 2.75, 3.25),
                "session": f"Session{int(session)}",
            })
    return finish(rows, root, "iemocap", skip_bad, bad_names=bad)
