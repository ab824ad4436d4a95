"""The OONI table writer: stage 1 and stage 2 on the run's engine, then the per-file proof.

The run driver (``censorlab.run.driver``) owns everything every output shares -- the lock, the
generation directory, the reference context, the manifest, the error policy and the publish
step. A source whose table is a single Parquet file leaves the writing to the driver too; OONI's
table is a partitioned dataset written in two stages, so this module writes it into the
generation the driver prepared and hands back a :class:`~censorlab.core.storage.TableWrite`:

1. ``spool.spool_file`` per raw file (a failed file is reported, never raised);
2. ``dataset.finalize_partition`` per (test_name, month);
3. the rejects of both stages merged into the generation's ``rejects.parquet``, one row group at
   a time, and each file's accounting completed with its duplicates and checked.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from censorlab import __version__
from censorlab.core.accounting import FileAccounting
from censorlab.core.progress import progress_bar
from censorlab.core.rejects import rejects_table, sort_rejects
from censorlab.core.storage import (
    METADATA_KEY,
    TableWrite,
    naming_the_file,
    row_hashes,
    schema_signature,
)
from censorlab.reading.lineblocks import BLOCK_BYTES
from censorlab.reference import Context
from censorlab.schema import SCHEMA_VERSION, arrow_schema
from censorlab.sources.ooni.dataset import (
    CONTENT_HASH_DEFINITION,
    DEDUP_DIR,
    combine_partition_digests,
    finalize_partition,
    spool_by_partition,
)
from censorlab.sources.ooni.formats import DATASET, TABLE
from censorlab.sources.ooni.spool import REJECTS_DIR, spool_file

logger = logging.getLogger(__name__)

DUPLICATES_POLICY = ("rejected (reason duplicate-row); the first copy in (source_file, "
                     "source_line) order is kept; rows_merged is always 0")


def write(files: Sequence[tuple[Path, str]], generation: Path, work_dir: Path,
          context: Context, runner, block_bytes: int = BLOCK_BYTES) -> TableWrite:
    """Write the ooni_measurements dataset and the run's rejects into a generation directory.

    Args:
        files: (path, source_file) pairs, as the driver discovered them.
        generation: The unpublished generation: receives ``ooni_measurements/`` (hive
            partitions ``test_name=…/measurement_month=…/part-NNNN.parquet``) and
            ``rejects.parquet`` (outside the dataset, since Dask reads every ``*.parquet``
            below it).
        work_dir: Scratch space of this run for the spool (removed by the driver).
        context: The run's reference context (the services catalog maps web inputs).
        runner: The driver's engine runner (``censorlab.run.engines.Runner``): ``map(func,
            items, progress)``, ``workers``, ``in_process``.
        block_bytes: Decompressed bytes per parse block (memory per file in flight).
    """
    started = time.perf_counter()
    spool, dataset = work_dir / "spool", generation / TABLE
    spool.mkdir(parents=True)
    dataset.mkdir()
    bar = _progress("ooni files", len(files), "file")
    rows = _RowsProgress(bar, started)

    def advance(summary: dict) -> None:
        if not runner.in_process:  # a callback cannot travel to Dask workers
            rows.add(summary["accounting"]["rows_read"], force=True)
        bar.update(1)

    # fewer files than workers: the spare workers parse blocks of the same file
    threads = max(1, runner.workers // len(files))
    items = [(str(p), name, str(spool), f"{i:06d}", context, block_bytes, threads,
              rows.add if runner.in_process else None) for i, (p, name) in enumerate(files)]
    summaries = runner.map(spool_file, items, progress=advance)
    bar.close()
    stage1_done = time.perf_counter()
    partitions = spool_by_partition(summaries)
    bar = _progress("ooni partitions", len(partitions), "partition")
    results = runner.map(finalize_partition,
                         [(str(spool), str(dataset), test, month, pieces)
                          for (test, month), pieces in partitions.items()],
                         progress=lambda _: bar.update(1))
    bar.close()
    stage2_done = time.perf_counter()
    written = _account(generation / "rejects.parquet", spool, summaries, results)
    written.timings = {
        "stage1_wall": round(stage1_done - started, 3),
        "stage1_task_sum": round(sum(s["seconds"] for s in summaries), 3),
        "stage2_wall": round(stage2_done - stage1_done, 3),
        "stage2_task_sum": round(sum(r["seconds"] for r in results), 3),
        "stage2_partitions": len(results),
    }
    return written


def _account(rejects_path: Path, spool: Path, summaries: list[dict],
             results: list[dict]) -> TableWrite:
    """Merge rejects, complete and check each file's accounting, hash the dataset."""
    rejects_rows, rejects_hash = merge_rejects(spool, summaries, rejects_path)
    duplicates: Counter = Counter()
    for result in results:
        duplicates.update(result["duplicates"])
    inputs, by_reason = [], Counter()
    for s in summaries:
        acc = FileAccounting(**s["accounting"])
        dups = duplicates.get(acc.source_file, 0)
        acc.rows_clean -= dups  # a duplicate was clean in stage 1 and is rejected in stage 2
        acc.rows_rejected += dups
        acc.rows_out -= dups
        reasons = Counter(s["reasons"])
        if dups:
            reasons["duplicate-row"] += dups
        by_reason.update({f"{DATASET}/{reason}": n for reason, n in reasons.items()})
        inputs.append({**acc.check().to_dict(), "error": str(s["error"]) if s["error"] else None})
    out_rows = sum(r["rows_out"] for r in results)
    if out_rows != sum(i["rows_out"] for i in inputs):  # pragma: no cover - a bug
        raise AssertionError("rows written differ from the per-file accounting")
    entry = {
        "path": TABLE,
        "layout": "partitioned",
        "inputs": [i["source_file"] for i in inputs],
        "rows": out_rows,
        "content_hash": combine_partition_digests(
            (r["test_name"], r["measurement_month"], r["digest"]) for r in results),
        "partitions": [{"test_name": r["test_name"], "measurement_month": r["measurement_month"],
                        "rows": r["rows_out"], "parts": r["parts"]} for r in results],
        "content_hash_definition": CONTENT_HASH_DEFINITION,
        "duplicates_policy": DUPLICATES_POLICY,
    }
    return TableWrite(
        entry=entry, inputs=inputs,
        errors=[s["error"] for s in summaries if s["error"]],
        rejects_entry={"path": rejects_path.name, "layout": "file", "rows": rejects_rows,
                       "content_hash": rejects_hash},
        rejects_by_reason=dict(sorted(by_reason.items())),
    )


