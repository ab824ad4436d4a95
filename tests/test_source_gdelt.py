"""GDELT event exports: real 2.0, 1.0 daily and 1.0 backfile lines; constructed edge cases.

Fixtures (tests/fixtures/gdelt/PROVENANCE.md): the `v1_*` and `v2_*` files are real GDELT lines
(57-column backfiles of 1979 and 2010-11, 58-column 1.0 daily files, 61-column 2.0 exports);
`20240121.export.CSV` and its zip are constructed rows in the real layouts, one per rule.
"""

import csv
from pathlib import Path

import pandas as pd
import pytest
from conftest import read_output

import censorlab
from censorlab.errors import RawFileError
from censorlab.reference.crosswalk import Crosswalk
from censorlab.run.driver import run_ingest
from censorlab.sources import gdelt

FIXTURES = Path(__file__).parent / "fixtures" / "gdelt"
DAILY = FIXTURES / "20240121.export.CSV"
ZIPPED = FIXTURES / "20240122000000.export.CSV.zip"
REPO_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
P5_G20 = ["US", "GB", "FR", "RU", "CN", "AR", "AU", "BR", "CA", "DE", "IN", "ID", "IT", "JP",
          "KR", "MX", "SA", "ZA", "TR"]


@pytest.fixture(scope="module")
def context(reference_context):
    return reference_context


def ingest(paths, out, context, **options):
    return run_ingest("gdelt", paths, out, context=context, **options).manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("gdelt")
    return out, ingest([DAILY, ZIPPED], out, context)


def test_fixture_layout():
    widths = [len(line.split("\t")) for line in DAILY.read_text().splitlines()]
    assert widths == [61] * 9 + [58, 56, 62, 61, 61]  # 57 is a layout (backfiles) now


def test_counts_and_accounting(built):
    _, manifest = built
    assert manifest["summary"] == {"files": 2, "rows_in": 17, "rows_out": 7, "rows_rejected": 4,
                                   "rows_filtered": 5, "rows_split": 0, "rows_merged": 1,
                                   "file_errors": 0}
    daily = manifest["inputs"]["20240121.export.CSV"]
    zipped = manifest["inputs"]["20240122000000.export.CSV.zip"]
    assert (daily["rows_read"] + daily["rows_filtered"], daily["rows_filtered"], daily["rows_read"],
            daily["rows_clean"], daily["rows_rejected"], daily["rows_out"]) == (14, 4, 10, 6, 4, 6)
    assert (zipped["rows_read"] + zipped["rows_filtered"], zipped["rows_filtered"],
            zipped["rows_merged"],
            zipped["rows_out"]) == (3, 1, 1, 1)
    assert daily["repairs"] == ["1 GDELT 1.0 lines (58 columns) read with the 1.0 layout"]


def test_events_are_mapped(built):
    out, _ = built
    table = censorlab.load("gdelt_events", out).set_index("event_id")
    assert table.kind.to_dict() == {
        "GDELT-1010": "agreement", "GDELT-1001": "negotiation", "GDELT-1002": "state_visit",
        "GDELT-1003": "sanction", "GDELT-1004": "dispute", "GDELT-1005": "agreement",
        "GDELT-2001": "call"}
    assert (table.country_a + "-" + table.country_b).to_dict()["GDELT-1002"] == "CN-RU"
    assert table.action_country.to_dict() == {
        "GDELT-1010": "TR", "GDELT-1001": "CN", "GDELT-1002": "RU", "GDELT-1003": "US",
        "GDELT-1004": "RU", "GDELT-1005": "IN", "GDELT-2001": "GB"}
    first = table.loc["GDELT-1001"]
    assert first.title == "Express intent to meet or negotiate: RUSSIA -> CHINA"
    assert first.source_urls == ["https://news.example/ru-cn-talks"]
    assert (first.cameo_code, first.goldstein_scale, first.num_mentions) == ("036", 4.0, 10)
    assert first.confidence == "low" and first.date_precision == "day"
    assert first.source_file == "20240121.export.CSV"  # the first file wins the duplicate
    assert table.loc["GDELT-1002"].title.endswith('RUSSIA "KREMLIN"')  # QUOTE_NONE
    assert table.loc["GDELT-1005"].notes.startswith("kind approximate")
    assert table.loc["GDELT-1010"].date == pd.Timestamp("2013-05-01")


def test_rejects(built):
    out, _ = built
    rejects = read_output(out, "rejects").to_pandas()
    assert dict(zip(rejects.source_line, rejects.reason_code, strict=True)) == {
        11: "missing-cell", 12: "extra-cell", 13: "type-error", 14: "constraint-error"}


def test_cameo_set_is_documented():
    assert set(gdelt.DIPLOMATIC_CAMEO) == {"036", "040", "041", "042", "043", "044", "045",
                                           "046", "057", "0811", "163", "1721"}


