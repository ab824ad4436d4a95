"""Contact models checked by hand and against lifelines; permutation tests on SYNTHETIC data.

Every data set below is either a hand-made toy whose answer is derived in a comment, or
SYNTHETIC: simulated with a seeded generator (:func:`simulate_register`), never real blocks.
"""

import numpy as np
import pandas as pd
import pytest
from lifelines import CoxTimeVaryingFitter
from scipy import optimize, stats

from censorlab.analysis.contact_models import (
    _phreg,
    bootstrap_contact_cox,
    check_separation,
    compute_score_statistic,
    count_risk_sets,
    efron_loglike,
    estimate_contact_effect,
    estimate_landmark_effect,
    fit_contact_cox,
    fit_naive_contact_cox,
    format_contact_result,
    run_permutation_test,
    summarise_contact_strata,
)
from censorlab.analysis.covariates import flag_diplomatic_contact
from censorlab.analysis.decisions import build_analysis_units
from censorlab.analysis.durations import compute_block_durations
from censorlab.analysis.intervals import build_contact_intervals
from censorlab.analysis.survival import fit_cox

CRITICAL = stats.chi2.ppf(0.95, 1)


def rows_of(spec) -> pd.DataFrame:
    """spec: (unit_id, entry, stop, event, contact[, stratum])."""
    frame = pd.DataFrame([(*s, "S")[:6] for s in spec],
                         columns=["unit_id", "entry_day", "stop_day", "event", "contact",
                                  "blocking_country"])
    return frame.assign(decision_id=frame["unit_id"], dyad="AA-BB")


# --- hand-computed toys -----------------------------------------------------------------------

def test_three_unit_cox_matches_the_partial_likelihood_by_hand():
    # Lifts at days 1, 2, 3 with x = 1, 0, 1. L(b) = e^b/(2e^b+1) * 1/(1+e^b) * 1; the score
    # 1 - 2u/(2u+1) - u/(1+u) = 0 with u = e^b gives 1 - 2u^2 = 0: HR = 1/sqrt(2).
    rows = rows_of([("A", -0.5, 1, True, True), ("B", -0.5, 2, True, False),
                    ("C", -0.5, 3, True, True)])
    out = fit_contact_cox(rows, strata=None).iloc[0]
    u = 1 / np.sqrt(2)
    assert out["hazard_ratio"] == pytest.approx(u, rel=1e-6)
    peak = np.log(u) - np.log(2 * u + 1) - np.log(1 + u)
    assert out["lr_statistic"] == pytest.approx(2 * (peak + np.log(6)), rel=1e-6)
    # information at the estimate: var of x in each risk set, summed
    p1 = 2 * u / (2 * u + 1)
    info = p1 * (1 - p1) * 1 + (u / (1 + u)) * (1 / (1 + u))  # x in {0,1}: var = p(1-p)
    assert out["se"] == pytest.approx(1 / np.sqrt(info), rel=1e-5)
    assert out[["n_units", "n_events", "n_exposed_units", "n_exposed_events"]].tolist() == [
        3, 3, 2, 2]
    assert out["few_exposed_events"] and out["separation"] == "none"


def test_time_varying_separation_gives_closed_form_lr_profile_and_firth():
    # A switches to contact at 1.5 and lifts at 3 (alone at risk: no information); B lifts at
    # 1 with everyone unexposed; C lifts at 2 against A exposed: l(b) = -ln 3 - ln(1 + e^b),
    # decreasing for ever: the MLE is -inf, sup l = -ln 3, LR = 2 ln 2, the profile upper
    # bound solves 2 ln(1 + e^b) = chi2 -> b = ln(e^(chi2/2) - 1); Firth maximises
    # b/2 - 2 ln(1 + e^b): e^b = 1/3.
    rows = rows_of([("A", -0.5, 1.5, False, False), ("A", 1.5, 3, True, True),
                    ("B", -0.5, 1, True, False), ("C", -0.5, 2, True, False)])
    assert check_separation(rows, None) == "negative"
    out = fit_contact_cox(rows, strata=None).iloc[0]
    assert out["hazard_ratio"] == 0 and np.isnan(out["wald_p"])
    assert out["lr_statistic"] == pytest.approx(2 * np.log(2), abs=1e-5)
    assert out["profile_ci_low"] == 0
    assert out["profile_ci_high"] == pytest.approx(np.exp(CRITICAL / 2) - 1, rel=1e-5)
    assert out["firth_hazard_ratio"] == pytest.approx(1 / 3, rel=1e-5)
    assert out["separation"] == "negative"


