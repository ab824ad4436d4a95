"""The raw-file checksum registry: raw data is immutable, and we can prove it.

`data/raw/registry.txt` holds one line per raw file, pooch-style::

    block_events.csv sha256:5f1c...

Before parsing, each file's sha256 is compared with the registry; a mismatch stops the build and
shows both hashes. A researcher pointing `censorlab build --raw DIR` at their own directory gets a
registry written on the first build; later edits need `censorlab checksums --raw DIR --update`,
which reports what changed. Deliberate, visible, never silent.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from censorlab.core.storage import atomic_write_text
from censorlab.errors import CensorlabError, ChecksumMismatchError
from censorlab.paths import CHECKSUM_REGISTRY_NAME

logger = logging.getLogger(__name__)

HASH_PREFIX = "sha256:"
REGISTERED_SUFFIXES = (".csv", ".tsv", ".txt", ".gz", ".jsonl")
CHUNK_BYTES = 1 << 20
READ_ONLY_ERRNOS = (errno.EROFS, errno.EACCES, errno.EPERM)  # a registry that cannot be written


@dataclass(frozen=True)
class ChecksumChange:
    """One difference between the registry and the files on disk."""

    name: str
    status: str  # added | changed | removed
    old: str | None
    new: str | None

    def describe(self) -> str:
        """Return a one-line description for the CLI."""
        return f"{self.status:8} {self.name}  {self.old or '-'} -> {self.new or '-'}"


def file_sha256(path: Path) -> str:
    """Return `sha256:<hex>` of a file, read in chunks so large dumps need little memory.

    Opened without blocking and checked to be a regular file before reading: a FIFO would
    otherwise hang the run until something writes into it.

    Raises:
        CensorlabError: ``path`` is a FIFO, a device, a socket or a directory.
    """
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    with open(fd, "rb") as handle:
        refuse_irregular(path, os.fstat(fd).st_mode)
        os.set_blocking(fd, True)
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return HASH_PREFIX + digest.hexdigest()


def refuse_irregular(path: Path, mode: int) -> None:
    """Raise unless ``mode`` (of ``path``) is a regular file's.

    Raises:
        CensorlabError: Naming the file and what it is instead.
    """
    if not stat.S_ISREG(mode):
        kind = "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) \
            else "a device or socket"
        raise CensorlabError(f"{path}: not a regular file ({kind}); censorlab reads only "
                             "regular files, which it can hash and parse as the same bytes")


def registry_path(raw_dir: Path) -> Path:
    """Return where the registry of a raw directory lives."""
    return Path(raw_dir) / CHECKSUM_REGISTRY_NAME


def read_registry(raw_dir: Path) -> dict[str, str]:
    """Parse the registry into {file name: 'sha256:<hex>'}; empty when there is none."""
    path = registry_path(raw_dir)
    if not path.exists():
        return {}
    entries: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        if len(parts) != 2 or not parts[1].startswith(HASH_PREFIX) or parts[0] in entries:
            raise CensorlabError(f"{path}:{number}: malformed registry line {line!r}")
        entries[parts[0]] = parts[1]
    return entries


def registered_files(raw_dir: Path) -> list[Path]:
    """Return the data files of a raw directory that the registry covers.

    Raises:
        CensorlabError: A name the registry would cover is not a regular file (a FIFO named
            ``mau.csv`` is refused by name, not skipped).
    """
    found = sorted(p for p in Path(raw_dir).iterdir()
                   if p.suffix in REGISTERED_SUFFIXES and p.name != CHECKSUM_REGISTRY_NAME)
    for path in found:
        refuse_irregular(path, path.stat().st_mode)
    return found


def _write_registry(raw_dir: Path, entries: dict[str, str]) -> None:
    lines = ["# censorlab raw-file registry: <file> sha256:<hex>. Update with "
             "`censorlab checksums --raw DIR --update`."]
    lines += [f"{name} {digest}" for name, digest in sorted(entries.items())]
    atomic_write_text(registry_path(raw_dir), "\n".join(lines))


def diff_registry(raw_dir: Path) -> list[ChecksumChange]:
    """Compare the registry with the files on disk."""
    recorded = read_registry(raw_dir)
    actual = {p.name: file_sha256(p) for p in registered_files(raw_dir)}
    changes = [ChecksumChange(n, "added", None, actual[n]) for n in actual if n not in recorded]
    changes += [ChecksumChange(n, "changed", recorded[n], actual[n])
                for n in actual if n in recorded and recorded[n] != actual[n]]
    changes += [ChecksumChange(n, "removed", recorded[n], None)
                for n in recorded if n not in actual]
    return sorted(changes, key=lambda c: c.name)


def update_registry(raw_dir: Path) -> list[ChecksumChange]:
    """Record the current hashes of every raw file; return what changed."""
    changes = diff_registry(raw_dir)
    if changes or not registry_path(raw_dir).exists():
        _write_registry(raw_dir, {p.name: file_sha256(p) for p in registered_files(raw_dir)})
    return changes


def verify_files(raw_dir: Path, names: list[str], *, record_new: bool = True) -> dict[str, str]:
    """Check the named raw files against the registry before they are parsed.

    Files missing from the registry (a researcher's own directory on its first build) are
    recorded, and that is logged; a file whose hash differs stops the build.

    Args:
        raw_dir: The raw directory.
        names: File names in it.
        record_new: Write first checksums of unregistered files into the registry. False for
            the raw data shipped inside an installed package, which is never written to: an
            unregistered file there is an error instead.

    Returns:
        {file name: sha256} for every named file.

    Raises:
        ChecksumMismatchError: A file differs from its recorded hash.
        CensorlabError: The directory or a named file does not exist.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise CensorlabError(f"raw directory {raw_dir} does not exist (or is not a directory)")
    recorded = read_registry(raw_dir)
    hashes: dict[str, str] = {}
    new: dict[str, str] = {}
    for name in names:
        path = raw_dir / name
        if not path.exists():
            raise CensorlabError(f"{path}: raw file not found; a raw directory holds "
                                 f"{', '.join(names)}")
        digest = file_sha256(path)
        hashes[name] = digest
        if name not in recorded:
            new[name] = digest
        elif recorded[name] != digest:
            raise ChecksumMismatchError(path, recorded[name], digest)
    if new and not record_new:
        raise CensorlabError(f"{registry_path(raw_dir)} has no checksum for "
                             f"{', '.join(sorted(new))}; this raw directory is read-only")
    if new:
        _record_first_checksums(raw_dir, recorded, new)
    return hashes


def _record_first_checksums(raw_dir: Path, recorded: dict[str, str], new: dict[str, str]) -> None:
    """Add first checksums to the registry; on a read-only raw directory, only say so.

    A directory one may read but not write (a shared or mounted copy) can still be built
    from: the checksums taken now go into the run's manifest, they just cannot protect the
    next run.
    """
    names, registry = ", ".join(sorted(new)), registry_path(raw_dir)
    try:
        _write_registry(raw_dir, {**recorded, **new})
    except OSError as exc:
        if exc.errno not in READ_ONLY_ERRNOS:
            raise
        logger.warning("cannot record first checksums for %s in %s (%s): building from the "
                       "checksums taken now, recorded in the manifest only", names, registry,
                       exc.strerror)
        return
    logger.warning("recording first checksums for %s in %s", names, registry)
