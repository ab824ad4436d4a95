"""Access Now STOP: the real 2016-2022 workbook, a composed CSV export, constructed edge cases.

Fixtures (tests/fixtures/stop/PROVENANCE.md): `keepiton_stop_2016-2022_trimmed.xlsx` is a real
Access Now workbook trimmed to 30 rows per sheet; `stop_2020_export_COMPOSED.csv` is that
workbook's real "2020 Data" rows written in the CSV layout the issue describes (no real CSV
export was found); `stop_recent.csv` and `stop_2019.csv` are constructed rows, one per rule.
"""

from pathlib import Path

import openpyxl
import pandas as pd
import pytest

import censorlab
from censorlab.cleaning.steps import REASON
from censorlab.errors import RawFileError
from censorlab.run.driver import run_ingest
from censorlab.sources import stop

FIXTURES = Path(__file__).parent / "fixtures" / "stop"
RECENT = FIXTURES / "stop_recent.csv"
OLD = FIXTURES / "stop_2019.csv"
WORKBOOK = FIXTURES / "keepiton_stop_2016-2022_trimmed.xlsx"
EXPORT = FIXTURES / "stop_2020_export_COMPOSED.csv"


@pytest.fixture(scope="module")
def context(reference_context):
    return reference_context


def ingest(paths, out, context, **options):
    return run_ingest("stop", paths, out, context=context, **options).manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("stop")
    manifest = ingest([RECENT, OLD], out, context)
    return out, manifest, censorlab.load("stop_events", out).set_index("event_id")


def test_counts_and_accounting(built):
    _, manifest, _ = built
    assert manifest["summary"] == {"files": 2, "rows_in": 16, "rows_out": 12, "rows_rejected": 9,
                                   "rows_filtered": 0, "rows_split": 6, "rows_merged": 1,
                                   "file_errors": 0}
    recent, old = manifest["inputs"]["stop_recent.csv"], manifest["inputs"]["stop_2019.csv"]
    assert (recent["rows_read"], recent["rows_clean"], recent["rows_rejected"],
            recent["rows_split"], recent["rows_merged"], recent["rows_out"]) == (13, 5, 8, 5, 1, 9)
    assert (old["rows_read"], old["rows_clean"], old["rows_rejected"], old["rows_split"],
            old["rows_out"]) == (3, 2, 1, 1, 3)


def test_multi_country_service_block_splits(built):
    _, _, table = built
    line3 = table[(table.source_file == "stop_recent.csv") & (table.source_line == 3)]
    assert sorted(zip(line3.blocking_country, line3.service_id, strict=True)) == [
        ("IQ", "instagram"), ("IQ", "whatsapp"), ("IQ", "youtube"),
        ("IR", "instagram"), ("IR", "whatsapp"), ("IR", "youtube")]
    assert line3.is_ongoing.all() and line3.end_date.isna().all()
    assert set(line3.affected_service_raw) == {"instagram_affected", "whatsapp_affected",
                                               "YouTube"}
    assert line3.source_urls.iloc[0] == ["https://news.example/b", "https://news.example/c"]


def test_network_shutdown_and_durations(built):
    _, _, table = built
    india = table.loc["STOP-stop_recent-2-IN"]
    assert (india.blocking_country, india.start_date, india.end_date) == (
        "IN", pd.Timestamp("2023-01-15"), pd.Timestamp("2023-01-18"))
    assert not india.is_service_based and pd.isna(india.service_id)
    assert india.is_ongoing == False  # noqa: E712 - pandas boolean scalar
    assert india.reported_duration_text == "72" and pd.isna(india.reported_duration_hours)
    assert (india.authority, india.legal_basis) == ("State government", "Public safety")
    assert table.loc["STOP-stop_recent-4-TR-twitter"].reported_duration_hours == 12.0
    myanmar = table.loc["STOP-stop_recent-11-MM"]
    assert myanmar.is_service_based and pd.isna(myanmar.service_id)
    assert myanmar.reported_duration_text == "Curfew Style"
    assert pd.isna(myanmar.reported_duration_hours) and pd.isna(myanmar.end_date)


def test_older_header_is_aligned(built):
    _, _, table = built
    sudan = table.loc["STOP-stop_2019-2-SD"]
    assert sudan.reported_duration_hours == 864.0 and sudan.reported_duration_text == "36 days"
    assert sudan.legal_basis == "National security"
    assert sudan.source_urls == ["https://news.example/sd"] and pd.isna(sudan.is_ongoing)
    congo = table[table.blocking_country == "CD"]
    assert sorted(congo.service_id) == ["facebook", "whatsapp"]
    assert (congo.reported_duration_hours == 20.0).all()