def test_separation_and_no_variation_are_detected_per_risk_set():
    positive = rows_of([("A", -0.5, 1, True, True), ("B", -0.5, 2, False, False)])
    assert check_separation(positive, None) == "positive"
    none_exposed = rows_of([("A", -0.5, 1, True, False), ("B", -0.5, 2, True, False)])
    assert check_separation(none_exposed, None) == "no variation"
    out = fit_contact_cox(none_exposed, strata=None).iloc[0]
    assert np.isnan(out["hazard_ratio"]) and out["separation"] == "no variation"
    # the same rows in two strata: each lift is alone with its own kind, no comparison
    split = rows_of([("A", -0.5, 1, True, True, "S1"), ("B", -0.5, 2, True, False, "S2")])
    assert check_separation(split, "blocking_country") == "no variation"
    # the likelihood is flat in beta there (checked by hand), so the LR test says p = 1
    flat = [hand_efron_loglike(beta, split, "blocking_country") for beta in (-3.0, 0.0, 2.0)]
    assert flat == pytest.approx([flat[1]] * 3, abs=1e-12)
    stratified = fit_contact_cox(split, strata="blocking_country").iloc[0]
    assert (stratified["lr_statistic"], stratified["lr_p"]) == (0.0, 1.0)
    assert np.isnan(stratified["wald_p"]) and np.isnan(stratified["profile_ci_low"])
    assert check_separation(split, None) == "positive"


# --- an independent Efron partial likelihood for start-stop rows ---------------------------

def hand_efron_loglike(beta, rows, strata):
    value = 0.0
    groups = [rows] if strata is None else [g for _, g in rows.groupby(strata)]
    for group in groups:
        x = group["contact"].to_numpy(float)
        entry, stop = group["entry_day"].to_numpy(), group["stop_day"].to_numpy()
        event = group["event"].to_numpy(bool)
        for t in np.unique(stop[event]):
            at_risk = (entry < t) & (t <= stop)
            dying = event & (stop == t)
            d = dying.sum()
            risk = np.exp(beta * x[at_risk]).sum()
            tied = np.exp(beta * x[dying]).sum()
            value += beta * x[dying].sum() - sum(np.log(risk - k / d * tied) for k in range(d))
    return value


def simulate_register(seed, n_units=90, hazard_ratio=1.0, window_days=None):
    """SYNTHETIC register: blocks, a dyad-swept calendar and full coverage, seeded.

    Three blocking countries with different baseline hazards; each unit's lift is drawn day
    by day with hazard h0 * hazard_ratio ** exposed, where exposed means a contact of its
    dyad on a day before today and on or after its start (the covariate of the models).
    """
    rng = np.random.default_rng(seed)
    countries = {"RU": 1 / 40, "TR": 1 / 90, "IN": 1 / 200}
    operators = ["US", "CN", "JP", "KR"]
    first = pd.Timestamp("2015-01-01")
    contacts = {
        (b, o): np.sort(rng.choice(5 * 365, size=rng.poisson(25), replace=False))
        for b in countries for o in operators
    }
    blocks = []
    for i in range(n_units):
        blocking = list(countries)[i % 3]
        operator = operators[rng.integers(len(operators))]
        start = int(rng.integers(0, 3 * 365))
        horizon = int(rng.integers(30, 500))
        lift = None
        for day in range(horizon + 1):
            days = contacts[(blocking, operator)] - start
            recent = (days >= 0) & (days < day)
            if window_days is not None:
                recent &= days >= day - window_days
            exposed = bool(recent.any())
            if rng.random() < countries[blocking] * hazard_ratio ** exposed:
                lift = day
                break
        start_date = first + pd.Timedelta(days=start)
        stop = start_date + pd.Timedelta(days=lift if lift is not None else horizon)
        blocks.append((f"B{i:03d}", f"D{i // 2:03d}", blocking, operator, start_date,
                       stop if lift is not None else None, None if lift is not None else stop))
    frame = pd.DataFrame(blocks, columns=["event_id", "decision_id", "blocking_country",
                                          "operator_country", "start_date", "end_date",
                                          "last_confirmed_date"])
    frame = frame.assign(service_id=frame["event_id"].str.lower(),
                         end_status=np.where(frame["end_date"].notna(), "ended", "in_force"))
    events = pd.DataFrame(
        [(first + pd.Timedelta(days=int(d)), b, o) for (b, o), days in contacts.items()
         for d in days], columns=["date", "country_a", "country_b"],
    ).assign(compiled_by="dyad-sweep", contact_level="leader-visit")
    events["event_id"] = [f"E{i}" for i in range(len(events))]
    coverage = pd.DataFrame(
        [(b, o, y, ["leader-visit", "minister-visit"]) for b in countries for o in operators
         for y in range(2014, 2021)],
        columns=["country_a", "country_b", "year", "complete_levels"],
    )
    return frame, events, coverage


