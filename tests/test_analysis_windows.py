import numpy as np
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


def _swept(diplomacy: pd.DataFrame) -> pd.DataFrame:
    level = diplomacy["kind"].map({"dispute": None}).where(
        diplomacy["kind"] == "dispute", "leader-visit"
    )
    return diplomacy.assign(compiled_by="dyad-sweep", contact_level=level)


def _coverage(years=(2016, 2017, 2020)) -> pd.DataFrame:
    return pd.DataFrame(
        [(a, b, y, ["leader-visit", "minister-visit"]) for a, b in (("RU", "CN"), ("RU", "JP"),
                                                                    ("IN", "CN")) for y in years],
        columns=["country_a", "country_b", "year", "complete_levels"],
    )


def test_placebo_uses_the_covariate_window_and_only_covered_anchors():
    blocks = _blocks().assign(end_date=pd.to_datetime(["2017-05-11", "2017-05-20", None, None]))
    # WeChat's lift (05-11) follows D1 (04-13) by 28 days; LINE's (05-20) is 23 days after D3
    result = compare_with_placebo(blocks, _swept(_diplomacy()), _coverage(), window_days=30,
                                  anchor="end", n_draws=50, seed=1).iloc[0]
    assert (result["n_anchors"], result["n_anchors_exposed"]) == (2, 2)
    short = compare_with_placebo(blocks, _swept(_diplomacy()), _coverage(), window_days=25,
                                 anchor="end", n_draws=50, seed=1).iloc[0]
    assert short["n_anchors_exposed"] == 1
    starts = compare_with_placebo(blocks, _swept(_diplomacy()), _coverage(), window_days=30,
                                  anchor="start", n_draws=50, seed=1).iloc[0]
    # starts: WeChat 21 days after D1, LINE 5 after D3, TikTok's only event is a dispute;
    # Vchat has no dyad
    assert (starts["n_anchors"], starts["n_anchors_exposed"]) == (3, 2)
    uncovered = compare_with_placebo(blocks, _swept(_diplomacy()), _coverage(years=(2020,)),
                                     window_days=30, anchor="end", n_draws=10).iloc[0]
    assert uncovered["n_anchors"] == 0 and uncovered["n_anchors_uncovered"] == 2


@pytest.mark.parametrize(("same_day", "exposed"), [("contact_after_lift", 0),
                                                   ("contact_before_lift", 1)])
def test_placebo_same_day_ordering_matches_the_models(same_day, exposed):
    blocks = _blocks().iloc[[0]]
    diplomacy = _swept(_diplomacy().iloc[[1]].assign(date="2017-05-11"))
    result = compare_with_placebo(blocks, diplomacy, _coverage(), window_days=5, anchor="end",
                                  same_day=same_day, n_draws=10).iloc[0]
    assert result["n_anchors_exposed"] == exposed


def test_placebo_is_seeded_and_finds_anchors_that_follow_contact():
    rng = np.random.default_rng(0)
    contact_days = pd.Timestamp("2017-01-01") + pd.to_timedelta(
        np.sort(rng.choice(365, 12, replace=False)), unit="D")
    blocks = pd.DataFrame(
        {
            "event_id": [f"B{i}" for i in range(12)],
            "blocking_country": "RU",
            "operator_country": "CN",
            "start_date": contact_days - pd.Timedelta(days=100),
            "end_date": contact_days + pd.Timedelta(days=2),  # every lift 2 days after contact
        }
    )
    diplomacy = pd.DataFrame({"date": contact_days, "country_a": "RU", "country_b": "CN",
                              "kind": "summit", "title": "visit"})
    first = compare_with_placebo(blocks, _swept(diplomacy), _coverage(), window_days=7,
                                 n_draws=99, seed=4)
    again = compare_with_placebo(blocks, _swept(diplomacy), _coverage(), window_days=7,
                                 n_draws=99, seed=4)
    pd.testing.assert_frame_equal(first, again)
    row = first.iloc[0]
    assert row["observed_share"] == 1.0 and row["p_value"] <= 0.05
    assert row["placebo_share_p2_5"] <= row["placebo_mean_share"] <= row["placebo_share_p97_5"]
    far = blocks.assign(end_date=contact_days + pd.Timedelta(days=20))
    null = compare_with_placebo(far, _swept(diplomacy), _coverage(), window_days=7,
                                n_draws=99, seed=4).iloc[0]
    assert null["p_value"] > 0.2
    with pytest.raises(ValueError, match="anchor"):
        compare_with_placebo(blocks, _swept(diplomacy), _coverage(), anchor="middle")
