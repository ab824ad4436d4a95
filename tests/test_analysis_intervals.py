"""Start-stop rows: same-day ordering, no leakage, coverage truncation, and the tie trap."""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter
from statsmodels.duration.hazard_regression import PHReg

from censorlab.analysis import intervals as iv
from censorlab.analysis.contact_models import fit_contact_cox
from censorlab.analysis.decisions import build_analysis_units
from censorlab.analysis.durations import compute_block_durations
from censorlab.analysis.intervals import (
    build_contact_intervals,
    build_landmark_data,
    explain_sample,
)

VISITS = ("leader-visit", "minister-visit")


def make_blocks(rows) -> pd.DataFrame:
    """rows: (event_id, blocking, operator, start, end or None, last_confirmed or None)."""
    frame = pd.DataFrame(
        rows,
        columns=["event_id", "blocking_country", "operator_country", "start_date", "end_date",
                 "last_confirmed_date"],
    )
    return frame.assign(
        decision_id=frame["event_id"],
        service_id=frame["event_id"].str.lower(),
        end_status=np.where(frame["end_date"].notna(), "ended", "in_force"),
    )


def make_events(rows) -> pd.DataFrame:
    """rows: (date, country_a, country_b[, contact_level])."""
    frame = pd.DataFrame([(*r, "leader-visit")[:4] for r in rows],
                         columns=["date", "country_a", "country_b", "contact_level"])
    return frame.assign(event_id=[f"E{i}" for i in range(len(frame))], compiled_by="dyad-sweep")


def make_coverage(rows, levels=VISITS) -> pd.DataFrame:
    """rows: (country_a, country_b, year)."""
    frame = pd.DataFrame(rows, columns=["country_a", "country_b", "year"])
    return frame.assign(complete_levels=[list(levels)] * len(frame))


def units_of(blocks: pd.DataFrame, level: str = "decision") -> pd.DataFrame:
    return build_analysis_units(compute_block_durations(blocks), level=level)


WECHAT = make_blocks([("RU-2017-WECHAT", "RU", "CN", "2017-05-04", "2017-05-11", None)])
RU_CN_2017 = make_coverage([("RU", "CN", 2017)])


def test_wechat_contact_three_days_after_the_lift_never_exposes():
    events = make_events([("2017-05-14", "RU", "CN")])
    rows = build_contact_intervals(units_of(WECHAT), events, RU_CN_2017)
    assert rows[["entry_day", "stop_day", "event", "contact"]].values.tolist() == [
        [-0.5, 7.0, True, False]
    ]


@pytest.mark.parametrize(
    ("same_day", "exposed_at_lift"),
    [("contact_after_lift", False), ("contact_before_lift", True)],
)
def test_contact_on_the_lift_day_follows_the_declared_ordering(same_day, exposed_at_lift):
    events = make_events([("2017-05-11", "CN", "RU")])  # either order of the dyad
    rows = build_contact_intervals(units_of(WECHAT), events, RU_CN_2017, same_day=same_day)
    lift_row = rows.loc[rows["event"]].iloc[0]
    assert bool(lift_row["contact"]) is exposed_at_lift
    if exposed_at_lift:
        assert rows[["entry_day", "stop_day", "contact"]].values.tolist() == [
            [-0.5, 6.5, False], [6.5, 7.0, True]
        ]


def test_contact_switches_on_half_a_day_after_its_day_and_off_after_the_window():
    blocks = make_blocks([("TR-X", "TR", "US", "2017-01-01", "2017-03-01", None)])
    events = make_events([("2017-01-11", "US", "TR"), ("2016-12-01", "TR", "US")])
    coverage = make_coverage([("TR", "US", 2016), ("TR", "US", 2017)])
    ever = build_contact_intervals(units_of(blocks), events, coverage)
    assert ever[["entry_day", "stop_day", "contact", "event"]].values.tolist() == [
        [-0.5, 10.5, False, False], [10.5, 59.0, True, True]
    ]  # the 2016 contact predates the block and never counts
    window = build_contact_intervals(units_of(blocks), events, coverage, window_days=14)
    assert window[["entry_day", "stop_day", "contact"]].values.tolist() == [
        [-0.5, 10.5, False], [10.5, 24.5, True], [24.5, 59.0, False]
    ]


