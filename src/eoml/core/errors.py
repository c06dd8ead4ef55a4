"""Error types that name the offending file, so a user knows which input to fix."""

from __future__ import annotations

from pathlib import Path


class EomlError(Exception):
    """Base class of eoml's own errors."""


class InputFileError(EomlError):
    """A raw or intermediate input file is unreadable, truncated, incomplete or all-fill.

    The message always starts with the file's path, then says what is wrong with it.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConfigError(EomlError):
    """The workflow configuration is invalid; the message names the key."""
