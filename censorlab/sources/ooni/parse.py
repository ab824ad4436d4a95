r"""Reading OONI JSONL: bytes -> blocks of whole lines -> raw Arrow columns (parse only).

A raw file is cut into blocks of whole lines (``censorlab.reading.lineblocks``); each block is
parsed by pyarrow's JSON reader with an explicit schema (``formats.RAW_SCHEMA``), and the lines
pyarrow refuses -- a cut line, ``1`` for ``true``, a number where a string belongs -- are split
out and read with ``json.loads`` into the same columns, or rejected one by one. Nothing is
judged here: no verdicts, no dedup, no value checks beyond the JSON types (that is ``clean``).

Line-level quirks handled here: a file cut during upload ends in a partial line
(``truncated-line``); any other line that is not a JSON object is ``invalid-json``; 0/1 written
for booleans are read as booleans (a REPAIR); blank lines are not rows (not counted, not
rejected); a cut gzip stream stops the whole file (RawFileError).

Hostile lines are rejects, never crashes, and never shift line numbers: a blank line is one of
JSON's whitespace only (a line holding ``\x0b`` is ``invalid-json``); pyarrow's block parse is
kept only when every line holds exactly one object (pyarrow reads ``{..} {..}`` as two rows,
which a blank line elsewhere would hide); bytes that are not UTF-8 send the block to the
per-line parser, which rejects the line with the byte offset; a line nested deeper than
MAX_JSON_DEPTH never reaches ``json.loads`` (which recurses, and raised RecursionError at
1,000): pyarrow, which does not, reads it, or it is ``invalid-json``; a lone
surrogate (``"\ud800"``) cannot be stored as UTF-8 and is ``invalid-json``; a line longer than
the reader's bound is ``field-too-large`` with its length (``lineblocks.LongLine``).
"""

from __future__ import annotations

import bisect
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.json as pj

from censorlab.reading.lineblocks import (
    BLOCK_BYTES,
    MAX_LINE_BYTES,
    LongLine,
    batched,
    find_newlines,
    iter_indexed_blocks,
)
from censorlab.reference import Context
from censorlab.sources.ooni.formats import (
    ANNOTATION_KEYS,
    ANNOTATIONS_TYPE,
    DATASET,
    RAW_SCHEMA,
    TEST_KEYS_TYPE,
    TK_BOOL_KEYS,
    TK_STRING_KEYS,
    TOP_STRING_KEYS,
)

MAX_JSON_DEPTH = 64  # OONI's measurements nest 6-8 deep; Python's parser recurses per level
JSON_WHITESPACE = b" \t\r"  # with the newline: what a blank line may hold (RFC 8259)
_OPEN_BRACE, _CLOSE_BRACE = ord("{"), ord("}")
# a JSON string, possessive: linear time whatever the line (used to skip strings' brackets)
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*+"', re.DOTALL)
CLEAN_BATCH_BLOCKS = 4  # blocks cleaned together: the unit of parallel work (see RawBlocks)
MAX_SPLITS_PER_BLOCK = 8  # broken lines split out of a block before the rest goes line by line
# web_connectivity writes `"blocking": false` or a string: Arrow columns have one type, so the
# bytes `"blocking":false` are read as the string "false" (a JSON string cannot contain an
# unescaped quote, so this never touches text inside a value).
_BLOCKING_FALSE = ((b'"blocking":false', b'"blocking":"false"'),
                   (b'"blocking": false', b'"blocking": "false"'))


@dataclass
class RawBlock:
    """One block of a raw file after parsing: raw columns plus line-level rejects.

    Attributes:
        table: ``RAW_SCHEMA`` columns plus ``source_line``, one row per parsed JSON object.
        rejects: Reject dicts for lines that are not JSON objects or hold wrongly typed keys.
        body: The block's bytes (the final newline may be kept), to quote raw text in rejects;
            a memoryview of a pooled buffer while the file is read (see lineblocks).
        first_line: 1-based line number of the block's first line.
        rows_read: Non-blank lines in the block (parsed + rejected here).
        fast: Whether pyarrow parsed the whole block (False: some or all of its lines were
            read by the per-line parser).
        newline_offsets: Byte offsets of the newlines in ``body`` (None: found when needed).
    """

    table: pa.Table
    rejects: list[dict]
    body: bytes | bytearray | memoryview
    first_line: int
    rows_read: int
    fast: bool = True
    newline_offsets: np.ndarray | None = None

    def raw_texts(self, lines: Sequence[int]) -> list[str]:
        """Return the decoded text of the given physical lines of this block.

        Uses the newline offsets the reader found (with numpy, outside the GIL), so the cost is
        per reject, not per line of the block.
        """
        if self.newline_offsets is None:
            self.newline_offsets = find_newlines(self.body)
        ends = self.newline_offsets
        texts = []
        for number in lines:
            index = number - self.first_line
            start = int(ends[index - 1]) + 1 if index > 0 else 0
            end = int(ends[index]) if index < len(ends) else len(self.body)
            texts.append(bytes(self.body[start:end]).decode("utf-8", errors="replace"))
        return texts


