"""Access Now #KeepItOn STOP dataset: internet shutdowns and platform blocks (XLSX or CSV).

Published by Access Now (Shutdown Tracker Optimization Project, STOP) as a Google Sheet. What a
researcher downloads is either the **workbook** (`File > Download > .xlsx`: one sheet per report
year, named `2022 Data`, `2021 Data`, `2020 Data`, `2019`, `2016+2017+2018 ` -- with a trailing
space -- plus a 3-row `Need more details` sheet without a header) or a **CSV export** of one
sheet (UTF-8, comma). Both are read here; one row per shutdown as reported.

Layout and quirks, as seen in a real 2023-04 workbook (tests/fixtures/stop/PROVENANCE.md):

* **Headers changed every year.** Every raw header is mapped through ONE table,
  `HEADER_ALIASES`, after folding case and whitespace (`Facebook_affected`, `country `,
  `end_date ` and `Duration` all resolve). 2020-2022 name the extent `shutdown_extent`; 2019
  calls it `full or service-based` and the type `shutdown_type_new`; 2016-2018 `shutdown_type_group`
  (its own `shutdown_type` then holds the network kind, e.g. `Broadband Internet, Mobile
  Internet`, kept as reported). Links are `info_source_link` or (2016-2019) `news_link`; the
  justification `gov_justification` or `official_just`. 2016-2018 has no per-platform flags:
  the platforms are free text in `services_affected` / `service_details`. Columns the table does
  not use (continent, telcos, econ_impact ...) are not read. A header that maps no service
  column (no flag, no free-text platform column) stops the file (`RawFileError`): otherwise every
  platform block in it would silently come out as "no service".
* **Note rows above the header.** Access Now's CSV export starts with a note row
  (`"In the #KeepItOn Report …",,,,`). The header is the first of the first `MAX_NOTE_ROWS` rows
  that maps both `start_date` and `country`; the rows above it are skipped and the skip is
  recorded as a repair in the manifest. A workbook sheet with no such row (`Need more details`)
  is skipped the same way, its rows named in the repair.
* **Workbook cells are typed.** Date cells are rendered `MM/DD/YYYY` (the CSV export's form),
  booleans `TRUE`/`FALSE`, whole numbers without `.0`; formulas (`=DAYS(P2,B2-1)` in
  `duration`) are read as their cached value -- a workbook saved without cached values (not by a
  spreadsheet program) reads them as empty, and the repair says how many.
* **Dates** are the forms the sheets display, which is what their CSV export writes: US
  `%m/%d/%Y` (2019-2022), `26-Jan-2016` or `26-January-2016` (2016+2017+2018; English month
  names). `2023-03-04`, `13/01/2023` or a two-digit year is a `type-error`, never guessed. An
  Excel serial day number (`44166`, five digits; 1900 date
  system: day n is 1899-12-30 + n days, exact from 1900-03-01 on), converted and recorded as a
  repair. An end cell reading `Ongoing` gives a null end with `is_ongoing` true, and
  `Unknown` (also misspelt `Unkown`, as in the 2019 sheet) a null end with the reading kept in
  `end_date_reading`; any other text (`4/1/2018 upon CAF visit`) is a `type-error`.
* **Status.** `shutdown_status` is `Ongoing`, `Ended` or `Unknown` (null); it wins over the end
  cell for `is_ongoing`. `Ongoing` with an end date, or `Ended` with an `Ongoing` end, is
  contradictory (`constraint-error`); an end before the start is `end-before-start`.
* **Flags.** `*_affected` are `Yes`/`No` (2020-2022), booleans (2019) or `TRUE`/`FALSE`; empty
  or `Unknown` is null (never a reject of the event); anything else rejects the row
  (`constraint-error`).
* **Platforms.** Service-based rows (`shutdown_extent` containing `Service-based`: also `Full
  network, Service-based` and 2019's `Full and Service-based`) become one row per affected
  platform: each platform flagged Yes, plus every name in `other_affected` / `service_details`
  that the ServiceCatalog knows (unknown names stay in the raw text only). A service-based row
  with no platform keeps one row per country with a null service_id. Platform flags of a
  whole-network shutdown are not split out: everything was down.
* **Countries.** One row can name several (`;` or `,`, after first trying the whole cell, so
  `Venezuela, Bolivarian Republic of` resolves); it becomes one row per country
  (`rows_split`). An unknown name rejects the row (`unknown-country`).
* **Report year.** Each sheet is one yearly report, and an event running into a later year is
  listed again in that year's sheet (Pakistan's FATA shutdown of 2016-2021 is in the 2020 and
  2021 sheets). `report_year` is the row's own `year` column when the sheet has one
  (`2016+2017+2018 `), else the single year of the sheet name; null for a CSV without a `year`
  column. Rows of different report years are never merged: count events per report year.
* `duration` is kept as text (`Curfew Style` stays); `reported_duration_hours` is filled only
  when the unit is stated (`12 hours`, `3 days`, or the old `duration_days`/`duration_hours`
  columns); a bare number has no stated unit and stays null.
* Rows without any http(s) link in `info_source_link`/`an_link` are rejected (`missing-cell`).
* The same row in two exports (identical content) is kept once and counted as a duplicate.

Where a workbook row comes from: `source_sheet` and `sheet_row` (the row in that sheet);
`source_line` numbers the rows of all sheets in workbook order, as if the sheets were exported
one after another into one CSV, so it is unique within the file as the accounting needs. A CSV
row's `source_line` is its physical line; its `source_sheet` and `sheet_row` are null.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path

import openpyxl
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
from censorlab.core.rejects import concat_rejects, make_rejects
from censorlab.errors import RawFileError
from censorlab.reading.delimited import (
    MAX_FIELD_CHARS,
    META_COLUMNS,
    RawFile,
    decode_strict,
    decompress,
    file_digest,
    read_delimited,
    split_physical_lines,
)
from censorlab.reading.lineblocks import check_unzipped_size
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
FILE_SUFFIXES = (".csv", ".xlsx")
MAX_NOTE_ROWS = 10  # rows searched for the header (Access Now's note rows sit above it)

PLATFORM_FLAGS = {
    "facebook_affected": "facebook",
    "twitter_affected": "twitter",
    "whatsapp_affected": "whatsapp",
    "instagram_affected": "instagram",
    "telegram_affected": "telegram",
}
PLATFORM_TEXT_COLUMNS = ("other_affected", "service_details")
#: THE header table: canonical column <- every spelling seen in STOP 2016-2022, compared after
#: casefolding and collapsing whitespace (so `Facebook_affected`, `country ` and `Duration`
#: match). Sheets: 2022/2021/2020 Data (45 columns), 2019 (43), 2016+2017+2018 (26); the CSV
#: export uses the sheet's header. A raw column not listed here is not read.
HEADER_ALIASES: dict[str, tuple[str, ...]] = {
    "start_date": ("start_date",),
    "end_date": ("end_date",),
    "country": ("country",),
    "geo_scope": ("geo_scope",),
    "area_name": ("area_name",),
    # 2020-2022 shutdown_type: Shutdown / Throttle; 2019: shutdown_type_new; 2016-2018's own
    # shutdown_type holds the network kind and is kept as reported
    "shutdown_type": ("shutdown_type", "shutdown_type_new"),
    # Full network / Service-based: 2020-2022, 2019 (Full / Service-based / Full and
    # Service-based), 2016-2018 (shutdown_type_group)
    "shutdown_extent": ("shutdown_extent", "full or service-based", "shutdown_type_group"),
    "ordered_by": ("ordered_by",),
    "info_source_link": ("info_source_link", "news_link"),
    "an_link": ("an_link",),
    "shutdown_status": ("shutdown_status",),
    "duration": ("duration",),
    "duration_days": ("duration_days",),
    "duration_hours": ("duration_hours",),
    "gov_justification": ("gov_justification", "official_just"),
    **{flag: (flag,) for flag in PLATFORM_FLAGS},
    # free-text platforms: 2020-2022 other_affected, 2019 `other_service_details (specify)`,
    # 2016-2018 services_affected and service_details
    "other_affected": ("other_affected", "other_service_details (specify)", "services_affected"),
    "service_details": ("service_details",),
    "year": ("year",),
}
REQUIRED_COLUMNS = ("start_date", "country")
SERVICE_COLUMNS = (*PLATFORM_FLAGS, *PLATFORM_TEXT_COLUMNS)
USED_COLUMNS = tuple(HEADER_ALIASES)
SHEET_COLUMNS = ("source_sheet", "sheet_row")
FLAG_VALUES = {"yes": True, "true": True, "no": False, "false": False, "unknown": None}
STATUS_VALUES = {"ongoing": True, "ended": False, "unknown": None}
END_READINGS = {"ongoing": "ongoing", "unknown": "unknown", "unkown": "unknown"}
US_DATE = r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"
#: `26-Jan-2016`, `26-January-2016`: how the 2016+2017+2018 sheet displays its dates (cell
#: formats d-mmm-yyyy, dd-mmmm-yyyy), so how its CSV export writes them; English month names.
NAMED_MONTH_DATE = re.compile(r"^([0-9]{1,2})-([A-Za-z]{3,9})-([0-9]{4})$")
MONTH_NAMES = ("january", "february", "march", "april", "may", "june", "july", "august",
               "september", "october", "november", "december")  # not the locale's
MONTHS = {**{n: i for i, n in enumerate(MONTH_NAMES, 1)},
          **{n[:3]: i for i, n in enumerate(MONTH_NAMES, 1)}}
EXCEL_SERIAL = r"^[0-9]{5}$"  # 10000..99999: 1927-05-18 .. 2173-10-14
EXCEL_EPOCH = dt.date(1899, 12, 30)  # 1900 date system, past Excel's phantom 1900-02-29
DURATION_PATTERN = re.compile(r"^([0-9]+(?:\.[0-9]+)?)\s*(hours?|hrs?|days?)$", re.IGNORECASE)
NUMBER_PATTERN = re.compile(r"^[0-9]+(?:\.[0-9]+)?$")
URL_FINDER = re.compile(r"https?://[^\s;]+")
YEAR_FINDER = re.compile(r"(?<![0-9])([0-9]{4})(?![0-9])")
DEDUP_EXCLUDED = ("event_id", "source_file", "source_line", *SHEET_COLUMNS)
#: The same row in two exports (identical content) is kept once and counted as merged.
DEDUP_KEY = tuple(c for c in TABLES[TABLE].columns if c not in DEDUP_EXCLUDED)

_ALIAS_LOOKUP = {alias: column for column, aliases in HEADER_ALIASES.items()
                 for alias in aliases}


def normalise_header(name: object) -> str:
    """Fold a raw header cell for the alias table: casefold, whitespace collapsed."""
    return " ".join(str(name if name is not None else "").split()).casefold()


def map_header(cells: Iterable[object]) -> list[str | None]:
    """Return the canonical name of each raw header cell (None: not read)."""
    return [_ALIAS_LOOKUP.get(normalise_header(c)) for c in cells]


def _is_header(cells: list[object]) -> bool:
    mapped = set(map_header(cells))
    return all(c in mapped for c in REQUIRED_COLUMNS)


def _check_mapped_header(where: str, line: int, cells: list[object]) -> list[str | None]:
    """Map a header; a column named twice or no service column stops the file."""
    mapped = map_header(cells)
    seen: dict[str, object] = {}
    for raw, column in zip(cells, mapped, strict=True):
        if column is None:
            continue
        if column in seen:
            raise RawFileError(where, line, f"{seen[column]!s} / {raw!s}",
                               f"two header columns mean {column!r} (duplicate-label)")
        seen[column] = raw
    if not any(c in seen for c in SERVICE_COLUMNS):
        raise RawFileError(where, line, ",".join(str(c) for c in cells if c)[:200],
                           "header maps no service column (no *_affected flag and no "
                           "free-text platform column): every platform block would be lost; "
                           f"known spellings are in stop.HEADER_ALIASES: {list(SERVICE_COLUMNS)}")
    return mapped


def _note_repair(where: str, skipped: list[str]) -> str:
    shown = "; ".join(repr(s[:60] + ("…" if len(s) > 60 else "")) for s in skipped[:3])
    return (f"{where}: skipped {len(skipped)} note row(s) above the header: {shown}")


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse a STOP CSV export or XLSX workbook into string rows with canonical column names.

    Raises:
        RawFileError: Undecodable bytes, a corrupt workbook, no header row, a header that maps a
            column twice or maps no service column.
    """
    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        return _read_workbook(path, name or path.name)
    return _read_csv(path, name or path.name)


