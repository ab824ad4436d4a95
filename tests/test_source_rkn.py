"""Roskomnadzor registry dump: a constructed windows-1251 fixture in the zicsv layout."""

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import published

import censorlab
from censorlab.core.storage import read_provenance
from censorlab.errors import PartialRunError, RawFileError
from censorlab.run.driver import run_ingest
from censorlab.sources import rkn

FIXTURES = Path(__file__).parent / "fixtures" / "rkn"
DUMP = FIXTURES / "dump.csv"


@pytest.fixture(scope="module")
def context(reference_context):
    return reference_context


def ingest(paths, out, context, **options):
    return run_ingest("rkn", paths, out, context=context, **options).manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("rkn")
    return out, ingest([DUMP], out, context)


def test_fixture_is_really_windows_1251():
    data = DUMP.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    assert "Генпрокуратура" in data.decode("cp1251")


def test_counts_and_accounting(built):
    out, manifest = built
    assert manifest["summary"] == {"files": 1, "rows_in": 12, "rows_out": 5, "rows_rejected": 5,
                                   "rows_filtered": 3, "rows_split": 2, "rows_merged": 1,
                                   "file_errors": 0}
    entry = manifest["inputs"]["dump.csv"]
    entry = {**entry, "records_read": entry["rows_read"] + entry["rows_filtered"]}
    assert {k: entry[k] for k in ("records_read", "rows_filtered", "rows_read", "rows_clean",
                                  "rows_rejected", "rows_split", "rows_merged", "rows_out")} == {
        "records_read": 12, "rows_filtered": 3, "rows_read": 9, "rows_clean": 4,
        "rows_rejected": 5, "rows_split": 2, "rows_merged": 1, "rows_out": 5}
    assert entry["snapshot_time"] == "2024-03-01 12:00:00 +0300"
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_rows_map_domains_to_services(built):
    out, _ = built
    table = censorlab.load("rkn_decisions", out)
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
    generation, _ = published(out)
    assert read_provenance(generation / "rkn_decisions.parquet")["accounting"]["dump.csv"][
        "rows_out"] == 5


def test_rejects_name_line_and_reason(built):
    out, _ = built
    rejects = censorlab.load("rejects", out)
    assert dict(zip(rejects.source_line, rejects.reason_code, strict=True)) == {
        7: "type-error", 8: "missing-cell", 9: "extra-cell", 11: "blank-row",
        12: "missing-cell"}
    assert "Роскомнадзор" in rejects.set_index("source_line").raw_text[7]


def test_bad_encoding_stops_only_that_file(tmp_path, context, built):
    with pytest.raises(PartialRunError) as info:
        ingest([DUMP, FIXTURES / "bad_encoding.csv"], tmp_path, context)
    (error,) = info.value.file_errors
    assert error.line == 4 and "windows-1251" in str(error) and "bad_encoding.csv" in error.path
    manifest = censorlab.load_manifest(tmp_path)  # the good file was published
    assert manifest["inputs"]["bad_encoding.csv"]["error"] == str(error)
    assert manifest["errors"] == [f"bad_encoding.csv: {error}"]
    table, good_only = manifest["tables"]["rkn_decisions"], built[1]["tables"]["rkn_decisions"]
    assert (table["content_hash"], table["rows"]) == (good_only["content_hash"], good_only["rows"])
    assert table["inputs"] == ["bad_encoding.csv", "dump.csv"]  # load() warns of the failed one


def test_missing_updated_line_is_a_file_error(tmp_path):
    path = tmp_path / "dump.csv"
    path.write_bytes(";vk.com;;Роскомнадзор;1;2017-05-16\n".encode("cp1251"))
    with pytest.raises(RawFileError, match="Updated"):
        rkn.read(path)


def test_dask_engine_gives_the_same_content_hash(built, tmp_path, context):
    _, manifest = built
    dask_manifest = ingest([DUMP], tmp_path, context, engine="dask", scheduler="synchronous")
    assert dask_manifest == manifest


def test_directory_input_and_snapshot_duplicates(tmp_path, context):
    folder = tmp_path / "dumps"
    folder.mkdir()
    (folder / "a.csv").write_bytes(DUMP.read_bytes())
    (folder / "b.csv").write_bytes(DUMP.read_bytes())
    manifest = ingest([folder], tmp_path / "out", context)
    assert manifest["summary"]["rows_out"] == 5
    assert manifest["summary"]["rows_merged"] == 1 + 6
    assert pd.read_parquet(tmp_path / "out" / "rkn_decisions.parquet").source_file.unique() \
        .tolist() == ["dumps/a.csv"]  # files found in a directory keep its name
