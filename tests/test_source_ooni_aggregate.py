import gzip
from pathlib import Path

import pandas as pd
import pytest

from censorlab.sources import ooni_aggregate
from censorlab.storage import read_frame

FIXTURE = Path(__file__).parent / "fixtures" / "ooni" / "aggregate.csv"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    out = tmp_path_factory.mktemp("agg")
    manifest = ooni_aggregate.ingest([FIXTURE], out, workers=1)
    return out, manifest


def test_rows_and_counts(built):
    out, manifest = built
    table = read_frame(out / "ooni_aggregate.parquet")
    assert list(table.source_line) == [2, 3, 4, 8]
    assert list(table.measurement_count) == [100, 100, 95, 10]
    assert list(table.measurement_start_day.dt.strftime("%Y-%m-%d")) == [
        "2018-04-15", "2018-04-16", "2018-04-17", "2018-04-20"]
    assert set(table.probe_cc) == {"RU"} and set(table.test_name) == {"telegram"}
    assert table.probe_asn.isna().all() and table.domain.isna().all()


def test_rejects_and_accounting(built):
    out, manifest = built
    rejects = pd.read_parquet(out / "ooni_aggregate_rejects.parquet").set_index("source_line")
    assert rejects.reason_code.to_dict() == {
        5: "constraint-error", 6: "type-error", 7: "type-error", 9: "constraint-error",
        10: "missing-cell"}
    assert "measurement_count = 99" in rejects.loc[5, "detail"]
    acc = manifest["inputs"][0]
    assert (acc["rows_read"], acc["rows_clean"], acc["rows_rejected"], acc["rows_out"]) == (
        9, 4, 5, 4)
    assert manifest["summary"]["rows_out"] == 4 and manifest["errors"] == []


def test_columns_found_by_name_and_asn_forms(tmp_path):
    path = tmp_path / "agg.csv.gz"
    text = ("probe_asn,measurement_count,ok_count,failure_count,confirmed_count,anomaly_count,"
            "blocking_type\nAS12389,3,1,1,1,0,tcp_ip\n8359,2,2,0,0,0,\n")
    path.write_bytes(gzip.compress(text.encode()))
    manifest = ooni_aggregate.ingest([path], tmp_path / "out", workers=1)
    table = read_frame(tmp_path / "out" / "ooni_aggregate.parquet")
    assert sorted(table.probe_asn) == [8359, 12389]
    assert manifest["rows"] == 2


def test_cut_gzip_is_a_file_error(tmp_path):
    path = tmp_path / "agg.csv.gz"
    path.write_bytes(gzip.compress(FIXTURE.read_bytes())[:40])
    manifest = ooni_aggregate.ingest([path], tmp_path / "out", workers=1)
    assert manifest["rows"] == 0 and len(manifest["errors"]) == 1