def _read_csv(path: Path, name: str) -> RawFile:
    """Find the header below any note rows, then read strictly with read_delimited."""
    text, _ = decode_strict(decompress(path, path.read_bytes()), path, "utf-8")
    reader = csv.reader(iter(split_physical_lines(text)))  # lines as read_delimited counts
    start, skipped, cells = 1, [], []
    for _ in range(MAX_NOTE_ROWS):
        try:
            cells = next(reader)
        except (StopIteration, csv.Error):
            cells = []
            break
        if _is_header(cells):
            break
        skipped.append(",".join(cells).strip(","))
        start = reader.line_num + 1
    if not _is_header(cells):
        first = skipped[0] if skipped else ""
        raise RawFileError(path, 1, first[:200],
                           f"no STOP header (a row naming {list(REQUIRED_COLUMNS)}) in the "
                           f"first {MAX_NOTE_ROWS} rows")
    mapped = _check_mapped_header(str(path), start, cells)
    names = [c if c else f"_unread_{i}" for i, c in enumerate(mapped)]
    raw = read_delimited(path, dataset=TABLE, column_names=names, skip_lines=reader.line_num,
                         name=name)
    rows = raw.rows[[c for c in names if not c.startswith("_unread_")] + list(META_COLUMNS)]
    rows = _add_missing(rows).assign(source_sheet=None, sheet_row=None)
    repairs = list(raw.repairs)
    if skipped:
        repairs.append(_note_repair(f"line 1-{start - 1}", skipped))
    return dataclasses.replace(raw, header=[str(c) for c in cells], rows=rows, repairs=repairs)


