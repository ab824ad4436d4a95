"""Does contact shorten blocks? Stratified time-varying Cox models with honest inference.

The main model (pre-registered in ``docs/design.md``) is a Cox proportional-hazards model of the
hazard of a unit being **lifted**, on the start-stop rows of
:func:`censorlab.analysis.intervals.build_contact_intervals`, with one time-varying 0/1 covariate
(contact) and a baseline hazard of its own for each **blocking country**
(``PHReg(..., strata=blocking_country, ties="efron")``): units are compared only with units
blocked by the same government at the same time since their start, so a country that both
talks a lot and blocks for long cannot masquerade as an effect of talking. Efron's method
handles lifts on the same day. There is deliberately one covariate: with this few exposed
lifts an adjusted model cannot be estimated, and stratification does the adjusting.

Inference, all in one tidy row per model (:func:`fit_contact_cox`, ``RESULT_COLUMNS``):

* **Wald** HR, CI and p, as statsmodels reports them: the usual numbers, poor with few events.
* **Likelihood-ratio test** against beta = 0 *in the same strata* (the null model's partial
  likelihood is the model's at 0).
* **Profile-likelihood CI**: the betas whose LR statistic against the estimate stays below the
  chi-square(1) quantile; unbounded ends are reported as 0 or infinity, not guessed.
* **Firth-penalised estimate** (Heinze and Schemper 2002: log partial likelihood plus half the
  log of the information) with its penalised profile CI: finite even under separation.
  ``few_exposed_events`` flags fewer than ``MIN_EXPOSED_EVENTS`` exposed lifts and
  ``separation`` a monotone likelihood (every lift's covariate is the largest, or every one the
  smallest, in its risk set, so the MLE is infinite); read Firth and the profile CI then.
* **Permutation (placebo-calendar) test** (:func:`run_permutation_test`): each dyad's contacts
  are shifted circularly inside that dyad's covered days
  (:func:`censorlab.analysis.contact_calendar.draw_placebo_calendar`), the covariate is rebuilt
  with the *same* window, ordering and coverage, and the statistic recomputed; p is
  ``(1 + #placebo >= observed) / (1 + B)``. The statistic is the **score** (Rao) statistic at
  beta = 0 by default: it needs no fitting, is defined even under separation, and is the
  locally most powerful test; ``statistic="lr"`` uses the LR statistic instead. Seeded; B is
  the caller's.

When no lift of any stratum has both contact values in its risk set the HR is **not
estimable** (``separation == "no variation"``): :func:`summarise_contact_strata` shows, per
stratum, the exposed and unexposed time and lifts that make it so, and
:func:`format_contact_result` words every result row in one line ("not estimable" included) so
notebooks and their tests print the same sentence.

Robustness and contrasts: :func:`estimate_landmark_effect` (contact in days 0-30 among units
still blocked at day 30, outcome after it), :func:`bootstrap_contact_cox` (cluster bootstrap by
decision, for the service-level sensitivity run) and :func:`fit_naive_contact_cox` (today's
pooled Cox with a baseline flag from a window after the start: **a labelled contrast only**; it
uses the future and the block-linked calendar, see issue #9).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, stats
from statsmodels.duration.hazard_regression import PHReg

from censorlab.analysis.contact_calendar import (
    MAIN_COMPILED_BY,
    MAIN_CONTACT_LEVELS,
    contact_days_by_dyad,
    prepare_placebo_calendar,
    resolve_required_levels,
    select_calendar_contacts,
)
from censorlab.analysis.covariates import DEFAULT_CONTACT_WINDOW_DAYS, flag_diplomatic_contact
from censorlab.analysis.intervals import (
    DEFAULT_LANDMARK_DAY,
    HALF_DAY,
    INTERVAL_COLUMNS,
    MAIN_SAME_DAY_ORDER,
    MAIN_WINDOW_DAYS,
    _at_risk_from_spans,
    _check_options,
    _landmark_rows,
    _prepare_spans,
    _relative_spans,
    _split_with_contact_days,
    build_contact_intervals,
    build_landmark_data,
)

logger = logging.getLogger(__name__)

DEFAULT_ALPHA = 0.05
DEFAULT_STRATA = "blocking_country"
DEFAULT_TIES = "efron"
DEFAULT_PERMUTATIONS = 999
DEFAULT_BOOTSTRAPS = 499
DEFAULT_SEED = 20170511
MIN_EXPOSED_EVENTS = 5
#: statsmodels refuses negative entry times; shifting every time by one day keeps risk sets.
TIME_SHIFT_DAYS = 1.0
#: |beta| searched for profile and Firth bounds: HR from 3e-7 to 3e6, far beyond any data here.
BETA_LIMIT = 15.0
STATISTICS = ("score", "lr")
SEPARATION_POSITIVE = "positive"
SEPARATION_NEGATIVE = "negative"
NOT_ESTIMABLE = "no variation"
RESULT_COLUMNS = [
    "model",
    "n_units",
    "n_decisions",
    "n_exposed_units",
    "n_events",
    "n_exposed_events",
    "n_strata_with_events",
    "strata",
    "coef",
    "se",
    "hazard_ratio",
    "wald_ci_low",
    "wald_ci_high",
    "wald_p",
    "lr_statistic",
    "lr_p",
    "profile_ci_low",
    "profile_ci_high",
    "firth_hazard_ratio",
    "firth_ci_low",
    "firth_ci_high",
    "few_exposed_events",
    "separation",
    "ties",
]


def _phreg(intervals: pd.DataFrame, strata: str | None, ties: str) -> PHReg:
    return PHReg(
        intervals["stop_day"].to_numpy(float) + TIME_SHIFT_DAYS,
        intervals[["contact"]].astype(float).to_numpy(),
        status=intervals["event"].astype(int).to_numpy(),
        entry=intervals["entry_day"].to_numpy(float) + TIME_SHIFT_DAYS,
        strata=None if strata is None else intervals[strata].astype(str).to_numpy(),
        ties=ties,
    )


@dataclass(frozen=True)
class RiskSetCounts:
    """Risk-set counts at each distinct (stratum, lift time): all a binary covariate's Cox needs.

    With one 0/1 covariate the partial likelihood depends on the data only through, at each
    lift time of each stratum, the numbers at risk without and with contact (``n0``, ``n1``,
    risk set ``entry < t <= stop``) and the numbers of lifts without and with contact (``d0``,
    ``d1``). Evaluating it from these counts is exact (tests check it against statsmodels'
    ``PHReg.loglike``) and fast enough for thousands of permutation and bootstrap refits.
    """

    n0: np.ndarray
    n1: np.ndarray
    d0: np.ndarray
    d1: np.ndarray


def count_risk_sets(intervals: pd.DataFrame, strata: str | None = DEFAULT_STRATA) -> RiskSetCounts:
    """Count, per stratum and lift time, who is at risk and who lifts, by contact status.

    Args:
        intervals: ``INTERVAL_COLUMNS`` rows.
        strata: Stratum column, or None.

    Returns:
        A :class:`RiskSetCounts` (one entry per distinct lift time of each stratum).
    """
    labels = (
        np.zeros(len(intervals), dtype=int)
        if strata is None
        else pd.factorize(intervals[strata].astype(str))[0]
    )
    entry = intervals["entry_day"].to_numpy(float)
    stop = intervals["stop_day"].to_numpy(float)
    event = intervals["event"].to_numpy(bool)
    contact = intervals["contact"].to_numpy(bool)
    parts = {"n0": [], "n1": [], "d0": [], "d1": []}
    for label in np.unique(labels[event]):
        in_stratum = labels == label
        times = np.unique(stop[in_stratum & event])
        for x, n_key, d_key in ((False, "n0", "d0"), (True, "n1", "d1")):
            rows = in_stratum & (contact == x)
            entries, stops = np.sort(entry[rows]), np.sort(stop[rows])
            at_risk = np.searchsorted(entries, times, "left") - np.searchsorted(
                stops, times, "left"
            )
            lifts = np.searchsorted(np.sort(stop[rows & event]), times, "right") - np.searchsorted(
                np.sort(stop[rows & event]), times, "left"
            )
            parts[n_key].append(at_risk)
            parts[d_key].append(lifts)
    arrays = {key: np.concatenate(value) if value else np.zeros(0) for key, value in parts.items()}
    return RiskSetCounts(**{key: value.astype(float) for key, value in arrays.items()})


def _tie_terms(counts: RiskSetCounts, ties: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per denominator term: a (unexposed weight), b (exposed weight), multiplicity."""
    d = (counts.d0 + counts.d1).astype(int)
    if ties == "breslow":
        return counts.n0, counts.n1, d.astype(float)
    time_index = np.repeat(np.arange(len(d)), d)
    k = np.arange(d.sum()) - np.repeat(np.cumsum(d) - d, d)
    share = k / np.repeat(d, d)
    a = counts.n0[time_index] - share * counts.d0[time_index]
    b = counts.n1[time_index] - share * counts.d1[time_index]
    return a, b, np.ones_like(a)


