"""Strict reading of delimited text files, shared by every CSV/TSV source.

Public datasets arrive as spreadsheet exports, registry dumps and tab-separated feeds. This reader
does the parts that must be the same everywhere and must never guess:

* bytes are decoded with the encoding the source declares, strictly; an undecodable byte stops
  the file with its byte offset and line. A UTF-8 or UTF-16 byte-order mark is honoured (the mark
  itself says how to decode) and recorded as a repair.
* gzip input is decompressed whole, within a budget (``lineblocks.decompression_budget``); a
  cut stream, or one inflating past the budget (a gzip bomb), stops the file.
* a physical line ends at a newline only, as ``sed -n`` counts: a carriage return that is not
  part of a CRLF, outside quotes, is a ``constraint-error`` reject of its record (the csv
  module would end a record there, and every later line number would disagree with the file).
* every value stays a string; cleaning happens in the source module.
* a header must hold each required column once; a duplicated name stops the file.
* a row with more cells than the header is rejected as `extra-cell`, with fewer as
  `missing-cell`; a cell longer than the bound is rejected as `field-too-large`.
* a quoted field left open (a record running to the end of the file, or over more physical lines
  than the bound) stops the file, naming the line where the record began: past that point rows
  no longer match physical lines, so nothing after it can be trusted.

Every row keeps `source_file`, `source_line` (1-based physical line where the record starts) and
`raw_text`, so any later reject can point back at the exact text.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import hashlib
import io
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from censorlab.core.rejects import concat_rejects, empty_rejects, make_rejects
from censorlab.errors import RawFileError
from censorlab.reading.lineblocks import decompression_budget

logger = logging.getLogger(__name__)

MAX_FIELD_CHARS = 100_000
MAX_LINES_PER_RECORD = 200
CSV_PARSER_FIELD_LIMIT = 256 * 1024 * 1024
BOMS = (
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
META_COLUMNS = ("source_file", "source_line", "raw_text")


@dataclass
class RawFile:
    """A parsed raw file: string rows, structural rejects and what was repaired.

    Attributes:
        path: File that was read.
        name: Name recorded in outputs (relative to the raw directory when known).
        header: Column names as read (after stripping a byte-order mark).
        rows: One row per accepted record; every cell a string, plus META_COLUMNS.
        rejects: Records rejected while reading (wrong cell count, huge field, blank row).
        rows_read: Data records read, accepted or not.
        repairs: Deterministic repairs made while reading (e.g. a stripped byte-order mark).
        preamble: Lines skipped before the header (e.g. a dump's `Updated:` line).
        sha256: `sha256:<hex>` of the bytes that were parsed (the file as stored, before
            decompression), so the recorded checksum is the parsed content's.
    """

    path: Path
    name: str
    header: list[str]
    rows: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    rows_read: int = 0
    repairs: list[str] = field(default_factory=list)
    preamble: list[str] = field(default_factory=list)
    sha256: str = ""


def file_digest(data: bytes) -> str:
    """Return `sha256:<hex>` of bytes (the form the checksum registry uses)."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def decompress(path: Path, data: bytes, budget: int | None = None) -> bytes:
    """Return the file's content, gunzipped for `.gz`, reading at most ``budget`` bytes.

    Args:
        path: The file (its suffix says whether it is gzip).
        data: Its bytes as stored.
        budget: Most decompressed bytes (default ``lineblocks.decompression_budget``): a gzip
            bomb stops after that much work instead of filling memory.

    Raises:
        RawFileError: A cut or corrupt stream, or one inflating past the budget.
    """
    if path.suffix != ".gz":
        return data
    budget = decompression_budget(len(data)) if budget is None else budget
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(data)) as stream:
            content = stream.read(budget + 1)
    except (EOFError, OSError, zlib.error) as exc:
        raise RawFileError(path, None, path.name, f"gzip stream is truncated or corrupt: "
                           f"{exc}") from exc
    if len(content) > budget:
        raise RawFileError(path, None, path.name, f"decompresses to more than its budget of "
                           f"{budget} bytes (a gzip bomb?)")
    return content


