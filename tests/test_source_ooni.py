import json
import shutil
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from conftest import published, read_output
from hypothesis import given, settings
from hypothesis import strategies as st

import censorlab
from censorlab.core.storage import OrderedDigest
from censorlab.errors import PartialRunError
from censorlab.reading import lineblocks
from censorlab.run.driver import run_ingest
from censorlab.sources.ooni import dataset, formats, reliability, simulate, spool, writer
from censorlab.sources.ooni.cleaning import clean, fallback_uid
from censorlab.sources.ooni.parse import RawBlocks, _parse_block_python, _try_arrow, parse_block
from censorlab.sources.ooni.parse import read as ooni_read

FIXTURES = Path(__file__).parent / "fixtures" / "ooni"


@pytest.fixture(scope="module")
def catalog(reference_context):
    return reference_context


def ingest(paths, out, context, **options):
    """Ingest OONI files; return the published manifest (PartialRunError propagates)."""
    return run_ingest("ooni", paths, out, context=context, **options).manifest


def clean_block(block: bytes, context):
    """Parse and clean one block as the ingest does; return (clean table, reject records)."""
    result = clean(RawBlocks([parse_block(1, block, True, "f")], name="f"), context)
    return result.table, result.rejects.to_pylist()


@pytest.fixture(scope="module")
def fixture_build(tmp_path_factory, catalog):
    out = tmp_path_factory.mktemp("ooni")
    result = ingest([FIXTURES / "spec_examples.jsonl", FIXTURES / "messy.jsonl.gz"], out,
                    catalog, workers=1)
    table = dataset.read_dataset(censorlab.dataset_path(out)).to_pandas()
    rejects = read_output(out, "rejects").to_pandas()
    return out, result, table, rejects


def test_spec_examples_verdicts(fixture_build):
    _, _, table, _ = fixture_build
    spec = table[table.source_file == "spec_examples.jsonl"].set_index("test_name")
    assert len(spec) == 5
    assert spec.verdict.to_dict() == {
        "telegram": "ok", "facebook_messenger": "ok", "whatsapp": "ok", "signal": "blocked",
        "web_connectivity": "ok"}
    assert spec.verdict_rule.to_dict() == {
        "telegram": "telegram:no_blocking_flags",
        "facebook_messenger": "facebook_messenger:no_blocking_flags",
        "whatsapp": "whatsapp:all_status_ok",
        "signal": "signal:backend_status",
        "web_connectivity": "web_connectivity:accessible"}
    assert spec.source_line.to_dict() == {
        "telegram": 1, "facebook_messenger": 2, "whatsapp": 3, "signal": 4, "web_connectivity": 5}
    assert spec.service_id.fillna("<null>").to_dict() == {
        "telegram": "telegram", "facebook_messenger": "facebook-messenger",
        "whatsapp": "whatsapp", "signal": "signal", "web_connectivity": "<null>"}
    assert set(spec.probe_asn) == {30722}
    tg = spec.loc["telegram"]
    assert tg.measurement_uid == fallback_uid(
        "20221207T105155Z_telegram_IT_30722_n1_epDRF015yWFhSlX4", None, "2022-12-07 10:51:55")
    assert tg.measurement_start_time == pd.Timestamp("2022-12-07 10:51:55", tz="UTC")
    assert tg.measurement_month == "2022-12"


