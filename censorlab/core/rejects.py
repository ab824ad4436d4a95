"""The rejects table: where every row that did not make it goes, with its reason.

Rejects are facts about the raw data (which line, why), so they are written, counted and
validated like any other table instead of being logged and forgotten.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from censorlab.schema import REASON_CODES, TABLES, arrow_schema

REJECT_COLUMNS = list(TABLES["rejects"].columns)
RAW_TEXT_LIMIT = 2000


def shorten(text: str | None, limit: int = RAW_TEXT_LIMIT) -> str | None:
    """Cut long raw text so one huge field cannot bloat the rejects table."""
    if not isinstance(text, str):
        return None  # missing (None, or NaN from a pandas string column)
    if len(text) <= limit:
        return text
    return text[: limit - 20] + f"...[{len(text)} chars]"


def make_rejects(records: Iterable[Mapping[str, object]]) -> pd.DataFrame:
    """Build a rejects frame from dicts with the reject columns.

    Raises:
        ValueError: A record uses a reason code outside the vocabulary, which is a bug.
    """
    frame = pd.DataFrame(list(records), columns=REJECT_COLUMNS)
    _check_reason_codes(frame["reason_code"].dropna())
    frame["raw_text"] = frame["raw_text"].map(shorten)
    return frame.astype({"source_line": "Int64"})


def rejects_table(records: Iterable[Mapping[str, object]]) -> pa.Table:
    """Build the rejects table straight in Arrow: what ``to_arrow(make_rejects(records))`` gives.

    For sources with many rejects (an OONI dump can have millions of withheld-probe lines)
    the pandas round trip costs most of the time; the checks, the shortened raw text, the
    types and the sort order are the same (tests compare the two).

    Raises:
        ValueError: A record uses a reason code outside the vocabulary, which is a bug.
    """
    records = list(records)
    _check_reason_codes(r.get("reason_code") for r in records if r.get("reason_code"))
    columns = {name: [r.get(name) for r in records] for name in REJECT_COLUMNS}
    columns["raw_text"] = [shorten(text) for text in columns["raw_text"]]
    return sort_rejects(pa.table(columns, schema=arrow_schema("rejects")))


def sort_rejects(table: pa.Table) -> pa.Table:
    """Sort an Arrow rejects table into the table's order (missing lines first)."""
    if not len(table):
        return table
    keys = TABLES["rejects"].order
    try:  # pyarrow >= 25: null placement per key
        order = pc.sort_indices(table, sort_keys=[(k, "ascending", "at_start") for k in keys])
    except (TypeError, ValueError, pa.ArrowInvalid):  # older pyarrow
        order = pc.sort_indices(table, sort_keys=[(k, "ascending") for k in keys],
                                null_placement="at_start")
    return table.take(order)


def _check_reason_codes(codes: Iterable[str]) -> None:
    bad = set(codes) - set(REASON_CODES)
    if bad:
        raise ValueError(f"unknown reject reason codes: {sorted(bad)}")


def empty_rejects() -> pd.DataFrame:
    """Return a rejects frame with no rows and the right columns."""
    return make_rejects([])


def concat_rejects(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate reject frames, keeping the column order even when all are empty."""
    frames = [f for f in frames if len(f)]
    if not frames:
        return empty_rejects()
    return pd.concat(frames, ignore_index=True)[REJECT_COLUMNS]
