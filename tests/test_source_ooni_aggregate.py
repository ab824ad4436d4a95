"""OONI aggregation API CSV: OONI's own expected API output (both layouts), constructed rows.

Fixtures (tests/fixtures/ooni_aggregate/PROVENANCE.md): the `hourly_*`, `daily_*`, `noaxis_*`
and `old_*` files are the exact CSV texts OONI's integration tests expect from the API (current
ClickHouse layout with `ok_count`, and the 2021 layout without it);
`old_layout_overlapping_counters_COMPOSED.csv` puts real counts into the old layout;
`aggregate.csv` is constructed, one row per rule.
"""

import gzip
from pathlib import Path

import pandas as pd
import pytest
from conftest import published

import censorlab
from censorlab.errors import NothingReadError, PartialRunError
from censorlab.run.driver import run_ingest

FIXTURES = Path(__file__).parent / "fixtures" / "ooni_aggregate"
FIXTURE = FIXTURES / "aggregate.csv"
HOURLY = FIXTURES / "hourly_1d_measurement_start_day_IT_AS30722_2021-07-09.csv"
DAILY_2D = FIXTURES / "daily_2d_day_x_probe_asn_IT_twitter_2021-07-09.csv"
NO_AXIS = FIXTURES / "noaxis_with_ok_count_CH_AS3303_2021-07-09.csv"
OLD_DAILY = FIXTURES / "old_daily_1d_no_ok_count_BR_AS8167_2020-01.csv"
OLD_2D = FIXTURES / "old_daily_2d_no_ok_count_DE_twitter_2020-01-02.csv"
OLD_NO_AXIS = FIXTURES / "old_noaxis_no_ok_count_BR_AS8167_2020-01.csv"
OVERLAP = FIXTURES / "old_layout_overlapping_counters_COMPOSED.csv"


def ingest(paths, out, context):
    return run_ingest("ooni-aggregate", paths, out, context=context, workers=1).manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory, reference_context):
    out = tmp_path_factory.mktemp("agg")
    return out, ingest([FIXTURE], out, reference_context)


def test_rows_and_counts(built):
    out, manifest = built
    table = censorlab.load("ooni_aggregate", out)
    assert list(table.source_line) == [2, 3, 4, 8]
    assert list(table.measurement_count) == [100, 100, 95, 10]
    assert list(table.measurement_start_day.dt.strftime("%Y-%m-%d")) == [
        "2018-04-15", "2018-04-16", "2018-04-17", "2018-04-20"]
    # a day file: its `2018-04-20T00:00:00Z` spelling is still a day
    assert set(table.time_grain) == {"day"}
    assert set(table.probe_cc) == {"RU"} and set(table.test_name) == {"telegram"}
    assert table.probe_asn.isna().all() and table.domain.isna().all()


def test_rejects_and_accounting(built):
    out, manifest = built
    rejects = censorlab.load("rejects", out).set_index("source_line")
    assert rejects.reason_code.to_dict() == {
        5: "constraint-error", 6: "type-error", 7: "type-error", 9: "constraint-error",
        10: "missing-cell"}
    assert "measurement_count = 99" in rejects.loc[5, "detail"]
    acc = manifest["inputs"]["aggregate.csv"]
    assert (acc["rows_read"], acc["rows_clean"], acc["rows_rejected"], acc["rows_out"]) == (
        9, 4, 5, 4)
    assert manifest["summary"]["rows_out"] == 4 and manifest["errors"] == []
    assert manifest["rejects_by_reason"] == {"ooni_aggregate/constraint-error": 2,
                                             "ooni_aggregate/missing-cell": 1,
                                             "ooni_aggregate/type-error": 2}


def test_columns_found_by_name_and_asn_forms(tmp_path, reference_context):
    path = tmp_path / "agg.csv.gz"
    text = ("probe_asn,measurement_count,ok_count,failure_count,confirmed_count,anomaly_count,"
            "blocking_type\nAS12389,3,1,1,1,0,tcp_ip\n8359,2,2,0,0,0,\n")
    path.write_bytes(gzip.compress(text.encode()))
    manifest = ingest([path], tmp_path / "out", reference_context)
    table = censorlab.load("ooni_aggregate", tmp_path / "out")
    assert sorted(table.probe_asn) == [8359, 12389]
    assert manifest["tables"]["ooni_aggregate"]["rows"] == 2


# --- OONI's own expected API output: both grains, both layouts ---------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory, reference_context):
    out = tmp_path_factory.mktemp("agg-real")
    files = sorted(p for p in FIXTURES.glob("*.csv") if p != FIXTURE)
    manifest = ingest(files, out, reference_context)
    table = censorlab.load("ooni_aggregate", out)
    return manifest, {name: rows.reset_index(drop=True)
                      for name, rows in table.groupby("source_file")}


