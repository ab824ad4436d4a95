"""The service reference table (`data/raw/services.csv`), curated by censorlab.

Layout: UTF-8 CSV with a header; one row per service: `service_id` (lower-case slug),
`service_name`, `aliases` (`;`-separated spellings used in the other tables and in the wild,
including native scripts such as 微信), `operator_name`, `operator_country` (alpha-2 of the
operator's home country as generally reported today), `kind`, `domains` (`;`-separated),
`source_url`, `notes`.

Quirks: the operator's home country changes over time (Telegram moved from Russia to the UAE);
block events carry the country as of the block, this table only today's.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    collect_urls,
    finish,
    mark_rejects,
    pending,
    reject_invalid,
    require_cells,
    split_list,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context

PROVENANCE = Provenance(
    name="services",
    producer="censorlab curators",
    url="data/raw/services.csv",
    licence="CC BY 4.0 (compilation); facts from the cited pages",
    description="Reference table of online services: canonical id, aliases, operator, "
    "operator's home country and domains.",
)
TABLE = "services"
RAW_FILES = ("services.csv",)
REQUIRED_COLUMNS = ("service_id", "service_name", "aliases", "operator_name",
                    "operator_country", "kind", "domains", "source_url")
TEXT_COLUMNS = [*REQUIRED_COLUMNS, "notes"]


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse services.csv into string rows (no cleaning).

    The context is not needed to read (the run's context is built from this very file).
    """
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _ensure_optional_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df if "notes" in df.columns else df.assign(notes=None)


def _resolve_operator_country(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    codes = df["operator_country"].map(context.countries.resolve)
    unknown = df["operator_country"].notna() & codes.isna()
    out = df.assign(operator_country=codes)
    return mark_rejects(out, unknown, "unknown-country",
                        "operator_country not a known country: " + df["operator_country"]
                        .fillna(""))


def _shape_columns(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(
        service_kind=df["kind"],
        aliases=df["aliases"].map(split_list),
        domains=df["domains"].map(lambda v: [d.lower() for d in split_list(v)]),
    )


def _reject_duplicate_ids(df: pd.DataFrame) -> pd.DataFrame:
    # the row that keeps the id is chosen by content, so row order cannot change the output
    candidates = df[pending(df) & df["service_id"].notna()].sort_values(
        ["raw_text", "source_line"])
    losers = candidates.index[candidates["service_id"].duplicated(keep="first")]
    duplicated = df.index.isin(losers)
    return mark_rejects(df, pd.Series(duplicated, index=df.index), "primary-key",
                        "service_id already defined earlier: " + df["service_id"].fillna(""))


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean the service reference table."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, [c for c in TEXT_COLUMNS if c in raw.rows.columns])
        .pipe(_ensure_optional_columns)
        .pipe(require_cells, ["service_id", "service_name", "kind"])
        .pipe(_resolve_operator_country, context)
        .pipe(collect_urls, ["source_url"])
        .pipe(_shape_columns)
        .pipe(_reject_duplicate_ids)
        .pipe(reject_invalid, TABLE)
    )
    table, rejects = split_rejects(marked, TABLE)
    return finish(raw, TABLE, clean=table, rejects=[rejects])
