"""What the diplomatic calendar's dyad sweep read (`data/raw/diplomatic_coverage.csv`).

Published by the censorlab curators beside `diplomatic_events.csv`. Layout: UTF-8 CSV with a
header; one row per swept dyad and year: `country_a`, `country_b` (alpha-2, the blocking side
first as in the calendar), `year`, `complete_levels` (`;`-separated contact levels for which
every entry of a systematic list for that dyad-year was read), `incomplete_levels` (in-scope
levels looked for but not claimed complete), `sources` (`;`-separated URLs read), `notes`.

Why it exists: an event calendar alone cannot say "no contact happened" - only a record of what
was read in full can. Analyses of contact use only dyad-years whose levels are complete here.

Quirks: a dyad is an unordered pair for the analyses, so (CN, US, 2010) and (US, CN, 2010) are
the same dyad-year; the second is rejected as `primary-key`. A dyad-year may list no complete
level (read, but nothing systematic); it is kept, because it says what was tried.
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
from censorlab.schema import CONTACT_LEVELS

PROVENANCE = Provenance(
    name="diplomatic_coverage",
    producer="censorlab curators",
    url="data/raw/diplomatic_coverage.csv",
    licence="CC BY 4.0 (compilation); facts from the cited lists",
    description="For each swept dyad and year, the contact levels whose systematic lists "
    "(e.g. the U.S. Office of the Historian's travels and visits) were read in full.",
)
TABLE = "diplomatic_coverage"
RAW_FILES = ("diplomatic_coverage.csv",)
REQUIRED_COLUMNS = ("country_a", "country_b", "year", "complete_levels", "incomplete_levels",
                    "sources", "notes")
FIRST_YEAR, LAST_YEAR = 1990, 2100


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse diplomatic_coverage.csv into string rows (no cleaning)."""
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _resolve_countries(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    out = df
    for column in ("country_a", "country_b"):
        codes = out[column].map(context.countries.resolve)
        out = mark_rejects(out.assign(**{column: codes}), codes.isna() & df[column].notna(),
                           "unknown-country", f"{column} not a known country: "
                           + df[column].fillna(""))
    return out


def _parse_year(df: pd.DataFrame) -> pd.DataFrame:
    text = df["year"].fillna("")
    valid = text.str.fullmatch(r"[0-9]{4}")
    years = pd.to_numeric(text.where(valid), errors="coerce")
    out = df.assign(year=years.astype("Int64"))
    out = mark_rejects(out, ~valid, "type-error", "year is not YYYY: " + text)
    return mark_rejects(out, valid & ~years.between(FIRST_YEAR, LAST_YEAR), "implausible-value",
                        f"year outside {FIRST_YEAR}-{LAST_YEAR}: " + text)


def _split_levels(df: pd.DataFrame) -> pd.DataFrame:
    out = df.assign(complete_levels=df["complete_levels"].map(split_list),
                    incomplete_levels=df["incomplete_levels"].map(split_list))
    for column in ("complete_levels", "incomplete_levels"):
        unknown = out[column].map(lambda levels: sorted(set(levels) - set(CONTACT_LEVELS)))
        out = mark_rejects(out, unknown.map(bool), "constraint-error",
                           f"{column} names levels not in " + ", ".join(CONTACT_LEVELS) + ": "
                           + unknown.map(", ".join))
    both = [sorted(set(a) & set(b)) for a, b in zip(out["complete_levels"],
                                                     out["incomplete_levels"], strict=True)]
    return mark_rejects(out, pd.Series([bool(b) for b in both], index=out.index),
                        "constraint-error", "a level is both complete and incomplete: "
                        + pd.Series([", ".join(b) for b in both], index=out.index))


def _reject_repeated_dyad_years(df: pd.DataFrame) -> pd.DataFrame:
    """One row per unordered dyad and year; a repeat (in either order) is a primary-key clash.

    The row kept is the first by content (countries, year, text), never by line, so shuffled
    input keeps the same row.
    """
    live = pending(df)
    pair = [("-".join(sorted([a, b])) if isinstance(a, str) and isinstance(b, str) else None)
            for a, b in zip(df["country_a"], df["country_b"], strict=True)]
    key = pd.Series(pair, index=df.index) + "|" + df["year"].astype("string").fillna("")
    order = df.assign(_key=key).loc[live].sort_values(["_key", "raw_text"])
    repeated = order.index[order["_key"].duplicated(keep="first")]
    return mark_rejects(df, pd.Series(df.index.isin(repeated), index=df.index), "primary-key",
                        "dyad-year already covered by another row: " + key.fillna(""))


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean the coverage table of the dyad sweep."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(REQUIRED_COLUMNS))
        .pipe(require_cells, ["country_a", "country_b", "year"])
        .pipe(_resolve_countries, context)
        .pipe(_parse_year)
        .pipe(_split_levels)
        .pipe(collect_urls, ["sources"])
        .pipe(_reject_repeated_dyad_years)
        .pipe(reject_invalid, TABLE)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    return finish(raw, TABLE, clean=accepted, rejects=[rejects], out=accepted)
