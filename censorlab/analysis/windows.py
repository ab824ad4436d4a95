"""Event windows: diplomatic events of the same country pair near a block's start or end.

A block and a diplomatic event are *near* when they involve the same dyad (blocking country
and the operator's home country, in either order) and the event's date lies within
``window_days`` of the block's start or end. Dates are compared by their point value; the
precision columns are carried along so a reader can see when "3 days" rests on a month-only
date.

Closeness alone proves little: busy dyads (RU-CN meet often) will have events near any date.
:func:`compare_with_placebo` therefore draws random placebo dates for each block within the
same dyad's study period (seeded) and asks how often chance alone gives as many blocks with a
nearby event as the data do.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from censorlab.analysis.covariates import CONTACT_KINDS, add_dyad_key
from censorlab.analysis.durations import coerce_dates

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


def _nearest_gap_days(anchor_days: np.ndarray, event_days: np.ndarray) -> np.ndarray:
    """Distance in days from each anchor to the nearest event (inf when there is none)."""
    if event_days.size == 0:
        return np.full(anchor_days.shape, np.inf)
    sorted_days = np.sort(event_days)
    position = np.searchsorted(sorted_days, anchor_days)
    before = sorted_days[np.clip(position - 1, 0, sorted_days.size - 1)]
    after = sorted_days[np.clip(position, 0, sorted_days.size - 1)]
    return np.minimum(np.abs(anchor_days - before), np.abs(anchor_days - after))


def compare_with_placebo(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_WINDOW_DAYS,
    anchor: str = "start",
    kinds: frozenset[str] | None = CONTACT_KINDS,
    n_draws: int = DEFAULT_PLACEBO_DRAWS,
    seed: int = DEFAULT_SEED,
    period: tuple[object, object] | None = None,
) -> pd.DataFrame:
    """Compare the share of blocks with a nearby dyadic event against random placebo dates.

    The null hypothesis is "block dates are unrelated to the dyad's diplomatic calendar".
    For each draw, every block gets a placebo anchor date drawn uniformly from ``period``
    (default: the span of the blocks' anchor dates); its dyad's real events stay where they
    are. The one-sided p-value is ``(1 + #draws with share >= observed) / (1 + n_draws)``.

    Args:
        blocks: Rows of ``block_events``; blocks without a known dyad are left out.
        diplomatic_events: Rows of ``diplomatic_events``.
        window_days: Half-width of the window.
        anchor: ``"start"`` or ``"end"`` of the block.
        kinds: Diplomatic event kinds to count (default: contact kinds); None for all.
        n_draws: Number of placebo draws.
        seed: Seed of the random generator, for reproducible notebooks.
        period: ``(first, last)`` dates to draw placebo dates from.

    Returns:
        One row: ``anchor, window_days, n_blocks, observed_share, placebo_mean_share,
        placebo_share_p2_5, placebo_share_p97_5, p_value, n_draws, seed``.
    """
    selected = (
        diplomatic_events
        if kinds is None
        else diplomatic_events.loc[diplomatic_events["kind"].isin(kinds)]
    )
    events = _prepare_diplomatic_events(selected).dropna(subset=["date", "dyad"])
    prepared = _prepare_blocks(blocks).dropna(subset=[f"{anchor}_date", "dyad"])
    anchor_dates = prepared[f"{anchor}_date"]
    first, last = (
        (anchor_dates.min(), anchor_dates.max())
        if period is None
        else (pd.Timestamp(period[0]), pd.Timestamp(period[1]))
    )
    epoch = pd.Timestamp("1970-01-01")
    first_day, last_day = (first - epoch).days, (last - epoch).days
    rng = np.random.default_rng(seed)
    placebo_days = rng.integers(first_day, last_day + 1, size=(n_draws, len(prepared)))
    event_days_by_dyad = {
        dyad: ((group["date"] - epoch).dt.days).to_numpy() for dyad, group in events.groupby("dyad")
    }
    observed_days = ((anchor_dates - epoch).dt.days).to_numpy()
    observed_near = np.zeros(len(prepared), dtype=bool)
    placebo_near = np.zeros((n_draws, len(prepared)), dtype=bool)
    for column, dyad in enumerate(prepared["dyad"].to_numpy()):
        event_days = event_days_by_dyad.get(dyad, np.array([], dtype=int))
        observed_near[column] = _nearest_gap_days(observed_days[[column]], event_days)[0] <= (
            window_days
        )
        placebo_near[:, column] = _nearest_gap_days(placebo_days[:, column], event_days) <= (
            window_days
        )
    observed_share = float(observed_near.mean()) if len(prepared) else np.nan
    placebo_shares = placebo_near.mean(axis=1) if len(prepared) else np.full(n_draws, np.nan)
    p_value = (1 + int((placebo_shares >= observed_share).sum())) / (1 + n_draws)
    return pd.DataFrame(
        {
            "anchor": [anchor],
            "window_days": [window_days],
            "n_blocks": [len(prepared)],
            "n_blocks_near": [int(observed_near.sum())],
            "observed_share": [observed_share],
            "placebo_mean_share": [float(np.mean(placebo_shares))],
            "placebo_share_p2_5": [float(np.quantile(placebo_shares, 0.025))],
            "placebo_share_p97_5": [float(np.quantile(placebo_shares, 0.975))],
            "p_value": [p_value],
            "n_draws": [n_draws],
            "seed": [seed],
        }
    )
