"""Roskomnadzor registry dumps: real 2012 and 2014 dumps, a composed split dump, constructed rows.

Fixtures (tests/fixtures/rkn/PROVENANCE.md): `dump_2012-11-17.csv` and `dump_2014-04-22.csv`
are real z-i dumps (the second trimmed to 47 whole lines); `split_2014-04-22_COMPOSED/` is the
second cut into `dump-00.csv` .. `dump-02.csv` (no real part file was found);
`channel_and_ip_entries_COMPOSED.csv` composes the entry kinds no real dump of 2012-2014 holds;
`dump.csv` and `bad_encoding.csv` are constructed rows, one per rule.
"""

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
REAL_2012 = FIXTURES / "dump_2012-11-17.csv"
REAL_2014 = FIXTURES / "dump_2014-04-22.csv"
SPLIT = FIXTURES / "split_2014-04-22_COMPOSED"
CHANNEL = FIXTURES / "channel_and_ip_entries_COMPOSED.csv"


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
    assert manifest["summary"] == {"files": 1, "rows_in": 12, "rows_out": 4, "rows_rejected": 5,
                                   "rows_filtered": 3, "rows_split": 0, "rows_merged": 0,
                                   "file_errors": 0}
    entry = manifest["inputs"]["dump.csv"]
    entry = {**entry, "records_read": entry["rows_read"] + entry["rows_filtered"]}
    assert {k: entry[k] for k in ("records_read", "rows_filtered", "rows_read", "rows_clean",
                                  "rows_rejected", "rows_split", "rows_merged", "rows_out")} == {
        "records_read": 12, "rows_filtered": 3, "rows_read": 9, "rows_clean": 4,
        "rows_rejected": 5, "rows_split": 0, "rows_merged": 0, "rows_out": 4}
    assert entry["snapshot_time"] == "2024-03-01 12:00:00 +0300"
    assert entry["filtered_by_scope"] == {"domain": 1, "none": 1, "url": 1}
    assert json.loads((out / "manifest.json").read_text()) == manifest


def test_one_row_per_entry_with_every_domain_url_and_ip(built):
    out, _ = built
    table = censorlab.load("rkn_decisions", out)
    assert list(zip(table.service_id, table.entry_scope, table.source_line, strict=True)) == [
        ("linkedin", "domain", 3),
        ("telegram", "url", 2),
        ("telegram", "domain", 10),  # the same decision, another entry: kept, not merged
        ("wechat", "domain", 6),
    ]
    telegram = table[table.source_line == 2].iloc[0]
    assert telegram.authority == "Генпрокуратура"
    assert telegram.decision_number == "27-31-2018/Ид2971-18"
    assert telegram.entry_domains == ["telegram.org", "*.telegram.org", "t.me"]
    assert telegram.entry_urls == ["https://telegram.org/", "https://t.me/x|y"]
    assert telegram.entry_ips == ["149.154.167.99", "149.154.167.0/24"]
    assert str(telegram.snapshot_time) == "2024-03-01 09:00:00+00:00"
    assert table[table.source_line == 6].iloc[0].entry_domains == ["www.wechat.com",
                                                                   "example.org"]
    generation, _ = published(out)
    assert read_provenance(generation / "rkn_decisions.parquet")["accounting"]["dump.csv"][
        "rows_out"] == 4


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
    assert manifest["summary"]["rows_out"] == 4
    assert manifest["summary"]["rows_merged"] == 4  # the second snapshot repeats every entry
    assert pd.read_parquet(tmp_path / "out" / "rkn_decisions.parquet").source_file.unique() \
        .tolist() == ["dumps/a.csv"]  # files found in a directory keep its name


# --- real dumps: distinct entries stay apart; service-level blocks ------------------------------

