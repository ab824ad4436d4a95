"""Writing and reading processed tables: atomic, deterministic, self-describing Parquet.

* Atomic where it matters: a table is written straight into an unpublished generation, which
  is published whole by one rename (`run.publish`); a file that others may read at any moment
  (the checksum registry, an export) is written to a temporary file, fsynced, and moved over
  the old one with `os.replace`. Every write error names its file.
* Deterministic: rows are sorted by the table's key and cast to the schema's Arrow types; the
  content hash is computed from values, not bytes (Parquet bytes differ across library
  versions, arrow #40202), and does not depend on row order.
* Self-describing: the Parquet schema metadata holds a `censorlab` JSON entry with the inputs and
  their sha256, package and schema versions, row accounting and the content hash.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from censorlab import __version__
from censorlab.errors import CensorlabError
from censorlab.schema import SCHEMA_VERSION, TABLES, arrow_schema

METADATA_KEY = b"censorlab"
NULL_SENTINEL = "\x00null"
LIST_SEPARATOR = "\x1f"
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 3, "write_statistics": True}


def _current_umask() -> int:
    """Return the process umask without changing it (Linux), else by setting it back at once."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def file_mode() -> int:
    """The mode open() gives a new file: 0644 under the usual umask (mkstemp would give 0600)."""
    return 0o666 & ~_current_umask()


class CorruptOutputError(CensorlabError):
    """A processed file cannot be read back as Parquet."""


def _to_arrow_array(series: pd.Series, arrow_type: pa.DataType) -> pa.Array:
    if pa.types.is_date32(arrow_type):
        values = pd.to_datetime(series).to_numpy(dtype="datetime64[D]")
        return pa.array(values, type=pa.date32(), from_pandas=True)
    if pa.types.is_timestamp(arrow_type):
        values = pd.to_datetime(series, utc=True)
        return pa.array(values, type=arrow_type, from_pandas=True)
    if pa.types.is_list(arrow_type):
        values = [None if v is None or (not isinstance(v, list | tuple | np.ndarray)
                                        and pd.isna(v)) else list(v) for v in series]
        return pa.array(values, type=arrow_type)
    if pa.types.is_integer(arrow_type):
        return pa.array(pd.array(series, dtype="Int64"), type=arrow_type, from_pandas=True)
    if pa.types.is_boolean(arrow_type):
        return pa.array(pd.array(series, dtype="boolean"), type=arrow_type, from_pandas=True)
    values = [None if v is None or (not isinstance(v, str) and pd.isna(v)) else v
              for v in series]
    return pa.array(values, type=arrow_type)


def to_arrow(df: pd.DataFrame, table: str) -> pa.Table:
    """Sort a frame by the table's key and convert it to the table's exact Arrow schema."""
    spec = TABLES[table]
    schema = arrow_schema(table)
    ordered = df.sort_values(spec.order, kind="mergesort", na_position="first") if len(
        df) and spec.order else df
    ordered = ordered.reset_index(drop=True)
    arrays = [_to_arrow_array(ordered[f.name], f.type) for f in schema]
    return pa.Table.from_arrays(arrays, schema=schema)


def _canonical_strings(column: pa.ChunkedArray) -> pa.ChunkedArray:
    arrow_type = column.type
    if pa.types.is_list(arrow_type):
        as_strings = pc.cast(column, pa.list_(pa.string()))
        joined = pc.binary_join(as_strings, LIST_SEPARATOR)
        return pc.fill_null(joined, NULL_SENTINEL)
    return pc.fill_null(pc.cast(column, pa.string()), NULL_SENTINEL)


def row_hashes(table: pa.Table) -> np.ndarray:
    """Return one stable 64-bit hash per row, from the values of every column.

    Values are rendered as canonical strings (nulls and list boundaries marked), so the hash does
    not depend on chunking, Parquet encoding or the library that produced the Arrow table.
    """
    if table.num_rows == 0:
        return np.zeros(0, dtype=np.uint64)
    frame = pd.DataFrame(
        {name: np.asarray(_canonical_strings(table[name]).to_pylist(), dtype=object)
         for name in table.column_names}
    )
    return pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)


def _type_name(arrow_type: pa.DataType) -> str:
    # Parquet renames a list's item field to "element"; the name is not part of the content.
    if pa.types.is_list(arrow_type) or pa.types.is_large_list(arrow_type):
        return f"list<{_type_name(arrow_type.value_type)}>"
    return str(arrow_type)


def schema_signature(schema: pa.Schema) -> str:
    """Describe column names and types (not metadata or nullability) for hashing."""
    return ";".join(f"{f.name}:{_type_name(f.type)}" for f in schema)


