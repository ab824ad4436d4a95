"""User base: user figures by service and place, and the users each block cut off.

The ``mau`` table keeps every figure as reported, with its period, geography, qualifier, the
metric as reported and (issue #10) ``metric_kind``: ``mau``, ``dau``, ``registered``, ``users``,
``reach``, ``ad-audience`` or ``downloads``. Whether a figure is MAU follows ``metric_kind``
(``is_mau`` is recomputed from it, with a warning where a stored flag disagrees), so the same
source's figures can no longer be coded differently.

**Users exposed** (:func:`estimate_users_exposed`, issue #10's "users exposed for >= 80
blocks"): per block, one per-country figure of the blocked service in the blocking country for a
period ending within ``EXPOSURE_WINDOW_DAYS`` (two years) of the start, of any kind, chosen in
this documented order:

1. **Before the start first.** A figure for a period that ended on or before the start day is
   preferred to any later one, because a later figure can already reflect the block (a full ban
   drives a country's active users towards zero; a throttled service loses some). A later
   figure is used only when no earlier one exists and is flagged ``figure_after_start``.
2. **Then by kind**, in ``METRIC_KIND_PREFERENCE``: ``mau`` (the quantity wanted), ``reach``
   (panel share of people using it in a period: a measured active audience), ``users`` (a
   count whose activity window is unstated), ``ad-audience`` (platform ad reach: includes
   duplicates and non-residents, tends to overcount), ``dau`` (a lower bound on monthly users),
   ``registered`` (includes inactive accounts: an upper bound), ``downloads`` (installs, not
   people).
3. **Then nearest to the start**, then a plain figure before a qualified one, then the smaller
   value (the conservative reading of two figures for the same period).

Every row states the figure's ``exposure_metric_kind``, ``metric_as_reported``, ``is_mau``,
period end, its offset from the start and ``figure_after_start``, so kinds are never mixed
silently: a ranking or a total over blocks can be restricted to one kind (``metric_kinds``).

**Fallback.** ``estimate_method="global_upper_bound"`` puts the service's global MAU at the start
in ``users_exposed_upper_bound`` when no country figure exists (everyone on the service: an upper
bound, never a point estimate); ``exposure_method`` says which rule gave each row, and
``missing_reason`` why a block has no country figure.

**Global MAU lookup** (:func:`lookup_mau_at_start`, used for the upper bound and the service-size
covariate): the latest MAU figure (``metric_kind == "mau"``) for a period that ended at or before
the start, no more than ``tolerance_days`` before it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from censorlab.analysis.durations import coerce_dates

logger = logging.getLogger(__name__)

DEFAULT_TOLERANCE_DAYS = 731
EXPOSURE_WINDOW_DAYS = 731  # "within two years of the start" (a leap day included)
WORLD_GEO = "WORLD"
ESTIMATE_METHODS = ("none", "global_upper_bound")
METRIC_KIND_PREFERENCE = ("mau", "reach", "users", "ad-audience", "dau", "registered", "downloads")
KIND_UNCLASSIFIED = "unclassified"
PERIOD_OFFSETS = {
    "day": pd.DateOffset(days=0),
    "month": pd.DateOffset(months=1, days=-1),
    "quarter": pd.DateOffset(months=3, days=-1),
    "year": pd.DateOffset(years=1, days=-1),
}
METHOD_COUNTRY_FIGURE = "country_figure"
METHOD_NONE = "none"
METHOD_GLOBAL_UPPER_BOUND = "global_upper_bound"
REASON_NO_FIGURE = "no figure for this service in the blocking country"
REASON_OUT_OF_WINDOW = "country figures only for periods more than two years from the start"
REASON_KIND_EXCLUDED = "country figures only of metric kinds not asked for"
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


def add_metric_kind(mau: pd.DataFrame) -> pd.DataFrame:
    """Make ``metric_kind`` the one source of truth and recompute ``is_mau`` from it.

    Before issue #10 the table had only ``is_mau``: there a missing ``metric_kind`` becomes
    ``mau`` when ``is_mau`` is True and ``"unclassified"`` otherwise (logged), so no figure
    changes kind without it showing.

    Args:
        mau: Rows of ``mau``.

    Returns:
        A copy with ``metric_kind`` filled and ``is_mau == (metric_kind == "mau")``.
    """
    stored = (
        mau["is_mau"].astype("boolean")
        if "is_mau" in mau.columns
        else pd.Series(pd.NA, index=mau.index, dtype="boolean")
    )
    kind = (
        mau["metric_kind"].astype("string")
        if "metric_kind" in mau.columns
        else pd.Series(pd.NA, index=mau.index, dtype="string")
    )
    missing = kind.isna()
    if missing.any():
        logger.warning("%d mau row(s) have no metric_kind; read from is_mau", int(missing.sum()))
    from_flag = stored.map({True: "mau", False: KIND_UNCLASSIFIED}).astype("string")
    kind = kind.fillna(from_flag).fillna(KIND_UNCLASSIFIED)
    is_mau = kind.eq("mau")
    disagree = (stored.notna() & (stored != is_mau)).fillna(False)
    if disagree.any():
        logger.warning(
            "%d mau row(s): stored is_mau disagrees with metric_kind; metric_kind wins",
            int(disagree.sum()),
        )
    return mau.assign(metric_kind=kind.astype(str).to_numpy(), is_mau=is_mau.to_numpy(dtype=bool))


def prepare_mau(mau: pd.DataFrame) -> pd.DataFrame:
    """Normalise dates and metric kind, add ``period_start`` and ``geo_level``.

    Args:
        mau: Rows of the ``mau`` table.

    Returns:
        A copy with datetime ``period_end``, ``period_start``, ``geo_level``
        (global/country/world_ex), ``metric_kind`` and ``is_mau`` (:func:`add_metric_kind`).
    """
    dated = coerce_dates(mau, ["period_end"]).pipe(add_metric_kind)
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
    """Keep the figures that are MAU (by ``metric_kind``) with a value.

    Args:
        mau: Rows of ``mau`` (prepared or not).

    Returns:
        Rows with a non-missing ``mau`` whose ``metric_kind`` is ``mau``.
    """
    kinds = add_metric_kind(mau)
    return mau.loc[(mau["mau"].notna() & kinds["is_mau"]).to_numpy()]


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
    figures = add_metric_kind(mau)[
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


def _metric_text(mau: pd.DataFrame) -> pd.Series:
    for column in ("metric_as_reported", "metric"):
        if column in mau.columns:
            return mau[column].astype("string")
    return pd.Series(pd.NA, index=mau.index, dtype="string")


def _country_candidates(blocks: pd.DataFrame, mau: pd.DataFrame) -> pd.DataFrame:
    """Every (block, figure) pair of the same service in the blocking country."""
    figures = prepare_mau(mau)
    figures = figures.assign(
        metric_as_reported=_metric_text(figures),
        figure_source_urls=figures["source_urls"] if "source_urls" in figures else None,
    )
    keyed = blocks[["event_id", "service_id", "blocking_country", "start_date"]].rename(
        columns={"blocking_country": "geo"}
    )
    columns = [
        "service_id",
        "geo",
        "period_end",
        "mau",
        "mau_qualifier",
        "metric_kind",
        "is_mau",
        "metric_as_reported",
        "figure_source_urls",
    ]
    pairs = keyed.merge(figures[columns], on=["service_id", "geo"], how="inner", validate="m:m")
    offset = (pairs["period_end"] - pairs["start_date"]).dt.days
    rank = {kind: position for position, kind in enumerate(METRIC_KIND_PREFERENCE)}
    return pairs.assign(
        figure_offset_days=offset,
        figure_after_start=(offset > 0).to_numpy(),
        kind_rank=pairs["metric_kind"].map(rank).fillna(len(rank)).astype(int),
        is_qualified=pairs["mau_qualifier"].notna().to_numpy(),
    )


def _exposure_missing_reason(candidates: pd.DataFrame) -> str:
    if candidates.empty:
        return REASON_NO_FIGURE
    valued = candidates.loc[candidates["mau"].notna()]
    if valued.empty:
        return REASON_NO_VALUE
    in_window = valued.loc[valued["figure_offset_days"].abs() <= EXPOSURE_WINDOW_DAYS]
    if in_window.empty:
        return REASON_OUT_OF_WINDOW
    return REASON_KIND_EXCLUDED


def estimate_users_exposed(
    blocks: pd.DataFrame,
    mau: pd.DataFrame,
    estimate_method: str = METHOD_NONE,
    metric_kinds: Sequence[str] = METRIC_KIND_PREFERENCE,
    window_days: int = EXPOSURE_WINDOW_DAYS,
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
) -> pd.DataFrame:
    """Users exposed to each block: one country figure, chosen in the documented order.

    Args:
        blocks: Rows of ``block_events``.
        mau: Rows of ``mau`` (with ``metric_kind``; see :func:`add_metric_kind` otherwise).
        estimate_method: ``"none"`` or ``"global_upper_bound"`` (module docstring).
        metric_kinds: The kinds allowed, in order of preference (default: all, in
            ``METRIC_KIND_PREFERENCE``); pass ``("mau",)`` for MAU only.
        window_days: Largest distance, in days, between a figure's period end and the start.
        tolerance_days: Age limit of the global MAU used for the upper bound.

    Returns:
        One row per block: ``event_id, service_id, service_name, blocking_country, start_date,
        users_exposed`` (Int64), ``exposure_metric_kind, metric_as_reported, is_mau,
        figure_period_end, figure_offset_days`` (period end minus start; Int64),
        ``figure_after_start`` (boolean), ``mau_qualifier, figure_source_urls,
        users_exposed_upper_bound`` (Int64), ``exposure_method`` (``country_figure``,
        ``global_upper_bound`` or ``none``) and ``missing_reason``.

    Raises:
        ValueError: Unknown ``estimate_method``.
    """
    if estimate_method not in ESTIMATE_METHODS:
        raise ValueError(f"estimate_method must be one of {ESTIMATE_METHODS}: {estimate_method}")
    dated = coerce_dates(blocks, ["start_date"]).reset_index(drop=True)
    candidates = _country_candidates(dated, mau)
    rank = {kind: position for position, kind in enumerate(metric_kinds)}
    usable = candidates.loc[
        candidates["mau"].notna()
        & (candidates["figure_offset_days"].abs() <= window_days)
        & candidates["metric_kind"].isin(list(metric_kinds))
    ]
    chosen = (
        usable.assign(
            kind_rank=usable["metric_kind"].map(rank),
            distance=usable["figure_offset_days"].abs(),
        )
        .sort_values(
            ["event_id", "figure_after_start", "kind_rank", "distance", "is_qualified", "mau"]
        )
        .groupby("event_id")
        .head(1)
        .set_index("event_id")
    )
    reasons = {
        event_id: _exposure_missing_reason(group)
        for event_id, group in candidates.groupby("event_id")
    }
    ids = dated["event_id"]
    found = ids.isin(chosen.index).to_numpy()

    def pick(column: str) -> pd.Series:
        return ids.map(chosen[column]) if len(chosen) else pd.Series(pd.NA, index=ids.index)

    reason = ids.map(reasons).fillna(REASON_NO_FIGURE).where(~found, pd.NA).astype("string")
    if "service_id" in dated:
        reason = reason.where(~dated["service_id"].isna().to_numpy(), REASON_NO_SERVICE)
    upper = pd.Series(pd.NA, index=ids.index, dtype="Int64")
    method = pd.Series(np.where(found, METHOD_COUNTRY_FIGURE, METHOD_NONE), index=ids.index)
    if estimate_method == METHOD_GLOBAL_UPPER_BOUND:
        world = lookup_mau_at_start(dated, mau, geo="global", tolerance_days=tolerance_days)
        upper = world["mau_at_start"].where(~found)
        method = method.where(found | upper.isna().to_numpy(), METHOD_GLOBAL_UPPER_BOUND)
    keys = ["event_id", "service_id", "service_name", "blocking_country", "start_date"]
    kind = pick("metric_kind").astype("string")
    return dated[[key for key in keys if key in dated.columns]].assign(
        users_exposed=pick("mau").astype("Int64"),
        exposure_metric_kind=kind,
        metric_as_reported=pick("metric_as_reported").astype("string"),
        is_mau=kind.eq("mau").astype("boolean"),
        figure_period_end=pd.to_datetime(pick("period_end")),
        figure_offset_days=pick("figure_offset_days").astype("Int64"),
        figure_after_start=pick("figure_after_start").astype("boolean"),
        mau_qualifier=pick("mau_qualifier"),
        figure_source_urls=pick("figure_source_urls"),
        users_exposed_upper_bound=upper.astype("Int64").to_numpy(),
        exposure_method=method.to_numpy(),
        missing_reason=reason.to_numpy(),
    )


def rank_blocks_by_exposure(
    exposed: pd.DataFrame, n: int | None = 10, metric_kinds: Sequence[str] | None = None
) -> pd.DataFrame:
    """Rank blocks by users exposed (known figures only), largest first.

    Figures of different kinds are not the same quantity; ``metric_kinds`` keeps a ranking to
    the kinds named (each row states its kind either way).

    Args:
        exposed: Output of :func:`estimate_users_exposed`.
        n: Number of rows to keep (None for all).
        metric_kinds: Keep only these ``exposure_metric_kind`` values (None: all).

    Returns:
        The blocks with a known ``users_exposed``, with ``rank`` (1 = largest) and
        ``users_exposed_millions``; ties broken by ``event_id``.
    """
    known = exposed.loc[exposed["users_exposed"].notna()]
    if metric_kinds is not None:
        known = known.loc[known["exposure_metric_kind"].isin(list(metric_kinds))]
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