@dataclass
class RawBlocks:
    """Consecutive parsed blocks of one file, cleaned together as one batch.

    Cleaning costs a fixed number of Arrow calls per batch, so a batch of several 4 MB blocks
    spends less time in Python (and holding the GIL) per row than one block; parsing stays per
    block, whose buffers are small enough to be reused.

    Attributes:
        blocks: The blocks, in file order.
        name: The raw file's name as recorded in outputs (``source_file``).
        sha256: The file's checksum when known (it is streamed, so known only at the end).
        repairs: Repairs made while reading (none are recorded per batch today).
    """

    blocks: list[RawBlock]
    name: str = ""
    sha256: str = ""
    repairs: list[str] = field(default_factory=list)

    @property
    def table(self) -> pa.Table:
        """All blocks' raw columns, in line order."""
        return pa.concat_tables([b.table for b in self.blocks])

    @property
    def rejects(self) -> list[dict]:
        """All blocks' line-level rejects, in line order."""
        return [r for b in self.blocks for r in b.rejects]

    @property
    def rows_read(self) -> int:
        """Non-blank lines in all blocks."""
        return sum(b.rows_read for b in self.blocks)

    @property
    def slow_blocks(self) -> int:
        """How many blocks held lines pyarrow refused (those lines were read one by one)."""
        return sum(not b.fast for b in self.blocks)

    def raw_texts(self, lines: Sequence[int]) -> list[str]:
        """Return the decoded text of the given physical lines (ascending)."""
        texts: list[str] = []
        starts = [b.first_line for b in self.blocks]
        for number in lines:
            block = self.blocks[bisect.bisect_right(starts, number) - 1]
            texts.extend(block.raw_texts([number]))
        return texts


def parse_block(first_line: int, block: bytes | bytearray, ends_with_newline: bool,
                source_file: str, newline_offsets: np.ndarray | None = None,
                hint: ParseHint | None = None) -> RawBlock:
    """Parse one block into raw columns: pyarrow where it accepts the lines, else line by line.

    Both paths give the same columns for the same valid line (tests compare them); only the
    per-line path can reject single lines. When pyarrow refuses the block it names the row it
    stopped at; the lines before it are parsed by pyarrow, that one line by the per-line
    parser, and the rest of the block is tried again -- so a broken line costs at most one
    extra parse of the block (in C, without the GIL) instead of reading 2,000 lines in Python
    (3.6x the time, measured here). After MAX_SPLITS_PER_BLOCK such lines, or when pyarrow names no
    row (a blank line, an encoding error), the rest of the block is read line by line.

    Args:
        first_line: 1-based line number of the block's first line.
        block: Whole lines of the raw file.
        ends_with_newline: Whether the block's last line ends with a newline.
        source_file: Name recorded in rejects.
        newline_offsets: Offsets of the newlines in ``block``, when the caller already found
            them (None: found here).
        hint: Per-file memory of whether blocks needed the ``"blocking": false`` rewrite
            (None: a fresh one).
    """
    if len(block) <= int(ends_with_newline):
        return RawBlock(_empty_raw(), [], b"", first_line, 0)
    if newline_offsets is None:
        newline_offsets = find_newlines(block)
    n_lines = len(newline_offsets) + (0 if ends_with_newline else 1)
    table, error = _try_arrow(block, n_lines, first_line, hint, newline_offsets)
    if table is not None:
        # body keeps the final newline: raw_texts finds the same lines without a copy
        return RawBlock(table, [], block, first_line, n_lines, newline_offsets=newline_offsets)

    def line_start(index: int) -> int:
        return 0 if index == 0 else int(newline_offsets[index - 1]) + 1

    def line_end(index: int) -> int:  # the newline ending the line, or the end of the block
        return int(newline_offsets[index]) if index < len(newline_offsets) else len(block)

    def by_line(start: int, stop: int) -> RawBlock:
        """Lines [start, stop) read line by line."""
        body = bytes(block[line_start(start): line_end(stop - 1)])
        last_has_newline = stop - 1 < len(newline_offsets)
        return _parse_block_python(body, first_line + start, last_has_newline, source_file)

    pieces: list[RawBlock] = []
    start = 0
    for _ in range(MAX_SPLITS_PER_BLOCK):
        row = _error_row(error)
        if row is None or row >= n_lines - start:
            break
        if row:  # the lines before the one pyarrow refused
            head, _ = _try_arrow(bytes(block[line_start(start): line_end(start + row - 1) + 1]),
                                 row, first_line + start, hint)
            if head is None:
                break
            pieces.append(RawBlock(head, [], b"", first_line + start, row))
        pieces.append(by_line(start + row, start + row + 1))
        start += row + 1
        if start == n_lines:
            return _join_pieces(pieces, block, first_line, newline_offsets)
        table, error = _try_arrow(bytes(block[line_start(start):]), n_lines - start,
                                  first_line + start, hint)
        if table is not None:
            pieces.append(RawBlock(table, [], b"", first_line + start, n_lines - start))
            return _join_pieces(pieces, block, first_line, newline_offsets)
    pieces.append(by_line(start, n_lines))
    return _join_pieces(pieces, block, first_line, newline_offsets)


