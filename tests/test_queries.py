"""Worked queries on the real build: what is blocked where, and how many users a service had."""

import pandas as pd
import pytest

import censorlab
from censorlab.errors import CensorlabError


@pytest.fixture(scope="module")
def out(built_dir):
    return built_dir[1]


def test_ongoing_blocks_in_russia_as_of_the_build(out):
    as_of = pd.Timestamp(censorlab.load_manifest(out)["as_of"])
    now = censorlab.blocks(country="Russia", status="ongoing", out_dir=out)
    assert len(now) and set(now.blocking_country) == {"RU"} and now.is_ongoing.all()
    assert (now.start_date <= as_of).all()
    assert (now.end_date.isna() | (now.end_date > as_of)).all()
    assert {"line", "bbm"} <= set(now.service_id)  # blocked in 2017, still blocked
    assert "wechat" not in set(now.service_id)  # lifted a week later
    assert censorlab.blocks(country="RU", status="ongoing", out_dir=out).equals(now)
    assert censorlab.blocks(country="Россия", status="ongoing", out_dir=out).equals(now)


def test_ended_and_all_partition_the_started_blocks(out):
    every = censorlab.blocks(country="RU", out_dir=out)
    ended = censorlab.blocks(country="RU", status="ended", out_dir=out)
    ongoing = censorlab.blocks(country="RU", status="ongoing", out_dir=out)
    assert len(ended) + len(ongoing) == len(every)
    assert set(ended.event_id).isdisjoint(ongoing.event_id)
    wechat = censorlab.blocks(service="微信", status="ended", country="RU", out_dir=out)
    assert wechat.event_id.tolist() == ["RU-2017-WECHAT"]


def test_an_earlier_as_of_makes_a_later_end_ongoing(built_dir, tmp_path):
    raw, _ = built_dir
    early = tmp_path / "early"
    censorlab.build(raw, early, as_of="2017-05-08")  # during WeChat's week-long block
    ongoing = censorlab.blocks(service="wechat", country="RU", status="ongoing", out_dir=early)
    assert ongoing.event_id.tolist() == ["RU-2017-WECHAT"]


def test_mau_at_takes_the_latest_figure_on_or_before_the_date(out):
    figure = censorlab.mau_at("WeChat", "2017-01-15", out_dir=out)
    assert figure["mau"] == 889_000_000 and figure["period_end"] == pd.Timestamp("2016-12-31")
    assert figure["is_mau"] and figure["geo"] == "WORLD"
    later = censorlab.mau_at("wechat", "2017-05-04", out_dir=out)
    assert later["period_end"] >= figure["period_end"]
    assert censorlab.mau_at("wechat", "2000-01-01", out_dir=out) is None


def test_unknown_names_and_statuses_are_refused(out):
    with pytest.raises(CensorlabError, match="unknown country"):
        censorlab.blocks(country="Rusia", out_dir=out)
    with pytest.raises(CensorlabError, match="unknown service"):
        censorlab.mau_at("wechatt", "2017-01-01", out_dir=out)
    with pytest.raises(ValueError, match="status"):
        censorlab.blocks(status="now", out_dir=out)
