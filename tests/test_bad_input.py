"""One fixture per row of PRACTICES.md "Bad input", each built with `censorlab.build`.

Every case writes a tiny raw directory (reference files copied from data/raw, curated CSVs
written here), builds it, and asserts the exact outcome: a RawFileError naming file, line and
value (and no output written), a reject with its reason code, or a recorded repair. The row
accounting invariants are asserted on every fixture that builds.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io

import pandas as pd
import pytest
from conftest import (
    BLOCK_HEADER,
    BLOCK_ROW,
    DIPLOMATIC_HEADER,
    DIPLOMATIC_ROW,
    MAU_HEADER,
    MAU_ROW,
    STILL_IN_FORCE,
    write_raw_dir,
)

import censorlab
from censorlab.errors import PartialRunError, RawFileError
from censorlab.reading.delimited import read_delimited
from censorlab.sources import block_events

CURATED_FILES = ("services.csv", "block_events.csv", "mau.csv", "diplomatic_events.csv")


def assert_accounting(manifest: dict) -> None:
    for name in CURATED_FILES:
        acc = manifest["inputs"][name]
        assert acc["rows_read"] == acc["rows_clean"] + acc["rows_rejected"], acc
        assert acc["rows_clean"] + acc["rows_split"] == acc["rows_out"] + acc["rows_merged"], acc


def build_case(tmp_path, **files):
    """Build a tiny raw dir; return (manifest, {table: frame}) with accounting checked."""
    raw = write_raw_dir(tmp_path / "raw", **files)
    out = tmp_path / "out"
    manifest = censorlab.build(raw, out)
    assert_accounting(manifest)
    censorlab.validate(out)
    tables = {name: censorlab.load(name, out)
              for name in ("block_events", "mau", "diplomatic_events", "rejects")}
    return manifest, tables


def build_error(tmp_path, **files) -> RawFileError:
    """Build a raw dir with one unreadable file; return its RawFileError.

    The one error policy: the file is left out, the rest is published, the manifest and the
    exception name the file, and the table of that file holds none of its rows.
    """
    raw = write_raw_dir(tmp_path / "raw", **files)
    out = tmp_path / "out"
    with pytest.raises(PartialRunError) as info:
        censorlab.build(raw, out)
    (error,) = info.value.file_errors
    manifest = censorlab.load_manifest(out)
    name = error.path.rsplit("/", 1)[-1]
    assert manifest["inputs"][name]["error"] == str(error)
    assert manifest["inputs"][name]["rows_read"] == 0
    assert manifest["errors"] == [f"{name}: {error}"]
    table = name.removesuffix(".csv")
    assert manifest["tables"][table]["rows"] == 0
    assert censorlab.validate(out) == []
    return error


def block(*rows: str) -> str:
    return BLOCK_HEADER + "".join(rows)


def block_row(**changes: str) -> str:
    """BLOCK_ROW with named cells replaced."""
    names, cells = csv.reader(io.StringIO(BLOCK_HEADER + BLOCK_ROW))
    values = dict(zip(names, cells, strict=True))
    values.update(changes)
    return ",".join(_quote(values[n]) for n in names) + "\n"


def _quote(value: str) -> str:
    if any(c in value for c in ',"\n\r'):
        return '"' + value.replace('"', '""') + '"'
    return value


def only_reject(tables, reason: str, line: int = 2, source_file: str = "block_events.csv"):
    rejects = tables["rejects"]
    assert len(rejects) == 1, rejects
    row = rejects.iloc[0]
    assert (row.source_file, row.source_line, row.reason_code) == (source_file, line, reason)
    return row


# --- dates ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("start", "precision", "earliest", "latest"), [
    ("2019-03-01", "day", "2019-03-01", "2019-03-01"),
    ("2019-03", "month", "2019-03-01", "2019-03-31"),
    ("2018", "year", "2018-01-01", "2018-12-31"),
    ("Q2 2018", "quarter", "2018-04-01", "2018-06-30"),
    ("2018-06", "quarter", "2018-04-01", "2018-06-30"),
    ("2019-03-10", "day(approx)", "2019-03-07", "2019-03-13"),
])
def test_mixed_and_partial_dates_keep_precision_and_bounds(tmp_path, start, precision,
                                                           earliest, latest):
    _, tables = build_case(tmp_path, block=block(block_row(
        start_date=start, start_precision=precision, **STILL_IN_FORCE)))
    row = tables["block_events"].iloc[0]
    assert row.start_precision == precision.replace("(approx)", "_approx")
    assert (row.start_earliest_date, row.start_latest_date) == (pd.Timestamp(earliest),
                                                                pd.Timestamp(latest))
    assert tables["rejects"].empty


@pytest.mark.parametrize("start", ["03/2019", "2019/03/01", "March 2019", "2019-02-30"])
def test_undeclared_date_forms_are_type_errors(tmp_path, start):
    _, tables = build_case(tmp_path, block=block(block_row(start_date=start,
                                                           start_precision="month")))
    assert tables["block_events"].empty
    assert start in only_reject(tables, "type-error").detail


def test_ambiguous_day_month_is_rejected_not_guessed(tmp_path):
    manifest, tables = build_case(
        tmp_path, block=block(block_row(start_date="03/04/2019")),
        diplomatic=DIPLOMATIC_HEADER + DIPLOMATIC_ROW.replace("2014-05-20", "03/04/2019"))
    assert tables["block_events"].empty and tables["diplomatic_events"].empty
    rejects = tables["rejects"].sort_values("source_file")
    assert list(rejects.reason_code) == ["type-error", "type-error"]
    assert all("03/04/2019" in d for d in rejects.detail)
    assert manifest["rejects_by_reason"] == {"block_events/type-error": 1,
                                             "diplomatic_events/type-error": 1}


def test_end_before_start_is_rejected_never_swapped(tmp_path):
    _, tables = build_case(tmp_path, block=block(block_row(start_date="2020-05-10",
                                                           end_date="2020-05-01")))
    assert tables["block_events"].empty
    reject = only_reject(tables, "end-before-start")
    assert "2020-05-01" in reject.detail and "2020-05-10" in reject.detail


@pytest.mark.parametrize("end", ["", "ongoing", "present", "Ongoing "])
def test_ongoing_end_is_null(tmp_path, end):
    _, tables = build_case(tmp_path, block=block(block_row(**{**STILL_IN_FORCE,
                                                               "end_date": end})))
    row = tables["block_events"].iloc[0]
    assert pd.isna(row.end_date) and pd.isna(row.end_precision)
    assert pd.isna(row.end_earliest_date) and pd.isna(row.end_latest_date)
    assert tables["rejects"].empty


# --- duplicates and overlaps ---------------------------------------------------------------

def test_same_event_twice_is_merged_keeping_both_urls(tmp_path):
    second = block_row(event_id="RU-2017-WECHAT-B", source_url="https://c.example/3",
                       source_url_2="")
    manifest, tables = build_case(tmp_path, block=block(BLOCK_ROW, second))
    events = tables["block_events"]
    assert len(events) == 1
    row = events.iloc[0]
    assert row.source_urls == ["https://a.example/1", "https://b.example/2",
                               "https://c.example/3"]
    assert row.merged_from == ["RU-2017-WECHAT", "RU-2017-WECHAT-B"]
    assert row.source_lines == [2, 3]
    acc = manifest["inputs"]["block_events.csv"]
    assert (acc["rows_read"], acc["rows_clean"], acc["rows_merged"], acc["rows_out"]) == (2, 2,
                                                                                          1, 1)


def test_same_mau_figure_twice_is_merged(tmp_path):
    manifest, tables = build_case(
        tmp_path, mau=MAU_HEADER + MAU_ROW + MAU_ROW.replace("m.example/1", "m.example/2"))
    assert tables["mau"].iloc[0].source_urls == ["https://m.example/1", "https://m.example/2"]
    assert manifest["inputs"]["mau.csv"]["rows_merged"] == 1


def test_overlapping_periods_are_merged_with_lineage(tmp_path):
    second = block_row(event_id="RU-2017-WECHAT-2", start_date="2017-05-09",
                       end_date="2017-06-01", source_url="https://c.example/3", source_url_2="")
    manifest, tables = build_case(tmp_path, block=block(BLOCK_ROW, second))
    row = tables["block_events"].iloc[0]
    assert len(tables["block_events"]) == 1
    assert row.merged_from == ["RU-2017-WECHAT", "RU-2017-WECHAT-2"]
    assert (row.start_date, row.end_date) == (pd.Timestamp("2017-05-04"),
                                              pd.Timestamp("2017-06-01"))
    assert manifest["inputs"]["block_events.csv"]["rows_merged"] == 1


def test_separate_periods_and_scopes_stay_apart(tmp_path):
    later = block_row(event_id="RU-2018-WECHAT", start_date="2018-01-01", end_date="2018-01-02")
    throttled = block_row(event_id="RU-2017-WECHAT-T", scope="throttling")
    _, tables = build_case(tmp_path, block=block(BLOCK_ROW, later, throttled))
    assert sorted(tables["block_events"].event_id) == ["RU-2017-WECHAT", "RU-2017-WECHAT-T",
                                                       "RU-2018-WECHAT"]


# --- names ---------------------------------------------------------------------------------

@pytest.mark.parametrize("country", ["Russia", "Russian Federation", "RUS", "643", "Россия",
                                     "RU", "Russia*", " russia "])
def test_country_aliases_resolve_to_iso(tmp_path, country):
    _, tables = build_case(
        tmp_path, block=block(block_row(blocking_country=country)),
        diplomatic=DIPLOMATIC_HEADER + DIPLOMATIC_ROW.replace(",RU,", f",{_quote(country)},"))
    assert tables["block_events"].iloc[0].blocking_country == "RU"
    assert tables["diplomatic_events"].iloc[0].country_a == "RU"


@pytest.mark.parametrize("country", ["Rusia", "Russland?", "ZZ", "999"])
def test_unknown_country_is_rejected_without_guessing(tmp_path, country):
    _, tables = build_case(tmp_path, block=block(block_row(blocking_country=country)))
    assert tables["block_events"].empty
    assert country in only_reject(tables, "unknown-country").detail


@pytest.mark.parametrize(("name", "service_id"), [
    ("WeChat", "wechat"), ("Weixin", "wechat"), ("微信", "wechat"), ("ＷｅＣｈａｔ", "wechat"),
    ("  weCHAT ", "wechat"), ("Twitter", "twitter"), ("X", "twitter"),
])
def test_service_aliases_resolve_after_nfkc_casefold(tmp_path, name, service_id):
    _, tables = build_case(tmp_path, block=block(block_row(service=name)),
                           mau=MAU_HEADER + MAU_ROW.replace("WeChat", name))
    assert tables["block_events"].iloc[0].service_id == service_id
    assert tables["mau"].iloc[0].service_id == service_id


def test_unknown_service_is_rejected(tmp_path):
    _, tables = build_case(tmp_path, block=block(block_row(service="WeChatt")))
    assert "WeChatt" in only_reject(tables, "unknown-service").detail


# --- numbers -------------------------------------------------------------------------------

@pytest.mark.parametrize(("cell", "users", "qualifier", "note"), [
    ("889", 889_000_000, None, None),
    ("889 million[3]", 889_000_000, None, "footnote marker stripped from '889 million[3]'"),
    ("1.2B", 1_200_000_000, None, None),
    ("500M+", 500_000_000, "at_least", None),
    ('"1,2 млрд"', 1_200_000_000, None, None),
    ("over 50 million", 50_000_000, "at_least", None),
    ("about 1.5", 1_500_000, "approx", None),
    ("29-40", 29_000_000, "range", "range as reported: 29-40"),
])
def test_numbers_with_units_and_footnotes(tmp_path, cell, users, qualifier, note):
    _, tables = build_case(tmp_path, mau=MAU_HEADER + MAU_ROW.replace(",889,", f",{cell},"))
    row = tables["mau"].iloc[0]
    assert row.mau == users
    assert (None if pd.isna(row.mau_qualifier) else row.mau_qualifier) == qualifier
    assert (None if pd.isna(row.notes) else row.notes) == note
    assert tables["rejects"].empty


@pytest.mark.parametrize(("cell", "reason"), [
    ("9000000", "implausible-value"), ("12 zillion", "type-error"), ("lots", "type-error"),
    ('"1,2,3"', "type-error"), ("40-29", "type-error"),
])
def test_bad_numbers_are_rejected(tmp_path, cell, reason):
    _, tables = build_case(tmp_path, mau=MAU_HEADER + MAU_ROW.replace(",889,", f",{cell},"))
    assert tables["mau"].empty
    only_reject(tables, reason, source_file="mau.csv")


# --- encodings -----------------------------------------------------------------------------

def test_windows_1251_bytes_in_utf8_source_stop_the_file_with_byte_offset(tmp_path):
    good = (BLOCK_HEADER + BLOCK_ROW).encode("utf-8")
    bad = block_row(event_id="RU-2018-TG", service="Telegram",
                    blocking_country="Россия").encode("cp1251")
    error = build_error(tmp_path, block=good + bad)
    offset = len(good) + bad.index("Россия".encode("cp1251"))
    assert error.path.endswith("block_events.csv") and error.line == 3
    assert error.value == "Россия".encode("cp1251")[:1]
    assert f"byte offset {offset}" in str(error)


def test_utf8_bom_is_stripped_and_the_repair_recorded(tmp_path):
    manifest, tables = build_case(tmp_path,
                                  block=codecs.BOM_UTF8 + block(BLOCK_ROW).encode("utf-8"))
    assert tables["block_events"].iloc[0].event_id == "RU-2017-WECHAT"
    assert manifest["inputs"]["block_events.csv"]["repairs"] == [
        "stripped utf-8 byte-order mark"]
    assert manifest["inputs"]["mau.csv"]["repairs"] == []


def test_utf16_with_bom_is_decoded_and_the_repair_recorded(tmp_path):
    manifest, tables = build_case(tmp_path, block=block(BLOCK_ROW).encode("utf-16"))
    assert tables["block_events"].iloc[0].blocking_country == "RU"
    [repair] = manifest["inputs"]["block_events.csv"]["repairs"]
    assert "utf-16" in repair and "utf-8" in repair


# --- CSV injection, huge and broken fields ------------------------------------------------

def test_csv_injection_cells_are_stored_verbatim(tmp_path):
    cells = {"authority": "=HYPERLINK(\"http://evil.example\")", "legal_basis": "+1+1",
             "notes": "-2+3", "operator": "@SUM(A1:A2)"}
    _, tables = build_case(tmp_path, block=block(block_row(**cells)))
    row = tables["block_events"].iloc[0]
    assert (row.authority, row.legal_basis, row.notes, row.operator_name) == (
        cells["authority"], cells["legal_basis"], cells["notes"], cells["operator"])


def test_huge_field_is_rejected_and_the_rest_kept(tmp_path):
    huge = block_row(event_id="RU-2017-HUGE", notes="x" * 5_000_000)
    manifest, tables = build_case(tmp_path, block=block(BLOCK_ROW, huge))
    assert list(tables["block_events"].event_id) == ["RU-2017-WECHAT"]
    reject = only_reject(tables, "field-too-large", line=3)
    assert "notes" in reject.detail and len(reject.raw_text) <= 2000
    acc = manifest["inputs"]["block_events.csv"]
    assert (acc["rows_read"], acc["rows_clean"], acc["rows_rejected"]) == (2, 1, 1)


def test_unbalanced_quote_stops_the_file_naming_the_line(tmp_path):
    broken = BLOCK_ROW.replace("Roskomnadzor", '"Roskomnadzor')
    error = build_error(tmp_path, block=block(BLOCK_ROW, broken, BLOCK_ROW))
    assert error.path.endswith("block_events.csv") and error.line == 3
    assert "unbalanced quote" in str(error)


def test_truncated_csv_last_line_is_a_missing_cell_reject(tmp_path):
    manifest, tables = build_case(tmp_path, block=block(BLOCK_ROW, BLOCK_ROW[:60]))
    assert len(tables["block_events"]) == 1
    reject = only_reject(tables, "missing-cell", line=3)
    assert reject.raw_text == BLOCK_ROW[:60]
    assert manifest["inputs"]["block_events.csv"]["rows_read"] == 2


def test_truncated_gzip_stops_the_file(tmp_path):
    path = tmp_path / "block_events.csv.gz"
    path.write_bytes(gzip.compress(block(BLOCK_ROW).encode())[:-12])
    with pytest.raises(RawFileError) as info:
        read_delimited(path, dataset="block_events",
                       required_columns=block_events.REQUIRED_COLUMNS)
    assert info.value.path == str(path) and "truncated" in str(info.value)


def test_whole_gzip_reads(tmp_path):
    path = tmp_path / "block_events.csv.gz"
    path.write_bytes(gzip.compress(block(BLOCK_ROW).encode()))
    raw = read_delimited(path, dataset="block_events",
                         required_columns=block_events.REQUIRED_COLUMNS)
    assert raw.rows_read == 1 and raw.rejects.empty


# --- headers and cell counts ---------------------------------------------------------------

def test_missing_header_stops_the_file(tmp_path):
    error = build_error(tmp_path, block=BLOCK_ROW)
    assert error.line == 1 and error.path.endswith("block_events.csv")


def test_header_lacking_a_required_column_stops_the_file(tmp_path):
    header = BLOCK_HEADER.replace("blocking_country", "country")
    error = build_error(tmp_path, block=header + BLOCK_ROW)
    assert error.line == 1 and "blocking_country" in str(error)


def test_duplicated_header_stops_the_file(tmp_path):
    header = BLOCK_HEADER.replace("legal_basis", "notes")
    error = build_error(tmp_path, block=header + BLOCK_ROW)
    assert (error.line, error.value) == (1, "notes") and "duplicate" in str(error)


def test_empty_file_stops_the_file(tmp_path):
    error = build_error(tmp_path, mau="")
    assert error.path.endswith("mau.csv") and error.line == 1


def test_extra_and_missing_cells_are_rejected(tmp_path):
    extra = BLOCK_ROW.replace("high: registry entry", "high,surplus")
    missing = BLOCK_ROW.replace(",high: registry entry", "")
    manifest, tables = build_case(tmp_path, block=block(BLOCK_ROW, extra, missing))
    rejects = tables["rejects"].sort_values("source_line")
    assert list(zip(rejects.source_line, rejects.reason_code, strict=True)) == [
        (3, "extra-cell"), (4, "missing-cell")]
    acc = manifest["inputs"]["block_events.csv"]
    assert (acc["rows_read"], acc["rows_clean"], acc["rows_rejected"], acc["rows_out"]) == (
        3, 1, 2, 1)


def test_multi_service_row_accounting_counts_the_split(tmp_path):
    row = block_row(event_id="TR-2016-X", service="Twitter; Facebook; YouTube",
                    operator_country="US", blocking_country="TR", scope="throttling")
    manifest, tables = build_case(tmp_path, block=block(row))
    assert len(tables["block_events"]) == 3
    acc = manifest["inputs"]["block_events.csv"]
    assert (acc["rows_read"], acc["rows_clean"], acc["rows_split"], acc["rows_out"]) == (1, 1,
                                                                                         2, 3)
