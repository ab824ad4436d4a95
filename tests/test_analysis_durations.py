import datetime as dt

import numpy as np
import pandas as pd
import pytest

from censorlab.analysis.durations import compute_block_durations, select_implemented_blocks

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
