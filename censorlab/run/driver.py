"""The one run driver: files in, a published generation out, for the curated build and every ingest.

Every run goes through the same steps, whatever the source::

    verify inputs -> build the reference context (once) -> lock the output directory
    -> remove what killed runs left -> write a new generation: each source's tables
       (read + clean per file on the engine, merged across files), the run's rejects, the
       manifest -> publish it with one atomic rename -> report file errors

**One error policy.** A file that cannot be read as a whole (``RawFileError``: bad encoding, an
unbalanced quote, a cut gzip stream, a wrong header) stops that file only: its rows are left
out, the other files finish, the generation is published, the manifest records the error in
``errors`` and in the file's ``inputs`` entry, and :class:`~censorlab.errors.PartialRunError`
is raised after publishing (the CLI exits 2, naming each file). Anything else -- a checksum
mismatch, a full disk, a bug -- stops the run before publishing, and the previous generation
stays published. Nothing half-written is ever published.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import importlib
import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from censorlab import __version__
from censorlab.cleaning import SourceResult
from censorlab.core.accounting import FileAccounting
from censorlab.core.checksums import file_sha256, verify_files
from censorlab.core.http import parse_day
from censorlab.core.progress import logging_to_progress, progress_bar
from censorlab.core.rejects import concat_rejects
from censorlab.core.storage import TableWrite, write_table, write_text
from censorlab.errors import (
    CensorlabError,
    ChecksumMismatchError,
    NothingReadError,
    PartialRunError,
    RawFileError,
)
from censorlab.paths import MANIFEST_NAME, PROCESSED_DIR, RAW_DIR, is_read_only_raw_dir
from censorlab.reference import Context
from censorlab.run.context import build_context
from censorlab.run.engines import ENGINES, Runner, default_workers, engine_session
from censorlab.run.files import discover_files
from censorlab.run.manifest import REJECTS, check_outputs, code_fingerprint, make_manifest
from censorlab.run.publish import (
    check_kind,
    link_stable_names,
    new_generation,
    output_lock,
    publish,
    read_published_manifest,
    remove_leftovers,
    work_dir,
)
from censorlab.schema import SCHEMA_VERSION, TABLES
from censorlab.sources import REFERENCE_FILES, Source, curated_sources, get_source

logger = logging.getLogger(__name__)

CURATED = "curated"
DATE_COLUMNS_FOR_AS_OF = {
    "block_events": ("start_latest_date", "end_latest_date", "last_confirmed_date"),
    "diplomatic_events": ("latest_date",),
    "mau": ("period_end",),
}


@dataclass
class RunOutcome:
    """What a run did.

    Attributes:
        manifest: The published manifest (also ``<out_dir>/manifest.json``).
        out_dir: The output directory.
        published: False when the outputs were already up to date and nothing was written.
        timings: Seconds per stage on this machine (not part of the content).
    """

    manifest: dict
    out_dir: Path
    published: bool = True
    timings: dict = field(default_factory=dict)


def build(raw_dir: str | Path | None = None, out_dir: str | Path | None = None,
          as_of: str | None = None, force: bool = False) -> dict:
    """Rebuild the curated tables from a raw directory; return the published manifest.

    Args:
        raw_dir: Directory of curated raw files (default: ``data/raw`` in a checkout, the
            data shipped in the package otherwise).
        out_dir: Output directory (default ``data/processed`` in a checkout, the user data
            directory otherwise).
        as_of: Date at which ongoing blocks are censored (YYYY-MM-DD); default: the newest
            date in the data (see :func:`default_as_of`).
        force: Rebuild even when the outputs are up to date.

    Raises:
        ChecksumMismatchError: A raw file changed after its checksum was recorded.
        PartialRunError: A raw file could not be read; the rest was published.
        OutputLockedError: Another run is writing ``out_dir``.
    """
    return run_build(raw_dir, out_dir, as_of=as_of, force=force).manifest


def run_build(raw_dir: str | Path | None = None, out_dir: str | Path | None = None, *,
              as_of: str | None = None, force: bool = False,
              lock_timeout: float | None = 0.0) -> RunOutcome:
    """:func:`build`, returning the :class:`RunOutcome` (the CLI says whether it built)."""
    raw_dir = Path(raw_dir or RAW_DIR)
    out_dir = Path(out_dir or PROCESSED_DIR)
    as_of = check_as_of(as_of)
    sources = curated_sources()
    names = list(dict.fromkeys([*REFERENCE_FILES, *(f for s in sources
                                                     for f in s.load().RAW_FILES)]))
    verified = verify_files(raw_dir, names, record_new=not is_read_only_raw_dir(raw_dir))
    context = build_context(raw_dir)
    with output_lock(out_dir, timeout=lock_timeout):
        remove_leftovers(out_dir)
        check_kind(out_dir, CURATED)
        published = read_published_manifest(out_dir)
        if not force and published and _up_to_date(*published, verified, as_of):
            logger.info("outputs in %s are up to date (use --force to rebuild)", out_dir)
            link_stable_names(out_dir, published[0])  # a deleted stable name comes back
            return RunOutcome(published[1], out_dir, published=False)
        started = time.perf_counter()
        runner = Runner("pandas", None, default_workers())
        cleaned = {}
        with logging_to_progress():
            for source in progress_bar(sources, desc="sources", unit="source"):
                files = [(raw_dir / f, f) for f in source.load().RAW_FILES]
                cleaned[source.kind] = _clean_files(source, files, context, runner, verified)
        tables = {kind: merged.table for kind, merged in cleaned.items()}
        as_of = as_of or default_as_of({source.load().TABLE: tables[source.kind]
                                        for source in sources})
        with new_generation(out_dir) as generation:
            writes = {source.load().TABLE: _write_merged(cleaned[source.kind], source,
                                                         generation, as_of)
                      for source in sources}
            manifest = _finish_generation(CURATED, generation, sources, context, writes,
                                          [m.rejects for m in cleaned.values()], as_of)
            publish(out_dir, generation)
    return _report(RunOutcome(manifest, out_dir, timings={
        "seconds": round(time.perf_counter() - started, 3)}), writes)


def ingest(kind: str, paths: Iterable[str | Path], out_dir: str | Path, *,
           engine: str = "pandas", scheduler: str | None = None, workers: int | None = None,
           raw_dir: str | Path | None = None) -> dict:
    """Clean downloaded files of one kind into a published output directory.

    Args:
        kind: An ingest kind of the registry (``censorlab sources`` lists them).
        paths: Files and directories (searched recursively for the kind's file names).
        out_dir: The output directory (one kind per directory).
        engine: ``pandas`` (in-process threads) or ``dask``.
        scheduler: Dask scheduler address (default: a LocalCluster for the run).
        workers: Threads or Dask workers (default: the CPUs available).
        raw_dir: Raw directory of the reference tables (countries, services).

    Returns:
        The published manifest.

    Raises:
        PartialRunError: Some files could not be read; the others were published.
        NothingReadError: No file could be read; nothing was published.
        CensorlabError: Unknown kind or engine, or no input file found.
    """
    return run_ingest(kind, paths, out_dir, engine=engine, scheduler=scheduler,
                      workers=workers, raw_dir=raw_dir).manifest


def run_ingest(kind: str, paths: Iterable[str | Path], out_dir: str | Path, *,
               engine: str = "pandas", scheduler: str | None = None,
               workers: int | None = None, raw_dir: str | Path | None = None,
               context: Context | None = None, lock_timeout: float | None = 0.0,
               **writer_options) -> RunOutcome:
    """:func:`ingest`, returning the :class:`RunOutcome`.

    ``context`` lets a caller that runs many ingests build the reference context once;
    ``writer_options`` go to a staged writer (OONI's ``block_bytes``).
    """
    try:
        source = get_source(kind)
    except KeyError as exc:
        raise CensorlabError(str(exc.args[0])) from exc
    if source.curated:
        raise CensorlabError(f"{kind} is a curated source: rebuild it with `censorlab build`")
    if engine not in ENGINES:
        raise CensorlabError(f"unknown engine {engine!r}; use one of {', '.join(ENGINES)}")
    workers = check_workers(workers) or default_workers()
    module = source.load()
    out_dir = Path(out_dir)
    files = discover_files(paths, module.FILE_SUFFIXES)
    if hasattr(module, "group_inputs"):  # several files read as one input (a split dump)
        files = module.group_inputs(files)
    context = context or build_context(Path(raw_dir or RAW_DIR))
    with output_lock(out_dir, timeout=lock_timeout):
        remove_leftovers(out_dir)
        check_kind(out_dir, kind)
        started = time.perf_counter()
        with new_generation(out_dir) as generation:
            with logging_to_progress(), engine_session(engine, scheduler, workers) as session:
                runner = Runner(engine, session, workers)
                if hasattr(module, "write"):
                    write = module.write(files, generation, work_dir(out_dir), context, runner,
                                         **writer_options)
                    rejects = []
                else:
                    merged = _clean_files(source, files, context, runner)
                    write = _write_merged(merged, source, generation, None)
                    rejects = [merged.rejects]
            if write.errors and len(write.errors) == len(files):
                raise NothingReadError(write.errors)  # the generation is removed, unpublished
            manifest = _finish_generation(kind, generation, [source], context,
                                          {module.TABLE: write}, rejects, None)
            publish(out_dir, generation)
    timings = {"seconds": round(time.perf_counter() - started, 3), **write.timings}
    return _report(RunOutcome(manifest, out_dir, timings=timings), {module.TABLE: write})


@dataclass
class _Merged:
    """One source's cleaned files, merged: the table, its rejects, each file's record."""

    table: pd.DataFrame
    rejects: pd.DataFrame
    inputs: list[dict]
    errors: list[RawFileError]


def read_and_clean(module_name: str, path: str | tuple[str, ...], name: str,
                   context: Context) -> tuple[SourceResult | None, RawFileError | None, str]:
    """Per-file task: read and clean one input; a file-level error is returned, never raised.

    Module-level (and given the module by name) so a Dask worker can run it. An input is one
    file, or a tuple of files a source reads as one (``group_inputs``: a split dump); the
    checksum of a failed tuple is that of the files' bytes joined in order.
    """
    module = importlib.import_module(module_name)
    parts = tuple(Path(p) for p in path) if isinstance(path, tuple | list) else Path(path)
    try:
        raw = module.read(parts, context, name=name)
    except RawFileError as exc:
        logger.error("%s", exc)
        if isinstance(parts, tuple):
            joined = hashlib.sha256(b"".join(p.read_bytes() for p in parts))
            return None, exc, "sha256:" + joined.hexdigest()
        return None, exc, file_sha256(parts)
    result = module.clean(raw, context)
    return result, None, result.accounting.sha256


def _clean_files(source: Source, files: Sequence[tuple[Path, str]], context: Context,
                 runner: Runner, verified: dict[str, str] | None = None) -> _Merged:
    """Read and clean every file of one source on the engine; merge the results."""
    module = source.load()
    outcomes = runner.map(read_and_clean, [(source.module, tuple(map(str, p)) if
                                            isinstance(p, tuple) else str(p), n, context)
                                           for p, n in files])
    results, inputs, errors = [], [], []
    for (path, name), (result, error, sha) in zip(files, outcomes, strict=True):
        if verified and name in verified and sha != verified[name]:
            raise ChecksumMismatchError(path, verified[name], sha)  # changed since verified
        if error is not None:
            errors.append(error)
            inputs.append({**FileAccounting(name, sha, module.TABLE).to_dict(),
                           "error": str(error)})
            continue
        results.append(result)
    table = _merge_duplicates(results, module.TABLE, getattr(module, "DEDUP_KEY", None))
    for result in results:
        inputs.append({**result.accounting.check().to_dict(), "error": None, **result.facts})
    order = {name: i for i, (_, name) in enumerate(files)}
    inputs.sort(key=lambda record: order[record["source_file"]])
    return _Merged(table, concat_rejects(r.rejects for r in results), inputs, errors)


def _merge_duplicates(results: list[SourceResult], table: str,
                      key: Sequence[str] | None) -> pd.DataFrame:
    """Concatenate per-file tables in input order; keep the first of rows with equal ``key``.

    Each dropped row is counted as ``rows_merged`` on the file it came from, so the per-file
    invariant ``rows_clean + rows_split == rows_out + rows_merged`` keeps holding.
    """
    frames = [r.table for r in results if len(r.table)] or [r.table for r in results[:1]]
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in TABLES[table].columns})
    merged = pd.concat(frames, ignore_index=True)
    if not key:
        return merged
    identity = pd.Series(["\x1f".join(_canonical(v) for v in values)
                          for values in merged[list(key)].itertuples(index=False)],
                         index=merged.index)
    dropped = identity.duplicated(keep="first")
    merged_per_file = merged.loc[dropped, "source_file"].value_counts().to_dict()
    for result in results:
        acc = result.accounting
        acc.rows_merged += int(merged_per_file.get(acc.source_file, 0))
        acc.rows_out -= int(merged_per_file.get(acc.source_file, 0))
    return merged[~dropped].reset_index(drop=True)


def _canonical(value: object) -> str:
    """Render a cell the same way whatever its dtype (None, NaN and NA alike)."""
    if isinstance(value, list | tuple):
        return "\x1e".join(map(str, value))
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return "\x00null"
    return str(value)


def _write_merged(merged: _Merged, source: Source, generation: Path,
                  as_of: str | None) -> TableWrite:
    """Write one source's merged table into the generation."""
    table = source.load().TABLE
    provenance = {"as_of": as_of, "source": source.kind,
                  "inputs": {i["source_file"]: i["sha256"] for i in merged.inputs},
                  "accounting": {i["source_file"]: i for i in merged.inputs}}
    entry = {**write_table(merged.table, generation, table, provenance), "layout": "file",
             "inputs": [i["source_file"] for i in merged.inputs]}
    counts = (merged.rejects.groupby(["dataset", "reason_code"]).size()
              if len(merged.rejects) else pd.Series(dtype="int64"))
    return TableWrite(entry=entry, inputs=merged.inputs, errors=merged.errors,
                      rejects=merged.rejects,
                      rejects_by_reason={f"{d}/{r}": int(n) for (d, r), n in counts.items()})


def _finish_generation(kind: str, generation: Path, sources: list[Source], context: Context,
                       writes: dict[str, TableWrite], rejects: list[pd.DataFrame],
                       as_of: str | None) -> dict:
    """Write the run's rejects (unless a staged writer did) and the manifest, last."""
    streamed = [w.rejects_entry for w in writes.values() if w.rejects_entry is not None]
    if streamed:
        rejects_entry = streamed[0]
    else:
        inputs = {i["source_file"]: i for w in writes.values() for i in w.inputs}
        provenance = {"as_of": as_of, "source": kind,
                      "inputs": {name: i["sha256"] for name, i in inputs.items()},
                      "accounting": inputs}
        rejects_entry = {**write_table(concat_rejects(rejects), generation, REJECTS,
                                       provenance), "layout": "file"}
    manifest = make_manifest(kind, sources={s.kind: s.load().PROVENANCE.to_dict()
                                            for s in sources},
                             references=context.inputs, writes=writes,
                             rejects_entry=rejects_entry, as_of=as_of)
    write_text(generation / MANIFEST_NAME, _to_json(manifest))
    return manifest


def _report(outcome: RunOutcome, writes: dict[str, TableWrite]) -> RunOutcome:
    """Log the run's summary and warnings; raise PartialRunError for file errors."""
    manifest = outcome.manifest
    logger.info("%s: %s", manifest["kind"],
                ", ".join(f"{k} {v}" for k, v in manifest["summary"].items()))
    for warning in manifest["warnings"]:
        logger.warning("%s", warning)
    errors = [e for w in writes.values() for e in w.errors]
    if errors:
        raise PartialRunError(manifest, errors)
    return outcome


def _to_json(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=True, default=str)


def _up_to_date(generation: Path, manifest: dict, verified: dict[str, str],
                as_of: str | None) -> bool:
    """Whether the published build comes from the same inputs, code and as_of, unharmed."""
    same = (
        manifest.get("package_version") == __version__
        and manifest.get("code_fingerprint") == code_fingerprint()
        and manifest.get("schema_version") == SCHEMA_VERSION
        and {k: v["sha256"] for k, v in manifest.get("inputs", {}).items()} == verified
        and (as_of is None or manifest.get("as_of") == as_of)
        and not manifest.get("errors")
    )
    return same and not check_outputs(generation, manifest, deep=True)


def default_as_of(tables: dict[str, pd.DataFrame]) -> str:
    """Return the newest date found in the curated tables.

    Ongoing blocks are right-censored at the newest fact the data holds, not at today's date,
    so a rebuild next year gives the same numbers until the data changes.
    """
    newest = [
        pd.to_datetime(tables[name][column]).max()
        for name, columns in DATE_COLUMNS_FOR_AS_OF.items()
        for column in columns
        if name in tables and len(tables[name])
    ]
    newest = [d for d in newest if pd.notna(d)]
    if not newest:
        raise CensorlabError("cannot choose as_of: the curated tables hold no dates")
    return max(newest).strftime("%Y-%m-%d")


def check_as_of(as_of: object) -> str | None:
    """Return ``as_of`` as YYYY-MM-DD (None stays None).

    Only a real calendar date written ``YYYY-MM-DD`` (or a ``datetime.date``) is taken: ``now``
    or ``today`` would make a build depend on the day it runs, and ``2017`` would silently
    become 2017-01-01 (issue #12, F8). The CLI applies the same rule at argparse.

    Raises:
        CensorlabError: Anything else.
    """
    if as_of is None:
        return None
    if isinstance(as_of, dt.date):
        return as_of.strftime("%Y-%m-%d")
    return parse_day(str(as_of), "as_of").isoformat()


def check_workers(workers: object) -> int | None:
    """Return ``workers`` if it is None or a whole number >= 1 (issue #12, F19).

    Raises:
        CensorlabError: A bool, a non-integer, or a number below 1.
    """
    if workers is None:
        return None
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise CensorlabError(f"workers must be a whole number >= 1, not {workers!r}")
    return workers
