"""Roskomnadzor registry dump: a constructed windows-1251 fixture in the zicsv layout."""

import json
from pathlib import Path

import pandas as pd
import pytest

from censorlab.errors import RawFileError
from censorlab.ingest import reference_context
from censorlab.sources import rkn
from censorlab.storage import read_frame, read_provenance

FIXTURES = Path(__file__).parent / "fixtures" / "rkn"
DUMP = FIXTURES / "dump.csv"


@pytest.fixture(scope="module")
def context():
    return reference_context()


@pytest.fixture(scope="module")
def built(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("rkn")
    manifest = rkn.ingest([DUMP], out, context=context)
    return out, manifest


def test_fixture_is_really_windows_1251():
    data = DUMP.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "Генпрокуратура" in data.decode("cp1251")


def test_counts_and_accounting(built):
    out, manifest = built
    assert manifest["summary"] == {"rows_in": 12, "rows_out": 5, "rows_rejected": 5,
                                   "rows_filtered": 3, "rows_split": 2, "duplicates": 1}
    (entry,) = manifest["inputs"]
    assert {k: entry[k] for k in ("records_read", "rows_filtered", "rows_read", "rows_clean",
                                  "rows_rejected", "rows_split", "rows_merged", "rows_out")} == {
        "records_read": 12, "rows_filtered": 3, "rows_read": 9, "rows_clean": 4,
        "rows_rejected": 5, "rows_split": 2, "rows_merged": 1, "rows_out": 5}
    assert entry["snapshot_time"] == "2024-03-01 12:00:00 +0300"
    assert json.loads((out / "rkn_manifest.json").read_text())["summary"] == manifest["summary"]


def test_rows_map_domains_to_services(built):
    out, _ = built
    table = read_frame(out / "rkn_decisions.parquet")
    assert list(zip(table.service_id, table.blocked_host, table.source_line, strict=True)) == [
        ("linkedin", "linkedin.com", 3),
        ("telegram", "*.telegram.org", 2),
        ("telegram", "t.me", 2),
        ("telegram", "telegram.org", 2),
        ("wechat", "www.wechat.com", 6),
    ]
    telegram = table[table.blocked_host == "t.me"].iloc[0]
    assert telegram.authority == "Генпрокуратура"
    assert telegram.decision_number == "27-31-2018/Ид2971-18"
    assert telegram.entry_urls == ["https://telegram.org/", "https://t.me/x|y"]
    assert telegram.entry_ips == ["149.154.167.99", "149.154.167.0/24"]
    assert str(telegram.snapshot_time) == "2024-03-01 09:00:00+00:00"
    earliest = table.groupby("service_id").decision_date.min().dt.strftime("%Y-%m-%d")
    assert earliest.to_dict() == {"linkedin": "2016-11-10", "telegram": "2018-04-16",
                                  "wechat": "2017-05-04"}
    assert read_provenance(out / "rkn_decisions.parquet")["inputs"][0]["rows_out"] == 5


def test_rejects_name_line_and_reason(built):
    out, _ = built
    rejects = read_frame(out / "rkn_rejects.parquet")
    assert dict(zip(rejects.source_line, rejects.reason_code, strict=True)) == {
        7: "type-error", 8: "missing-cell", 9: "extra-cell", 11: "blank-row",
        12: "missing-cell"}
    assert "Роскомнадзор" in rejects.set_index("source_line").raw_text[7]


def test_bad_encoding_stops_the_file_and_writes_nothing(tmp_path, context):
    with pytest.raises(RawFileError) as info:
        rkn.ingest([DUMP, FIXTURES / "bad_encoding.csv"], tmp_path, context=context)
    assert info.value.line == 4 and "windows-1251" in str(info.value)
    assert list(tmp_path.iterdir()) == []


def test_missing_updated_line_is_a_file_error(tmp_path):
    path = tmp_path / "dump.csv"
    path.write_bytes(";vk.com;;Роскомнадзор;1;2017-05-16\n".encode("cp1251"))
    with pytest.raises(RawFileError, match="Updated"):
        rkn.read_raw(path)


def test_dask_engine_gives_the_same_content_hash(built, tmp_path, context):
    _, manifest = built
    dask_manifest = rkn.ingest([DUMP], tmp_path, engine="dask", scheduler="synchronous",
                               context=context)
    assert dask_manifest["tables"] == manifest["tables"]


def test_directory_input_and_snapshot_duplicates(tmp_path, context):
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.csv").write_bytes(DUMP.read_bytes())
    (folder / "b.csv").write_bytes(DUMP.read_bytes())
    manifest = rkn.ingest([folder], tmp_path / "out", context=context)
    assert manifest["summary"]["rows_out"] == 5
    assert manifest["summary"]["duplicates"] == 1 + 6
    assert pd.read_parquet(tmp_path / "out" / "rkn_decisions.parquet").source_file.unique() \
        .tolist() == ["a.csv"]
