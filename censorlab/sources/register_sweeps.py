"""Which systematic sources the register's curators read, per country (`data/raw/sweeps.csv`).

Published by the censorlab curators beside `block_events.csv`. Layout: UTF-8 CSV with a header;
one row per (blocking country, source read): `blocking_country` (alpha-2), `source_name`
(e.g. `Wikipedia: Internet censorship in Pakistan`, `NetBlocks reports`), `source_url`,
`period_covered` (the years, or the part of a page that could be read), `swept_on`
(`YYYY-MM-DD`), `notes`.

Why it exists: coverage of a register is only as good as the sweep behind it; a country with
few rows and many sources read differs from one that was never swept. Nothing here is a block.
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
    reject_invalid,
    require_cells,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context

PROVENANCE = Provenance(
    name="register_sweeps",
    producer="censorlab curators",
    url="data/raw/sweeps.csv",
    licence="CC BY 4.0 (compilation)",
    description="The systematic sources read for each blocking country when the block "
    "register was swept (encyclopedic pages, Access Now, NetBlocks, OONI, Freedom House).",
)
TABLE = "register_sweeps"
RAW_FILES = ("sweeps.csv",)
REQUIRED_COLUMNS = ("blocking_country", "source_name", "source_url", "period_covered",
                    "swept_on", "notes")


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse sweeps.csv into string rows (no cleaning)."""
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _resolve_country(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    codes = df["blocking_country"].map(context.countries.resolve)
    return mark_rejects(df.assign(blocking_country=codes),
                        codes.isna() & df["blocking_country"].notna(), "unknown-country",
                        "blocking_country not a known country: "
                        + df["blocking_country"].fillna(""))


def _shape_output(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(swept_date=df["swept_on"])


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean the sweep record."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(REQUIRED_COLUMNS))
        .pipe(require_cells, ["blocking_country", "source_name", "swept_on"])
        .pipe(_resolve_country, context)
        .assign(_day="day")
        .pipe(parse_dates, "swept_on", "_day", "swept_")
        .pipe(collect_urls, ["source_url"])
        .pipe(_shape_output)
        .pipe(reject_invalid, TABLE)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    return finish(raw, TABLE, clean=accepted, rejects=[rejects], out=accepted)
