"""OONI reliability rules: measurements whose verdict cannot be trusted, whatever the keys say.

The verdict rules (``verdicts.py``) read what a measurement's test keys say. Some data is known
to be wrong for reasons outside the keys: a test version with a bug, a server change that made
every probe fail. A rule here names such data and overrides its verdict with ``failure`` (the
measurement cannot say), and ``verdict_rule`` names the rule, so an analysis can count what was
overridden and why. Rules run in the order of ``RELIABILITY_RULES``; the first that matches a
row decides.

* ``signal:unreliable_v0.2.0_after_2022-10-19`` (ts-029, "Data analysis considerations"):
  Signal changed a root CA, so data of ``test_version`` 0.2.0 collected after 2022-10-19 cannot
  be trusted (from 2022-10-20 00:00:00 UTC).

A new rule is one function ``table -> boolean mask`` and one line in ``RELIABILITY_RULES``.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

SIGNAL_UNRELIABLE_FROM = "2022-10-20 00:00:00"  # "after 2022-10-19" (ts-029)


def _signal_v020_after_root_ca_change(table: pa.Table) -> pa.ChunkedArray:
    return pc.and_(pc.and_(pc.equal(table["test_name"], "signal"),
                           pc.equal(table["test_version"], "0.2.0")),
                   pc.greater_equal(table["measurement_start_time"], SIGNAL_UNRELIABLE_FROM))


#: (the tests a rule can match, the mask of unreliable rows, the verdict_rule it records)
RELIABILITY_RULES: tuple[tuple[tuple[str, ...], Callable[[pa.Table], pa.ChunkedArray], str],
                         ...] = (
    (("signal",), _signal_v020_after_root_ca_change, "signal:unreliable_v0.2.0_after_2022-10-19"),
)


def apply_reliability_rules(table: pa.Table, verdict, rule) -> tuple:
    """Override the verdicts of rows a reliability rule names; return (verdict, rule).

    Rules whose tests are absent from the table are not evaluated (the usual block holds one
    test), so a rule costs nothing for the other tests.
    """
    present = set(pc.unique(table["test_name"]).to_pylist())
    matched = None
    for tests, unreliable, name in RELIABILITY_RULES:
        if present.isdisjoint(tests):
            continue
        mask = pc.fill_null(unreliable(table), False)
        if matched is not None:
            mask = pc.and_(mask, pc.invert(matched))
        verdict = pc.if_else(mask, "failure", verdict)
        rule = pc.if_else(mask, name, rule)
        matched = mask if matched is None else pc.or_(matched, mask)
    return verdict, rule