def test_messy_lines_each_handled(fixture_build):
    _, _, table, rejects = fixture_build
    messy = table[table.source_file == "messy.jsonl.gz"].set_index("source_line")
    assert messy.verdict.to_dict() == {1: "blocked", 2: "failure", 3: "blocked", 11: "blocked",
                                       12: "ok"}
    assert messy.verdict_rule.to_dict() == {
        1: "facebook_messenger:tcp_blocking",
        2: "reliability:signal-lt-0.2.2-from-2022-10-19",
        3: "telegram:tcp_blocking",
        11: "web_connectivity:blocking=dns",
        12: "telegram:no_blocking_flags"}
    assert messy.loc[11, "service_id"] == "telegram"
    assert messy.loc[3, "measurement_uid"] == "20180417120005.000001_RU_telegram_aaaaaaaaaaaaaaaa"
    got = rejects[rejects.source_file == "messy.jsonl.gz"].set_index("source_line")
    assert got.reason_code.to_dict() == {
        5: "duplicate-row", 6: "withheld-probe", 7: "withheld-probe", 8: "no-test-keys",
        9: "type-error", 10: "invalid-json", 13: "truncated-line"}
    assert "kept from messy.jsonl.gz:3" in got.loc[5, "detail"]
    assert "2017-02-30" in got.loc[9, "detail"]
    assert got.loc[6, "raw_text"].startswith("{")
    assert set(got.stage) == {"clean", "dedup", "read"}


def test_accounting_per_file(fixture_build):
    _, result, _, rejects = fixture_build
    inputs = result["inputs"]
    assert {k: inputs["messy.jsonl.gz"][k] for k in
            ("rows_read", "rows_clean", "rows_rejected", "rows_merged", "rows_out")} == {
        "rows_read": 12, "rows_clean": 5, "rows_rejected": 7, "rows_merged": 0, "rows_out": 5}
    assert inputs["spec_examples.jsonl"]["rows_out"] == 5
    assert inputs["spec_examples.jsonl"]["rows_read"] == 5
    assert result["rejects_by_reason"] == {
        "ooni/duplicate-row": 1, "ooni/invalid-json": 1, "ooni/no-test-keys": 1,
        "ooni/truncated-line": 1, "ooni/type-error": 1, "ooni/withheld-probe": 2}
    assert result["tables"]["rejects"]["rows"] == len(rejects) == 7
    assert inputs["messy.jsonl.gz"]["sha256"].startswith("sha256:")
    assert result["errors"] == [] and inputs["messy.jsonl.gz"]["error"] is None


def test_content_hash_is_recomputed_from_the_files(fixture_build, tmp_path, capsys):
    from censorlab.cli import EXIT_INVALID, EXIT_OK, main

    out, result, _, _ = fixture_build
    expected = result["tables"]["ooni_measurements"]["content_hash"]
    assert dataset.dataset_content_hash(censorlab.dataset_path(out)) == expected
    copy = tmp_path / "copy"
    shutil.copytree(out, copy, symlinks=True)  # an archived output, links and all
    assert censorlab.validate(copy) == []
    assert main(["validate", "--out", str(copy)]) == EXIT_OK
    part = next(censorlab.dataset_path(copy).glob("test_name=telegram/*/part-0000.parquet"))
    table = pq.read_table(part)
    changed = table.set_column(table.schema.get_field_index("verdict"), "verdict",
                               pa.array(["ok"] * table.num_rows))
    pq.write_table(changed.replace_schema_metadata(table.schema.metadata), part)
    assert dataset.dataset_content_hash(censorlab.dataset_path(copy)) != expected
    problems = dataset.check_dataset(censorlab.dataset_path(copy),
                                     result["tables"]["ooni_measurements"])
    assert len(problems) == 1 and "content hash" in problems[0]
    pq.write_table(changed.slice(1), part)  # and a row lost
    assert main(["validate", "--out", str(copy)]) == EXIT_INVALID
    assert "rows != manifest" in capsys.readouterr().err


