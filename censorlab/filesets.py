"""Ingest a set of downloaded delimited files: one clean per file, one merged, atomic output.

STOP exports, GDELT event files and registry dumps share one shape of work: each raw file is
read and cleaned on its own (so the files can be spread over Dask workers), then the cleaned
rows of all files are merged, the same record seen in two files (overlapping exports, the same
GDELT event in two 15-minute files, two registry snapshots) is kept once and counted as merged,
and the table, its rejects and a manifest are written. Nothing is written until every file has
been cleaned: a file-level error (`RawFileError`) stops the run with the previous outputs intact.

Some rows are neither clean nor bad but out of scope (a GDELT event with no diplomatic CAMEO
code, a registry entry naming no known service). They are not rejects - nothing is wrong with
them - so each source counts them as `rows_filtered` beside the accounting, and the manifest
holds the proof `records_read == rows_read + rows_filtered`, with `rows_read` the in-scope rows
that enter the usual invariants (docs/contract.md).
"""

from __future__ import annotations

import importlib
import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from censorlab.accounting import AccountingError
from censorlab.checksums import file_sha256
from censorlab.errors import CensorlabError
from censorlab.provenance import BuildContext, SourceResult
from censorlab.rejects import concat_rejects
from censorlab.schema import SCHEMA_VERSION, TABLES
from censorlab.storage import (
    METADATA_KEY,
    PARQUET_OPTIONS,
    atomic_path,
    atomic_write_text,
    content_hash,
    to_arrow,
    write_table,
)

logger = logging.getLogger(__name__)


@dataclass
class FileResult(SourceResult):
    """A SourceResult plus facts about the file that are not rows (filtered counts, snapshot).

    Attributes:
        rows_filtered: Records read but out of scope (not rejects).
        records_read: Every data record in the file (= accounting.rows_read + rows_filtered).
        extras: JSON-serialisable facts for the manifest (e.g. a dump's snapshot time).
    """

    rows_filtered: int = 0
    records_read: int = 0
    extras: dict = field(default_factory=dict)


def clean_one(module_name: str, path: str, context: BuildContext) -> FileResult:
    """Read and clean one file with a source module (module-level, so Dask can pickle it)."""
    module = importlib.import_module(module_name)
    result = module.clean(module.read_raw(Path(path)), context)
    result.accounting.sha256 = file_sha256(Path(path))
    if not isinstance(result, FileResult):
        result = FileResult(result.table, result.rejects, result.accounting,
                            records_read=result.accounting.rows_read)
    return result


def _run(module_name: str, paths: list[Path], context: BuildContext, engine: str,
         scheduler: str | None, workers: int) -> list[FileResult]:
    items = [(module_name, str(p), context) for p in paths]
    try:
        from censorlab.engines import run_per_item
    except ImportError:  # pragma: no cover - engines.py is written concurrently
        run_per_item = None
    if run_per_item is not None:
        return run_per_item(clean_one, items, engine=engine, scheduler=scheduler,
                            workers=workers)
    if engine == "pandas":  # pragma: no cover
        return [clean_one(*item) for item in items]
    import dask  # pragma: no cover

    return list(dask.compute(*[dask.delayed(clean_one)(*i) for i in items],  # pragma: no cover
                             scheduler=scheduler or "threads"))


def _canonical(value: object) -> str:
    """Render a cell the same way whatever its dtype (None, NaN and NA alike)."""
    if isinstance(value, list | tuple):
        return "\x1e".join(map(str, value))
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "\x00null"
    return str(value)


def _merge_duplicates(results: list[FileResult], identity: list[str]) -> pd.DataFrame:
    """Concatenate per-file tables in input order; keep the first of rows with equal identity.

    Each dropped row is counted as `rows_merged` on the file it came from, so the per-file
    invariant `rows_clean + rows_split == rows_out + rows_merged` keeps holding.
    """
    frames = [r.table for r in results if len(r.table)]
    if not frames:
        return results[0].table.iloc[0:0] if results else pd.DataFrame()
    table = pd.concat(frames, ignore_index=True)
    key = pd.Series(["\x1f".join(_canonical(v) for v in values)
                     for values in table[identity].itertuples(index=False)], index=table.index)
    dropped = key.duplicated(keep="first")
    merged_per_file = table.loc[dropped, "source_file"].value_counts().to_dict()
    for result in results:
        acc = result.accounting
        acc.rows_merged += int(merged_per_file.get(acc.source_file, 0))
        acc.rows_out -= int(merged_per_file.get(acc.source_file, 0))
    return table[~dropped].reset_index(drop=True)