def content_hash(table: pa.Table) -> str:
    """Hash a table's schema and values, independent of row order and file bytes."""
    digest = hashlib.sha256(schema_signature(table.schema).encode())
    digest.update(np.sort(row_hashes(table)).tobytes())
    return "sha256:" + digest.hexdigest()


class OrderedDigest:
    """A sha256 of a table's values in row order, fed batch by batch in bounded memory.

    For datasets too large to hold (OONI measurements), whose row order is itself canonical
    (sorted by a unique key): :func:`content_hash` needs 8 bytes per row held and sorted at the
    end, 8 GB at 10^9 rows, and its per-value string hashing holds the GIL. Here each column
    keeps three running sha256 streams -- validity (one byte per row), value lengths (strings)
    and value bytes (little-endian integers, timestamps as int64, UTF-8 for strings, nulls
    filled with 0 or "") -- so the result depends only on the values and their order, never on
    chunking, batch sizes or Parquet bytes, and hashing runs in C without the GIL.
    """

    def __init__(self, schema: pa.Schema):
        self.schema = schema
        self.rows = 0
        self._streams = {f.name: (hashlib.sha256(), hashlib.sha256(), hashlib.sha256())
                         for f in schema}

    def update(self, table: pa.Table) -> None:
        """Feed the next rows (``table`` has at least the schema's columns, in any chunking)."""
        for column in self.schema:
            validity, lengths, data = self._streams[column.name]
            for chunk in table[column.name].cast(column.type).chunks:
                for stream, payload in zip((validity, lengths, data),
                                           _canonical_buffers(chunk), strict=True):
                    if payload is not None:
                        stream.update(payload)
        self.rows += table.num_rows

    def hexdigest(self) -> str:
        """Return the digest of the schema, the row count and every column's streams."""
        digest = hashlib.sha256(schema_signature(self.schema).encode())
        digest.update(f"rows={self.rows}".encode())
        for name, streams in self._streams.items():
            digest.update(f";{name}:".encode() + b"".join(s.digest() for s in streams))
        return digest.hexdigest()


def _canonical_buffers(chunk: pa.Array) -> tuple:
    """Return (validity bytes, lengths or None, value bytes) of one Arrow array."""
    validity = np.ascontiguousarray(
        pc.is_valid(chunk).to_numpy(zero_copy_only=False), dtype=np.uint8)
    arrow_type = chunk.type
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        filled = pc.fill_null(chunk, "") if chunk.null_count else chunk
        width = np.int64 if pa.types.is_large_string(arrow_type) else np.int32
        offsets = np.frombuffer(filled.buffers()[1], dtype=width)[
            filled.offset: filled.offset + len(filled) + 1]
        data = filled.buffers()[2]
        values = (memoryview(data)[int(offsets[0]): int(offsets[-1])] if data is not None
                  and len(filled) else b"")
        return validity, np.diff(offsets).astype("<i8"), values
    if pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type):
        chunk = chunk.cast(pa.int64() if pa.types.is_timestamp(arrow_type) else pa.int32())
        arrow_type = chunk.type
    if pa.types.is_integer(arrow_type) or pa.types.is_boolean(arrow_type):
        filled = pc.fill_null(chunk, False if pa.types.is_boolean(arrow_type) else 0)
        values = filled.to_numpy(zero_copy_only=False)
        values = values.astype(np.uint8) if values.dtype == bool else values.astype("<i8")
        return validity, None, np.ascontiguousarray(values)
    raise TypeError(f"OrderedDigest does not support Arrow type {arrow_type}")