def test_ordered_digest_ignores_chunking_but_not_values_or_order():
    table = pa.table({"s": pa.array(["a", None, "bc", ""]), "n": pa.array([1, None, 3, 0]),
                      "t": pa.array([0, 1, None, 3], pa.timestamp("us", tz="UTC"))})

    def digest(*tables):
        d = OrderedDigest(table.schema)
        for t in tables:
            d.update(t)
        return d.hexdigest()

    whole = digest(table)
    assert digest(table.slice(0, 1), table.slice(1)) == whole
    assert digest(pa.concat_tables([table.slice(0, 2), table.slice(2)])) == whole
    assert digest(table.take([1, 0, 2, 3])) != whole
    # a null and an empty string (or a zero) are different values
    assert digest(table.set_column(0, "s", pa.array(["a", "", "bc", ""]))) != whole
    assert digest(table.set_column(1, "n", pa.array([1, 0, 3, 0]))) != whole
    # the value boundary is part of the content: "a","bc" is not "ab","c"
    assert digest(table.set_column(0, "s", pa.array(["ab", None, "c", ""]))) != whole


def test_fast_and_line_parsers_give_the_same_columns():
    block = (FIXTURES / "spec_examples.jsonl").read_bytes()
    body = block[:-1]
    fast, _ = _try_arrow(block, body.count(b"\n") + 1, 1)
    slow = _parse_block_python(body, 1, True, "x")
    assert fast is not None and not slow.rejects
    assert fast.equals(slow.table)


def test_dataset_layout_and_readers(fixture_build):
    out, _, _, _ = fixture_build
    root = censorlab.dataset_path(out)
    parts = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert "test_name=telegram/measurement_month=2018-04/part-0000.parquet" in parts
    assert all(part.startswith("test_name=") for part in parts)
    assert (root.parent / "rejects.parquet").exists()
    assert (out / "ooni_measurements").resolve() == root  # the stable name, through `current`
    frame = pd.read_parquet(root, filters=[("test_name", "=", "telegram")])
    assert len(frame) == 3
    dataset = ds.dataset(str(root), format="parquet", partitioning="hive")
    assert dataset.to_table(filter=pc.field("verdict") == "blocked").num_rows == 4
    import dask.dataframe as dd

    ddf = dd.read_parquet(str(root), filters=[("measurement_month", "==", "2018-04")])
    assert len(ddf.compute()) == 3
    import duckdb

    query = (f"select test_name, count(*) from read_parquet('{root.as_posix()}/*/*/*.parquet', "
             "hive_partitioning = true) where verdict = 'blocked' group by 1 order by 1")
    blocked = dataset.to_table(filter=pc.field("verdict") == "blocked").to_pandas()
    expected = sorted(blocked.groupby("test_name").size().items())
    assert duckdb.connect().sql(query).fetchall() == expected
    assert sum(n for _, n in expected) == 4


def test_truncated_gzip_stops_only_that_file(tmp_path, catalog):
    raw = tmp_path / "raw"
    raw.mkdir()
    shutil.copy(FIXTURES / "spec_examples.jsonl", raw / "good.jsonl")
    records = simulate.simulate_measurements(
        [simulate.BlockScenario("RU", "telegram", date(2018, 4, 1), date(2018, 4, 30),
                                measurements_per_day=50)], seed=3)
    simulate.write_jsonl_gz(records, raw / "cut.jsonl.gz")
    simulate.cut_gzip_stream(raw / "cut.jsonl.gz", 0.5)
    with pytest.raises(PartialRunError) as info:
        ingest([raw], tmp_path / "out", catalog, workers=1)
    result = info.value.manifest
    assert len(result["errors"]) == 1 and "raw/cut.jsonl.gz" in result["errors"][0]
    assert "truncated" in result["errors"][0] and "truncated" in str(info.value)
    assert result == censorlab.load_manifest(tmp_path / "out")  # published all the same
    inputs = result["inputs"]
    assert inputs["raw/cut.jsonl.gz"]["rows_read"] == 0
    table = dataset.read_dataset(censorlab.dataset_path(tmp_path / "out"))
    assert set(table["source_file"].to_pylist()) == {"raw/good.jsonl"}
    assert table.num_rows == 5


