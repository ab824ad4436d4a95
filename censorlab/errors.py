"""Errors that stop a file or a build, each naming what a person needs to fix it."""

from __future__ import annotations

import shlex
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

    def __reduce__(self):
        """Pickle with the constructor's arguments (a Dask worker sends it back to the client)."""
        return type(self), (self.path, self.line, self.value, self.reason)


class ChecksumMismatchError(CensorlabError):
    """A raw file differs from the sha256 recorded in the checksum registry."""

    def __init__(self, path: str | Path, expected: str, actual: str):
        self.path = str(path)
        self.expected = expected
        self.actual = actual
        raw_dir = shlex.quote(str(Path(path).parent))
        super().__init__(
            f"{self.path}: sha256 mismatch: registry has {expected}, file has {actual}. "
            f"If the edit is intended, run `censorlab checksums --raw {raw_dir} --update`."
        )

    def __reduce__(self):
        """Pickle with the constructor's arguments."""
        return type(self), (self.path, self.expected, self.actual)


class ValidationError(CensorlabError):
    """Processed outputs disagree with their schema or manifest."""


class OutputLockedError(CensorlabError):
    """Another live run holds the output directory's lock."""


class PartialRunError(CensorlabError):
    """The run published its output, but some input files could not be read.

    The one error policy of every run (docs/contract.md): a file-level error stops that file
    only; the other files finish, the output is published without the failed files' rows, and
    the manifest lists each error. This exception is raised after publishing so that a script
    cannot miss it; the CLI turns it into exit code 2.

    Attributes:
        manifest: The published manifest (its ``errors`` name every failed file).
        file_errors: The RawFileError of each failed file.
    """

    def __init__(self, manifest: dict, file_errors: list[RawFileError]):
        self.manifest = manifest
        self.file_errors = list(file_errors)
        names = "; ".join(str(e) for e in self.file_errors)
        super().__init__(f"{len(self.file_errors)} file(s) could not be read and were left out "
                         f"of the published output: {names}")


class NothingReadError(CensorlabError):
    """Every input file of an ingest failed: nothing was published, the previous output stays.

    A run that could read none of its files has no output to offer; publishing an empty table
    would replace a good earlier generation with nothing. The CLI exits 2 naming each file.

    Attributes:
        file_errors: The RawFileError of each input file.
    """

    def __init__(self, file_errors: list[RawFileError]):
        self.file_errors = list(file_errors)
        names = "; ".join(str(e) for e in self.file_errors)
        super().__init__(f"no input file could be read, nothing was published: {names}")
