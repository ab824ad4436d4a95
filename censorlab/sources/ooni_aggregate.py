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
* Rows are distinct cells of a query: nothing is merged (no ``DEDUP_KEY``), so per file
  ``rows_clean == rows_out``.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    finish,
    mark_rejects,
    reject_invalid,
    split_rejects,
    start_marking,
)
from censorlab.core.provenance import Provenance
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context

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
FILE_SUFFIXES = (".csv", ".csv.gz")
DAY_PATTERN = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[T ]00:00:00(?:\.0+)?Z?)?$")


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
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


def clean(raw: RawFile, context: Context) -> SourceResult:
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
    return finish(raw, TABLE, clean=accepted, rejects=[rejects])
