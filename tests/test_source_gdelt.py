"""GDELT event exports: constructed fixtures in the real 61/58-column layout."""

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
    assert widths == [61] * 9 + [58, 57, 62, 61, 61]


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
