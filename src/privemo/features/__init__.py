"""Features: MFB, MFCC, openSMILE (eGeMAPS, ComParE), GloVe lexical vectors and face crops.

Every extractor is registered (``feature`` kind) and cached on disk keyed by (content hash,
extractor configuration); see :func:`extract`.
"""

from privemo.features import face as _face  # noqa: F401  (registers face_crop)
from privemo.features import lexical as _lexical  # noqa: F401  (registers glove)
from privemo.features import speaker as _speaker  # noqa: F401  (registers resemblyzer)
from privemo.features.acoustic import log_mel, mel_filters, mfcc
from privemo.features.cache import FeatureCache
from privemo.features.extractors import Extractor, Features, extract, get_extractor
from privemo.features.normalize import pool, speaker_znorm

__all__ = [
    "Extractor", "FeatureCache", "Features", "extract", "get_extractor", "log_mel", "mel_filters", "mfcc",
    "pool", "speaker_znorm",
]
