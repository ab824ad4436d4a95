"""Curated register of government blocks of apps (`data/raw/block_events.csv`).

Published by the censorlab curators, compiled from news reports, regulators' statements and
court records, each row citing its pages. Layout: UTF-8 CSV with a header; one row per block as
reported: `event_id` (`CC-YYYY-NAME`), `service` (one name, or several separated by `;` when one
order hit several services), `operator`, `operator_country` (alpha-2, `;`-separated for
multi-service rows), `blocking_country`, `authority`, `start_date`/`start_precision`,
`end_date`/`end_precision` (empty end = ongoing as of the source), `scope`, `implemented`,
`legal_basis`, `notes`, `source_url`, `source_url_2`, `source_url_3`, `confidence`, and the
curators' reading of the end: `decision_id` (rows cut by one order share it), `end_status`
(`ended`, `in_force`, `unknown`), `end_mechanism` (how an ended block ended),
`last_confirmed_date`/`last_confirmed_precision` (the latest day a source confirms the block in
force) and `status_source_url` (the page behind the end or the last confirmation).

Quirks handled here:
* a row naming several services becomes one event per service (`event_id` gains `:service_id`);
* dates come at day, approximate-day, month or year precision and keep it, with bounds;
* the end status is data, checked against the dates: an ended block needs its end date and
  mechanism, an in-force or unknown one a last confirmation on or after its start and no end,
  an order that never took effect no status; any other combination is a `constraint-error`;
* the same block recorded twice (two rows, two sources) or two overlapping periods of one
  service in one country at the same scope are merged into one event that keeps every source
  URL, every raw id (`merged_from`) and every line; periods at different scopes (throttling
  then a full block) stay separate because they are different facts.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    collect_urls,
    finish,
    mark_rejects,
    parse_dates,
    pending,
    reject_invalid,
    require_cells,
    split_confidence,
    split_list,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.core.rejects import concat_rejects
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context
from censorlab.schema import END_MECHANISMS, END_STATUSES, SCOPES

PROVENANCE = Provenance(
    name="block_events",
    producer="censorlab curators",
    url="data/raw/block_events.csv",
    licence="CC BY 4.0 (compilation); facts from the cited pages",
    description="Government blocks of apps and online services, 2009-2025, with authority, "
    "legal basis, scope, dates at their precision and source URLs.",
)
TABLE = "block_events"
RAW_FILES = ("block_events.csv",)
REQUIRED_COLUMNS = (
    "event_id", "service", "operator", "operator_country", "blocking_country", "authority",
    "start_date", "start_precision", "end_date", "end_precision", "scope", "implemented",
    "legal_basis", "notes", "source_url", "source_url_2", "confidence", "decision_id",
    "end_status", "end_mechanism", "last_confirmed_date", "last_confirmed_precision",
    "status_source_url",
)
URL_COLUMNS = ["source_url", "source_url_2", "source_url_3", "status_source_url"]
IMPLEMENTED_VALUES = {"yes": True, "no": False}
MERGE_KEY = ["service_id", "blocking_country", "scope"]


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse block_events.csv into string rows (no cleaning)."""
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _text_columns(df: pd.DataFrame) -> list[str]:
    return [c for c in df.columns if c not in ("source_line", "raw_text", "source_file")
            and not c.startswith("_")]


def _reject_bad_vocabulary(df: pd.DataFrame) -> pd.DataFrame:
    bad_scope = df["scope"].notna() & ~df["scope"].isin(SCOPES)
    out = mark_rejects(df, bad_scope, "constraint-error",
                       "scope not in " + ", ".join(SCOPES) + ": " + df["scope"].fillna(""))
    implemented = out["implemented"].map(lambda v: None if v is None else v.lower())
    bad_implemented = implemented.notna() & ~implemented.isin(IMPLEMENTED_VALUES)
    out = mark_rejects(out, bad_implemented, "constraint-error",
                       "implemented must be yes, no or empty: " + out["implemented"].fillna(""))
    return out.assign(is_implemented=implemented.map(IMPLEMENTED_VALUES).astype("boolean"))