def _fsync_directory(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextmanager
def atomic_path(target: Path) -> Iterator[Path]:
    """Yield a temporary path beside `target`; move it over `target` only on success.

    The temporary file lives in the same directory so `os.replace` is an atomic rename on the
    same filesystem; on any exception it is removed and `target` is untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, file_mode())  # mkstemp makes 0600; outputs are shared files
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_directory(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    """Write a text file atomically (UTF-8, newline-terminated)."""
    with atomic_path(target) as tmp:
        tmp.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


def write_text(target: Path, text: str) -> None:
    """Write a text file of an unpublished generation (UTF-8, newline-terminated).

    Not atomic on purpose: nothing reads a generation before it is published, and publishing
    fsyncs it whole, so a temporary file and a rename per file would only add kill points.
    """
    with naming_the_file(target):
        Path(target).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")


@contextmanager
def naming_the_file(path: Path) -> Iterator[None]:
    """Re-raise an OSError that names no file with ``path``: a full disk names its file.

    pyarrow reports a full disk as "[Errno 28] Error writing bytes to file", naming nothing.
    The errno is kept (``ENOSPC`` stays ``ENOSPC``), and with it the OSError subclass.
    """
    try:
        yield
    except OSError as exc:
        if exc.filename is not None:
            raise
        if exc.errno is None:
            raise OSError(f"{path}: {exc}") from exc
        raise OSError(exc.errno, exc.strerror or str(exc), str(path)) from exc


def write_table(df: pd.DataFrame, out_dir: Path, table: str, provenance: dict) -> dict:
    """Write a processed table as `<out_dir>/<table>.parquet` (a file of a new generation).

    Written in place, not through a temporary file: the generation is published whole, after
    one fsync of all of it (``run.publish.publish``), and a failed run removes it.

    Args:
        df: Rows conforming to `schema.TABLES[table]`.
        out_dir: Output directory.
        table: Table name.
        provenance: JSON-serialisable facts stored in the schema metadata (inputs, accounting,
            as_of). Package and schema versions, row count and content hash are added here.

    Returns:
        Summary for the manifest: path, rows, content_hash.
    """
    arrow_table = to_arrow(df, table)
    digest = content_hash(arrow_table)
    meta = {
        "table": table,
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "rows": arrow_table.num_rows,
        "content_hash": digest,
        **provenance,
    }
    schema_meta = dict(arrow_table.schema.metadata or {})
    schema_meta[METADATA_KEY] = json.dumps(meta, sort_keys=True, default=str).encode()
    arrow_table = arrow_table.replace_schema_metadata(schema_meta)
    target = Path(out_dir) / f"{table}.parquet"
    with naming_the_file(target):
        pq.write_table(arrow_table, target, **PARQUET_OPTIONS)
    return {"path": target.name, "rows": arrow_table.num_rows, "content_hash": digest}


def read_arrow(path: Path) -> pa.Table:
    """Read a Parquet file, turning any decoding failure into CorruptOutputError."""
    try:
        return pq.read_table(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptOutputError(f"{path}: not a readable Parquet file ({exc})") from exc


def read_provenance(path: Path) -> dict:
    """Return the `censorlab` metadata stored in a Parquet file's schema."""
    try:
        schema = pq.read_schema(path)
    except (OSError, pa.ArrowException) as exc:
        raise CorruptOutputError(f"{path}: not a readable Parquet file ({exc})") from exc
    raw = (schema.metadata or {}).get(METADATA_KEY)
    if raw is None:
        raise CorruptOutputError(f"{path}: no censorlab provenance in the schema metadata")
    return json.loads(raw)


def _types_mapper(arrow_type: pa.DataType):
    if pa.types.is_integer(arrow_type):
        return pd.Int64Dtype()
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None


def arrow_to_frame(arrow_table: pa.Table) -> pd.DataFrame:
    """Convert a processed Arrow table to pandas the same way everywhere.

    Dates become `datetime64`, nullable integers `Int64`, booleans `boolean`, and list cells
    plain Python lists (easier to work with in notebooks than numpy arrays).
    """
    df = arrow_table.to_pandas(date_as_object=False, types_mapper=_types_mapper)
    for name in arrow_table.column_names:
        if pa.types.is_list(arrow_table.schema.field(name).type):
            df[name] = [None if v is None else list(v) for v in df[name]]
    return df


def read_frame(path: Path) -> pd.DataFrame:
    """Read a processed Parquet file into pandas (see `arrow_to_frame`)."""
    return arrow_to_frame(read_arrow(path))



@dataclass
class TableWrite:
    """What writing one source's table into a generation gives back to the run driver.

    Attributes:
        entry: The table's manifest entry: ``path`` (relative to the generation), ``rows``,
            ``content_hash``, ``layout`` (``file`` or ``partitioned``), and for partitioned
            tables ``partitions``.
        inputs: One record per input file: its accounting (``FileAccounting.to_dict()``), its
            ``error`` (None or the message) and any facts the source reported.
        errors: The RawFileError of each file that could not be read.
        rejects: The rejects as a frame, for the driver to write with the run's other rejects;
            None when the writer streamed them to the generation's rejects file itself.
        rejects_entry: The manifest entry of that streamed rejects file (else None).
        rejects_by_reason: Reject counts keyed ``dataset/reason_code``.
        timings: Seconds per stage on this machine (logged and returned, never stored).
    """

    entry: dict
    inputs: list[dict]
    errors: list = field(default_factory=list)
    rejects: pd.DataFrame | None = None
    rejects_entry: dict | None = None
    rejects_by_reason: dict[str, int] = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
