"""Steps every source's cleaning shares: marking rejects in a chain, and schema validation.

Sources clean with `.pipe` chains of small steps. A step that finds a bad row does not drop it:
it marks the row with a reason (`mark_rejects`), later steps leave marked rows alone, and
`split_rejects` at the end of the chain moves them to the rejects table. So a chain stays a
sequence of pure `df -> df` functions and every rejected row keeps its line and raw text; the
chain then ends in :func:`censorlab.cleaning.finish.finish`.
"""

from __future__ import annotations

import pandas as pd
import pandera.errors

from censorlab.cleaning.dates import DateParseError, ImplausibleDateError, parse_partial_date
from censorlab.core.rejects import make_rejects
from censorlab.schema import TABLES, pandera_schema

REASON = "_reject_reason"
DETAIL = "_reject_detail"
STAGE = "_reject_stage"
REPAIRS = "_repairs"  # per row: the repairs a step made (a tuple of texts), for the manifest


def start_marking(df: pd.DataFrame) -> pd.DataFrame:
    """Add the (empty) reject-marking columns to a fresh copy of raw rows."""
    return df.assign(**{REASON: None, DETAIL: None, STAGE: None})


def pending(df: pd.DataFrame) -> pd.Series:
    """Rows not yet marked as rejected (the ones a step should still look at)."""
    return df[REASON].isna()


def mark_rejects(
    df: pd.DataFrame, mask: pd.Series, reason: str, detail: pd.Series | str, stage: str = "clean"
) -> pd.DataFrame:
    """Mark rows as rejected unless an earlier step already did; return a new frame."""
    hit = mask.fillna(False).astype(bool) & pending(df)
    if not hit.any():
        return df
    out = df.copy()
    details = detail if isinstance(detail, pd.Series) else pd.Series(detail, index=df.index)
    out.loc[hit, REASON] = reason
    out.loc[hit, DETAIL] = details[hit].astype(str)
    out.loc[hit, STAGE] = stage
    return out