def test_contact_after_the_interval_never_enters_it():
    # lifted 2018-03-01 but coverage ends 2017-12-31: censored there; a 2018 contact before
    # the lift lies after the last at-risk row and must not appear in it
    blocks = make_blocks([("RU-Y", "RU", "CN", "2017-06-01", "2018-03-01", None)])
    events = make_events([("2018-01-15", "RU", "CN")])
    rows = build_contact_intervals(units_of(blocks), events, RU_CN_2017)
    assert rows[["entry_day", "stop_day", "event", "contact"]].values.tolist() == [
        [-0.5, 213.0, False, False]
    ]
    sample = explain_sample(units_of(blocks), RU_CN_2017).iloc[0]
    assert sample["in_sample"] and sample["censored_by_coverage_end"]


def test_no_row_uses_a_contact_that_switched_on_after_its_entry():
    rng = np.random.default_rng(3)
    starts = pd.Timestamp("2017-01-01") + pd.to_timedelta(rng.integers(0, 300, 40), unit="D")
    lengths = rng.integers(0, 200, 40)
    blocks = make_blocks(
        [
            (f"B{i}", "RU", ["CN", "JP"][i % 2], str(s.date()),
             str((s + pd.Timedelta(days=int(n))).date()) if i % 3 else None,
             None if i % 3 else str((s + pd.Timedelta(days=int(n))).date()))
            for i, (s, n) in enumerate(zip(starts, lengths, strict=True))
        ]
    )
    days = pd.Timestamp("2017-01-01") + pd.to_timedelta(rng.integers(0, 700, 30), unit="D")
    events = make_events([(str(d.date()), "RU", ["CN", "JP"][i % 2]) for i, d in enumerate(days)])
    coverage = make_coverage([("RU", c, y) for c in ("CN", "JP") for y in (2017, 2018)])
    units = units_of(blocks)
    for window in (None, 20):
        rows = build_contact_intervals(units, events, coverage, window_days=window)
        merged = rows.merge(units[["unit_id", "start_date", "time_days"]], on="unit_id")
        contact = events.assign(date=pd.to_datetime(events["date"])).pipe(
            lambda e: e.assign(dyad=np.where(e["country_b"] == "CN", "CN-RU", "JP-RU"))
        )
        for row in merged.itertuples():
            day = (contact.loc[contact["dyad"] == row.dyad, "date"] - row.start_date).dt.days
            on = day[(day >= 0)] + 0.5
            off = on + (np.inf if window is None else window)
            active = bool(((on <= row.entry_day) & (row.entry_day < off)).any())
            assert row.contact == active
            assert row.stop_day <= row.time_days
        assert (rows["entry_day"] % 1 == 0.5).all()  # entries on the half-day grid
        assert not rows["entry_day"].isin(rows.loc[rows["event"], "stop_day"]).any()


def test_coverage_truncation_delayed_entry_gaps_and_reasons():
    blocks = make_blocks(
        [
            ("TR-EARLY", "TR", "US", "2016-11-01", "2017-03-01", None),  # begins before coverage
            ("TR-GAP", "TR", "US", "2017-12-01", "2019-03-01", None),  # spans uncovered 2018
            ("XX-NODYAD", "TR", None, "2017-02-01", "2017-03-01", None),
            ("TR-DOMESTIC", "TR", "TR", "2017-02-01", "2017-03-01", None),
            ("KZ-UNSWEPT", "KZ", "US", "2017-02-01", "2017-03-01", None),
            ("TR-AFTER", "TR", "US", "2020-02-01", None, "2020-06-01"),  # dyad swept, not then
        ]
    )
    coverage = make_coverage([("TR", "US", 2017), ("US", "TR", 2019)])
    units = units_of(blocks)
    ever = explain_sample(units, coverage).set_index("unit_id")
    assert ever["reason"].to_dict() == {
        "KZ-UNSWEPT": iv.REASON_DYAD_NOT_COVERED,
        "TR-AFTER": iv.REASON_NO_COVERED_DAY,
        "TR-DOMESTIC": iv.REASON_DOMESTIC,
        "TR-EARLY": iv.REASON_HISTORY_UNKNOWN,
        "TR-GAP": iv.REASON_IN_SAMPLE,
        "XX-NODYAD": iv.REASON_NO_DYAD,
    }
    assert ever.loc["TR-GAP", "censored_by_coverage_end"]
    assert ever.loc["TR-GAP", "n_at_risk_days"] == 31  # December 2017 only
    rows = build_contact_intervals(units, make_events([]), coverage, window_days=30)
    early = rows.loc[rows["unit_id"] == "TR-EARLY"]
    entry = (pd.Timestamp("2017-01-01") - pd.Timestamp("2016-11-01")).days + 30
    assert early[["entry_day", "event"]].values.tolist() == [[entry - 0.5, True]]
    gap = rows.loc[rows["unit_id"] == "TR-GAP", ["entry_day", "stop_day", "event"]]
    re_entry = (pd.Timestamp("2019-01-01") - pd.Timestamp("2017-12-01")).days + 30
    lift = (pd.Timestamp("2019-03-01") - pd.Timestamp("2017-12-01")).days
    assert gap.values.tolist() == [[-0.5, 30.0, False], [re_entry - 0.5, lift, True]]
    window = explain_sample(units, coverage, window_days=30).set_index("unit_id")
    assert window.loc["TR-EARLY", "in_sample"]