def test_dask_engine_gives_the_same_content_hash(built, tmp_path, context):
    _, manifest = built
    other = ingest([DAILY, ZIPPED], tmp_path, context, engine="dask", scheduler="synchronous")
    assert other == manifest  # the manifest holds content only: no engine, no timings


def test_order_of_files_changes_only_which_copy_is_kept(tmp_path, context):
    manifest = ingest([ZIPPED, DAILY], tmp_path, context)
    assert manifest["summary"]["rows_out"] == 7 and manifest["summary"]["rows_merged"] == 1


def test_corrupt_zip_is_a_file_error(tmp_path):
    bad = tmp_path / "x.export.CSV.zip"
    bad.write_bytes(ZIPPED.read_bytes()[:40])
    with pytest.raises(RawFileError, match="zip"):
        gdelt.read(bad)


def test_crosswalk_maps_fips_and_cameo():
    crosswalk = Crosswalk()
    fips_to_alpha2, cameo_to_alpha2 = crosswalk.fips_to_alpha2, crosswalk.cameo_to_alpha2
    assert [fips_to_alpha2(c) for c in ("CH", "RS", "UK", "GM", "KS", "TU", "SZ")] == [
        "CN", "RU", "GB", "DE", "KR", "TR", "CH"]
    assert cameo_to_alpha2("CHN") == "CN" and cameo_to_alpha2("AFR") is None
    assert fips_to_alpha2("OD") == "SS"


def test_crosswalk_covers_block_events_and_p5_g20():
    with open(REPO_RAW / "block_events.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    needed = {r["blocking_country"] for r in rows} | {
        c for r in rows for c in r["operator_country"].split(";") if c}
    table = Crosswalk().frame.set_index("iso2")
    needed |= set(P5_G20)
    assert needed <= set(table.index)
    assert (table.loc[sorted(needed), "fips104"] != "").all()
    unverified = table[table.fips104 == ""]
    assert unverified.note.str.startswith("unverified").all()


# --- real GDELT lines: 2.0 (61 columns), 1.0 daily (58), 1.0 historical backfiles (57) ---------

REAL = {
    "v1_backfile_1979.csv": (57, 20, 3), "v1_backfile_201011.csv": (57, 20, 0),
    "v1_daily_20130401.export.CSV": (58, 20, 1), "v1_daily_20141124.export.CSV": (58, 30, 0),
    "v1_daily_20150608.export.CSV": (58, 20, 2),
    "v2_20150218224500.translation.export.CSV": (61, 20, 0),
    "v2_20150218230000.export.CSV": (61, 25, 4), "v2_20200318104500.export.CSV": (61, 25, 0),
}


@pytest.fixture(scope="module")
def real(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("gdelt-real")
    manifest = ingest([FIXTURES / name for name in REAL], out, context)
    return manifest, censorlab.load("gdelt_events", out).set_index("event_id")


def test_every_layout_reads_every_real_line(real):
    manifest, _ = real
    for name, (width, lines, kept) in REAL.items():
        entry = manifest["inputs"][name]
        assert entry["rows_read"] + entry["rows_filtered"] == lines, name
        assert (entry["rows_rejected"], entry["rows_out"]) == (0, kept), name
        if width == 61:
            assert entry["repairs"] == []
        else:
            label = "backfile lines (57 columns" if width == 57 else "lines (58 columns)"
            assert entry["repairs"] == [f"{lines} GDELT 1.0 {label}" + (
                ", no SOURCEURL) read with the backfile layout" if width == 57
                else " read with the 1.0 layout")]


def test_backfile_events_rest_on_gdelts_file_list(real):
    _, table = real
    visit = table.loc["GDELT-230397975"]  # 1979-12-31, USA -> Iran, CAMEO 042
    assert (visit.date, visit.country_a, visit.country_b, visit.kind) == (
        pd.Timestamp("1979-12-31"), "US", "IR", "state_visit")
    assert visit.source_urls == [gdelt.BACKFILE_SOURCE_URL]
    assert visit.notes == gdelt.BACKFILE_NOTE
    daily = table.loc["GDELT-253488860"]  # a 1.0 daily line keeps its article
    assert daily.source_urls[0].startswith("http://zeenews.india.com/") and pd.isna(daily.notes)
    assert table.loc["GDELT-410412353"].source_file == "v2_20150218230000.export.CSV"


def test_the_three_column_lists_are_documented():
    assert gdelt.COLUMNS_V1_BACKFILE == gdelt.COLUMNS_V1[:-1]
    assert gdelt.COLUMNS_V1[-2:] == ("DATEADDED", "SOURCEURL")
    assert [c for c in gdelt.COLUMNS_V2 if c not in gdelt.COLUMNS_V1] == [
        "Actor1Geo_ADM2Code", "Actor2Geo_ADM2Code", "ActionGeo_ADM2Code"]
    for name in ("COLUMNS_V2", "COLUMNS_V1", "COLUMNS_V1_BACKFILE"):
        assert name in gdelt.__doc__