def test_input_order_does_not_change_the_hash(tmp_path, catalog):
    a = ingest([FIXTURES / "messy.jsonl.gz", FIXTURES / "spec_examples.jsonl"],
               tmp_path / "a", catalog, workers=1, block_bytes=300)
    b = ingest([FIXTURES / "spec_examples.jsonl", FIXTURES / "messy.jsonl.gz"],
               tmp_path / "b", catalog, workers=2)
    assert a["tables"] == b["tables"]


def test_failed_rebuild_leaves_previous_output_whole(tmp_path, catalog, monkeypatch):
    first = ingest([FIXTURES / "spec_examples.jsonl"], tmp_path, catalog)
    generation, _ = published(tmp_path)
    before = sorted(p.relative_to(generation) for p in generation.rglob("*"))

    def boom(*args):
        raise RuntimeError("crash in stage 2")

    monkeypatch.setattr(writer, "finalize_partition", boom)
    with pytest.raises(RuntimeError):
        ingest([FIXTURES / "messy.jsonl.gz"], tmp_path, catalog)
    assert published(tmp_path)[0] == generation
    assert sorted(p.relative_to(generation) for p in generation.rglob("*")) == before
    assert censorlab.load_manifest(tmp_path) == first
    monkeypatch.undo()
    ingest([FIXTURES / "messy.jsonl.gz"], tmp_path, catalog)  # removes the crashed run's files
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        ".censorlab", "current", "manifest.json", "ooni_measurements", "rejects.parquet"]
    assert len(list((tmp_path / ".censorlab" / "generations").iterdir())) == 2


def test_block_in_force_gives_blocked_verdicts(tmp_path, catalog):
    scenarios = [simulate.BlockScenario(
        "RU", test, date(2022, 1, 1), date(2022, 1, 10), onset_day=date(2022, 1, 6),
        lift_day=date(2022, 1, 9), blocked_share_during=1.0, base_failure_share=0.0,
        measurements_per_day=6) for test in simulate.TEST_NAMES]
    records = list(simulate.simulate_measurements(scenarios, seed=7, messiness=simulate.CLEAN))
    simulate.write_jsonl_gz(records, tmp_path / "sim.jsonl.gz")
    ingest([tmp_path / "sim.jsonl.gz"], tmp_path / "out", catalog)
    frame = dataset.read_dataset(censorlab.dataset_path(tmp_path / "out")).to_pandas()
    frame["day"] = frame.measurement_start_time.dt.day
    during = frame.day.between(6, 8)
    assert len(frame) == 5 * 10 * 6
    assert (frame.loc[during, "verdict"] == "blocked").all()
    assert (frame.loc[~during, "verdict"] == "ok").all()
    web = frame[frame.test_name == "web_connectivity"]
    assert set(web.service_id) == {"telegram"}
    assert set(frame.software_name) == {"censorlab-simulator"}


TELEGRAM_VALUES = st.one_of(st.none(), st.booleans(), st.integers(-1, 2), st.text(max_size=3))


@settings(max_examples=60, deadline=None)
@given(tcp=TELEGRAM_VALUES, http=TELEGRAM_VALUES, web=st.one_of(st.none(), st.sampled_from(
    ["ok", "blocked"]), st.booleans()), start=st.sampled_from(
    ["2018-04-17 10:00:00", "2018-02-30 10:00:00", "2018-4-17 10:00:00", None]))
def test_any_telegram_line_is_output_or_rejected(tcp, http, web, start, reference_context):
    record = {"measurement_start_time": start, "probe_cc": "RU", "probe_asn": "AS1",
              "report_id": "r", "test_name": "telegram", "test_version": "0.5.0",
              "test_keys": {"telegram_tcp_blocking": tcp, "telegram_http_blocking": http,
                            "telegram_web_status": web}}
    block = (json.dumps(record) + "\n").encode()
    raw = parse_block(1, block, True, "f")
    fast, _ = _try_arrow(block, 1, 1)
    slow = _parse_block_python(block[:-1], 1, True, "f")
    if fast is not None:
        assert fast.equals(slow.table)
    result = clean(RawBlocks([raw], name="f"), reference_context)
    table, rejects = result.table, result.rejects
    assert table.num_rows + rejects.num_rows == 1 == result.accounting.rows_read
    if table.num_rows:
        assert table["verdict"][0].as_py() in ("ok", "blocked", "failure")


