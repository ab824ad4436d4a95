"""Measurement evidence: do OONI measurements show the blocks the curated table records?

Three steps, each a pure frame -> frame function, keep facts apart from interpretation:

1. :func:`daily_panel` counts measurements per (``probe_cc``, ``service_id``, UTC day) from the
   ``ooni_measurements`` table (pandas, or a Dask frame from ``dd.read_parquet`` of the
   partitioned dataset). ``blocked_share = n_blocked / (n_ok + n_blocked)``: a ``failure``
   verdict means the measurement cannot say, so failures are counted (``n_failure``) but never
   treated as "not blocked". Days without measurements between a pair's first and last day are
   kept as zero-count rows with a missing share, so coverage gaps stay visible and nothing is
   interpolated.
2. :func:`detect_changes` finds change points in the daily blocked share by **binary
   segmentation on counts**. Each measured day contributes ``n_blocked`` successes out of
   ``n_tested = n_ok + n_blocked`` trials. A segment's cost is its binomial deviance under one
   common share ``p = sum(n_blocked) / sum(n_tested)``::

       cost = -2 * sum(n_blocked * log(p) + (n_tested - n_blocked) * log(1 - p))

   so days weigh by how many measurements they hold. A segment is split at the day that
   lowers the summed cost most, if (a) the gain exceeds ``penalty`` (default, BIC-like:
   ``2 * log(N)`` with ``N`` the tested measurements of the series, since a change point adds
   two parameters, its location and a new share), (b) both parts have at least
   ``min_segment_days`` measured days, and (c) their shares differ by at least
   ``min_share_change``. Condition (c) guards against real OONI data being overdispersed
   (probes on different networks disagree more than a binomial allows), where the penalty alone
   would cut the series into many small steps. Splitting recurses until no split qualifies.
   Segments whose share is at least ``blocked_threshold`` are *blocked*; a change from an
   unblocked to a blocked segment is an **onset**, the reverse a **lift**, any other change a
   **shift**. Days without measurements carry no information: a change between two segments
   separated by a gap is dated by the interval ``[change_earliest_date, change_date]``.
3. :func:`corroborate` matches each curated block (``block_events`` row) to the measured onset
   and lift nearest its recorded start and end, with lags in days measured - recorded computed
   between intervals (the recorded precision interval ``[*_earliest_date, *_latest_date]`` and
   the measured change interval): lag 0 when they overlap.

Only ``method="binseg"`` is implemented; other method names raise ``ValueError``.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from censorlab import schema
from censorlab.analysis.durations import coerce_dates

logger = logging.getLogger(__name__)

PANEL_KEYS = ["probe_cc", "service_id"]
DAY = "measurement_date"
VERDICTS = schema.VERDICTS
COUNT_COLUMNS = ["n_measurements", "n_ok", "n_blocked", "n_failure"]
PANEL_COLUMNS = [*PANEL_KEYS, DAY, *COUNT_COLUMNS, "blocked_share"]
SEGMENT_COLUMNS = [
    *PANEL_KEYS,
    "segment_id",
    "segment_start_date",
    "segment_end_date",
    "n_days_measured",
    "n_tested",
    "n_blocked",
    "blocked_share",
    "is_blocked",
    "change_type",
    "change_earliest_date",
    "change_date",
]
EVIDENCE_COLUMNS = [
    "event_id",
    "blocking_country",
    "service_id",
    "start_date",
    "end_date",
    "status",
    "reason",
    "measured_onset_date",
    "onset_lag_days",
    "measured_lift_date",
    "lift_lag_days",
    "n_days_measured",
    "blocked_share_during",
]
STATUSES = ("confirmed", "onset-only", "blocked-unmatched", "contradicted", "no coverage")
METHODS = ("binseg",)
DEFAULT_BLOCKED_THRESHOLD = 0.5
DEFAULT_MIN_SEGMENT_DAYS = 3
DEFAULT_MIN_SHARE_CHANGE = 0.2
DEFAULT_TOLERANCE_DAYS = 7
ONE_DAY = pd.Timedelta(days=1)


# ---------------------------------------------------------------------------------------------
# daily_panel
# ---------------------------------------------------------------------------------------------


def count_verdicts(measurements: pd.DataFrame) -> pd.DataFrame:
    """Count measurements per (probe_cc, service_id, UTC day) and verdict in one pandas frame.

    This is the per-partition step of :func:`daily_panel` (run through ``map_partitions`` on
    Dask); its output is summable, so partial counts from any partitioning add up to the same
    panel. Rows without a ``service_id`` (web_connectivity of unrelated URLs) are dropped.

    Args:
        measurements: Rows of ``ooni_measurements`` (at least probe_cc, service_id,
            measurement_start_time, verdict).

    Returns:
        One row per (probe_cc, service_id, measurement_date) with the ``COUNT_COLUMNS``.
    """
    known = measurements.loc[measurements["service_id"].notna()]
    started = pd.to_datetime(known["measurement_start_time"], utc=True)
    verdict = known["verdict"].astype(str)
    counts = pd.DataFrame(
        {
            "probe_cc": known["probe_cc"].astype(str),
            "service_id": known["service_id"].astype(str),
            DAY: started.dt.tz_convert(None).dt.normalize().astype("datetime64[ns]"),
            "n_measurements": np.ones(len(known), dtype="int64"),
            **{f"n_{name}": (verdict == name).astype("int64") for name in VERDICTS},
        }
    )
    return _sum_counts(counts)


def _sum_counts(counts: pd.DataFrame) -> pd.DataFrame:
    return (
        counts.groupby([*PANEL_KEYS, DAY], sort=True)[COUNT_COLUMNS]
        .sum()
        .reset_index()
        .astype({column: "int64" for column in COUNT_COLUMNS})
    )


def _count_dask(measurements) -> pd.DataFrame:
    meta = count_verdicts(measurements._meta)
    return (
        measurements.map_partitions(count_verdicts, meta=meta)
        .groupby([*PANEL_KEYS, DAY])[COUNT_COLUMNS]
        .sum()
        .compute()
        .reset_index()
        .pipe(_sum_counts)
    )


def _fill_missing_days(counts: pd.DataFrame) -> pd.DataFrame:
    """Add zero-count rows for unmeasured days between each pair's first and last day."""
    if counts.empty:
        return counts
    spans = counts.groupby(PANEL_KEYS, sort=True)[DAY].agg(["min", "max"])
    calendar = pd.concat(
        [
            pd.DataFrame(
                {"probe_cc": cc, "service_id": service, DAY: pd.date_range(first, last, freq="D")}
            )
            for (cc, service), (first, last) in spans.iterrows()
        ],
        ignore_index=True,
    ).astype({DAY: "datetime64[ns]", "probe_cc": str, "service_id": str})
    return (
        calendar.merge(counts, on=[*PANEL_KEYS, DAY], how="left", validate="1:1")
        .fillna(dict.fromkeys(COUNT_COLUMNS, 0))
        .astype({column: "int64" for column in COUNT_COLUMNS})
    )


