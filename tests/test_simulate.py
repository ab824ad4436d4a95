import gzip
import json
from datetime import date

import pytest

from censorlab.sources.ooni import simulate


def _scenario(**kw):
    args = dict(probe_cc="RU", test_name="telegram", start_day=date(2018, 4, 1),
                end_day=date(2018, 4, 10), onset_day=date(2018, 4, 5), lift_day=date(2018, 4, 8),
                blocked_share_during=1.0, base_failure_share=0.0, measurements_per_day=5)
    args.update(kw)
    return simulate.BlockScenario(**args)


def test_deterministic_and_labelled_synthetic():
    a = list(simulate.simulate_measurements([_scenario()], seed=4))
    b = list(simulate.simulate_measurements([_scenario()], seed=4))
    assert a == b and len(a) >= 50
    assert {r["software_name"] for r in a} == {"censorlab-simulator"}
    assert {r["annotations"]["synthetic"] for r in a} == {"true"}


def test_block_window_drives_test_keys():
    records = list(simulate.simulate_measurements([_scenario()], seed=1,
                                                  messiness=simulate.CLEAN))
    assert len(records) == 50
    for r in records:
        day = int(r["measurement_start_time"][8:10])
        keys = r["test_keys"]
        blocked = keys["telegram_tcp_blocking"] or keys["telegram_web_status"] == "blocked"
        assert blocked == (5 <= day < 8)


@pytest.mark.parametrize("test", simulate.TEST_NAMES)
def test_every_test_has_realistic_size(test):
    records = list(simulate.simulate_measurements([_scenario(test_name=test)], seed=2,
                                                  messiness=simulate.CLEAN))
    sizes = [len(json.dumps(r)) for r in records]
    assert 900 < sum(sizes) / len(sizes) < 3000
    assert all(r["test_name"] == test for r in records)


def test_messiness_and_writer(tmp_path):
    mess = simulate.Messiness(withheld_share=0.2, duplicate_share=0.2, no_test_keys_share=0.2,
                              legacy_facebook_share=1.0)
    records = list(simulate.simulate_measurements(
        [_scenario(test_name="facebook_messenger", measurements_per_day=20)], seed=5,
        messiness=mess))
    assert any(r["probe_cc"] == "ZZ" or r["probe_asn"] == "AS0" for r in records)
    assert any(r["test_keys"] is None for r in records)
    assert len({r["measurement_uid"] for r in records}) < len(records)
    assert all("facebook-tcp-blocking" in r["test_keys"] for r in records if r["test_keys"])
    n = simulate.write_jsonl_gz(records, tmp_path / "x.jsonl.gz", truncate_lines=[len(records)])
    text = gzip.decompress((tmp_path / "x.jsonl.gz").read_bytes()).decode()
    assert n == len(records) and not text.endswith("\n")
    with pytest.raises(ValueError):
        json.loads(text.splitlines()[-1])


def test_unknown_test_is_refused():
    with pytest.raises(ValueError, match="unknown test_name"):
        list(simulate.simulate_measurements([_scenario(test_name="ndt")]))


def test_benchmark_script_smoke():
    import subprocess
    import sys
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_ingest.py"
    done = subprocess.run([sys.executable, str(script), "--rows", "200", "--repeat", "1"],
                          capture_output=True, text=True, check=True, timeout=300)
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert {"rows", "seconds", "rows_per_s", "peak_rss_mb", "baseline_seconds",
            "ratio"} <= set(result)
    assert result["rows"] >= 200 and result["rows_out"] > 0