def test_same_uid_with_two_start_times_keeps_the_key_unique(tmp_path, catalog):
    record = json.loads((FIXTURES / "spec_examples.jsonl").read_text().splitlines()[0])
    record["measurement_uid"] = "u1"
    other = dict(record, measurement_start_time="2022-12-07 11:00:00")
    path = tmp_path / "x.jsonl"
    path.write_text(json.dumps(other) + "\n" + json.dumps(record) + "\n")
    ingest([path], tmp_path / "out", catalog)
    table = dataset.read_dataset(censorlab.dataset_path(tmp_path / "out"))
    assert table["source_line"].to_pylist() == [1]
    rejects = read_output(tmp_path / "out", "rejects").to_pylist()
    assert [(r["source_line"], r["reason_code"]) for r in rejects] == [(2, "duplicate-row")]


@pytest.mark.parametrize(("text", "valid"), [
    ("2018-04-17 10:00:00", True), ("2016-02-29 23:59:59", True),
    ("2017-02-30 10:00:00", False),  # Arrow's strptime would roll it to 2017-03-02
    ("2018-04-17 10:00:60", False),  # ... and this one to 10:01:00
    ("2018-04-17 24:00:00", False), ("2018-4-17 10:00:00", False),
    ("2018-04-17T10:00:00", False), ("2018-04-17 10:00:00Z", False),
    (" 2018-04-17 10:00:00", False), ("0000-01-01 00:00:00", False),
    ("2100-01-01 00:00:00", False),
])
def test_start_times_are_exact_or_rejected(text, valid, reference_context):
    lines = [{"measurement_start_time": t, "probe_cc": "RU", "probe_asn": "AS1",
              "report_id": "r", "test_name": "signal", "test_version": "0.2.1",
              "test_keys": {"signal_backend_status": "ok"}}
             for t in ("2018-04-17 09:00:00", text)]  # a valid line beside: both parse paths
    block = "".join(json.dumps(line) + "\n" for line in lines).encode()
    table, rejects = clean_block(block, reference_context)
    assert table.num_rows == 1 + valid
    if valid:
        written = table["measurement_start_time"][1].as_py().strftime(formats.TIME_FORMAT)
        assert written == text
    else:
        assert [(r["source_line"], r["reason_code"]) for r in rejects] == [(2, "type-error")]


def test_same_uid_on_two_days_is_two_rows_even_when_days_are_deduplicated_together(
        tmp_path, catalog):
    record = json.loads((FIXTURES / "spec_examples.jsonl").read_text().splitlines()[0])
    record["measurement_uid"] = "u1"
    same_day = dict(record, measurement_start_time="2022-12-07 11:00:00")
    next_day = dict(record, measurement_start_time="2022-12-08 10:51:55")
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in (record, same_day, next_day)))
    ingest([path], tmp_path / "out", catalog)
    table = dataset.read_dataset(censorlab.dataset_path(tmp_path / "out"))
    assert table["source_line"].to_pylist() == [1, 3]  # both days in one dedup batch
    rejects = read_output(tmp_path / "out", "rejects").to_pylist()
    assert [(r["source_line"], r["reason_code"]) for r in rejects] == [(2, "duplicate-row")]