def _add_missing(rows: pd.DataFrame) -> pd.DataFrame:
    missing = {c: None for c in USED_COLUMNS if c not in rows.columns}
    return rows.assign(**missing)[[*USED_COLUMNS, *META_COLUMNS]]


def _cell_text(value: object) -> str | None:
    """Render a typed workbook cell as the CSV export would write it (dates MM/DD/YYYY)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, dt.datetime | dt.date):
        return value.strftime("%m/%d/%Y")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _check_unzipped_size(path: Path, stored: bytes) -> None:
    """Stop a workbook whose parts unzip past the decompression budget (a zip bomb)."""
    try:
        with zipfile.ZipFile(io.BytesIO(stored)) as archive:
            check_unzipped_size(path, archive, len(stored))
    except zipfile.BadZipFile as exc:
        raise RawFileError(path, None, path.name, f"not a readable XLSX workbook: {exc}") from exc


def _read_workbook(path: Path, name: str) -> RawFile:
    """Read every sheet of a STOP workbook; one RawFile, rows numbered through the sheets."""
    stored = path.read_bytes()
    _check_unzipped_size(path, stored)
    try:
        values = openpyxl.load_workbook(io.BytesIO(stored), read_only=True, data_only=True)
        formulas = openpyxl.load_workbook(io.BytesIO(stored), read_only=True, data_only=False)
    except (zipfile.BadZipFile, OSError, KeyError, ValueError) as exc:
        raise RawFileError(path, None, path.name, f"not a readable XLSX workbook: {exc}") from exc
    records, rejects, repairs, header = [], [], [], []
    offset, rows_read, uncached = 0, 0, 0
    for sheet, formula_sheet in zip(values.worksheets, formulas.worksheets, strict=True):
        rows = list(sheet.iter_rows(values_only=True))
        formula_rows = list(formula_sheet.iter_rows(values_only=True))
        uncached += sum(v is None and isinstance(f, str) and f.startswith("=")
                        for row, frow in zip(rows, formula_rows, strict=False)
                        for v, f in zip(row, frow, strict=False))
        found = _sheet_records(path, name, sheet.title, rows, offset)
        offset += len(rows)
        if found is None:
            filled = sum(any(v is not None for v in r) for r in rows)
            repairs.append(f"sheet {sheet.title!r}: no STOP header row (naming "
                           f"{list(REQUIRED_COLUMNS)}) in its first {MAX_NOTE_ROWS} rows: its "
                           f"{filled} row(s) were not read")
            continue
        sheet_header, sheet_records, sheet_rejects, skipped, count = found
        header = header or sheet_header
        records += sheet_records
        rejects += sheet_rejects
        rows_read += count
        if skipped:
            repairs.append(_note_repair(f"sheet {sheet.title!r}", skipped))
    values.close()
    formulas.close()
    if uncached:
        repairs.append(f"{uncached} formula cell(s) carry no cached value (the workbook was not "
                       "saved by a spreadsheet program): read as empty")
    rows = pd.DataFrame(records, columns=[*USED_COLUMNS, *META_COLUMNS, *SHEET_COLUMNS],
                        dtype=object)
    rows["source_line"] = rows["source_line"].astype("int64")
    return RawFile(path=path, name=name, header=header, rows=rows,
                   rejects=concat_rejects([make_rejects(rejects)]), rows_read=rows_read,
                   repairs=repairs, sha256=file_digest(stored))


def _sheet_records(path: Path, name: str, title: str, rows: list[tuple], offset: int):
    """One sheet's data rows as records, or None when the sheet has no STOP header."""
    index = next((i for i, r in enumerate(rows[:MAX_NOTE_ROWS]) if _is_header(list(r))), None)
    if index is None:
        return None
    cells = rows[index]
    mapped = _check_mapped_header(f"{path}#{title}", offset + index + 1, list(cells))
    skipped = [",".join(_cell_text(v) or "" for v in r).strip(",") for r in rows[:index]]
    width = max((i + 1 for i, c in enumerate(cells) if c is not None), default=0)
    records, rejects, count = [], [], 0
    for number, row in enumerate(rows[index + 1:], start=index + 2):
        texts = [_cell_text(v) for v in row]
        if not any(t is not None and t.strip() for t in texts):
            continue  # an empty sheet row is not a record (sheets keep thousands of them)
        count += 1
        line = offset + number
        raw_text = f"{title}!{number}: " + _csv_line(texts)
        problem = _row_problem(texts, width)
        if problem:
            rejects.append({"dataset": TABLE, "source_file": name, "source_line": line,
                            "stage": "read", "reason_code": problem[0], "detail": problem[1],
                            "raw_text": raw_text})
            continue
        record = dict.fromkeys(USED_COLUMNS)
        for column, text in zip(mapped, texts, strict=False):
            if column is not None:
                record[column] = text
        records.append([*record.values(), name, line, raw_text, title, number])
    header = [str(c) if c is not None else "" for c in cells[:width]]
    return header, records, rejects, skipped, count