def efron_loglike(
    counts: RiskSetCounts, beta: float, ties: str = DEFAULT_TIES
) -> tuple[float, float, float]:
    """Log partial likelihood, score and information of beta, from risk-set counts.

    ``l(b) = sum_t [b d1 - sum_k log(a_k + b_k e^b)]`` with Efron's ``a_k = n0 - k/d d0``,
    ``b_k = n1 - k/d d1`` (``k = 0..d-1``), or Breslow's single term of weight ``d``.

    Args:
        counts: Output of :func:`count_risk_sets`.
        beta: The log hazard ratio.
        ties: ``"efron"`` or ``"breslow"``.

    Returns:
        ``(loglike, score, information)``.
    """
    a, b, weight = _tie_terms(counts, ties)
    exposed = b * np.exp(beta)
    denominator = a + exposed
    loglike = beta * counts.d1.sum() - np.sum(weight * np.log(denominator))
    score = counts.d1.sum() - np.sum(weight * exposed / denominator)
    information = np.sum(weight * a * exposed / denominator**2)
    return float(loglike), float(score), float(information)


def check_separation(intervals: pd.DataFrame, strata: str | None = DEFAULT_STRATA) -> str | None:
    """Detect a monotone partial likelihood of the binary contact covariate (an infinite MLE).

    If every lift has the largest covariate value of its risk set (no unexposed lift where
    someone at risk is exposed), the likelihood rises for ever with beta (``"positive"``); if
    every lift has the smallest, it rises as beta falls (``"negative"``); if no risk set holds
    both values, contact carries no information (``"no variation"``).

    Args:
        intervals: Start-stop rows (``INTERVAL_COLUMNS``).
        strata: Stratum column, or None.

    Returns:
        ``"positive"``, ``"negative"``, ``"no variation"`` or None (a finite MLE exists).
    """
    return _separation(count_risk_sets(intervals, strata))


