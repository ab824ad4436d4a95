"""Survival results checked against independent, hand-written implementations.

The KM product-limit estimator, Greenwood variance, log-rank statistic and Breslow partial
likelihood below are written from their textbook definitions (Kalbfleisch & Prentice), with
numpy/scipy only, so they share no code with statsmodels.
"""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import optimize, stats

from censorlab.analysis.survival import (
    check_proportional_hazards,
    encode_covariates,
    estimate_km,
    estimate_survival_at,
    fit_cox,
    fit_cox_across_bounds,
    run_logrank_test,
    summarise_end_status_sensitivity,
    summarise_km,
)

SEED = 12345


def hand_km(time, status):
    """Product-limit estimator: S(t) = prod_{t_i <= t} (1 - d_i / n_i), Greenwood variance."""
    rows, survival, greenwood = [], 1.0, 0.0
    for t in np.unique(time[status == 1]):
        at_risk = np.sum(time >= t)
        deaths = np.sum((time == t) & (status == 1))
        survival *= 1 - deaths / at_risk
        if at_risk > deaths:
            greenwood += deaths / (at_risk * (at_risk - deaths))
        rows.append((t, at_risk, deaths, survival, survival * np.sqrt(greenwood)))
    return pd.DataFrame(rows, columns=["time", "n_at_risk", "n_events", "survival", "se"])


def hand_median(km):
    """First time the curve falls strictly below 0.5 (the SAS/statsmodels convention)."""
    below = km.loc[km["survival"] < 0.5, "time"]
    return below.iloc[0] if len(below) else np.nan


def hand_logrank(time, status, group):
    observed_minus_expected, variance = 0.0, 0.0
    levels = np.unique(group)
    for t in np.unique(time[status == 1]):
        at_risk = time >= t
        n = at_risk.sum()
        d = np.sum((time == t) & (status == 1))
        n1 = np.sum(at_risk & (group == levels[0]))
        d1 = np.sum((time == t) & (status == 1) & (group == levels[0]))
        observed_minus_expected += d1 - d * n1 / n
        if n > 1:
            variance += d * (n1 / n) * (1 - n1 / n) * (n - d) / (n - 1)
    chi2 = observed_minus_expected**2 / variance
    return chi2, stats.chi2.sf(chi2, 1)


def breslow_negative_log_partial_likelihood(beta, time, status, x):
    """-log L(beta), Breslow's approximation for ties: every tied event sees the full risk set."""
    eta = x @ beta
    value = 0.0
    for t in np.unique(time[status == 1]):
        events = (time == t) & (status == 1)
        at_risk = time >= t
        value -= eta[events].sum() - events.sum() * np.log(np.exp(eta[at_risk]).sum())
    return value


def hand_cox(time, status, x):
    fitted = optimize.minimize(
        breslow_negative_log_partial_likelihood,
        np.zeros(x.shape[1]),
        args=(time, status, x),
        method="BFGS",
        options={"gtol": 1e-10},
    )
    hessian = numeric_hessian(
        lambda b: breslow_negative_log_partial_likelihood(b, time, status, x), fitted.x
    )
    return fitted.x, np.sqrt(np.diag(np.linalg.inv(hessian)))


def numeric_hessian(function, point, step=1e-4):
    size = point.size
    hessian = np.zeros((size, size))
    for i in range(size):
        for j in range(size):
            ei, ej = np.eye(size)[i] * step, np.eye(size)[j] * step
            hessian[i, j] = (
                function(point + ei + ej)
                - function(point + ei - ej)
                - function(point - ei + ej)
                + function(point - ei - ej)
            ) / (4 * step * step)
    return hessian


