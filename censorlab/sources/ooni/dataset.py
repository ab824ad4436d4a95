"""Stage 2 of the OONI ingest and the dataset it writes: dedup, partitions, the ordered hash.

Stage 2 handles one (test_name, month) partition at a time, a few days in memory at a time:
dedup on measurement_uid per day (duplicates share the start time, hence the day), sort, write
``test_name=…/measurement_month=…/part-NNNN.parquet``, feed the partition's ordered content
digest. Duplicates are REJECTED (``duplicate-row``, not merged): the first copy in
(source_file, source_line) order is kept and the reject detail names it, so per file
``rows_read == rows_clean + rows_rejected`` and ``rows_clean == rows_out``. Readers:
:func:`read_dataset`, :func:`dataset_content_hash`, :func:`check_dataset`.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

from censorlab import __version__
from censorlab.core.rejects import rejects_table
from censorlab.core.storage import OrderedDigest, naming_the_file, schema_signature
from censorlab.schema import SCHEMA_VERSION, arrow_schema
from censorlab.sources.ooni.formats import OUTPUT_COLUMNS, PARTITION_COLUMNS, SPOOL_SCHEMA, TABLE
from censorlab.sources.ooni.parse import reject_record
from censorlab.sources.ooni.spool import RUNS_DIR, utc_days

MAX_ROWS_PER_PART = 4_000_000  # a partition's Parquet is split in parts beyond this
ROW_GROUP_ROWS = 131_072  # days are buffered up to this many rows, then hashed and written
DEDUP_DIR = "dedup"  # stage-2 rejects (duplicates): <spool>/dedup/<test>-<month>.parquet
# Dictionary pages only where values repeat: for ids, lines and timestamps pyarrow would build a
# dictionary, overflow it and fall back to plain pages, which cost 15 % of the write for nothing.
DICTIONARY_COLUMNS = ("probe_cc", "probe_asn", "test_version", "input", "service_id", "verdict",
                      "verdict_rule", "software_name", "software_version", "source_file")
PARQUET_OPTIONS = {"compression": "zstd", "compression_level": 1, "write_statistics": True,
                   "use_dictionary": list(DICTIONARY_COLUMNS)}


def spool_by_partition(summaries: list[dict]) -> dict[tuple[str, str], list[tuple]]:
    """Group the spool index of every file by (test_name, month): stage 2's work items.

    Returns:
        {(test_name, measurement_month): [(day, run file, batch), ...] sorted}, in key order.
    """
    grouped: dict[tuple[str, str], list[tuple]] = {}
    for summary in summaries:
        for test, day, run, batch in summary.get("spool", []):
            grouped.setdefault((test, day[:7]), []).append((day, run, batch))
    return {key: sorted(grouped[key]) for key in sorted(grouped)}


def _read_spool_day(spool: Path, pieces: Sequence[tuple]) -> pa.Table:
    """Read one day's record batches from the spool runs (memory-mapped, no copy)."""
    batches = []
    for _, run, batch in pieces:
        with pa.memory_map(str(spool / RUNS_DIR / run)) as source:
            batches.append(ipc.open_file(source).get_batch(batch))
    return pa.Table.from_batches(batches, schema=SPOOL_SCHEMA)


_OUTPUT_ORDER = [("measurement_start_time", "ascending"), ("measurement_uid", "ascending"),
                 ("source_file", "ascending"), ("source_line", "ascending")]


def _drop_duplicates(table: pa.Table, test: str) -> tuple[pa.Table, list[dict]]:
    """Keep the first copy of each measurement in (source_file, source_line) order.

    ``table`` holds whole UTC days of one test (one or several). Copies of a measurement share
    its uid and start time, so one sort by (start time, uid, file, line) serves both dedup and
    output order: copies are adjacent. The sort and the duplicate test run on the four key
    columns only; the rows are copied once, by one ``take`` of the kept rows in output order.
    Should one uid carry two start times on one day (a corrupt re-publication), that day is
    deduplicated by uid alone, so the output key stays unique; the same uid on two different
    days is two rows (dedup state is one day: memory stays bounded, see docs/scaling.md).
    """
    n = table.num_rows
    if n < 2:
        return table, []
    keys = table.select([name for name, _ in _OUTPUT_ORDER])
    order = pc.sort_indices(keys, sort_keys=_OUTPUT_ORDER)
    keys = keys.take(order)
    uid = keys["measurement_uid"].combine_chunks()
    dup = _repeats_previous(uid)
    start_changes = ~_repeats_previous(keys["measurement_start_time"].combine_chunks())
    if pc.count_distinct(uid).as_py() != n - int(dup.sum()) or (dup & start_changes).any():
        return _drop_duplicates_by_day_and_uid(table)
    if not dup.any():
        return table.take(order), []
    rejects = _duplicate_rejects(keys, uid, dup)
    return table.take(pc.filter(order, pa.array(~dup))), rejects


