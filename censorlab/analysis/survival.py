"""Survival analysis of block duration: Kaplan-Meier, log-rank and Cox, as tidy frames.

Ongoing blocks are right-censored (``observed=False``), not dropped: dropping them would
keep only the blocks that were lifted and make blocks look short. Every function takes the
column names of the duration and event flag, so the same call runs on the point durations
and on the precision bounds (``duration_low_days``/``duration_high_days``); the ``*_across_bounds``
helpers do exactly that and stack the results with a ``duration_bound`` column.

The statistics come from statsmodels (``SurvfuncRight``, ``survdiff``, ``PHReg``); this
module only shapes inputs and outputs. With few lifted blocks the Cox model must stay small:
:func:`fit_cox` reports the number of events per estimated parameter and logs a warning below
``MIN_EVENTS_PER_PARAMETER`` (the usual rule of thumb of ten), so notebooks can say so.

Two checks of the assumptions go with the model: :func:`check_proportional_hazards` tests
proportional hazards by correlating each covariate's Schoenfeld residuals with a function of
time (Grambsch-Therneau style), and :func:`summarise_end_status_sensitivity` reruns the
headline numbers under each censoring scenario of
:func:`censorlab.analysis.durations.compute_block_durations` (``end_status`` as data).

These functions take one row per unit with a fixed covariate. The time-varying, stratified
contact models of issue #9 live in :mod:`censorlab.analysis.contact_models`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.duration.hazard_regression import PHReg
from statsmodels.duration.survfunc import SurvfuncRight, survdiff

from censorlab.analysis.durations import (
    CENSORING_SCENARIOS,
    SCENARIO_AS_OF_CONTRAST,
    compute_block_durations,
)
from censorlab.analysis.vocabulary import END_STATUS_IN_FORCE, END_STATUS_UNKNOWN

logger = logging.getLogger(__name__)

DEFAULT_ALPHA = 0.05
MIN_EVENTS_PER_PARAMETER = 10
DURATION_BOUNDS = {
    "point": "duration_days",
    "low": "duration_low_days",
    "high": "duration_high_days",
}
ALL_GROUP = "all"
KM_COLUMNS = ("group", "time", "n_at_risk", "n_events", "survival", "ci_low", "ci_high")
COX_COLUMNS = (
    "term",
    "coef",
    "se",
    "hazard_ratio",
    "hr_ci_low",
    "hr_ci_high",
    "p_value",
    "n",
    "n_events",
    "events_per_parameter",
)


def _complete_cases(data: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    complete = data.dropna(subset=list(columns))
    if len(complete) < len(data):
        logger.info("Dropped %d row(s) with missing %s", len(data) - len(complete), columns)
    return complete


def _group_labels(data: pd.DataFrame, group: str | None) -> pd.Series:
    if group is None:
        return pd.Series(ALL_GROUP, index=data.index)
    return data[group].astype(str)


def _loglog_interval(
    survival: np.ndarray, se: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pointwise CI on the log(-log S) scale, which stays inside [0, 1] (Kalbfleisch-Prentice)."""
    z = stats.norm.ppf(1 - alpha / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        se_loglog = se / (survival * np.abs(np.log(survival)))
        low = survival ** np.exp(z * se_loglog)
        high = survival ** np.exp(-z * se_loglog)
    undefined = (survival <= 0) | (survival >= 1) | ~np.isfinite(se_loglog)
    return np.where(undefined, survival, low), np.where(undefined, survival, high)


def _km_one_group(label: str, time: np.ndarray, status: np.ndarray, alpha: float) -> pd.DataFrame:
    fitted = SurvfuncRight(time, status)
    ci_low, ci_high = _loglog_interval(fitted.surv_prob, fitted.surv_prob_se, alpha)
    origin = pd.DataFrame(
        {
            "time": [0.0],
            "n_at_risk": [len(time)],
            "n_events": [0],
            "survival": [1.0],
            "ci_low": [1.0],
            "ci_high": [1.0],
        }
    )
    steps = pd.DataFrame(
        {
            "time": fitted.surv_times.astype(float),
            "n_at_risk": fitted.n_risk.astype(int),
            "n_events": fitted.n_events.astype(int),
            "survival": fitted.surv_prob,
            "ci_low": ci_low,
            "ci_high": ci_high,
        }
    )
    # An event at time 0 (lifted the day it started) replaces the synthetic origin row.
    table = pd.concat([origin, steps], ignore_index=True).drop_duplicates("time", keep="last")
    # The curve stays flat after the last event until the last (censored) observation.
    last_time = float(np.max(time)) if len(time) else 0.0
    if last_time > table["time"].max():
        tail = table.tail(1).assign(
            time=last_time, n_at_risk=int(np.sum(time >= last_time)), n_events=0
        )
        table = pd.concat([table, tail], ignore_index=True)
    return table.assign(group=label)


def estimate_km(
    data: pd.DataFrame,
    duration: str = "duration_days",
    observed: str = "observed",
    group: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Kaplan-Meier survival curve(s) with pointwise confidence intervals, one row per step.

    Args:
        data: One row per block with a duration and an event flag.
        duration: Column of durations in days.
        observed: Column that is True when the end was observed (False = censored).
        group: Optional column to split curves by (e.g. ``has_diplomatic_contact``).
        alpha: 1 - confidence level of the pointwise interval (log-log scale).

    Returns:
        ``group, time, n_at_risk, n_events, survival, ci_low, ci_high``, starting at time 0
        with survival 1 and ending at the group's last observed time (censored or not),
        sorted by group and time.
    """
    complete = _complete_cases(data, [duration, observed])
    labels = _group_labels(complete, group)
    tables = [
        _km_one_group(
            label,
            complete.loc[labels == label, duration].to_numpy(float),
            complete.loc[labels == label, observed].astype(bool).to_numpy(int),
            alpha,
        )
        for label in sorted(labels.unique())
    ]
    return pd.concat(tables, ignore_index=True).loc[:, list(KM_COLUMNS)]


def _median_row(label: str, time: np.ndarray, status: np.ndarray, alpha: float) -> dict:
    fitted = SurvfuncRight(time, status)
    median = fitted.quantile(0.5)
    with np.errstate(divide="ignore", invalid="ignore"):  # log(0) at S=0 or S=1: no bound
        ci_low, ci_high = fitted.quantile_ci(0.5, alpha=alpha, method="cloglog")
    return {
        "group": label,
        "n": len(time),
        "n_events": int(status.sum()),
        "n_censored": int(len(time) - status.sum()),
        "median_days": float(median) if median is not None else np.nan,
        "median_ci_low": float(ci_low) if ci_low is not None else np.nan,
        "median_ci_high": float(ci_high) if ci_high is not None else np.nan,
    }


def summarise_km(
    data: pd.DataFrame,
    duration: str = "duration_days",
    observed: str = "observed",
    group: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Median survival time (with CI) and counts per group.

    The median follows statsmodels' (SAS's) convention: the first time at which the curve
    falls strictly *below* 0.5. It is NaN when the curve never does (at least half of the
    blocks still in place), and a CI end is NaN when the data cannot bound it: both are
    information, not errors.

    Args:
        data: One row per block.
        duration: Column of durations in days.
        observed: Event flag column.
        group: Optional grouping column.
        alpha: 1 - confidence level of the median's CI (statsmodels ``cloglog`` method).

    Returns:
        ``group, n, n_events, n_censored, median_days, median_ci_low, median_ci_high``.
    """
    complete = _complete_cases(data, [duration, observed])
    labels = _group_labels(complete, group)
    rows = [
        _median_row(
            label,
            complete.loc[labels == label, duration].to_numpy(float),
            complete.loc[labels == label, observed].astype(bool).to_numpy(int),
            alpha,
        )
        for label in sorted(labels.unique())
    ]
    return pd.DataFrame(rows)


def estimate_survival_at(
    data: pd.DataFrame,
    times: Sequence[float],
    duration: str = "duration_days",
    observed: str = "observed",
    group: str | None = None,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Share of blocks still in place at given times (KM value with its CI), per group.

    Useful when the median is not reached: "x % of blocks were still in place after a
    year" is defined whatever the censoring.

    Args:
        data: One row per block.
        times: Days since block start at which to read the curve.
        duration: Column of durations in days.
        observed: Event flag column.
        group: Optional grouping column.
        alpha: 1 - confidence level.

    Returns:
        ``group, time, n_at_risk, survival, ci_low, ci_high``; survival is NaN after the
        group's last observed time.
    """
    curves = estimate_km(data, duration, observed, group, alpha)
    complete = _complete_cases(data, [duration, observed])
    labels = _group_labels(complete, group)
    rows = []
    for label, curve in curves.groupby("group", sort=True):
        last_time = complete.loc[labels == label, duration].max()
        for time in times:
            step = curve.loc[curve["time"] <= time].iloc[-1]
            at_risk = int((complete.loc[labels == label, duration] >= time).sum())
            beyond = time > last_time
            rows.append(
                {
                    "group": label,
                    "time": float(time),
                    "n_at_risk": at_risk,
                    "survival": np.nan if beyond else step["survival"],
                    "ci_low": np.nan if beyond else step["ci_low"],
                    "ci_high": np.nan if beyond else step["ci_high"],
                }
            )
    return pd.DataFrame(rows)


def run_logrank_test(
    data: pd.DataFrame,
    duration: str = "duration_days",
    observed: str = "observed",
    group: str = "has_diplomatic_contact",
) -> pd.DataFrame:
    """Log-rank test that the survival curves of the groups are equal.

    Args:
        data: One row per block.
        duration: Column of durations in days.
        observed: Event flag column.
        group: Column defining the groups (two or more levels).

    Returns:
        One row: ``group_column, n_groups, n, n_events, chi2, df, p_value``.
    """
    complete = _complete_cases(data, [duration, observed, group])
    labels = complete[group].astype(str).to_numpy()
    chi2, p_value = survdiff(
        complete[duration].to_numpy(float),
        complete[observed].astype(bool).to_numpy(int),
        labels,
    )
    n_groups = len(np.unique(labels))
    return pd.DataFrame(
        {
            "group_column": [group],
            "n_groups": [n_groups],
            "n": [len(complete)],
            "n_events": [int(complete[observed].astype(bool).sum())],
            "chi2": [float(chi2)],
            "df": [n_groups - 1],
            "p_value": [float(p_value)],
        }
    )


def encode_covariates(
    data: pd.DataFrame, covariates: Sequence[str], reference_levels: dict | None = None
) -> pd.DataFrame:
    """Turn covariate columns into a numeric design matrix (no intercept: Cox has none).

    Booleans become 0/1; text or categorical columns become one indicator per level except
    the reference level (given in ``reference_levels``, else the most frequent level, ties
    broken alphabetically), named ``<column>[<level>]``.

    Args:
        data: One row per block.
        covariates: Columns to encode.
        reference_levels: Optional ``{column: level}`` to choose the baseline explicitly.

    Returns:
        A float frame with the same index as ``data``.
    """
    reference_levels = reference_levels or {}
    parts = []
    for column in covariates:
        values = data[column]
        if pd.api.types.is_bool_dtype(values) or str(values.dtype) == "boolean":
            parts.append(values.astype(float).rename(column).to_frame())
        elif pd.api.types.is_numeric_dtype(values):
            parts.append(values.astype(float).rename(column).to_frame())
        else:
            text = values.astype("string")
            counts = text.value_counts()
            default_reference = sorted(counts.index, key=lambda level: (-counts[level], level))[0]
            reference = reference_levels.get(column, default_reference)
            levels = sorted(level for level in counts.index if level != reference)
            parts.append(
                pd.DataFrame(
                    {f"{column}[{level}]": (text == level).astype(float) for level in levels},
                    index=data.index,
                ).where(text.notna())
            )
    return pd.concat(parts, axis=1)


def _cox_inputs(
    data: pd.DataFrame,
    covariates: Sequence[str],
    duration: str,
    observed: str,
    reference_levels: dict | None,
    cluster: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Complete cases, the design matrix (constant columns dropped) and the 0/1 status."""
    complete = _complete_cases(
        data, [duration, observed, *covariates, *([cluster] if cluster else [])]
    )
    design = encode_covariates(complete, covariates, reference_levels)
    design = design.loc[:, design.std(ddof=0) > 0]
    return complete, design, complete[observed].astype(bool).to_numpy(int)


def fit_cox(
    data: pd.DataFrame,
    covariates: Sequence[str],
    duration: str = "duration_days",
    observed: str = "observed",
    reference_levels: dict | None = None,
    ties: str = "breslow",
    alpha: float = DEFAULT_ALPHA,
    cluster: str | None = None,
) -> pd.DataFrame:
    """Fit a Cox proportional-hazards model and return one tidy row per coefficient.

    The "hazard" here is the hazard of a block being *lifted*: a hazard ratio above 1 means
    shorter blocks.

    Args:
        data: One row per block; rows missing any covariate, duration or flag are dropped
            (logged).
        covariates: Columns to include; see :func:`encode_covariates`.
        duration: Column of durations in days.
        observed: Event flag column.
        reference_levels: Baselines for text covariates.
        ties: Handling of tied times, ``"breslow"`` (default) or ``"efron"``.
        alpha: 1 - confidence level.
        cluster: Optional column of cluster labels (e.g. ``raw_event_id``: one source row
            that named several services is one decision, not several independent ones);
            when given, standard errors are cluster-robust (statsmodels' sandwich).

    Returns:
        ``term, coef, se, hazard_ratio, hr_ci_low, hr_ci_high, p_value, n, n_events,
        events_per_parameter``. A warning is logged when events per parameter fall below
        ``MIN_EVENTS_PER_PARAMETER``.
    """
    complete, design, status = _cox_inputs(
        data, covariates, duration, observed, reference_levels, cluster
    )
    n_events = int(status.sum())
    events_per_parameter = n_events / max(design.shape[1], 1)
    if events_per_parameter < MIN_EVENTS_PER_PARAMETER:
        logger.warning(
            "Cox model has %.1f events per parameter (< %d): estimates are unstable",
            events_per_parameter,
            MIN_EVENTS_PER_PARAMETER,
        )
    model = PHReg(complete[duration].to_numpy(float), design.to_numpy(), status=status, ties=ties)
    groups = None if cluster is None else complete[cluster].astype(str).to_numpy()
    result = model.fit(groups=groups)
    ci = np.asarray(result.conf_int(alpha=alpha))
    coef = np.asarray(result.params)
    return pd.DataFrame(
        {
            "term": list(design.columns),
            "coef": coef,
            "se": np.asarray(result.bse),
            "hazard_ratio": np.exp(coef),
            "hr_ci_low": np.exp(ci[:, 0]),
            "hr_ci_high": np.exp(ci[:, 1]),
            "p_value": np.asarray(result.pvalues),
            "n": len(complete),
            "n_events": n_events,
            "events_per_parameter": events_per_parameter,
        }
    )


def _stack_over_bounds(function, data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    frames = [
        function(data, duration=column, **kwargs).assign(duration_bound=bound)
        for bound, column in DURATION_BOUNDS.items()
    ]
    stacked = pd.concat(frames, ignore_index=True)
    return stacked.loc[:, ["duration_bound", *[c for c in stacked if c != "duration_bound"]]]


def summarise_km_across_bounds(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Run :func:`summarise_km` on the point durations and both precision bounds.

    Args:
        data: Output of ``compute_block_durations`` (plus any grouping column).
        **kwargs: Passed to :func:`summarise_km` (``group``, ``observed``, ``alpha``).

    Returns:
        The stacked summaries with a leading ``duration_bound`` column (point, low, high).
    """
    return _stack_over_bounds(summarise_km, data, **kwargs)


def fit_cox_across_bounds(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Run :func:`fit_cox` on the point durations and both precision bounds.

    Args:
        data: Output of ``compute_block_durations`` plus covariates.
        **kwargs: Passed to :func:`fit_cox` (``covariates`` is required).

    Returns:
        The stacked coefficient tables with a leading ``duration_bound`` column.
    """
    return _stack_over_bounds(fit_cox, data, **kwargs)


def run_logrank_across_bounds(data: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Run :func:`run_logrank_test` on the point durations and both precision bounds.

    Args:
        data: Output of ``compute_block_durations`` plus the grouping column.
        **kwargs: Passed to :func:`run_logrank_test`.

    Returns:
        The stacked test rows with a leading ``duration_bound`` column.
    """
    return _stack_over_bounds(run_logrank_test, data, **kwargs)


PH_TIME_TRANSFORMS = ("identity", "log", "rank")


def _transform_time(time: np.ndarray, transform: str) -> np.ndarray:
    if transform == "identity":
        return time
    if transform == "log":
        return np.log1p(time)  # log(1 + t): defined for blocks lifted on day 0
    if transform == "rank":
        return stats.rankdata(time)
    raise ValueError(f"transform must be one of {PH_TIME_TRANSFORMS}, got {transform!r}")


def check_proportional_hazards(
    data: pd.DataFrame,
    covariates: Sequence[str],
    duration: str = "duration_days",
    observed: str = "observed",
    reference_levels: dict | None = None,
    ties: str = "breslow",
    transforms: Sequence[str] = PH_TIME_TRANSFORMS,
) -> pd.DataFrame:
    """Test proportional hazards: Schoenfeld residuals against functions of time.

    Under proportional hazards a covariate's Schoenfeld residuals (one per event) have no
    trend in time. For each covariate and time transform (``identity``: days; ``log``:
    log(1 + days); ``rank``: rank of the event time), this returns the Pearson correlation
    between the residuals and the transformed event time and its p-value (t test with
    n_events - 2 df). A small p means the hazard ratio changes with time. For one covariate
    this correlation equals that of the scaled residuals of Grambsch and Therneau (1994);
    with several, it is the simpler unscaled version.

    Args:
        data: One row per block.
        covariates: As in :func:`fit_cox`.
        duration: Column of durations in days.
        observed: Event flag column.
        reference_levels: Baselines for text covariates.
        ties: ``"breslow"`` or ``"efron"``.
        transforms: Which time transforms to test.

    Returns:
        ``term, transform, rho, p_value, n_events`` (one row per term and transform).
    """
    complete, design, status = _cox_inputs(data, covariates, duration, observed, reference_levels)
    time = complete[duration].to_numpy(float)
    model = PHReg(time, design.to_numpy(), status=status, ties=ties)
    residuals = np.asarray(model.fit().schoenfeld_residuals)
    is_event = status == 1
    rows = []
    for j, term in enumerate(design.columns):
        for transform in transforms:
            x = _transform_time(time[is_event], transform)
            y = residuals[is_event, j]
            rho, p_value = stats.pearsonr(x, y)
            rows.append(
                {
                    "term": term,
                    "transform": transform,
                    "rho": float(rho),
                    "p_value": float(p_value),
                    "n_events": int(is_event.sum()),
                }
            )
    return pd.DataFrame(rows)


def summarise_end_status_sensitivity(
    blocks: pd.DataFrame,
    covariate: str | None = None,
    times: Sequence[float] = (7, 365),
    scenarios: Sequence[str] = CENSORING_SCENARIOS,
    as_of: object | None = None,
    duration: str = "duration_days",
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """KM median, S(t) and (optionally) a one-covariate Cox HR per censoring scenario.

    Args:
        blocks: Implemented rows of ``block_events`` (with ``end_status`` and
            ``last_confirmed_date``), plus the covariate column when one is given.
        covariate: Fixed covariate of a one-term Cox model, or None for KM numbers only.
        times: Days at which to read the overall KM curve (columns ``survival_<t>``).
        scenarios: Scenarios of ``compute_block_durations``, in output order.
            ``as_of_contrast`` is skipped (logged) when ``as_of`` is None.
        as_of: The date of the ``as_of_contrast`` reading.
        duration: Duration column (point or a bound).
        alpha: 1 - confidence level.

    Returns:
        One row per scenario: ``scenario, n, n_in_force, n_unknown, n_events, n_censored,
        median_days, median_ci_low, median_ci_high``, ``survival_<t>`` with
        ``survival_<t>_ci_low``/``_ci_high`` per time, then (with a covariate)
        ``hazard_ratio, hr_ci_low, hr_ci_high, p_value``.
    """
    rows = []
    for scenario in scenarios:
        if scenario == SCENARIO_AS_OF_CONTRAST and as_of is None:
            logger.info("Scenario %s skipped: no as_of given", scenario)
            continue
        scenario_as_of = as_of if scenario == SCENARIO_AS_OF_CONTRAST else None
        scenario_data = compute_block_durations(blocks, scenario, as_of=scenario_as_of)
        status = (
            scenario_data["end_status"]
            if "end_status" in scenario_data
            else pd.Series(pd.NA, index=scenario_data.index)
        )
        row = {
            "scenario": scenario,
            "n_in_force": int(status.eq(END_STATUS_IN_FORCE).sum()),
            "n_unknown": int(status.eq(END_STATUS_UNKNOWN).sum()),
        }
        km = summarise_km(scenario_data, duration=duration, alpha=alpha).iloc[0]
        row.update(km.drop("group").to_dict())
        at = estimate_survival_at(scenario_data, times, duration=duration, alpha=alpha)
        for _, step in at.iterrows():
            label = f"survival_{step['time']:g}"
            row.update(
                {
                    label: step["survival"],
                    f"{label}_ci_low": step["ci_low"],
                    f"{label}_ci_high": step["ci_high"],
                }
            )
        if covariate is not None:
            cox = fit_cox(scenario_data, [covariate], duration=duration, alpha=alpha).iloc[0]
            row.update(cox[["hazard_ratio", "hr_ci_low", "hr_ci_high", "p_value"]].to_dict())
        rows.append(row)
    out = pd.DataFrame(rows)
    first = ["scenario", "n", "n_in_force", "n_unknown", "n_events", "n_censored"]
    return out.loc[:, [*first, *[column for column in out if column not in first]]]