@pytest.fixture(scope="module")
def synthetic():
    """SYNTHETIC register with a planted effect (HR 3), service level: each row a unit."""
    blocks, events, coverage = simulate_register(seed=2024, hazard_ratio=3.0)
    units = build_analysis_units(compute_block_durations(blocks), level="service")
    return units, events, coverage, build_contact_intervals(units, events, coverage)


def _lifelines_fit(rows, strata):
    data = rows[["unit_id", "entry_day", "stop_day", "event", "contact", "blocking_country"]]
    data = data.assign(event=data["event"].astype(int), contact=data["contact"].astype(float))
    if strata is None:
        data = data.drop(columns="blocking_country")
    return CoxTimeVaryingFitter().fit(
        data, id_col="unit_id", event_col="event", start_col="entry_day", stop_col="stop_day",
        strata=strata,
    )


@pytest.mark.parametrize("strata", [None, "blocking_country"])
def test_time_varying_cox_agrees_with_lifelines_and_a_hand_efron(synthetic, strata):
    rows = synthetic[3]
    assert rows["contact"].any() and (~rows["contact"]).any()
    ours = fit_contact_cox(rows, strata=strata).iloc[0]
    reference = _lifelines_fit(rows, None if strata is None else [strata])
    assert ours["coef"] == pytest.approx(reference.params_["contact"], abs=1e-5)
    assert ours["se"] == pytest.approx(reference.standard_errors_["contact"], rel=1e-4)
    lr = reference.log_likelihood_ratio_test()
    assert ours["lr_statistic"] == pytest.approx(lr.test_statistic, rel=1e-4)
    assert ours["lr_p"] == pytest.approx(lr.p_value, rel=1e-3)
    # profile bounds from an independent Efron partial likelihood
    peak = hand_efron_loglike(ours["coef"], rows, strata)
    assert peak == pytest.approx(hand_efron_loglike(0, rows, strata) + ours["lr_statistic"] / 2,
                                 abs=1e-6)

    def excess(beta):
        return 2 * (peak - hand_efron_loglike(beta, rows, strata)) - CRITICAL

    low = optimize.brentq(excess, ours["coef"] - 5, ours["coef"])
    high = optimize.brentq(excess, ours["coef"], ours["coef"] + 5)
    assert np.log(ours["profile_ci_low"]) == pytest.approx(low, abs=1e-6)
    assert np.log(ours["profile_ci_high"]) == pytest.approx(high, abs=1e-6)
    assert ours["wald_ci_low"] < ours["hazard_ratio"] < ours["wald_ci_high"]


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("strata", [None, "blocking_country"])
def test_count_based_likelihood_equals_statsmodels(synthetic, ties, strata):
    rows = synthetic[3]
    counts = count_risk_sets(rows, strata)
    model = _phreg(rows, strata, ties)
    for beta in (-1.3, 0.0, 0.4, 2.0):
        loglike, score, information = efron_loglike(counts, beta, ties)
        assert loglike == pytest.approx(model.loglike(np.array([beta])), rel=1e-10)
        assert score == pytest.approx(model.score(np.array([beta]))[0], rel=1e-8, abs=1e-10)
        assert information == pytest.approx(-model.hessian(np.array([beta]))[0, 0], rel=1e-8)