def _separation(counts: RiskSetCounts) -> str | None:
    varies = (counts.n0 > 0) & (counts.n1 > 0)
    if not varies.any():
        return NOT_ESTIMABLE
    if np.all((counts.d0 == 0) | (counts.n1 == 0)):
        return SEPARATION_POSITIVE
    if np.all((counts.d1 == 0) | (counts.n0 == 0)):
        return SEPARATION_NEGATIVE
    return None


def _maximise(counts: RiskSetCounts, ties: str) -> float:
    """The MLE of beta from the counts (the score is decreasing: Cox's likelihood is concave)."""
    return optimize.brentq(
        lambda b: efron_loglike(counts, b, ties)[1], -BETA_LIMIT, BETA_LIMIT, xtol=1e-12
    )


def _penalised(counts: RiskSetCounts, beta: float, ties: str) -> float:
    loglike, _, information = efron_loglike(counts, beta, ties)
    return loglike + 0.5 * np.log(max(information, 1e-300))


def _profile_bounds(
    function: Callable[[float], float], centre: float, peak: float, critical: float
) -> tuple[float, float]:
    """Betas on each side of ``centre`` where ``2 * (peak - function) = critical`` (inf if none)."""

    def excess(beta: float) -> float:
        return 2 * (peak - function(beta)) - critical

    bounds = []
    for limit in (-BETA_LIMIT, BETA_LIMIT):
        if not np.isfinite(centre) or excess(limit) < 0:
            bounds.append(np.sign(limit) * np.inf)
            continue
        bounds.append(optimize.brentq(excess, *sorted((centre, limit)), xtol=1e-10))
    return bounds[0], bounds[1]


def _count_exposure(intervals: pd.DataFrame, strata: str | None) -> dict:
    event = intervals["event"].astype(bool)
    contact = intervals["contact"].astype(bool)
    with_events = (
        [] if strata is None else sorted(intervals.loc[event, strata].astype(str).unique())
    )
    return {
        "n_units": int(intervals["unit_id"].nunique()),
        "n_decisions": int(intervals["decision_id"].nunique()),
        "n_exposed_units": int(intervals.loc[contact, "unit_id"].nunique()),
        "n_events": int(event.sum()),
        "n_exposed_events": int((event & contact).sum()),
        "n_strata_with_events": len(with_events) if strata is not None else 1,
        "strata": ";".join(with_events) if strata is not None else "pooled",
    }


