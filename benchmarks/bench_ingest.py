"""Benchmark `censorlab ingest ooni` against pyarrow's own JSON reader on the same file.

    python benchmarks/bench_ingest.py --rows 1000000 [--repeat 3] [--engine pandas|dask]

1. Simulates N OONI measurements (censorlab.simulate: the five tests, 1-2 KB each, with the
   usual withheld probes, duplicates, null test_keys, pre-0.4.0 facebook_messenger keys and, by
   default, one broken (cut) line per 100,000) into one JSONL.gz in a temp dir.
2. Phase "censorlab": runs censorlab's ingest in a child process.
3. Phase "baseline": in a child process, `pyarrow.json.read_json` of the same gz file with an
   explicit schema (the top-level fields censorlab keeps plus the test_keys it reads, except
   web_connectivity's `blocking`, which is string-or-false and which pyarrow cannot read as one
   type), then `pyarrow.parquet.write_table` of the result. No validation, no verdicts. pyarrow
   refuses a file with a broken line, so the baseline reads the same lines without the broken
   ones (a copy written before timing), which favours the baseline.
The two phases alternate `--repeat` times on the same input (this machine's wall times vary by
10-20 % from run to run); seconds are medians, the ratio is median / median, and every run is
listed. Peak RSS per phase (largest over the runs): the child's process tree is polled with
psutil (Dask workers included) and compared with getrusage(RUSAGE_CHILDREN); the larger counts.
CPU seconds (user + system, whole child process including interpreter start and imports) are
reported too: on a shared, loaded machine they compare the two phases more fairly than wall time.
The last line printed is JSON: rows, seconds, rows_per_s, peak_rss_mb, baseline_seconds,
baseline_peak_rss_mb, ratio (censorlab / baseline wall time), cpu_seconds,
baseline_cpu_seconds, cpu_ratio, runs, engine, cpus, load average, per-stage timings.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import psutil

from censorlab.run.engines import default_workers
from censorlab.sources.ooni import simulate

TESTS = simulate.TEST_NAMES
COUNTRIES = ("RU", "IR", "CN", "IT")
DAYS = 60

CENSORLAB_CHILD = """
import json, sys, time
from censorlab.paths import RAW_DIR
from censorlab.run.context import build_context
from censorlab.run.driver import run_ingest
context = build_context(RAW_DIR)  # reference data, built once per CLI call: not timed
started = time.perf_counter()
outcome = run_ingest("ooni", [sys.argv[1]], sys.argv[2], engine=sys.argv[3], context=context,
                     workers=int(sys.argv[4]), scheduler=None if sys.argv[3] == "pandas"
                     else (sys.argv[5] if len(sys.argv) > 5 else None))
summary = outcome.manifest["summary"]
print(json.dumps({"seconds": time.perf_counter() - started, "rows_out": summary["rows_out"],
                  "rows_in": summary["rows_in"], "timings": outcome.timings}))
"""

BASELINE_CHILD = """
import json, sys, time
import pyarrow as pa, pyarrow.json as pj, pyarrow.parquet as pq
from censorlab.sources.ooni.formats import RAW_SCHEMA
started = time.perf_counter()
keys = RAW_SCHEMA.field("test_keys").type
keys = pa.struct([f for f in keys if f.name != "blocking"])
schema = pa.schema([f for f in RAW_SCHEMA if f.name != "test_keys"] + [("test_keys", keys)])
table = pj.read_json(pa.input_stream(sys.argv[1], compression="gzip"),
                     read_options=pj.ReadOptions(block_size=16 << 20),
                     parse_options=pj.ParseOptions(explicit_schema=schema,
                                                   unexpected_field_behavior="ignore"))