def test_hourly_buckets_keep_their_hour_and_grain(real):
    _, tables = real
    hourly = tables[HOURLY.name]
    assert list(hourly.period_start_time.dt.strftime("%H")) == [
        "02", "03", "04", "07", "09", "10", "12", "19"]
    assert str(hourly.period_start_time.dt.tz) == "UTC"
    assert set(hourly.time_grain) == {"hour"}
    assert set(hourly.measurement_start_day) == {pd.Timestamp("2021-07-09")}
    assert (list(hourly.measurement_count), list(hourly.ok_count)) == (
        [4, 1, 1, 1, 3, 1, 1, 1], [4, 1, 1, 1, 3, 1, 1, 1])


def test_daily_buckets_and_files_without_a_time_axis(real):
    manifest, tables = real
    daily = tables[DAILY_2D.name]
    assert set(daily.time_grain) == {"day"} and list(daily.probe_asn) == [3269, 12874, 30722]
    assert set(daily.period_start_time) == {pd.Timestamp("2021-07-09", tz="UTC")}
    no_axis = tables[NO_AXIS.name].iloc[0]
    assert pd.isna(no_axis.time_grain) and pd.isna(no_axis.period_start_time)
    assert (no_axis.anomaly_count, no_axis.failure_count, no_axis.ok_count,
            no_axis.measurement_count) == (187, 5, 1497, 1689)
    assert manifest["summary"]["rows_rejected"] == 0  # every real row reads


def test_the_layout_without_ok_count_derives_it_only_where_determined(real):
    manifest, tables = real
    old = tables[OLD_DAILY.name]
    assert list(old.ok_count) == list(old.measurement_count - old.anomaly_count)
    assert list(old.ok_count)[:3] == [5, 36, 44]
    assert tables[OLD_2D.name].set_index("probe_asn").loc[29562, "ok_count"] == 0
    assert tables[OLD_NO_AXIS.name].ok_count.tolist() == [337]
    repair = manifest["inputs"][OLD_DAILY.name]["repairs"]
    assert repair == ["ok_count absent (the 2021 API layout): derived as measurement_count minus "
                      "the anomaly, confirmed or failure count on 10 row(s) where at most one of "
                      "them is non-zero (or one equals measurement_count); null on 0 row(s) "
                      "whose counters may overlap"]
    # two non-zero counters that may overlap: no ok_count; one equal to the total: 0
    overlap = tables[OVERLAP.name]
    assert overlap.ok_count.isna().tolist() == [True, False] and overlap.ok_count[1] == 0
    assert "null on 1 row(s)" in manifest["inputs"][OVERLAP.name]["repairs"][0]


@pytest.mark.parametrize(("bucket", "problem"), [
    ("2021-07-09T02:30:00Z", "is not the start of an hour"),
    ("2021-02-30T02:00:00Z", "is not a calendar date"),
    ("2021-07-09", "is a date in an hour-grain file"),
])
def test_a_bucket_out_of_form_is_a_type_error(tmp_path, reference_context, bucket, problem):
    path = tmp_path / "agg.csv"
    path.write_text(HOURLY.read_text() + f"0,0,0,1,{bucket},1\r\n", encoding="utf-8")
    ingest([path], tmp_path / "out", reference_context)
    (reject,) = censorlab.load("rejects", tmp_path / "out").itertuples()
    assert (reject.reason_code, reject.source_line) == ("type-error", 10)
    assert problem in reject.detail


def test_cut_gzip_is_a_file_error(tmp_path, reference_context):
    path = tmp_path / "agg.csv.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes())[:40])
    with pytest.raises(PartialRunError) as info:
        ingest([path, HOURLY], tmp_path / "out", reference_context)
    manifest = info.value.manifest
    assert manifest["tables"]["ooni_aggregate"]["rows"] == 8 and len(manifest["errors"]) == 1
    assert "agg.csv.gz" in str(info.value) and "truncated" in str(info.value)


def test_a_run_that_read_nothing_publishes_nothing(tmp_path, reference_context):
    out = tmp_path / "out"
    first = ingest([HOURLY], out, reference_context)
    generation, _ = published(out)
    cut = tmp_path / "agg.csv.gz"
    cut.write_bytes(gzip.compress(FIXTURE.read_bytes())[:40])
    with pytest.raises(NothingReadError, match="nothing was published") as info:
        ingest([cut], out, reference_context)
    assert "agg.csv.gz" in str(info.value.file_errors[0].path)
    assert published(out)[0] == generation and censorlab.load_manifest(out) == first
    assert len(list((out / ".censorlab" / "generations").iterdir())) == 1
    fresh = tmp_path / "fresh"
    with pytest.raises(NothingReadError):
        ingest([cut], fresh, reference_context)
    assert not (fresh / "manifest.json").exists() and not (fresh / "current").exists()
