import numpy as np
import pandas as pd
import pytest

from censorlab.analysis import userbase
from censorlab.analysis.userbase import (
    add_log_global_mau,
    add_metric_kind,
    estimate_users_exposed,
    lookup_mau_at_start,
    rank_blocks_by_exposure,
    summarise_mau_by_period,
)


def _blocks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": [
                "RU-2017-WECHAT",
                "RU-2018-TELEGRAM",
                "RU-2016-LINKEDIN",
                "RU-2017-ZELLO",
                "IN-2020-TIKTOK",
                "XX-NONE",
            ],
            "service_id": ["wechat", "telegram", "linkedin", "zello", "tiktok", "nothing"],
            "service_name": ["WeChat", "Telegram", "LinkedIn", "Zello", "TikTok", "Nothing"],
            "blocking_country": ["RU", "RU", "RU", "RU", "IN", "RU"],
            "start_date": pd.to_datetime(
                ["2017-05-04", "2018-04-16", "2016-11-17", "2017-04-13", "2020-06-29", "2020-01-01"]
            ),
        }
    )


def _mau() -> pd.DataFrame:
    rows = [
        ("wechat", "WeChat", "2016-12-31", "quarter", "WORLD", 889_000_000, True),
        ("wechat", "WeChat", "2017-03-31", "quarter", "WORLD", 938_000_000, True),
        ("wechat", "WeChat", "2017-06-30", "quarter", "WORLD", 963_000_000, True),
        ("telegram", "Telegram", "2020-06-30", "month", "RU", 30_000_000, True),
        ("linkedin", "LinkedIn", "2016-11-30", "month", "RU", 6_000_000, False),
        ("zello", "Zello", "2017-04-30", "month", "RU", 400_000, True),
        ("tiktok", "TikTok", "2020-06-30", "month", "IN", 200_000_000, True),
        ("tiktok", "TikTok", "2019-01-31", "month", "IN", 50_000_000, True),
        ("tiktok", "TikTok", "2015-01-31", "month", "IN", 1_000_000, True),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "service_id",
            "service_name",
            "period_end",
            "period_precision",
            "geo",
            "mau",
            "is_mau",
        ],
    )
    return frame.assign(
        period_end=pd.to_datetime(frame["period_end"]).dt.date,
        mau=frame["mau"].astype("Int64"),
        mau_qualifier=None,
    )


def _with_kinds() -> pd.DataFrame:
    kinds = ["mau", "mau", "mau", "mau", "registered", "mau", "mau", "mau", "mau"]
    return _mau().assign(
        metric_kind=kinds, metric=[f"as reported {i}" for i in range(len(kinds))]
    )


def test_users_exposed_prefers_figures_before_the_start_and_states_the_metric():
    exposed = estimate_users_exposed(_blocks(), _with_kinds()).set_index("event_id")
    tiktok = exposed.loc["IN-2020-TIKTOK"]
    # 2020-06-30 is one day after the start (may reflect the ban): the 2019 figure wins
    assert tiktok["users_exposed"] == 50_000_000
    assert tiktok["figure_period_end"] == pd.Timestamp("2019-01-31")
    assert not tiktok["figure_after_start"] and tiktok["figure_offset_days"] == -515
    assert tiktok["exposure_metric_kind"] == "mau" and tiktok["is_mau"]
    assert tiktok["metric_as_reported"] == "as reported 7"
    assert tiktok["exposure_method"] == "country_figure" and pd.isna(tiktok["missing_reason"])
    # only later figures: used, and flagged
    zello = exposed.loc["RU-2017-ZELLO"]
    assert zello["users_exposed"] == 400_000 and zello["figure_after_start"]
    # any kind, never silently: registered users are used and say so
    linkedin = exposed.loc["RU-2016-LINKEDIN"]
    assert linkedin["users_exposed"] == 6_000_000
    assert linkedin["exposure_metric_kind"] == "registered" and not linkedin["is_mau"]
    reasons = exposed["missing_reason"].to_dict()
    assert reasons["RU-2018-TELEGRAM"] == userbase.REASON_OUT_OF_WINDOW  # 806 days later
    assert reasons["RU-2017-WECHAT"] == userbase.REASON_NO_FIGURE
    assert exposed.loc["RU-2017-WECHAT", "exposure_method"] == "none"
    assert exposed["users_exposed"].dtype == "Int64"