def _reject_bad_end_status(df: pd.DataFrame) -> pd.DataFrame:
    """Check the curators' end status against its vocabulary and the row's own dates.

    Runs after the dates are parsed, so it compares days, not strings. Each failing rule names
    itself in the detail, because a curator fixes one cell at a time.
    """
    status, mechanism = df["end_status"], df["end_mechanism"]
    out = mark_rejects(df, status.notna() & ~status.isin(END_STATUSES), "constraint-error",
                       "end_status not in " + ", ".join(END_STATUSES) + ": "
                       + status.fillna(""))
    out = mark_rejects(out, mechanism.notna() & ~mechanism.isin(END_MECHANISMS),
                       "constraint-error", "end_mechanism not in " + ", ".join(END_MECHANISMS)
                       + ": " + mechanism.fillna(""))
    never = out["is_implemented"].eq(False).fillna(False).astype(bool)
    ended = status.eq("ended").fillna(False).astype(bool)
    open_ = status.isin(["in_force", "unknown"]).fillna(False).astype(bool)
    rules = [
        (~never & status.isna(), "end_status is empty: an implemented (or possibly "
         "implemented) block is ended, in_force or unknown"),
        (never & status.notna(), "end_status must be empty for an order that never took effect"),
        (ended & out["end_date"].isna(), "end_status ended needs an end_date"),
        (ended & mechanism.isna(), "end_status ended needs an end_mechanism"),
        (open_ & out["end_date"].notna(), "end_status " + status.fillna("") + " but an "
         "end_date is given"),
        (~ended & mechanism.notna(), "end_mechanism is only for ended blocks"),
        (open_ & out["last_confirmed_date"].isna(), "end_status " + status.fillna("")
         + " needs a last_confirmed_date (the latest day a source confirms the block)"),
        (open_ & (out["last_confirmed_latest_date"] < out["start_earliest_date"]),
         "last_confirmed_date " + out["last_confirmed_date"].astype(str)
         + " is before the start " + out["start_date"].astype(str)),
    ]
    for failed, detail in rules:
        out = mark_rejects(out, failed.fillna(False).astype(bool), "constraint-error", detail)
    return out.pipe(_raise_confirmation_to_start).drop(
        columns=["last_confirmed_earliest_date", "last_confirmed_latest_date"])


def _raise_confirmation_to_start(df: pd.DataFrame) -> pd.DataFrame:
    """A coarse last confirmation can begin before the start (start 05-12, confirmed `2013-05`).

    The source confirms the block in force at some day of that period, and the block existed
    only from its start, so the confirmation is raised to the start: a deterministic repair
    that only narrows what the source allows (as `_clamp_end_to_start` does for ends).
    """
    early = df["last_confirmed_date"].notna() & (df["last_confirmed_date"] < df["start_date"])
    return df.assign(last_confirmed_date=df["last_confirmed_date"].where(~early,
                                                                         df["start_date"]))


