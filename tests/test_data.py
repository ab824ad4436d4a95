"""Data tests on the built Parquet in data/processed: keys, counts, seed facts, provenance.

These run against the real build (the README's test command builds first); the fixture builds
when needed, and the build is skipped when the outputs are up to date.
"""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest

import censorlab
from censorlab.core.storage import METADATA_KEY
from censorlab.paths import PROCESSED_DIR
from censorlab.schema import TABLES


@pytest.fixture(scope="module")
def manifest():
    return censorlab.build()


@pytest.fixture(scope="module")
def blocks(manifest):
    return censorlab.load("block_events")


def test_primary_keys_are_unique_and_complete(manifest):
    for name, spec in TABLES.items():
        if name not in manifest["tables"] or not spec.primary_key:
            continue
        frame = censorlab.load(name)
        key = list(spec.primary_key)
        assert not frame[key].isna().any().any(), name
        assert not frame.duplicated(key).any(), name


def test_row_counts_meet_the_issue_bands(manifest, blocks):
    raw = manifest["inputs"]
    assert raw["block_events.csv"]["rows_read"] >= 140
    assert raw["mau.csv"]["rows_read"] >= 100
    assert raw["diplomatic_events.csv"]["rows_read"] >= 60
    assert blocks["blocking_country"].nunique() >= 30
    assert 140 <= len(blocks) <= 400
    assert len(censorlab.load("mau")) >= 100
    assert len(censorlab.load("diplomatic_events")) >= 60


def test_every_raw_row_is_accounted_for(manifest):
    for name, acc in manifest["inputs"].items():
        if "rows_read" not in acc:
            continue
        assert acc["rows_read"] == acc["rows_clean"] + acc["rows_rejected"], name
        assert acc["rows_clean"] + acc["rows_split"] == acc["rows_out"] + acc["rows_merged"]
    rejects = censorlab.load("rejects")
    for name, acc in manifest["inputs"].items():
        if "rows_rejected" in acc:
            lines = rejects.loc[rejects["source_file"] == name, "source_line"].nunique()
            assert lines == acc["rows_rejected"], name


def test_wechat_russia_2017_seed_fact(blocks):
    row = blocks.set_index("event_id").loc["RU-2017-WECHAT"]
    assert (row.service_id, row.blocking_country, row.operator_country) == ("wechat", "RU", "CN")
    assert row.authority == "Roskomnadzor"
    assert (row.start_date, row.end_date) == (pd.Timestamp("2017-05-04"),
                                              pd.Timestamp("2017-05-11"))
    assert row.start_precision == row.end_precision == "day"


def test_line_and_bbm_blocked_in_russia_2017_and_still_blocked(blocks):
    russia_2017 = blocks[(blocks.blocking_country == "RU")
                         & (blocks.start_date.dt.year == 2017)]
    for service in ("line", "bbm", "imo", "vchat"):
        rows = russia_2017[russia_2017.service_id == service]
        assert len(rows) == 1, service
        assert rows["end_date"].isna().all(), service


def test_wechat_889_million_at_end_of_2016():
    mau = censorlab.load("mau")
    row = mau[(mau.service_id == "wechat") & (mau.period_end == "2016-12-31")
              & (mau.geo == "WORLD")]
    assert row["mau"].tolist() == [889_000_000]
    assert row["is_mau"].all()


def test_russia_china_information_space_statement():
    events = censorlab.load("diplomatic_events")
    hit = events[(events.date == "2016-06-25") & (events.country_a == "RU")
                 & (events.country_b == "CN")]
    assert len(hit) >= 1


def test_related_block_ids_exist(blocks):
    events = censorlab.load("diplomatic_events")
    known = set(blocks["raw_event_id"])
    dangling = {i for ids in events["related_block_event_ids"] for i in ids} - known
    assert not dangling


def test_every_row_has_sources_and_lineage(blocks):
    assert blocks["source_urls"].map(len).min() >= 1
    assert blocks["source_urls"].explode().str.match(r"^https?://").all()
    assert blocks["source_lines"].map(len).min() >= 1


def test_unknown_end_is_null_never_today(blocks, manifest):
    assert blocks["end_date"].max() <= pd.Timestamp(manifest["as_of"])
    assert blocks["end_date"].isna().sum() > 0


def test_parquet_carries_provenance_metadata(manifest):
    for info in manifest["tables"].values():
        meta = json.loads(pq.read_schema(PROCESSED_DIR / info["path"]).metadata[METADATA_KEY])
        assert meta["content_hash"] == info["content_hash"]
        assert meta["as_of"] == manifest["as_of"]
        assert meta["package_version"] == censorlab.__version__
        assert all(h.startswith("sha256:") for h in meta["inputs"].values())


def test_validate_passes_on_the_build(manifest):
    assert censorlab.validate() == []
