"""Event windows: diplomatic events of the same country pair near a block's start or end.

A block and a diplomatic event are *near* when they involve the same dyad (blocking country
and the operator's home country, in either order) and the event's date lies within
``window_days`` of the block's start or end. Dates are compared by their point value; the
precision columns are carried along so a reader can see when "3 days" rests on a month-only
date. These listings are descriptive and take any calendar.

Closeness alone proves little: busy dyads (RU-CN meet often) will have events near any date,
and a calendar compiled by looking around blocks has events near blocks by construction.
:func:`compare_with_placebo` therefore asks the question with the design of the models
(:mod:`censorlab.analysis.intervals`): an anchor (a lift, or a start) is *exposed* when a
declared contact switched on within the ``window_days`` before it, with the same switch-on rule
and same-day ordering as the "last N days" covariate; only anchors whose look-back lies in the
dyad's covered time count; and the placebo keeps the anchors where they are and shifts each
dyad's contacts circularly inside that dyad's covered days
(:func:`censorlab.analysis.contact_calendar.draw_placebo_calendar`). The placebo therefore draws
within each dyad's observed period, and the excess it measures cannot come from coverage.
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
    prepare_placebo_calendar,
    select_calendar_contacts,
    select_covered_spans,
    to_epoch_days,
)
from censorlab.analysis.covariates import add_dyad_key
from censorlab.analysis.durations import coerce_dates
from censorlab.analysis.intervals import MAIN_SAME_DAY_ORDER, SAME_DAY_OFFSETS, _check_options

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_DAYS = 30
DEFAULT_PLACEBO_DRAWS = 1000
DEFAULT_SEED = 20170504
ANCHORS = ("start", "end")
BLOCK_KEYS = ["event_id", "service_name", "blocking_country", "operator_country", "dyad"]
DIPLOMATIC_KEYS = ["diplomatic_event_id", "date", "date_precision", "kind", "title"]


def _prepare_blocks(blocks: pd.DataFrame) -> pd.DataFrame:
    prepared = coerce_dates(blocks, ["start_date", "end_date"]).pipe(
        add_dyad_key, "blocking_country", "operator_country"
    )
    missing = [column for column in BLOCK_KEYS if column not in prepared.columns]
    return prepared.assign(**dict.fromkeys(missing, pd.NA))


def _prepare_diplomatic_events(diplomatic_events: pd.DataFrame) -> pd.DataFrame:
    prepared = (
        coerce_dates(diplomatic_events, ["date"])
        .pipe(add_dyad_key, "country_a", "country_b")
        .rename(columns={"event_id": "diplomatic_event_id"})
    )
    if "date_precision" not in prepared.columns:
        prepared = prepared.assign(date_precision=pd.NA)
    return prepared


def _anchor_dates(blocks: pd.DataFrame) -> pd.DataFrame:
    """One row per block and anchor (start, end); ongoing blocks have no end anchor."""
    frames = [
        blocks[BLOCK_KEYS]
        .assign(anchor=anchor, anchor_date=blocks[f"{anchor}_date"])
        .dropna(subset=["anchor_date", "dyad"])
        for anchor in ANCHORS
    ]
    return pd.concat(frames, ignore_index=True)


def pair_blocks_with_events(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> pd.DataFrame:
    """List every (block, anchor, diplomatic event) of the same dyad within ``±window_days``.

    Args:
        blocks: Rows of ``block_events``.
        diplomatic_events: Rows of ``diplomatic_events``.
        window_days: Half-width of the window around the block's start and end.

    Returns:
        One row per pair: block keys, ``anchor`` (start/end), ``anchor_date``, the diplomatic
        event's id, date, precision, kind and title, and ``days_from_anchor`` (negative =
        before the anchor). Sorted by block, anchor and date.
    """
    anchors = _anchor_dates(_prepare_blocks(blocks))
    events = _prepare_diplomatic_events(diplomatic_events)[[*DIPLOMATIC_KEYS, "dyad"]]
    pairs = anchors.merge(events, on="dyad", how="inner", validate="m:m")
    days = (pairs["date"] - pairs["anchor_date"]).dt.days
    return (
        pairs.assign(days_from_anchor=days)
        .loc[days.abs() <= window_days]
        .sort_values(["event_id", "anchor", "date", "diplomatic_event_id"])
        .reset_index(drop=True)
    )


def find_events_near_blocks(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> pd.DataFrame:
    """Per block: the dyadic diplomatic events within ``±window_days`` of its start and end.

    Args:
        blocks: Rows of ``block_events``.
        diplomatic_events: Rows of ``diplomatic_events``.
        window_days: Half-width of the window.

    Returns:
        See :func:`pair_blocks_with_events`; blocks with no nearby event are absent.
    """
    return pair_blocks_with_events(blocks, diplomatic_events, window_days)


def find_blocks_near_events(
    diplomatic_events: pd.DataFrame,
    blocks: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
) -> pd.DataFrame:
    """Per diplomatic event: the blocks of the same dyad starting or ending within the window.

    Args:
        diplomatic_events: Rows of ``diplomatic_events``.
        blocks: Rows of ``block_events``.
        window_days: Half-width of the window.

    Returns:
        The same pairs as :func:`pair_blocks_with_events`, ordered by diplomatic event,
        with ``days_from_event`` (positive = the block's start/end came after the event).
    """
    pairs = pair_blocks_with_events(blocks, diplomatic_events, window_days)
    leading = ["diplomatic_event_id", "date", "kind", "title"]
    return (
        pairs.assign(days_from_event=-pairs["days_from_anchor"])
        .loc[:, [*leading, *[c for c in pairs if c not in leading], "days_from_event"]]
        .drop(columns="days_from_anchor")
        .sort_values(["date", "diplomatic_event_id", "event_id", "anchor"])
        .reset_index(drop=True)
    )


def count_blocks_with_nearby_event(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
    anchor: str = "start",
) -> pd.DataFrame:
    """Flag, per block with a known dyad, whether a dyadic event lies within the window.

    Args:
        blocks: Rows of ``block_events``.
        diplomatic_events: Rows of ``diplomatic_events`` (filter kinds beforehand if wanted).
        window_days: Half-width of the window.
        anchor: ``"start"`` or ``"end"``.

    Returns:
        ``event_id`` and ``has_nearby_event`` for the blocks that have the anchor date and a
        known operator country.
    """
    prepared = _prepare_blocks(blocks).dropna(subset=[f"{anchor}_date", "dyad"])
    pairs = pair_blocks_with_events(prepared, diplomatic_events, window_days)
    near = set(pairs.loc[pairs["anchor"] == anchor, "event_id"])
    return prepared[["event_id"]].assign(has_nearby_event=prepared["event_id"].isin(near))


def _anchor_frame(blocks: pd.DataFrame, anchor: str) -> pd.DataFrame:
    """Anchor dates with their dyad: starts, or observed ends (lifts) of blocks or units."""
    if anchor not in ANCHORS:
        raise ValueError(f"anchor must be one of {ANCHORS}, got {anchor!r}")
    prepared = blocks
    if anchor == "end" and "end_date" not in prepared.columns:
        prepared = prepared.assign(end_date=prepared["stop_date"].where(prepared["observed"]))
    prepared = coerce_dates(prepared, ["start_date", "end_date"])
    if "dyad" not in prepared.columns:
        prepared = add_dyad_key(prepared, "blocking_country", "operator_country")
    ids = prepared["unit_id"] if "unit_id" in prepared.columns else prepared["event_id"]
    out = pd.DataFrame(
        {
            "anchor_id": ids.to_numpy(),
            "dyad": prepared["dyad"].to_numpy(),
            "anchor_date": prepared[f"{anchor}_date"].to_numpy(),
        }
    )
    return out.dropna(subset=["dyad", "anchor_date"]).reset_index(drop=True)


def _covered_lookback(anchors: pd.DataFrame, spans: pd.DataFrame, window_days: int) -> np.ndarray:
    """True when the anchor day and the ``window_days`` before it lie in one covered span."""
    pairs = anchors.reset_index(names="position").merge(spans, on="dyad", how="inner")
    inside = (
        pairs["covered_start_date"] <= pairs["anchor_date"] - pd.Timedelta(days=window_days)
    ) & (pairs["anchor_date"] <= pairs["covered_end_date"])
    covered = np.zeros(len(anchors), dtype=bool)
    covered[pairs.loc[inside, "position"].to_numpy()] = True
    return covered


def _exposed_anchors(
    anchors: pd.DataFrame, days_by_dyad: dict[str, np.ndarray], window_days: int, offset: float
) -> np.ndarray:
    """Anchors with a contact switched on in the window before them: s < D <= s + N."""
    anchor_days = to_epoch_days(anchors["anchor_date"]) if len(anchors) else np.array([], int)
    exposed = np.zeros(len(anchors), dtype=bool)
    for position, (dyad, day) in enumerate(zip(anchors["dyad"], anchor_days, strict=True)):
        switch_on = days_by_dyad.get(dyad, np.array([], int)) + offset
        exposed[position] = bool(np.any((switch_on < day) & (day <= switch_on + window_days)))
    return exposed


def compare_with_placebo(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    coverage: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
    anchor: str = "end",
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
    same_day: str = MAIN_SAME_DAY_ORDER,
    n_draws: int = DEFAULT_PLACEBO_DRAWS,
    seed: int = DEFAULT_SEED,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Share of anchors with contact in the window before them, against placebo calendars.

    The null hypothesis is "the timing of the dyad's contacts is unrelated to the anchors".
    Each draw shifts every dyad's contacts circularly inside its covered days; the one-sided
    p-value is ``(1 + #draws with share >= observed) / (1 + n_draws)``.

    Args:
        blocks: Rows of ``block_events`` (or units of ``build_analysis_units``).
        diplomatic_events: ``diplomatic_events`` rows or a GDELT calendar.
        coverage: ``diplomatic_coverage`` or a span frame.
        window_days: N: a contact exposes the anchors on the N days after it switched on.
        anchor: ``"end"`` (lifts: the covariate's value at the lift) or ``"start"``.
        contact_levels: Declared contact levels.
        compiled_by: Declared ``compiled_by`` values.
        same_day: Ordering of a contact and an anchor on the same day (as in the models).
        n_draws: Number of placebo calendars.
        seed: Seed of the generator.
        required_complete_levels: As in ``build_contact_intervals``.

    Returns:
        One row: ``anchor, window_days, same_day, n_anchors`` (with covered look-back),
        ``n_anchors_uncovered, n_anchors_exposed, observed_share, placebo_mean_share,
        placebo_share_p2_5, placebo_share_p97_5, p_value, n_draws, seed``.
    """
    _check_options(window_days, same_day)
    anchors_all = _anchor_frame(blocks, anchor)
    spans = expand_wildcard_spans(
        select_covered_spans(coverage, contact_levels, required_complete_levels),
        anchors_all["dyad"].unique(),
    )
    covered = _covered_lookback(anchors_all, spans, window_days)
    anchors = anchors_all.loc[covered].reset_index(drop=True)
    contacts = select_calendar_contacts(diplomatic_events, contact_levels, compiled_by)
    contacts = contacts.loc[contacts["dyad"].isin(set(anchors["dyad"]))].reset_index(drop=True)
    offset = SAME_DAY_OFFSETS[same_day]
    observed = _exposed_anchors(anchors, contact_days_by_dyad(contacts), window_days, offset)
    calendar = prepare_placebo_calendar(contacts, spans)
    rng = np.random.default_rng(seed)
    shares = np.array(
        [
            _exposed_anchors(anchors, calendar.draw_days(rng), window_days, offset).mean()
            if len(anchors)
            else np.nan
            for _ in range(n_draws)
        ]
    )
    observed_share = float(observed.mean()) if len(anchors) else np.nan
    p_value = (1 + int(np.sum(shares >= observed_share - 1e-12))) / (1 + n_draws)
    return pd.DataFrame(
        {
            "anchor": [anchor],
            "window_days": [window_days],
            "same_day": [same_day],
            "n_anchors": [len(anchors)],
            "n_anchors_uncovered": [int((~covered).sum())],
            "n_anchors_exposed": [int(observed.sum())],
            "observed_share": [observed_share],
            "placebo_mean_share": [float(np.mean(shares)) if n_draws else np.nan],
            "placebo_share_p2_5": [float(np.quantile(shares, 0.025)) if n_draws else np.nan],
            "placebo_share_p97_5": [float(np.quantile(shares, 0.975)) if n_draws else np.nan],
            "p_value": [p_value],
            "n_draws": [n_draws],
            "seed": [seed],
        }
    )
