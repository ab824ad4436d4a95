"""Large line-oriented files (JSONL, gzip-compressed or not) read as blocks of whole lines.

Source-agnostic plumbing for sources whose raw files are too large to hold: a reader thread
inflates the file (ISA-L) into pooled buffers cut at line ends and finds the newlines (numpy),
so that several threads can parse blocks in parallel while the reader holds the GIL for almost
nothing; :func:`map_in_order` runs the per-block work on a thread pool and hands results back in
file order. ``censorlab.sources.ooni`` is the user; a source only supplies what a block means.

Bounds, so that a hostile file costs bounded memory and time: a line longer than
``max_line_bytes`` is never held whole -- its bytes are skipped up to its newline and it is
handed on as a :class:`LongLine` (its number, length and first bytes) for the source to reject;
and a file that inflates past its decompression budget (``decompression_budget``) stops with a
RawFileError, as a gzip bomb must.
"""

from __future__ import annotations

import io
import queue
import threading
import zipfile
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from isal import igzip

from censorlab.errors import RawFileError

BLOCK_BYTES = 4 << 20  # decompressed bytes per block
BLOCK_HEADROOM = 1 << 20  # pooled buffers also hold the partial line carried from the last block
READ_CHUNK_BYTES = 64 << 10  # bytes asked of gunzip per call (see read_full)
# The longest line read: OONI's probes cap each response body they keep, and no measurement
# seen comes near this (parse.MAX_DOCUMENT_BYTES is the same bound for `.json` documents).
MAX_LINE_BYTES = 64 << 20
LONG_LINE_HEAD_BYTES = 200  # bytes of an over-long line kept to quote in its reject
# gzip inflates text 3-20x (JSONL 10x, GDELT's CSV 7x here); a bomb inflates ~1,000x. A file
# may inflate to MAX_INFLATION_RATIO times its stored size, and small files to at least
# MIN_DECOMPRESSION_BUDGET, so a real file never meets the bound and a bomb stops early.
MAX_INFLATION_RATIO = 100
MIN_DECOMPRESSION_BUDGET = 256 << 20


def decompression_budget(stored_bytes: int) -> int:
    """Return how many decompressed bytes a file of ``stored_bytes`` may give when inflated."""
    return max(MIN_DECOMPRESSION_BUDGET, MAX_INFLATION_RATIO * stored_bytes)


def check_unzipped_size(path: Path, archive: zipfile.ZipFile, stored_bytes: int,
                        members: Iterable[str] | None = None) -> None:
    """Stop a zip (a GDELT export, an XLSX workbook) whose members unzip past the budget.

    The sizes the archive declares are what zipfile inflates at most (a member that lies about
    its size fails its CRC), so checking them before reading stops a zip bomb unread.

    Args:
        path: The file, for the error.
        archive: The open archive.
        stored_bytes: The archive's size on disk.
        members: Members that will be read (default: all).

    Raises:
        RawFileError: Over the budget.
    """
    infos = archive.infolist() if members is None else [archive.getinfo(m) for m in members]
    declared = sum(info.file_size for info in infos)
    if declared > (budget := decompression_budget(stored_bytes)):
        raise RawFileError(path, None, path.name, f"unzips to {declared} bytes, over its "
                           f"budget of {budget} bytes (a zip bomb?)")


@dataclass(frozen=True)
class LongLine:
    """A line longer than the reader's bound: skipped, not held; the source rejects it.

    Attributes:
        line: 1-based line number.
        length: Its length in bytes (without the newline).
        head: Its first LONG_LINE_HEAD_BYTES bytes, to quote in the reject.
        limit: The bound it broke.
    """

    line: int
    length: int
    head: bytes
    limit: int


class BudgetedReader(io.RawIOBase):
    """A decompressed stream that stops the file once it has given more than its budget.

    Checked as bytes are handed out, so a gzip bomb is stopped after ``budget`` bytes of work,
    never inflated whole.
    """

    def __init__(self, stream, budget: int, path: Path):
        self._stream = stream
        self._left = budget
        self._budget = budget
        self._path = path

    def readable(self) -> bool:
        """Say that this stream can be read."""
        return True

    def readinto(self, buffer) -> int:
        """Read into ``buffer``; raise once the file has inflated past its budget."""
        n = self._stream.readinto(buffer)
        self._left -= n
        if self._left < 0:
            raise RawFileError(self._path, None, self._path.name, "decompresses to more than "
                               f"its budget of {self._budget} bytes (a gzip bomb?)")
        return n


def find_newlines(data: bytes | bytearray) -> np.ndarray:
    """Return the byte offsets of every newline in ``data`` (numpy releases the GIL)."""
    return np.flatnonzero(np.frombuffer(data, np.uint8) == 10)


