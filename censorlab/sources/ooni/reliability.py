"""OONI's reliability rules: data OONI itself knows to be wrong, whatever its test keys say.

The verdict rules (``verdicts.py``) read what a measurement's test keys say. Some data is known
to be wrong for reasons outside the keys -- a test version with a bug, a server change that
made every probe report a block -- and OONI's own pipeline discounts it: its fastpath scorer
(``ooni/backend`` ``fastpath/fastpath/core.py``, ``score_signal`` and
``score_measurement_whatsapp``, read at commit 32d8349d) marks such measurements as failed. The
rules below are those, one per line of ``RELIABILITY_RULES``, in the scorer's order (the first
that matches a row decides), each dated and with its reference. A rule's name becomes the row's
``verdict_rule`` (``reliability:signal-engine-lt-3.17.2``), so an analysis can count what was
overridden and why.

Each rule: ``verdict_rule`` -- the measurements it names -- from (UTC) -- verdict -- reference.

* ``reliability:signal-v0.2.4`` -- signal test_version 0.2.4 -- any date -- failure --
  https://github.com/ooni/probe/issues/2636, https://github.com/ooni/probe-cli/pull/1421.
* ``reliability:signal-le-0.2.3-from-2023-11-07`` -- signal test_version <= 0.2.3 --
  2023-11-07 -- failure -- https://github.com/ooni/probe/issues/2627.
* ``reliability:signal-lt-0.2.2-from-2022-10-19`` -- signal test_version < 0.2.2 (Signal
  changed a root CA; ts-029 says "after 2022-10-19", OONI's scorer counts the day itself) --
  2022-10-19 -- failure -- https://github.com/ooni/probe/issues/2344.
* ``reliability:signal-engine-lt-3.17.2`` -- signal from a probe engine
  (``annotations.engine_version``) older than 3.17.2; a missing version counts as 0.0.0 and a
  pre-release (``3.17.2-alpha``) as older than its release, as OONI's ``packaging.Version``
  does -- 2023-05-02 -- failure -- https://github.com/ooni/backend/issues/679.
* ``reliability:whatsapp-web-redirect-from-2022-12-02`` -- whatsapp with
  ``whatsapp_web_status`` blocked because of ``whatsapp_web_failure``
  ``http_unexpected_status_code``: that day WhatsApp stopped answering
  ``http://web.whatsapp.com/`` with the 302 redirect the probe expected, and OONI stopped
  counting that request -- 2022-12-02 -- the verdict without the web check (from the endpoints
  and registration statuses) -- ooni/backend commits 4316b934 and 383ab3f0 (2022-12-02,
  ``score_measurement_whatsapp``: "Ignore whatsapp web HTTP results").

Differences from OONI, on purpose: OONI re-scores every whatsapp measurement from its raw
``requests`` and ``tcp_connect`` (and has ignored the probe's summary flags since
ooni/probe-engine#341); censorlab keeps the probe's three statuses and only drops the web check
where it is known to be wrong, from the day WhatsApp's server changed -- before it an unexpected
status from ``http://web.whatsapp.com/`` (a block page answering 200) is still evidence. OONI also
fails a signal measurement whose engine version cannot be parsed at all; such a line keeps its
verdict here (no such line was seen). Probe bugs that OONI detects from the raw requests
(telegram requests without a URL, whatsapp ``unknown_failure``) are not rules here: censorlab
does not read the requests.

A new rule is one function ``table -> boolean mask`` and one :class:`ReliabilityRule` line;
``tests/test_source_ooni.py`` has one test per rule on a real measurement where one exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from censorlab.sources.ooni.verdicts import test_key

Mask = Callable[[pa.Table], pa.ChunkedArray]


@dataclass(frozen=True)
class ReliabilityRule:
    """One of OONI's reliability rules.

    Attributes:
        name: The ``verdict_rule`` recorded on the rows it decides.
        test: The OONI test it concerns (the rule costs nothing for blocks without it).
        since: First ``measurement_start_time`` it applies to (UTC), or None for any date.
        reference: Where OONI documents it.
        applies: The rows (of its test, from ``since``) it names.
        verdict: ``"failure"``, or a function giving the verdict of the named rows.
    """

    name: str
    test: str
    since: str | None
    reference: str
    applies: Mask
    verdict: str | Callable[[pa.Table], pa.ChunkedArray] = "failure"


def _version_ordinal(version) -> pa.ChunkedArray:
    """``"3.17.2"`` -> 2 * 3_017_002; a pre-release (``3.17.2-alpha``) one less; null if bad.

    Doubling leaves room for the pre-release step, so ``3.17.2-alpha < 3.17.2 < 3.17.3``.
    """
    parts = pc.extract_regex(version, r"^(?P<major>\d{1,6})\.(?P<minor>\d{1,3})\."
                                      r"(?P<patch>\d{1,3})(?P<rest>.*)$")
    ordinal = None
    for name, scale in (("major", 1_000_000), ("minor", 1_000), ("patch", 1)):
        term = pc.multiply(pc.cast(pc.struct_field(parts, name), pa.int64()), scale)
        ordinal = term if ordinal is None else pc.add(ordinal, term)
    prerelease = pc.starts_with(pc.struct_field(parts, "rest"), "-")
    return pc.subtract(pc.multiply(ordinal, 2), pc.cast(prerelease, pa.int64()))


def _ordinal(text: str) -> int:
    return _version_ordinal(pa.array([text])).to_pylist()[0]


def _test_version(table: pa.Table) -> pa.ChunkedArray:
    return _version_ordinal(table["test_version"])


def _signal_v024(table: pa.Table) -> pa.ChunkedArray:
    return pc.equal(table["test_version"], "0.2.4")


def _signal_le_023(table: pa.Table) -> pa.ChunkedArray:
    return pc.less_equal(_test_version(table), _ordinal("0.2.3"))


def _signal_lt_022(table: pa.Table) -> pa.ChunkedArray:
    return pc.less(_test_version(table), _ordinal("0.2.2"))


def _signal_engine_lt_3172(table: pa.Table) -> pa.ChunkedArray:
    engine = pc.fill_null(pc.struct_field(table["annotations"], "engine_version"), "0.0.0")
    return pc.less(_version_ordinal(engine), _ordinal("3.17.2"))


def _whatsapp_web_redirect(table: pa.Table) -> pa.ChunkedArray:
    return pc.and_(pc.equal(test_key(table, "whatsapp_web_status"), "blocked"),
                   pc.equal(test_key(table, "whatsapp_web_failure"),
                            "http_unexpected_status_code"))


def _whatsapp_without_web(table: pa.Table) -> pa.ChunkedArray:
    """The whatsapp verdict from the endpoints and the registration server only."""
    endpoints = test_key(table, "whatsapp_endpoints_status")
    registration = test_key(table, "registration_server_status")
    blocked = pc.fill_null(pc.or_(pc.equal(endpoints, "blocked"),
                                  pc.equal(registration, "blocked")), False)
    ok = pc.fill_null(pc.and_(pc.equal(endpoints, "ok"), pc.equal(registration, "ok")), False)
    return pc.if_else(blocked, "blocked", pc.if_else(ok, "ok", "failure"))


RELIABILITY_RULES: tuple[ReliabilityRule, ...] = (
    ReliabilityRule("reliability:signal-v0.2.4", "signal", None,
                    "https://github.com/ooni/probe/issues/2636", _signal_v024),
    ReliabilityRule("reliability:signal-le-0.2.3-from-2023-11-07", "signal",
                    "2023-11-07 00:00:00", "https://github.com/ooni/probe/issues/2627",
                    _signal_le_023),
    ReliabilityRule("reliability:signal-lt-0.2.2-from-2022-10-19", "signal",
                    "2022-10-19 00:00:00", "https://github.com/ooni/probe/issues/2344",
                    _signal_lt_022),
    ReliabilityRule("reliability:signal-engine-lt-3.17.2", "signal", "2023-05-02 00:00:00",
                    "https://github.com/ooni/backend/issues/679", _signal_engine_lt_3172),
    ReliabilityRule("reliability:whatsapp-web-redirect-from-2022-12-02", "whatsapp",
                    "2022-12-02 00:00:00",
                    "https://github.com/ooni/backend/commit/383ab3f0 (fastpath/core.py "
                    "score_measurement_whatsapp, 2022-12-02)", _whatsapp_web_redirect,
                    _whatsapp_without_web),
)


def apply_reliability_rules(table: pa.Table, verdict, rule) -> tuple:
    """Override the verdicts of rows a reliability rule names; return (verdict, rule).

    Rules whose test is absent from the table are not evaluated (the usual block holds one
    test), so a rule costs nothing for the other tests. ``measurement_start_time`` is the
    validated ``YYYY-MM-DD HH:MM:SS`` text, so a string comparison orders it.
    """
    present = set(pc.unique(table["test_name"]).to_pylist())
    matched = None
    for reliability in RELIABILITY_RULES:
        if reliability.test not in present:
            continue
        mask = pc.and_(pc.equal(table["test_name"], reliability.test),
                       reliability.applies(table))
        if reliability.since is not None:
            mask = pc.and_(mask, pc.greater_equal(table["measurement_start_time"],
                                                  reliability.since))
        mask = pc.fill_null(mask, False)
        if matched is not None:
            mask = pc.and_(mask, pc.invert(matched))
        if not pc.any(mask).as_py():
            continue
        new = (reliability.verdict if isinstance(reliability.verdict, str)
               else reliability.verdict(table))
        verdict = pc.if_else(mask, new, verdict)
        rule = pc.if_else(mask, reliability.name, rule)
        matched = mask if matched is None else pc.or_(matched, mask)
    return verdict, rule