def fit_contact_cox(
    intervals: pd.DataFrame,
    strata: str | None = DEFAULT_STRATA,
    ties: str = DEFAULT_TIES,
    alpha: float = DEFAULT_ALPHA,
    model: str = "main",
) -> pd.DataFrame:
    """Fit the one-covariate (contact) Cox model on start-stop rows; Wald, LR, profile, Firth.

    Args:
        intervals: ``INTERVAL_COLUMNS`` rows (``build_contact_intervals``,
            ``build_landmark_data`` or any frame of that shape).
        strata: Stratum column (main: ``blocking_country``), or None for a pooled model.
        ties: ``"efron"`` (main) or ``"breslow"``.
        alpha: 1 - confidence level of every interval.
        model: Label written in the ``model`` column.

    Returns:
        One row with ``RESULT_COLUMNS`` (module docstring). Hazard ratios above 1 mean shorter
        blocks. Estimates are missing when no lift has contact variation in its risk set.
    """
    counts = _count_exposure(intervals, strata)
    row = dict.fromkeys(RESULT_COLUMNS, np.nan)
    separation = check_separation(intervals, strata)
    row.update(
        counts,
        model=model,
        ties=ties,
        separation=separation or "none",
        few_exposed_events=counts["n_exposed_events"] < MIN_EXPOSED_EVENTS,
    )
    if counts["n_exposed_events"] < MIN_EXPOSED_EVENTS:
        logger.warning(
            "%s: %d exposed lift(s) (< %d): read the profile and Firth intervals",
            model,
            counts["n_exposed_events"],
            MIN_EXPOSED_EVENTS,
        )
    if separation == NOT_ESTIMABLE:
        # No risk set at a lift holds both contact values, so every term of the partial
        # likelihood is free of beta: the LR statistic of beta = 0 is exactly 0 (p = 1). It is
        # reported because a reader asks for it; it means "no information", not "no effect".
        row.update(lr_statistic=0.0, lr_p=1.0)
        return pd.DataFrame([row], columns=RESULT_COLUMNS)
    counts = count_risk_sets(intervals, strata)
    critical = stats.chi2.ppf(1 - alpha, df=1)
    null_loglike = efron_loglike(counts, 0.0, ties)[0]
    if separation is None:
        fitted = _phreg(intervals, strata, ties).fit()
        coef, se = float(fitted.params[0]), float(fitted.bse[0])
        z = stats.norm.ppf(1 - alpha / 2)
        row.update(
            coef=coef,
            se=se,
            hazard_ratio=np.exp(coef),
            wald_ci_low=np.exp(coef - z * se),
            wald_ci_high=np.exp(coef + z * se),
            wald_p=float(2 * stats.norm.sf(abs(coef / se))),
        )
    else:
        coef = BETA_LIMIT if separation == SEPARATION_POSITIVE else -BETA_LIMIT
        row.update(coef=np.sign(coef) * np.inf, hazard_ratio=np.exp(np.sign(coef) * np.inf))
    peak = efron_loglike(counts, coef, ties)[0]  # under separation: the supremum, to exp(-15)
    lr_statistic = max(2 * (peak - null_loglike), 0.0)
    low, high = _profile_bounds(lambda b: efron_loglike(counts, b, ties)[0], coef, peak, critical)
    if separation is not None:
        low, high = (low, np.inf) if coef > 0 else (-np.inf, high)
    firth = optimize.minimize_scalar(
        lambda b: -_penalised(counts, b, ties),
        bounds=(-BETA_LIMIT, BETA_LIMIT),
        method="bounded",
        options={"xatol": 1e-10},
    )
    firth_low, firth_high = _profile_bounds(
        lambda b: _penalised(counts, b, ties), float(firth.x), -float(firth.fun), critical
    )
    row.update(
        lr_statistic=lr_statistic,
        lr_p=float(stats.chi2.sf(lr_statistic, df=1)),
        profile_ci_low=np.exp(low),
        profile_ci_high=np.exp(high),
        firth_hazard_ratio=float(np.exp(firth.x)),
        firth_ci_low=np.exp(firth_low),
        firth_ci_high=np.exp(firth_high),
    )
    return pd.DataFrame([row], columns=RESULT_COLUMNS)


def compute_score_statistic(
    intervals: pd.DataFrame, strata: str | None = DEFAULT_STRATA, ties: str = DEFAULT_TIES
) -> float:
    """Score (Rao) statistic of beta = 0: U(0)^2 / I(0); 0 when contact never varies in a risk set.

    Args:
        intervals: ``INTERVAL_COLUMNS`` rows.
        strata: Stratum column or None.
        ties: ``"efron"`` or ``"breslow"``.

    Returns:
        The statistic (chi-square with 1 df under the null, asymptotically).
    """
    counts = count_risk_sets(intervals, strata)
    _, score, information = efron_loglike(counts, 0.0, ties)
    return score**2 / information if information > 1e-12 else 0.0


def _lr_statistic(intervals: pd.DataFrame, strata: str | None, ties: str) -> float:
    counts = count_risk_sets(intervals, strata)
    separation = _separation(counts)
    if separation == NOT_ESTIMABLE:
        return 0.0
    if separation is None:
        beta = _maximise(counts, ties)
    else:
        beta = BETA_LIMIT if separation == SEPARATION_POSITIVE else -BETA_LIMIT
    return max(2 * (efron_loglike(counts, beta, ties)[0] - efron_loglike(counts, 0.0, ties)[0]), 0)


def _statistic_function(statistic: str, strata: str | None, ties: str):
    if statistic not in STATISTICS:
        raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
    if statistic == "score":
        return lambda data: compute_score_statistic(data, strata, ties)
    return lambda data: _lr_statistic(data, strata, ties)


