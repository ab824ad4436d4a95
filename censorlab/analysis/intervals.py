"""Counting-process (start-stop) data: contact as a time-varying covariate, on covered time only.

Each unit (:mod:`censorlab.analysis.decisions`) is followed in **days since its start** (day 0 is
the start day; a lift on day ``d`` is an event at time ``d``). Its follow-up is cut into rows
``(entry_day, stop_day]`` with a 0/1 ``contact`` covariate that can change only at a row boundary,
and ``event`` True on the row that ends at the lift. The rules, each one a choice a reader can
disagree with:

**Which time is at risk.** Only days on which the covariate is *known*. A day ``t`` is at risk
when the day itself and its whole look-back window are inside the dyad's covered spans
(:func:`censorlab.analysis.contact_calendar.select_covered_spans`): for the "any contact since
the start" covariate (``window_days=None``) the look-back is every day since the start, for "a
contact in the last N days" it is the N days before ``t`` (never before the start: a contact
before the block began is not a response to it and is not counted). Hence:

* a unit whose dyad is covered from its start is at risk from day 0 until its lift, its
  censoring (``last_confirmed_date``) or the end of covered time, whichever comes first; when
  coverage ends before the stop the unit is **censored at the end of covered time**;
* with a "last N days" window a unit can enter late (**delayed entry / left truncation**): if
  its dyad's coverage begins after the start, it enters N days after coverage begins (when the
  look-back is first complete), and after a gap in coverage it re-enters the same way;
* with "any contact since the start", a unit whose block began before its dyad's coverage has
  no usable time (its contact history is unknown) and leaves the sample, as do units without a
  dyad (unknown operator country), with a domestic operator, or whose dyad is never covered.
  :func:`explain_sample` gives every unit's reason.

**When a contact switches on.** A contact on day ``c`` (its latest possible day) switches the
covariate on at ``c + 0.5`` under the main ordering ``contact_after_lift``: on a day with both a
lift and a contact, the lift is taken to come first, so a lift on the contact's day is *not*
exposed. Day-precision dates cannot order two events of the same day, and reading them this way
can only understate an effect of contact (the WeChat case: RU-CN contact on 2017-05-14, lift on
2017-05-11: not exposed either way; a lift on 2017-05-14 would not be exposed either). The
sensitivity ordering ``contact_before_lift`` switches on at ``c - 0.5`` (a lift on the contact's
day is exposed). "Last N days" switches off N days after it switched on, so each contact
exposes exactly N lift days. Contacts after a unit's stop never enter its rows, and a row's
covariate is set only by contacts that switched on at or before the row's entry: no row uses
information from after its own interval.

**The tie trap, and the half-day grid.** statsmodels' ``PHReg(entry=...)`` keeps a row at risk
at an event time equal to its entry (Stata's convention), whereas the counting-process risk set
is ``entry < t <= stop`` (R's and lifelines' convention). Splitting a unit at an integer day
``s`` where another unit of the stratum lifts would then count the split unit *twice* at ``s``
(the row ending at ``s`` and the row entering at ``s``). Here every boundary that is not the
unit's own stop lies on the half-day grid: entries are ``k - 0.5`` (a unit at risk from day
``p`` enters at ``p - 0.5``, so the first row of a unit at risk from its start is ``(-0.5, ...]``)
and switch points are ``c +- 0.5``, while event and censoring times are whole days. No entry can
equal an event time, so statsmodels and lifelines see identical risk sets
(``tests/test_analysis_intervals.py`` checks it on a case where the naive integer split
differs). statsmodels refuses negative entries; :mod:`censorlab.analysis.contact_models` adds one
day to every time before fitting, which leaves every risk set unchanged.

**Landmark data** (:func:`build_landmark_data`): units still blocked after day ``L`` (stop
``> L``) whose first ``L`` days are covered, with a fixed flag "contact on days 0..L" and
follow-up after ``L`` (entry ``L + 0.5``). The flag uses nothing after the landmark, so the
follow-up needs no coverage.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from censorlab.analysis.contact_calendar import (
    MAIN_COMPILED_BY,
    MAIN_CONTACT_LEVELS,
    contact_days_by_dyad,
    expand_wildcard_spans,
    select_calendar_contacts,
    select_covered_spans,
    to_epoch_days,
)

logger = logging.getLogger(__name__)

HALF_DAY = 0.5
SAME_DAY_CONTACT_AFTER_LIFT = "contact_after_lift"
SAME_DAY_CONTACT_BEFORE_LIFT = "contact_before_lift"
SAME_DAY_OFFSETS = {SAME_DAY_CONTACT_AFTER_LIFT: HALF_DAY, SAME_DAY_CONTACT_BEFORE_LIFT: -HALF_DAY}
MAIN_SAME_DAY_ORDER = SAME_DAY_CONTACT_AFTER_LIFT
MAIN_WINDOW_DAYS: int | None = None  # None: any contact since the unit's start
DEFAULT_LANDMARK_DAY = 30
INTERVAL_COLUMNS = [
    "unit_id",
    "decision_id",
    "blocking_country",
    "dyad",
    "entry_day",
    "stop_day",
    "event",
    "contact",
]
AT_RISK_COLUMNS = ["unit_id", "first_day", "last_day", "ends_at_stop"]
REASON_NO_DYAD = "operator country unknown: no dyad"
REASON_DOMESTIC = "domestic operator: no foreign government"
REASON_DYAD_NOT_COVERED = "dyad never covered for the declared contact levels"
REASON_NO_COVERED_DAY = "no covered day between start and stop"
REASON_HISTORY_UNKNOWN = "coverage begins after the start: contact history since the start unknown"
REASON_LOOKBACK_UNCOVERED = "look-back window never fully covered before the stop"
REASON_IN_SAMPLE = "in sample"


def _check_options(window_days: int | None, same_day: str) -> None:
    if same_day not in SAME_DAY_OFFSETS:
        raise ValueError(f"same_day must be one of {tuple(SAME_DAY_OFFSETS)}, got {same_day!r}")
    if window_days is not None and (int(window_days) != window_days or window_days < 1):
        raise ValueError(f"window_days must be None or a positive whole number: {window_days}")


def _relative_spans(units: pd.DataFrame, spans: pd.DataFrame) -> pd.DataFrame:
    """Each unit's covered spans in days since its start (unclipped), one row per span."""
    domestic = units["blocking_country"].astype("string") == units["operator_country"].astype(
        "string"
    )
    foreign = units.loc[~domestic.fillna(False).to_numpy(dtype=bool)]
    keyed = foreign[["unit_id", "dyad", "start_date", "time_days"]].dropna(subset=["dyad"])
    pairs = keyed.merge(spans, on="dyad", how="inner", validate="m:m")
    start = to_epoch_days(pairs["start_date"])
    return pairs.assign(
        span_first=to_epoch_days(pairs["covered_start_date"]) - start,
        span_last=to_epoch_days(pairs["covered_end_date"]) - start,
    )[["unit_id", "time_days", "span_first", "span_last"]]


