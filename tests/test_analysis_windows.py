import pandas as pd
import pytest

from censorlab.analysis.covariates import flag_diplomatic_contact
from censorlab.analysis.windows import (
    compare_with_placebo,
    count_blocks_with_nearby_event,
    find_blocks_near_events,
    find_events_near_blocks,
)


def _blocks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["RU-2017-WECHAT", "RU-2017-LINE", "RU-2017-VCHAT", "IN-2020-TIKTOK"],
            "service_name": ["WeChat", "LINE", "Vchat", "TikTok"],
            "blocking_country": ["RU", "RU", "RU", "IN"],
            "operator_country": ["CN", "JP", None, "CN"],
            "start_date": pd.to_datetime(["2017-05-04", "2017-05-02", "2017-05-02", "2020-06-29"]),
            "end_date": pd.to_datetime(["2017-05-11", None, None, None]),
        }
    )


def _diplomacy() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["D1", "D2", "D3", "D4", "D5"],
            "date": ["2017-04-13", "2017-05-14", "2017-04-27", "2016-06-25", "2020-06-15"],
            "date_precision": ["day"] * 5,
            "country_a": ["RU", "RU", "RU", "RU", "IN"],
            "country_b": ["CN", "CN", "JP", "CN", "CN"],
            "kind": ["negotiation", "summit", "summit", "agreement", "dispute"],
            "title": ["Zhang Gaoli", "Belt and Road", "Abe-Putin", "Joint statement", "Galwan"],
        }
    )


def test_events_near_each_block_start_and_end():
    pairs = find_events_near_blocks(_blocks(), _diplomacy(), window_days=30)
    wechat = pairs.loc[pairs["event_id"] == "RU-2017-WECHAT"]
    assert wechat[["anchor", "diplomatic_event_id", "days_from_anchor"]].values.tolist() == [
        ["end", "D1", -28],
        ["end", "D2", 3],
        ["start", "D1", -21],
        ["start", "D2", 10],
    ]
    line = pairs.loc[pairs["event_id"] == "RU-2017-LINE"]
    assert line["diplomatic_event_id"].tolist() == ["D3"]
    assert "RU-2017-VCHAT" not in set(pairs["event_id"])  # unknown operator: no dyad


def test_dyad_matches_in_either_order_and_window_is_inclusive():
    diplomacy = _diplomacy().assign(
        country_a=["CN", "RU", "RU", "RU", "CN"], country_b=["RU", "CN", "JP", "CN", "IN"]
    )
    pairs = find_events_near_blocks(_blocks(), diplomacy, window_days=14)
    tiktok = pairs.loc[pairs["event_id"] == "IN-2020-TIKTOK"]
    assert tiktok["days_from_anchor"].tolist() == [-14]


def test_blocks_near_each_diplomatic_event():
    near = find_blocks_near_events(_diplomacy(), _blocks(), window_days=7)
    columns = ["diplomatic_event_id", "event_id", "anchor", "days_from_event"]
    assert near[columns].values.tolist() == [
        ["D3", "RU-2017-LINE", "start", 5],
        ["D2", "RU-2017-WECHAT", "end", -3],
    ]


def test_contact_window_counts_only_contact_kinds_after_start():
    flagged = flag_diplomatic_contact(_blocks(), _diplomacy(), window_days=10).set_index("event_id")
    assert flagged.loc["RU-2017-WECHAT", "n_contact_events"] == 1  # D2 at +10, D1 was before
    assert not flagged.loc["RU-2017-LINE", "has_diplomatic_contact"]  # D3 was before start
    assert not flagged.loc["IN-2020-TIKTOK", "has_diplomatic_contact"]  # dispute is no contact
    assert not flagged.loc["RU-2017-VCHAT", "has_diplomatic_contact"]
    shorter = flag_diplomatic_contact(_blocks(), _diplomacy(), window_days=9)
    assert not shorter.set_index("event_id").loc["RU-2017-WECHAT", "has_diplomatic_contact"]


def test_count_blocks_with_nearby_event():
    counted = count_blocks_with_nearby_event(_blocks(), _diplomacy(), window_days=30)
    assert counted.set_index("event_id")["has_nearby_event"].to_dict() == {
        "RU-2017-WECHAT": True,
        "RU-2017-LINE": True,
        "IN-2020-TIKTOK": True,
    }


def test_placebo_is_seeded_and_reports_observed_share():
    first = compare_with_placebo(_blocks(), _diplomacy(), window_days=30, n_draws=200, seed=1)
    again = compare_with_placebo(_blocks(), _diplomacy(), window_days=30, n_draws=200, seed=1)
    pd.testing.assert_frame_equal(first, again)
    row = first.iloc[0]
    assert row["n_blocks"] == 3 and row["n_blocks_near"] == 2  # TikTok's only event is a dispute
    assert row["observed_share"] == pytest.approx(2 / 3)
    assert 0 < row["p_value"] <= 1
    assert row["placebo_share_p2_5"] <= row["placebo_mean_share"] <= row["placebo_share_p97_5"]


def test_placebo_far_from_events_gives_high_p_value():
    far = _blocks().assign(start_date=pd.to_datetime(["2012-01-01"] * 4))
    result = compare_with_placebo(
        far, _diplomacy(), window_days=5, n_draws=100, period=("2012-01-01", "2020-01-01")
    ).iloc[0]
    assert result["observed_share"] == 0
    assert result["p_value"] == 1.0
