"""Units of analysis: one per decision and operator home country, or one per service row."""

import pandas as pd
import pytest

from censorlab.analysis.decisions import build_analysis_units
from censorlab.analysis.durations import compute_block_durations


def _blocks() -> pd.DataFrame:
    rows = [
        # Russia, May 2017: one decision, four home countries (the SPEC's "same incident")
        ("RU-2017-WECHAT", "RU-2017-WECHAT", "wechat", "RU", "CN", "2017-05-04", "2017-05-11",
         "ended", None),
        ("RU-2017-LINE", "RU-2017-WECHAT", "line", "RU", "JP", "2017-05-03", None, "in_force",
         "2018-02-01"),
        ("RU-2017-BBM", "RU-2017-WECHAT", "bbm", "RU", "CA", "2017-05-03", None, "unknown",
         "2017-05-03"),
        ("RU-2017-VCHAT", "RU-2017-WECHAT", "vchat", "RU", None, "2017-05-03", None, "unknown",
         "2017-05-03"),
        # Pakistan 2023: one order, three US services, lifted on different days
        ("PK-2023-X", "PK-2023-X", "twitter", "PK", "US", "2023-05-09", "2023-05-13", "ended",
         None),
        ("PK-2023-FACEBOOK", "PK-2023-X", "facebook", "PK", "US", "2023-05-09", "2023-05-12",
         "ended", None),
        ("PK-2023-YOUTUBE", "PK-2023-X", "youtube", "PK", "US", "2023-05-10", "2023-05-14",
         "ended", None),
        # India 2020: one order, two CN apps, still in force, confirmed at different dates
        ("IN-2020-TIKTOK", "IN-2020-TIKTOK", "tiktok", "IN", "CN", "2020-06-29", None,
         "in_force", "2024-01-01"),
        ("IN-2020-WECHAT", "IN-2020-TIKTOK", "wechat", "IN", "CN", "2020-06-29", None,
         "in_force", "2021-06-01"),
    ]
    return pd.DataFrame(
        rows,
        columns=["event_id", "decision_id", "service_id", "blocking_country",
                 "operator_country", "start_date", "end_date", "end_status",
                 "last_confirmed_date"],
    )


def _units(**kwargs) -> pd.DataFrame:
    return build_analysis_units(compute_block_durations(_blocks()), **kwargs).set_index("unit_id")


def test_decision_time_to_lift_is_first_restoration_from_earliest_start():
    pk = _units().loc["PK-2023-X"]
    assert pk["observed"] and pk["n_rows"] == 3
    assert pk["start_date"] == pd.Timestamp("2023-05-09")
    assert pk["stop_date"] == pd.Timestamp("2023-05-12") and pk["time_days"] == 3
    assert pk["event_ids"] == ["PK-2023-FACEBOOK", "PK-2023-X", "PK-2023-YOUTUBE"]
    assert pk["dyad"] == "PK-US"


def test_unlifted_decision_is_censored_at_its_latest_confirmation_or_earliest_on_request():
    latest = _units().loc["IN-2020-TIKTOK"]
    assert not latest["observed"] and latest["stop_date"] == pd.Timestamp("2024-01-01")
    assert latest["stop_source"] == "last_confirmed_date"
    earliest = _units(decision_censoring="earliest").loc["IN-2020-TIKTOK"]
    assert earliest["stop_date"] == pd.Timestamp("2021-06-01")


def test_decision_with_several_home_countries_gives_one_unit_per_dyad():
    units = _units()
    russia = units.loc[units["decision_id"] == "RU-2017-WECHAT"]
    assert russia.index.tolist() == [
        "RU-2017-WECHAT|CA", "RU-2017-WECHAT|CN", "RU-2017-WECHAT|JP", "RU-2017-WECHAT|unknown"
    ]
    assert russia.loc["RU-2017-WECHAT|CN", "time_days"] == 7
    assert russia.loc["RU-2017-WECHAT|CN", "observed"]
    assert russia.loc["RU-2017-WECHAT|JP", "stop_date"] == pd.Timestamp("2018-02-01")
    assert pd.isna(russia.loc["RU-2017-WECHAT|unknown", "dyad"])
    assert len(units) == 6


def test_service_level_keeps_every_row_with_its_decision():
    units = _units(level="service")
    assert len(units) == 9
    assert units.loc["PK-2023-YOUTUBE", "decision_id"] == "PK-2023-X"
    assert units.loc["PK-2023-YOUTUBE", "time_days"] == 4
    assert (units["level"] == "service").all()


def test_precision_bounds_move_start_and_stop():
    blocks = _blocks().iloc[[4]].assign(
        start_date="2023-05-01", start_earliest_date="2023-05-01",
        start_latest_date="2023-05-31", end_date="2023-06-01", end_earliest_date="2023-06-01",
        end_latest_date="2023-06-30",
    )
    durations = compute_block_durations(blocks)
    times = {bound: build_analysis_units(durations, date_bound=bound)["time_days"].iloc[0]
             for bound in ("point", "low", "high")}
    assert times == {"point": 31, "low": 1, "high": 60}


def test_missing_decision_id_falls_back_to_the_source_row(caplog):
    blocks = _blocks().drop(columns="decision_id").assign(
        raw_event_id=lambda frame: frame["event_id"].str.replace("-FACEBOOK", "-X")
    )
    with caplog.at_level("WARNING"):
        units = build_analysis_units(compute_block_durations(blocks))
    assert "raw_event_id stands in" in caplog.text
    assert units.loc[units["decision_id"] == "PK-2023-X", "n_rows"].tolist() == [2]


def test_options_are_checked():
    durations = compute_block_durations(_blocks())
    for option in ({"level": "country"}, {"date_bound": "mid"}, {"decision_censoring": "mean"}):
        with pytest.raises(ValueError):
            build_analysis_units(durations, **option)


def test_row_order_does_not_matter():
    durations = compute_block_durations(_blocks())
    shuffled = durations.sample(frac=1, random_state=3)
    pd.testing.assert_frame_equal(build_analysis_units(durations),
                                  build_analysis_units(shuffled))
