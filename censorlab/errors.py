"""Errors that stop a file or a build, each naming what a person needs to fix it."""

from __future__ import annotations

from pathlib import Path


class CensorlabError(Exception):
    """Base class: the CLI turns these into a one-line message and a non-zero exit."""


class RawFileError(CensorlabError):
    """A raw file cannot be read as a whole (encoding, quoting, header, truncation).

    Row-level problems become reject rows instead; this error is for problems that make every
    later row of the file untrustworthy, so no partial output is written for it.

    Attributes:
        path: The raw file.
        line: 1-based physical line (or None when the problem is not tied to a line).
        value: The offending value, shortened for the message.
    """

    def __init__(self, path: str | Path, line: int | None, value: object, message: str):
        self.path = str(path)
        self.line = line
        self.value = value
        self.reason = message
        where = f"{self.path}:{line}" if line is not None else self.path
        shown = repr(value)
        if len(shown) > 120:
            shown = shown[:117] + "..."
        super().__init__(f"{where}: {message} (value: {shown})")


class ChecksumMismatchError(CensorlabError):
    """A raw file differs from the sha256 recorded in the checksum registry."""

    def __init__(self, path: str | Path, expected: str, actual: str):
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"{self.path}: sha256 mismatch: registry has {expected}, file has {actual}. "
            "If the edit is intended, run `censorlab checksums --raw DIR --update`."
        )


class ValidationError(CensorlabError):
    """Processed outputs disagree with their schema or manifest."""
