"""Shared fixtures: tiny raw directories built in tmp_path, and one full build per session.

Tiny raw directories copy the two reference files (`services.csv`, `country_aliases.csv`) from
data/raw and write three small curated CSVs, so a test states exactly the bytes it feeds to
`censorlab.build` and asserts exact outputs and rejects.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"

BLOCK_HEADER = ("event_id,service,operator,operator_country,blocking_country,authority,"
                "start_date,start_precision,end_date,end_precision,scope,implemented,"
                "legal_basis,notes,source_url,source_url_2,confidence,decision_id,end_status,"
                "end_mechanism,last_confirmed_date,last_confirmed_precision,status_source_url\n")
MAU_HEADER = ("service,operator,period_end,period_precision,mau_millions,scope,"
              "metric_as_reported,source_url,confidence,notes,metric_kind\n")
DIPLOMATIC_HEADER = ("date,date_precision,country_a,country_b,kind,title,notes,"
                     "related_block_event_ids,source_url,confidence,compiled_by,contact_level,"
                     "sweep_source\n")
COVERAGE_HEADER = "country_a,country_b,year,complete_levels,incomplete_levels,sources,notes\n"
SWEEPS_HEADER = "blocking_country,source_name,source_url,period_covered,swept_on,notes\n"
BLOCK_ROW = ("RU-2017-WECHAT,Weixin,Tencent,CN,Russia,Roskomnadzor,2017-05-04,day,2017-05-11,"
             "day,full,yes,149-FZ,,https://a.example/1,https://b.example/2,high: registry entry,"
             "RU-2017-WECHAT,ended,operator-complied,,,https://b.example/2\n")
# the curated end-status cells of a block still in force (for rows whose end is emptied)
STILL_IN_FORCE = {"end_date": "", "end_precision": "", "end_status": "in_force",
                  "end_mechanism": "", "last_confirmed_date": "2025-01-01",
                  "last_confirmed_precision": "day"}
MAU_ROW = ("WeChat,Tencent,2016-12,quarter,889,global,monthly active users,https://m.example/1,"
           "high,,mau\n")
DIPLOMATIC_ROW = ("2014-05-20,day,RU,CN,summit,Putin state visit,,,https://d.example/1,high,"
                  "block-linked,leader-visit,\n")
COVERAGE_ROW = "RU,CN,2014,leader-visit,leader-call,https://d.example/1,\n"
SWEEPS_ROW = "RU,Wikipedia: Internet censorship in Russia,https://s.example/1,2012-2025,2026-12-01,\n"


def with_end_status(line: str) -> str:
    """A block row in the pre-1.2 layout (ends at `confidence`) plus the curated status cells.

    A row with an end date is an ended block (government reversal); a row without one is in
    force, last confirmed on 2025-01-01. Its decision is the row itself.
    """
    import csv
    import io

    cells = next(csv.reader(io.StringIO(line)))
    ended = bool(cells[8])
    status = (",ended,government-reversal,,," if ended else ",in_force,,2025-01-01,day,")
    return line.rstrip("\n") + f",{cells[0]}" + status + "\n"


def write_raw_dir(
    raw: Path,
    block: str | bytes = BLOCK_HEADER + BLOCK_ROW,
    mau: str | bytes = MAU_HEADER + MAU_ROW,
    diplomatic: str | bytes = DIPLOMATIC_HEADER + DIPLOMATIC_ROW,
    coverage: str | bytes = COVERAGE_HEADER + COVERAGE_ROW,
    sweeps: str | bytes = SWEEPS_HEADER + SWEEPS_ROW,
) -> Path:
    """Write a small raw directory (reference files copied from data/raw); return it."""
    raw.mkdir(parents=True, exist_ok=True)
    for name in ("services.csv", "country_aliases.csv"):
        shutil.copy(REPO_RAW / name, raw / name)
    for name, content in (("block_events.csv", block), ("mau.csv", mau),
                          ("diplomatic_events.csv", diplomatic),
                          ("diplomatic_coverage.csv", coverage), ("sweeps.csv", sweeps)):
        data = content.encode("utf-8") if isinstance(content, str) else content
        (raw / name).write_bytes(data)
    return raw


@pytest.fixture()
def raw_dir(tmp_path):
    """A tiny valid raw directory (one row per curated source)."""
    return write_raw_dir(tmp_path / "raw")


@pytest.fixture()
def full_raw_dir(tmp_path):
    """A copy of the whole data/raw directory (with its checksum registry)."""
    raw = tmp_path / "raw"
    shutil.copytree(REPO_RAW, raw)
    return raw


@pytest.fixture(scope="session")
def built_dir(tmp_path_factory):
    """The reference raw data built once per session: (raw dir, out dir). Do not modify."""
    import censorlab

    base = tmp_path_factory.mktemp("built")
    raw = base / "raw"
    shutil.copytree(REPO_RAW, raw)
    censorlab.build(raw, base / "processed")
    return raw, base / "processed"


@pytest.fixture(scope="session")
def clean_context(tmp_path_factory):
    """The run's reference context (countries, services, crosswalk), for calling `clean`."""
    from censorlab.run.context import build_context

    return build_context(write_raw_dir(tmp_path_factory.mktemp("context_raw")))


@pytest.fixture(scope="session")
def reference_context():
    """The reference context of data/raw, as an ingest builds it."""
    from censorlab.run.context import build_context

    return build_context(REPO_RAW)


def published(out: Path) -> tuple[Path, dict]:
    """(generation directory, manifest) of a published output."""
    from censorlab.run.publish import read_published_manifest

    found = read_published_manifest(out)
    assert found is not None, f"nothing published in {out}"
    return found


def read_output(out: Path, table: str):
    """A table of a published output as an Arrow table (rejects included)."""
    import pyarrow.parquet as pq

    generation, manifest = published(out)
    return pq.read_table(generation / manifest["tables"][table]["path"])