_ERROR_ROW = re.compile(r" in row (\d+)$")


def _error_row(error: str | None) -> int | None:
    """Return the 0-based row that pyarrow's JSON error message names, if it names one."""
    match = _ERROR_ROW.search(error or "")
    return int(match.group(1)) if match else None


def _join_pieces(pieces: list[RawBlock], block: bytes | bytearray, first_line: int,
                 newline_offsets: np.ndarray) -> RawBlock:
    """Join consecutive parsed pieces of one block into the block's RawBlock."""
    table = pa.concat_tables([p.table for p in pieces]) if pieces else _empty_raw()
    rejects = [r for p in pieces for r in p.rejects]
    return RawBlock(table, rejects, block, first_line, sum(p.rows_read for p in pieces),
                    fast=False, newline_offsets=newline_offsets)


@dataclass
class ParseHint:
    """What earlier blocks of a file taught the parser (only speed depends on it).

    Attributes:
        rewrite_first: The last block held web_connectivity's ``"blocking": false``, so the
            next one is rewritten before parsing instead of after a refused first try.
    """

    rewrite_first: bool = False


_BOOLEAN_BLOCKING = "/test_keys/blocking) changed from string to boolean"


def _try_arrow(block: bytes | bytearray, n_lines: int, first_line: int,
               hint: ParseHint | None = None, newline_offsets: np.ndarray | None = None,
               ) -> tuple[pa.Table | None, str | None]:
    """Parse with pyarrow's JSON reader (one thread: blocks run in parallel instead).

    Returns the raw table, or None and pyarrow's error message (None when pyarrow parsed the
    block but its rows are not its lines -- a blank line, two objects on one line -- or the
    block is not UTF-8). ``newline_offsets``: the block's, when the caller found them.

    The ``"blocking": false`` rewrite (see :func:`_rewrite_blocking_false`) is a scan of the
    whole block, so it is only done when pyarrow says it met such a boolean, or when the
    previous block of the file needed it: blocks of the IM tests never pay for it.
    """
    hint = hint if hint is not None else ParseHint()
    data = _rewrite_blocking_false(block) if hint.rewrite_first else block
    table = _read_json(data)
    if isinstance(table, str) and _BOOLEAN_BLOCKING in table and data is block:
        data = _rewrite_blocking_false(block)
        table = _read_json(data)
    hint.rewrite_first = data is not block
    if isinstance(table, str):
        return None, table
    if table.num_rows != n_lines or not _one_object_per_line(block, n_lines, newline_offsets):
        return None, None  # a blank line or two objects on one line: pyarrow's rows != lines
    if not _is_utf8(block):
        return None, None  # pyarrow keeps invalid bytes; the per-line parser rejects them
    table = table.select(RAW_SCHEMA.names).cast(RAW_SCHEMA)
    lines = pa.array(np.arange(first_line, first_line + n_lines, dtype=np.int64))
    return table.append_column("source_line", lines), None