def test_block_with_broken_lines_is_split_not_read_line_by_line():
    good = [json.dumps({"measurement_start_time": f"2018-04-17 10:00:{i:02d}", "probe_cc": "RU",
                        "probe_asn": "AS1", "report_id": f"r{i}", "test_name": "telegram",
                        "test_version": "0.5.0", "test_keys": {"telegram_tcp_blocking": True}})
            for i in range(40)]
    lines = list(good)
    lines[3] = lines[3][:20]                      # broken JSON
    lines[17] = lines[17].replace("true", "1")    # 0/1 boolean: repaired by the line parser
    lines[30] = "[1, 2]"                          # not an object
    block = ("\n".join(lines) + "\n").encode()
    raw = parse_block(1, block, True, "f")
    slow = _parse_block_python(block[:-1], 1, True, "f")
    assert not raw.fast
    assert raw.table.equals(slow.table)
    assert raw.rows_read == slow.rows_read == 40
    assert [(r["source_line"], r["reason_code"]) for r in raw.rejects] == [
        (4, "truncated-line"), (31, "invalid-json")]
    assert raw.rejects == slow.rejects
    # more broken lines than MAX_SPLITS_PER_BLOCK, and a blank line: same result
    many = [line[:10] if i % 4 == 0 else line for i, line in enumerate(good)]
    many.insert(21, "")
    block = ("\n".join(many) + "\n").encode()
    raw = parse_block(1, block, True, "f")
    slow = _parse_block_python(block[:-1], 1, True, "f")
    assert raw.table.equals(slow.table) and raw.rejects == slow.rejects
    assert raw.raw_texts([41]) == [good[39]]


def test_stopping_early_stops_the_gunzip_thread_and_closes_the_file(tmp_path):
    import threading

    records = simulate.simulate_measurements(
        [simulate.BlockScenario("RU", "telegram", date(2018, 4, 1), date(2018, 4, 30),
                                measurements_per_day=200)], seed=3)
    path = tmp_path / "big.jsonl.gz"
    simulate.write_jsonl_gz(records, path)
    blocks = lineblocks.prefetch(lineblocks.iter_indexed_blocks(path, 4096), depth=1)
    next(blocks)
    blocks.close()  # what happens when a downstream step raises
    assert not [t for t in threading.enumerate() if t.name == "censorlab-gunzip"]


def test_rejects_are_streamed_sorted_and_hashed_as_a_whole_table(fixture_build):
    from censorlab.core.rejects import sort_rejects
    from censorlab.core.storage import content_hash

    out, result, _, _ = fixture_build
    rejects = read_output(out, "rejects")
    assert rejects.equals(sort_rejects(rejects))
    assert content_hash(rejects) == result["tables"]["rejects"]["content_hash"]
    assert rejects.num_rows == result["tables"]["rejects"]["rows"] == 7


def test_rejects_merge_the_same_in_small_pieces(tmp_path, catalog, monkeypatch, fixture_build):
    out, result, _, _ = fixture_build
    monkeypatch.setattr(spool, "REJECTS_FLUSH_ROWS", 2)  # stage 1 writes rejects 2 by 2
    small = ingest([FIXTURES / "spec_examples.jsonl", FIXTURES / "messy.jsonl.gz"],
                   tmp_path, catalog, workers=1, block_bytes=300)
    assert read_output(tmp_path, "rejects").equals(read_output(out, "rejects"))
    assert small["tables"]["rejects"] == result["tables"]["rejects"]


def test_progress_counts_rows_while_a_single_file_is_read(tmp_path, catalog, monkeypatch):
    class Bar:
        def __init__(self):
            self.postfix, self.updates = [], 0

        def set_postfix(self, **values):
            self.postfix.append(values)

        def update(self, n):
            self.updates += n

        def close(self):
            pass

    bars = []
    monkeypatch.setattr(writer, "_progress", lambda *a: bars.append(Bar()) or bars[-1])
    monkeypatch.setattr(writer._RowsProgress, "REDRAW_SECONDS", 0.0)
    records = simulate.simulate_measurements(
        [simulate.BlockScenario("RU", "telegram", date(2018, 4, 1), date(2018, 4, 30),
                                measurements_per_day=100)], seed=3)
    simulate.write_jsonl_gz(records, tmp_path / "one.jsonl.gz")
    ingest([tmp_path / "one.jsonl.gz"], tmp_path / "out", catalog, workers=2,
           block_bytes=20_000)
    files_bar = bars[0]
    assert files_bar.updates == 1
    counts = [p["rows"] for p in files_bar.postfix]
    assert len(counts) > 1 and counts == sorted(counts)  # rows counted before the file ended


