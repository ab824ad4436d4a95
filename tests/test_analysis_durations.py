import datetime as dt

import numpy as np
import pandas as pd
import pytest

from censorlab.analysis.durations import (
    apply_end_status_scenario,
    classify_end_status,
    compute_block_durations,
    says_end_unknown,
    select_implemented_blocks,
)

AS_OF = "2025-11-01"


def _blocks() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["RU-2017-WECHAT", "RU-2017-LINE", "CN-2009-YOUTUBE", "XX-FUTURE"],
            "start_date": ["2017-05-04", "2017-05-02", "2009-03-01", "2026-01-01"],
            "start_precision": ["day", "day_approx", "month", "day"],
            "start_earliest_date": ["2017-05-04", "2017-04-29", "2009-03-01", "2026-01-01"],
            "start_latest_date": ["2017-05-04", "2017-05-03", "2009-03-31", "2026-01-01"],
            "end_date": ["2017-05-11", None, "2010-06-01", None],
            "end_precision": ["day", None, "month", None],
            "end_earliest_date": ["2017-05-11", None, "2010-06-01", None],
            "end_latest_date": ["2017-05-11", None, "2010-06-30", None],
        }
    )


def test_wechat_2017_block_lasted_seven_days_with_exact_bounds():
    out = compute_block_durations(_blocks(), as_of=AS_OF).set_index("event_id")
    row = out.loc["RU-2017-WECHAT"]
    assert row["duration_days"] == 7
    assert (row["duration_low_days"], row["duration_high_days"]) == (7, 7)
    assert bool(row["observed"]) and not bool(row["is_ongoing"])


def test_ongoing_block_is_censored_at_as_of_with_bounds_from_start_bracket():
    row = compute_block_durations(_blocks(), as_of=AS_OF).set_index("event_id").loc["RU-2017-LINE"]
    as_of = pd.Timestamp(AS_OF)
    assert not bool(row["observed"]) and bool(row["is_ongoing"])
    assert row["censor_date"] == as_of
    assert row["duration_days"] == (as_of - pd.Timestamp("2017-05-02")).days
    assert row["duration_low_days"] == (as_of - pd.Timestamp("2017-05-03")).days
    assert row["duration_high_days"] == (as_of - pd.Timestamp("2017-04-29")).days


def test_month_precision_gives_shortest_and_longest_possible_durations():
    row = (
        compute_block_durations(_blocks(), as_of=AS_OF).set_index("event_id").loc["CN-2009-YOUTUBE"]
    )
    days = lambda a, b: (pd.Timestamp(b) - pd.Timestamp(a)).days  # noqa: E731
    assert row["duration_low_days"] == days("2009-03-31", "2010-06-01")
    assert row["duration_high_days"] == days("2009-03-01", "2010-06-30")
    assert row["duration_low_days"] <= row["duration_days"] <= row["duration_high_days"]


def test_block_starting_after_as_of_has_no_duration():
    row = compute_block_durations(_blocks(), as_of=AS_OF).set_index("event_id").loc["XX-FUTURE"]
    assert np.isnan(row["duration_days"]) and np.isnan(row["duration_high_days"])


def test_end_after_as_of_is_censored_at_as_of():
    blocks = _blocks().assign(end_date=["2030-01-01", None, None, None])
    row = compute_block_durations(blocks, as_of=AS_OF).iloc[0]
    assert not bool(row["observed"])
    assert row["duration_days"] == (pd.Timestamp(AS_OF) - pd.Timestamp("2017-05-04")).days


def test_input_is_not_mutated_and_date_types_do_not_matter():
    blocks = _blocks()
    before = blocks.copy()
    as_strings = compute_block_durations(blocks, as_of=AS_OF)
    pd.testing.assert_frame_equal(blocks, before)
    as_dates = blocks.assign(
        **{
            column: pd.to_datetime(blocks[column]).dt.date
            for column in blocks.columns
            if column.endswith("_date")
        }
    )
    as_ms = blocks.assign(
        **{
            column: pd.to_datetime(blocks[column]).astype("datetime64[ms]")
            for column in blocks.columns
            if column.endswith("_date")
        }
    )
    columns = ["duration_days", "duration_low_days", "duration_high_days", "observed"]
    for variant in (as_dates, as_ms):
        out = compute_block_durations(variant, as_of=dt.date(2025, 11, 1))
        pd.testing.assert_frame_equal(out[columns], as_strings[columns])


def test_missing_brackets_fall_back_to_point_dates():
    blocks = _blocks().drop(columns=["start_earliest_date", "end_latest_date"])
    row = compute_block_durations(blocks, as_of=AS_OF).set_index("event_id").loc["RU-2017-WECHAT"]
    assert (row["duration_low_days"], row["duration_high_days"]) == (7, 7)