def _placebo_p_value(
    build: Callable[[dict[str, np.ndarray]], pd.DataFrame],
    contacts: pd.DataFrame,
    spans: pd.DataFrame,
    statistic: Callable[[pd.DataFrame], float],
    n_permutations: int,
    seed: int,
) -> dict:
    observed = statistic(build(contact_days_by_dyad(contacts)))
    calendar = prepare_placebo_calendar(contacts, spans)
    rng = np.random.default_rng(seed)
    placebo = np.array([statistic(build(calendar.draw_days(rng))) for _ in range(n_permutations)])
    tolerance = 1e-9 * max(1.0, abs(observed))
    return {
        "observed_statistic": observed,
        "permutation_p": (1 + int(np.sum(placebo >= observed - tolerance))) / (1 + n_permutations),
        "placebo_mean_statistic": float(placebo.mean()) if n_permutations else np.nan,
        "n_permutations": n_permutations,
        "seed": seed,
    }


def run_permutation_test(
    units: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    coverage: pd.DataFrame,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
    window_days: int | None = MAIN_WINDOW_DAYS,
    same_day: str = MAIN_SAME_DAY_ORDER,
    strata: str | None = DEFAULT_STRATA,
    ties: str = DEFAULT_TIES,
    statistic: str = "score",
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    landmark_day: int | None = None,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Placebo-calendar permutation test of contact (scheme: module docstring).

    Args:
        units: Output of ``build_analysis_units``.
        diplomatic_events: ``diplomatic_events`` rows or a GDELT calendar.
        coverage: ``diplomatic_coverage`` or a span frame.
        contact_levels: As in ``build_contact_intervals``.
        compiled_by: As in ``build_contact_intervals``.
        window_days: As in ``build_contact_intervals`` (the placebo uses the same window).
        same_day: As in ``build_contact_intervals``.
        strata: Stratum column of the model, or None.
        ties: ``"efron"`` or ``"breslow"``.
        statistic: ``"score"`` (default) or ``"lr"``.
        n_permutations: Number of placebo calendars B.
        seed: Seed of the generator.
        landmark_day: None for the time-varying model; L for the landmark design.
        required_complete_levels: As in ``build_contact_intervals`` (placebo contacts move
            inside the same covered days).

    Returns:
        One row: ``statistic, observed_statistic, permutation_p, placebo_mean_statistic,
        n_permutations, seed``.
    """
    _check_options(window_days, same_day)
    spans = _prepare_spans(units, coverage, contact_levels, required_complete_levels)
    in_dyads = set(units["dyad"].dropna())
    contacts = select_calendar_contacts(diplomatic_events, contact_levels, compiled_by)
    contacts = contacts.loc[contacts["dyad"].isin(in_dyads)].reset_index(drop=True)
    if landmark_day is None:
        at_risk = _at_risk_from_spans(_relative_spans(units, spans), window_days)

        def build(days: dict[str, np.ndarray]) -> pd.DataFrame:
            return _split_with_contact_days(at_risk, units, days, window_days, same_day)
    else:

        def build(days: dict[str, np.ndarray]) -> pd.DataFrame:
            return _landmark_rows(units, spans, days, landmark_day)

    result = _placebo_p_value(
        build, contacts, spans, _statistic_function(statistic, strata, ties), n_permutations, seed
    )
    return pd.DataFrame([{"statistic": statistic, **result}])


def _describe_design(
    units: pd.DataFrame,
    contact_levels,
    compiled_by,
    window_days,
    same_day,
    strata,
    required_complete_levels=None,
) -> dict:
    required = resolve_required_levels(contact_levels, required_complete_levels)
    return {
        "unit_level": ";".join(sorted(units["level"].astype(str).unique())),
        "contact_levels": ";".join(contact_levels),
        "complete_levels": ";".join(required),
        "compiled_by": ";".join(compiled_by),
        "window": "since start" if window_days is None else f"last {window_days} days",
        "same_day": same_day,
        "strata_column": strata or "none",
    }


def estimate_contact_effect(
    units: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    coverage: pd.DataFrame,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
    window_days: int | None = MAIN_WINDOW_DAYS,
    same_day: str = MAIN_SAME_DAY_ORDER,
    strata: str | None = DEFAULT_STRATA,
    ties: str = DEFAULT_TIES,
    alpha: float = DEFAULT_ALPHA,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    statistic: str = "score",
    model: str = "main",
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The whole time-varying analysis in one call: intervals, Cox fit, permutation test.

    Args:
        units: Output of ``build_analysis_units`` (decision level for the main model).
        diplomatic_events: ``diplomatic_events`` rows or a GDELT calendar.
        coverage: ``diplomatic_coverage`` or a span frame.
        contact_levels: Declared contact levels.
        compiled_by: Declared ``compiled_by`` values.
        window_days: None (since start) or N (last N days).
        same_day: Same-day ordering of contact and lift.
        strata: Stratum column or None.
        ties: Tie handling.
        alpha: 1 - confidence level.
        n_permutations: Placebo calendars (0 skips the test).
        seed: Seed of the permutation test.
        statistic: Permutation statistic, ``"score"`` or ``"lr"``.
        model: Label.
        required_complete_levels: As in ``build_contact_intervals`` (``None``: every counted
            level must be complete).

    Returns:
        One row: the design (``unit_level, contact_levels, complete_levels, compiled_by,
        window, same_day, strata_column``), ``RESULT_COLUMNS`` and the permutation columns.
    """
    intervals = build_contact_intervals(
        units,
        diplomatic_events,
        coverage,
        contact_levels,
        compiled_by,
        window_days,
        same_day,
        required_complete_levels,
    )
    fit = fit_contact_cox(intervals, strata, ties, alpha, model)
    design = _describe_design(
        units,
        contact_levels,
        compiled_by,
        window_days,
        same_day,
        strata,
        required_complete_levels,
    )
    permutation = _permutation_or_skip(
        n_permutations,
        statistic,
        seed,
        units=units,
        diplomatic_events=diplomatic_events,
        coverage=coverage,
        contact_levels=contact_levels,
        compiled_by=compiled_by,
        window_days=window_days,
        same_day=same_day,
        strata=strata,
        ties=ties,
        required_complete_levels=required_complete_levels,
    )
    return pd.concat([pd.DataFrame([design]), fit, permutation], axis=1)


def _permutation_or_skip(n_permutations: int, statistic: str, seed: int, **kwargs) -> pd.DataFrame:
    """Run :func:`run_permutation_test`, or return its row with missing values when B is 0."""
    if n_permutations > 0:
        return run_permutation_test(
            statistic=statistic, n_permutations=n_permutations, seed=seed, **kwargs
        )
    skipped = {
        "statistic": statistic,
        "observed_statistic": np.nan,
        "permutation_p": np.nan,
        "placebo_mean_statistic": np.nan,
        "n_permutations": 0,
        "seed": seed,
    }
    return pd.DataFrame([skipped])


def estimate_landmark_effect(
    units: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    coverage: pd.DataFrame,
    landmark_day: int = DEFAULT_LANDMARK_DAY,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
    strata: str | None = DEFAULT_STRATA,
    ties: str = DEFAULT_TIES,
    alpha: float = DEFAULT_ALPHA,
    n_permutations: int = DEFAULT_PERMUTATIONS,
    seed: int = DEFAULT_SEED,
    statistic: str = "score",
    model: str | None = None,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Landmark robustness check: contact on days 0..L among units still blocked after day L.

    Args:
        units: Output of ``build_analysis_units``.
        diplomatic_events: ``diplomatic_events`` rows or a GDELT calendar.
        coverage: ``diplomatic_coverage`` or a span frame.
        landmark_day: L.
        contact_levels: Declared contact levels.
        compiled_by: Declared ``compiled_by`` values.
        strata: Stratum column or None.
        ties: Tie handling.
        alpha: 1 - confidence level.
        n_permutations: Placebo calendars (0 skips the test).
        seed: Seed.
        statistic: ``"score"`` or ``"lr"``.
        model: Label (default ``"landmark day L"``).
        required_complete_levels: As in ``build_contact_intervals``.

    Returns:
        One row shaped like :func:`estimate_contact_effect`'s.
    """
    label = model or f"landmark day {landmark_day}"
    data = build_landmark_data(
        units,
        diplomatic_events,
        coverage,
        landmark_day,
        contact_levels,
        compiled_by,
        required_complete_levels,
    )
    fit = fit_contact_cox(data, strata, ties, alpha, label)
    design = _describe_design(
        units,
        contact_levels,
        compiled_by,
        None,
        MAIN_SAME_DAY_ORDER,
        strata,
        required_complete_levels,
    ) | {"window": f"days 0-{landmark_day}, fixed at the landmark"}
    permutation = _permutation_or_skip(
        n_permutations,
        statistic,
        seed,
        units=units,
        diplomatic_events=diplomatic_events,
        coverage=coverage,
        contact_levels=contact_levels,
        compiled_by=compiled_by,
        strata=strata,
        ties=ties,
        landmark_day=landmark_day,
        required_complete_levels=required_complete_levels,
    )
    return pd.concat([pd.DataFrame([design]), fit, permutation], axis=1)


def bootstrap_contact_cox(
    intervals: pd.DataFrame,
    cluster: str = "decision_id",
    strata: str | None = DEFAULT_STRATA,
    ties: str = DEFAULT_TIES,
    n_bootstraps: int = DEFAULT_BOOTSTRAPS,
    seed: int = DEFAULT_SEED,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Cluster bootstrap of the contact HR: resample whole decisions with replacement.

    Used for the service-level sensitivity run, where the rows of one decision are not
    independent. A replicate whose likelihood is monotone (or carries no contact variation)
    has no finite estimate; it is counted in ``n_infinite`` and enters the percentiles as
    +-infinity, so an interval with an infinite end says the data cannot bound it.

    Args:
        intervals: ``INTERVAL_COLUMNS`` rows.
        cluster: Column whose values are resampled (a decision's rows stay together).
        strata: Stratum column or None.
        ties: Tie handling.
        n_bootstraps: Number of replicates.
        seed: Seed.
        alpha: 1 - confidence level of the percentile interval.

    Returns:
        One row: ``bootstrap_ci_low, bootstrap_ci_high`` (HR), ``n_bootstraps``,
        ``n_infinite``, ``n_not_estimable``, ``seed``, ``cluster``.
    """
    groups = {key: frame for key, frame in intervals.groupby(cluster, sort=True)}
    keys = np.array(sorted(groups))
    rng = np.random.default_rng(seed)
    coefs, not_estimable = [], 0
    for _ in range(n_bootstraps):
        drawn = rng.choice(keys, size=len(keys), replace=True)
        sample = pd.concat(
            [
                groups[key].assign(unit_id=groups[key]["unit_id"] + f"#{i}")
                for i, key in enumerate(drawn)
            ],
            ignore_index=True,
        )
        counts = count_risk_sets(sample, strata)
        separation = _separation(counts)
        if separation == NOT_ESTIMABLE:
            not_estimable += 1
        elif separation is not None:
            coefs.append(np.inf if separation == SEPARATION_POSITIVE else -np.inf)
        else:
            coefs.append(_maximise(counts, ties))
    values = np.array(coefs)
    low, high = (
        np.quantile(values, [alpha / 2, 1 - alpha / 2], method="lower")
        if len(values)
        else (np.nan, np.nan)
    )
    return pd.DataFrame(
        [
            {
                "bootstrap_ci_low": float(np.exp(low)),
                "bootstrap_ci_high": float(np.exp(high)),
                "n_bootstraps": n_bootstraps,
                "n_infinite": int(np.isinf(values).sum()),
                "n_not_estimable": not_estimable,
                "seed": seed,
                "cluster": cluster,
            }
        ]
    )


def fit_naive_contact_cox(
    durations: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_CONTACT_WINDOW_DAYS,
    ties: str = DEFAULT_TIES,
    alpha: float = DEFAULT_ALPHA,
) -> pd.DataFrame:
    """Today's naive design, as a labelled contrast: pooled Cox, baseline flag from the future.

    One row per service block, contact = any ``CONTACT_KINDS`` event of the dyad (whatever
    ``compiled_by``) within ``window_days`` *after* the start, fixed at baseline, no strata.
    It uses events after the lift and the block-linked calendar; it is here only so a notebook
    can show what the naive design says next to the main one. With ``ties="breslow"`` and the
    ``as_of_contrast`` durations it is the fit the old notebook 03 published (HR 0.41 on the
    register of its time).

    Args:
        durations: Output of ``compute_block_durations`` (service rows).
        diplomatic_events: Rows of ``diplomatic_events``.
        window_days: The window after the start.
        ties: Tie handling.
        alpha: 1 - confidence level.

    Returns:
        One row with ``RESULT_COLUMNS`` (model ``"naive: pooled baseline flag"``).
    """
    flagged = flag_diplomatic_contact(durations, diplomatic_events, window_days=window_days)
    complete = flagged.dropna(subset=["duration_days"])
    decision = (
        complete["decision_id"]
        if "decision_id" in complete
        else complete.get("raw_event_id", complete["event_id"])
    )
    rows = pd.DataFrame(
        {
            "unit_id": complete["event_id"].astype(str).to_numpy(),
            "decision_id": decision.astype(str).to_numpy(),
            "blocking_country": complete["blocking_country"].to_numpy(),
            "dyad": pd.NA,
            "entry_day": -HALF_DAY,
            "stop_day": complete["duration_days"].astype(float).to_numpy(),
            "event": complete["observed"].astype(bool).to_numpy(),
            "contact": complete["has_diplomatic_contact"].astype(bool).to_numpy(),
        },
        columns=INTERVAL_COLUMNS,
    )
    return fit_contact_cox(rows, None, ties, alpha, "naive: pooled baseline flag")


def summarise_contact_strata(intervals: pd.DataFrame, strata: str = DEFAULT_STRATA) -> pd.DataFrame:
    """Per stratum: exposed and unexposed time and lifts, and the lifts that can inform the HR.

    A stratified Cox model learns about contact only from lifts whose risk set (same stratum,
    ``entry < t <= stop``) holds both an exposed and an unexposed unit. This table shows, per
    stratum, whether any such lift exists; when none does anywhere, the HR is not estimable
    and the table is the reason.

    Args:
        intervals: ``INTERVAL_COLUMNS`` rows.
        strata: Stratum column.

    Returns:
        One row per stratum: ``n_units, n_exposed_units, unexposed_days, exposed_days,
        n_lifts, n_exposed_lifts, n_informative_lifts`` (lifts with both values at risk),
        sorted by informative lifts, exposed days and stratum.
    """
    days = intervals["stop_day"] - intervals["entry_day"]
    contact = intervals["contact"].astype(bool)
    event = intervals["event"].astype(bool)
    entry = intervals["entry_day"].to_numpy(float)
    stop = intervals["stop_day"].to_numpy(float)
    informative = np.zeros(len(intervals), dtype=bool)
    labels = intervals[strata].astype(str).to_numpy()
    for position in np.flatnonzero(event.to_numpy()):
        at_risk = (labels == labels[position]) & (entry < stop[position]) & (stop[position] <= stop)
        values = contact.to_numpy()[at_risk]
        informative[position] = values.any() and not values.all()
    frame = intervals.assign(
        exposed_days=days.where(contact, 0.0),
        unexposed_days=days.where(~contact, 0.0),
        exposed_unit=intervals["unit_id"].where(contact),
        exposed_lift=event & contact,
        informative_lift=informative,
        stratum=labels,
    )
    return (
        frame.groupby("stratum")
        .agg(
            n_units=("unit_id", "nunique"),
            n_exposed_units=("exposed_unit", "nunique"),
            unexposed_days=("unexposed_days", "sum"),
            exposed_days=("exposed_days", "sum"),
            n_lifts=("event", "sum"),
            n_exposed_lifts=("exposed_lift", "sum"),
            n_informative_lifts=("informative_lift", "sum"),
        )
        .rename_axis(strata)
        .reset_index()
        .sort_values(
            ["n_informative_lifts", "exposed_days", strata], ascending=[False, False, True]
        )
        .reset_index(drop=True)
    )


def _format_ratio(value: float) -> str:
    if np.isnan(value):
        return "n/a"
    if np.isinf(value):
        return "inf"
    return f"{value:.2f}"


def format_contact_result(row: pd.Series | dict) -> str:
    """One plain line for a result row of :func:`estimate_contact_effect` (or landmark).

    Notebooks print this line for the main result and each sensitivity run, and tests compare
    the stored line with a fresh one, so its wording lives in one place. When the HR cannot be
    estimated the line says so and why instead of printing numbers that do not exist; under
    separation it gives the profile bound and Firth instead of Wald.

    Args:
        row: One row with ``RESULT_COLUMNS`` and the permutation columns.

    Returns:
        ``"<model>: <estimate>; <counts>; permutation p = ... (B = ...)"``.
    """
    counts = (
        f"{int(row['n_units'])} units ({int(row['n_exposed_units'])} exposed), "
        f"{int(row['n_events'])} lifts ({int(row['n_exposed_events'])} exposed)"
    )
    separation = row["separation"]
    if separation == NOT_ESTIMABLE:
        estimate = "HR not estimable (no lift has an exposed and an unexposed unit at risk" + (
            " in its stratum)" if row.get("strata_column", "none") != "none" else ")"
        ) + f", LR p = {row['lr_p']:.3f} (flat likelihood: no information)"
    elif separation in (SEPARATION_POSITIVE, SEPARATION_NEGATIVE):
        estimate = (
            f"HR {_format_ratio(row['hazard_ratio'])} (separation: {separation}; profile 95% CI "
            f"{_format_ratio(row['profile_ci_low'])}-{_format_ratio(row['profile_ci_high'])}), "
            f"Firth HR {_format_ratio(row['firth_hazard_ratio'])} "
            f"({_format_ratio(row['firth_ci_low'])}-{_format_ratio(row['firth_ci_high'])}), "
            f"LR p = {row['lr_p']:.3f}"
        )
    else:
        estimate = (
            f"HR {_format_ratio(row['hazard_ratio'])} (profile 95% CI "
            f"{_format_ratio(row['profile_ci_low'])}-{_format_ratio(row['profile_ci_high'])}; "
            f"Wald {_format_ratio(row['wald_ci_low'])}-{_format_ratio(row['wald_ci_high'])}, "
            f"p = {row['wald_p']:.3f}), LR p = {row['lr_p']:.3f}, Firth HR "
            f"{_format_ratio(row['firth_hazard_ratio'])} "
            f"({_format_ratio(row['firth_ci_low'])}-{_format_ratio(row['firth_ci_high'])})"
        )
    permutation = (
        "no permutation test"
        if int(row["n_permutations"]) == 0
        else f"permutation p = {row['permutation_p']:.3f} (B = {int(row['n_permutations'])})"
    )
    return f"{row['model']}: {estimate}; {counts}; {permutation}"
