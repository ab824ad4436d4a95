"""The build: curated raw files in, validated Parquet and a manifest out.

One function orders the steps; the CLI and the notebooks call it and never re-implement it::

    verify checksums -> read + clean each source (services first) -> choose as_of
    -> write every table atomically -> write manifest.json last

A build is skipped when the manifest says the outputs already come from the same inputs, code
and `as_of`, and every output still reads back with its recorded content hash; a missing or
corrupted output is rebuilt, never read.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd

from censorlab import __version__
from censorlab.checksums import verify_files
from censorlab.cleaning import assert_valid
from censorlab.countries import CountryResolver, read_aliases
from censorlab.errors import CensorlabError, ValidationError
from censorlab.paths import MANIFEST_NAME, PROCESSED_DIR, RAW_DIR
from censorlab.progress import logging_to_progress, progress_bar
from censorlab.provenance import BuildContext, SourceResult
from censorlab.rawcsv import read_delimited
from censorlab.rejects import concat_rejects
from censorlab.schema import SCHEMA_VERSION, TABLES
from censorlab.services import ServiceCatalog
from censorlab.sources import CURATED_SOURCES, REFERENCE_FILES, curated_modules
from censorlab.storage import (
    CorruptOutputError,
    atomic_write_text,
    content_hash,
    read_arrow,
    read_frame,
    read_provenance,
    write_table,
)

logger = logging.getLogger(__name__)

CURATED_TABLES = (*CURATED_SOURCES, "rejects")
DATE_COLUMNS_FOR_AS_OF = {
    "block_events": ("start_latest_date", "end_latest_date"),
    "diplomatic_events": ("latest_date",),
    "mau": ("period_end",),
}


def raw_file_names() -> list[str]:
    """Every raw file a curated build reads, references first."""
    names = list(REFERENCE_FILES)
    for module in curated_modules():
        names.extend(module.RAW_FILES)
    return names


def _load_country_resolver(raw_dir: Path) -> CountryResolver:
    raw = read_delimited(raw_dir / "country_aliases.csv", dataset="country_aliases",
                         required_columns=("alias", "country_code"))
    if len(raw.rejects):
        first = raw.rejects.iloc[0]
        raise CensorlabError(f"country_aliases.csv:{first.source_line}: {first.detail}")
    return CountryResolver(read_aliases(raw.rows))


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


def _check_as_of(as_of: str | None) -> str | None:
    if as_of is None:
        return None
    try:
        return pd.Timestamp(as_of).strftime("%Y-%m-%d")
    except ValueError as exc:
        raise CensorlabError(f"--as-of {as_of!r} is not a date YYYY-MM-DD") from exc


def clean_sources(raw_dir: Path, sha256: dict[str, str]) -> dict[str, SourceResult]:
    """Read and clean every curated source in build order."""
    context = BuildContext(raw_dir=raw_dir, countries=_load_country_resolver(raw_dir),
                           sha256=sha256)
    results: dict[str, SourceResult] = {}
    modules = curated_modules()
    with logging_to_progress():
        for module in progress_bar(modules, desc="sources", unit="source"):
            raw_name = module.RAW_FILES[0]
            raw = module.read_raw(raw_dir / raw_name, name=raw_name)
            result = module.clean(raw, context)
            result.accounting.repairs = list(raw.repairs)  # recorded in the manifest
            results[module.TABLE] = result
            if module.TABLE == "services":
                context.services = ServiceCatalog(result.table)
            acc = result.accounting
            logger.info("%s: read %d, out %d, rejected %d, merged %d, split %d", raw_name,
                        acc.rows_read, acc.rows_out, acc.rows_rejected, acc.rows_merged,
                        acc.rows_split)
    return results


def code_fingerprint() -> str:
    """Hash of the package's source files: processed data is a function of raw data and code.

    A build whose code changed is stale even when the version number did not move.
    """
    import hashlib

    from censorlab.paths import PACKAGE_DIR

    digest = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*.py")):
        digest.update(path.relative_to(PACKAGE_DIR).as_posix().encode())
        digest.update(path.read_bytes())
    return "sha256:" + digest.hexdigest()


def _manifest_matches(out_dir: Path, inputs: dict[str, str], as_of: str | None) -> bool:
    path = out_dir / MANIFEST_NAME
    if not path.exists():
        return False
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    same = (
        manifest.get("package_version") == __version__
        and manifest.get("code_fingerprint") == code_fingerprint()
        and manifest.get("schema_version") == SCHEMA_VERSION
        and {k: v["sha256"] for k, v in manifest.get("inputs", {}).items()} == inputs
        and (as_of is None or manifest.get("as_of") == as_of)
    )
    return same and not check_outputs(out_dir, manifest, deep=True)


def remove_stale_temp_files(out_dir: Path) -> list[Path]:
    """Delete temporary files a killed build left beside its outputs.

    `storage.atomic_path` names them `.<target>.<random>.tmp`; a build that was killed before
    its rename leaves one behind. They are never read, only removed (builds of one output
    directory are not meant to run concurrently).
    """
    targets = {f"{name}.parquet" for name in CURATED_TABLES} | {MANIFEST_NAME}
    stale = [p for p in Path(out_dir).glob(".*.tmp")
             if any(p.name.startswith(f".{t}.") for t in targets)] if Path(out_dir).exists() \
        else []
    for path in stale:
        logger.warning("removing %s left by an interrupted build", path)
        path.unlink(missing_ok=True)
    return stale


def build(
    raw_dir: str | Path | None = None,
    out_dir: str | Path | None = None,
    as_of: str | None = None,
    force: bool = False,
) -> dict:
    """Rebuild the processed tables from raw files.

    Args:
        raw_dir: Directory of curated raw files (default `data/raw`).
        out_dir: Output directory (default `data/processed`).
        as_of: Date at which ongoing blocks are censored (YYYY-MM-DD); default: the newest date
            in the data (see `default_as_of`).
        force: Rebuild even when the outputs are up to date.

    Returns:
        The manifest (also written to `<out_dir>/manifest.json`).

    Raises:
        ChecksumMismatchError: A raw file changed after its checksum was recorded.
        RawFileError: A raw file cannot be read as a whole.
    """
    raw_dir = Path(raw_dir or RAW_DIR)
    out_dir = Path(out_dir or PROCESSED_DIR)
    as_of = _check_as_of(as_of)
    inputs = verify_files(raw_dir, raw_file_names())
    remove_stale_temp_files(out_dir)
    if not force and _manifest_matches(out_dir, inputs, as_of):
        logger.info("outputs in %s are up to date (use --force to rebuild)", out_dir)
        return load_manifest(out_dir)

    results = clean_sources(raw_dir, inputs)
    tables = {name: result.table for name, result in results.items()}
    as_of = as_of or default_as_of(tables)
    rejects = concat_rejects(r.rejects for r in results.values())
    accounting = {r.accounting.source_file: r.accounting.to_dict() for r in results.values()}
    for name in REFERENCE_FILES:
        accounting.setdefault(name, {"source_file": name, "sha256": inputs[name],
                                     "dataset": "reference"})

    out_dir.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, frame in [*tables.items(), ("rejects", rejects)]:
        sources = [r.accounting.source_file for t, r in results.items() if t == name] or \
            sorted(accounting)
        provenance = {
            "as_of": as_of,
            "inputs": {s: inputs[s] for s in sources},
            "accounting": {s: accounting[s] for s in sources if s in accounting},
            "source": (results[name].accounting.dataset if name in results else "all"),
        }
        written[name] = write_table(frame, out_dir, name, provenance)
        logger.info("wrote %s (%d rows)", written[name]["path"], written[name]["rows"])

    manifest = {
        "package_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "code_fingerprint": code_fingerprint(),
        "as_of": as_of,
        "inputs": accounting,
        "tables": written,
        "rejects_by_reason": {
            f"{d}/{r}": int(n)
            for (d, r), n in rejects.groupby(["dataset", "reason_code"]).size().items()
        },
    }
    atomic_write_text(out_dir / MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def load_manifest(out_dir: str | Path | None = None) -> dict:
    """Return the manifest of a build."""
    path = Path(out_dir or PROCESSED_DIR) / MANIFEST_NAME
    if not path.exists():
        raise CensorlabError(f"{path} not found: run `censorlab build` first")
    return json.loads(path.read_text(encoding="utf-8"))


def load(table: str, out_dir: str | Path | None = None) -> pd.DataFrame:
    """Return a processed table as a pandas DataFrame.

    Args:
        table: `block_events`, `mau`, `diplomatic_events`, `services` or `rejects`.
        out_dir: Directory of a build (default `data/processed`).
    """
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; known: {sorted(TABLES)}")
    path = Path(out_dir or PROCESSED_DIR) / f"{table}.parquet"
    if not path.exists():
        raise CensorlabError(f"{path} not found: run `censorlab build` first")
    return read_frame(path)


def check_outputs(out_dir: Path, manifest: dict, deep: bool = True) -> list[str]:
    """List every disagreement between the outputs and the manifest (empty = consistent).

    Args:
        out_dir: Directory of the build.
        manifest: The build's manifest.
        deep: Also recompute content hashes and re-run the schemas (what `validate` does).
    """
    problems: list[str] = []
    for name, info in manifest.get("tables", {}).items():
        path = out_dir / info["path"]
        if not path.exists():
            problems.append(f"{path}: missing")
            continue
        try:
            meta = read_provenance(path)
        except CorruptOutputError as exc:
            problems.append(str(exc))
            continue
        if meta.get("content_hash") != info["content_hash"]:
            problems.append(f"{path}: metadata hash {meta.get('content_hash')} != manifest "
                            f"{info['content_hash']}")
        if not deep:
            continue
        try:
            arrow_table = read_arrow(path)
        except CorruptOutputError as exc:
            problems.append(str(exc))
            continue
        actual = content_hash(arrow_table.replace_schema_metadata(None))
        if actual != info["content_hash"]:
            problems.append(f"{path}: content hash {actual} != manifest {info['content_hash']}")
        if arrow_table.num_rows != info["rows"]:
            problems.append(f"{path}: {arrow_table.num_rows} rows != manifest {info['rows']}")
        try:
            assert_valid(read_frame(path), name)
        except Exception as exc:  # noqa: BLE001 - every schema failure is reported, not raised
            problems.append(f"{path}: schema validation failed: {str(exc)[:500]}")
    for source_file, acc in manifest.get("inputs", {}).items():
        if "rows_read" not in acc:
            continue
        if acc["rows_read"] != acc["rows_clean"] + acc["rows_rejected"] or (
            acc["rows_clean"] + acc["rows_split"] != acc["rows_out"] + acc["rows_merged"]
        ):
            problems.append(f"{source_file}: accounting invariants do not hold: {acc}")
    return problems


def validate(out_dir: str | Path | None = None) -> list[str]:
    """Re-check a build's outputs against their schemas and the manifest.

    Raises:
        ValidationError: With every problem found, when there is at least one.
    """
    out_dir = Path(out_dir or PROCESSED_DIR)
    problems = check_outputs(out_dir, load_manifest(out_dir), deep=True)
    if problems:
        raise ValidationError("; ".join(problems))
    return problems
