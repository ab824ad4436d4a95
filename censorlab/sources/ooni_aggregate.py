"""OONI aggregation API counts (CSV) -> table ``ooni_aggregate``.

Who publishes it: OONI, through its public API (``GET https://api.ooni.io/api/v1/aggregation``,
``format=CSV``; implemented in ``ooni/backend`` ``api/ooniapi/aggregation.py``). A query such as
``?test_name=telegram&probe_cc=RU&since=2018-04-01&until=2020-07-01&axis_x=measurement_start_day
&format=CSV`` returns one row per combination of the requested axes.

Layout: UTF-8 CSV with a header row (the API writes CRLF line ends: ``csv.DictWriter``), the
counters and then one column per axis used (``measurement_start_day``, ``probe_cc``,
``probe_asn``, ``test_name``, ``domain``, ``input``, ``category_code``, ``blocking_type``). The
column order is not documented (the current API sorts the names, so ``ok_count`` comes after
``measurement_start_day``), so columns are found by header name. Two layouts are real (OONI's
own expected API output, tests/fixtures/ooni_aggregate/PROVENANCE.md):

* **current** (ClickHouse, since 2021): five counters ``anomaly_count``, ``confirmed_count``,
  ``failure_count``, ``ok_count``, ``measurement_count``, mutually exclusive by definition
  (``fastpath`` flags), so ``anomaly + confirmed + failure + ok == measurement_count``; a row
  where this fails is rejected as ``constraint-error`` (never repaired).
* **2021 and before** (PostgreSQL ``counters``): no ``ok_count``. Whether its counters overlap
  (does ``anomaly_count`` include confirmed ones?) is not documented, so ``ok_count`` is derived
  only where the counters determine it whatever the overlap: the measurements that are
  anomalous, confirmed or failed number between ``max`` and ``min(measurement, sum)`` of the
  three, so ``ok = measurement - max(anomaly, confirmed, failure)`` exactly when those bounds
  meet -- at most one of the three is non-zero (every row of OONI's own 2020 examples:
  ``confirmed`` and ``failure`` are 0 there), or one equals ``measurement_count``. Elsewhere
  ``ok_count`` is null. The derivation is a repair recorded in the manifest, with how many rows
  stayed null; a counter above ``measurement_count`` is a ``constraint-error``.

Time grain: the API's ``time_grain`` (``hour``, ``day``, ...; ``auto`` picks hours for a range
of up to a week) is not in the CSV, only the bucket in ``measurement_start_day``: a date
(``2021-07-09``) for day buckets, a UTC hour (``2021-07-09T02:00:00Z``) for hour buckets. The
grain is read from that form, per file (one file is one query): ``hour`` when the file's buckets
carry a time of day (every one does, or one is not midnight), else ``day`` -- then a
``T00:00:00`` spelling of a day is still a day. ``time_grain`` and ``period_start_time`` (the
bucket's first instant, UTC) keep it; ``measurement_start_day`` is the bucket's day. A bucket
with minutes or seconds, an impossible date, or a date-only bucket in an hour-grain file is a
``type-error``. Week, month and year buckets are written as their first day, like days, and
were not found in any real file: such a file reads as day grain, so keep the query with it.

Other quirks: counts must be non-negative integers (``type-error``); ``probe_asn`` may be
written ``12389`` or ``AS12389`` (both become 12389); ``probe_cc`` must be ISO alpha-2; axes
outside the table (``blocking_type``) are not kept (the log says so); rows are distinct cells
of a query, so nothing is merged (no ``DEDUP_KEY``). The JSON format of the same endpoint is
not read (export with ``format=CSV``).
"""

from __future__ import annotations

import dataclasses
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
REQUIRED_COUNTERS = ("anomaly_count", "confirmed_count", "failure_count", "measurement_count")
AXES = ("measurement_start_day", "probe_cc", "probe_asn", "test_name", "domain", "input",
        "category_code")