def _add_blocked_share(panel: pd.DataFrame) -> pd.DataFrame:
    tested = panel["n_ok"] + panel["n_blocked"]
    share = (panel["n_blocked"] / tested.where(tested > 0)).astype("float64")
    return panel.assign(blocked_share=share)


def daily_panel(measurements) -> pd.DataFrame:
    """Build the daily panel of verdict counts and blocked share per country and service.

    Why daily and per country: blocks are ordered per country and usually start or end on a
    given day; a daily series keeps enough resolution for onset/lift dates while pooling the
    handful of measurements a country's probes produce per day.

    Args:
        measurements: The ``ooni_measurements`` table as a pandas frame, or a Dask frame (e.g.
            ``dd.read_parquet`` of the partitioned dataset); a Dask frame is counted per
            partition with :func:`count_verdicts` and summed, only the small panel is
            computed.

    Returns:
        One row per (probe_cc, service_id, measurement_date), every day from a pair's first to
        its last measured day, with ``n_measurements``, ``n_ok``, ``n_blocked``,
        ``n_failure`` (zeros on unmeasured days) and ``blocked_share`` (NaN when no ok/blocked
        measurement), sorted by key.

    Examples:
        >>> m = pd.DataFrame({"probe_cc": ["RU", "RU", "RU"], "service_id": ["telegram"] * 3,
        ...     "measurement_start_time": pd.to_datetime(
        ...         ["2018-04-16 01:00", "2018-04-16 02:00", "2018-04-18 03:00"], utc=True),
        ...     "verdict": ["blocked", "failure", "ok"]})
        >>> daily_panel(m)[["measurement_date", "n_measurements", "blocked_share"]]
          measurement_date  n_measurements  blocked_share
        0       2018-04-16               2            1.0
        1       2018-04-17               0            NaN
        2       2018-04-18               1            0.0
    """
    is_dask = hasattr(measurements, "map_partitions") and hasattr(measurements, "compute")
    counts = _count_dask(measurements) if is_dask else count_verdicts(measurements)
    return (
        counts.pipe(_fill_missing_days)
        .pipe(_add_blocked_share)
        .loc[:, PANEL_COLUMNS]
        .sort_values([*PANEL_KEYS, DAY], ignore_index=True)
    )