def _drop_duplicates_by_day_and_uid(table: pa.Table) -> tuple[pa.Table, list[dict]]:
    """The rare path of :func:`_drop_duplicates`: a uid seen with several start times."""
    table = table.append_column("_day", pa.array(utc_days(table)))
    table = table.sort_by([("_day", "ascending"), *_OUTPUT_ORDER[1:]])
    uid = table["measurement_uid"].combine_chunks()
    dup = _repeats_previous(uid) & _repeats_previous(table["_day"].combine_chunks())
    rejects = _duplicate_rejects(table, uid, dup)
    kept = table.filter(pa.array(~dup)).drop_columns(["_day"])
    return kept.sort_by(_OUTPUT_ORDER), rejects


def _repeats_previous(values: pa.Array) -> np.ndarray:
    """Return a mask: True where a value equals the one before it (never for the first)."""
    n = len(values)
    same = pc.equal(values.slice(1), values.slice(0, n - 1))
    return np.concatenate([[False], pc.fill_null(same, False).to_numpy(zero_copy_only=False)])


def _duplicate_rejects(rows: pa.Table, uid: pa.Array, dup: np.ndarray) -> list[dict]:
    """Return one ``duplicate-row`` reject per duplicate, naming the copy that was kept.

    ``rows`` (with source_file and source_line) and ``uid`` are in sorted order, so a
    duplicate's kept copy is the nearest earlier row that is not a duplicate.
    """
    n = len(uid)
    first = np.maximum.accumulate(np.where(dup, 0, np.arange(n)))
    # Python values only for the duplicates and the copies they keep, not the whole day
    index = np.flatnonzero(dup)
    kept = pa.array(first[index])
    index_array = pa.array(index)
    files, lines = (rows["source_file"].take(index_array).to_pylist(),
                    rows["source_line"].take(index_array).to_pylist())
    kept_files, kept_lines = (rows["source_file"].take(kept).to_pylist(),
                              rows["source_line"].take(kept).to_pylist())
    uids = uid.take(index_array).to_pylist()
    return [
        reject_record(file, line, "dedup", "duplicate-row",
                f"duplicate of measurement_uid {uid_} kept from {kept_file}:{kept_line}", None)
        for file, line, uid_, kept_file, kept_line
        in zip(files, lines, uids, kept_files, kept_lines, strict=True)
    ]


CONTENT_HASH_DEFINITION = (
    "sha256 of the schema signature and, per partition in (test_name, measurement_month) "
    "order, the partition key and the storage.OrderedDigest of its rows in file order "
    "(sorted by measurement_start_time, measurement_uid); recompute it with "
    "censorlab.sources.ooni.dataset.dataset_content_hash(DIR)")


def combine_partition_digests(partitions: Iterable[tuple[str, str, str]]) -> str:
    """Return the dataset hash from (test_name, measurement_month, partition digest) triples."""
    digest = hashlib.sha256(schema_signature(output_schema()).encode())
    for test, month, partition_digest in sorted(partitions):
        digest.update(f"\n{test}|{month}|{partition_digest}".encode())
    return "sha256:" + digest.hexdigest()


def dataset_content_hash(dataset_dir: str | Path) -> str:
    """Recompute the content hash of an ingested dataset from its Parquet files.

    Reads one partition at a time, part files and row groups in order (bounded memory), so
    anyone can check a dataset against its manifest, also after copying it elsewhere.
    """
    file_schema = output_schema(with_partitions=False)
    partitions = []
    for test_dir in sorted(Path(dataset_dir).glob("test_name=*")):
        for month_dir in sorted(test_dir.glob("measurement_month=*")):
            digest = OrderedDigest(file_schema)
            for part in sorted(month_dir.glob("part-*.parquet")):
                reader = pq.ParquetFile(part)
                for group in range(reader.num_row_groups):
                    digest.update(reader.read_row_group(group, columns=file_schema.names))
            partitions.append((test_dir.name.split("=", 1)[1],
                               month_dir.name.split("=", 1)[1], digest.hexdigest()))
    return combine_partition_digests(partitions)


def check_dataset(dataset_dir: str | Path, entry: dict) -> list[str]:
    """Check a published dataset against its manifest entry; return the problems (empty: ok).

    Recomputes the content hash from the Parquet files (:func:`dataset_content_hash`) and the
    rows of every partition, so a copied or archived dataset can be checked before it is
    analysed (``censorlab validate`` calls this for partitioned tables).
    """
    dataset_dir = Path(dataset_dir)
    try:
        actual = dataset_content_hash(dataset_dir)
    except (OSError, pa.ArrowException) as exc:
        return [f"{dataset_dir}: a Parquet file cannot be read: {exc}"]
    problems = []
    if actual != entry["content_hash"]:
        problems.append(f"{dataset_dir}: content hash {actual} != manifest "
                        f"{entry['content_hash']}")
    for partition in entry["partitions"]:
        folder = (dataset_dir / f"test_name={partition['test_name']}"
                  / f"measurement_month={partition['measurement_month']}")
        rows = sum(pq.ParquetFile(p).metadata.num_rows for p in folder.glob("part-*.parquet"))
        if rows != partition["rows"]:
            problems.append(f"{folder}: {rows} rows != manifest {partition['rows']}")
    return problems