def test_unit_without_any_covered_time_is_out_and_counted():
    rows = build_contact_intervals(units_of(WECHAT), make_events([]), make_coverage([("RU", "CN",
                                                                                       2018)]))
    assert rows.empty
    assert not explain_sample(units_of(WECHAT), make_coverage([("RU", "CN", 2018)]))[
        "in_sample"].any()


def test_landmark_uses_contact_on_days_0_to_30_among_units_blocked_after_day_30():
    blocks = make_blocks(
        [
            ("RU-SHORT", "RU", "CN", "2017-02-01", "2017-03-03", None),  # lifted on day 30
            ("RU-LONG", "RU", "CN", "2017-02-01", "2017-06-01", None),
            ("RU-LATE-CONTACT", "RU", "JP", "2017-02-01", None, "2017-09-01"),
        ]
    )
    events = make_events([("2017-03-03", "RU", "CN"), ("2017-03-10", "RU", "JP")])
    coverage = make_coverage([("RU", "CN", 2017), ("RU", "JP", 2017)])
    data = build_landmark_data(units_of(blocks), events, coverage, landmark_day=30)
    assert data[["unit_id", "entry_day", "contact", "event"]].values.tolist() == [
        ["RU-LATE-CONTACT", 30.5, False, False],  # its contact on day 37 is after the landmark
        ["RU-LONG", 30.5, True, True],  # contact on day 30 counts, its lift is after
    ]


def test_shuffling_input_rows_changes_nothing():
    rng = np.random.default_rng(11)
    blocks = make_blocks(
        [(f"B{i}", "RU", ["CN", "JP", "US"][i % 3], f"2017-0{1 + i % 9}-0{1 + i % 7}",
          f"2017-1{i % 3}-1{i % 9}" if i % 4 else None, None if i % 4 else "2017-12-30")
         for i in range(18)]
    )
    events = make_events([(f"2017-{m:02d}-15", "RU", c) for m in range(1, 13, 2)
                          for c in ("CN", "JP", "US")])
    coverage = make_coverage([("RU", c, 2017) for c in ("CN", "JP", "US")])
    base = build_contact_intervals(units_of(blocks), events, coverage)
    shuffled = build_contact_intervals(
        units_of(blocks.sample(frac=1, random_state=rng)),
        events.sample(frac=1, random_state=rng),
        coverage.sample(frac=1, random_state=rng),
    )
    pd.testing.assert_frame_equal(base, shuffled)
    pd.testing.assert_frame_equal(
        fit_contact_cox(base), fit_contact_cox(shuffled.sample(frac=1, random_state=rng))
    )


# --- the tie trap ---------------------------------------------------------------------------

TIE_TRAP_UNITS = [
    # (operator, lift day or None, censor day, contact day or None)
    ("CN", 5, None, None),
    ("JP", 9, None, 5),  # contact on day 5, the day CN's block lifts
    ("US", 12, None, 2),
    ("CA", 9, None, None),  # tied lift with JP (Efron)
    ("KR", None, 15, 9),  # contact on day 9, the day JP and CA lift
    ("IN", 15, None, 12),  # contact on day 12, the day US lifts
    ("DE", 3, None, None),
    ("FR", 20, None, 3),  # contact on day 3, the day DE lifts
    ("GB", 7, None, None),
    ("IT", None, 20, 1),
]


def _tie_trap_data():
    start = pd.Timestamp("2017-01-01")

    def day(n):
        return None if n is None else str((start + pd.Timedelta(days=n)).date())

    blocks = make_blocks(
        [(f"RU-{c}", "RU", c, str(start.date()), day(lift), day(censor))
         for c, lift, censor, _ in TIE_TRAP_UNITS]
    )
    events = make_events([(day(contact), "RU", c) for c, _, _, contact in TIE_TRAP_UNITS
                          if contact is not None])
    coverage = make_coverage([("RU", c, 2017) for c, *_ in TIE_TRAP_UNITS])
    return blocks, events, coverage