class HashingReader(io.RawIOBase):
    """A read-only file that feeds every byte it hands out to a digest.

    The raw file's sha256 (recorded in the manifest) is computed from the compressed bytes
    as gunzip reads them, instead of in a second pass over the file.
    """

    def __init__(self, handle, digest):
        self._handle = handle
        self._digest = digest
        self.name = getattr(handle, "name", "")

    def readable(self) -> bool:
        """Say that this file can be read."""
        return True

    def readinto(self, buffer) -> int:
        """Read into ``buffer`` and hash what was read."""
        n = self._handle.readinto(buffer)
        if n:
            self._digest.update(memoryview(buffer)[:n])
        return n


@contextmanager
def open_decompressed(path: Path, digest=None, budget: int | None = None) -> Iterator:
    """Open a raw file's decompressed bytes (a binary file object).

    ``.gz`` is inflated with ISA-L (python-isal): it reads the same gzip streams (several
    members included) about twice as fast as zlib -- measured here, 1.4 s instead of 2.8 s for
    2 GB of JSONL -- and releases the GIL while it works, so gunzip overlaps parsing.
    ``digest``, when given, receives the file's bytes as stored (compressed). ``budget``: the
    most decompressed bytes a ``.gz`` may give (default :func:`decompression_budget`).

    Raises:
        RawFileError: The gzip stream is cut or corrupt, or inflates past its budget (raised
            when reached).
    """
    try:
        with open(path, "rb") as handle:
            source = HashingReader(handle, digest) if digest is not None else handle
            if path.name.endswith(".gz"):
                budget = decompression_budget(path.stat().st_size) if budget is None else budget
                with igzip.IGzipFile(fileobj=source, mode="rb") as stream:
                    yield BudgetedReader(stream, budget, path)
            else:
                yield source
    except (OSError, EOFError) as exc:  # isal: EOFError when cut, OSError when corrupt
        what = ("gzip stream is truncated or corrupt" if path.name.endswith(".gz")
                else "cannot be read")
        raise RawFileError(path, None, path.name, f"{what}: {exc}") from exc


def read_full(stream, view: memoryview) -> int:
    """Fill ``view`` from ``stream`` (short only at the end of the file); return the count.

    Reads READ_CHUNK_BYTES at a time: ISA-L's reader allocates a buffer the size of each
    request, and requests of 128 KB and more are mmap-ed and unmapped by glibc every time when
    the mmap threshold is fixed (as under Dask's ``MALLOC_TRIM_THRESHOLD_``): measured here,
    2.5 s instead of 1.4 s to gunzip 2 GB in 4 MB requests.
    """
    filled = 0
    while filled < len(view):
        n = stream.readinto(view[filled: filled + READ_CHUNK_BYTES])
        if not n:
            break
        filled += n
    return filled


def prefetch(iterator: Iterator, depth: int = 2) -> Iterator:
    """Run an iterator in a helper thread, ``depth`` items ahead of the caller.

    Gunzip runs ahead of parsing and cleaning this way: ISA-L, the pyarrow JSON reader and
    Arrow kernels release the GIL, so the stages overlap on 2+ cores. When the caller stops
    early (an error downstream), the helper stops too and closes ``iterator`` (and so the file).
    """
    box: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def offer(item) -> bool:
        """Queue ``item`` unless the consumer has stopped; say whether it was queued."""
        while not stop.is_set():
            try:
                box.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def pump() -> None:
        try:
            for item in iterator:
                if not offer(item):
                    return
            offer(done)
        except BaseException as exc:  # handed to the consumer, re-raised there
            offer(exc)
        finally:
            close = getattr(iterator, "close", None)
            if close is not None:
                close()

    helper = threading.Thread(target=pump, daemon=True, name="censorlab-gunzip")
    helper.start()
    try:
        while True:
            item = box.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        helper.join()


def iter_blocks(path: Path, block_bytes: int = BLOCK_BYTES,
                ) -> Iterator[tuple[int, bytes | bytearray, bool] | LongLine]:
    """Yield ``(first_line, block, ends_with_newline)`` for whole-line blocks of a raw file.

    A line longer than MAX_LINE_BYTES comes as a :class:`LongLine` between the blocks.

    Raises:
        RawFileError: The gzip stream is cut or corrupt.
    """
    for item in iter_indexed_blocks(path, block_bytes):
        yield item if isinstance(item, LongLine) else item[:3]


class BlockBuffers:
    """A pool of reusable block buffers, so gunzip does not allocate 4 MB per block.

    Fresh buffers cost page faults, and a lot more where glibc is told to return freed memory
    at once: Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536``, which made stage
    1 18 % slower here. The reader takes buffers with :meth:`take`; whoever is done with a
    block's memory (the last user of its memoryview) gives the buffer back with :meth:`give`.
    """

    def __init__(self, block_bytes: int, keep: int = 32):
        self.capacity = block_bytes + BLOCK_HEADROOM
        self.keep = keep
        self._free: deque[bytearray] = deque()

    def take(self, size: int) -> bytearray:
        """Return a buffer of at least ``size`` bytes (its content is garbage)."""
        if size <= self.capacity:
            try:
                return self._free.pop()
            except IndexError:
                return bytearray(self.capacity)
        return bytearray(size)  # a line longer than the headroom: a one-off buffer

    def give(self, block) -> None:
        """Take back the buffer behind ``block`` (a memoryview handed out by the reader)."""
        buffer = block.obj if isinstance(block, memoryview) else None
        if (isinstance(buffer, bytearray) and len(buffer) == self.capacity
                and len(self._free) < self.keep):
            self._free.append(buffer)


