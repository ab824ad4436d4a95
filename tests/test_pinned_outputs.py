"""Pinned content hashes: refactoring the code must not change a single output value.

The hashes below were taken on the code of commit 83f795d (before issue #13's refactor) from
two kinds of input that never change:

* the curated build of ``tests/fixtures/pinned_raw`` (a frozen copy of ``data/raw``; the real
  ``data/raw`` keeps moving as curators add rows, so it cannot be pinned). The snapshot and its
  pins were re-taken once, deliberately, at schema 1.2.0 (the curated layout gained end
  status, decisions, contact levels, metric kinds and two tables, issues #9 and #10); the
  ingest pins below are still those of commit 83f795d, and
* every ingest fixture under ``tests/fixtures``, with the frozen copy as reference directory
  (service and country names resolve through it): the constructed ones since 83f795d, the
  real and composed ones of issue #11 since they were added (``REAL``).

Each hash is the content hash of values (``docs/contract.md``), recomputed here from the files
written, so the pin also proves that the files carry what the manifest claims. A deliberate
change to the cleaning that moves a hash must update the pin in the same commit and say why.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import censorlab
from censorlab.core.storage import content_hash
from censorlab.run.publish import read_published_manifest
from censorlab.sources.ooni.dataset import dataset_content_hash

FIXTURES = Path(__file__).parent / "fixtures"
PINNED_RAW = FIXTURES / "pinned_raw"

CURATED = {
    "block_events": "sha256:840728e5e892c701a58f27a34f69a744a09272a9e808ff9d39eebfcfb0b48757",
    "diplomatic_coverage":
        "sha256:f4b1ac6473ca7750026de55156842f3729b7f130dd7c03ab8420a667b878e758",
    "diplomatic_events": "sha256:1621fdccef6ae601c4fe6ffa73c25be93281be142d65ee09866e0221532bfc85",
    "mau": "sha256:08500f55098097b2e28b7a61dbf487d4a58e70b587bce6d1218ccba3e1b53ae1",
    "register_sweeps": "sha256:97b0cd0756a07e1f083a4cc618ec82cc64a94bb3cbb8f18bb97d332071091e1e",
    "rejects": "sha256:efbf1eb93b87f0c8caa8e517703e7637e12a99f6996bd379c11db48127f70996",
    "services": "sha256:163188ed320db8de8c20dee882c5cde047dbb5c9ae4356e3b25d72b46bca43f3",
}

INGEST_FILES = {
    "ooni": ["ooni/spec_examples.jsonl", "ooni/messy.jsonl.gz"],
    "ooni-aggregate": ["ooni_aggregate/aggregate.csv"],
    "stop": ["stop/stop_recent.csv", "stop/stop_2019.csv"],
    "gdelt": ["gdelt/20240121.export.CSV", "gdelt/20240122000000.export.CSV.zip"],
    "rkn": ["rkn/dump.csv"],
}
INGESTS = {
    # issue #11: OONI's own reliability rules replace the spec's signal rule; messy line 2
    # (signal 0.2.0, 2022-11-01) is still `failure`, now by
    # `reliability:signal-lt-0.2.2-from-2022-10-19`; nothing else moved
    "ooni": {
        "ooni_measurements":
            "sha256:db1b96eb369a7d279a4825d5e4a2a369b6958f7160f2b9492d83a3cc1026a1fd",
        "rejects": "sha256:8cf1d9fed9b2ac6d3e0ae5f32e3bba5659a114ed8965da720bc37b6152da5091",
    },
    # issue #11: ooni_aggregate gained time_grain and period_start_time (hourly buckets) and
    # ok_count may be null (the 2021 layout); the bad-date reject now says "not a calendar date"
    "ooni-aggregate": {
        "ooni_aggregate": "sha256:618fa3560f88e5b771d004803affb9b7699cfe4d72c3633a4e16a5574bfeb50c",
        "rejects": "sha256:0a04e176e310235cd4d2c559e420d674ffb97fcae254ce6e54350b3b97726239",
    },
    # issue #11: stop_events gained end_date_reading, report_year, source_sheet and sheet_row
    # (the workbook reader), and two reject details name the forms now accepted (an Excel
    # serial date, an `Unknown` flag); the rows and reason codes are the same
    "stop": {
        "stop_events": "sha256:459b2612ca46194b48b6a5538fddb758ce95a4ebf66ee3d9993702c30e12cbb6",
        "rejects": "sha256:f032f0ac3837f5bf546cd7d840f36d1d131ba8cef50cbbcd976fe616a48189b8",
    },
    # issue #11: 57 columns is GDELT 1.0's backfile layout now, so the constructed wrong-width
    # line 11 of 20240121.export.CSV was cut to 56 cells: its reject detail says 56; the
    # events are unchanged
    "gdelt": {
        "gdelt_events": "sha256:36e27bd918eef0e6df767ab6cc986f0b153a4a1c261619172daf541e78ce55a8",
        "rejects": "sha256:06e48d424c94e3f68b16d817c049971f201d67aed43b234324601dddda2c0e1c",
    },
    # issue #11: rkn_decisions is one row per registry entry (entry_scope, entry_domains),
    # no longer one per (entry, domain): distinct entries were merged as duplicates before;
    # its rejects are unchanged
    "rkn": {
        "rkn_decisions": "sha256:0c5b08fa56b3d5a6c0af9d8eb1b94a6933d3a0a74d5390bcfbc704dbd170cd46",
        "rejects": "sha256:ae2d404c457f69f48ea823cf7c7f34a249578e48871281a04fea615a59a3b91c",
    },
}


@pytest.fixture(scope="module")
def pinned_raw(tmp_path_factory):
    raw = tmp_path_factory.mktemp("pinned") / "raw"
    shutil.copytree(PINNED_RAW, raw)
    return raw


def output_hashes(out: Path) -> dict[str, str]:
    """Content hash of every table of a published output, recomputed from its files."""
    generation, manifest = read_published_manifest(out)
    hashes = {}
    for name, info in manifest["tables"].items():
        path = generation / info["path"]
        hashes[name] = (dataset_content_hash(path) if info["layout"] == "partitioned" else
                        content_hash(pq.read_table(path).replace_schema_metadata(None)))
    assert hashes == {name: info["content_hash"] for name, info in manifest["tables"].items()}
    return hashes


def test_curated_build_keeps_every_content_hash(pinned_raw, tmp_path):
    out = tmp_path / "out"
    censorlab.build(pinned_raw, out)
    assert output_hashes(out) == CURATED
    assert censorlab.validate(out) == []


@pytest.mark.parametrize("kind", sorted(INGESTS))
def test_ingest_fixture_keeps_every_content_hash(kind, pinned_raw, tmp_path):
    files = [FIXTURES / name for name in INGEST_FILES[kind]]
    censorlab.ingest(kind, files, tmp_path / "out", raw_dir=pinned_raw, workers=1)
    assert output_hashes(tmp_path / "out") == INGESTS[kind]
    assert censorlab.validate(tmp_path / "out") == []  # every output kind validates


# The real (and composed) fixtures of issue #11, pinned when they were added: a later change
# of the cleaning that moves one of these must say why, like the pins above.
REAL_FILES = {
    "ooni": ["ooni/signal.jsonl", "ooni/whatsapp.jsonl", "ooni/telegram.jsonl",
             "ooni/facebook_messenger.jsonl", "ooni/web_connectivity.jsonl",
             "ooni/reliability_rules_COMPOSED.jsonl",
             *sorted(f"ooni/{p.name}" for p in (FIXTURES / "ooni").glob("*.json"))],
    "ooni-aggregate": sorted(f"ooni_aggregate/{p.name}"
                             for p in (FIXTURES / "ooni_aggregate").glob("*.csv")
                             if p.name != "aggregate.csv"),
    "stop": ["stop/keepiton_stop_2016-2022_trimmed.xlsx", "stop/stop_2020_export_COMPOSED.csv"],
    "gdelt": sorted(f"gdelt/{p.name}" for p in (FIXTURES / "gdelt").glob("v[12]_*")),
    "rkn": ["rkn/dump_2012-11-17.csv", "rkn/dump_2014-04-22.csv",
            "rkn/split_2014-04-22_COMPOSED", "rkn/channel_and_ip_entries_COMPOSED.csv"],
}
EMPTY_REJECTS = "sha256:efbf1eb93b87f0c8caa8e517703e7637e12a99f6996bd379c11db48127f70996"
REAL = {
    "ooni": {
        "ooni_measurements":
            "sha256:9d6d9b414ac1f3dd82b5f29b3e566278aed1a96e16b6ba5bb7150aee1568db19",
        "rejects": "sha256:00316492d3277ff97eb1e68db2606c65b1bc224f2d06a6f6c2f70d00562494e8",
    },
    "ooni-aggregate": {
        "ooni_aggregate": "sha256:efe77342375ee64c9651d3b7f63dd0af469e18179e4aa8a3ad4ef2e49ae3eea3",
        "rejects": EMPTY_REJECTS,
    },
    "stop": {  # re-pinned when the frozen snapshot gained the 98-service table: more platforms
        # of the workbook resolve to a service_id (the reading of the file is unchanged)
        "stop_events": "sha256:e608934b11effa51823e0bc8473db905dbb91b3538e80e5abc357c78701af1a2",
        "rejects": "sha256:8858a0418f7097850e9ee05694b7d8075b89557b702dea907a6c7f0d53864e95",
    },
    "gdelt": {
        "gdelt_events": "sha256:812da5a81571c6522854782c99c162cb23039add1ae5f60dfe31dc1e58046cb4",
        "rejects": EMPTY_REJECTS,
    },
    "rkn": {
        "rkn_decisions": "sha256:59a2ec8c9bb93ad6b66443934eaef9f59453c52e679173857467282dffd670c8",
        "rejects": EMPTY_REJECTS,
    },
}


@pytest.mark.parametrize("kind", sorted(REAL))
def test_real_fixtures_keep_every_content_hash(kind, pinned_raw, tmp_path):
    files = [FIXTURES / name for name in REAL_FILES[kind]]
    censorlab.ingest(kind, files, tmp_path / "out", raw_dir=pinned_raw, workers=1)
    assert output_hashes(tmp_path / "out") == REAL[kind]
    assert censorlab.validate(tmp_path / "out") == []