def split_rejects(df: pd.DataFrame, dataset: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split marked rows off into a rejects frame; return (kept rows, rejects)."""
    marked = df[~pending(df)]
    rejects = make_rejects(
        {
            "dataset": dataset,
            "source_file": r["source_file"],
            "source_line": r["source_line"],
            "stage": r[STAGE] or "clean",
            "reason_code": r[REASON],
            "detail": r[DETAIL],
            "raw_text": r["raw_text"],
        }
        for r in marked.to_dict("records")
    )
    kept = df[pending(df)].drop(columns=[REASON, DETAIL, STAGE])
    return kept, rejects


def validate_rows(
    df: pd.DataFrame, table: str, *, check_key: bool = True
) -> tuple[pd.Series, pd.Series]:
    """Validate rows against the table's pandera schema, lazily (every failure collected).

    Returns:
        A boolean Series (True = the row passed) and a Series of failure details per failing
        row, so the caller can turn pandera's failure cases into reject rows instead of
        dropping them.
    """
    schema = pandera_schema(table)
    if not check_key:
        schema = schema.set_unique(None) if hasattr(schema, "set_unique") else schema
        schema.unique = None
    ok = pd.Series(True, index=df.index)
    details: dict[object, list[str]] = {}
    try:
        schema.validate(df[list(TABLES[table].columns)], lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
        for case in cases.itertuples(index=False):
            index = case.index
            if index is None or (not isinstance(index, str) and pd.isna(index)):
                if case.schema_context == "Column" and case.check == "column_in_dataframe":
                    raise
                continue
            ok.loc[index] = False
            details.setdefault(index, []).append(
                f"{case.column or 'row'} failed {case.check}: {case.failure_case!r}"
            )
    return ok, pd.Series({k: "; ".join(v) for k, v in details.items()}, dtype=object)


def reject_invalid(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Mark rows that fail the table schema (column checks and row checks) as rejected."""
    ok, details = validate_rows(df, table, check_key=False)
    return mark_rejects(df, ~ok, "schema-error", details.reindex(df.index).fillna(""),
                        stage="validate")


def assert_valid(df: pd.DataFrame, table: str) -> pd.DataFrame:
    """Validate a final table; any failure here is a bug, so raise instead of rejecting."""
    pandera_schema(table).validate(df[list(TABLES[table].columns)], lazy=True)
    return df



# --- generic steps used by several sources -------------------------------------------------

URL_SPLIT = ";"
ONGOING_MARKERS = frozenset({"ongoing", "present"})


def strip_cells(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Trim whitespace and turn empty cells into nulls (the raw convention for unknown)."""
    out = df.copy()
    for column in columns:
        out[column] = pd.Series(
            [(v.strip() or None) if isinstance(v, str) else None for v in out[column]],
            index=out.index, dtype=object)
    return out


def require_cells(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Reject rows where a required cell is empty (frictionless `missing-cell`)."""
    out = df
    for column in columns:
        out = mark_rejects(out, out[column].isna(), "missing-cell",
                           f"required column {column!r} is empty")
    return out


def collect_urls(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Gather every source-URL column into one de-duplicated `source_urls` list per row."""
    def gather(row: pd.Series) -> list[str]:
        urls: list[str] = []
        for column in columns:
            for url in (row.get(column) or "").split(URL_SPLIT):
                url = url.strip()
                if url and url not in urls:
                    urls.append(url)
        return urls

    present = [c for c in columns if c in df.columns]
    out = df.assign(source_urls=df[present].apply(gather, axis=1) if len(df) else [])
    return mark_rejects(out, out["source_urls"].map(len) == 0, "missing-cell",
                        "no source URL: every row must name the page it rests on")


def split_confidence(df: pd.DataFrame, column: str = "confidence") -> pd.DataFrame:
    """Split `high: start only` into level `high` and note `start only`."""
    text = df[column].fillna("")
    level = text.str.extract(r"^\s*(high|medium|low)\b", expand=False).str.lower()
    note = text.str.replace(r"^\s*(high|medium|low)\b[\s:;,(-]*", "", regex=True).str.rstrip(")")
    out = df.assign(confidence=level, confidence_note=note.where(note.str.len() > 0, None))
    return mark_rejects(out, level.isna(), "constraint-error",
                        "confidence must start with high, medium or low: " + text)


def note_repairs(df: pd.DataFrame, notes: pd.Series) -> pd.DataFrame:
    """Add each row's repair text (None: none) to its ``_repairs``; ``finish`` counts them."""
    current = df[REPAIRS] if REPAIRS in df.columns else pd.Series(None, index=df.index,
                                                                    dtype=object)
    merged = [(*(old if isinstance(old, tuple) else ()), new) if isinstance(new, str) else old
              for old, new in zip(current, notes, strict=True)]  # a frame op may give NaN
    return df.assign(**{REPAIRS: pd.Series(merged, index=df.index, dtype=object)})


def split_list(value: str | None, separator: str = ";") -> list[str]:
    """Split a `;`-separated cell into trimmed, non-empty, de-duplicated items."""
    items: list[str] = []
    for item in (value if isinstance(value, str) else "").split(separator):
        item = item.strip()
        if item and item not in items:
            items.append(item)
    return items


def parse_dates(
    df: pd.DataFrame, date_column: str, precision_column: str, prefix: str,
    *, required: bool = True,
) -> pd.DataFrame:
    """Parse a date and its precision into a normalised precision and two bound columns.

    The date column is replaced by the parsed date (the stated day, or the first day of a
    coarser period), the precision column by its canonical name (`day(approx)` ->
    `day_approx`); the bounds go to `<prefix>earliest_date` and `<prefix>latest_date`.

    Rows whose date is not in a declared form, or whose precision contradicts the form, are
    rejected with `type-error`, a date outside the plausible dates with `implausible-value`;
    an empty optional date, or one written `ongoing` or
    `present`, stays null (for an end: ongoing as of the source). The two repairs of
    ``cleaning.dates`` -- a quarter named by its last day, an empty precision read from the
    date's form -- are noted per row (:func:`note_repairs`), and ``finish`` records them in the
    manifest.
    """
    parsed, errors, repairs, implausible = [], [], [], []
    for text, precision in zip(df[date_column], df[precision_column], strict=True):
        if not required and isinstance(text, str) and text.strip().casefold() in ONGOING_MARKERS:
            text = None  # `ongoing`/`present`: no end recorded, the same as an empty cell
        implausible.append(False)
        if text is None:
            parsed.append(None)
            errors.append(None if not required else f"{date_column} is empty")
            repairs.append(None)
            continue
        try:
            parsed.append(parse_partial_date(text, precision))
            errors.append(None)
        except DateParseError as exc:
            implausible[-1] = isinstance(exc, ImplausibleDateError)
            parsed.append(None)
            errors.append(f"{date_column}/{precision_column}: {exc}")
        repairs.append(f"{date_column}/{precision_column}: {parsed[-1].repair}"
                       if parsed[-1] is not None and parsed[-1].repair else None)
    dates = pd.Series(parsed, index=df.index, dtype=object)
    error_series = pd.Series(errors, index=df.index, dtype=object)
    out = note_repairs(df, pd.Series(repairs, index=df.index, dtype=object)).assign(**{
        date_column: pd.to_datetime(dates.map(lambda d: d.reported if d else None)),
        precision_column: dates.map(lambda d: d.precision if d else None),
        f"{prefix}earliest_date": pd.to_datetime(dates.map(lambda d: d.earliest if d else None)),
        f"{prefix}latest_date": pd.to_datetime(dates.map(lambda d: d.latest if d else None)),
    })
    missing = error_series.notna() & df[date_column].isna()
    out = mark_rejects(out, missing, "missing-cell", error_series)
    out = mark_rejects(out, pd.Series(implausible, index=df.index), "implausible-value",
                       error_series)
    return mark_rejects(out, error_series.notna(), "type-error", error_series)