KNOWN_AXES_NOT_KEPT = ("blocking_type",)
FILE_SUFFIXES = (".csv", ".csv.gz")
BUCKET_PATTERN = re.compile(r"^([0-9]{4}-[0-9]{2}-[0-9]{2})"
                            r"(?:[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.0+)?Z?)?$")


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse an aggregation CSV into string rows (no cleaning).

    Raises:
        RawFileError: A counter other than ``ok_count`` is missing from the header (the 2021
            layout has no ``ok_count``), or the usual encoding/quoting errors.
    """
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COUNTERS, name=name)


def _add_missing_axes(df: pd.DataFrame) -> pd.DataFrame:
    missing = {axis: None for axis in (*AXES, "ok_count") if axis not in df.columns}
    return df.assign(**missing) if missing else df


def _strip_cells(df: pd.DataFrame) -> pd.DataFrame:
    columns = [*COUNTERS, *AXES]  # every one present (_add_missing_axes)
    return df.assign(**{c: [(v.strip() or None) if isinstance(v, str) else None
                            for v in df[c]] for c in columns})


def _parse_counts(df: pd.DataFrame, has_ok: bool) -> pd.DataFrame:
    out = df
    for column in COUNTERS if has_ok else REQUIRED_COUNTERS:
        text = out[column].fillna("")
        ok = text.str.fullmatch(r"[0-9]{1,18}")
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


def _derive_ok_counts(df: pd.DataFrame) -> pd.DataFrame:
    """The 2021 layout: ok_count where the counters determine it whatever their overlap."""
    flagged = df[["anomaly_count", "confirmed_count", "failure_count"]]
    low, total = flagged.max(axis=1), df["measurement_count"]
    high = pd.concat([flagged.sum(axis=1), total], axis=1).min(axis=1)
    shown = total.astype("string").fillna("?")
    out = mark_rejects(df, (low > total).fillna(False), "constraint-error",
                       "a counter exceeds measurement_count = " + shown)
    determined = (low == high).fillna(False)
    return out.assign(ok_count=(total - low).where(determined).astype("Int64"))


def _ok_count_repair(accepted: pd.DataFrame) -> str:
    derived = int(accepted["ok_count"].notna().sum())
    return (f"ok_count absent (the 2021 API layout): derived as measurement_count minus the "
            f"anomaly, confirmed or failure count on {derived} row(s) where at most one of them "
            f"is non-zero (or one equals measurement_count); null on {len(accepted) - derived} "
            "row(s) whose counters may overlap")


def _bucket_grain(df: pd.DataFrame) -> str | None:
    """The file's grain from its buckets' form: hour if they carry a time of day, else day."""
    matches = [BUCKET_PATTERN.match(v) for v in df["measurement_start_day"] if isinstance(v, str)]
    hours = [m.group(2) for m in matches if m]
    if not hours:
        return None
    timed = [h for h in hours if h is not None]
    if timed and (len(timed) == len(hours) or any(h != "00" for h in timed)):
        return "hour"
    return "day"


def _parse_buckets(df: pd.DataFrame, grain: str | None) -> pd.DataFrame:
    """measurement_start_day, period_start_time and time_grain from the bucket text."""
    text = df["measurement_start_day"]
    starts, problems = [], []
    for value in text:
        start, problem = _bucket_start(value, grain)
        starts.append(start)
        problems.append(problem)
    start = pd.to_datetime(pd.Series(starts, index=df.index, dtype=object), utc=True)
    problem = pd.Series(problems, index=df.index, dtype=object)
    out = df.assign(period_start_time=start,
                    measurement_start_day=start.dt.tz_localize(None).dt.normalize(),
                    time_grain=pd.Series([grain if s is not None else None for s in starts],
                                         index=df.index, dtype=object))
    return mark_rejects(out, problem.notna(), "type-error",
                        "measurement_start_day " + problem.fillna("") + ": " + text.fillna(""))


def _bucket_start(value: str | None, grain: str | None) -> tuple[pd.Timestamp | None, str | None]:
    if value is None:
        return None, None
    match = BUCKET_PATTERN.match(value)
    if not match:
        return None, "is not a date YYYY-MM-DD or an hour YYYY-MM-DDTHH:00:00Z"
    day, hour, minute, second = match.groups()
    try:
        start = pd.Timestamp(day)
    except ValueError:
        return None, "is not a calendar date"
    if start.strftime("%Y-%m-%d") != day:
        return None, "is not a calendar date"
    if hour is None:
        return (start, None) if grain == "day" else (None, "is a date in an hour-grain file")
    if (minute, second) != ("00", "00") or int(hour) > 23:
        return None, "is not the start of an hour"
    if grain == "day" and hour != "00":
        return None, "has a time of day in a day-grain file"
    return start + pd.Timedelta(hours=int(hour)), None


def _parse_probe_ids(df: pd.DataFrame) -> pd.DataFrame:
    asn_text = df["probe_asn"].fillna("")
    match = asn_text.str.extract(r"^(?:AS)?([0-9]{1,10})$", expand=False)
    bad_asn = df["probe_asn"].notna() & match.isna()
    out = df.assign(probe_asn=pd.array([int(m) if isinstance(m, str) else None for m in match],
                                       dtype="Int64"))
    out = mark_rejects(out, bad_asn, "type-error", "probe_asn is not ASnnn or nnn: " + asn_text)
    cc = df["probe_cc"]
    bad_cc = cc.notna() & ~cc.fillna("").str.fullmatch(r"[A-Z]{2}")
    return mark_rejects(out, bad_cc, "constraint-error",
                        "probe_cc is not ISO alpha-2: " + cc.fillna(""))


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean one aggregation CSV: typed counts, checked (or derived) totals, typed axes."""
    dropped = [c for c in raw.header if c in KNOWN_AXES_NOT_KEPT]
    if dropped:
        logger.info("%s: axes not kept in %s: %s", raw.name, TABLE, ", ".join(dropped))
    has_ok = "ok_count" in raw.header
    rows = raw.rows.pipe(_add_missing_axes).pipe(start_marking).pipe(_strip_cells)
    counted = rows.pipe(_parse_counts, has_ok).pipe(
        _reject_inconsistent_totals if has_ok else _derive_ok_counts)
    marked = (
        counted.pipe(_parse_buckets, _bucket_grain(rows))
        .pipe(_parse_probe_ids)
        .pipe(reject_invalid, TABLE)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    if not has_ok:
        raw = dataclasses.replace(raw, repairs=[*raw.repairs, _ok_count_repair(accepted)])
    return finish(raw, TABLE, clean=accepted, rejects=[rejects])