def merge_rejects(spool: Path, summaries: list[dict], path: Path) -> tuple[int, str]:
    """Write every reject, sorted, to ``path`` one piece at a time; return rows and hash.

    Rejects sort by (dataset, source_file, source_line, ...). Stage 1 wrote each file's own
    rejects sorted by line; stage 2's duplicates (no raw text, so small) are held and merged in
    by line range. Memory holds one row group of raw text at a time, never all rejects -- at
    10^9 measurements with 1 % withheld probes that would be 10^7 lines of raw text. The hash
    is ``core.storage.content_hash`` of the whole table, from its row hashes (8 bytes per reject).
    """
    schema = arrow_schema("rejects")
    meta = {"table": "rejects", "source": "ooni", "package_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "note": "written as a stream: the content hash is in the manifest only"}
    dedup_parts = [pq.read_table(p) for p in sorted((spool / DEDUP_DIR).glob("*.parquet"))]
    duplicates = _rows_by_source_file(sort_rejects(pa.concat_tables(dedup_parts))
                                      if dedup_parts else schema.empty_table())
    stage1 = {s["source_file"]: spool / REJECTS_DIR / f"{s['file_key']}.parquet"
              for s in summaries}
    rows, hashes = 0, []
    stamped = schema.with_metadata({METADATA_KEY: json.dumps(meta, sort_keys=True).encode()})
    with naming_the_file(path), pq.ParquetWriter(str(path), stamped,
                                                 compression="zstd") as writer:
        for source_file in sorted(set(stage1) | set(duplicates)):
            for table in _merged_by_line(stage1.get(source_file), duplicates.get(source_file)):
                table = sort_rejects(table.cast(schema)).replace_schema_metadata(
                    stamped.metadata)
                writer.write_table(table)
                rows += table.num_rows
                hashes.append(row_hashes(table))
        if not rows:
            writer.write_table(rejects_table([]).replace_schema_metadata(stamped.metadata))
    digest = hashlib.sha256(schema_signature(schema).encode())
    digest.update(np.sort(np.concatenate(hashes)).tobytes() if hashes else b"")
    return rows, "sha256:" + digest.hexdigest()


def _merged_by_line(stage1: Path | None, duplicates: pa.Table | None) -> Iterator[pa.Table]:
    """Yield one file's rejects in line order: stage 1's row groups with the duplicates between.

    Both inputs are sorted by source_line; each yielded table holds one stage-1 row group plus
    the duplicates whose lines come before the next row group.
    """
    lines = (duplicates["source_line"].to_numpy(zero_copy_only=False)
             if duplicates is not None else np.zeros(0, np.int64))
    taken = 0
    if stage1 is not None and stage1.exists():
        reader = pq.ParquetFile(stage1)
        for group in range(reader.num_row_groups):
            table = reader.read_row_group(group)
            last = table["source_line"][-1].as_py()
            upto = int(np.searchsorted(lines, last, side="right"))
            if upto > taken:
                table = pa.concat_tables([table, duplicates.slice(taken, upto - taken)
                                          .cast(table.schema)])
                taken = upto
            yield table
    if duplicates is not None and taken < len(lines):
        yield duplicates.slice(taken)


def _rows_by_source_file(table: pa.Table) -> dict[str, pa.Table]:
    """Split a table sorted by source_file into one slice per source_file."""
    if not table.num_rows:
        return {}
    encoded = pc.dictionary_encode(table["source_file"]).combine_chunks()
    codes = encoded.indices.to_numpy()
    starts = np.concatenate([[0], np.flatnonzero(np.diff(codes)) + 1, [len(codes)]])
    names = encoded.dictionary.to_pylist()
    return {names[codes[a]]: table.slice(a, b - a) for a, b in itertools.pairwise(starts)}


class _RowsProgress:
    """Rows read so far and their rate, shown on the files bar while a file is being read.

    Files run on several threads, so adding is locked; the bar is redrawn at most every
    REDRAW_SECONDS.
    """

    REDRAW_SECONDS = 0.5

    def __init__(self, bar, started: float):
        self.bar = bar
        self.started = started
        self.rows = 0
        self._shown = 0.0
        self._lock = threading.Lock()

    def add(self, rows: int, force: bool = False) -> None:
        """Count ``rows`` more rows read."""
        with self._lock:
            self.rows += rows
            now = time.perf_counter()
            if force or now - self._shown >= self.REDRAW_SECONDS:
                self._shown = now
                rate = int(self.rows / max(now - self.started, 1e-9))
                self.bar.set_postfix(rows=self.rows, rows_per_s=rate)


def _progress(desc: str, total: int, unit: str):
    return progress_bar(total=total, desc=desc, unit=unit, leave=False)
