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
    assert raw["block_events.csv"]["rows_read"] >= 260  # issue #10: from 151 source rows
    assert raw["mau.csv"]["rows_read"] >= 200
    assert raw["diplomatic_events.csv"]["rows_read"] >= 800
    assert blocks["blocking_country"].nunique() >= 55  # issue #10: from 40 countries
    assert 600 <= len(blocks) <= 1200
    assert len(censorlab.load("mau")) >= 200
    assert len(censorlab.load("register_sweeps")["blocking_country"].unique()) >= 55


def test_every_implemented_block_is_ended_or_censorable(blocks):
    implemented = blocks[blocks["is_implemented"].fillna(True).astype(bool)]
    assert implemented["end_status"].notna().all()
    assert (implemented["end_date"].notna() | implemented["last_confirmed_date"].notna()).all()
    ended = implemented[implemented["end_status"] == "ended"]
    assert ended["end_mechanism"].notna().all() and ended["end_date"].notna().all()
    open_ = implemented[implemented["end_status"] != "ended"]
    assert open_["end_date"].isna().all() and open_["end_mechanism"].isna().all()
    assert (open_["last_confirmed_date"] >= open_["start_earliest_date"]).all()
    assert (blocks["status_source_url"].dropna().map(len) > 10).all()


def test_decisions_group_blocks_and_each_names_one_country(blocks):
    assert blocks["decision_id"].notna().all()
    assert set(blocks["decision_id"]) <= set(blocks["raw_event_id"])
    countries = blocks.groupby("decision_id")["blocking_country"].nunique()
    assert (countries == 1).all()
    assert blocks["decision_id"].nunique() < blocks["raw_event_id"].nunique()


def test_dyad_sweep_calendar_meets_the_issue_targets():
    events = censorlab.load("diplomatic_events")
    sweep = events[events["compiled_by"] == "dyad-sweep"]
    dyads = {tuple(sorted(pair)) for pair in zip(sweep["country_a"], sweep["country_b"],
                                                  strict=True)}
    assert len(sweep) >= 400 and len(dyads) >= 25  # issue #9
    assert set(events["compiled_by"]) == {"dyad-sweep", "block-linked"}
    coverage = censorlab.load("diplomatic_coverage")
    covered = {tuple(sorted(pair)) for pair in zip(coverage["country_a"],
                                                   coverage["country_b"], strict=True)}
    assert dyads <= covered  # every swept dyad says what was read, year by year


def test_us_dyads_claim_leader_visits_complete_only_where_the_lists_are():
    coverage = censorlab.load("diplomatic_coverage")
    us = coverage[(coverage["country_a"] == "US") | (coverage["country_b"] == "US")]
    complete = us["complete_levels"].map(lambda levels: "leader-visit" in levels)
    years = set(us.loc[complete, "year"])
    assert years == set(range(2009, 2017)) | set(range(2021, 2025))
    assert not any("minister-visit" in levels for levels in us["complete_levels"])


def test_users_exposed_known_for_at_least_80_blocks(blocks):
    from censorlab.analysis.userbase import estimate_users_exposed

    implemented = blocks[blocks["is_implemented"].fillna(True).astype(bool)]
    exposed = estimate_users_exposed(implemented, censorlab.load("mau"))
    assert exposed["users_exposed"].notna().sum() >= 80  # issue #10
    assert exposed.loc[exposed["users_exposed"].notna(), "exposure_metric_kind"].notna().all()


# Quarters of Tencent's combined Weixin/WeChat MAU that no source read gives (data/raw/README.md
# says what was tried); filling one must update this list.
WECHAT_QUARTERS_MISSING = ["2014Q3", "2015Q3", "2017Q4", "2018Q1", "2018Q2", "2021Q1", "2021Q3",
                           "2024Q4"]


def test_wechat_quarterly_series_gaps_are_the_documented_ones():
    mau = censorlab.load("mau")
    series = mau[(mau.service_id == "wechat") & (mau.geo == "WORLD")
                 & (mau.period_precision == "quarter") & mau["mau"].notna()]
    have = set(series["period_end"].dt.to_period("Q").astype(str))
    wanted = [str(q) for q in pd.period_range("2013Q1", "2025Q3", freq="Q")]
    assert [q for q in wanted if q not in have] == WECHAT_QUARTERS_MISSING


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
    assert row.end_status == "ended"


def test_line_and_bbm_blocked_in_russia_2017_and_still_blocked(blocks):
    russia_2017 = blocks[(blocks.blocking_country == "RU")
                         & (blocks.start_date.dt.year == 2017)]
    for service in ("line", "bbm", "imo", "vchat"):
        rows = russia_2017[russia_2017.service_id == service]
        assert len(rows) == 1, service
        assert rows["end_date"].isna().all(), service
        assert rows["end_status"].isin(["in_force", "unknown"]).all(), service


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