pq.write_table(table, sys.argv[2])
print(json.dumps({"seconds": time.perf_counter() - started, "rows": table.num_rows}))
"""


def make_input(rows: int, path: Path, seed: int = 1, broken_every: int = 100_000) -> int:
    """Write about ``rows`` simulated measurements to ``path``; return the exact line count."""
    scenarios = []
    per_day = max(1, round(rows / (len(TESTS) * len(COUNTRIES) * DAYS)))
    start = date(2022, 9, 1)
    for cc in COUNTRIES:
        for test in TESTS:
            scenarios.append(simulate.BlockScenario(
                cc, test, start, start + timedelta(days=DAYS - 1),
                onset_day=start + timedelta(days=20), lift_day=start + timedelta(days=45),
                blocked_share_during=0.7, base_failure_share=0.03,
                measurements_per_day=per_day))
    return simulate.write_stream_jsonl_gz(simulate.simulate_measurements(scenarios, seed), path,
                                          broken_line_every=broken_every)


def copy_without_broken_lines(path: Path, target: Path) -> int:
    """Write the lines of ``path`` that are JSON objects to ``target``; return how many.

    A line that ends in ``}`` with balanced braces is taken as whole (fast); any other is
    kept only if ``json.loads`` accepts it.
    """
    kept = 0
    with gzip.open(path, "rb") as source, gzip.open(target, "wb", compresslevel=1) as sink:
        for line in source:
            text = line.rstrip(b"\n")
            if not (text.endswith(b"}") and text.count(b"{") == text.count(b"}")):
                try:
                    json.loads(text)
                except ValueError:
                    continue
            sink.write(text + b"\n")
            kept += 1
    return kept


def run_phase(code: str, args: list[str]) -> tuple[dict, float, float]:
    """Run a child Python; return its JSON result, the peak RSS (MB) of its process tree and
    the CPU seconds (user + system) of the child and its reaped descendants."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    before, cpu_before = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
    child = subprocess.Popen([sys.executable, "-c", code, *args], stdout=subprocess.PIPE,
                             text=True)
    proc = psutil.Process(child.pid)
    peak = 0
    while child.poll() is None:
        try:
            tree = [proc, *proc.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()))
        except psutil.Error:
            pass
        time.sleep(0.05)
    out, _ = child.communicate()
    if child.returncode:
        raise SystemExit(f"child failed with exit code {child.returncode}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    rusage_mb = usage.ru_maxrss / 1024 if usage.ru_maxrss > before else 0.0
    cpu = usage.ru_utime + usage.ru_stime - cpu_before
    return json.loads(out.strip().splitlines()[-1]), max(peak / 2**20, rusage_mb), cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3, help="alternating runs of each phase")
    parser.add_argument("--broken-every", type=int, default=100_000,
                        help="cut one line in this many (0: none)")
    parser.add_argument("--engine", default="pandas", choices=["pandas", "dask"])
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--scheduler", default=None, help="Dask scheduler address")
    parser.add_argument("--input", help="reuse this JSONL.gz instead of simulating")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="censorlab-bench-") as tmp:
        tmp = Path(tmp)
        if args.input:
            path = Path(args.input)
            lines = sum(1 for _ in gzip.open(path, "rb"))
        else:
            path = tmp / "ooni.jsonl.gz"
            started = time.perf_counter()
            lines = make_input(args.rows, path, broken_every=args.broken_every)
            print(f"simulated {lines} lines ({path.stat().st_size / 2**20:.0f} MB gz) in "
                  f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
        baseline_input = tmp / "baseline.jsonl.gz"
        baseline_lines = copy_without_broken_lines(path, baseline_input)
        extra = [args.scheduler] if args.scheduler else []
        runs = []
        for _ in range(args.repeat):
            ours, ours_rss, ours_cpu = run_phase(
                CENSORLAB_CHILD, [str(path), str(tmp / "out"), args.engine, str(args.workers),
                                  *extra])
            base, base_rss, base_cpu = run_phase(
                BASELINE_CHILD, [str(baseline_input), str(tmp / "baseline.parquet")])
            runs.append({"seconds": round(ours["seconds"], 2), "cpu_seconds": round(ours_cpu, 2),
                         "peak_rss_mb": round(ours_rss),
                         "baseline_seconds": round(base["seconds"], 2),
                         "baseline_cpu_seconds": round(base_cpu, 2),
                         "baseline_peak_rss_mb": round(base_rss),
                         "ratio": round(ours["seconds"] / base["seconds"], 2),
                         "stages": {k: v for k, v in ours["timings"].items() if k != "note"}})
            print(json.dumps(runs[-1]), file=sys.stderr)

    def median(key: str) -> float:
        return statistics.median(run[key] for run in runs)

    result = {
        "rows": lines,
        "rows_out": ours["rows_out"],
        "baseline_rows": baseline_lines,
        "seconds": median("seconds"),
        "rows_per_s": round(lines / median("seconds")),
        "peak_rss_mb": max(run["peak_rss_mb"] for run in runs),
        "baseline_seconds": median("baseline_seconds"),
        "baseline_peak_rss_mb": max(run["baseline_peak_rss_mb"] for run in runs),
        "ratio": round(median("seconds") / median("baseline_seconds"), 2),
        "cpu_seconds": median("cpu_seconds"),
        "baseline_cpu_seconds": median("baseline_cpu_seconds"),
        "cpu_ratio": round(median("cpu_seconds") / median("baseline_cpu_seconds"), 2),
        "runs": [run["ratio"] for run in runs],
        "engine": args.engine,
        "workers": args.workers,
        "cpus": len(os.sched_getaffinity(0)),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "stages": runs[-1]["stages"],
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
