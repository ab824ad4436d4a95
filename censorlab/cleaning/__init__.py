"""Cleaning: small pure ``df -> df`` steps, shared value parsers, and the one exit ``finish()``.

A source's ``clean`` chains steps from ``steps`` (reject marking, trimming, required cells,
source URLs, confidence, dates) and its own private ones, then ends in ``finish``. ``dates`` and
``units`` parse dates with their precision and user counts with their units; a source never
re-implements them.
"""

from censorlab.cleaning.finish import SourceResult, finish, spool_schema
from censorlab.cleaning.steps import (
    assert_valid,
    collect_urls,
    mark_rejects,
    parse_dates,
    pending,
    reject_invalid,
    require_cells,
    split_confidence,
    split_list,
    split_rejects,
    start_marking,
    strip_cells,
    validate_rows,
)

__all__ = [
    "SourceResult",
    "assert_valid",
    "collect_urls",
    "finish",
    "mark_rejects",
    "parse_dates",
    "pending",
    "reject_invalid",
    "require_cells",
    "spool_schema",
    "split_confidence",
    "split_list",
    "split_rejects",
    "start_marking",
    "strip_cells",
    "validate_rows",
]
