"""Access Now #KeepItOn STOP dataset: internet shutdowns and platform blocks, as a CSV export.

Published by Access Now (Shutdown Tracker Optimization Project, STOP) as a Google Sheet; a
researcher downloads it as CSV (UTF-8, comma, one header row, one row per shutdown as
reported). Recent exports have the 36-column header in docs FORMATS.md s. 3; older yearly
sheets use other names for some columns (`official_just` for `gov_justification`, `news_link`
for `info_source_link`) and split the duration into `duration_days`/`duration_hours`. Columns
are found by name, old names are renamed, absent optional columns are empty.

Quirks handled here (value conventions are **partly unverified**: no real STOP file was read):
* dates are US `%m/%d/%Y`, parsed with that explicit format only; `2023-03-04`, `13/01/2023`
  or a two-digit year is rejected (`type-error`), never guessed.
* "ongoing" comes from `shutdown_status` (`Ongoing`/`Ended`, kept as `is_ongoing`), not from a
  blank end: an ended row may simply not record its end. `Ongoing` with an end date is
  contradictory and rejected (`constraint-error`); an end before the start is `end-before-start`.
* one row can name several countries (`;` or `,` separated, after first trying the whole cell
  so a name containing a comma still resolves); it becomes one row per country (`rows_split`).
  Names (UN long names such as `Iran (Islamic Republic of)`) resolve through CountryResolver;
  an unknown one rejects the whole row (`unknown-country`).
* `*_affected` flags are `Yes`/`No` in recent exports and `TRUE`/`FALSE` in older ones; empty
  is unknown; anything else rejects the row (`constraint-error`).
* service-based blocks (`shutdown_extent` containing `Service-based`) become one row per
  affected platform: each flagged platform column, plus every name in `other_affected` that the
  ServiceCatalog knows (unknown names stay visible in the raw text only). A service-based row
  with no platform keeps one row per country with a null service_id. Platform flags of a
  whole-network shutdown are not split out: everything was down.
* `duration` is kept as text (`Curfew Style` stays); `reported_duration_hours` is filled only
  when the unit is stated (`12 hours`, `3 days`, or the old `duration_days`/`duration_hours`
  columns); a bare number in `duration` has no stated unit and stays null.
* rows without any http(s) link in `info_source_link`/`an_link` are rejected (`missing-cell`).
* the same row in two exports (identical content) is kept once and counted as a duplicate.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    finish,
    mark_rejects,
    require_cells,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context
from censorlab.schema import TABLES

PROVENANCE = Provenance(
    name="stop",
    producer="Access Now (#KeepItOn coalition, Shutdown Tracker Optimization Project)",
    url="https://www.accessnow.org/keepiton-data-spreadsheet",
    licence="As stated by Access Now on the spreadsheet (attribution requested); check before "
    "redistribution",
    description="Government internet shutdowns and platform blocks since 2016: country, "
    "dates, scope, affected platforms, justification and sources.",
)
TABLE = "stop_events"
FILE_SUFFIXES = (".csv",)
REQUIRED_COLUMNS = ("start_date", "country")
RENAMED_COLUMNS = {"official_just": "gov_justification", "news_link": "info_source_link"}
PLATFORM_FLAGS = {
    "facebook_affected": "facebook",
    "twitter_affected": "twitter",
    "whatsapp_affected": "whatsapp",
    "instagram_affected": "instagram",
    "telegram_affected": "telegram",
}
USED_COLUMNS = (
    "start_date", "end_date", "country", "geo_scope", "area_name", "shutdown_type",
    "shutdown_extent", "ordered_by", "info_source_link", "an_link", "shutdown_status",
    "duration", "duration_days", "duration_hours", "gov_justification", "other_affected",
    *PLATFORM_FLAGS,
)
FLAG_VALUES = {"yes": True, "true": True, "no": False, "false": False}
STATUS_VALUES = {"ongoing": True, "ended": False}
US_DATE = r"^\d{1,2}/\d{1,2}/\d{4}$"
DURATION_PATTERN = re.compile(r"^(\d+(?:\.\d+)?)\s*(hours?|hrs?|days?)$", re.IGNORECASE)
NUMBER_PATTERN = re.compile(r"^\d+(?:\.\d+)?$")
URL_FINDER = re.compile(r"https?://[^\s;]+")
DEDUP_EXCLUDED = ("event_id", "source_file", "source_line")
#: The same row in two exports (identical content) is kept once and counted as merged.
DEDUP_KEY = tuple(c for c in TABLES[TABLE].columns if c not in DEDUP_EXCLUDED)


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse a STOP CSV export into string rows (no cleaning)."""
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _align_columns(df: pd.DataFrame) -> pd.DataFrame:
    """Rename old-sheet column names and add absent optional columns as empty."""
    renames = {old: new for old, new in RENAMED_COLUMNS.items()
               if old in df.columns and new not in df.columns}
    out = df.rename(columns=renames)
    missing = {c: None for c in USED_COLUMNS if c not in out.columns}
    return out.assign(**missing)


