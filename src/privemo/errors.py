"""The error types privemo raises. Each names the file (or key) and the problem."""

from __future__ import annotations

from pathlib import Path


class PrivemoError(Exception):
    """Base class of every error privemo raises on purpose."""


class MediaError(PrivemoError):
    """A media file could not be read or written: unreadable, empty, truncated, NaN-filled..."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class CorpusError(PrivemoError):
    """A corpus folder is missing, empty, or holds a file whose name does not fit its layout."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(PrivemoError):
    """An experiment or component configuration is invalid; the message names the bad key."""