# --- real measurements: OONI's own reliability rules, API responses, single .json files ------
# tests/fixtures/ooni/PROVENANCE.md gives each line's source and OONI's own verdict for it.

REAL_FILES = ("signal.jsonl", "whatsapp.jsonl", "telegram.jsonl", "facebook_messenger.jsonl",
              "web_connectivity.jsonl", "reliability_rules_COMPOSED.jsonl")
API_FILES = tuple(sorted(p.name for p in FIXTURES.glob("*.json")))


def build_real(out, files, catalog):
    manifest = ingest([FIXTURES / n for n in files], out, catalog, workers=1)
    table = dataset.read_dataset(censorlab.dataset_path(out)).to_pandas()
    rejects = read_output(out, "rejects").to_pandas()
    return manifest, table.set_index(["source_file", "source_line"]), rejects


@pytest.fixture(scope="module")
def real_build(tmp_path_factory, catalog):
    """The real JSONL lines and the composed rule lines (no two share a measurement)."""
    return build_real(tmp_path_factory.mktemp("ooni-real"), REAL_FILES, catalog)


@pytest.fixture(scope="module")
def api_build(tmp_path_factory, catalog):
    """The API responses and single-object files (the same measurements as some lines)."""
    return build_real(tmp_path_factory.mktemp("ooni-api"), API_FILES, catalog)


def verdicts(table, name):
    rows = table.loc[name]
    return {line: (row.verdict, row.verdict_rule) for line, row in rows.iterrows()}


def test_signal_follows_ooni_reliability_rules(real_build):
    _, table, _ = real_build
    assert verdicts(table, "signal.jsonl") == {
        1: ("ok", "signal:backend_status"),  # 0.2.2, engine 3.16.5, 2022-11-18: reliable
        2: ("failure", "reliability:signal-engine-lt-3.17.2"),  # US 2023-05-30, engine 3.17.1
        3: ("failure", "reliability:signal-lt-0.2.2-from-2022-10-19"),  # 0.2.0, 2022-10-27
        4: ("ok", "signal:backend_status"),  # 0.2.0 in 2021: before every rule date
        5: ("blocked", "signal:backend_status"),  # IR 2021-04-15: OONI says blocked too
    }


def test_composed_lines_cover_the_rules_no_real_measurement_shows(real_build):
    _, table, _ = real_build
    assert verdicts(table, "reliability_rules_COMPOSED.jsonl") == {
        1: ("failure", "reliability:signal-v0.2.4"),
        2: ("failure", "reliability:signal-le-0.2.3-from-2023-11-07"),
        3: ("blocked", "signal:backend_status"),  # 0.2.3 the day before 2023-11-07
        4: ("failure", "reliability:signal-engine-lt-3.17.2"),  # 3.17.2-alpha < 3.17.2
        5: ("blocked", "signal:backend_status"),  # engine 3.17.2
        # the same web failure before WhatsApp changed its redirect is still evidence
        6: ("blocked", "whatsapp:web_status"),
        # after it, the web check is dropped and the registration server decides
        7: ("blocked", "reliability:whatsapp-web-redirect-from-2022-12-02"),
    }


def test_whatsapp_web_check_after_2022_12_02_is_not_a_block(real_build):
    _, table, _ = real_build
    assert verdicts(table, "whatsapp.jsonl") == {
        1: ("ok", "reliability:whatsapp-web-redirect-from-2022-12-02"),  # IE: OONI accessible
        2: ("blocked", "whatsapp:registration_server_status+web_status"),  # JP: OONI blocked
        3: ("ok", "whatsapp:all_status_ok"),
    }


