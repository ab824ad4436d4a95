"""The one manifest schema of every output, and the checks that validate any output against it.

Every output directory (the curated build, each ingest) publishes ``manifest.json`` with the
same keys (docs/contract.md lists them): ``kind``, ``package_version``, ``schema_version``,
``code_fingerprint``, ``as_of``, ``sources``, ``inputs``, ``tables``, ``rejects_by_reason``,
``summary``, ``errors``, ``warnings``. It holds facts about the content only -- no timings, no
engine, no absolute paths -- so the same inputs and code give the same bytes on every machine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from censorlab import __version__
from censorlab.cleaning import assert_valid
from censorlab.core.accounting import COUNTS
from censorlab.core.storage import (
    CorruptOutputError,
    TableWrite,
    content_hash,
    read_arrow,
    read_frame,
    read_provenance,
)
from censorlab.paths import PACKAGE_DIR
from censorlab.schema import SCHEMA_VERSION
from censorlab.sources.ooni.dataset import check_dataset

REJECTS = "rejects"


def code_fingerprint() -> str:
    """Hash of the package's source files: processed data is a function of raw data and code.

    A build whose code changed is stale even when the version number did not move.
    """
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def make_manifest(kind: str, *, sources: dict[str, dict], references: dict[str, str],
                  writes: dict[str, TableWrite], rejects_entry: dict,
                  as_of: str | None) -> dict:
    """Assemble a run's manifest from what each source's table write returned.

    Args:
        kind: ``curated`` or an ingest kind.
        sources: Provenance record per source kind.
        references: sha256 of each reference file the run's context read.
        writes: One TableWrite per table.
        rejects_entry: The manifest entry of the run's ``rejects.parquet``.
        as_of: The curated build's censoring date (None for ingests).
    """
    inputs: dict[str, dict] = {name: {"source_file": name, "sha256": sha, "dataset": "reference"}
                               for name, sha in references.items()}
    for write in writes.values():
        for record in write.inputs:
            inputs[record["source_file"]] = record  # a data file overrides its reference entry
    tables = {name: write.entry for name, write in writes.items()}
    tables[REJECTS] = rejects_entry
    by_reason: dict[str, int] = {}
    for write in writes.values():
        for key, count in write.rejects_by_reason.items():
            by_reason[key] = by_reason.get(key, 0) + count
    data_files = [i for i in inputs.values() if "rows_read" in i]
    errors = [f"{i['source_file']}: {i['error']}" for i in data_files if i.get("error")]
    summary = {
        "files": len(data_files),
        "rows_in": sum(i["rows_read"] + i["rows_filtered"] for i in data_files),
        "rows_out": sum(w.entry["rows"] for w in writes.values()),
        "rows_rejected": sum(i["rows_rejected"] for i in data_files),
        "rows_filtered": sum(i["rows_filtered"] for i in data_files),
        "rows_split": sum(i["rows_split"] for i in data_files),
        "rows_merged": sum(i["rows_merged"] for i in data_files),
        "file_errors": len(errors),
    }
    return {
        "kind": kind,
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "code_fingerprint": code_fingerprint(),
        "as_of": as_of,
        "sources": sources,
        "inputs": dict(sorted(inputs.items())),
        "tables": tables,
        "rejects_by_reason": dict(sorted(by_reason.items())),
        "summary": summary,
        "errors": errors,
        "warnings": _emptiness_warnings(writes),
    }


def _emptiness_warnings(writes: dict[str, TableWrite]) -> list[str]:
    """Name each table that read rows but kept none: almost always the wrong input kind."""
    warnings = []
    for name, write in writes.items():
        read = sum(i["rows_read"] for i in write.inputs)
        if read and not write.entry["rows"]:
            warnings.append(f"{name}: every one of the {read} rows read was rejected or merged "
                            "away (see rejects.parquet); is this the right kind of input?")
    return warnings


def check_outputs(generation: Path, manifest: dict, deep: bool = True) -> list[str]:
    """List every disagreement between a generation's files and its manifest (empty: valid).

    Works for every output kind: single-file tables are checked by their content hash, row
    count, provenance metadata and schema; partitioned tables (OONI) by their ordered hash
    recomputed from the files and their partitions' row counts.

    Args:
        generation: The published generation's directory.
        manifest: Its manifest.
        deep: Also recompute content hashes and re-run the schemas (what `validate` does).
    """
    problems: list[str] = []
    for name, info in manifest.get("tables", {}).items():
        path = generation / info["path"]
        if not path.exists():
            problems.append(f"{path}: missing")
        elif info.get("layout") == "partitioned":
            problems.extend(check_dataset(path, info) if deep else [])
        else:
            problems.extend(_check_file(path, name, info, deep))
    for source_file, acc in manifest.get("inputs", {}).items():
        if "rows_read" not in acc:
            continue
        if any(key not in acc for key in COUNTS) or acc["rows_read"] != acc["rows_clean"] + \
                acc["rows_rejected"] or (acc["rows_clean"] + acc["rows_split"]
                                         != acc["rows_out"] + acc["rows_merged"]):
            problems.append(f"{source_file}: accounting invariants do not hold: {acc}")
    return problems


def _check_file(path: Path, name: str, info: dict, deep: bool) -> list[str]:
    """Check one Parquet table; a streamed file (OONI's rejects) has no hash in its metadata."""
    try:
        meta = read_provenance(path)
    except CorruptOutputError as exc:
        return [str(exc)]
    problems = []
    if "content_hash" in meta and meta["content_hash"] != info["content_hash"]:
        problems.append(f"{path}: metadata hash {meta.get('content_hash')} != manifest "
                        f"{info['content_hash']}")
    if not deep:
        return problems
    try:
        arrow_table = read_arrow(path)
    except CorruptOutputError as exc:
        return [*problems, str(exc)]
    actual = content_hash(arrow_table.replace_schema_metadata(None))
    if actual != info["content_hash"]:
        problems.append(f"{path}: content hash {actual} != manifest {info['content_hash']}")
    if arrow_table.num_rows != info["rows"]:
        problems.append(f"{path}: {arrow_table.num_rows} rows != manifest {info['rows']}")
    try:
        assert_valid(read_frame(path), name)
    except Exception as exc:  # noqa: BLE001 - every schema failure is reported, not raised
        problems.append(f"{path}: schema validation failed: {str(exc)[:500]}")
    return problems


def failed_inputs(manifest: dict, files: Iterable[str] | None = None) -> list[str]:
    """Return the recorded file errors (of the given input files, or of all)."""
    wanted = None if files is None else set(files)
    return [f"{name}: {info['error']}" for name, info in manifest.get("inputs", {}).items()
            if info.get("error") and (wanted is None or name in wanted)]
