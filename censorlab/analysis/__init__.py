"""Interpretations computed from the processed tables: durations, survival, windows, user base.

Facts stay in the processed tables (``censorlab.load``); everything here is derived on
demand, with its assumptions stated in each module's docstring, and returned as tidy pandas
frames so notebooks can print, plot and test them.
"""

from censorlab.analysis.covariates import (
    CONTACT_KINDS,
    add_block_covariates,
    assign_region,
    classify_authority,
    flag_diplomatic_contact,
    group_operator_home,
    pool_rare_levels,
)
from censorlab.analysis.durations import (
    CENSORING_SCENARIOS,
    MAIN_CENSORING_SCENARIO,
    check_end_status,
    compute_block_durations,
    select_implemented_blocks,
    summarise_duration_bounds,
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
    "CENSORING_SCENARIOS",
    "CONTACT_KINDS",
    "MAIN_CENSORING_SCENARIO",
    "add_block_covariates",
    "add_log_global_mau",
    "assign_region",
    "check_end_status",
    "check_proportional_hazards",
    "classify_authority",
    "compare_with_placebo",
    "compute_block_durations",
    "estimate_km",
    "estimate_survival_at",
    "estimate_users_exposed",
    "find_blocks_near_events",
    "find_events_near_blocks",
    "fit_cox",
    "fit_cox_across_bounds",
    "flag_diplomatic_contact",
    "group_operator_home",
    "lookup_mau_at_start",
    "pool_rare_levels",
    "rank_blocks_by_exposure",
    "run_logrank_across_bounds",
    "run_logrank_test",
    "select_implemented_blocks",
    "summarise_duration_bounds",
    "summarise_end_status_sensitivity",
    "summarise_km",
    "summarise_km_across_bounds",
    "summarise_mau_by_period",
]