def _one_object_per_line(data: bytes | bytearray | memoryview, n_lines: int,
                         newline_offsets: np.ndarray | None = None) -> bool:
    """Say whether every line starts with ``{`` and ends with ``}`` (no blank lines).

    Given that pyarrow parsed the block into ``n_lines`` rows, this proves one object per
    line: a line ending in ``}`` followed by one starting with ``{`` cannot be inside one JSON
    value (a comma would have to come between), so every line holds whole objects, at least
    one each, and as many rows as lines leaves exactly one each. pyarrow alone cannot tell:
    it skips blank lines and reads ``{..} {..}`` as two rows, so one of each gives as many
    rows as lines with every row but the first after the blank on the wrong line. Two
    gathers of one byte per line (numpy), not a pass over the block.
    """
    codes = np.frombuffer(data, np.uint8)
    found = find_newlines(data) if newline_offsets is None else newline_offsets
    ends = found[:n_lines]
    if len(ends) < n_lines:  # the last line has no newline
        ends = np.append(ends, len(codes))
    starts = np.concatenate(([0], ends[:-1] + 1))
    if (ends <= starts).any():
        return False
    return bool((codes[starts] == _OPEN_BRACE).all() and (codes[ends - 1] == _CLOSE_BRACE).all())


def _is_utf8(data: bytes | bytearray | memoryview) -> bool:
    """Say whether the block is valid UTF-8 (pyarrow's JSON reader does not check).

    ASCII blocks (the IM tests') are told by one numpy scan (0.06 ms for 4 MB here); others are
    validated by Arrow's UTF-8 check, without copying the block.
    """
    codes = np.frombuffer(data, np.uint8)
    if not len(codes) or codes.max() < 0x80:
        return True
    offsets = pa.py_buffer(np.array([0, len(codes)], np.int32))
    whole = pa.Array.from_buffers(pa.binary(), 1, [None, offsets, pa.py_buffer(data)])
    try:
        whole.cast(pa.string())
    except pa.ArrowInvalid:
        return False
    return True


def _read_json(data: bytes) -> pa.Table | str:
    """Return pyarrow's table for ``data``, or its error message when it refuses the block."""
    try:
        return pj.read_json(
            pa.py_buffer(data),
            read_options=pj.ReadOptions(block_size=len(data) + 1, use_threads=False),
            parse_options=pj.ParseOptions(explicit_schema=RAW_SCHEMA,
                                          unexpected_field_behavior="ignore"),
        )
    except (pa.ArrowException, ValueError) as exc:
        return str(exc)


def _rewrite_blocking_false(block: bytes) -> bytes:
    """Rewrite web_connectivity's ``"blocking": false`` as a string, in one pass over the block.

    Only the spelling (with or without a space after the colon) of the block's first
    ``"blocking":`` is rewritten. Should the block also hold the other spelling, pyarrow
    refuses the block (a boolean in a string column) and the per-line parser reads it, with
    the same result. Returns ``block`` itself when it holds no such key.
    """
    text = block if isinstance(block, bytes | bytearray) else bytes(block)
    at = text.find(b'"blocking":')
    if at < 0:
        return block
    old, new = _BLOCKING_FALSE[1 if text[at + 11: at + 12] == b" " else 0]
    return text.replace(old, new)


def _empty_raw() -> pa.Table:
    return RAW_SCHEMA.empty_table().append_column("source_line", pa.array([], pa.int64()))


class _LineReject(Exception):
    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def _as_bool(value, key: str):
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)  # REPAIR: 0/1 written for false/true by some producers
    raise _LineReject("type-error", f"test_keys.{key} is {value!r}, expected true/false/null")


def _as_str(value, key: str):
    if value is None or isinstance(value, str):
        return value
    if key == "blocking" and value is False:
        return "false"
    raise _LineReject("type-error", f"{key} is {value!r}, expected a string or null")