def iter_indexed_blocks(path: Path, block_bytes: int, digest=None,
                         buffers: BlockBuffers | None = None, *,
                         max_line_bytes: int = MAX_LINE_BYTES, budget: int | None = None,
                         ) -> Iterator[tuple[int, bytes | bytearray | memoryview, bool,
                                             np.ndarray] | LongLine]:
    """:func:`iter_blocks` plus the offsets of the newlines in each block (found once).

    Gunzip writes straight into a buffer (after the partial line carried over from the
    previous block), the block ends after its last newline, and newlines are found with numpy
    into a scratch array: no copy of the block and almost no time holding the GIL, which the
    parsing threads need. The offsets number the lines and locate the raw text of rejects.
    With ``buffers``, blocks are memoryviews of pooled buffers (see :class:`BlockBuffers`);
    without, each block is a new bytearray. Blocks of a few MB keep the working set in cache --
    measured here, 32 MB blocks cost 40 % more CPU in reading and 25 % more in parsing.

    A line longer than ``max_line_bytes`` (at least ``block_bytes``) is skipped to its newline
    and yielded as a :class:`LongLine`; ``budget`` bounds the decompressed bytes (see
    :func:`open_decompressed`).
    """
    if max_line_bytes < block_bytes:
        raise ValueError(f"max_line_bytes {max_line_bytes} is below block_bytes {block_bytes}")
    rest = b""
    first_line = 1
    scratch = np.empty(block_bytes + BLOCK_HEADROOM, dtype=bool)
    with open_decompressed(path, digest, budget) as stream:
        while True:
            wanted = len(rest) + block_bytes
            buffer = buffers.take(wanted) if buffers is not None else bytearray(wanted)
            buffer[: len(rest)] = rest
            n = read_full(stream, memoryview(buffer)[len(rest): wanted])
            if not n:
                break
            size = len(rest) + n
            # only a block's first line can be longer than a block (it began in ``rest``)
            first_end = buffer.find(b"\n", len(rest), size)
            if first_end > max_line_bytes or (first_end < 0 and size > max_line_bytes):
                long_line, rest = _skip_long_line(stream, buffer, size, first_end, first_line,
                                                  max_line_bytes)
                yield long_line
                first_line += 1
                continue
            cut = buffer.rfind(b"\n", 0, size)
            if cut < 0:  # a line longer than a block: keep reading
                rest = bytes(buffer[:size])
                continue
            rest = bytes(buffer[cut + 1: size])
            if len(scratch) < cut + 1:
                scratch = np.empty(cut + 1, dtype=bool)
            flags = scratch[: cut + 1]
            np.equal(np.frombuffer(buffer, np.uint8, count=cut + 1), 10, out=flags)
            offsets = np.flatnonzero(flags)
            if buffers is not None:
                block = memoryview(buffer)[: cut + 1]
            else:
                del buffer[cut + 1:]
                block = buffer
            yield first_line, block, True, offsets
            first_line += len(offsets)
    if rest:
        yield first_line, rest, False, np.zeros(0, np.int64)


def _skip_long_line(stream, buffer: bytearray, size: int, newline: int, line: int,
                    limit: int) -> tuple[LongLine, bytes]:
    """Read past an over-long line without holding it; return it and the bytes after it.

    Args:
        stream: The decompressed file, positioned after ``buffer[:size]``.
        buffer: Holds the line's start at 0 (and, when ``newline`` >= 0, its end).
        size: Bytes of ``buffer`` that hold data.
        newline: Offset in ``buffer`` of the line's newline, or -1 when not read yet.
        line: The line's number.
        limit: The bound it broke.
    """
    head = bytes(buffer[:LONG_LINE_HEAD_BYTES])
    if newline >= 0:
        return LongLine(line, newline, head, limit), bytes(buffer[newline + 1: size])
    length = size
    chunk = bytearray(READ_CHUNK_BYTES)
    while n := read_full(stream, memoryview(chunk)):
        found = chunk.find(b"\n", 0, n)
        if found >= 0:
            return LongLine(line, length + found, head, limit), bytes(chunk[found + 1: n])
        length += n
    return LongLine(line, length, head, limit), b""


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Yield lists of ``size`` consecutive items (the last one may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def map_in_order(func: Callable, items: Iterable, threads: int) -> Iterator:
    """Yield ``func(item)`` for every item, in item order, computed on ``threads`` threads.

    At most ``threads + 1`` items are in flight, so memory stays a few blocks whatever the
    file size. With one thread, everything runs in the caller's thread.
    """
    if threads <= 1:
        for item in items:
            yield func(item)
        return
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="censorlab-block")
    pending: deque = deque()
    try:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) > threads:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
