"""Closed vocabularies of the new raw columns (issues #9 and #10) that the analysis reads.

They belong in :mod:`censorlab.schema` (the data dictionary); until the lead wires the new
columns into the processed tables, the analysis spells them here exactly as the curators'
contract (``/work/staging/SPEC.md``) does (the ``SPEC_*`` literals). Each public name takes the
schema's value when :mod:`censorlab.schema` declares it, so there is one source of truth, and
``tests/test_analysis_vocabulary.py`` fails when the schema's value drifts from the contract the
analysis was written against.
"""

from __future__ import annotations

from censorlab import schema

END_STATUS_ENDED = "ended"
END_STATUS_IN_FORCE = "in_force"
END_STATUS_UNKNOWN = "unknown"
COMPILED_BY_SWEEP = "dyad-sweep"
COMPILED_BY_BLOCK = "block-linked"
#: The machine-coded calendar of ``contact_calendar.build_gdelt_contact_calendar``; not a
#: value of the curated table.
COMPILED_BY_GDELT = "gdelt"

#: ``block_events.end_status``: ``ended`` (a source says access came back), ``in_force`` (the
#: latest source read says it is still blocked), ``unknown`` (no source says either way).
SPEC_END_STATUSES = (END_STATUS_ENDED, END_STATUS_IN_FORCE, END_STATUS_UNKNOWN)
#: ``block_events.end_mechanism`` (ended blocks only).
SPEC_END_MECHANISMS = (
    "operator-complied",
    "court-order",
    "government-reversal",
    "event-over",
    "negotiated-with-operator",
    "diplomatic",
    "unknown",
)
#: ``diplomatic_events.contact_level`` (null for disputes and sanctions).
SPEC_CONTACT_LEVELS = (
    "leader-visit",
    "leader-meeting",
    "leader-call",
    "minister-visit",
    "minister-meeting",
    "agreement",
    "dialogue",
)
#: ``diplomatic_events.compiled_by``: only ``dyad-sweep`` rows were found without looking at
#: the blocks.
SPEC_COMPILED_BY_VALUES = (COMPILED_BY_SWEEP, COMPILED_BY_BLOCK)
#: ``mau.metric_kind``: what a user figure counts.
SPEC_METRIC_KINDS = ("mau", "dau", "registered", "users", "reach", "ad-audience", "downloads")

END_STATUSES: tuple[str, ...] = tuple(getattr(schema, "END_STATUSES", SPEC_END_STATUSES))
END_MECHANISMS: tuple[str, ...] = tuple(getattr(schema, "END_MECHANISMS", SPEC_END_MECHANISMS))
CONTACT_LEVELS: tuple[str, ...] = tuple(getattr(schema, "CONTACT_LEVELS", SPEC_CONTACT_LEVELS))
COMPILED_BY_VALUES: tuple[str, ...] = tuple(
    getattr(schema, "COMPILED_BY_VALUES", SPEC_COMPILED_BY_VALUES)
)
METRIC_KINDS: tuple[str, ...] = tuple(getattr(schema, "METRIC_KINDS", SPEC_METRIC_KINDS))
