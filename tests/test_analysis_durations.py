import datetime as dt

import numpy as np
import pandas as pd
import pytest

from censorlab.analysis.durations import (
    check_end_status,
    compute_block_durations,
    select_implemented_blocks,
)

AS_OF = "2025-11-01"
CONTRAST = "as_of_contrast"


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
            "end_status": ["ended", "in_force", "ended", "unknown"],
            "last_confirmed_date": [None, "2018-04-16", None, "2026-01-01"],
        }
    )


def test_wechat_2017_block_lasted_seven_days_with_exact_bounds():
    out = compute_block_durations(_blocks()).set_index("event_id")
    row = out.loc["RU-2017-WECHAT"]
    assert row["duration_days"] == 7
    assert (row["duration_low_days"], row["duration_high_days"]) == (7, 7)
    assert bool(row["observed"]) and row["stop_source"] == "end_date"


def test_in_force_block_is_censored_at_last_confirmed_never_at_as_of():
    row = compute_block_durations(_blocks()).set_index("event_id").loc["RU-2017-LINE"]
    confirmed = pd.Timestamp("2018-04-16")
    assert not bool(row["observed"]) and row["stop_source"] == "last_confirmed_date"
    assert row["stop_date"] == confirmed
    assert row["duration_days"] == (confirmed - pd.Timestamp("2017-05-02")).days
    assert row["duration_low_days"] == (confirmed - pd.Timestamp("2017-05-03")).days
    assert row["duration_high_days"] == (confirmed - pd.Timestamp("2017-04-29")).days


def test_unknown_end_is_censored_at_last_confirmed_or_excluded_by_name():
    main = compute_block_durations(_blocks()).set_index("event_id").loc["XX-FUTURE"]
    assert main["duration_days"] == 0 and not bool(main["observed"])
    excluded = compute_block_durations(_blocks(), scenario="unknown_excluded")
    assert "XX-FUTURE" not in set(excluded["event_id"])
    assert len(excluded) == 3


def test_as_of_is_refused_outside_the_contrast_and_required_in_it():
    with pytest.raises(ValueError, match="as_of"):
        compute_block_durations(_blocks(), as_of=AS_OF)
    with pytest.raises(ValueError, match="as_of"):
        compute_block_durations(_blocks(), scenario=CONTRAST)
    with pytest.raises(ValueError, match="scenario"):
        compute_block_durations(_blocks(), scenario="as_ongoing")


def test_contract_violations_raise_naming_the_rows():
    broken = _blocks().assign(
        end_status=["ended", "in_force", "in_force", None],
        last_confirmed_date=[None, None, "2009-04-01", "2025-01-01"],
    )
    problems = check_end_status(broken)
    assert any("in_force/unknown without last_confirmed_date" in p and "RU-2017-LINE" in p
               for p in problems)
    assert any("with an end_date" in p and "CN-2009-YOUTUBE" in p for p in problems)
    assert any("end_status missing" in p and "XX-FUTURE" in p for p in problems)
    with pytest.raises(ValueError, match="end-status contract"):
        compute_block_durations(broken)
    before_start = _blocks().assign(last_confirmed_date=[None, "2017-01-01", None, "2026-01-01"])
    assert check_end_status(before_start) == [
        "last_confirmed_date before start_date: ['RU-2017-LINE']"
    ]
    assert "no end_status column" in check_end_status(_blocks().drop(columns="end_status"))[0]


def test_contrast_reads_every_empty_end_as_open_until_as_of():
    row = (
        compute_block_durations(_blocks(), scenario=CONTRAST, as_of=AS_OF)
        .set_index("event_id")
        .loc["RU-2017-LINE"]
    )
    as_of = pd.Timestamp(AS_OF)
    assert not bool(row["observed"]) and row["stop_source"] == "as_of"
    assert row["stop_date"] == as_of
    assert row["duration_days"] == (as_of - pd.Timestamp("2017-05-02")).days
    assert row["duration_low_days"] == (as_of - pd.Timestamp("2017-05-03")).days
    assert row["duration_high_days"] == (as_of - pd.Timestamp("2017-04-29")).days


def test_month_precision_gives_shortest_and_longest_possible_durations():
    row = compute_block_durations(_blocks()).set_index("event_id").loc["CN-2009-YOUTUBE"]
    days = lambda a, b: (pd.Timestamp(b) - pd.Timestamp(a)).days  # noqa: E731
    assert row["duration_low_days"] == days("2009-03-31", "2010-06-01")
    assert row["duration_high_days"] == days("2009-03-01", "2010-06-30")
    assert row["duration_low_days"] <= row["duration_days"] <= row["duration_high_days"]


def test_contrast_block_starting_after_as_of_has_no_duration():
    out = compute_block_durations(_blocks(), scenario=CONTRAST, as_of=AS_OF)
    row = out.set_index("event_id").loc["XX-FUTURE"]
    assert np.isnan(row["duration_days"]) and np.isnan(row["duration_high_days"])


def test_contrast_end_after_as_of_is_censored_at_as_of():
    blocks = _blocks().assign(end_date=["2030-01-01", None, None, None])
    row = compute_block_durations(blocks, scenario=CONTRAST, as_of=AS_OF).iloc[0]
    assert not bool(row["observed"])
    assert row["duration_days"] == (pd.Timestamp(AS_OF) - pd.Timestamp("2017-05-04")).days


def test_input_is_not_mutated_and_date_types_do_not_matter():
    blocks = _blocks()
    before = blocks.copy()
    as_strings = compute_block_durations(blocks)
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
        out = compute_block_durations(variant)
        pd.testing.assert_frame_equal(out[columns], as_strings[columns])
        contrast = compute_block_durations(variant, scenario=CONTRAST, as_of=dt.date(2025, 11, 1))
        assert contrast["duration_days"].iloc[1] == (
            pd.Timestamp(AS_OF) - pd.Timestamp("2017-05-02")
        ).days


def test_missing_brackets_fall_back_to_point_dates():
    blocks = _blocks().drop(columns=["start_earliest_date", "end_latest_date"])
    row = compute_block_durations(blocks).set_index("event_id").loc["RU-2017-WECHAT"]
    assert (row["duration_low_days"], row["duration_high_days"]) == (7, 7)


@pytest.mark.parametrize(
    ("flags", "kept"),
    [([True, False, None, True], ["a", "c", "d"]), ([None, None, None, None], list("abcd"))],
)
def test_select_implemented_blocks_drops_only_explicit_false(flags, kept):
    blocks = pd.DataFrame({"event_id": list("abcd"), "is_implemented": pd.array(flags, "boolean")})
    assert select_implemented_blocks(blocks)["event_id"].tolist() == kept
