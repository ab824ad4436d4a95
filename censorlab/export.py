"""Exports of processed tables for spreadsheet users, safe against formula injection.

Parquet stores every cell verbatim (`=HYPERLINK(...)` in a note is data). A spreadsheet would run
it, so CSV and XLSX exports escape it the OWASP way: a text cell starting with `=`, `+`, `-`,
`@`, a tab or a carriage return gets a leading single quote. List cells are joined with `; `
(and the joined text escaped). Files are written atomically; the default place is
`reports/exports/<table>.<fmt>` (git-ignored), and the table name is checked against the data
dictionary so it can never steer the path elsewhere. Any published output can be exported: the
curated build's tables and an ingest's (``--from DIR``). An Excel cell holds at most 32,767
characters and a longer one was cut without a word: an XLSX export with such a cell is refused,
naming the table, row, column and length (the CSV export holds it whole).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pandas as pd

from censorlab.core.storage import atomic_path
from censorlab.errors import CensorlabError
from censorlab.paths import EXPORTS_DIR
from censorlab.run.outputs import load
from censorlab.schema import TABLES

logger = logging.getLogger(__name__)

FORMATS = ("csv", "xlsx")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
LIST_JOINER = "; "
XLSX_MAX_CELL_CHARS = 32_767  # Excel's limit on the characters of one cell
# Control characters that XLSX (XML 1.0) cannot hold; openpyxl refuses them.
_XLSX_ILLEGAL = re.compile(r"[\000-\010\013\014\016-\037]")


def escape_cell(value: object) -> object:
    """Return a text cell with a leading `'` when a spreadsheet would read it as a formula.

    >>> escape_cell("=1+1"), escape_cell("-2"), escape_cell("plain"), escape_cell(3)
    ("'=1+1", "'-2", 'plain', 3)
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell_text(value: object) -> object:
    if isinstance(value, list | tuple):
        return LIST_JOINER.join("" if v is None else str(v) for v in value)
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d") if value == value.normalize() else value.isoformat()
    return value


def safe_frame(df: pd.DataFrame) -> pd.DataFrame:
    """Return a copy ready for a spreadsheet: lists joined, dates as ISO text, formulas escaped."""
    out = pd.DataFrame(index=df.index)
    for column in df.columns:
        out[column] = pd.Series([escape_cell(_cell_text(v)) for v in df[column]],
                                index=df.index, dtype=object)
    return out


def check_xlsx_cells(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Return ``frame`` when every text cell fits an Excel cell, else raise naming the first.

    Raises:
        CensorlabError: A cell longer than XLSX_MAX_CELL_CHARS (table, row, column, length).
    """
    for column in frame.columns:
        lengths = frame[column].map(lambda v: len(v) if isinstance(v, str) else 0)
        too_long = lengths[lengths > XLSX_MAX_CELL_CHARS]
        if len(too_long):
            row = frame.index.get_loc(too_long.index[0]) + 1
            raise CensorlabError(
                f"{table}: row {row}, column {column!r} holds {too_long.iloc[0]} characters, "
                f"more than an Excel cell's {XLSX_MAX_CELL_CHARS}; export it as CSV instead "
                "(XLSX would cut it)")
    return frame


def _check_table(table: str) -> str:
    if not isinstance(table, str) or "/" in table or "\\" in table or table in ("", ".", ".."):
        raise CensorlabError(f"invalid table name {table!r}")
    if table not in TABLES:
        raise CensorlabError(f"unknown table {table!r}; known: {', '.join(sorted(TABLES))}")
    return table


def default_export_path(table: str, fmt: str) -> Path:
    """Return `<exports dir>/<table>.<fmt>` for a checked table name (see censorlab.paths)."""
    base = EXPORTS_DIR.resolve()
    target = (base / f"{_check_table(table)}.{fmt}").resolve()
    if target.parent != base:  # pragma: no cover - _check_table already forbids separators
        raise CensorlabError(f"export path {target} escapes {base}")
    return target


def export_table(
    table: str,
    fmt: str = "csv",
    out: str | Path | None = None,
    processed_dir: str | Path | None = None,
) -> Path:
    """Export a processed table as CSV or XLSX with formula-injection cells escaped.

    Args:
        table: A table name from `schema.TABLES` (e.g. `block_events`).
        fmt: `csv` or `xlsx`.
        out: Output file chosen by the user; default `reports/exports/<table>.<fmt>` (in a
            checkout; the user data directory when installed).
        processed_dir: The output directory holding the table: the curated build (default)
            or an ingest's ``--out``.

    Returns:
        The path written.

    Raises:
        CensorlabError: Unknown table or format, no build to export from, or (XLSX) a cell
            longer than an Excel cell holds.
    """
    table = _check_table(table)
    if fmt not in FORMATS:
        raise CensorlabError(f"unknown export format {fmt!r}; use one of {', '.join(FORMATS)}")
    target = Path(out) if out is not None else default_export_path(table, fmt)
    frame = safe_frame(load(table, processed_dir))
    if fmt == "xlsx":
        check_xlsx_cells(frame, table)
    with atomic_path(target) as tmp:
        if fmt == "csv":
            frame.to_csv(tmp, index=False, encoding="utf-8", lineterminator="\n")
        else:
            cleaned = frame.map(lambda v: _XLSX_ILLEGAL.sub("\ufffd", v)
                                if isinstance(v, str) else v)
            with pd.ExcelWriter(tmp, engine="openpyxl") as writer:
                cleaned.to_excel(writer, index=False, sheet_name=table[:31])
    logger.info("exported %s (%d rows) to %s", table, len(frame), target)
    return target