def read_dataset(dataset_dir: str | Path, filters=None) -> pa.Table:
    """Read a dataset back as one Arrow table with string partition columns (for hashing)."""
    partitioning = ds.partitioning(pa.schema([("test_name", pa.string()),
                                              ("measurement_month", pa.string())]),
                                   flavor="hive")
    dataset = ds.dataset(str(dataset_dir), format="parquet", partitioning=partitioning)
    table = dataset.to_table(filter=filters)
    return table.select(list(OUTPUT_COLUMNS)).cast(output_schema())


def output_schema(with_partitions: bool = True) -> pa.Schema:
    """Return the Arrow schema of ooni_measurements (files omit the hive partition columns)."""
    schema = arrow_schema(TABLE)
    if with_partitions:
        return schema
    return pa.schema([f for f in schema if f.name not in PARTITION_COLUMNS])


def finalize_partition(spool_dir: str, out_dir: str, test: str, month: str,
                       pieces: Sequence[tuple]) -> dict:
    """Stage 2 for one (test_name, measurement_month): dedup, sort, write, hash.

    ``pieces`` are the partition's (day, spool run, batch) entries from the stage 1 summaries.
    Days are read in order and deduplicated together until they hold ROW_GROUP_ROWS rows, so
    memory holds about that many rows plus one day; dedup stays per day (see
    :func:`_drop_duplicates`), whatever the grouping. Rows are written
    sorted by (measurement_start_time, measurement_uid), a unique key, and fed in that order to
    the partition's :class:`~censorlab.core.storage.OrderedDigest` (see
    :func:`dataset_content_hash`).
    """
    started = time.perf_counter()
    spool, out = Path(spool_dir), Path(out_dir)
    file_schema = output_schema(with_partitions=False)
    meta = {"table": TABLE, "source": "ooni", "schema_version": SCHEMA_VERSION,
            "package_version": __version__, "partition": {"test_name": test,
                                                          "measurement_month": month}}
    file_schema = file_schema.with_metadata({b"censorlab": json.dumps(meta, sort_keys=True)})
    target_dir = out / f"test_name={test}" / f"measurement_month={month}"
    target_dir.mkdir(parents=True, exist_ok=True)
    rejects: list[dict] = []
    digest = OrderedDigest(file_schema)
    state = {"rows_out": 0, "part": 0, "rows_in_part": 0, "writer": None}

    def write_days(days: list[pa.Table]) -> None:
        """Deduplicate days, then hash and write them as row groups (few, large Arrow calls)."""
        table, batch_rejects = _drop_duplicates(pa.concat_tables(days), test)
        rejects.extend(batch_rejects)
        table = table.select(file_schema.names).cast(file_schema)
        digest.update(table)
        if state["writer"] is not None and (state["rows_in_part"] + table.num_rows
                                            > MAX_ROWS_PER_PART):
            state["writer"].close()
            state.update(writer=None, part=state["part"] + 1, rows_in_part=0)
        part_path = target_dir / f"part-{state['part']:04d}.parquet"
        with naming_the_file(part_path):
            if state["writer"] is None:
                state["writer"] = pq.ParquetWriter(str(part_path), file_schema,
                                                   **PARQUET_OPTIONS)
            state["writer"].write_table(table, row_group_size=ROW_GROUP_ROWS)
        state["rows_in_part"] += table.num_rows
        state["rows_out"] += table.num_rows

    days: list[pa.Table] = []  # spooled days not yet deduplicated
    buffered = 0
    for _, day_pieces in itertools.groupby(sorted(pieces), key=lambda piece: piece[0]):
        days.append(_read_spool_day(spool, list(day_pieces)))
        buffered += days[-1].num_rows
        if buffered >= ROW_GROUP_ROWS:
            write_days(days)
            days, buffered = [], 0
    if days:
        write_days(days)
    if state["writer"] is not None:
        with naming_the_file(target_dir / f"part-{state['part']:04d}.parquet"):
            state["writer"].close()
    rows_out, part = state["rows_out"], state["part"]
    if rejects:
        _write_rejects(rejects, spool / DEDUP_DIR / f"{test}-{month}.parquet")
    duplicates = Counter(r["source_file"] for r in rejects)
    return {"test_name": test, "measurement_month": month, "rows_out": rows_out,
            "digest": digest.hexdigest(),
            "parts": part + 1 if rows_out else 0, "duplicates": dict(duplicates),
            "seconds": time.perf_counter() - started}


def _write_rejects(rejects: list[dict], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with naming_the_file(path):
        pq.write_table(rejects_table(rejects), path)