def test_stratification_changes_the_estimate_on_confounded_synthetic_data(synthetic):
    rows = synthetic[3]
    pooled = fit_contact_cox(rows, strata=None).iloc[0]
    stratified = fit_contact_cox(rows).iloc[0]
    assert stratified["strata"] == "IN;RU;TR" and stratified["n_strata_with_events"] == 3
    assert pooled["strata"] == "pooled"
    assert stratified["coef"] != pytest.approx(pooled["coef"], abs=1e-3)


def test_score_statistic_matches_its_definition(synthetic):
    rows = synthetic[3]
    h = 1e-5
    score = (hand_efron_loglike(h, rows, "blocking_country")
             - hand_efron_loglike(-h, rows, "blocking_country")) / (2 * h)
    curvature = (hand_efron_loglike(h, rows, "blocking_country")
                 - 2 * hand_efron_loglike(0, rows, "blocking_country")
                 + hand_efron_loglike(-h, rows, "blocking_country")) / h**2
    assert compute_score_statistic(rows) == pytest.approx(score**2 / -curvature, rel=1e-4)
    assert compute_score_statistic(rows.assign(contact=False)) == 0.0


# --- permutation (placebo-calendar) tests ----------------------------------------------------

def test_permutation_test_finds_a_planted_effect_and_not_a_null_one():
    planted = simulate_register(seed=7, n_units=60, hazard_ratio=4.0)
    null = simulate_register(seed=7, n_units=60, hazard_ratio=1.0)
    results = {}
    for name, (blocks, events, coverage) in (("planted", planted), ("null", null)):
        units = build_analysis_units(compute_block_durations(blocks), level="service")
        results[name] = run_permutation_test(units, events, coverage, n_permutations=39,
                                             seed=1).iloc[0]
    assert results["planted"]["permutation_p"] <= 0.05
    assert results["null"]["permutation_p"] > 0.2
    assert results["planted"]["n_permutations"] == 39
    again = run_permutation_test(
        build_analysis_units(compute_block_durations(planted[0]), level="service"),
        planted[1], planted[2], n_permutations=39, seed=1,
    ).iloc[0]
    assert again["permutation_p"] == results["planted"]["permutation_p"]  # seeded


def test_lr_statistic_permutation_and_the_full_analysis_row(synthetic):
    units, events, coverage, _ = synthetic
    lr = run_permutation_test(units, events, coverage, statistic="lr", n_permutations=9, seed=3)
    assert lr.iloc[0]["statistic"] == "lr" and 0 < lr.iloc[0]["permutation_p"] <= 1
    with pytest.raises(ValueError, match="statistic"):
        run_permutation_test(units, events, coverage, statistic="wald", n_permutations=1)
    row = estimate_contact_effect(units, events, coverage, n_permutations=9, seed=3).iloc[0]
    assert row["window"] == "since start" and row["contact_levels"] == "leader-visit"
    assert row["complete_levels"] == "leader-visit"
    assert row["unit_level"] == "service" and row["strata_column"] == "blocking_country"
    assert 0 < row["permutation_p"] <= 1 and row["hazard_ratio"] > 1
    skipped = estimate_contact_effect(units, events, coverage, n_permutations=0).iloc[0]
    assert np.isnan(skipped["permutation_p"])
    assert skipped["hazard_ratio"] == pytest.approx(row["hazard_ratio"])


def test_last_n_days_window_and_landmark_run_on_the_same_calendar(synthetic):
    units, events, coverage, _ = synthetic
    window = estimate_contact_effect(units, events, coverage, window_days=30, n_permutations=0)
    assert window.iloc[0]["window"] == "last 30 days"
    landmark = estimate_landmark_effect(units, events, coverage, n_permutations=9, seed=2)
    row = landmark.iloc[0]
    assert row["model"] == "landmark day 30"
    assert row["n_units"] == int((units["time_days"] > 30).sum())
    assert 0 < row["permutation_p"] <= 1


def test_cluster_bootstrap_resamples_decisions(synthetic):
    rows = synthetic[3]
    out = bootstrap_contact_cox(rows, n_bootstraps=30, seed=5).iloc[0]
    again = bootstrap_contact_cox(rows, n_bootstraps=30, seed=5).iloc[0]
    pd.testing.assert_series_equal(out, again)
    point = fit_contact_cox(rows).iloc[0]["hazard_ratio"]
    assert out["bootstrap_ci_low"] < point < out["bootstrap_ci_high"]
    assert out["cluster"] == "decision_id" and out["n_bootstraps"] == 30