def _extract(obj) -> tuple[list, dict | None, dict | None]:
    if not isinstance(obj, dict):
        raise _LineReject("invalid-json", f"line is JSON {type(obj).__name__}, not an object")
    top = [_as_str(obj.get(k), k) for k in TOP_STRING_KEYS]
    notes = obj.get("annotations")
    annotations = ({k: v if isinstance(v := notes.get(k), str) else None  # metadata: never
                    for k in ANNOTATION_KEYS}  # a reason to reject a measurement
                   if isinstance(notes, dict) else None)
    keys = obj.get("test_keys")
    if keys is None:
        return top, None, annotations
    if not isinstance(keys, dict):
        raise _LineReject("type-error", f"test_keys is {type(keys).__name__}, not an object")
    tk = {k: _as_bool(keys.get(k), k) for k in TK_BOOL_KEYS}
    tk.update({k: _as_str(keys.get(k), k) for k in TK_STRING_KEYS})
    return top, tk, annotations


def _is_truncated(exc: json.JSONDecodeError, text: str, last_unterminated: bool) -> bool:
    if last_unterminated:
        return True
    return (exc.msg.startswith("Unterminated string")
            or exc.pos >= len(text.rstrip(JSON_WHITESPACE.decode())))


def json_depth(raw: bytes) -> int:
    """Return how deep a JSON text nests (brackets inside strings do not count), in linear time.

    The count of opening brackets bounds the depth, so most lines cost two ``bytes.count``;
    only a line with more than MAX_JSON_DEPTH of them has its strings blanked (a possessive
    pattern) and its depth summed with numpy.
    """
    bound = raw.count(b"{") + raw.count(b"[")
    if bound <= MAX_JSON_DEPTH:
        return bound
    codes = np.frombuffer(_JSON_STRING.sub(b'""', raw), np.uint8)
    steps = (np.isin(codes, (ord("{"), ord("["))).astype(np.int64)
             - np.isin(codes, (ord("}"), ord("]"))))
    return int(np.cumsum(steps).max(initial=0))


def _load_line(raw: bytes, unterminated: bool):
    """``json.loads`` one line, every way it can fail turned into a :class:`_LineReject`.

    Args:
        raw: The line, without its newline.
        unterminated: It is the file's last line and has no newline (a cut upload).
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _LineReject("invalid-json", f"not UTF-8: {exc.reason} at byte "
                          f"{exc.start}") from exc
    if (depth := json_depth(raw)) > MAX_JSON_DEPTH:
        return _load_deep_line(raw, depth)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = _is_truncated(exc, text, unterminated)
        raise _LineReject("truncated-line" if truncated else "invalid-json",
                          f"{exc.msg} at column {exc.colno}") from exc
    except RecursionError as exc:  # not reached below MAX_JSON_DEPTH; a reject if ever
        raise _LineReject("invalid-json", "nested too deeply for the parser") from exc
    if (b"\\ud" in raw or b"\\uD" in raw) and _holds_lone_surrogate(obj):
        raise _LineReject("invalid-json", "holds a lone surrogate escape (\\ud800-\\udfff "
                          "without its pair): not a character, cannot be stored as UTF-8")
    return obj


def _load_deep_line(raw: bytes, depth: int) -> dict:
    """Read a line nested deeper than MAX_JSON_DEPTH with pyarrow, which does not recurse.

    The block parse (pyarrow) accepts such a line, so the per-line parser must give the same
    row: the raw columns pyarrow reads, as the dict :func:`_extract` takes. A line pyarrow
    refuses is ``invalid-json`` naming its depth.
    """
    table = _read_json(raw + b"\n")
    if isinstance(table, str) or table.num_rows != 1:
        raise _LineReject("invalid-json", f"nested {depth} deep (limit {MAX_JSON_DEPTH}) and "
                          "not one JSON object")
    row = table.select(RAW_SCHEMA.names).cast(RAW_SCHEMA).to_pylist()[0]
    return {key: value for key, value in row.items() if value is not None}


def _holds_lone_surrogate(value) -> bool:
    """Say whether any string in a parsed JSON value (keys included) is not encodable."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def _parse_block_python(body: bytes, first_line: int, ends_with_newline: bool,
                        source_file: str) -> RawBlock:
    lines = body.split(b"\n")
    columns: list[list] = [[] for _ in TOP_STRING_KEYS]
    test_keys: list = []
    annotations: list = []
    source_lines: list[int] = []
    rejects: list[dict] = []
    rows_read = 0
    last = len(lines) - 1
    for i, raw in enumerate(lines):
        if not raw.strip(JSON_WHITESPACE):
            continue
        rows_read += 1
        number = first_line + i
        try:
            top, tk, notes = _extract(_load_line(raw, i == last and not ends_with_newline))
        except _LineReject as rej:
            rejects.append(reject_record(source_file, number, "read", rej.reason, rej.detail,
                                   raw.decode("utf-8", errors="replace")))
            continue
        for column, value in zip(columns, top, strict=True):
            column.append(value)
        test_keys.append(tk)
        annotations.append(notes)
        source_lines.append(number)
    arrays = [pa.array(c, pa.string()) for c in columns]
    arrays.append(pa.array(test_keys, TEST_KEYS_TYPE))
    arrays.append(pa.array(annotations, ANNOTATIONS_TYPE))
    arrays.append(pa.array(source_lines, pa.int64()))
    table = pa.Table.from_arrays(arrays, names=[*RAW_SCHEMA.names, "source_line"])
    return RawBlock(table, rejects, body, first_line, rows_read, fast=False)


