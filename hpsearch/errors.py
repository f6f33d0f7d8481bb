"""Typed errors. The library raises these; the CLI maps each to one line on stderr and an exit code.

Exit codes (a contract, see DESIGN.md): 1 a gate failed, 2 bad input or usage, 3 I/O or storage error.
"""

from __future__ import annotations


class HPSearchError(Exception):
    """Base error: `message` says what is wrong, `hint` how to fix it."""

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None, *, key: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.key = key  # configuration key the error is about (lets the CLI name the flag)

    def __str__(self) -> str:
        text = self.message
        if self.hint:
            text = f"{text}; {self.hint}"
        # one line, always: callers parse stderr line by line
        return " ".join(text.split())


class ConfigError(HPSearchError):
    """A configuration value violates an invariant (bad flag, bad YAML key)."""


class DataError(HPSearchError):
    """A data set cannot be read or is not usable for classification."""


class SpaceError(ConfigError):
    """A search-space file is malformed."""


class ResultsError(HPSearchError):
    """A results file is missing, truncated, or of an unknown version."""


class ModelFileError(HPSearchError):
    """A model file is missing, truncated, foreign, or does not fit the data it is applied to."""


class StorageError(HPSearchError):
    """The study storage (journal file, database) cannot be used."""

    exit_code = 3


class OutputError(HPSearchError):
    """An output file cannot be written."""

    exit_code = 3