# ---------------------------------------------------------------------------------------------
# detect_changes
# ---------------------------------------------------------------------------------------------


def _deviance(blocked: np.ndarray, tested: np.ndarray) -> np.ndarray:
    """Binomial deviance of segments with totals ``blocked`` of ``tested`` (0 log 0 = 0)."""
    blocked = np.asarray(blocked, dtype=float)
    tested = np.asarray(tested, dtype=float)
    share = np.divide(blocked, tested, out=np.zeros_like(blocked), where=tested > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = np.where(blocked > 0, blocked * np.log(share), 0.0)
        misses = np.where(tested - blocked > 0, (tested - blocked) * np.log1p(-share), 0.0)
    return -2.0 * (hits + misses)


def _best_split(
    cum_blocked: np.ndarray, cum_tested: np.ndarray, lo: int, hi: int, min_days: int
) -> tuple[int, float, float]:
    """Return (split, gain, share difference) for the segment of days ``[lo, hi)``."""
    splits = np.arange(lo + min_days, hi - min_days + 1)
    if splits.size == 0:
        return -1, 0.0, 0.0
    left_b = cum_blocked[splits] - cum_blocked[lo]
    left_n = cum_tested[splits] - cum_tested[lo]
    right_b = cum_blocked[hi] - cum_blocked[splits]
    right_n = cum_tested[hi] - cum_tested[splits]
    whole = _deviance(cum_blocked[hi] - cum_blocked[lo], cum_tested[hi] - cum_tested[lo])
    gains = whole - _deviance(left_b, left_n) - _deviance(right_b, right_n)
    best = int(np.argmax(gains))
    difference = abs(right_b[best] / right_n[best] - left_b[best] / left_n[best])
    return int(splits[best]), float(gains[best]), float(difference)


def _binseg_breaks(
    blocked: np.ndarray,
    tested: np.ndarray,
    *,
    penalty: float | None,
    min_segment_days: int,
    min_share_change: float,
) -> list[int]:
    """Return the sorted start positions of segments (0 first) found by binary segmentation."""
    cum_blocked = np.concatenate([[0], np.cumsum(blocked)])
    cum_tested = np.concatenate([[0], np.cumsum(tested)])
    threshold = 2.0 * np.log(max(cum_tested[-1], 2)) if penalty is None else penalty
    breaks, pending = [0], [(0, len(blocked))]
    while pending:
        lo, hi = pending.pop()
        split, gain, difference = _best_split(cum_blocked, cum_tested, lo, hi, min_segment_days)
        if split > 0 and gain > threshold and difference >= min_share_change:
            breaks.append(split)
            pending.extend([(lo, split), (split, hi)])
    return sorted(breaks)


def _label_change(was_blocked: object, is_blocked: bool) -> object:
    if was_blocked is None or pd.isna(was_blocked):
        return None
    if was_blocked == is_blocked:
        return "shift"
    return "onset" if is_blocked else "lift"


def _segment_series(
    series: pd.DataFrame, blocked_threshold: float, **binseg_options
) -> pd.DataFrame:
    """Segment one (probe_cc, service_id) panel; days with nothing tested are skipped."""
    measured = series.loc[(series["n_ok"] + series["n_blocked"]) > 0]
    blocked = measured["n_blocked"].to_numpy()
    tested = (measured["n_ok"] + measured["n_blocked"]).to_numpy()
    if len(measured) == 0:
        return pd.DataFrame(columns=SEGMENT_COLUMNS)
    breaks = _binseg_breaks(blocked, tested, **binseg_options)
    segment = np.searchsorted(breaks, np.arange(len(measured)), side="right")
    days = measured[DAY].to_numpy()
    segments = (
        pd.DataFrame({"segment_id": segment, DAY: days, "b": blocked, "n": tested})
        .groupby("segment_id", sort=True)
        .agg(
            segment_start_date=(DAY, "min"),
            segment_end_date=(DAY, "max"),
            n_days_measured=(DAY, "size"),
            n_tested=("n", "sum"),
            n_blocked=("b", "sum"),
        )
        .reset_index()
    )
    share = segments["n_blocked"] / segments["n_tested"]
    is_blocked = share >= blocked_threshold
    previous = is_blocked.astype(object).shift(1)
    has_change = segments["segment_id"] > 1
    return segments.assign(
        probe_cc=series["probe_cc"].iloc[0],
        service_id=series["service_id"].iloc[0],
        blocked_share=share,
        is_blocked=is_blocked,
        change_type=[_label_change(p, b) for p, b in zip(previous, is_blocked, strict=True)],
        change_earliest_date=(segments["segment_end_date"].shift(1) + ONE_DAY).where(has_change),
        change_date=segments["segment_start_date"].where(has_change),
    )[SEGMENT_COLUMNS]


def detect_changes(
    panel: pd.DataFrame,
    *,
    method: str = "binseg",
    penalty: float | None = None,
    min_segment_days: int = DEFAULT_MIN_SEGMENT_DAYS,
    min_share_change: float = DEFAULT_MIN_SHARE_CHANGE,
    blocked_threshold: float = DEFAULT_BLOCKED_THRESHOLD,
) -> pd.DataFrame:
    """Segment each country-service blocked-share series and label onsets and lifts.

    The method and its parameters are documented in the module docstring: binary
    segmentation minimising the within-segment binomial deviance of the daily counts.

    Args:
        panel: Output of :func:`daily_panel`.
        method: ``"binseg"`` (the only method implemented).
        penalty: Minimum deviance gain for a split (None: ``2 * log(N)``, BIC-like).
        min_segment_days: Minimum measured days in each segment, so one odd day is no block.
        min_share_change: Minimum difference of blocked share between the two sides of a split.
        blocked_threshold: Share at or above which a segment counts as blocked.

    Returns:
        One row per segment (``SEGMENT_COLUMNS``), sorted by probe_cc, service_id,
        segment_id. ``change_type`` is None on a series' first segment and ``onset``, ``lift``
        or ``shift`` on the others; the change happened on a day in
        ``[change_earliest_date, change_date]`` (one day unless a coverage gap precedes it).

    Raises:
        ValueError: Unknown method.
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; implemented: {METHODS}")
    options = {
        "penalty": penalty,
        "min_segment_days": min_segment_days,
        "min_share_change": min_share_change,
    }
    parts = [
        _segment_series(series, blocked_threshold, **options)
        for _, series in panel.sort_values([*PANEL_KEYS, DAY]).groupby(PANEL_KEYS, sort=True)
    ]
    parts = [part for part in parts if len(part)]
    if not parts:
        return pd.DataFrame(columns=SEGMENT_COLUMNS)
    return pd.concat(parts, ignore_index=True).astype(
        {
            "segment_id": "int64",
            "n_days_measured": "int64",
            "n_tested": "int64",
            "n_blocked": "int64",
            "is_blocked": bool,
            "change_type": "string",
        }
    )


def list_change_points(changes: pd.DataFrame, kinds: tuple[str, ...] = ("onset", "lift")):
    """Return only the segments that start with a change of one of ``kinds`` (a view for print).

    Args:
        changes: Output of :func:`detect_changes`.
        kinds: Change types to keep.

    Returns:
        probe_cc, service_id, change_type, change_earliest_date, change_date, blocked_share.
    """
    columns = [*PANEL_KEYS, "change_type", "change_earliest_date", "change_date", "blocked_share"]
    return changes.loc[changes["change_type"].isin(kinds), columns].reset_index(drop=True)


# ---------------------------------------------------------------------------------------------
# corroborate
# ---------------------------------------------------------------------------------------------


def _interval_lag(
    measured_lo: pd.Timestamp, measured_hi: pd.Timestamp, recorded_lo, recorded_hi
) -> int:
    """Signed days from the recorded interval to the measured one (0 when they overlap)."""
    if measured_hi < recorded_lo:
        return int((measured_hi - recorded_lo).days)
    if measured_lo > recorded_hi:
        return int((measured_lo - recorded_hi).days)
    return 0


def _nearest_change(
    changes: pd.DataFrame, kind: str, recorded_lo, recorded_hi, after=None
) -> tuple[pd.Timestamp | None, int | None]:
    """Return (change_date, lag) of the ``kind`` change nearest the recorded interval."""
    candidates = changes.loc[changes["change_type"] == kind]
    if after is not None:
        candidates = candidates.loc[candidates["change_date"] > after]
    if candidates.empty:
        return None, None
    lags = [
        _interval_lag(lo, hi, recorded_lo, recorded_hi)
        for lo, hi in zip(
            candidates["change_earliest_date"], candidates["change_date"], strict=True
        )
    ]
    best = int(np.argmin(np.abs(lags)))
    return candidates["change_date"].iloc[best], lags[best]


def _or(bound, point):
    """Return a precision bound, or the point date when the bound is missing."""
    return bound if pd.notna(bound) else point


def _judge_block(block, panel_pair: pd.DataFrame, changes_pair: pd.DataFrame, tolerance: int):
    """Return the evidence fields for one block (see :func:`corroborate`)."""
    tol = pd.Timedelta(days=tolerance)
    cc, service = block.blocking_country, block.service_id
    start_lo = _or(block.start_earliest_date, block.start_date)
    start_hi = _or(block.start_latest_date, block.start_date)
    end_lo = _or(block.end_earliest_date, block.end_date)
    end_hi = _or(block.end_latest_date, block.end_date)
    ongoing = pd.isna(block.end_date)
    empty = {
        "measured_onset_date": pd.NaT,
        "onset_lag_days": pd.NA,
        "measured_lift_date": pd.NaT,
        "lift_lag_days": pd.NA,
        "n_days_measured": 0,
        "blocked_share_during": np.nan,
    }
    measured = panel_pair.loc[(panel_pair["n_ok"] + panel_pair["n_blocked"]) > 0]
    if measured.empty:
        return {**empty, "status": "no coverage", "reason": f"no measurements of {service} in {cc}"}
    last_measured = measured[DAY].max()
    period_end = last_measured if ongoing else end_hi
    confirmed = getattr(block, "last_confirmed_date", pd.NaT)
    if ongoing and pd.notna(confirmed) and confirmed < last_measured:
        period_end = confirmed  # in force only as far as a source confirmed it (issue #10)
    in_window = measured.loc[measured[DAY].between(start_lo - tol, period_end + tol)]
    if in_window.empty:
        first, last = measured[DAY].min().date(), measured[DAY].max().date()
        return {
            **empty,
            "status": "no coverage",
            "reason": f"measurements of {service} in {cc} cover {first}..{last}, "
            f"not the block period +/- {tolerance} days",
        }
    during = in_window.loc[in_window[DAY].between(start_lo, period_end)]
    tested_during = int((during["n_ok"] + during["n_blocked"]).sum())
    share_during = during["n_blocked"].sum() / tested_during if tested_during else np.nan
    blocked_days = changes_pair.loc[changes_pair["is_blocked"]]
    signal = any(
        (seg_lo <= period_end) and (seg_hi >= start_lo)
        for seg_lo, seg_hi in zip(
            blocked_days["segment_start_date"], blocked_days["segment_end_date"], strict=True
        )
    )
    onset_date, onset_lag = _nearest_change(changes_pair, "onset", start_lo, start_hi)
    fields = {
        **empty,
        "n_days_measured": len(in_window),
        "blocked_share_during": share_during,
        "measured_onset_date": onset_date,
        "onset_lag_days": onset_lag,
    }
    if not signal:
        return {
            **fields,
            "status": "contradicted",
            "reason": f"no blocked segment in the block period "
            f"(blocked share {share_during:.0%} over {len(during)} days)",
        }
    if onset_lag is None or abs(onset_lag) > tolerance:
        return {
            **fields,
            "status": "blocked-unmatched",
            "reason": f"blocking measured, but no onset within {tolerance} days of the "
            "recorded start",
        }
    lift_date, lift_lag = _nearest_change(
        changes_pair,
        "lift",
        end_lo if not ongoing else onset_date,
        end_hi if not ongoing else period_end,
        after=onset_date,
    )
    fields = {
        **fields,
        "measured_lift_date": lift_date,
        "lift_lag_days": None if ongoing else lift_lag,
    }
    if ongoing:
        if lift_date is None or lift_date > period_end:
            return {
                **fields,
                "status": "confirmed",
                "reason": "onset measured; still blocked at the last measured day"
                if period_end == last_measured
                else f"onset measured; still blocked at the last confirmation "
                f"({period_end.date()})",
            }
        return {
            **fields,
            "status": "onset-only",
            "reason": f"recorded as ongoing, but a lift was measured on {lift_date.date()}",
        }
    if lift_lag is not None and abs(lift_lag) <= tolerance:
        return {**fields, "status": "confirmed", "reason": "onset and lift measured"}
    covered_end = measured[DAY].between(end_lo - tol, end_hi + tol).any()
    why = "no lift within tolerance" if covered_end else "no measurements around the recorded end"
    return {**fields, "status": "onset-only", "reason": f"onset measured; {why}"}


def corroborate(
    blocks: pd.DataFrame,
    panel: pd.DataFrame,
    changes: pd.DataFrame,
    *,
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
) -> pd.DataFrame:
    """Compare each curated block with the onsets and lifts measured in its country.

    Statuses, in the order they are decided:

    * ``no coverage``: no measurement of the service in the country within the block period
      +/- ``tolerance_days`` (the reason says whether there are none at all or only elsewhere
      in time);
    * ``contradicted``: measurements cover the period but no blocked segment overlaps it;
    * ``blocked-unmatched``: a blocked segment overlaps the period, but no onset lies within
      ``tolerance_days`` of the recorded start (coverage began mid-block, or the dates
      disagree);
    * ``confirmed``: an onset within tolerance, and a lift within tolerance of the recorded end
      (or, for an ongoing block, no lift measured after the onset);
    * ``onset-only``: an onset within tolerance, but the end is not corroborated.

    Lags are measured minus recorded, in days, between the measured change interval and the
    recorded precision interval (0 when they overlap). An ongoing block's period runs to its
    ``last_confirmed_date`` (the last day a source confirms it in force) or to the last measured
    day, whichever comes first: a measurement after the last confirmation can neither confirm
    nor contradict the record.

    Args:
        blocks: ``block_events`` rows (event_id, blocking_country, service_id, start/end dates
            and their earliest/latest bounds).
        panel: Output of :func:`daily_panel`.
        changes: Output of :func:`detect_changes` on that panel.
        tolerance_days: Largest |lag| still counted as the same event.

    Returns:
        One row per block, in the order of ``blocks`` (``EVIDENCE_COLUMNS``).
    """
    dates = [
        "start_date",
        "end_date",
        "start_earliest_date",
        "start_latest_date",
        "end_earliest_date",
        "end_latest_date",
        "last_confirmed_date",
    ]
    prepared = coerce_dates(blocks.assign(**{c: blocks.get(c) for c in dates}), dates)
    panel_by_pair = dict(list(panel.groupby(PANEL_KEYS, sort=False)))
    changes_by_pair = dict(list(changes.groupby(PANEL_KEYS, sort=False)))
    empty_panel, empty_changes = panel.iloc[0:0], changes.iloc[0:0]
    rows = [
        {
            "event_id": block.event_id,
            "blocking_country": block.blocking_country,
            "service_id": block.service_id,
            "start_date": block.start_date,
            "end_date": block.end_date,
            **_judge_block(
                block,
                panel_by_pair.get((block.blocking_country, block.service_id), empty_panel),
                changes_by_pair.get((block.blocking_country, block.service_id), empty_changes),
                tolerance_days,
            ),
        }
        for block in prepared.itertuples(index=False)
    ]
    evidence = pd.DataFrame(rows, columns=EVIDENCE_COLUMNS).astype(
        {
            "onset_lag_days": "Int64",
            "lift_lag_days": "Int64",
            "n_days_measured": "int64",
            "measured_onset_date": "datetime64[ns]",
            "measured_lift_date": "datetime64[ns]",
            "blocked_share_during": "float64",
        }
    )
    if len(evidence) != len(blocks):  # pragma: no cover - a bug
        raise AssertionError("every block must appear exactly once")
    return evidence


def count_statuses(evidence: pd.DataFrame) -> pd.Series:
    """Return how many blocks have each status (all statuses listed, zeros included)."""
    return evidence["status"].value_counts().reindex(list(STATUSES), fill_value=0)


def select_pair(frame: pd.DataFrame, probe_cc: str, service_id: str) -> pd.DataFrame:
    """Return the rows of one country-service series of a panel or of its changes."""
    keep = (frame["probe_cc"] == probe_cc) & (frame["service_id"] == service_id)
    return frame.loc[keep].reset_index(drop=True)


def count_measured_days(
    panel: pd.DataFrame, probe_cc: str, service_id: str, day: object, window_days: int
) -> int:
    """Count days with an ok or blocked measurement within ``window_days`` of ``day``.

    Used to decide which recorded dates are worth a figure: a window without measurements
    would only show an empty axis.
    """
    series = select_pair(panel, probe_cc, service_id)
    centre = pd.Timestamp(day)
    near = series[DAY].between(
        centre - pd.Timedelta(days=window_days), centre + pd.Timedelta(days=window_days)
    )
    return int(((series["n_ok"] + series["n_blocked"]) > 0)[near].sum())


# ---------------------------------------------------------------------------------------------
# plot
# ---------------------------------------------------------------------------------------------


def plot_blocked_share(
    data: pd.DataFrame,
    x: str = DAY,
    y: str = "blocked_share",
    changes: pd.DataFrame | None = None,
    blocks: pd.DataFrame | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw one series' daily blocked share with detected changes and recorded block dates.

    Unmeasured days break the line (no interpolation), detected segments are drawn as flat
    levels, onsets and lifts as vertical lines, and the recorded start/end precision intervals
    as shaded bands, so agreement and lag can be read off directly.

    Args:
        data: Panel rows of one (probe_cc, service_id).
        x: Column of days.
        y: Column of blocked shares.
        changes: Segments of the same series from :func:`detect_changes` (None: none drawn).
        blocks: ``block_events`` rows of the same country and service (None: none drawn).
        ax: Axes to draw on (default: current Axes).

    Returns:
        The Axes.
    """
    import matplotlib.dates as mdates
    import matplotlib.pyplot as plt

    ax = plt.gca() if ax is None else ax
    ax.plot(
        data[x],
        data[y],
        marker=".",
        markersize=3,
        linewidth=0.8,
        color="0.35",
        label="daily blocked share",
    )
    if changes is not None and len(changes):
        for i, seg in enumerate(changes.itertuples(index=False)):
            ax.hlines(
                seg.blocked_share,
                seg.segment_start_date,
                seg.segment_end_date,
                color="C0",
                linewidth=2,
                label="segment share" if i == 0 else None,
            )
        for kind, colour in (("onset", "C1"), ("lift", "C2")):
            points = changes.loc[changes["change_type"] == kind, "change_date"]
            for j, day in enumerate(points):
                ax.axvline(
                    day,
                    color=colour,
                    linestyle="--",
                    linewidth=1,
                    label=f"measured {kind}" if j == 0 else None,
                )
    if blocks is not None and len(blocks):
        dated = coerce_dates(
            blocks,
            ["start_earliest_date", "start_latest_date", "end_earliest_date", "end_latest_date"],
        )
        for i, block in enumerate(dated.itertuples(index=False)):
            for lo, hi, what in (
                (block.start_earliest_date, block.start_latest_date, "start"),
                (block.end_earliest_date, block.end_latest_date, "end"),
            ):
                if pd.notna(lo):
                    ax.axvspan(
                        lo,
                        hi + ONE_DAY,
                        color="0.6",
                        alpha=0.4,
                        linewidth=0,
                        label="recorded start/end" if i == 0 and what == "start" else None,
                    )
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel("blocked share")
    ax.set_xlabel("day (UTC)")
    return ax