def expand_paths(paths: list[Path], patterns: tuple[str, ...]) -> list[Path]:
    """Replace each directory by its files matching `patterns` (sorted; not recursive)."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(sorted({f for pattern in patterns for f in path.glob(pattern)
                               if f.is_file()}))
        else:
            out.append(path)
    return out


def write_rejects(rejects: pd.DataFrame, target: Path, provenance: dict) -> dict:
    """Write a rejects table atomically under a source-specific name (`<kind>_rejects`)."""
    arrow_table = to_arrow(rejects, "rejects")
    digest = content_hash(arrow_table)
    meta = {"table": "rejects", "schema_version": SCHEMA_VERSION, "rows": arrow_table.num_rows,
            "content_hash": digest, **provenance}
    arrow_table = arrow_table.replace_schema_metadata(
        {METADATA_KEY: json.dumps(meta, sort_keys=True, default=str).encode()})
    with atomic_path(target) as tmp:
        pq.write_table(arrow_table, tmp, **PARQUET_OPTIONS)
    return {"path": target.name, "rows": arrow_table.num_rows, "content_hash": digest}


def ingest_files(
    module_name: str,
    kind: str,
    paths: list[Path],
    out_dir: Path,
    *,
    identity: list[str],
    engine: str = "pandas",
    scheduler: str | None = None,
    workers: int = 2,
    context: BuildContext,
) -> dict:
    """Clean every file, merge duplicates on `identity`, write table, rejects and manifest.

    Returns:
        The manifest (also written as `<out_dir>/<kind>_manifest.json`).

    Raises:
        CensorlabError: Two inputs share a file name (their rows could not be told apart).
        RawFileError: A file cannot be read; nothing is written.
    """
    module = importlib.import_module(module_name)
    paths = expand_paths(paths, getattr(module, "FILE_PATTERNS", ("*",)))
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise CensorlabError(f"{kind}: two inputs share a file name: {sorted(names)}")
    results = _run(module_name, paths, context, engine, scheduler, workers)
    table = _merge_duplicates(results, identity)
    table = table[list(TABLES[module.TABLE].columns)] if len(table) else table
    for result in results:
        result.accounting.check()
        if result.records_read != result.accounting.rows_read + result.rows_filtered:
            raise AccountingError(f"{result.accounting.source_file}: records_read "
                                  f"{result.records_read} != rows_read + rows_filtered")
    inputs = [{**r.accounting.to_dict(), "records_read": r.records_read,
               "rows_filtered": r.rows_filtered, **r.extras} for r in results]
    rejects = concat_rejects([r.rejects for r in results])
    provenance = {"source": module.PROVENANCE.to_dict(), "inputs": inputs}
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = {module.TABLE: write_table(table, out_dir, module.TABLE, provenance)}
    written[f"{kind}_rejects"] = write_rejects(rejects, out_dir / f"{kind}_rejects.parquet",
                                               provenance)
    from censorlab import __version__

    manifest = {
        "kind": kind,
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "source": module.PROVENANCE.to_dict(),
        "inputs": inputs,
        "tables": written,
        "summary": {
            "rows_in": sum(r.records_read for r in results),
            "rows_out": len(table),
            "rows_rejected": sum(r.accounting.rows_rejected for r in results),
            "rows_filtered": sum(r.rows_filtered for r in results),
            "rows_split": sum(r.accounting.rows_split for r in results),
            "duplicates": sum(r.accounting.rows_merged for r in results),
        },
    }
    atomic_write_text(out_dir / f"{kind}_manifest.json",
                      json.dumps(manifest, indent=2, sort_keys=True, default=str))
    logger.info("%s: %d rows in, %d out, %d rejected, %d filtered, %d duplicates", kind,
                *[manifest["summary"][k] for k in ("rows_in", "rows_out", "rows_rejected",
                                                   "rows_filtered", "duplicates")])
    return manifest