def test_rejects(built):
    out, _, _ = built
    rejects = censorlab.load("rejects", out)
    got = {(r.source_file, r.source_line): r.reason_code for r in rejects.itertuples()}
    assert got == {
        ("stop_2019.csv", 4): "constraint-error",
        ("stop_recent.csv", 5): "type-error",
        ("stop_recent.csv", 6): "type-error",
        ("stop_recent.csv", 7): "unknown-country",
        ("stop_recent.csv", 8): "constraint-error",
        ("stop_recent.csv", 9): "end-before-start",
        ("stop_recent.csv", 10): "constraint-error",
        ("stop_recent.csv", 12): "missing-cell",
        ("stop_recent.csv", 13): "extra-cell",
    }
    detail = rejects.set_index("source_line").detail
    assert "Ongoing but an end_date" in detail[10]
    assert "2023-03-04" in detail[5]


def test_dask_engine_gives_the_same_content_hash(built, tmp_path, context):
    _, manifest, _ = built
    other = ingest([RECENT, OLD], tmp_path, context, engine="dask", scheduler="synchronous")
    assert other == manifest


def test_cli_ingest(tmp_path):
    from censorlab.cli import main

    assert main(["ingest", "stop", str(FIXTURES), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "stop_events.parquet").exists()
    inputs = censorlab.load_manifest(tmp_path)["inputs"]
    assert inputs["stop/stop_recent.csv"]["rows_read"] == 13
    assert inputs["stop/keepiton_stop_2016-2022_trimmed.xlsx"]["rows_read"] == 150


# --- the real workbook (every sheet) and the composed CSV export -----------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("stop-real")
    manifest = ingest([WORKBOOK, EXPORT], out, context)
    return manifest, censorlab.load("stop_events", out), censorlab.load("rejects", out)


def rows_of(table, sheet, row):
    hit = table[(table.source_sheet == sheet) & (table.sheet_row == row)]
    return hit.sort_values("event_id")


def test_every_sheet_is_read_with_its_year_and_the_headerless_sheet_is_named(real):
    manifest, table, _ = real
    book = manifest["inputs"]["keepiton_stop_2016-2022_trimmed.xlsx"]
    assert (book["rows_read"], book["rows_clean"], book["rows_rejected"], book["rows_split"],
            book["rows_out"]) == (150, 140, 10, 114, 254)
    assert any("'Need more details'" in r and "3 row(s) were not read" in r
               for r in book["repairs"])
    assert any("92 formula cell(s) carry no cached value" in r for r in book["repairs"])
    years = set(zip(table.source_sheet.dropna(), table.report_year.dropna(), strict=True))
    assert years == {("2022 Data", 2022), ("2021 Data", 2021), ("2020 Data", 2020),
                     ("2019", 2019), ("2016+2017+2018 ", 2016), ("2016+2017+2018 ", 2017),
                     ("2016+2017+2018 ", 2018)}
    # the sheet-local row and the file-wide line point at the same record
    venezuela = rows_of(table, "2020 Data", 10)
    assert set(venezuela.source_line) == {72}


def test_every_header_variant_maps_its_platforms(real):
    _, table, _ = real
    # 2020 Data: lower-case flags Yes/No plus other_affected
    assert list(rows_of(table, "2020 Data", 10).service_id) == [
        "facebook", "facebook-messenger", "instagram", "twitter", "youtube"]
    # 2019: `full or service-based`, capitalised `Facebook_affected`, boolean cells,
    # `other_service_details (specify) `
    chad = rows_of(table, "2019", 2)
    assert (chad.blocking_country.unique().tolist(), sorted(chad.service_id)) == (
        ["TD"], ["facebook", "instagram", "twitter", "viber", "whatsapp", "youtube"])
    # 2016+2017+2018: `shutdown_type_group`, no flags, platforms in `service_details`
    brazil = rows_of(table, "2016+2017+2018 ", 14)
    assert (brazil.service_id.tolist(), brazil.shutdown_extent.tolist()) == (
        ["whatsapp"], ["Service-based"])
    assert rows_of(table, "2016+2017+2018 ", 2).shutdown_type.tolist() == [
        "Broadband Internet, Mobile Internet"]  # that sheet's shutdown_type, kept as reported


def test_unknown_in_a_flag_or_status_is_null_never_a_reject(real):
    _, table, rejects = real
    # Ethiopia 2020-01-03: Instagram and Telegram `Unknown`, the three others `Yes`
    assert sorted(rows_of(table, "2020 Data", 9).service_id) == ["facebook", "twitter",
                                                                  "whatsapp"]
    india = rows_of(table, "2022 Data", 31)  # shutdown_status `Unknown`
    assert india.is_ongoing.isna().all() and india.end_date.isna().all()
    assert not rejects.detail.str.contains("_affected|shutdown_status").any()


def test_ongoing_and_unknown_ends_are_read_not_rejected(real):
    _, table, _ = real
    yemen = rows_of(table, "2019", 16).iloc[0]  # end_date `Unkown ` (sic)
    assert (pd.isna(yemen.end_date), yemen.end_date_reading, pd.isna(yemen.is_ongoing)) == (
        True, "unknown", True)
    bangladesh = rows_of(table, "2019", 29).iloc[0]  # end_date `Ongoing `
    assert (pd.isna(bangladesh.end_date), bangladesh.end_date_reading,
            bool(bangladesh.is_ongoing)) == (True, "ongoing", True)
    fata = rows_of(table, "2021 Data", 2).iloc[0]
    rakhine = rows_of(table, "2021 Data", 3).iloc[0]
    assert (fata.blocking_country, fata.start_date, fata.end_date) == (
        "PK", pd.Timestamp("2016-06-12"), pd.Timestamp("2021-12-28"))
    assert (rakhine.blocking_country, rakhine.start_date, rakhine.end_date) == (
        "MM", pd.Timestamp("2019-06-22"), pd.Timestamp("2021-02-03"))


def test_what_the_workbook_still_cannot_give_is_rejected_with_its_reason(real):
    _, _, rejects = real
    book = rejects[rejects.source_file == "keepiton_stop_2016-2022_trimmed.xlsx"]
    got = dict(zip(book.source_line, book.reason_code, strict=True))
    assert got == {38: "missing-cell", 41: "missing-cell", 70: "missing-cell",
                   81: "end-before-start", 82: "missing-cell", 86: "missing-cell",
                   99: "unknown-country", 131: "missing-cell", 151: "type-error",
                   152: "type-error"}
    free_text = book.set_index("source_line").loc[151]
    assert "4/1/2018 upon CAF visit" in free_text.detail
    assert free_text.raw_text.startswith("2016+2017+2018 !27: 2017,09/30/2017,4/1/2018 upon")


def test_the_csv_export_skips_its_note_row_and_reads_the_2019_header(real):
    manifest, table, rejects = real
    export = manifest["inputs"]["stop_2020_export_COMPOSED.csv"]
    assert (export["rows_read"], export["rows_clean"], export["rows_rejected"],
            export["rows_out"]) == (30, 26, 4, 54)
    assert export["repairs"][0].startswith("line 1-1: skipped 1 note row(s) above the header")
    assert export["repairs"][1] == ("end_date: 1 Excel serial day number(s) converted (1900 "
                                    "date system): line 28 -> 2020-12-07")
    rows = table[table.source_file == "stop_2020_export_COMPOSED.csv"]
    venezuela = rows[rows.source_line == 11]
    assert sorted(venezuela.service_id) == ["facebook", "facebook-messenger", "instagram",
                                             "twitter", "youtube"]
    belarus = rows[rows.source_line == 28]
    assert set(belarus.end_date) == {pd.Timestamp("2020-12-07")} and len(belarus) == 7
    # Mali 2020-06-19 (`Ongoing`) has no link: rejected for that, not for its end
    assert rejects.set_index(["source_file", "source_line"]).loc[
        ("stop_2020_export_COMPOSED.csv", 25), "reason_code"] == "missing-cell"
    assert rows[rows.end_date_reading == "unknown"].source_line.nunique() == 7
    assert rows.source_sheet.isna().all() and rows.report_year.isna().all()


def test_the_2016_2018_sheets_named_month_dates_as_a_csv_export_writes_them():
    frame = pd.DataFrame({"start_date": ["26-Jan-2016", "3-September-2017", "31-Feb-2016",
                                         "26-Sept-2016", "26-01-2016"],
                          "end_date": [None] * 5})
    parsed = stop._parse_us_or_serial_dates(frame.pipe(stop.start_marking))
    assert list(parsed.start_date[:2]) == [pd.Timestamp("2016-01-26"),
                                           pd.Timestamp("2017-09-03")]
    assert parsed.start_date[2:].isna().all()
    assert parsed[REASON].tolist() == [None, None, "type-error", "type-error", "type-error"]


def test_excel_serial_days_follow_the_1900_date_system():
    frame = pd.DataFrame({"start_date": ["43831", "1/1/2020"], "end_date": ["44166", None]})
    parsed = stop._parse_us_or_serial_dates(frame.pipe(stop.start_marking))
    assert list(parsed.start_date) == [pd.Timestamp("2020-01-01")] * 2
    assert parsed.end_date.iloc[0] == pd.Timestamp("2020-12-01")  # the 44166
    assert list(parsed._start_date_serial) == [True, False]


@pytest.mark.parametrize(("header", "message"), [
    ("start_date,end_date,country,shutdown_extent,other notes\n", "maps no service column"),
    ("start_date,country,news_link,info_source_link,facebook_affected\n", "duplicate-label"),
    ("note,,\n" * 11, "no STOP header"),
])
def test_a_header_that_would_lose_rows_silently_stops_the_file(tmp_path, header, message):
    path = tmp_path / "stop.csv"
    path.write_text(header + "1/1/2020,India,Full network,,\n", encoding="utf-8")
    with pytest.raises(RawFileError, match=message):
        stop.read(path)


def test_a_workbook_sheet_without_a_service_column_stops_the_file(tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "2023 Data"
    book.active.append(["start_date", "country", "shutdown_extent"])
    path = tmp_path / "stop.xlsx"
    book.save(path)
    with pytest.raises(RawFileError, match="maps no service column") as error:
        stop.read(path)
    assert error.value.path.endswith("stop.xlsx#2023 Data")