@pytest.fixture
def blocks():
    """Seeded blocks with ties, censoring and two covariates; hazard depends on contact."""
    rng = np.random.default_rng(SEED)
    n = 60
    contact = rng.integers(0, 2, n).astype(bool)
    home = rng.choice(["US", "CN", "other"], n)
    duration = np.ceil(rng.exponential(np.where(contact, 20, 60))).astype(float)
    censor = np.ceil(rng.uniform(5, 150, n))
    return pd.DataFrame(
        {
            "event_id": [f"B{i:02d}" for i in range(n)],
            "duration_days": np.minimum(duration, censor),
            "duration_low_days": np.maximum(np.minimum(duration, censor) - 3, 0),
            "duration_high_days": np.minimum(duration, censor) + 3,
            "observed": duration <= censor,
            "has_diplomatic_contact": contact,
            "operator_home": home,
        }
    )


def test_km_matches_hand_written_product_limit_estimator(blocks):
    km = estimate_km(blocks)
    hand = hand_km(blocks["duration_days"].to_numpy(), blocks["observed"].to_numpy(int))
    steps = km.loc[km["n_events"] > 0].reset_index(drop=True)
    np.testing.assert_allclose(steps["time"], hand["time"])
    np.testing.assert_array_equal(steps["n_at_risk"], hand["n_at_risk"])
    np.testing.assert_allclose(steps["survival"], hand["survival"], rtol=1e-12)
    assert km.iloc[0][["time", "survival"]].tolist() == [0.0, 1.0]


def test_km_confidence_interval_is_log_log_greenwood(blocks):
    km = estimate_km(blocks, alpha=0.05)
    hand = hand_km(blocks["duration_days"].to_numpy(), blocks["observed"].to_numpy(int))
    steps = km.loc[km["n_events"] > 0].reset_index(drop=True)
    inner = (hand["survival"] > 0) & (hand["survival"] < 1)
    s, se = hand.loc[inner, "survival"], hand.loc[inner, "se"]
    z = stats.norm.ppf(0.975)
    width = z * se / (s * np.abs(np.log(s)))
    np.testing.assert_allclose(steps.loc[inner, "ci_low"], s ** np.exp(width), rtol=1e-8)
    np.testing.assert_allclose(steps.loc[inner, "ci_high"], s ** np.exp(-width), rtol=1e-8)
    assert (km["ci_low"] <= km["survival"] + 1e-12).all()
    assert (km["survival"] <= km["ci_high"] + 1e-12).all()


def test_km_by_group_and_median_match_hand_computation(blocks):
    summary = summarise_km(blocks, group="has_diplomatic_contact").set_index("group")
    for flag, label in ((True, "True"), (False, "False")):
        part = blocks.loc[blocks["has_diplomatic_contact"] == flag]
        hand = hand_km(part["duration_days"].to_numpy(), part["observed"].to_numpy(int))
        assert summary.loc[label, "median_days"] == pytest.approx(hand_median(hand))
        assert summary.loc[label, "n"] == len(part)
        assert summary.loc[label, "n_events"] == part["observed"].sum()
        low, high = summary.loc[label, ["median_ci_low", "median_ci_high"]]
        assert np.isnan(low) or low <= summary.loc[label, "median_days"]
        assert np.isnan(high) or high >= summary.loc[label, "median_days"]


def test_logrank_matches_hand_written_statistic(blocks):
    result = run_logrank_test(blocks, group="has_diplomatic_contact").iloc[0]
    chi2, p_value = hand_logrank(
        blocks["duration_days"].to_numpy(),
        blocks["observed"].to_numpy(int),
        blocks["has_diplomatic_contact"].astype(str).to_numpy(),
    )
    assert result["chi2"] == pytest.approx(chi2, rel=1e-8)
    assert result["p_value"] == pytest.approx(p_value, rel=1e-6)
    assert result["df"] == 1