def _parse_us_dates(df: pd.DataFrame) -> pd.DataFrame:
    out = df
    for column in ("start_date", "end_date"):
        text = df[column].fillna("")
        parsed = pd.to_datetime(text.where(text.str.match(US_DATE)), format="%m/%d/%Y",
                                errors="coerce")
        out = out.assign(**{column: parsed})
        out = mark_rejects(out, df[column].notna() & parsed.isna(), "type-error",
                           f"{column} is not a real MM/DD/YYYY date: " + text)
    return out


def _read_status(df: pd.DataFrame) -> pd.DataFrame:
    status = df["shutdown_status"].map(lambda v: None if v is None else v.casefold())
    out = df.assign(is_ongoing=status.map(STATUS_VALUES).astype("boolean"))
    out = mark_rejects(out, status.notna() & ~status.isin(STATUS_VALUES), "constraint-error",
                       "shutdown_status must be Ongoing or Ended: "
                       + df["shutdown_status"].fillna(""))
    contradiction = out["is_ongoing"].fillna(False).astype(bool) & out["end_date"].notna()
    return mark_rejects(out, contradiction, "constraint-error",
                        "shutdown_status is Ongoing but an end_date is given")


def _reject_end_before_start(df: pd.DataFrame) -> pd.DataFrame:
    backwards = df["end_date"].notna() & (df["end_date"] < df["start_date"])
    return mark_rejects(df, backwards, "end-before-start",
                        "end " + df["end_date"].astype(str) + " is before start "
                        + df["start_date"].astype(str))


def _parse_flags(df: pd.DataFrame) -> pd.DataFrame:
    out = df
    for column in PLATFORM_FLAGS:
        folded = df[column].map(lambda v: None if v is None else v.casefold())
        out = out.assign(**{f"_{column}": folded.map(FLAG_VALUES)})
        out = mark_rejects(out, folded.notna() & ~folded.isin(FLAG_VALUES), "constraint-error",
                           f"{column} must be Yes/No or TRUE/FALSE: " + df[column].fillna(""))
    return out


def _duration_hours(row: dict) -> float | None:
    for column, factor in (("duration_hours", 1.0), ("duration_days", 24.0)):
        value = row[column]
        if value is not None and NUMBER_PATTERN.match(value):
            return float(value) * factor
    match = DURATION_PATTERN.match(row["duration"] or "")
    if not match:
        return None
    return float(match.group(1)) * (24.0 if match.group(2).lower().startswith("d") else 1.0)


def _duration_text(row: dict) -> str | None:
    if row["duration"] is not None:
        return row["duration"]
    if row["duration_days"] is not None:
        return f"{row['duration_days']} days"
    if row["duration_hours"] is not None:
        return f"{row['duration_hours']} hours"
    return None


