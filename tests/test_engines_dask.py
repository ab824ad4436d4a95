from datetime import date
from pathlib import Path

import pytest
from conftest import read_output

from censorlab.run import engines
from censorlab.run.driver import run_ingest
from censorlab.sources.ooni import simulate

FIXTURES = Path(__file__).parent / "fixtures" / "ooni"


def _square(x, y=0):
    return x * x + y


@pytest.fixture(scope="module")
def catalog(reference_context):
    return reference_context


def ingest(paths, out, context, **options):
    return run_ingest("ooni", paths, out, context=context, **options)


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    scenarios = [simulate.BlockScenario("IR", test, date(2022, 9, 25), date(2022, 10, 5),
                                        onset_day=date(2022, 9, 28), measurements_per_day=30)
                 for test in simulate.TEST_NAMES]
    records = list(simulate.simulate_measurements(scenarios, seed=11))
    half = len(records) // 2
    simulate.write_jsonl_gz(records[:half], raw / "a" / "part.jsonl.gz", truncate_lines=[half])
    simulate.write_jsonl_gz(records[half:], raw / "b" / "part.jsonl.gz")
    for name in ("spec_examples.jsonl", "messy.jsonl.gz"):
        (raw / name).write_bytes((FIXTURES / name).read_bytes())
    return raw


@pytest.mark.parametrize("engine", ["pandas", "dask"])
def test_run_per_item_keeps_order(engine):
    items = [(i, 1) for i in range(7)]
    seen = []
    out = engines.run_per_item(_square, items, engine=engine, scheduler="synchronous",
                               workers=2, progress=seen.append)
    assert out == [i * i + 1 for i in range(7)]
    assert sorted(seen) == out


def test_unknown_engine():
    with pytest.raises(ValueError, match="unknown engine"):
        engines.run_per_item(_square, [(1,)], engine="spark")


def test_dask_synchronous_equals_pandas(raw_dir, tmp_path, catalog):
    pandas_run = ingest([raw_dir], tmp_path / "p", catalog)
    dask_run = ingest([raw_dir], tmp_path / "d", catalog, engine="dask", scheduler="synchronous")
    assert pandas_run.manifest == dask_run.manifest  # content only: hashes, rejects, accounting
    assert pandas_run.manifest["summary"]["rows_out"] > 1000
    assert read_output(tmp_path / "p", "rejects").equals(read_output(tmp_path / "d", "rejects"))


def test_dask_local_cluster_two_workers_equals_pandas(raw_dir, tmp_path, catalog):
    pandas_run = ingest([raw_dir], tmp_path / "p", catalog)
    cluster_run = ingest([raw_dir], tmp_path / "c", catalog, engine="dask", scheduler=None,
                         workers=2)
    assert pandas_run.manifest == cluster_run.manifest