def _row_problem(texts: list[str | None], width: int) -> tuple[str, str] | None:
    beyond = [i for i, t in enumerate(texts) if i >= width and t is not None and t.strip()]
    if beyond:
        return "extra-cell", f"a value in column {beyond[0] + 1}, beyond the header's {width}"
    longest = max((len(t) for t in texts if t is not None), default=0)
    if longest > MAX_FIELD_CHARS:
        return "field-too-large", f"a cell holds {longest} characters (limit {MAX_FIELD_CHARS})"
    return None


def _csv_line(texts: list[str | None]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(["" if t is None else t for t in texts])
    return buffer.getvalue().rstrip(",")


# --- cleaning -------------------------------------------------------------------------------


def _named_month_date(text: str) -> dt.date | None:
    """`26-Jan-2016` or `26-January-2016` as a date; None for any other text or a bad day."""
    match = NAMED_MONTH_DATE.match(text)
    month = MONTHS.get(match.group(2).casefold()) if match else None
    if month is None:
        return None
    try:
        return dt.date(int(match.group(3)), month, int(match.group(1)))
    except ValueError:
        return None


def _parse_us_or_serial_dates(df: pd.DataFrame) -> pd.DataFrame:
    """Parse the sheets' date forms or an Excel serial; read `Ongoing`/`Unknown` ends."""
    out = df
    for column in ("start_date", "end_date"):
        text = df[column].fillna("")
        us = pd.to_datetime(text.where(text.str.match(US_DATE)), format="%m/%d/%Y",
                            errors="coerce")
        named = pd.to_datetime(pd.Series([_named_month_date(t) for t in text],
                                         index=df.index, dtype=object))
        us = us.fillna(named)
        is_serial = text.str.fullmatch(EXCEL_SERIAL)
        serial = pd.to_datetime(pd.Series(
            [EXCEL_EPOCH + dt.timedelta(days=int(t)) if s else None
             for t, s in zip(text, is_serial, strict=True)], index=df.index, dtype=object))
        parsed = us.fillna(serial)
        out = out.assign(**{column: parsed, f"_{column}_serial": is_serial & parsed.notna()})
        reading = text.str.strip().str.casefold().map(END_READINGS) if column == "end_date" \
            else pd.Series(None, index=df.index, dtype=object)
        if column == "end_date":
            out = out.assign(end_date_reading=reading.where(parsed.isna(),
                                                            "reported").where(text != "", None))
        bad = df[column].notna() & parsed.isna() & reading.isna()
        wanted = "MM/DD/YYYY or DD-Mon-YYYY date or an Excel serial day" + (
            ", Ongoing or Unknown" if column == "end_date" else "")
        out = mark_rejects(out, bad, "type-error", f"{column} is not a {wanted}: " + text)
    return out


def _read_status(df: pd.DataFrame) -> pd.DataFrame:
    """is_ongoing from `shutdown_status`, else from an `Ongoing` end; contradictions rejected."""
    status = df["shutdown_status"].map(lambda v: None if v is None else v.casefold())
    from_status = status.map(STATUS_VALUES)
    from_end = df["end_date_reading"].map({"ongoing": True})
    ongoing = from_status.where(from_status.notna(), from_end)
    out = df.assign(is_ongoing=ongoing.astype("boolean"))
    out = mark_rejects(out, status.notna() & ~status.isin(STATUS_VALUES), "constraint-error",
                       "shutdown_status must be Ongoing, Ended or Unknown: "
                       + df["shutdown_status"].fillna(""))
    contradiction = out["is_ongoing"].fillna(False).astype(bool) & out["end_date"].notna()
    out = mark_rejects(out, contradiction, "constraint-error",
                       "shutdown_status is Ongoing but an end_date is given")
    ended_but_ongoing = (from_status == False) & (from_end == True)  # noqa: E712 - object dtype
    return mark_rejects(out, ended_but_ongoing, "constraint-error",
                        "shutdown_status is Ended but end_date says Ongoing")


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
                           f"{column} must be Yes/No, TRUE/FALSE or Unknown: "
                           + df[column].fillna(""))
    return out