# --- single-object .json files: a measurement, or an API measurement_meta response ----------

DOCUMENT_SUFFIX = ".json"
MAX_DOCUMENT_BYTES = 64 << 20  # larger `.json` files are read as JSONL: no measurement is this big


def _json_error(exc: Exception) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} at line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8: {exc.reason}"
    return "nested too deeply"  # RecursionError: a hostile document, never a measurement


def _compact_line(obj) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n"


def _document_reject(source_file: str, reason: str, detail: str, text: str) -> RawBlock:
    """A document that holds no measurement: one reject for the whole file (line 1)."""
    return RawBlock(_empty_raw(), [reject_record(source_file, 1, "read", reason, detail, text)],
                    text.encode("utf-8"), 1, 1, fast=False)


def _measurement_of(obj: dict, source_file: str, text: str) -> bytes | RawBlock:
    """The measurement a document holds, as one JSONL line (or the reject saying why not)."""
    if "raw_measurement" in obj:  # GET /api/v1/measurement_meta?...&full=true
        body = obj["raw_measurement"]
        if isinstance(body, str) and body.strip():
            try:
                body = json.loads(body)
            except (json.JSONDecodeError, RecursionError) as exc:
                return _document_reject(source_file, "invalid-json", "raw_measurement is not "
                                        f"JSON: {_json_error(exc)}", text)
        if not isinstance(body, dict) or not body:
            return _document_reject(source_file, "missing-cell", "measurement_meta response "
                                    "with an empty raw_measurement (the API knows no "
                                    "measurement with this uid)", text)
        uid = obj.get("measurement_uid")
        if isinstance(uid, str) and uid and not body.get("measurement_uid"):
            body = {**body, "measurement_uid": uid}  # OONI's own id, from the API
        return _compact_line(body)
    if "measurement_uid" in obj and "test_keys" not in obj and "scores" in obj:
        return _document_reject(source_file, "missing-cell", "measurement_meta response "
                                "without raw_measurement: ask the API with full=true", text)
    return _compact_line(obj)


def read_document(path: Path, source_file: str) -> tuple | RawBlock | None:
    """Read a `.json` file holding ONE JSON object; None when it is JSONL (or too big).

    OONI's API and test data give single measurements as `.json` files: pretty-printed (one
    object over hundreds of lines), compact without a final newline, or wrapped in a
    ``measurement_meta`` response whose ``raw_measurement`` is the raw line as a string and
    whose ``measurement_uid`` is OONI's id (the raw line often has none). Such a file is one
    measurement at line 1, re-serialised as one compact line (its raw text in rejects) with the
    response's uid added when the line lacks one. A file is a document when it parses as one
    JSON object, or when it starts with a line holding only ``{`` (a pretty-printed object,
    which is never a JSONL line): then an unparsable file is one ``invalid-json`` reject, not
    one per line. Anything else -- several objects, one per line -- is JSONL.

    Returns:
        ``(1, line, True, None)`` ready for :func:`parse_block`, a RawBlock holding the one
        reject of a document without a measurement, or None (read the file as JSONL).
    """
    if not path.name.endswith(DOCUMENT_SUFFIX) or path.stat().st_size > MAX_DOCUMENT_BYTES:
        return None
    data = path.read_bytes()
    first = data.lstrip().split(b"\n", 1)[0].strip()
    text = data.decode("utf-8", errors="replace")
    try:
        obj = json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, RecursionError) as exc:
        if first != b"{":
            return None  # JSONL: several lines, or one broken line for the line reader
        return _document_reject(source_file, "invalid-json", "the file is one pretty-printed "
                                f"JSON object that does not parse: {_json_error(exc)}", text)
    if not isinstance(obj, dict):
        return None  # the line reader rejects a line that is not an object
    try:
        found = _measurement_of(obj, source_file, text)
    except UnicodeEncodeError as exc:  # a lone surrogate escape: no UTF-8 line holds it
        return _document_reject(source_file, "invalid-json", "holds a lone surrogate escape "
                                f"at character {exc.start}: cannot be stored as UTF-8", text)
    return found if isinstance(found, RawBlock) else (1, found, True, None)