def _at_risk_from_spans(relative: pd.DataFrame, window_days: int | None) -> pd.DataFrame:
    first = relative["span_first"].to_numpy()
    last = np.minimum(relative["span_last"].to_numpy(), relative["time_days"].to_numpy())
    if window_days is None:
        contains_start = (first <= 0) & (relative["span_last"].to_numpy() >= 0)
        at_risk_first = np.where(contains_start, 0, np.iinfo(np.int64).max)
    else:
        at_risk_first = np.where(first <= 0, 0, first + window_days)
    keep = at_risk_first <= last
    out = pd.DataFrame(
        {
            "unit_id": relative["unit_id"].to_numpy()[keep],
            "first_day": at_risk_first[keep].astype(float),
            "last_day": last[keep].astype(float),
            "ends_at_stop": last[keep] == relative["time_days"].to_numpy()[keep],
        }
    )
    return out.sort_values(["unit_id", "first_day"]).reset_index(drop=True)


def _prepare_spans(
    units: pd.DataFrame, coverage: pd.DataFrame, contact_levels, required_complete_levels=None
) -> pd.DataFrame:
    spans = select_covered_spans(coverage, contact_levels, required_complete_levels)
    return expand_wildcard_spans(spans, units["dyad"].dropna().unique())


def compute_at_risk_days(
    units: pd.DataFrame, spans: pd.DataFrame, window_days: int | None = MAIN_WINDOW_DAYS
) -> pd.DataFrame:
    """The whole-day ranges during which each unit is at risk with a known covariate.

    Args:
        units: Output of :func:`censorlab.analysis.decisions.build_analysis_units`.
        spans: Covered spans (output of ``select_covered_spans``, wildcards expanded).
        window_days: ``None`` (any contact since the start) or N (a contact in the last N days).

    Returns:
        ``unit_id, first_day, last_day, ends_at_stop``: lifts on days ``first_day..last_day``
        are at risk; ``ends_at_stop`` is False when covered time ends before the unit's stop
        (censored at the end of coverage). Units out of the sample have no row.
    """
    _check_options(window_days, MAIN_SAME_DAY_ORDER)
    return _at_risk_from_spans(_relative_spans(units, spans), window_days)


