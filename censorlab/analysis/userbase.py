"""User base: MAU series by service and place, and the users each block cut off.

The ``mau`` table keeps every figure as reported, with its period, geography, qualifier and
whether the metric is really monthly active users (``is_mau``). This module chooses, per
block, the figure that best describes the users exposed, and says how it chose:

* **Which figure.** The service's MAU *in the blocking country* for the latest period that
  ended at or before the block start (``period_end <= start_date``: a figure for a later
  period could already reflect the block), provided it ended no more than
  ``tolerance_days`` before the start. Registered-user counts (``is_mau`` False) and rows
  without a value are not MAU and are never used. ``period_end`` is compared as stored, so a
  month-precision figure counts as of the date the processed table gives it.
* **Estimates.** When no such figure exists, ``estimate_method`` decides: ``"none"``
  (default) leaves the value missing; ``"global_upper_bound"`` puts the service's global MAU
  in ``users_exposed_upper_bound`` (everyone on the service, an upper bound, never a point
  estimate). The method used is stated in ``exposure_method`` on every row.
* **Missing.** ``missing_reason`` says why a block has no figure (no figure for the country,
  only later figures, the nearest one too old, only registered-user counts, ...), so a
  ranking by exposure can be read together with what it leaves out.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from censorlab.analysis.durations import coerce_dates

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE_DAYS = 731
WORLD_GEO = "WORLD"
ESTIMATE_METHODS = ("none", "global_upper_bound")
PERIOD_OFFSETS = {
    "day": pd.DateOffset(days=0),
    "month": pd.DateOffset(months=1, days=-1),
    "quarter": pd.DateOffset(months=3, days=-1),
    "year": pd.DateOffset(years=1, days=-1),
}
METHOD_COUNTRY_MAU = "country_mau"
METHOD_GLOBAL_UPPER_BOUND = "global_upper_bound"
REASON_NO_FIGURE = "no MAU figure for this service in the blocking country"
REASON_ONLY_LATER = "country figures only for periods after the block start"
REASON_TOO_OLD = "nearest earlier country figure older than the tolerance"
REASON_NOT_MAU = "country figures are not MAU (e.g. registered users)"
REASON_NO_VALUE = "country figure reported without a usable value"
REASON_NO_SERVICE = "block has no service_id"
GEO_LEVELS = {"WORLD": "global"}


def _period_start(period_end: pd.Series, precision: pd.Series) -> pd.Series:
    """First day of the reporting period, from its end and precision (for plots and tables)."""
    starts = period_end.copy()
    for name, offset in PERIOD_OFFSETS.items():
        selected = precision == name
        if selected.any():
            starts = starts.where(~selected, period_end[selected] - offset)
    return starts


def prepare_mau(mau: pd.DataFrame) -> pd.DataFrame:
    """Normalise dates, add ``period_start`` and ``geo_level`` (global/country/world_ex).

    Args:
        mau: Rows of the ``mau`` table.

    Returns:
        A copy with datetime ``period_end``, ``period_start`` and ``geo_level``.
    """
    dated = coerce_dates(mau, ["period_end"])
    precision = dated.get("period_precision", pd.Series("day", index=dated.index))
    geo = dated["geo"].astype("string")
    geo_level = np.where(
        geo == WORLD_GEO, "global", np.where(geo.str.startswith("WORLD_EX"), "world_ex", "country")
    )
    return dated.assign(
        period_start=_period_start(dated["period_end"], precision.fillna("day")),
        geo_level=geo_level,
    )


def select_usable_mau(mau: pd.DataFrame) -> pd.DataFrame:
    """Keep the figures that are MAU with a value: the only ones fit for exposure.

    Args:
        mau: Rows of ``mau`` (prepared or not).

    Returns:
        Rows with a non-missing ``mau`` and ``is_mau`` True.
    """
    is_mau = mau["is_mau"].astype("boolean").fillna(False)
    return mau.loc[mau["mau"].notna() & is_mau.to_numpy()]


def summarise_mau_by_period(mau: pd.DataFrame, freq: str = "year") -> pd.DataFrame:
    """MAU per service, geography and period: the latest usable figure in each period.

    Args:
        mau: Rows of the ``mau`` table.
        freq: ``"year"`` or ``"quarter"``.

    Returns:
        ``service_id, service_name, geo, geo_level, period, period_end, mau, mau_millions``
        sorted by service, geography and period.
    """
    prepared = prepare_mau(mau).pipe(select_usable_mau)
    period = (
        prepared["period_end"].dt.year.astype(str)
        if freq == "year"
        else prepared["period_end"].dt.to_period("Q").astype(str)
    )
    keys = ["service_id", "service_name", "geo", "geo_level", "period"]
    return (
        prepared.assign(period=period)
        .sort_values([*keys, "period_end"])
        .groupby(keys, as_index=False, dropna=False)
        .last()
        .loc[:, [*keys, "period_end", "mau"]]
        .assign(mau_millions=lambda frame: frame["mau"].astype(float) / 1e6)
        .reset_index(drop=True)
    )


def _candidate_figures(
    blocks: pd.DataFrame, mau: pd.DataFrame, geo_column: str, include_current_period: bool
) -> pd.DataFrame:
    """Every (block, figure) pair of the same service and geography, with diagnostics."""
    keyed = blocks[["event_id", "service_id", "start_date", geo_column]].rename(
        columns={geo_column: "geo"}
    )
    figures = mau[
        ["service_id", "geo", "period_start", "period_end", "mau", "is_mau", "mau_qualifier"]
    ]
    pairs = keyed.merge(figures, on=["service_id", "geo"], how="inner", validate="m:m")
    is_mau = pairs["is_mau"].astype("boolean").fillna(False).to_numpy()
    return pairs.assign(
        has_value=pairs["mau"].notna().to_numpy(),
        is_mau_metric=is_mau,
        is_before_start=(
            (pairs["period_end"] <= pairs["start_date"])
            | (include_current_period & (pairs["period_start"] <= pairs["start_date"]))
        ).to_numpy(),
        age_days=(pairs["start_date"] - pairs["period_end"]).dt.days.clip(lower=0),
    )


def _missing_reason(candidates: pd.DataFrame) -> str:
    if candidates.empty:
        return REASON_NO_FIGURE
    if not candidates["is_mau_metric"].any():
        return REASON_NOT_MAU
    mau_metric = candidates.loc[candidates["is_mau_metric"]]
    if not mau_metric["has_value"].any():
        return REASON_NO_VALUE
    valued = mau_metric.loc[mau_metric["has_value"]]
    if not valued["is_before_start"].any():
        return REASON_ONLY_LATER
    return REASON_TOO_OLD


def lookup_mau_at_start(
    blocks: pd.DataFrame,
    mau: pd.DataFrame,
    geo: str = "country",
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
    include_current_period: bool = False,
) -> pd.DataFrame:
    """Find, per block, the service's MAU at block start in the country or worldwide.

    Args:
        blocks: Rows of ``block_events``.
        mau: Rows of ``mau``.
        geo: ``"country"`` (the blocking country) or ``"global"`` (``WORLD``).
        tolerance_days: Maximum age of the figure's period end before the block start.
        include_current_period: Also accept a figure whose period *contains* the start
            (e.g. a company's "400k users this month" in the month of the block). Off by
            default because a quarter-end MAU can already reflect the block.

    Returns:
        One row per block: ``event_id``, ``mau_at_start`` (Int64), ``mau_period_end``,
        ``mau_qualifier``, ``mau_age_days`` and ``missing_reason`` (missing when found).
    """
    dated_blocks = coerce_dates(blocks, ["start_date"])
    geo_column = "blocking_country"
    if geo == "global":
        dated_blocks = dated_blocks.assign(geo_world=WORLD_GEO)
        geo_column = "geo_world"
    candidates = _candidate_figures(
        dated_blocks, prepare_mau(mau), geo_column, include_current_period
    )
    usable = candidates.loc[
        candidates["has_value"]
        & candidates["is_mau_metric"]
        & candidates["is_before_start"]
        & (candidates["age_days"] <= tolerance_days)
    ]
    chosen = (
        usable.sort_values(["event_id", "period_end", "mau"])
        .groupby("event_id")
        .tail(1)
        .loc[:, ["event_id", "mau", "period_end", "mau_qualifier", "age_days"]]
        .rename(
            columns={
                "mau": "mau_at_start",
                "period_end": "mau_period_end",
                "age_days": "mau_age_days",
            }
        )
    )
    reasons = pd.Series(
        {
            event_id: _missing_reason(group)
            for event_id, group in candidates.groupby("event_id")
            if event_id not in set(chosen["event_id"])
        },
        dtype="string",
    )
    found = dated_blocks[["event_id"]].merge(chosen, on="event_id", how="left", validate="1:1")
    reason = (
        found["event_id"]
        .map(reasons)
        .astype("string")
        .fillna(REASON_NO_FIGURE)
        .where(found["mau_at_start"].isna())
    )
    if "service_id" in dated_blocks:
        no_service = dated_blocks["service_id"].isna().to_numpy()
        reason = reason.where(~no_service, REASON_NO_SERVICE)
    return found.assign(
        mau_at_start=found["mau_at_start"].astype("Int64"),
        mau_age_days=found["mau_age_days"].astype("Int64"),
        missing_reason=reason,
    )


def estimate_users_exposed(
    blocks: pd.DataFrame,
    mau: pd.DataFrame,
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
    estimate_method: str = "none",
    include_current_period: bool = False,
) -> pd.DataFrame:
    """Users exposed to each block: the service's MAU in the blocking country at block start.

    Args:
        blocks: Rows of ``block_events``.
        mau: Rows of ``mau``.
        tolerance_days: Maximum age of a figure (see :func:`lookup_mau_at_start`).
        include_current_period: See :func:`lookup_mau_at_start`.
        estimate_method: ``"none"`` or ``"global_upper_bound"`` (module docstring).

    Returns:
        One row per block: ``event_id, service_id, service_name, blocking_country,
        start_date, users_exposed`` (Int64), ``users_exposed_upper_bound`` (Int64),
        ``exposure_method``, ``mau_period_end``, ``mau_qualifier``, ``missing_reason``.
    """
    if estimate_method not in ESTIMATE_METHODS:
        raise ValueError(f"estimate_method must be one of {ESTIMATE_METHODS}: {estimate_method}")
    country = lookup_mau_at_start(
        blocks, mau, "country", tolerance_days, include_current_period=include_current_period
    )
    found = country["mau_at_start"].notna()
    upper = pd.Series(pd.NA, index=country.index, dtype="Int64")
    method = pd.Series(np.where(found, METHOD_COUNTRY_MAU, "none"), index=country.index)
    if estimate_method == METHOD_GLOBAL_UPPER_BOUND:
        world = lookup_mau_at_start(blocks, mau, geo="global", tolerance_days=tolerance_days)
        upper = world["mau_at_start"].where(~found.to_numpy())
        method = method.where(found | upper.isna(), METHOD_GLOBAL_UPPER_BOUND)
    keys = ["event_id", "service_id", "service_name", "blocking_country", "start_date"]
    base = coerce_dates(blocks, ["start_date"])[[k for k in keys if k in blocks.columns]]
    return base.reset_index(drop=True).assign(
        users_exposed=country["mau_at_start"],
        users_exposed_upper_bound=upper.astype("Int64"),
        exposure_method=method,
        mau_period_end=country["mau_period_end"],
        mau_qualifier=country["mau_qualifier"],
        missing_reason=country["missing_reason"],
    )


def rank_blocks_by_exposure(exposed: pd.DataFrame, n: int | None = 10) -> pd.DataFrame:
    """Rank blocks by users exposed (known figures only), largest first.

    Args:
        exposed: Output of :func:`estimate_users_exposed`.
        n: Number of rows to keep (None for all).

    Returns:
        The blocks with a known ``users_exposed``, with ``rank`` (1 = largest) and
        ``users_exposed_millions``; ties broken by ``event_id``.
    """
    known = exposed.loc[exposed["users_exposed"].notna()]
    ranked = (
        known.sort_values(["users_exposed", "event_id"], ascending=[False, True])
        .reset_index(drop=True)
        .assign(
            rank=lambda frame: np.arange(1, len(frame) + 1),
            users_exposed_millions=lambda frame: frame["users_exposed"].astype(float) / 1e6,
        )
    )
    return ranked if n is None else ranked.head(n)


def add_log_global_mau(
    blocks: pd.DataFrame, mau: pd.DataFrame, tolerance_days: int = DEFAULT_TOLERANCE_DAYS
) -> pd.DataFrame:
    """Add ``log_global_mau``: natural log of the service's global MAU at block start.

    Used as the "service size" covariate; missing where no global figure is usable.

    Args:
        blocks: Rows of ``block_events``.
        mau: Rows of ``mau``.
        tolerance_days: Maximum age of a figure.

    Returns:
        A copy of ``blocks`` with ``global_mau_at_start`` (Int64) and ``log_global_mau``.
    """
    world = lookup_mau_at_start(blocks, mau, geo="global", tolerance_days=tolerance_days)
    values = world["mau_at_start"]
    return blocks.assign(
        global_mau_at_start=values.to_numpy(),
        log_global_mau=np.log(values.astype("Float64").astype(float)).to_numpy(),
    )