def test_cox_matches_hand_coded_breslow_partial_likelihood(blocks):
    covariates = ["has_diplomatic_contact", "operator_home"]
    table = fit_cox(blocks, covariates=covariates, reference_levels={"operator_home": "US"})
    design = encode_covariates(blocks, covariates, {"operator_home": "US"})
    coef, se = hand_cox(
        blocks["duration_days"].to_numpy(), blocks["observed"].to_numpy(int), design.to_numpy()
    )
    assert table["term"].tolist() == list(design.columns)
    np.testing.assert_allclose(table["coef"], coef, atol=1e-5)
    np.testing.assert_allclose(table["se"], se, rtol=1e-3)
    np.testing.assert_allclose(table["hazard_ratio"], np.exp(coef), rtol=1e-4)
    z = stats.norm.ppf(0.975)
    np.testing.assert_allclose(table["hr_ci_low"], np.exp(coef - z * se), rtol=1e-3)
    np.testing.assert_allclose(table["p_value"], 2 * stats.norm.sf(np.abs(coef / se)), atol=1e-4)
    assert table["n"].iloc[0] == 60 and table["n_events"].iloc[0] == blocks["observed"].sum()


def test_cox_recovers_direction_of_effect_and_reports_small_model(blocks, caplog):
    table = fit_cox(blocks, covariates=["has_diplomatic_contact"])
    assert table.loc[0, "hazard_ratio"] > 1  # contact blocks were simulated shorter
    few = blocks.head(12)
    with caplog.at_level("WARNING"):
        small = fit_cox(few, covariates=["has_diplomatic_contact", "operator_home"])
    assert small["events_per_parameter"].iloc[0] < 10
    assert "events per parameter" in caplog.text


def test_encode_covariates_uses_most_frequent_level_as_reference():
    data = pd.DataFrame({"home": ["US", "US", "CN", None], "flag": [True, False, True, False]})
    design = encode_covariates(data, ["flag", "home"])
    assert list(design.columns) == ["flag", "home[CN]"]
    assert design["home[CN]"].tolist()[:3] == [0.0, 0.0, 1.0]
    assert np.isnan(design["home[CN]"].iloc[3])


def test_cox_across_bounds_stacks_point_low_high(blocks):
    table = fit_cox_across_bounds(blocks, covariates=["has_diplomatic_contact"])
    assert table["duration_bound"].tolist() == ["point", "low", "high"]
    assert table.columns[0] == "duration_bound"


def test_survival_at_reads_the_km_curve(blocks):
    table = estimate_survival_at(blocks, times=[0, 10, 10_000])
    hand = hand_km(blocks["duration_days"].to_numpy(), blocks["observed"].to_numpy(int))
    assert table["survival"].iloc[0] == 1.0
    assert table["survival"].iloc[1] == pytest.approx(
        hand.loc[hand["time"] <= 10, "survival"].iloc[-1]
    )
    assert np.isnan(table["survival"].iloc[2])


def test_cluster_robust_errors_change_se_not_coefficients(blocks):
    clustered = blocks.assign(decision=[f"D{i // 3}" for i in range(len(blocks))])
    plain = fit_cox(clustered, covariates=["has_diplomatic_contact"])
    robust = fit_cox(clustered, covariates=["has_diplomatic_contact"], cluster="decision")
    assert robust["coef"].iloc[0] == pytest.approx(plain["coef"].iloc[0])
    assert robust["se"].iloc[0] != pytest.approx(plain["se"].iloc[0])


NOTEBOOK_03 = Path(__file__).resolve().parents[1] / "notebooks" / "03-duration-vs-diplomacy.ipynb"