def iter_file_blocks(path: Path, source_file: str, block_bytes: int = BLOCK_BYTES,
                     digest=None, buffers=None, *, max_line_bytes: int = MAX_LINE_BYTES,
                     budget: int | None = None) -> Iterator[tuple | RawBlock | LongLine]:
    """The blocks of a raw file: of a JSONL file, or of a single-object `.json` document.

    Yields what :func:`parse_item` takes: ``(first_line, block, ends_with_newline,
    newline_offsets)`` tuples, a :class:`LongLine`, or a finished RawBlock (a document
    without a measurement). ``digest`` receives the file's stored bytes either way;
    ``max_line_bytes`` and ``budget`` are the reader's bounds (``lineblocks``).
    """
    document = read_document(path, source_file)
    if document is None:
        yield from iter_indexed_blocks(path, block_bytes, digest, buffers,
                                       max_line_bytes=max_line_bytes, budget=budget)
        return
    if digest is not None:
        digest.update(path.read_bytes())
    yield document


def parse_item(item: tuple | RawBlock, source_file: str, hint: ParseHint) -> RawBlock:
    """Parse one item of :func:`iter_file_blocks` (a finished RawBlock passes through).

    A :class:`LongLine` is one ``field-too-large`` reject quoting the line's first bytes.
    """
    if isinstance(item, RawBlock):
        return item
    if isinstance(item, LongLine):
        head = item.head.decode("utf-8", errors="replace")
        reject = reject_record(source_file, item.line, "read", "field-too-large",
                               f"line is {item.length} bytes long (limit {item.limit}); not "
                               f"read, its first {len(item.head)} bytes quoted", head)
        return RawBlock(_empty_raw(), [reject], b"", item.line, 1, fast=False)
    first, block, newline, offsets = item
    return parse_block(first, block, newline, source_file, offsets, hint)


def read(path: str | Path, context: Context | None = None, name: str | None = None,
         block_bytes: int = BLOCK_BYTES, *, max_line_bytes: int = MAX_LINE_BYTES,
         budget: int | None = None) -> Iterator[RawBlocks]:
    """Parse a raw OONI JSONL(.gz) file (or one `.json` measurement) batch by batch.

    Strings in, no judgement.

    This is the source contract's reader, one thread, in file order; the ingest runs the same
    :func:`parse_block` on several threads (``spool.spool_file``).

    Args:
        path: The raw file.
        context: Unused (reading needs no reference data); part of the source contract.
        name: Name recorded in outputs (default: the file name).
        block_bytes: Decompressed bytes per block.
        max_line_bytes: Longest line read; a longer one is a ``field-too-large`` reject.
        budget: Most decompressed bytes of a ``.gz`` (default: ``lineblocks``' ratio bound).

    Yields:
        One :class:`RawBlocks` of up to CLEAN_BATCH_BLOCKS blocks, in file order.

    Raises:
        RawFileError: The gzip stream is cut or corrupt, or inflates past its budget
            (raised when reached).
    """
    path = Path(path)
    name = name or path.name
    hint = ParseHint()
    items = iter_file_blocks(path, name, block_bytes, max_line_bytes=max_line_bytes,
                             budget=budget)
    for batch in batched(items, CLEAN_BATCH_BLOCKS):
        yield RawBlocks([parse_item(item, name, hint) for item in batch], name=name)


def reject_record(source_file, line, stage, reason, detail, raw_text) -> dict:
    """Return one reject as a record of the rejects table's columns."""
    return {"dataset": DATASET, "source_file": source_file, "source_line": line, "stage": stage,
            "reason_code": reason, "detail": detail, "raw_text": raw_text}

