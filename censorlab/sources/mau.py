"""Curated user figures of services (`data/raw/mau.csv`).

Published by the censorlab curators from company reports (Tencent's quarterly results for
WeChat/Weixin and QQ), press releases and news. Layout: UTF-8 CSV with a header: `service`,
`operator`, `period_end` (`YYYY-MM-DD`, `YYYY-MM` or `YYYY`; a quarter is written as its last
month), `period_precision`, `mau_millions`, `scope` (`global`, an alpha-2 code, or `non-XX` for
the world except XX), `metric_as_reported`, `source_url`, `confidence`, `notes`, `metric_kind`
(what the figure counts: `mau`, `dau`, `registered`, `users`, `reach`, `ad-audience`,
`downloads`; coded by the curators so that one source's figures are coded alike).

Quirks: `mau_millions` is usually a bare number of millions but may carry a unit or qualifier
(`1.2B`, `500M+`, `over 50 million[3]`, `29-40`); it is parsed by `censorlab.units` into users
with the qualifier kept. An empty value is kept as a null figure (the notes say why) because the
row still records that a source reported something. Metrics differ (MAU, registered users,
reach): `is_mau` is true exactly when `metric_kind` is `mau`. It used to be guessed from the
wording of `metric_as_reported`, which coded two figures of one Mediascope estimate differently;
the curated `metric_kind` replaces that guess.
"""

from __future__ import annotations

import re
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
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.cleaning.units import CountParseError, parse_user_count
from censorlab.core.provenance import Provenance
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context
from censorlab.schema import METRIC_KINDS

PROVENANCE = Provenance(
    name="mau",
    producer="censorlab curators (figures from Tencent, LINE, Meta, Telegram and news reports)",
    url="data/raw/mau.csv",
    licence="CC BY 4.0 (compilation); figures from the cited pages",
    description="Monthly active users and other user counts of services, globally and per "
    "country, with the metric as reported.",
)
TABLE = "mau"
RAW_FILES = ("mau.csv",)
REQUIRED_COLUMNS = ("service", "operator", "period_end", "period_precision", "mau_millions",
                    "scope", "metric_as_reported", "source_url", "confidence", "notes",
                    "metric_kind")
MILLION = 10**6
DUPLICATE_KEY = ["service_id", "geo", "period_end", "metric", "mau", "mau_qualifier"]


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse mau.csv into string rows (no cleaning)."""
    return read_delimited(path, dataset=TABLE, required_columns=REQUIRED_COLUMNS, name=name)


def _resolve_service(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    ids = pd.Series([context.services.resolve(v) for v in df["service"]], index=df.index,
                    dtype=object)
    out = df.assign(
        service_as_reported=df["service"],
        service_id=ids,
        service_name=[context.services.info(i)["service_name"] if isinstance(i, str) else None
                      for i in ids],
    )
    return mark_rejects(out, ids.isna(), "unknown-service",
                        "unknown service name: " + df["service"].fillna(""))


def _resolve_geo(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    def geo(scope: str | None) -> str | None:
        if scope is None:
            return None
        if scope.strip().lower() in ("global", "world", "worldwide"):
            return "WORLD"
        if match := re.fullmatch(r"non-(.+)", scope.strip(), flags=re.IGNORECASE):
            code = context.countries.resolve(match.group(1))
            return f"WORLD_EX_{code}" if code else None
        return context.countries.resolve(scope)

    geos = df["scope"].map(geo)
    return mark_rejects(df.assign(geo=geos), geos.isna(), "unknown-country",
                        "scope is not global, a country or non-XX: " + df["scope"].fillna(""))


def _parse_counts(df: pd.DataFrame) -> pd.DataFrame:
    values, qualifiers, errors, notes = [], [], [], []
    for text, note in zip(df["mau_millions"], df["notes"], strict=True):
        value = qualifier = error = None
        if text is not None:
            try:
                parsed = parse_user_count(text, MILLION)
                value, qualifier = parsed.value, parsed.qualifier
                if parsed.upper is not None:
                    note = f"{note + ' | ' if note else ''}range as reported: {text}"
                if parsed.had_footnote:
                    note = f"{note + ' | ' if note else ''}footnote marker stripped from {text!r}"
            except CountParseError as exc:
                error = str(exc)
        values.append(value)
        qualifiers.append(qualifier)
        errors.append(error)
        notes.append(note)
    error_series = pd.Series(errors, index=df.index, dtype=object)
    out = df.assign(mau=pd.array(values, dtype="Int64"), mau_qualifier=qualifiers, notes=notes)
    implausible = error_series.fillna("").str.contains("population")
    out = mark_rejects(out, implausible, "implausible-value", "mau_millions: " + error_series)
    return mark_rejects(out, error_series.notna(), "type-error", "mau_millions: " + error_series)


def _classify_metric(df: pd.DataFrame) -> pd.DataFrame:
    """Keep the metric as worded and derive `is_mau` from the curated kind."""
    kind = df["metric_kind"]
    out = df.assign(metric=df["metric_as_reported"],
                    is_mau=kind.eq("mau").astype("boolean"))
    return mark_rejects(out, kind.notna() & ~kind.isin(METRIC_KINDS), "constraint-error",
                        "metric_kind not in " + ", ".join(METRIC_KINDS) + ": "
                        + kind.fillna(""))


def _shape_output(df: pd.DataFrame) -> pd.DataFrame:
    return df.assign(period_end=df["period_latest_date"], period_precision=df["period_precision"])


def _merge_duplicates(df: pd.DataFrame) -> pd.DataFrame:
    """The same figure for the same service, place, period and metric from two rows is one fact.

    Different figures for one period are kept apart: sources disagree, and that is data.
    """
    key = pd.Series(["|".join(map(str, values)) for values in
                     df[DUPLICATE_KEY].itertuples(index=False)], index=df.index)
    rows = []
    for _, group in df.groupby(key, sort=False):
        # the representative is chosen by content, so row order cannot change the output
        group = group.sort_values(["raw_text", "source_line"])
        first = group.iloc[0].to_dict()
        first["source_urls"] = list(dict.fromkeys(u for us in group["source_urls"] for u in us))
        rows.append(first)
    return pd.DataFrame(rows, columns=df.columns)


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean the user-figure table."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(REQUIRED_COLUMNS))
        .pipe(require_cells, ["service", "period_end", "scope", "metric_kind"])
        .pipe(_resolve_service, context)
        .pipe(_resolve_geo, context)
        .pipe(parse_dates, "period_end", "period_precision", "period_")
        .pipe(_parse_counts)
        .pipe(split_confidence)
        .pipe(collect_urls, ["source_url"])
        .pipe(_classify_metric)
        .pipe(_shape_output)
        .pipe(reject_invalid, TABLE)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    return finish(raw, TABLE, clean=accepted, rejects=[rejects], out=_merge_duplicates(accepted))
