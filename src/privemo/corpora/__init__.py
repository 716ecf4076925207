"""Corpora: one loader per corpus, the Manifest type, and speaker-independent splits.

``load(name, root, **options)`` loads any registered corpus; the loaders are also importable one by
one (``load_ravdess`` ...). Every loader checks what it reads and raises :class:`CorpusError`
naming the path for a missing folder, an empty corpus or a file name that does not fit its layout
(``skip_bad=True`` leaves such files, and unreadable media, out and lists them in
``manifest.skipped``).
"""

from pathlib import Path
from typing import Any

from privemo.corpora.ckplus import load_ckplus
from privemo.corpora.crema_d import load_crema_d
from privemo.corpora.emodb import load_emodb
from privemo.corpora.ferg import load_ferg
from privemo.corpora.iemocap import load_iemocap
from privemo.corpora.jaffe import load_jaffe
from privemo.corpora.manifest import EMOTIONS, REQUIRED, Manifest
from privemo.corpora.msp_improv import load_msp_improv
from privemo.corpora.msp_podcast import load_msp_podcast
from privemo.corpora.mug import load_mug
from privemo.corpora.muse import load_muse
from privemo.corpora.ravdess import load_ravdess
from privemo.corpora.synthetic import load_synthetic
from privemo.corpora.urdu import load_urdu
from privemo.corpora.yale import load_yale


def load(name: str, root: str | Path | None = None, **options: Any) -> Manifest:
    """Load corpus ``name`` (a registered type: ravdess, crema_d, ..., synthetic) from ``root``."""
    from privemo.registry import lookup

    loader = lookup("corpus", name)
    if root is None and name != "synthetic":
        from privemo.errors import CorpusError

        raise CorpusError("<none>", f"corpus {name!r} needs a root folder")
    return loader(root, **options)


__all__ = [
    "EMOTIONS", "REQUIRED", "Manifest", "load", "load_ckplus", "load_crema_d", "load_emodb", "load_ferg",
    "load_iemocap", "load_jaffe", "load_msp_improv", "load_msp_podcast", "load_mug", "load_muse",
    "load_ravdess", "load_synthetic", "load_urdu", "load_yale",
]