def test_naive_contrast_is_todays_pooled_baseline_flag_cox():
    blocks, events, _ = simulate_register(seed=11, n_units=40, hazard_ratio=2.0)
    durations = compute_block_durations(blocks)
    events = events.assign(kind="summit")
    naive = fit_naive_contact_cox(durations, events, window_days=30, ties="breslow").iloc[0]
    flagged = flag_diplomatic_contact(durations, events, window_days=30)
    expected = fit_cox(flagged, ["has_diplomatic_contact"]).iloc[0]
    assert naive["model"] == "naive: pooled baseline flag"
    assert naive["hazard_ratio"] == pytest.approx(expected["hazard_ratio"], rel=1e-6)
    assert naive["wald_p"] == pytest.approx(expected["p_value"], rel=1e-5)


def test_full_analysis_row_ignores_input_row_order():
    blocks, events, coverage = simulate_register(seed=5, n_units=30, hazard_ratio=2.0)
    rng = np.random.default_rng(0)

    def analyse(b, e, c):
        units = build_analysis_units(compute_block_durations(b))
        return estimate_contact_effect(units, e, c, n_permutations=9, seed=8)

    pd.testing.assert_frame_equal(
        analyse(blocks, events, coverage),
        analyse(*(frame.sample(frac=1, random_state=rng) for frame in (blocks, events, coverage))),
    )


def test_an_empty_sample_gives_a_row_of_missing_estimates_not_an_error():
    blocks, events, coverage = simulate_register(seed=5, n_units=6)
    units = build_analysis_units(compute_block_durations(blocks))
    row = estimate_contact_effect(units, events, coverage.iloc[0:0], n_permutations=3).iloc[0]
    assert row["n_units"] == 0 and np.isnan(row["hazard_ratio"])
    assert row["separation"] == "no variation" and row["permutation_p"] == 1.0


def _toy_rows():
    # Stratum A: u1 exposed from day 2 and lifted on day 5 while u2 (unexposed) is at risk.
    # Stratum B: u3 exposed, u4 unexposed, but u4 lifts on day 1 before u3 enters.
    return pd.DataFrame(
        [
            ("u1", "d1", "A", "x", -0.5, 1.5, False, False),
            ("u1", "d1", "A", "x", 1.5, 5.0, True, True),
            ("u2", "d2", "A", "x", -0.5, 9.0, False, False),
            ("u3", "d3", "B", "x", 2.5, 6.0, False, True),
            ("u4", "d4", "B", "x", -0.5, 1.0, True, False),
        ],
        columns=["unit_id", "decision_id", "blocking_country", "dyad", "entry_day", "stop_day",
                 "event", "contact"],
    )


def test_strata_summary_counts_exposed_time_and_informative_lifts():
    table = summarise_contact_strata(_toy_rows()).set_index("blocking_country")
    assert table.loc["A"].tolist() == [2, 1, 11.5, 3.5, 1, 1, 1]
    assert table.loc["B"].tolist() == [2, 1, 1.5, 3.5, 1, 0, 0]
    only_b = _toy_rows().query("blocking_country == 'B'")
    assert fit_contact_cox(only_b)["separation"].iloc[0] == "no variation"


def test_result_line_says_not_estimable_instead_of_printing_numbers():
    only_b = _toy_rows().query("blocking_country == 'B'")
    row = fit_contact_cox(only_b, model="toy").iloc[0].to_dict() | {
        "n_permutations": 0, "permutation_p": np.nan, "strata_column": "blocking_country"
    }
    line = format_contact_result(row)
    assert line == (
        "toy: HR not estimable (no lift has an exposed and an unexposed unit at risk in its "
        "stratum), LR p = 1.000 (flat likelihood: no information); 2 units (1 exposed), "
        "1 lifts (0 exposed); no permutation test"
    )
    estimable = fit_contact_cox(_toy_rows(), model="toy").iloc[0].to_dict() | {
        "n_permutations": 9, "permutation_p": 0.5
    }
    assert estimable["separation"] == "positive"  # the one exposed lift outranks its risk set
    assert "separation: positive" in format_contact_result(estimable)
    assert format_contact_result(estimable).endswith("permutation p = 0.500 (B = 9)")
