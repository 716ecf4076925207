"""privemo: privacy-preserving emotion recognition.

Keep what a voice, a face or a sentence says about emotion; remove what it says about who the
person is; and measure both with real attackers. See ``DESIGN.md`` for the architecture.
"""

from privemo.errors import ConfigError, CorpusError, MediaError, PrivemoError

__version__ = "0.1.0"
__all__ = ["ConfigError", "CorpusError", "MediaError", "PrivemoError", "__version__"]