def decode_strict(data: bytes, path: Path, encoding: str) -> tuple[str, list[str]]:
    """Decode bytes with the declared encoding; a byte-order mark overrides it and is noted.

    Returns:
        The text and the list of repairs made.

    Raises:
        RawFileError: With the 1-based line and byte offset of the first undecodable byte.
    """
    repairs: list[str] = []
    for bom, bom_encoding in BOMS:
        if data.startswith(bom):
            data = data[len(bom):]
            if bom_encoding != codecs.lookup(encoding).name:
                repairs.append(f"byte-order mark says {bom_encoding}; decoded as {bom_encoding} "
                               f"instead of the declared {encoding}")
            else:
                repairs.append(f"stripped {bom_encoding} byte-order mark")
            encoding = bom_encoding
            break
    try:
        return data.decode(encoding, errors="strict"), repairs
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        bad = data[exc.start: exc.end]
        raise RawFileError(path, line, bad, f"cannot decode as {encoding} at byte offset "
                           f"{exc.start}") from exc


def split_physical_lines(text: str) -> list[str]:
    """Split at newlines only (each line keeps its newline), as ``sed -n`` numbers lines."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def read_delimited(
    path: str | Path,
    *,
    dataset: str,
    required_columns: Sequence[str] | None = None,
    column_names: Sequence[str] | None = None,
    encoding: str = "utf-8",
    delimiter: str = ",",
    quoting: int = csv.QUOTE_MINIMAL,
    skip_lines: int = 0,
    name: str | None = None,
    max_field_chars: int = MAX_FIELD_CHARS,
    budget: int | None = None,
) -> RawFile:
    """Read a delimited file strictly into string rows.

    Args:
        path: File to read (`.gz` is decompressed).
        dataset: Dataset name recorded on reject rows.
        required_columns: Header names that must be present (the file has a header row).
        column_names: Names for a file without a header row (e.g. GDELT); exclusive with
            required_columns.
        encoding: Declared encoding of the source.
        delimiter: Field separator.
        quoting: csv quoting mode (QUOTE_NONE for formats without quoting, such as GDELT).
        skip_lines: Physical lines before the header or first row (kept in `preamble`).
        name: Name recorded in `source_file`; defaults to the file name.
        max_field_chars: Longest accepted cell; longer ones reject the row.
        budget: Most decompressed bytes of a `.gz` (default: see :func:`decompress`).

    Raises:
        RawFileError: On bad encoding, truncated gzip or one inflating past its budget, bad
            header or an unterminated quote.
    """
    path = Path(path)
    name = name or path.name
    stored = path.read_bytes()
    text, repairs = decode_strict(decompress(path, stored, budget), path, encoding)
    lines = split_physical_lines(text)
    preamble = [ln.rstrip("\r\n") for ln in lines[:skip_lines]]

    previous_limit = csv.field_size_limit(CSV_PARSER_FIELD_LIMIT)
    try:
        records, stray_returns = _parse_records(lines, path, delimiter, quoting, skip_lines,
                                                name, dataset)
    finally:
        csv.field_size_limit(previous_limit)

    if column_names is not None:
        header = list(column_names)
    else:
        if not records:
            raise RawFileError(path, skip_lines + 1, "", "file has no header row")
        header_line, header_cells, _ = records.pop(0)
        header = [c.strip() for c in header_cells]
        _check_header(path, header_line, header, required_columns or ())

    kept, rejects = _split_by_shape(records, lines, header, name, dataset, max_field_chars)
    rejects = concat_rejects([stray_returns, rejects])
    # object dtype on purpose: pandas' string dtype turns None into NaN, and cleaning
    # steps rely on None meaning "empty cell".
    rows = pd.DataFrame(kept, columns=[*header, *META_COLUMNS], dtype=object)
    rows["source_line"] = rows["source_line"].astype("int64")
    for message in repairs:
        logger.info("%s: %s", name, message)
    return RawFile(
        path=path,
        name=name,
        header=header,
        rows=rows,
        rejects=rejects,
        rows_read=len(records) + len(stray_returns),
        repairs=repairs,
        preamble=preamble,
        sha256=file_digest(stored),
    )


def _parse_records(
    lines: list[str], path: Path, delimiter: str, quoting: int, skip_lines: int, name: str,
    dataset: str,
) -> tuple[list[tuple[int, list[str], int]], pd.DataFrame]:
    """Parse records as (start line, cells, end line); blank lines are skipped.

    The csv module reads the physical lines one by one, so its line count is the file's.
    A record holding a lone carriage return outside quotes is rejected (second value), not
    parsed: the csv module refuses it, and the next line starts a fresh record.
    """
    reader = csv.reader(iter(lines[skip_lines:]), delimiter=delimiter, quoting=quoting,
                        strict=True)
    records = []
    stray_returns: list[dict[str, object]] = []
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            end = reader.line_num
            text = "".join(lines[skip_lines + start - 1: skip_lines + end]).rstrip("\r\n")
            if "new-line character seen in unquoted field" in str(exc):
                stray_returns.append({
                    "dataset": dataset, "source_file": name, "source_line": start + skip_lines,
                    "stage": "read", "reason_code": "constraint-error",
                    "detail": f"a carriage return not followed by a newline at character "
                              f"{text.find(chr(13)) + 1}: a line break to some readers only",
                    "raw_text": text})
                continue
            what = ("a field larger than the csv parser's limit"
                    if "field larger than field limit" in str(exc) else "unbalanced quote?")
            raise RawFileError(path, start + skip_lines, text[:80], f"malformed CSV record "
                               f"({what}): {exc}") from exc
        end = reader.line_num
        if end - start + 1 > MAX_LINES_PER_RECORD:
            raise RawFileError(path, start + skip_lines, cells[0][:80] if cells else "",
                               f"one record spans {end - start + 1} physical lines: an "
                               "unbalanced quote; rows no longer match lines after this point")
        if cells:
            records.append((start + skip_lines, cells, end + skip_lines))
    return records, make_rejects(stray_returns)


def _check_header(path: Path, line: int, header: list[str], required: Sequence[str]) -> None:
    seen: set[str] = set()
    for column in header:
        if column in seen:
            raise RawFileError(path, line, column, "duplicate column name in header "
                               "(duplicate-label)")
        seen.add(column)
    missing = [c for c in required if c not in seen]
    if missing:
        raise RawFileError(path, line, ",".join(header)[:200], f"header lacks required "
                           f"columns {missing}")


def _split_by_shape(
    records: list[tuple[int, list[str], int]],
    lines: list[str],
    header: list[str],
    name: str,
    dataset: str,
    max_field_chars: int,
) -> tuple[list[list[object]], object]:
    kept: list[list[object]] = []
    rejected: list[dict[str, object]] = []
    width = len(header)
    for start, cells, end in records:
        raw_text = "".join(lines[start - 1: end]).rstrip("\r\n")
        problem = None
        if len(cells) > width:
            problem = ("extra-cell", f"{len(cells)} cells, header has {width}")
        elif len(cells) < width:
            problem = ("missing-cell", f"{len(cells)} cells, header has {width}")
        elif all(not c.strip() for c in cells):
            problem = ("blank-row", "every cell is empty")
        else:
            longest = max(range(width), key=lambda i: len(cells[i]))
            if len(cells[longest]) > max_field_chars:
                problem = ("field-too-large", f"column {header[longest]!r} holds "
                           f"{len(cells[longest])} characters (limit {max_field_chars})")
        if problem:
            rejected.append({"dataset": dataset, "source_file": name, "source_line": start,
                             "stage": "read", "reason_code": problem[0], "detail": problem[1],
                             "raw_text": raw_text})
        else:
            kept.append([*cells, name, start, raw_text])
    return kept, concat_rejects([make_rejects(rejected)])