def _assign_report_years(df: pd.DataFrame) -> pd.DataFrame:
    """report_year: the row's `year`, else the sheet name's single year; null when unknown."""
    def year_of(row: dict) -> tuple[int | None, str | None]:
        sheet_years = [int(y) for y in YEAR_FINDER.findall(row["source_sheet"] or "")]
        if row["year"] is not None:
            if not re.fullmatch(r"[0-9]{4}", row["year"]):
                return None, f"year is not a four-digit year: {row['year']}"
            if sheet_years and int(row["year"]) not in sheet_years:
                return None, (f"year {row['year']} is not a year of sheet "
                              f"{row['source_sheet']!r}")
            return int(row["year"]), None
        return (sheet_years[0] if len(sheet_years) == 1 else None), None

    found = [year_of(r) for r in df[["year", "source_sheet"]].to_dict("records")]
    out = df.assign(report_year=pd.array([y for y, _ in found], dtype="Int64"))
    problems = pd.Series([p for _, p in found], index=df.index, dtype=object)
    return mark_rejects(out, problems.notna(), "constraint-error", problems)


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
    """List (raw name, service_id) for service-based rows: flags first, then free text."""
    service_based = df["shutdown_extent"].fillna("").str.contains("service-based", case=False)

    def platforms(row: dict) -> list[tuple[str, str]]:
        found = [(column, context.services.resolve(name))
                 for column, name in PLATFORM_FLAGS.items() if row[f"_{column}"] is True]
        for column in PLATFORM_TEXT_COLUMNS:
            for name in re.split(r"[;,/]| and ", row[column] or ""):
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
    return out.assign(authority=out["ordered_by"], legal_basis=out["gov_justification"],
                      sheet_row=out["sheet_row"].astype("Int64"))


