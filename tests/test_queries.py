"""Worked queries on the real build: what is blocked where, and how many users a service had."""

import pandas as pd
import pytest

import censorlab
from censorlab.errors import CensorlabError


@pytest.fixture(scope="module")
def out(built_dir):
    return built_dir[1]


def test_blocks_in_force_in_russia(out):
    now = censorlab.blocks(country="Russia", status="in_force", out_dir=out)
    assert len(now) and set(now.blocking_country) == {"RU"}
    assert (now.end_status == "in_force").all() and now.end_date.isna().all()
    assert now.last_confirmed_date.notna().all()
    assert "linkedin" in set(now.service_id)  # blocked since 2016, confirmed since
    assert "wechat" not in set(now.service_id)  # lifted a week later
    assert censorlab.blocks(country="RU", status="ongoing", out_dir=out).equals(now)
    assert censorlab.blocks(country="Россия", status="in_force", out_dir=out).equals(now)


def test_statuses_partition_the_blocks_of_a_country(out):
    every = censorlab.blocks(country="RU", out_dir=out)
    parts = [censorlab.blocks(country="RU", status=s, out_dir=out)
             for s in ("in_force", "ended", "unknown")]
    never = every[every.end_status.isna()]
    assert sum(map(len, parts)) + len(never) == len(every)
    assert (never.is_implemented == False).all()  # noqa: E712 - nullable boolean column
    wechat = censorlab.blocks(service="微信", status="ended", country="RU", out_dir=out)
    assert wechat.event_id.tolist() == ["RU-2017-WECHAT"]


def test_blocks_in_force_on_a_day_use_ends_and_last_confirmations(out):
    during = censorlab.blocks(service="wechat", country="RU", on="2017-05-08", out_dir=out)
    assert during.event_id.tolist() == ["RU-2017-WECHAT"]  # during its week-long block
    assert censorlab.blocks(service="wechat", country="RU", on="2017-06-01", out_dir=out).empty
    line = censorlab.blocks(service="line", country="RU", out_dir=out).iloc[0]
    assert line.end_status == "unknown"
    assert len(censorlab.blocks(service="line", country="RU", on=line.last_confirmed_date,
                                out_dir=out)) == 1
    later = line.last_confirmed_date + pd.Timedelta(days=1)  # not known to be in force then
    assert censorlab.blocks(service="line", country="RU", on=later, out_dir=out).empty


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