def _resolve_blocking_country(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    codes = df["blocking_country"].map(context.countries.resolve)
    out = df.assign(blocking_country=codes, _blocking_raw=df["blocking_country"])
    return mark_rejects(out, codes.isna() & df["blocking_country"].notna(), "unknown-country",
                        "blocking_country not a known country: "
                        + df["blocking_country"].fillna(""))


def _reject_end_before_start(df: pd.DataFrame) -> pd.DataFrame:
    backwards = df["end_earliest_date"].notna() & (df["end_latest_date"]
                                                   < df["start_earliest_date"])
    detail = ("end " + df["end_date"].astype(str) + " is before start "
              + df["start_date"].astype(str))
    return mark_rejects(df, backwards, "end-before-start", detail)


def _clamp_end_to_start(df: pd.DataFrame) -> pd.DataFrame:
    """A coarse end period can begin before the start (`2018-03-07` to `2018-03`).

    The block cannot end before it began, so the end's point and bounds are raised to the
    start's: a deterministic repair that only narrows the interval the source allows.
    """
    has_end = df["end_date"].notna()
    return df.assign(
        end_date=df["end_date"].where(~has_end | (df["end_date"] >= df["start_date"]),
                                      df["start_date"]),
        end_earliest_date=df["end_earliest_date"].where(
            ~has_end | (df["end_earliest_date"] >= df["start_earliest_date"]),
            df["start_earliest_date"]),
        end_latest_date=df["end_latest_date"].where(
            ~has_end | (df["end_latest_date"] >= df["start_latest_date"]),
            df["start_latest_date"]),
    )


def _resolve_services(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    names = df["service"].map(split_list)
    ids = names.map(lambda items: [context.services.resolve(n) for n in items])
    df = df.assign(_service_names=names)
    unknown = ids.map(lambda items: any(i is None for i in items))
    detail = pd.Series(
        [f"unknown service name(s): {[n for n, i in zip(ns, is_, strict=True) if i is None]}"
         for ns, is_ in zip(names, ids, strict=True)], index=df.index)
    out = df.assign(_service_ids=ids)
    return mark_rejects(out, unknown, "unknown-service", detail)


def _reject_duplicate_raw_ids(df: pd.DataFrame) -> pd.DataFrame:
    """A raw id used twice for different blocks is an error; the same block twice merges."""
    identity = df["event_id"].fillna("") + "|" + df["blocking_country"].fillna("") + "|" + \
        df["service"].fillna("")
    first_identity = identity.groupby(df["event_id"]).transform("min")  # by content, not order
    clash = pending(df) & df["event_id"].duplicated(keep=False) & (identity != first_identity)
    return mark_rejects(df, clash, "primary-key",
                        "event_id reused for a different block: " + df["event_id"].fillna(""))


def _resolve_operator_countries(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    codes = df["operator_country"].map(
        lambda v: [context.countries.resolve(c) for c in split_list(v)])
    unknown = codes.map(lambda items: any(c is None for c in items))
    out = df.assign(_operator_codes=codes)
    return mark_rejects(out, unknown, "unknown-country",
                        "operator_country has an unknown code: " + df["operator_country"]
                        .fillna(""))


def _explode_services(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    """One row per service; the operator comes from the row when it names one country."""
    rows = []
    for row in df.to_dict("records"):
        service_ids = row["_service_ids"]
        multi = len(service_ids) > 1
        for service_id, name_as_reported in zip(service_ids, row["_service_names"],
                                                strict=True):
            info = context.services.info(service_id)
            own_country = row["_operator_codes"][0] if len(row["_operator_codes"]) == 1 else None
            rows.append({
                **row,
                "event_id": f"{row['event_id']}:{service_id}" if multi else row["event_id"],
                "raw_event_id": row["event_id"],
                "service_id": service_id,
                "service_name": info["service_name"],
                "service_as_reported": name_as_reported,
                "service_kind": info["service_kind"],
                "operator_name": (row["operator"] if not multi and row["operator"]
                                  else info["operator_name"]),
                "operator_country": own_country if own_country and not multi
                else info["operator_country"],
            })
    return pd.DataFrame(rows, columns=[*df.columns, "raw_event_id", "service_id", "service_name",
                                       "service_as_reported", "service_kind", "operator_name"])


def _shape_output(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(
        merged_from=df["raw_event_id"].map(lambda v: [v]),
        source_lines=df["source_line"].map(lambda v: [int(v)]),
    )


def _interval_groups(group: pd.DataFrame) -> pd.Series:
    """Label rows of one service, country and scope that describe the same block.

    Two rows are one block when their periods overlap. A row without a reported end reaches
    only as far as its own start bounds: an empty end is "no end recorded", and treating it as
    running to today would swallow every later block of the same service (an election-week
    block in 2016 would absorb another in 2021). So an open row merges only with rows that
    start within its start bounds - the same block reported twice - or before its last
    confirmed day in force, since until then it is known to be the same block still running.
    """
    confirmed = group["last_confirmed_date"].where(
        group["last_confirmed_date"] > group["start_latest_date"], group["start_latest_date"])
    ends = group["end_latest_date"].fillna(confirmed)
    order = group.assign(_end=ends).sort_values(["start_earliest_date", "_end", "event_id",
                                                 "raw_text"])
    labels, current, reach = {}, -1, None
    for index, row in order.iterrows():
        if reach is None or row["start_earliest_date"] > reach:
            current += 1
            reach = row["_end"]
        else:
            reach = max(reach, row["_end"])
        labels[index] = current
    return pd.Series(labels).reindex(group.index)


def _combine_rows(group: pd.DataFrame) -> dict:
    """Merge rows describing one block: earliest start, latest (or open) end, all sources."""
    # Order by content, never by line number, so shuffled input gives the same merged row.
    group = group.sort_values(["start_earliest_date", "event_id", "raw_text"])
    first = group.iloc[0].to_dict()
    if len(group) == 1:
        return first
    open_rows = group[group["end_earliest_date"].isna()]
    last_end = group.sort_values(["end_latest_date", "event_id", "raw_text"]).iloc[-1]
    merged = dict(first)
    for column in ("end_date", "end_precision", "end_earliest_date", "end_latest_date"):
        merged[column] = None if len(open_rows) else last_end[column]
    confirming = open_rows if len(open_rows) else group
    latest = confirming.sort_values(["last_confirmed_date", "event_id", "raw_text"],
                                    na_position="first").iloc[-1]
    merged["last_confirmed_date"] = latest["last_confirmed_date"]
    merged["last_confirmed_precision"] = latest["last_confirmed_precision"]
    if len(open_rows):  # still open: censored at the latest confirmation of any open row
        merged["end_status"] = "in_force" if open_rows["end_status"].eq("in_force").any() \
            else latest["end_status"]
        merged["end_mechanism"] = None
        merged["status_source_url"] = latest["status_source_url"]
    else:
        for column in ("end_status", "end_mechanism", "status_source_url"):
            merged[column] = last_end[column]
    merged["source_urls"] = list(dict.fromkeys(u for urls in group["source_urls"] for u in urls))
    merged["merged_from"] = list(dict.fromkeys(i for ids in group["merged_from"] for i in ids))
    merged["source_lines"] = sorted({n for lines in group["source_lines"] for n in lines})
    merged["confidence"] = min(group["confidence"], key=["low", "medium", "high"].index)
    notes = (n for n in group["notes"] if isinstance(n, str) and n)  # empty cells may be NaN
    merged["notes"] = " | ".join(dict.fromkeys(notes)) or None
    return merged


def _merge_same_blocks(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    periods = pd.concat([_interval_groups(group) for _, group in df.groupby(MERGE_KEY)])
    labelled = df.assign(_period=periods.reindex(df.index))
    merged = [
        _combine_rows(group)
        for _, group in labelled.groupby([*MERGE_KEY, "_period"], sort=True)
    ]
    return pd.DataFrame(merged).drop(columns=["_period"])


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean the block register: validate, resolve, split per service, merge duplicates."""
    rows = raw.rows if "source_url_3" in raw.rows.columns else raw.rows.assign(source_url_3="")
    marked = (
        rows.pipe(start_marking)
        .pipe(strip_cells, _text_columns(rows))
        .pipe(require_cells, ["event_id", "service", "blocking_country", "start_date",
                              "scope", "decision_id"])
        .pipe(_reject_bad_vocabulary)
        .pipe(_resolve_blocking_country, context)
        .pipe(parse_dates, "start_date", "start_precision", "start_")
        .pipe(parse_dates, "end_date", "end_precision", "end_", required=False)
        .pipe(_reject_end_before_start)
        .pipe(_clamp_end_to_start)
        .pipe(parse_dates, "last_confirmed_date", "last_confirmed_precision",
              "last_confirmed_", required=False)
        .pipe(_reject_bad_end_status)
        .pipe(split_confidence)
        .pipe(collect_urls, URL_COLUMNS)
        .pipe(_resolve_services, context)
        .pipe(_resolve_operator_countries, context)
        .pipe(_reject_duplicate_raw_ids)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    exploded = (
        accepted.pipe(_explode_services, context)
        .pipe(_shape_output)
        .pipe(start_marking)
        .pipe(reject_invalid, TABLE)
    )
    exploded, late_rejects = _reject_whole_lines(exploded)
    exploded, table, key_rejects = _merge_rejecting_key_clashes(exploded)
    return finish(raw, TABLE, clean=exploded, rejects=[rejects, late_rejects, key_rejects],
                  out=table)


def _merge_rejecting_key_clashes(
    exploded: pd.DataFrame,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Merge, then reject raw rows whose event_id ends up on two different blocks.

    A raw id reused for the same service and country at another scope or in a later period
    survives merging twice. The first block by content (start, end, scope, raw text) keeps the
    id; every raw line of the others is rejected as `primary-key`, and merging is redone
    without them. Each round removes lines, so the loop ends.
    """
    clash_rejects = []
    while True:
        table = _merge_same_blocks(exploded)
        if table.empty or not table["event_id"].duplicated().any():
            return exploded, table, concat_rejects(clash_rejects)
        ranked = table.assign(_end=table["end_latest_date"].fillna(pd.Timestamp.max)).sort_values(
            ["event_id", "start_earliest_date", "_end", "scope", "raw_text"])
        losers = ranked[ranked["event_id"].duplicated(keep="first")]
        lines = {n for lines in losers["source_lines"] for n in lines}
        marked = mark_rejects(start_marking(exploded), exploded["source_line"].isin(lines),
                              "primary-key", "event_id " + exploded["event_id"].astype(str)
                              + " already names another block of this service and country",
                              stage="merge")
        exploded, rejected = split_rejects(marked, TABLE)
        clash_rejects.append(rejected.drop_duplicates(["source_file", "source_line"]))


def _reject_whole_lines(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """When one service of a multi-service row fails validation, reject the whole raw row.

    Keeping the other services would silently drop part of what the row says.
    """
    bad_lines = set(df.loc[~pending(df), "source_line"])
    sibling = df["source_line"].isin(bad_lines) & pending(df)
    df = mark_rejects(df, sibling, "schema-error", "another service of the same raw row failed "
                      "validation", stage="validate")
    kept, rejects = split_rejects(df, TABLE)
    first_per_line = rejects.drop_duplicates(["source_file", "source_line"])
    return kept, first_per_line
