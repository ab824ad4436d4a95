"""Interpretations computed from the processed tables: durations, contact models, windows, users.

Facts stay in the processed tables (``censorlab.load``); everything here is derived on
demand, with its assumptions stated in each module's docstring, and returned as tidy pandas
frames so notebooks can print, plot and test them. The design of the contact analysis (issue
#9) is written up in ``docs/design.md``; in order, a notebook calls:

1. :func:`compute_block_durations` (censoring from ``end_status``) and
   :func:`build_analysis_units` (one unit per decision and operator home country);
2. :func:`build_contact_intervals` / :func:`explain_sample` (start-stop rows on covered time);
3. :func:`estimate_contact_effect` (stratified time-varying Cox, LR, profile, Firth,
   placebo-calendar permutation), with :func:`estimate_landmark_effect`,
   :func:`bootstrap_contact_cox` and the labelled contrast :func:`fit_naive_contact_cox`;
   :func:`summarise_contact_strata` and :func:`format_contact_result` say why a result is or
   is not estimable, in one line.
"""

from censorlab.analysis.contact_calendar import (
    ALL_CONTACT_LEVELS,
    LEADER_CONTACT_LEVELS,
    MAIN_COMPILED_BY,
    MAIN_CONTACT_LEVELS,
    MINISTER_CONTACT_LEVELS,
    build_gdelt_contact_calendar,
    build_gdelt_coverage,
    draw_placebo_calendar,
    select_calendar_contacts,
    select_covered_spans,
    tabulate_coverage,
)
from censorlab.analysis.contact_models import (
    bootstrap_contact_cox,
    check_separation,
    compute_score_statistic,
    estimate_contact_effect,
    estimate_landmark_effect,
    fit_contact_cox,
    fit_naive_contact_cox,
    format_contact_result,
    run_permutation_test,
    summarise_contact_strata,
)
from censorlab.analysis.covariates import (
    CONTACT_KINDS,
    add_block_covariates,
    assign_region,
    classify_authority,
    flag_diplomatic_contact,
    group_operator_home,
    pool_rare_levels,
)
from censorlab.analysis.decisions import build_analysis_units
from censorlab.analysis.durations import (
    CENSORING_SCENARIOS,
    MAIN_CENSORING_SCENARIO,
    check_end_status,
    compute_block_durations,
    select_implemented_blocks,
    summarise_duration_bounds,
)
from censorlab.analysis.intervals import (
    MAIN_SAME_DAY_ORDER,
    MAIN_WINDOW_DAYS,
    build_contact_intervals,
    build_landmark_data,
    compute_at_risk_days,
    explain_sample,
    split_at_risk_days,
)
from censorlab.analysis.survival import (
    check_proportional_hazards,
    estimate_km,
    estimate_survival_at,
    fit_cox,
    fit_cox_across_bounds,
    run_logrank_across_bounds,
    run_logrank_test,
    summarise_end_status_sensitivity,
    summarise_km,
    summarise_km_across_bounds,
)
from censorlab.analysis.userbase import (
    add_log_global_mau,
    add_metric_kind,
    estimate_users_exposed,
    lookup_mau_at_start,
    rank_blocks_by_exposure,
    summarise_mau_by_period,
)
from censorlab.analysis.windows import (
    compare_with_placebo,
    find_blocks_near_events,
    find_events_near_blocks,
)

__all__ = [
    "ALL_CONTACT_LEVELS",
    "CENSORING_SCENARIOS",
    "CONTACT_KINDS",
    "LEADER_CONTACT_LEVELS",
    "MAIN_CENSORING_SCENARIO",
    "MAIN_COMPILED_BY",
    "MAIN_CONTACT_LEVELS",
    "MAIN_SAME_DAY_ORDER",
    "MAIN_WINDOW_DAYS",
    "MINISTER_CONTACT_LEVELS",
    "add_block_covariates",
    "add_log_global_mau",
    "add_metric_kind",
    "assign_region",
    "bootstrap_contact_cox",
    "build_analysis_units",
    "build_contact_intervals",
    "build_gdelt_contact_calendar",
    "build_gdelt_coverage",
    "build_landmark_data",
    "check_end_status",
    "check_proportional_hazards",
    "check_separation",
    "classify_authority",
    "compare_with_placebo",
    "compute_at_risk_days",
    "compute_block_durations",
    "compute_score_statistic",
    "draw_placebo_calendar",
    "estimate_contact_effect",
    "estimate_km",
    "estimate_landmark_effect",
    "estimate_survival_at",
    "estimate_users_exposed",
    "explain_sample",
    "find_blocks_near_events",
    "find_events_near_blocks",
    "fit_contact_cox",
    "fit_cox",
    "fit_cox_across_bounds",
    "fit_naive_contact_cox",
    "format_contact_result",
    "flag_diplomatic_contact",
    "group_operator_home",
    "lookup_mau_at_start",
    "pool_rare_levels",
    "rank_blocks_by_exposure",
    "run_logrank_across_bounds",
    "run_logrank_test",
    "run_permutation_test",
    "select_calendar_contacts",
    "select_covered_spans",
    "select_implemented_blocks",
    "split_at_risk_days",
    "summarise_contact_strata",
    "summarise_duration_bounds",
    "summarise_end_status_sensitivity",
    "summarise_km",
    "summarise_km_across_bounds",
    "summarise_mau_by_period",
    "tabulate_coverage",
]