def _notebook_text(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    return "\n".join(
        "".join(output.get("text", ""))
        for cell in notebook["cells"]
        if cell["cell_type"] == "code"
        for output in cell.get("outputs", [])
    )


@pytest.fixture(scope="module")
def real_blocks():
    """The notebook 03 analysis frame, built from the processed tables (skip when not built)."""
    import censorlab
    from censorlab import analysis

    try:
        blocks = censorlab.load("block_events")
        diplomacy = censorlab.load("diplomatic_events")
        as_of = censorlab.load_manifest()["as_of"]
    except Exception as exc:  # noqa: BLE001 - any missing build means "skip", not "fail"
        pytest.skip(f"processed data not built: {exc}")
    return (
        blocks.pipe(analysis.select_implemented_blocks)
        .pipe(analysis.compute_block_durations, scenario="as_of_contrast", as_of=as_of)
        .pipe(analysis.add_block_covariates, diplomacy, window_days=30)
    )


def _notebook_parameters(path):
    """The values declared in a notebook's ``parameters`` cell, so tests follow the notebook."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if "parameters" in c["metadata"].get("tags", []))
    values = {}
    exec("".join(cell["source"]), {}, values)  # noqa: S102 - the repository's own notebook
    return values


def _stored_line(text, prefix):
    lines = [line for line in text.splitlines() if line.startswith(prefix)]
    assert len(lines) == 1, f"expected one stored line starting {prefix!r}, got {lines}"
    return lines[0]


@pytest.fixture(scope="module")
def real_design():
    """Notebook 03's units, calendar and coverage rebuilt from the processed tables."""
    import censorlab
    from censorlab import analysis

    try:
        blocks = censorlab.load("block_events")
        diplomacy = censorlab.load("diplomatic_events")
        coverage = censorlab.load("diplomatic_coverage")
    except Exception as exc:  # noqa: BLE001 - any missing build means "skip", not "fail"
        pytest.skip(f"processed data not built: {exc}")
    params = _notebook_parameters(NOTEBOOK_03)
    durations = analysis.compute_block_durations(analysis.select_implemented_blocks(blocks))
    units = analysis.build_analysis_units(durations, level=params["UNIT_LEVEL"])
    return params, units, diplomacy, coverage


def _hand_informative_lifts(rows, strata):
    """Lifts whose risk set (same stratum, entry < t <= stop) holds both contact values."""
    count = 0
    for lift in rows.loc[rows["event"]].itertuples():
        at_risk = rows.loc[
            (rows[strata] == getattr(lift, strata))
            & (rows["entry_day"] < lift.stop_day)
            & (rows["stop_day"] >= lift.stop_day),
            "contact",
        ]
        count += int(at_risk.any() and not at_risk.all())
    return count


def test_notebook_03_main_result_line_is_a_fresh_recomputation(real_design):
    from censorlab import analysis

    params, units, diplomacy, coverage = real_design
    rows = analysis.build_contact_intervals(
        units, diplomacy, coverage, params["CONTACT_LEVELS"], params["COMPILED_BY"],
        params["WINDOW_DAYS"], params["SAME_DAY"], params["REQUIRED_COMPLETE_LEVELS"],
    )
    stored = _stored_line(_notebook_text(NOTEBOOK_03), "main: ")
    counts = (
        f"{rows['unit_id'].nunique()} units ({rows.loc[rows['contact'], 'unit_id'].nunique()} "
        f"exposed), {int(rows['event'].sum())} lifts "
        f"({int((rows['event'] & rows['contact']).sum())} exposed)"
    )
    assert counts in stored
    # "Not estimable" must be what the data say, checked without the library's risk sets.
    estimable = _hand_informative_lifts(rows, params["STRATA"]) > 0
    assert ("not estimable" not in stored) == estimable
    fresh = analysis.estimate_contact_effect(
        units, diplomacy, coverage, params["CONTACT_LEVELS"], params["COMPILED_BY"],
        params["WINDOW_DAYS"], params["SAME_DAY"], params["STRATA"], params["TIES"],
        params["ALPHA"], params["N_PERMUTATIONS"], params["SEED"],
        required_complete_levels=params["REQUIRED_COMPLETE_LEVELS"],
    ).iloc[0]
    assert stored == analysis.format_contact_result(fresh)


def test_notebook_03_unstratified_line_matches_lifelines_on_real_data(real_design):
    from lifelines import CoxTimeVaryingFitter

    from censorlab import analysis

    params, units, diplomacy, coverage = real_design
    rows = analysis.build_contact_intervals(
        units, diplomacy, coverage, params["CONTACT_LEVELS"], params["COMPILED_BY"],
        params["WINDOW_DAYS"], params["SAME_DAY"], params["REQUIRED_COMPLETE_LEVELS"],
    )
    data = rows[["unit_id", "entry_day", "stop_day", "event", "contact"]].assign(
        event=rows["event"].astype(int), contact=rows["contact"].astype(float)
    )
    fitted = CoxTimeVaryingFitter().fit(
        data, id_col="unit_id", event_col="event", start_col="entry_day", stop_col="stop_day"
    )
    summary = fitted.summary.loc["contact"]
    stored = _stored_line(_notebook_text(NOTEBOOK_03), "unstratified: ")
    assert stored.startswith(f"unstratified: HR {summary['exp(coef)']:.2f} (profile 95% CI ")
    wald = (
        f"Wald {summary['exp(coef) lower 95%']:.2f}-{summary['exp(coef) upper 95%']:.2f}, "
        f"p = {summary['p']:.3f})"
    )
    assert wald in stored


def test_notebook_03_km_line_matches_hand_estimator_on_real_data(real_design):
    _, units, _, _ = real_design
    time = units["time_days"].to_numpy()
    hand = hand_km(time, units["observed"].to_numpy(int))
    at_year = hand.loc[hand["time"] <= 365, "survival"].iloc[-1]
    stored = re.search(r"^\s*all\s+365\.0\s+(\d+)\s+([0-9.]+)", _notebook_text(NOTEBOOK_03),
                       flags=re.MULTILINE)
    assert stored is not None
    assert int(stored.group(1)) == int((time >= 365).sum())
    assert stored.group(2) == f"{at_year:.3f}"


def test_wechat_2017_duration_on_real_data(real_blocks):
    wechat = real_blocks.set_index("event_id").loc["RU-2017-WECHAT"]
    assert wechat["duration_days"] == 7
    assert (wechat["duration_low_days"], wechat["duration_high_days"]) == (7, 7)
    assert bool(wechat["observed"])


def test_km_curve_extends_to_last_censored_time_and_keeps_day_zero_events():
    data = pd.DataFrame(
        {"duration_days": [0, 2, 2, 5, 9], "observed": [True, True, False, True, False]}
    )
    km = estimate_km(data)
    assert km["time"].tolist() == [0.0, 2.0, 5.0, 9.0]
    assert km["survival"].round(3).tolist() == [0.8, 0.6, 0.3, 0.3]
    assert km["n_events"].tolist() == [1, 1, 1, 0]


def test_end_status_sensitivity_gives_hand_computed_km_and_matching_cox():
    # Six blocks from 2020-01-01: three lifted (2, 10, 20 days), two unknown (confirmed at
    # day 5), one in force (confirmed at day 100); as_of gives every open block 100 days.
    blocks = pd.DataFrame(
        {
            "event_id": list("ABCDEF"),
            "start_date": ["2020-01-01"] * 6,
            "end_date": ["2020-01-03", "2020-01-11", "2020-01-21", None, None, None],
            "end_status": ["ended"] * 3 + ["unknown", "unknown", "in_force"],
            "last_confirmed_date": [None] * 3 + ["2020-01-06", "2020-01-06", "2020-04-10"],
            "has_diplomatic_contact": [False, True, False, False, True, False],
        }
    )
    out = summarise_end_status_sensitivity(
        blocks, covariate="has_diplomatic_contact", times=(7, 15), as_of="2020-04-10"
    )
    assert out["scenario"].tolist() == ["last_confirmed", "unknown_excluded", "as_of_contrast"]
    assert out["n"].tolist() == [6, 4, 6]
    assert out["n_unknown"].tolist() == [2, 0, 2]
    assert out["n_in_force"].tolist() == [1, 1, 1]
    assert out["n_events"].tolist() == [3, 3, 3]
    # main: 2e 10e 20e 5c 5c 100c; excluded: 2e 10e 20e 100c; contrast: 2e 10e 20e 100c x3
    assert out["median_days"].tolist()[:2] == [20.0, 20.0]
    assert np.isnan(out["median_days"].iloc[2])
    assert out["survival_7"].tolist() == pytest.approx([5 / 6, 3 / 4, 5 / 6])
    assert out["survival_15"].tolist() == pytest.approx([5 / 6 * 2 / 3, 1 / 2, 4 / 6])
    by_hand = {
        "last_confirmed": ([2, 10, 20, 5, 5, 100], [1, 1, 1, 0, 0, 0]),
        "unknown_excluded": ([2, 10, 20, 100], [1, 1, 1, 0]),
        "as_of_contrast": ([2, 10, 20, 100, 100, 100], [1, 1, 1, 0, 0, 0]),
    }
    contact = {"last_confirmed": [0, 1, 0, 0, 1, 0], "unknown_excluded": [0, 1, 0, 0]}
    contact["as_of_contrast"] = contact["last_confirmed"]
    for _, row in out.iterrows():
        time, status = by_hand[row["scenario"]]
        frame = pd.DataFrame(
            {
                "duration_days": np.array(time, float),
                "observed": np.array(status, bool),
                "has_diplomatic_contact": np.array(contact[row["scenario"]], bool),
            }
        )
        expected = fit_cox(frame, ["has_diplomatic_contact"]).iloc[0]
        assert row["hazard_ratio"] == pytest.approx(expected["hazard_ratio"], rel=1e-9)
        assert row["p_value"] == pytest.approx(expected["p_value"], rel=1e-9)
    without_as_of = summarise_end_status_sensitivity(blocks)
    assert without_as_of["scenario"].tolist() == ["last_confirmed", "unknown_excluded"]
    assert "hazard_ratio" not in without_as_of.columns


def hand_schoenfeld(time, status, x, beta):
    """Breslow Schoenfeld residual of each event: x_i minus the risk-set weighted mean of x."""
    residuals = []
    for i in np.flatnonzero(status == 1):
        at_risk = time >= time[i]
        weights = np.exp(beta * x[at_risk])
        residuals.append(x[i] - np.sum(weights * x[at_risk]) / np.sum(weights))
    return np.array(residuals)


def test_ph_check_matches_hand_schoenfeld_correlation(blocks):
    time = blocks["duration_days"].to_numpy()
    status = blocks["observed"].to_numpy(int)
    x = blocks["has_diplomatic_contact"].astype(float).to_numpy()
    beta = np.log(fit_cox(blocks, ["has_diplomatic_contact"])["hazard_ratio"].iloc[0])
    residuals = hand_schoenfeld(time, status, x, beta)
    event_time = time[status == 1]
    out = check_proportional_hazards(blocks, ["has_diplomatic_contact"]).set_index("transform")
    assert out.index.tolist() == ["identity", "log", "rank"]
    assert (out["n_events"] == status.sum()).all()
    for transform, g in (
        ("identity", event_time),
        ("log", np.log1p(event_time)),
        ("rank", stats.rankdata(event_time)),
    ):
        rho, p_value = stats.pearsonr(g, residuals)
        assert out.loc[transform, "rho"] == pytest.approx(rho, rel=1e-6)
        assert out.loc[transform, "p_value"] == pytest.approx(p_value, rel=1e-6)


def test_ph_check_flags_a_hazard_ratio_that_changes_with_time():
    # Group 1 ends early or not at all; group 0 ends late: the contact effect reverses in time.
    early = [1, 2, 3, 4, 5, 6, 7, 8, 200, 200]
    late = [50, 60, 70, 80, 90, 100, 110, 120, 130, 140]
    data = pd.DataFrame(
        {
            "duration_days": np.array(early + late, float),
            "observed": [True] * 8 + [False] * 2 + [True] * 10,
            "has_diplomatic_contact": [True] * 10 + [False] * 10,
        }
    )
    out = check_proportional_hazards(data, ["has_diplomatic_contact"]).set_index("transform")
    assert (out["rho"] < 0).all()
    assert out.loc["rank", "p_value"] < 0.01
    with pytest.raises(ValueError, match="transform"):
        check_proportional_hazards(data, ["has_diplomatic_contact"], transforms=["square"])
