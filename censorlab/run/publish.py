"""Generations, the one commit point, and the lock of an output directory.

Every run writes a complete new *generation* -- its tables, its rejects and its manifest -- into
a fresh directory, then publishes it with one atomic step: a symbolic link ``current`` is
replaced (``os.replace`` of a new link over it, a single rename). Readers resolve ``current``
once and read only that generation, so they see the previous output whole or the new one
whole, never a mix::

    OUT/
      current -> .censorlab/generations/000007    the commit point
      manifest.json -> current/manifest.json       stable names for people and other tools,
      block_events.parquet -> current/...          resolved through `current`
      .censorlab/lock                              flock(2) of the live writer
      .censorlab/generations/000006/               the previous generation (kept for readers)
      .censorlab/generations/000007/               the published one
      .censorlab/work/                             scratch of the live run (the OONI spool)

Why a link and not a directory rename: a directory cannot be renamed over a non-empty one, so
replacing an output directory takes two renames (old aside, new in) with a moment in between
when neither is there; and ``--out`` is often a directory the user made. Replacing a link is
one rename on every POSIX file system.

The lock is ``flock`` on ``.censorlab/lock``, held from the moment a run touches the directory
until it has published and tidied up. The kernel releases it when the holder dies, so a killed
run never blocks the next one; and only the holder ever deletes anything here: leftovers of
killed runs (unpublished generations, scratch) are removed by the next run that takes the lock,
never those of a run still alive.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from censorlab.core.storage import naming_the_file
from censorlab.errors import CensorlabError, OutputLockedError
from censorlab.paths import MANIFEST_NAME

logger = logging.getLogger(__name__)

CONTROL_DIR = ".censorlab"
CURRENT = "current"
GENERATION_DIGITS = 6
LOCK_POLL_SECONDS = 0.2
LINK_TMP_SUFFIX = ".link-tmp"  # a stable name's new link, before it is renamed into place


def control_dir(out_dir: Path) -> Path:
    """Where an output directory keeps its lock, generations and scratch."""
    return Path(out_dir) / CONTROL_DIR


def _generations_dir(out_dir: Path) -> Path:
    return control_dir(out_dir) / "generations"


def published_generation(out_dir: str | Path) -> Path | None:
    """Return the directory of the published generation of ``out_dir`` (None: none yet).

    Readers call this once and read everything from the directory it returns.
    """
    link = Path(out_dir) / CURRENT
    try:
        target = os.readlink(link)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == errno.EINVAL:  # `current` is not a link: not a censorlab output
            return None
        raise
    generation = (link.parent / target).resolve()
    return generation if generation.is_dir() else None


@contextmanager
def output_lock(out_dir: Path, timeout: float | None = 0.0) -> Iterator[Path]:
    """Hold the output directory's lock; yield the directory (created if needed).

    Args:
        out_dir: The output directory.
        timeout: Seconds to wait for another writer (0: fail at once; None: wait for ever).

    Raises:
        OutputLockedError: Another live run holds the lock (the message names it).
    """
    out_dir = Path(out_dir)
    control = control_dir(out_dir)
    control.mkdir(parents=True, exist_ok=True)
    fd = os.open(control / "lock", os.O_RDWR | os.O_CREAT, 0o666)
    try:
        waited_from = time.monotonic()
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if timeout is not None and time.monotonic() - waited_from >= timeout:
                    holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                    raise OutputLockedError(
                        f"{out_dir} is being written by another censorlab run "
                        f"({holder or 'pid unknown'}); wait for it to finish or choose another "
                        "--out") from None
                time.sleep(LOCK_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')}".encode(),
                  0)
        yield out_dir
    finally:
        os.close(fd)  # closing releases the lock


def remove_leftovers(out_dir: Path) -> list[Path]:
    """Delete what killed runs left: unpublished generations, scratch, links, old generations.

    Only call while holding the lock. Keeps the published generation and the one it replaced
    (a reader may still be reading it); everything else under ``.censorlab/`` is a leftover.
    """
    removed = []
    current = published_generation(out_dir)
    generations = sorted(_generations_dir(out_dir).glob("[0-9]" * GENERATION_DIGITS))
    keep = set()
    if current is not None:
        keep.add(current.name)
        older = [g.name for g in generations if g.name < current.name]
        keep.update(older[-1:])
    for path in [*(g for g in generations if g.name not in keep),
                 control_dir(out_dir) / "work", *Path(out_dir).glob(f".{CURRENT}.tmp-*"),
                 *Path(out_dir).glob(f".*{LINK_TMP_SUFFIX}")]:
        if path.is_symlink() or path.is_file():
            path.unlink()
        elif path.exists():
            shutil.rmtree(path)
        else:
            continue
        removed.append(path)
    for path in removed:
        logger.info("removed %s, left by an earlier run", path)
    return removed


@contextmanager
def new_generation(out_dir: Path) -> Iterator[Path]:
    """Create the next, unpublished generation directory (while holding the lock).

    A run that fails (an exception, not a kill) removes its generation and scratch before it
    lets go of the lock; a killed run's are removed by the next run.
    """
    generations = _generations_dir(out_dir)
    generations.mkdir(parents=True, exist_ok=True)
    numbers = [int(g.name) for g in generations.glob("[0-9]" * GENERATION_DIGITS)]
    generation = generations / f"{max(numbers, default=0) + 1:0{GENERATION_DIGITS}d}"
    os.mkdir(generation)  # not mkdtemp: that would make it 0700, unreadable by a lab's group
    try:
        yield generation
    except BaseException:
        if published_generation(out_dir) != generation.resolve():
            shutil.rmtree(generation, ignore_errors=True)
            shutil.rmtree(control_dir(out_dir) / "work", ignore_errors=True)
        raise


def work_dir(out_dir: Path) -> Path:
    """Scratch space of the live run (removed by publish and by the next run)."""
    path = control_dir(out_dir) / "work"
    path.mkdir(parents=True, exist_ok=True)
    return path


def publish(out_dir: Path, generation: Path) -> None:
    """Make ``generation`` the published one with a single atomic rename, then tidy up.

    Every file of the generation is flushed to disk first, so the link never points at data
    that a power cut could still lose. After the switch, the stable names (``OUT/<table>``)
    are links through ``current``, and generations older than the one replaced are removed.
    """
    _fsync_tree(generation)
    out_dir = Path(out_dir)
    link = out_dir / CURRENT
    tmp = out_dir / f".{CURRENT}.tmp-{generation.name}"
    tmp.unlink(missing_ok=True)
    os.symlink(os.path.relpath(generation, out_dir), tmp)
    os.replace(tmp, link)  # the commit point
    _fsync_dir(out_dir)
    link_stable_names(out_dir, generation)
    remove_leftovers(out_dir)


def read_published_manifest(out_dir: str | Path) -> tuple[Path, dict] | None:
    """Return (generation directory, manifest) of the published output, or None."""
    generation = published_generation(out_dir)
    if generation is None:
        return None
    return generation, json.loads((generation / MANIFEST_NAME).read_text(encoding="utf-8"))


def link_stable_names(out_dir: Path, generation: Path) -> None:
    """Point ``OUT/<name>`` at ``current/<name>`` for every top-level entry of the generation.

    The links themselves never change once made (they resolve through ``current``); a
    regular file or directory left there by censorlab < 0.1 is replaced by its link.
    """
    for entry in generation.iterdir():
        name = out_dir / entry.name
        target = f"{CURRENT}/{entry.name}"
        if name.is_symlink() and os.readlink(name) == target:
            continue
        tmp = out_dir / f".{entry.name}{LINK_TMP_SUFFIX}"
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp)
        if name.is_dir() and not name.is_symlink():
            aside = control_dir(out_dir) / "work" / f"legacy-{entry.name}"
            aside.parent.mkdir(parents=True, exist_ok=True)
            os.replace(name, aside)
        os.replace(tmp, name)
    for name in out_dir.iterdir():  # links to entries this kind of output no longer has
        if name.is_symlink() and os.readlink(name).startswith(f"{CURRENT}/") \
                and not name.exists():
            name.unlink()


def _fsync_tree(root: Path) -> None:
    """Flush every file and directory of ``root``, and ``root``'s own entry in its parent."""
    for directory, _, files in os.walk(root):
        for name in files:
            path = Path(directory) / name
            with naming_the_file(path):
                fd = os.open(path, os.O_RDONLY)
                try:
                    os.fsync(fd)
                finally:
                    os.close(fd)
        _fsync_dir(Path(directory))
    _fsync_dir(root.parent)


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - a file system without directory handles
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def check_kind(out_dir: Path, kind: str) -> None:
    """Refuse to publish one kind of output over another in the same directory.

    Raises:
        CensorlabError: ``out_dir`` holds another kind's published output.
    """
    published = read_published_manifest(out_dir)
    if published is not None and published[1].get("kind") != kind:
        raise CensorlabError(f"{out_dir} holds the output of {published[1].get('kind')!r}, not "
                             f"{kind!r}: every output directory holds one kind; choose another "
                             "--out")
