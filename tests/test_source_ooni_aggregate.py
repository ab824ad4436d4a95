import gzip
from pathlib import Path

import pytest

import censorlab
from censorlab.errors import PartialRunError
from censorlab.run.driver import run_ingest

FIXTURE = Path(__file__).parent / "fixtures" / "ooni_aggregate" / "aggregate.csv"


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


def test_cut_gzip_is_a_file_error(tmp_path, reference_context):
    path = tmp_path / "agg.csv.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes())[:40])
    with pytest.raises(PartialRunError) as info:
        ingest([path], tmp_path / "out", reference_context)
    manifest = info.value.manifest
    assert manifest["tables"]["ooni_aggregate"]["rows"] == 0 and len(manifest["errors"]) == 1
    assert "agg.csv.gz" in str(info.value) and "truncated" in str(info.value)