@pytest.fixture(scope="module")
def real(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("rkn-real")
    manifest = ingest([REAL_2012, REAL_2014, SPLIT], out, context)
    return manifest, censorlab.load("rkn_decisions", out)


def test_distinct_url_entries_under_one_decision_are_all_kept(real):
    manifest, table = real
    single = table[table.source_file == "dump_2014-04-22.csv"]
    assert len(single) == 15 and set(single.service_id) == {"youtube"}
    assert set(single.entry_scope) == {"url"}
    decision = single[single.decision_number == "27-27-2014/Иф1061-14"]
    assert sorted(u for urls in decision.entry_urls for u in urls) == [
        "http://www.youtube.com/user/HIZBTV1953", "http://www.youtube.com/user/HIZBUZ",
        "http://www.youtube.com/user/HIZBua", "http://www.youtube.com/user/HTTVru",
        "http://www.youtube.com/user/HizbutTahrirTV", "http://www.youtube.com/user/JamaatCrimea",
        "http://www.youtube.com/watch?v=Rs0skUQMiCI"]
    # `Ид1152-14 ` (trailing space) and `Ид1152-14` are one decision number, three entries
    assert (single.decision_number == "27-27-2014/Ид1152-14").sum() == 3
    entry = manifest["inputs"]["dump_2014-04-22.csv"]
    assert (entry["rows_read"], entry["rows_out"], entry["rows_filtered"]) == (15, 15, 31)
    assert manifest["inputs"]["dump_2012-11-17.csv"]["rows_filtered"] == 47


def test_the_split_dump_is_the_single_dump_joined(real):
    manifest, table = real
    split = manifest["inputs"]["split_2014-04-22_COMPOSED/dump-{00..02}.csv"]
    single = manifest["inputs"]["dump_2014-04-22.csv"]
    assert split["sha256"] == single["sha256"]  # the parts' bytes joined are the dump
    assert split["snapshot_time"] == "2014-04-22 15:05:00 +0000"
    assert split["parts"] == [{"part": "dump-00.csv", "first_line": 1},
                              {"part": "dump-01.csv", "first_line": 13},
                              {"part": "dump-02.csv", "first_line": 31}]
    # line 12 is cut between part 00 and part 01 and reads whole; every entry is a repeat
    assert (split["rows_read"], split["rows_merged"], split["rows_out"]) == (15, 15, 0)
    assert table.source_file.unique().tolist() == ["dump_2014-04-22.csv"]


def test_split_parts_in_any_order_are_joined_by_part_number(tmp_path, context):
    parts = sorted(SPLIT.glob("dump-*.csv"), reverse=True)
    manifest = ingest(parts, tmp_path, context)
    assert [n for n in manifest["inputs"] if n.startswith("dump")] == ["dump-{00..02}.csv"]
    assert manifest["inputs"]["dump-{00..02}.csv"]["rows_out"] == 15


def test_a_missing_part_is_a_file_error_naming_it(tmp_path, context):
    with pytest.raises(PartialRunError) as info:
        ingest([SPLIT / "dump-00.csv", SPLIT / "dump-02.csv", DUMP], tmp_path, context)
    (error,) = info.value.file_errors
    assert error.path.endswith("dump-01.csv") and "missing" in str(error)
    cut = tmp_path / "cut"
    cut.mkdir()
    for name in ("dump-00.csv", "dump-01.csv"):
        (cut / name).write_bytes((SPLIT / name).read_bytes()[:-1])  # part 01 ends mid-entry
    with pytest.raises(RawFileError, match="the part after dump-01.csv is missing"):
        rkn.read(tuple(sorted(cut.iterdir())))


def test_an_error_inside_a_part_names_the_part_and_its_line(tmp_path):
    for name in ("dump-00.csv", "dump-01.csv"):
        (tmp_path / name).write_bytes((SPLIT / name).read_bytes())
    (tmp_path / "dump-01.csv").write_bytes(b";x.ru;;\x98;1;2017-01-01\n"
                                           + (SPLIT / "dump-01.csv").read_bytes())
    with pytest.raises(RawFileError) as info:
        rkn.read((tmp_path / "dump-00.csv", tmp_path / "dump-01.csv"))
    assert info.value.path.endswith("dump-01.csv") and info.value.line == 1
    assert "line 13 of the joined dump" in str(info.value)


def test_service_blocks_come_only_from_domain_scope_entries(tmp_path, context):
    ingest([DUMP, CHANNEL, REAL_2014], tmp_path, context)
    table = censorlab.load("rkn_decisions", tmp_path)
    channel = table[table.source_file == CHANNEL.name]
    assert channel.entry_scope.tolist() == ["url"]  # a police order on one channel
    blocks = rkn.earliest_service_blocks(table)
    assert [(b.service_id, b.decision_date.strftime("%Y-%m-%d"), b.source_line)
            for b in blocks.itertuples()] == [("linkedin", "2016-11-10", 3),
                                              ("telegram", "2018-04-16", 10),
                                              ("wechat", "2017-05-04", 6)]
    # every decision, whatever its scope, would have dated Telegram's block to the channel order
    assert table.groupby("service_id").decision_date.min()["telegram"] == pd.Timestamp(
        "2017-05-20")
    # YouTube has URL entries only: no service-level block
    assert "youtube" not in set(blocks.service_id)
    manifest = censorlab.load_manifest(tmp_path)
    assert manifest["inputs"][CHANNEL.name]["filtered_by_scope"] == {"ip": 1}