def test_kind_order_then_distance_then_plain_then_smaller():
    blocks = _blocks().iloc[[4]]  # TikTok in IN, 2020-06-29
    rows = [
        ("2020-03-31", 90, "users", None),
        ("2019-12-31", 80, "mau", "at_least"),
        ("2019-12-31", 70, "mau", None),
        ("2019-12-31", 75, "mau", None),
        ("2020-05-31", 95, "registered", None),
        ("2020-07-31", 99, "mau", None),
    ]
    mau = pd.DataFrame(rows, columns=["period_end", "mau", "metric_kind", "mau_qualifier"])
    mau = mau.assign(service_id="tiktok", service_name="TikTok", geo="IN",
                     period_precision="month", is_mau=True,
                     mau=mau["mau"].astype("Int64"))
    chosen = estimate_users_exposed(blocks, mau).iloc[0]
    assert (chosen["users_exposed"], chosen["exposure_metric_kind"]) == (70, "mau")
    no_mau = estimate_users_exposed(blocks, mau.loc[mau["metric_kind"] != "mau"]).iloc[0]
    assert (no_mau["users_exposed"], no_mau["exposure_metric_kind"]) == (90, "users")
    only_mau = estimate_users_exposed(blocks, mau.iloc[[0, 4, 5]], metric_kinds=("mau",)).iloc[0]
    assert only_mau["users_exposed"] == 99 and only_mau["figure_after_start"]
    none = estimate_users_exposed(blocks, mau.iloc[[0, 4]], metric_kinds=("mau",)).iloc[0]
    assert none["missing_reason"] == userbase.REASON_KIND_EXCLUDED


def test_is_mau_follows_metric_kind_with_a_warning_when_they_disagree(caplog):
    mau = _with_kinds().assign(metric_kind=["mau"] * 3 + ["users"] + ["registered"] + ["mau"] * 4)
    with caplog.at_level("WARNING"):
        coded = add_metric_kind(mau)
    assert not coded["is_mau"].iloc[3]  # stored True, kind "users": the kind wins
    assert "disagrees" in caplog.text
    legacy = add_metric_kind(_mau())  # no metric_kind column: read from is_mau
    assert legacy["metric_kind"].tolist()[3:5] == ["mau", "unclassified"]


def test_global_upper_bound_is_labelled_and_never_a_point_estimate():
    exposed = estimate_users_exposed(_blocks(), _mau(), estimate_method="global_upper_bound")
    wechat = exposed.set_index("event_id").loc["RU-2017-WECHAT"]
    assert pd.isna(wechat["users_exposed"])
    assert wechat["users_exposed_upper_bound"] == 938_000_000
    assert wechat["exposure_method"] == "global_upper_bound"
    with pytest.raises(ValueError, match="estimate_method"):
        estimate_users_exposed(_blocks(), _mau(), estimate_method="guess")


def test_global_lookup_takes_period_ending_before_start():
    world = lookup_mau_at_start(_blocks(), _mau(), geo="global").set_index("event_id")
    assert world.loc["RU-2017-WECHAT", "mau_at_start"] == 938_000_000
    assert world.loc["RU-2017-WECHAT", "mau_age_days"] == 34


def test_rank_blocks_by_exposure_keeps_known_figures_of_the_kinds_asked_for():
    exposed = estimate_users_exposed(_blocks(), _with_kinds())
    ranked = rank_blocks_by_exposure(exposed, n=None)
    assert ranked["event_id"].tolist() == ["IN-2020-TIKTOK", "RU-2016-LINKEDIN", "RU-2017-ZELLO"]
    assert ranked.loc[0, ["rank", "users_exposed_millions"]].tolist() == [1, 50.0]
    mau_only = rank_blocks_by_exposure(exposed, n=None, metric_kinds=("mau",))
    assert mau_only["event_id"].tolist() == ["IN-2020-TIKTOK", "RU-2017-ZELLO"]


def test_summarise_mau_by_period_keeps_latest_figure_per_year():
    summary = summarise_mau_by_period(_mau())
    wechat = summary.loc[summary["service_id"] == "wechat"]
    assert wechat[["period", "mau_millions", "geo_level"]].values.tolist() == [
        ["2016", 889.0, "global"],
        ["2017", 963.0, "global"],
    ]
    assert "linkedin" not in set(summary["service_id"])  # registered users are not MAU


def test_log_global_mau_covariate():
    out = add_log_global_mau(_blocks(), _mau()).set_index("event_id")
    assert out.loc["RU-2017-WECHAT", "log_global_mau"] == pytest.approx(np.log(938e6))
    assert np.isnan(out.loc["RU-2016-LINKEDIN", "log_global_mau"])


def test_inputs_are_not_mutated():
    blocks, mau = _blocks(), _mau()
    before_blocks, before_mau = blocks.copy(), mau.copy()
    estimate_users_exposed(blocks, mau, estimate_method="global_upper_bound")
    pd.testing.assert_frame_equal(blocks, before_blocks)
    pd.testing.assert_frame_equal(mau, before_mau)