def _parse_durations(df: pd.DataFrame) -> pd.DataFrame:
    records = df[["duration", "duration_days", "duration_hours"]].to_dict("records")
    return df.assign(
        reported_duration_text=pd.Series([_duration_text(r) for r in records], index=df.index,
                                         dtype=object),
        reported_duration_hours=pd.Series([_duration_hours(r) for r in records], index=df.index,
                                          dtype="float64"),
    )


def _country_list(value: str | None, context: Context) -> list[str | None]:
    if value is None:
        return []
    whole = context.countries.resolve(value)
    if whole:
        return [whole]
    parts = [p.strip() for p in re.split(r"[;,]", value) if p.strip()]
    return list(dict.fromkeys(context.countries.resolve(p) for p in parts))


def _resolve_countries(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    codes = df["country"].map(lambda v: _country_list(v, context))
    unknown = codes.map(lambda items: not items or any(c is None for c in items))
    out = df.assign(_countries=codes)
    return mark_rejects(out, unknown & df["country"].notna(), "unknown-country",
                        "country names an unknown country: " + df["country"].fillna(""))


def _collect_links(df: pd.DataFrame) -> pd.DataFrame:
    def links(row: pd.Series) -> list[str]:
        found = URL_FINDER.findall(" ".join(v for v in row if isinstance(v, str)))
        return list(dict.fromkeys(u.rstrip(",.") for u in found))

    urls = df[["info_source_link", "an_link"]].apply(links, axis=1) if len(df) else []
    out = df.assign(source_urls=urls)
    return mark_rejects(out, out["source_urls"].map(len) == 0, "missing-cell",
                        "no http(s) link in info_source_link/an_link")


def _collect_platforms(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    """List (raw name, service_id) for service-based rows: flags first, then other_affected."""
    service_based = df["shutdown_extent"].fillna("").str.contains("service-based", case=False)

    def platforms(row: dict) -> list[tuple[str, str]]:
        found = [(column, context.services.resolve(name))
                 for column, name in PLATFORM_FLAGS.items() if row[f"_{column}"] is True]
        for name in re.split(r"[;,/]| and ", row["other_affected"] or ""):
            service = context.services.resolve(name.strip())
            if service:
                found.append((name.strip(), service))
        return list({service: (raw, service) for raw, service in found if service}.values())

    records = df.to_dict("records")
    lists = [platforms(r) if based else [] for r, based in zip(records, service_based,
                                                                strict=True)]
    return df.assign(is_service_based=service_based,
                     _platforms=pd.Series(lists, index=df.index, dtype=object))


def _explode_countries_and_platforms(df: pd.DataFrame, source_file: str) -> pd.DataFrame:
    stem = Path(source_file).stem
    rows = []
    for row in df.to_dict("records"):
        platforms = row["_platforms"] or [(None, None)]
        for country in row["_countries"]:
            for raw_name, service in platforms:
                suffix = f"-{service}" if service else ""
                rows.append({**row, "blocking_country": country, "service_id": service,
                             "affected_service_raw": raw_name,
                             "event_id": f"STOP-{stem}-{row['source_line']}-{country}{suffix}"})
    out = pd.DataFrame(rows, columns=[*df.columns, "blocking_country", "service_id",
                                      "affected_service_raw", "event_id"])
    return out.assign(authority=out["ordered_by"], legal_basis=out["gov_justification"])


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean one STOP export: dates, status, flags, countries, platforms, one row each."""
    rows = raw.rows.pipe(_align_columns)
    marked = (
        rows.pipe(start_marking)
        .pipe(strip_cells, list(USED_COLUMNS))
        .pipe(require_cells, list(REQUIRED_COLUMNS))
        .pipe(_parse_us_dates)
        .pipe(_read_status)
        .pipe(_reject_end_before_start)
        .pipe(_parse_flags)
        .pipe(_parse_durations)
        .pipe(_resolve_countries, context)
        .pipe(_collect_links)
        .pipe(_collect_platforms, context)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    return finish(raw, TABLE, clean=accepted, rejects=[rejects],
                  split=_explode_countries_and_platforms(accepted, raw.name))
