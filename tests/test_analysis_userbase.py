import numpy as np
import pandas as pd
import pytest

from censorlab.analysis import userbase
from censorlab.analysis.userbase import (
    add_log_global_mau,
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


def test_users_exposed_uses_latest_country_figure_before_start_and_explains_gaps():
    exposed = estimate_users_exposed(_blocks(), _mau()).set_index("event_id")
    assert exposed.loc["IN-2020-TIKTOK", "users_exposed"] == 50_000_000
    assert exposed.loc["IN-2020-TIKTOK", "exposure_method"] == "country_mau"
    assert exposed.loc["IN-2020-TIKTOK", "mau_period_end"] == pd.Timestamp("2019-01-31")
    assert pd.isna(exposed.loc["IN-2020-TIKTOK", "missing_reason"])
    reasons = exposed["missing_reason"].to_dict()
    assert reasons["RU-2017-WECHAT"] == userbase.REASON_NO_FIGURE
    assert reasons["RU-2018-TELEGRAM"] == userbase.REASON_ONLY_LATER
    assert reasons["RU-2016-LINKEDIN"] == userbase.REASON_NOT_MAU
    assert reasons["RU-2017-ZELLO"] == userbase.REASON_ONLY_LATER
    assert reasons["XX-NONE"] == userbase.REASON_NO_FIGURE
    assert exposed["users_exposed"].dtype == "Int64"
    assert exposed.loc["RU-2017-WECHAT", "exposure_method"] == "none"


def test_tolerance_rejects_stale_figures():
    exposed = estimate_users_exposed(_blocks(), _mau(), tolerance_days=365).set_index("event_id")
    assert pd.isna(exposed.loc["IN-2020-TIKTOK", "users_exposed"])
    assert exposed.loc["IN-2020-TIKTOK", "missing_reason"] == userbase.REASON_TOO_OLD


def test_current_period_option_accepts_the_month_of_the_block():
    exposed = estimate_users_exposed(_blocks(), _mau(), include_current_period=True)
    assert exposed.set_index("event_id").loc["RU-2017-ZELLO", "users_exposed"] == 400_000


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


def test_rank_blocks_by_exposure_keeps_known_figures_only():
    ranked = rank_blocks_by_exposure(estimate_users_exposed(_blocks(), _mau()), n=None)
    assert ranked["event_id"].tolist() == ["IN-2020-TIKTOK"]
    assert ranked.loc[0, ["rank", "users_exposed_millions"]].tolist() == [1, 50.0]


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