@pytest.mark.parametrize(
    ("flags", "kept"),
    [([True, False, None, True], ["a", "c", "d"]), ([None, None, None, None], list("abcd"))],
)
def test_select_implemented_blocks_drops_only_explicit_false(flags, kept):
    blocks = pd.DataFrame({"event_id": list("abcd"), "is_implemented": pd.array(flags, "boolean")})
    assert select_implemented_blocks(blocks)["event_id"].tolist() == kept


@pytest.mark.parametrize(
    "text",
    [
        "for start; end not found",
        "end unknown",
        "End date not found",
        "end dates unknown; multi-service row",
        "end of block not found",
        "day approximate; end not captured",
        "order confirmed; enforcement and end not confirmed",
        "Directive ordered blocking until 2021-02-07; actual end not found in sources read",
        "messenger-specific end date not captured",
        "Remained blocked after Facebook unblocked 2015-12-10; unblock date not found",
        "restoration date not captured; WhatsApp unaffected",
        "unblock dates per service not captured",
        "One source says LINE was later unblocked (date not found)",
        "implying access was restored at an unknown date",
        "high: for date; durations of the social-media restrictions not all captured",
        "later status of each service not tracked here",
        "later lifting of VoIP restrictions not sourced here",
    ],
)
def test_says_end_unknown_matches_documented_phrases(text):
    assert says_end_unknown(text)


@pytest.mark.parametrize(
    "text",
    [
        "order date; enforcement date not captured",
        "for order; enforcement day not captured",
        "Blocked 'in early February' 2021; exact day not captured",
        "for order; enforcement not confirmed",
        "platforms affected reported inconsistently; ongoing as of source",
        "for start; still blocked as of source date",
        "Suspension until further notice; the weekend not found in archive",
        "",
        None,
        float("nan"),
    ],
)
def test_says_end_unknown_ignores_start_side_and_ongoing_phrases(text):
    assert not says_end_unknown(text)


def _end_status_blocks() -> pd.DataFrame:
    """Six day-precision blocks starting 2020-01-01; AS_OF_END gives the ongoing one 100 days."""
    return pd.DataFrame(
        {
            "event_id": list("ABCDEF"),
            "start_date": ["2020-01-01"] * 6,
            "end_date": ["2020-01-03", "2020-01-11", "2020-01-21", None, None, None],
            "confidence_note": [
                None,
                "end not found",
                None,
                "for start; end not found",
                None,
                None,
            ],
            "notes": [
                None,
                None,
                None,
                None,
                "Temporary block; end date unknown",
                "still in force",
            ],
            "has_diplomatic_contact": [False, True, False, False, True, False],
        }
    )


AS_OF_END = "2020-04-10"


def test_classify_end_status_reported_wins_then_text_then_ongoing():
    out = classify_end_status(_end_status_blocks())
    assert out["end_status"].tolist() == [
        "reported",
        "reported",
        "reported",
        "unknown",
        "unknown",
        "ongoing",
    ]


def test_classify_end_status_without_text_columns_is_ongoing():
    blocks = _end_status_blocks().drop(columns=["confidence_note", "notes"])
    assert classify_end_status(blocks)["end_status"].tolist()[3:] == ["ongoing"] * 3


def test_end_status_scenarios_recensor_only_unknown_ends():
    durations = compute_block_durations(_end_status_blocks(), as_of=AS_OF_END).pipe(
        classify_end_status
    )
    as_ongoing = apply_end_status_scenario(durations, "as_ongoing")
    assert as_ongoing["duration_days"].tolist() == [2, 10, 20, 100, 100, 100]
    excluded = apply_end_status_scenario(durations, "excluded")
    assert excluded["event_id"].tolist() == ["A", "B", "C", "F"]
    at_report = apply_end_status_scenario(durations, "censored_at_report", unknown_min_days=5)
    assert at_report["duration_days"].tolist() == [2, 10, 20, 5, 5, 100]
    assert at_report["observed"].tolist() == [True, True, True, False, False, False]
    assert at_report["censor_date"].iloc[3] == pd.Timestamp("2020-01-06")
    with pytest.raises(ValueError, match="scenario"):
        apply_end_status_scenario(durations, "dropped")


def test_censored_at_report_uses_latest_start_and_never_passes_as_of():
    blocks = pd.DataFrame(
        {
            "event_id": ["MONTH", "LATE"],
            "start_date": ["2020-03-01", "2020-04-10"],
            "start_earliest_date": ["2020-03-01", "2020-04-10"],
            "start_latest_date": ["2020-03-31", "2020-04-10"],
            "end_date": [None, None],
            "notes": ["end not found", "end unknown"],
        }
    )
    durations = compute_block_durations(blocks, as_of=AS_OF_END).pipe(classify_end_status)
    out = apply_end_status_scenario(durations, "censored_at_report", unknown_min_days=1)
    month = out.iloc[0]
    assert (month["duration_days"], month["duration_low_days"], month["duration_high_days"]) == (
        31,
        1,
        31,
    )
    late = out.iloc[1]
    assert late["censor_date"] == pd.Timestamp(AS_OF_END) and late["duration_days"] == 0