def test_every_rule_is_dated_and_referenced():
    names = [r.name for r in reliability.RELIABILITY_RULES]
    assert len(set(names)) == len(names) and all(n.startswith("reliability:") for n in names)
    for rule in reliability.RELIABILITY_RULES:
        assert rule.reference.startswith("https://github.com/ooni/")
        assert rule.since is None or pd.Timestamp(rule.since) >= pd.Timestamp("2022-01-01")
        assert rule.name in reliability.__doc__


def test_single_json_files_and_api_responses_are_one_measurement_each(api_build):
    manifest, table, rejects = api_build
    for name in API_FILES:
        entry = manifest["inputs"][name]
        assert (entry["rows_read"], entry["error"]) == (1, None), name
    pretty = table.loc[("raw_measurement_pretty_telegram_IT_2019-12-03.json", 1)]
    assert (pretty.test_name, pretty.probe_cc, pretty.verdict) == ("telegram", "IT", "ok")
    web = table.loc[("raw_measurement_pretty_web_connectivity_US_2019-07-20.json", 1)]
    assert web.input and web.verdict == "ok"
    (missing,) = rejects[rejects.source_file == "measurement_meta_full_not_found.json"] \
        .itertuples()
    assert (missing.source_line, missing.reason_code) == (1, "missing-cell")
    assert "empty raw_measurement" in missing.detail
    # the same IE measurement as whatsapp.jsonl line 1, compact with no final newline
    assert verdicts(table, "raw_measurement_oneline_whatsapp_IE_2022-12-02.json") == {
        1: ("ok", "reliability:whatsapp-web-redirect-from-2022-12-02")}


def test_ooni_measurement_uid_is_kept_from_the_line_or_the_api(real_build, api_build):
    uid = pd.concat([real_build[1].measurement_uid, api_build[1].measurement_uid])
    # the API gives the uid the raw line lacks
    assert uid[("measurement_meta_full_web_connectivity_RU_2020-10-29.json", 1)] == \
        "20201029043459.005820_RU_webconnectivity_604f1cb2579d144d"
    assert uid[("measurement_meta_full_signal_IR_2021-04-15.json", 1)] == \
        "20210415084230.511612_IR_signal_ed269d082953bf2e"
    # an old-style uid inside the line is kept, from the line and from the API alike
    assert uid[("facebook_messenger.jsonl", 1)] == "01202004070b44da76babb5b2787229c716eb5c0"
    assert uid[("measurement_meta_full_facebook_messenger_IT_2020-04-07_olduid.json", 1)] == \
        "01202004070b44da76babb5b2787229c716eb5c0"
    assert uid[("web_connectivity.jsonl", 6)] == "012019111898e81f78c44cf8689fa32f5d1cb664"
    # a raw line without one gets the documented derived id
    assert uid[("web_connectivity.jsonl", 5)].startswith("h")


def test_a_document_without_a_measurement_is_one_reject(tmp_path):
    cases = {
        "meta.json": json.dumps({"measurement_uid": "x", "scores": "{}", "anomaly": False}),
        "broken.json": "{\n    \"test_name\": \"telegram\",\n    \"probe_cc\": \n",
        "deep.json": "{\n" + "[" * 100_000 + "]" * 100_000 + "\n}",
    }
    for name, text in cases.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
        (batch,) = list(ooni_read(tmp_path / name))
        (reject,) = batch.rejects
        assert reject["source_line"] == 1 and batch.rows_read == 1
        assert reject["reason_code"] == ("missing-cell" if name == "meta.json"
                                         else "invalid-json")
    # several objects, one per line, are JSONL whatever the suffix
    lines = (FIXTURES / "spec_examples.jsonl").read_text()
    (tmp_path / "many.json").write_text(lines, encoding="utf-8")
    assert sum(b.rows_read for b in ooni_read(tmp_path / "many.json")) == 5