def explain_sample(
    units: pd.DataFrame,
    coverage: pd.DataFrame,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    window_days: int | None = MAIN_WINDOW_DAYS,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Say, for every unit, whether it is in the sample, why not, and what time it contributes.

    Args:
        units: Output of ``build_analysis_units``.
        coverage: ``diplomatic_coverage`` or a span frame (see ``select_covered_spans``).
        contact_levels: The declared contact levels.
        window_days: As in :func:`build_contact_intervals`.
        required_complete_levels: As in :func:`build_contact_intervals`.

    Returns:
        One row per unit: ``unit_id, decision_id, blocking_country, dyad, time_days, observed,
        in_sample, reason, first_at_risk_day, last_at_risk_day, n_at_risk_days,
        censored_by_coverage_end`` (the first reason that applies, in the order of the module
        docstring).
    """
    _check_options(window_days, MAIN_SAME_DAY_ORDER)
    spans = _prepare_spans(units, coverage, contact_levels, required_complete_levels)
    relative = _relative_spans(units, spans)
    at_risk = _at_risk_from_spans(relative, window_days)
    during = relative.loc[
        (relative["span_last"] >= 0) & (relative["span_first"] <= relative["time_days"])
    ]
    summary = (
        at_risk.assign(n_days=at_risk["last_day"] - at_risk["first_day"] + 1)
        .groupby("unit_id")
        .agg(
            first_at_risk_day=("first_day", "min"),
            last_at_risk_day=("last_day", "max"),
            n_at_risk_days=("n_days", "sum"),
            reaches_stop=("ends_at_stop", "any"),
        )
    )
    domestic = units["blocking_country"].astype("string") == units["operator_country"].astype(
        "string"
    )
    reason = pd.Series(REASON_IN_SAMPLE, index=units.index, dtype="object")
    conditions = [
        (units["dyad"].isna(), REASON_NO_DYAD),
        (domestic.fillna(False), REASON_DOMESTIC),
        (~units["dyad"].isin(set(spans["dyad"])), REASON_DYAD_NOT_COVERED),
        (~units["unit_id"].isin(set(during["unit_id"])), REASON_NO_COVERED_DAY),
        (
            ~units["unit_id"].isin(set(at_risk["unit_id"])),
            REASON_HISTORY_UNKNOWN if window_days is None else REASON_LOOKBACK_UNCOVERED,
        ),
    ]
    for condition, label in reversed(conditions):
        reason = reason.mask(condition.to_numpy(dtype=bool), label)
    out = units[["unit_id", "decision_id", "blocking_country", "dyad", "time_days", "observed"]]
    out = out.merge(summary, left_on="unit_id", right_index=True, how="left", validate="1:1")
    in_sample = (reason == REASON_IN_SAMPLE).to_numpy()
    return out.assign(
        in_sample=in_sample,
        reason=reason.to_numpy(),
        n_at_risk_days=out["n_at_risk_days"].fillna(0).astype(int),
        censored_by_coverage_end=in_sample
        & ~out["reaches_stop"].astype("boolean").fillna(False).to_numpy(dtype=bool),
    ).drop(columns="reaches_stop")


def _split_range(
    entry: float, stop: float, switch_on: np.ndarray, switch_off: np.ndarray
) -> list[tuple[float, float, bool]]:
    """Cut ``(entry, stop]`` at each switch inside it; a piece is exposed if a window covers it."""
    points = np.concatenate([switch_on, switch_off])
    inner = np.unique(points[(points > entry) & (points < stop)])
    bounds = np.concatenate([[entry], inner, [stop]])
    pieces = []
    for low, high in zip(bounds[:-1], bounds[1:], strict=True):
        middle = (low + high) / 2
        exposed = bool(np.any((switch_on < middle) & (middle < switch_off)))
        if pieces and pieces[-1][2] == exposed:
            pieces[-1] = (pieces[-1][0], high, exposed)
        else:
            pieces.append((low, high, exposed))
    return pieces


def _split_with_contact_days(
    at_risk: pd.DataFrame,
    units: pd.DataFrame,
    days_by_dyad: dict[str, np.ndarray],
    window_days: int | None,
    same_day: str,
) -> pd.DataFrame:
    offset = SAME_DAY_OFFSETS[same_day]
    info = units[
        [
            "unit_id",
            "decision_id",
            "blocking_country",
            "dyad",
            "start_date",
            "time_days",
            "observed",
        ]
    ]
    joined = at_risk.merge(info, on="unit_id", how="left", validate="m:1")
    start_days = to_epoch_days(joined["start_date"]) if len(joined) else np.array([], "int64")
    empty = np.array([], "int64")
    records = []
    for row, start_day in zip(joined.itertuples(index=False), start_days, strict=True):
        relative = days_by_dyad.get(row.dyad, empty) - start_day
        relative = relative[(relative >= 0) & (relative <= row.time_days)]
        switch_on = relative + offset
        switch_off = switch_on + (np.inf if window_days is None else window_days)
        pieces = _split_range(row.first_day - HALF_DAY, row.last_day, switch_on, switch_off)
        ends_with_lift = bool(row.ends_at_stop and row.observed)
        for index, (low, high, exposed) in enumerate(pieces):
            is_last = index == len(pieces) - 1
            records.append(
                (
                    row.unit_id,
                    row.decision_id,
                    row.blocking_country,
                    row.dyad,
                    float(low),
                    float(high),
                    is_last and ends_with_lift,
                    exposed,
                )
            )
    intervals = pd.DataFrame.from_records(records, columns=INTERVAL_COLUMNS)
    return intervals.sort_values(["unit_id", "entry_day"]).reset_index(drop=True)


def split_at_risk_days(
    at_risk: pd.DataFrame,
    units: pd.DataFrame,
    contacts: pd.DataFrame,
    window_days: int | None = MAIN_WINDOW_DAYS,
    same_day: str = MAIN_SAME_DAY_ORDER,
) -> pd.DataFrame:
    """Cut the at-risk ranges into start-stop rows at each contact's switch-on and switch-off.

    Args:
        at_risk: Output of :func:`compute_at_risk_days`.
        units: The units it was computed from.
        contacts: Output of ``select_calendar_contacts`` (real or placebo).
        window_days: ``None`` (switched on for good) or N (switched off N days later).
        same_day: ``"contact_after_lift"`` (main) or ``"contact_before_lift"``.

    Returns:
        ``INTERVAL_COLUMNS``, sorted by unit and entry; consecutive pieces with the same
        covariate value are merged.
    """
    _check_options(window_days, same_day)
    return _split_with_contact_days(
        at_risk, units, contact_days_by_dyad(contacts), window_days, same_day
    )


def build_contact_intervals(
    units: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    coverage: pd.DataFrame,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
    window_days: int | None = MAIN_WINDOW_DAYS,
    same_day: str = MAIN_SAME_DAY_ORDER,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Start-stop rows with time-varying contact, on covered time only (rules: module docstring).

    Args:
        units: Output of :func:`censorlab.analysis.decisions.build_analysis_units`.
        diplomatic_events: ``diplomatic_events`` rows or a GDELT calendar.
        coverage: ``diplomatic_coverage`` or a span frame.
        contact_levels: Contact levels that count; all must be complete in a covered dyad-year
            unless ``required_complete_levels`` names a subset.
        compiled_by: ``compiled_by`` values that count (main: ``dyad-sweep`` only).
        window_days: ``None`` (any contact since the start: main) or N (last N days).
        same_day: Ordering of a contact and a lift on the same day.
        required_complete_levels: ``None`` (every counted level must be complete: main) or a
            subset; the other counted levels are then "counted as found" (a sensitivity run
            that reads "not found" as "did not happen" for them).

    Returns:
        ``unit_id, decision_id, blocking_country, dyad, entry_day, stop_day, event, contact``:
        one or more rows per unit in the sample, ``(entry_day, stop_day]`` in days since the
        unit's start. Units out of the sample have no rows (see :func:`explain_sample`).
    """
    _check_options(window_days, same_day)
    spans = _prepare_spans(units, coverage, contact_levels, required_complete_levels)
    contacts = select_calendar_contacts(diplomatic_events, contact_levels, compiled_by)
    at_risk = _at_risk_from_spans(_relative_spans(units, spans), window_days)
    return split_at_risk_days(at_risk, units, contacts, window_days, same_day)


def _landmark_rows(
    units: pd.DataFrame,
    spans: pd.DataFrame,
    days_by_dyad: dict[str, np.ndarray],
    landmark_day: int,
) -> pd.DataFrame:
    relative = _relative_spans(units, spans)
    covers_window = relative.loc[
        (relative["span_first"] <= 0) & (relative["span_last"] >= landmark_day)
    ]
    eligible = units.loc[
        units["unit_id"].isin(set(covers_window["unit_id"])) & (units["time_days"] > landmark_day)
    ]
    contact_days = days_by_dyad
    starts = to_epoch_days(eligible["start_date"]) if len(eligible) else np.array([], "int64")
    flags = [
        bool(np.any((days >= 0) & (days <= landmark_day)))
        for days in (
            contact_days.get(dyad, np.array([], "int64")) - start
            for dyad, start in zip(eligible["dyad"], starts, strict=True)
        )
    ]
    return (
        pd.DataFrame(
            {
                "unit_id": eligible["unit_id"].to_numpy(),
                "decision_id": eligible["decision_id"].to_numpy(),
                "blocking_country": eligible["blocking_country"].to_numpy(),
                "dyad": eligible["dyad"].to_numpy(),
                "entry_day": float(landmark_day) + HALF_DAY,
                "stop_day": eligible["time_days"].astype(float).to_numpy(),
                "event": eligible["observed"].astype(bool).to_numpy(),
                "contact": np.array(flags, dtype=bool),
            },
            columns=INTERVAL_COLUMNS,
        )
        .sort_values("unit_id")
        .reset_index(drop=True)
    )


def build_landmark_data(
    units: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    coverage: pd.DataFrame,
    landmark_day: int = DEFAULT_LANDMARK_DAY,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Landmark rows: units still blocked after ``landmark_day``, flagged by contact on days 0..L.

    Args:
        units: Output of ``build_analysis_units``.
        diplomatic_events: ``diplomatic_events`` rows or a GDELT calendar.
        coverage: ``diplomatic_coverage`` or a span frame.
        landmark_day: The landmark L (days since the start).
        contact_levels: Contact levels that count.
        compiled_by: ``compiled_by`` values that count.
        required_complete_levels: As in :func:`build_contact_intervals`.

    Returns:
        One row per eligible unit in the ``INTERVAL_COLUMNS`` shape (``entry_day = L + 0.5``),
        so the same model functions fit it.
    """
    spans = _prepare_spans(units, coverage, contact_levels, required_complete_levels)
    contacts = select_calendar_contacts(diplomatic_events, contact_levels, compiled_by)
    return _landmark_rows(units, spans, contact_days_by_dyad(contacts), landmark_day)
