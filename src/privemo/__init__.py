"""privemo: privacy-preserving emotion recognition.

Keep what a voice, a face or a sentence says about emotion; remove what it says about who the
person is; and measure both with real attackers. See ``DESIGN.md`` for the architecture.
"""

import warnings

from privemo.errors import ConfigError, CorpusError, MediaError, PrivemoError

# webrtcvad (under resemblyzer) and pyworld import pkg_resources, which setuptools < 81 (pinned by
# privemo[voice]) still has but warns about on every import, in every worker process
warnings.filterwarnings("ignore", message="pkg_resources is deprecated", category=UserWarning)

__version__ = "0.1.0"
__all__ = ["ConfigError", "CorpusError", "MediaError", "PrivemoError", "__version__"]