def _naive_integer_split():
    """The trap: split at the contact's own day, so entries equal other units' lift days."""
    rows = []
    for c, lift, censor, contact in TIE_TRAP_UNITS:
        stop = lift if lift is not None else censor
        if contact is not None and 0 < contact < stop:
            rows += [(c, 0.0, contact, False, False), (c, contact, stop, lift is not None, True)]
        else:
            rows.append((c, 0.0, stop, lift is not None, contact is not None and contact <= 0))
    return pd.DataFrame(rows, columns=["unit_id", "entry_day", "stop_day", "event", "contact"])


def _lifelines(rows: pd.DataFrame) -> CoxTimeVaryingFitter:
    data = rows[["unit_id", "entry_day", "stop_day", "event", "contact"]].assign(
        event=rows["event"].astype(int), contact=rows["contact"].astype(float)
    )
    return CoxTimeVaryingFitter().fit(
        data, id_col="unit_id", event_col="event", start_col="entry_day", stop_col="stop_day"
    )


def test_half_day_split_agrees_with_lifelines_where_the_naive_split_does_not():
    blocks, events, coverage = _tie_trap_data()
    rows = build_contact_intervals(units_of(blocks), events, coverage)
    ours = fit_contact_cox(rows, strata=None).iloc[0]
    reference = _lifelines(rows)
    assert ours["coef"] == pytest.approx(reference.params_["contact"], abs=1e-5)
    assert ours["se"] == pytest.approx(reference.standard_errors_["contact"], rel=1e-5)
    naive = _naive_integer_split()
    # lifelines' risk set (entry < t <= stop) gives the naive split the same answer ...
    assert _lifelines(naive).params_["contact"] == pytest.approx(ours["coef"], abs=1e-5)
    # ... but statsmodels keeps a row at risk when its entry equals the event time
    trapped = PHReg(naive["stop_day"], naive[["contact"]].astype(float), status=naive["event"],
                    entry=naive["entry_day"], ties="efron").fit()
    assert abs(trapped.params[0] - ours["coef"]) > 0.05


def test_levels_counted_as_found_count_a_contact_only_where_the_required_level_is_complete():
    # RU-CN 2017 is complete for leader visits only (as every swept dyad-year is today).
    coverage = make_coverage([("RU", "CN", 2017)], levels=("leader-visit",))
    events = make_events([("2017-05-07", "RU", "CN", "minister-visit")])
    units = units_of(WECHAT)
    # Requiring every counted level complete: minister visits never are, so no covered day.
    assert build_contact_intervals(units, events, coverage, VISITS).empty
    assert explain_sample(units, coverage, VISITS)["reason"].iloc[0] == iv.REASON_DYAD_NOT_COVERED
    # Leader visits alone: covered, and the minister's visit is not a contact.
    leaders = build_contact_intervals(units, events, coverage, ("leader-visit",))
    assert leaders[["entry_day", "stop_day", "event", "contact"]].values.tolist() == [
        [-0.5, 7.0, True, False]
    ]
    # Both counted, leader visits required: covered, and the visit on day 3 exposes the lift.
    found = build_contact_intervals(
        units, events, coverage, VISITS, required_complete_levels=("leader-visit",)
    )
    assert found[["entry_day", "stop_day", "event", "contact"]].values.tolist() == [
        [-0.5, 3.5, False, False], [3.5, 7.0, True, True]
    ]
    sample = explain_sample(units, coverage, VISITS, required_complete_levels=("leader-visit",))
    assert bool(sample["in_sample"].iloc[0])
    landmark = build_landmark_data(
        units, events, coverage, 5, VISITS, required_complete_levels=("leader-visit",)
    )
    assert landmark["contact"].tolist() == [True]


def test_required_complete_levels_must_be_counted_levels():
    with pytest.raises(ValueError, match="subset of contact_levels"):
        build_contact_intervals(units_of(WECHAT), make_events([]), RU_CN_2017, ("leader-visit",),
                                required_complete_levels=("minister-visit",))
    with pytest.raises(ValueError, match="subset of contact_levels"):
        explain_sample(units_of(WECHAT), RU_CN_2017, VISITS, required_complete_levels=())