def _serial_repairs(accepted: pd.DataFrame) -> list[str]:
    """One repair line per date column that had Excel serial days converted."""
    repairs = []
    for column in ("start_date", "end_date"):
        hits = accepted[accepted[f"_{column}_serial"].astype(bool)]
        if len(hits):
            shown = ", ".join(f"line {line} -> {day:%Y-%m-%d}" for line, day in
                              zip(hits["source_line"], hits[column], strict=True))
            repairs.append(f"{column}: {len(hits)} Excel serial day number(s) converted "
                           f"(1900 date system): {shown}")
    return repairs


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean one STOP export or workbook: dates, status, flags, countries, platforms."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(USED_COLUMNS))
        .pipe(require_cells, list(REQUIRED_COLUMNS))
        .pipe(_parse_us_or_serial_dates)
        .pipe(_read_status)
        .pipe(_reject_end_before_start)
        .pipe(_parse_flags)
        .pipe(_assign_report_years)
        .pipe(_parse_durations)
        .pipe(_resolve_countries, context)
        .pipe(_collect_links)
        .pipe(_collect_platforms, context)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    raw = dataclasses.replace(raw, repairs=[*raw.repairs, *_serial_repairs(accepted)])
    return finish(raw, TABLE, clean=accepted, rejects=[rejects],
                  split=_explode_countries_and_platforms(accepted, raw.name))
