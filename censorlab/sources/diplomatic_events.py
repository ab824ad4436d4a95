"""Curated bilateral diplomatic events (`data/raw/diplomatic_events.csv`).

Published by the censorlab curators from foreign-ministry statements and news. Layout: UTF-8 CSV
with a header: `date`, `date_precision`, `country_a` (the blocking side), `country_b` (usually
the operator's home country), `kind` (dispute, summit, negotiation, state_visit, sanction,
agreement, call), `title`, `notes`, `related_block_event_ids` (`;`-separated raw block ids),
`source_url`, `confidence`, `compiled_by` (`dyad-sweep`: read from a systematic list of the
dyad's contacts, whatever blocks exist; `block-linked`: found by looking around a block),
`contact_level` (empty when the event is not contact at the in-scope levels) and `sweep_source`
(the list a sweep row was read from).

Quirks: rows have no id in the raw file; `event_id` is derived from the date, the dyad, the kind
and a hash of the title, so it is stable across rebuilds and row order. The same event entered
twice (same day, dyad, kind and title) is merged, keeping both sources.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    collect_urls,
    finish,
    mark_rejects,
    parse_dates,
    reject_invalid,
    require_cells,
    split_confidence,
    split_list,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context
from censorlab.schema import COMPILED_BY_VALUES, CONTACT_LEVELS, DIPLOMATIC_KINDS

PROVENANCE = Provenance(
    name="diplomatic_events",
    producer="censorlab curators",
    url="data/raw/diplomatic_events.csv",
    licence="CC BY 4.0 (compilation); facts from the cited pages",
    description="Dated bilateral events (summits, negotiations, agreements, disputes, "
    "sanctions) between blocking countries and operators' home countries.",
)
TABLE = "diplomatic_events"
RAW_FILES = ("diplomatic_events.csv",)
REQUIRED_COLUMNS = ("date", "date_precision", "country_a", "country_b", "kind", "title",
                    "notes", "related_block_event_ids", "source_url", "confidence",
                    "compiled_by", "contact_level", "sweep_source")
ID_HASH_CHARS = 8


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse diplomatic_events.csv into string rows (no cleaning)."""
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _resolve_countries(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    out = df
    for column in ("country_a", "country_b"):
        codes = out[column].map(context.countries.resolve)
        unknown = codes.isna() & out[column].notna()
        out = mark_rejects(out.assign(**{column: codes}), unknown, "unknown-country",
                           f"{column} not a known country: " + df[column].fillna(""))
    return out


def _reject_bad_vocabulary(df: pd.DataFrame) -> pd.DataFrame:
    out = df
    for column, allowed in (("kind", DIPLOMATIC_KINDS), ("compiled_by", COMPILED_BY_VALUES),
                            ("contact_level", CONTACT_LEVELS)):
        bad = out[column].notna() & ~out[column].isin(allowed)
        out = mark_rejects(out, bad, "constraint-error", f"{column} not in "
                           + ", ".join(allowed) + ": " + out[column].fillna(""))
    return out


def _derive_ids(df: pd.DataFrame) -> pd.DataFrame:
    def event_id(row: pd.Series) -> str | None:
        if pd.isna(row["date"]) or not isinstance(row["title"], str):
            return None
        digest = hashlib.sha256(row["title"].encode()).hexdigest()[:ID_HASH_CHARS]
        return (f"DIP-{row['date']:%Y-%m-%d}-{row['country_a']}-{row['country_b']}-"
                f"{row['kind']}-{digest}")

    ids = df.apply(event_id, axis=1) if len(df) else pd.Series(dtype=object)
    return df.assign(event_id=ids)


def _shape_output(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(
        related_block_event_ids=df["related_block_event_ids"].map(split_list),
    )


def _merge_duplicates(df: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for _, group in df.groupby("event_id", sort=False):
        # the representative is chosen by content, so row order cannot change the output
        group = group.sort_values(["raw_text", "source_line"])
        first = group.iloc[0].to_dict()
        first["source_urls"] = list(dict.fromkeys(u for us in group["source_urls"] for u in us))
        first["related_block_event_ids"] = list(dict.fromkeys(
            i for ids in group["related_block_event_ids"] for i in ids))
        if group["compiled_by"].eq("dyad-sweep").any():  # a sweep found it, whoever else did
            first["compiled_by"] = "dyad-sweep"
            first["sweep_source"] = group["sweep_source"].dropna().min()
        rows.append(first)
    return pd.DataFrame(rows, columns=df.columns)


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean the diplomatic-event table."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(REQUIRED_COLUMNS))
        .pipe(require_cells, ["date", "country_a", "country_b", "kind", "title",
                              "compiled_by"])
        .pipe(_reject_bad_vocabulary)
        .pipe(_resolve_countries, context)
        .pipe(parse_dates, "date", "date_precision", "")
        .pipe(split_confidence)
        .pipe(collect_urls, ["source_url"])
        .pipe(_derive_ids)
        .pipe(_shape_output)
        .pipe(reject_invalid, TABLE)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    return finish(raw, TABLE, clean=accepted, rejects=[rejects], out=_merge_duplicates(accepted))
