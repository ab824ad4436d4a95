"""Every fixed-covariate estimator checked against lifelines, on SYNTHETIC data.

lifelines (test extra only) is an independent implementation: Kaplan-Meier with exponential
Greenwood (log-log) intervals, the median and its interval from where those bands cross 0.5,
the log-rank test and Cox with Efron ties, plain and stratified. The data are SYNTHETIC:
seeded draws, never real blocks. Tolerances seen: KM and bands agree to 1e-12, medians and
their intervals exactly, log-rank to 1e-10, Cox coefficients to 1e-5 (lifelines stops its
Newton steps about 1e-6 from the optimum; statsmodels and the count-based likelihood of
``contact_models`` agree to 1e-12) and standard errors to 1e-5.
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxPHFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times

from censorlab.analysis.contact_models import fit_contact_cox
from censorlab.analysis.survival import estimate_km, fit_cox, run_logrank_test, summarise_km


def synthetic_blocks(seed: int, n: int = 120) -> pd.DataFrame:
    """SYNTHETIC: whole-day durations (ties), censoring, a binary covariate, three strata."""
    rng = np.random.default_rng(seed)
    contact = rng.integers(0, 2, n).astype(bool)
    country = rng.choice(["RU", "TR", "IN"], n)
    scale = np.where(contact, 30, 60) * pd.Series(country).map({"RU": 0.5, "TR": 1, "IN": 3})
    lift = np.ceil(rng.exponential(scale.to_numpy()))
    censor = np.ceil(rng.uniform(5, 200, n))
    return pd.DataFrame(
        {
            "unit_id": [f"S{i:03d}" for i in range(n)],
            "duration_days": np.minimum(lift, censor),
            "observed": lift <= censor,
            "has_diplomatic_contact": contact,
            "blocking_country": country,
        }
    )


SEEDS = [0, 1, 2]


@pytest.mark.parametrize("seed", SEEDS)
def test_km_curve_bands_median_and_its_interval_match_lifelines(seed):
    data = synthetic_blocks(seed)
    fitter = KaplanMeierFitter().fit(data["duration_days"], data["observed"])
    curve = estimate_km(data).set_index("time")
    reference = fitter.survival_function_.iloc[:, 0]
    bands = fitter.confidence_interval_
    times = curve.index.intersection(reference.index)
    assert len(times) > 20
    np.testing.assert_allclose(curve.loc[times, "survival"], reference.loc[times], atol=1e-12)
    np.testing.assert_allclose(curve.loc[times, "ci_low"], bands.iloc[:, 0].loc[times], atol=1e-12)
    np.testing.assert_allclose(curve.loc[times, "ci_high"], bands.iloc[:, 1].loc[times],
                               atol=1e-12)
    ours = summarise_km(data).iloc[0]
    low, high = median_survival_times(bands).to_numpy()[0]
    assert ours["median_days"] == fitter.median_survival_time_
    assert (ours["median_ci_low"], ours["median_ci_high"]) == (low, high)


def test_median_convention_differs_from_lifelines_only_when_the_curve_touches_one_half():
    # S drops to exactly 0.5 at day 2: statsmodels (and censorlab) take the first time S < 0.5,
    # lifelines the first time S <= 0.5. Documented in summarise_km.
    data = pd.DataFrame({"duration_days": [1.0, 2, 3, 4], "observed": [True] * 4})
    fitter = KaplanMeierFitter().fit(data["duration_days"], data["observed"])
    assert fitter.median_survival_time_ == 2
    assert summarise_km(data)["median_days"].iloc[0] == 3


@pytest.mark.parametrize("seed", SEEDS)
def test_logrank_matches_lifelines(seed):
    data = synthetic_blocks(seed)
    ours = run_logrank_test(data, group="has_diplomatic_contact").iloc[0]
    exposed = data["has_diplomatic_contact"]
    reference = logrank_test(
        data.loc[exposed, "duration_days"], data.loc[~exposed, "duration_days"],
        data.loc[exposed, "observed"], data.loc[~exposed, "observed"],
    )
    assert ours["chi2"] == pytest.approx(reference.test_statistic, rel=1e-10)
    assert ours["p_value"] == pytest.approx(reference.p_value, rel=1e-8)


def _lifelines_cox(data: pd.DataFrame, strata=None) -> CoxPHFitter:
    columns = ["duration_days", "observed", "has_diplomatic_contact"]
    frame = data[columns + (["blocking_country"] if strata else [])].assign(
        has_diplomatic_contact=data["has_diplomatic_contact"].astype(float)
    )
    return CoxPHFitter().fit(frame, "duration_days", "observed", strata=strata)


@pytest.mark.parametrize("seed", SEEDS)
def test_cox_with_efron_ties_matches_lifelines(seed):
    data = synthetic_blocks(seed)
    ours = fit_cox(data, ["has_diplomatic_contact"], ties="efron").iloc[0]
    reference = _lifelines_cox(data)
    assert ours["coef"] == pytest.approx(reference.params_["has_diplomatic_contact"], abs=1e-5)
    assert ours["se"] == pytest.approx(
        reference.standard_errors_["has_diplomatic_contact"], rel=1e-5
    )
    assert ours["p_value"] == pytest.approx(
        reference.summary.loc["has_diplomatic_contact", "p"], rel=1e-4
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_stratified_cox_matches_lifelines_and_differs_from_pooled(seed):
    data = synthetic_blocks(seed)
    rows = pd.DataFrame(
        {
            "unit_id": data["unit_id"],
            "decision_id": data["unit_id"],
            "blocking_country": data["blocking_country"],
            "dyad": "XX-YY",
            "entry_day": -0.5,
            "stop_day": data["duration_days"],
            "event": data["observed"],
            "contact": data["has_diplomatic_contact"],
        }
    )
    ours = fit_contact_cox(rows).iloc[0]
    reference = _lifelines_cox(data, strata=["blocking_country"])
    assert ours["coef"] == pytest.approx(reference.params_["has_diplomatic_contact"], abs=1e-5)
    assert ours["se"] == pytest.approx(
        reference.standard_errors_["has_diplomatic_contact"], rel=1e-5
    )
    assert ours["lr_statistic"] == pytest.approx(
        reference.log_likelihood_ratio_test().test_statistic, rel=1e-5
    )
    pooled = fit_contact_cox(rows, strata=None).iloc[0]
    assert pooled["coef"] == pytest.approx(_lifelines_cox(data).params_.iloc[0], abs=1e-5)
