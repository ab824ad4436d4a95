"""OONI aggregation API counts (CSV) -> table ``ooni_aggregate``.

Who publishes it: OONI, through its public API (``GET https://api.ooni.io/api/v1/aggregation``,
``format=CSV``; implemented in ``ooni/backend`` ``api/ooniapi/aggregation.py``). A query such as
``?test_name=telegram&probe_cc=RU&since=2018-04-01&until=2020-07-01&axis_x=measurement_start_day
&format=CSV`` returns one row per combination of the requested axes.

Layout: UTF-8 CSV with a header row. Always the five counters ``anomaly_count``,
``confirmed_count``, ``failure_count``, ``ok_count``, ``measurement_count``; then one column per
axis used (``measurement_start_day``, ``probe_cc``, ``probe_asn``, ``test_name``, ``domain``,
``input``, ``category_code``, ``blocking_type``). The column order is not documented, so columns
are found by header name.

Known quirks and how they are handled:

* The counters are mutually exclusive by definition (ClickHouse ``fastpath`` flags), so
  ``anomaly + confirmed + failure + ok == measurement_count``; a row where this fails is rejected
  as ``constraint-error`` (never repaired).
* Counts must be non-negative integers (``type-error`` otherwise).
* ``measurement_start_day`` is a date ``YYYY-MM-DD`` (day, week or month grain: the first day of
  the period); a time part ``T00:00:00`` (optionally ``Z``) is accepted, any other value or an
  impossible date is a ``type-error``.
* ``probe_asn`` may be written ``12389`` or ``AS12389``; both become the integer 12389.
  ``probe_cc`` must be ISO alpha-2.
* Axes outside the table (``blocking_type``) are not kept; the log says so.
* Rows are distinct cells of a query: nothing is merged, so per file
  ``rows_clean == rows_out``.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from censorlab.accounting import FileAccounting
from censorlab.cleaning import mark_rejects, reject_invalid, split_rejects, start_marking
from censorlab.errors import CensorlabError, RawFileError
from censorlab.provenance import BuildContext, Provenance, SourceResult
from censorlab.rawcsv import RawFile, read_delimited
from censorlab.rejects import concat_rejects
from censorlab.schema import TABLES

logger = logging.getLogger(__name__)

PROVENANCE = Provenance(
    name="ooni-aggregate",
    producer="Open Observatory of Network Interference (OONI)",
    url="https://api.ooni.io/api/v1/aggregation",
    licence="CC BY-NC-SA 4.0 (OONI measurement data)",
    description="Counts of OONI measurements (ok, anomaly, confirmed, failure) per day, "
    "country, network, test or domain, as returned by the aggregation API in CSV.",
    citation="OONI, Open Observatory of Network Interference, https://ooni.org/data/",
)
TABLE = "ooni_aggregate"
COUNTERS = ("anomaly_count", "confirmed_count", "failure_count", "ok_count",
            "measurement_count")
AXES = ("measurement_start_day", "probe_cc", "probe_asn", "test_name", "domain", "input",
        "category_code")
KNOWN_AXES_NOT_KEPT = ("blocking_type",)
SUFFIXES = (".csv", ".csv.gz")
DAY_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00:00(?:\.0+)?Z?)?$")


def read_raw(path: Path, name: str | None = None) -> RawFile:
    """Parse an aggregation CSV into string rows (no cleaning); counters must be in the header."""
    return read_delimited(path, dataset=TABLE, required_columns=COUNTERS, name=name)


def _add_missing_axes(df: pd.DataFrame) -> pd.DataFrame:
    missing = {axis: None for axis in AXES if axis not in df.columns}
    return df.assign(**missing) if missing else df


def _strip_cells(df: pd.DataFrame) -> pd.DataFrame:
    columns = [*COUNTERS, *AXES]
    return df.assign(**{c: [(v.strip() or None) if isinstance(v, str) else None
                            for v in df[c]] for c in columns})


def _parse_counts(df: pd.DataFrame) -> pd.DataFrame:
    out = df
    for column in COUNTERS:
        text = out[column].fillna("")
        ok = text.str.fullmatch(r"\d{1,18}")
        out = mark_rejects(out, ~ok, "type-error",
                           f"{column} is not a non-negative integer: " + text)
        out = out.assign(**{column: pd.array([int(v) if good else None for v, good in
                                              zip(text, ok, strict=True)], dtype="Int64")})
    return out


def _reject_inconsistent_totals(df: pd.DataFrame) -> pd.DataFrame:
    parts = df["anomaly_count"] + df["confirmed_count"] + df["failure_count"] + df["ok_count"]
    bad = (parts != df["measurement_count"]).fillna(False)
    detail = ("anomaly+confirmed+failure+ok = " + parts.astype("string").fillna("?")
              + " but measurement_count = " + df["measurement_count"].astype("string").fillna("?"))
    return mark_rejects(df, bad, "constraint-error", detail)


def _parse_days(df: pd.DataFrame) -> pd.DataFrame:
    text = df["measurement_start_day"]
    days = []
    for value in text:
        match = DAY_PATTERN.match(value) if isinstance(value, str) else None
        day = None
        if match:
            try:
                day = pd.Timestamp(match.group(1)).date()
                if day.isoformat() != match.group(1):
                    day = None
            except ValueError:
                day = None
        days.append(day)
    parsed = pd.Series(days, index=df.index, dtype=object)
    bad = text.notna() & parsed.isna()
    out = df.assign(measurement_start_day=pd.to_datetime(parsed))
    return mark_rejects(out, bad, "type-error",
                        "measurement_start_day is not a date YYYY-MM-DD: " + text.fillna(""))


def _parse_probe_ids(df: pd.DataFrame) -> pd.DataFrame:
    asn_text = df["probe_asn"].fillna("")
    match = asn_text.str.extract(r"^(?:AS)?(\d{1,10})$", expand=False)
    bad_asn = df["probe_asn"].notna() & match.isna()
    out = df.assign(probe_asn=pd.array([int(m) if isinstance(m, str) else None for m in match],
                                       dtype="Int64"))
    out = mark_rejects(out, bad_asn, "type-error", "probe_asn is not ASnnn or nnn: " + asn_text)
    cc = df["probe_cc"]
    bad_cc = cc.notna() & ~cc.fillna("").str.fullmatch(r"[A-Z]{2}")
    return mark_rejects(out, bad_cc, "constraint-error",
                        "probe_cc is not ISO alpha-2: " + cc.fillna(""))


def clean(raw: RawFile, context: BuildContext | None) -> SourceResult:
    """Clean one aggregation CSV: typed counts, checked totals, typed axes."""
    dropped = [c for c in raw.header if c in KNOWN_AXES_NOT_KEPT]
    if dropped:
        logger.info("%s: axes not kept in %s: %s", raw.name, TABLE, ", ".join(dropped))
    marked = (
        raw.rows.pipe(_add_missing_axes)
        .pipe(start_marking)
        .pipe(_strip_cells)
        .pipe(_parse_counts)
        .pipe(_reject_inconsistent_totals)
        .pipe(_parse_days)
        .pipe(_parse_probe_ids)
        .pipe(reject_invalid, TABLE)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    all_rejects = concat_rejects([raw.rejects, rejects])
    sha = (context.sha256.get(raw.name, "") if context is not None else "") or ""
    accounting = FileAccounting(
        source_file=raw.name, sha256=sha, dataset=TABLE, rows_read=raw.rows_read,
        rows_clean=len(accepted), rows_rejected=len(all_rejects), rows_out=len(accepted))
    table = accepted[list(TABLES[TABLE].columns)].reset_index(drop=True)
    return SourceResult(table=table, rejects=all_rejects, accounting=accounting.check())


def _read_and_clean(path: str, name: str) -> tuple[SourceResult | None, str | None, str]:
    """Per-file task for the engines: never raises for a bad file (the error is returned)."""
    from censorlab.checksums import file_sha256

    sha = file_sha256(Path(path))
    try:
        raw = read_raw(Path(path), name=name)
    except RawFileError as exc:
        logger.error("%s", exc)
        return None, str(exc), sha
    return clean(raw, BuildContext(raw_dir=Path(path).parent, countries=None,
                                   sha256={name: sha})), None, sha


def ingest(paths: Iterable[str | Path], out_dir: str | Path, *, engine: str = "pandas",
           scheduler: str | None = None, workers: int | None = None, context=None) -> dict:
    """Ingest aggregation CSVs into ``<out_dir>/ooni_aggregate.parquet`` (+ rejects, manifest).

    Files are read and cleaned one per task on the chosen engine; the table is small (one row
    per query cell) and is written once, atomically, by ``storage.write_table``. A file that
    stops with a RawFileError is listed in ``errors`` and contributes no rows.

    Returns:
        The manifest: per-file accounting, rows, content hashes, ``summary`` and ``errors``.
    """
    from censorlab import __version__
    from censorlab.engines import run_per_item
    from censorlab.schema import SCHEMA_VERSION
    from censorlab.sources.ooni import discover_files
    from censorlab.storage import (
        atomic_path,
        atomic_write_text,
        content_hash,
        to_arrow,
        write_table,
    )

    started = time.perf_counter()
    files = discover_files(paths, SUFFIXES)
    if not files:
        raise CensorlabError("no .csv files found in the given paths")
    out = Path(out_dir)
    results = run_per_item(_read_and_clean, [(str(p), n) for p, n in files], engine=engine,
                           scheduler=scheduler, workers=workers)
    tables, rejects, inputs, errors = [], [], [], []
    for (_, name), (result, error, sha) in zip(files, results, strict=True):
        if result is None:
            errors.append(error)
            inputs.append({**FileAccounting(name, sha, TABLE).to_dict(), "error": error})
            continue
        tables.append(result.table)
        rejects.append(result.rejects)
        inputs.append({**result.accounting.to_dict(), "error": None})
    table = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(
        columns=list(TABLES[TABLE].columns))
    all_rejects = concat_rejects(rejects)
    facts = {"inputs": {i["source_file"]: i["sha256"] for i in inputs},
             "accounting": inputs, "source": PROVENANCE.name}
    written = write_table(table, out, TABLE, facts)
    rejects_arrow = to_arrow(all_rejects, "rejects")
    rejects_path = out / f"{TABLE}_rejects.parquet"
    with atomic_path(rejects_path) as tmp:
        pq.write_table(rejects_arrow, tmp, compression="zstd")
    reasons = Counter(all_rejects["reason_code"])
    summary = {"files": len(files), "rows_in": sum(i["rows_read"] for i in inputs),
               "rows_out": written["rows"], "rows_rejected": len(all_rejects),
               "duplicates": 0, "file_errors": len(errors)}
    manifest = {
        "table": TABLE, "source": PROVENANCE.to_dict(), "package_version": __version__,
        "schema_version": SCHEMA_VERSION, "engine": engine, "rows": written["rows"],
        "content_hash": written["content_hash"], "path": written["path"],
        "rejects": {"path": rejects_path.name, "rows": len(all_rejects),
                    "content_hash": content_hash(rejects_arrow)},
        "rejected_by_reason": dict(sorted(reasons.items())), "inputs": inputs,
        "errors": errors, "summary": summary,
    }
    atomic_write_text(out / f"{TABLE}.manifest.json",
                      json.dumps(manifest, indent=2, sort_keys=True, default=str))
    logger.info("ooni-aggregate: %d files, rows in %d, out %d, rejected %d, %d file errors, "
                "%.1f s", summary["files"], summary["rows_in"], summary["rows_out"],
                summary["rows_rejected"], summary["file_errors"], time.perf_counter() - started)
    return manifest
