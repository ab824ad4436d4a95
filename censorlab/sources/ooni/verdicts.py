"""OONI verdict rules: what the test keys of one measurement say, in one file to review.

Each rule reads the ``test_keys`` its test's spec defines and gives ``verdict`` (``ok``,
``blocked`` or ``failure``) and ``verdict_rule`` (which keys decided, e.g.
``telegram:tcp_blocking+web_status``). ``failure`` means the measurement cannot say, never "not
blocked". Data OONI's own pipeline knows to be wrong (test and engine versions, a server
change) is overridden afterwards by the dated reliability rules in ``reliability.py`` beside
this file (mostly verdict ``failure``; ``verdict_rule`` then names the rule, e.g.
``reliability:signal-engine-lt-3.17.2``).

* whatsapp (ts-018, spec 2020-07-09-001): ``blocked`` if any of ``whatsapp_endpoints_status``,
  ``registration_server_status``, ``whatsapp_web_status`` is ``"blocked"`` (the rule lists
  them, e.g. ``whatsapp:endpoints_status+web_status``); ``ok`` if all three are ``"ok"``; else
  ``failure`` (``whatsapp:status_missing``).
* telegram (ts-020, 2022-12-07-001): ``blocked`` if ``telegram_tcp_blocking`` or
  ``telegram_http_blocking`` is true or ``telegram_web_status`` is ``"blocked"``
  (``telegram:tcp_blocking``...); ``ok`` if both blocking flags are false and the web status is
  not blocked; else ``failure`` (``telegram:flags_missing``).
* facebook_messenger (ts-019, 2016-10-25-001): ``blocked`` if ``facebook_tcp_blocking`` or
  ``facebook_dns_blocking`` is true; ``ok`` if both false; else ``failure``. Up to
  test_version 0.3.0 the keys were hyphenated (``facebook-tcp-blocking``), from 0.4.0
  underscored: the version's spelling is read first, the other as a fallback.
* signal (ts-029, 2021-02-15-001): ``blocked``/``ok`` from ``signal_backend_status``; null is
  ``failure`` (``signal:backend_status_missing``).
* web_connectivity (ts-017, "Semantics"): ``blocking`` is ``"tcp_ip"``, ``"dns"``,
  ``"http-diff"``, ``"http-failure"`` (or the older ``"http"``) -> ``blocked``
  (``web_connectivity:blocking=dns``); ``false`` -> ``ok`` when ``accessible`` is true, else
  ``failure`` (``web_connectivity:down_everywhere``: the site also failed for the control);
  null -> ``failure``. Any other value is rejected before the rules run (``constraint-error``).

Every function takes the block's Arrow table (rows of one or several tests) and returns two
string arrays of the table's length; ``assign_verdicts`` picks each row's test's rule.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

WEB_BLOCKING_VALUES = ("tcp_ip", "dns", "http-diff", "http-failure", "http")


def test_key(table: pa.Table, key: str) -> pa.ChunkedArray:
    """Return one key of the `test_keys` struct column (null where absent)."""
    return pc.struct_field(table["test_keys"], key)


def _version_ordinal(version: pa.ChunkedArray) -> pa.ChunkedArray:
    """``"0.4.0"`` -> 4000 (major * 10**6 + minor * 10**3 + patch), for version comparisons."""
    parts = pc.split_pattern(version, ".")
    ordinal = None
    for i, scale in enumerate((1_000_000, 1_000, 1)):
        term = pc.multiply(pc.cast(pc.list_element(parts, i), pa.int64()), scale)
        ordinal = term if ordinal is None else pc.add(ordinal, term)
    return ordinal


def _rule_join(parts: list[tuple[pa.ChunkedArray, str]], prefix: str) -> pa.ChunkedArray:
    """Name the conditions that hold, e.g. ``telegram:tcp_blocking+web_status``.

    Each row's set of true conditions is a bit code; the names come from a lookup table of all
    2**n combinations (n <= 3), which is much cheaper than joining strings per row.
    """
    code = None
    for bit, (cond, _) in enumerate(parts):
        term = pc.multiply(pc.cast(pc.fill_null(cond, False), pa.int8()), 1 << bit)
        code = term if code is None else pc.add(code, term)
    names = [prefix + "+".join(name for bit, (_, name) in enumerate(parts) if combo >> bit & 1)
             for combo in range(1 << len(parts))]
    return pc.take(pa.array(names), code)


def _verdicts_whatsapp(t: pa.Table):
    names = {"endpoints_status": "whatsapp_endpoints_status",
             "registration_server_status": "registration_server_status",
             "web_status": "whatsapp_web_status"}
    blocked = [(pc.equal(test_key(t, key), "blocked"), short) for short, key in names.items()]
    any_blocked = pc.fill_null(pc.or_(pc.or_(blocked[0][0], blocked[1][0]), blocked[2][0]), False)
    all_ok = None
    for key in names.values():
        ok = pc.fill_null(pc.equal(test_key(t, key), "ok"), False)
        all_ok = ok if all_ok is None else pc.and_(all_ok, ok)
    verdict = pc.if_else(any_blocked, "blocked", pc.if_else(all_ok, "ok", "failure"))
    rule = pc.if_else(any_blocked, _rule_join(blocked, "whatsapp:"),
                      pc.if_else(all_ok, "whatsapp:all_status_ok", "whatsapp:status_missing"))
    return verdict, rule


def _verdicts_telegram(t: pa.Table):
    tcp, http = test_key(t, "telegram_tcp_blocking"), test_key(t, "telegram_http_blocking")
    web_blocked = pc.equal(test_key(t, "telegram_web_status"), "blocked")
    conditions = [(tcp, "tcp_blocking"), (http, "http_blocking"), (web_blocked, "web_status")]
    any_blocked = pc.fill_null(pc.or_kleene(pc.or_kleene(tcp, http), web_blocked), False)
    ok = pc.and_(pc.and_(pc.fill_null(pc.equal(tcp, False), False),
                         pc.fill_null(pc.equal(http, False), False)),
                 pc.invert(pc.fill_null(web_blocked, False)))
    verdict = pc.if_else(any_blocked, "blocked", pc.if_else(ok, "ok", "failure"))
    rule = pc.if_else(any_blocked, _rule_join(conditions, "telegram:"),
                      pc.if_else(ok, "telegram:no_blocking_flags", "telegram:flags_missing"))
    return verdict, rule


def _verdicts_facebook(t: pa.Table):
    legacy = pc.less(_version_ordinal(t["test_version"]), 4_000)  # < 0.4.0: hyphens (ts-019)
    pairs = {}
    for what in ("tcp", "dns"):
        under = test_key(t, f"facebook_{what}_blocking")
        hyphen = test_key(t, f"facebook-{what}-blocking")
        pairs[what] = pc.if_else(legacy, pc.coalesce(hyphen, under), pc.coalesce(under, hyphen))
    conditions = [(pairs["tcp"], "tcp_blocking"), (pairs["dns"], "dns_blocking")]
    any_blocked = pc.fill_null(pc.or_kleene(pairs["tcp"], pairs["dns"]), False)
    ok = pc.and_(pc.fill_null(pc.equal(pairs["tcp"], False), False),
                 pc.fill_null(pc.equal(pairs["dns"], False), False))
    verdict = pc.if_else(any_blocked, "blocked", pc.if_else(ok, "ok", "failure"))
    rule = pc.if_else(any_blocked, _rule_join(conditions, "facebook_messenger:"),
                      pc.if_else(ok, "facebook_messenger:no_blocking_flags",
                                 "facebook_messenger:flags_missing"))
    return verdict, rule


def _verdicts_signal(t: pa.Table):
    status = test_key(t, "signal_backend_status")
    blocked = pc.fill_null(pc.equal(status, "blocked"), False)
    ok = pc.fill_null(pc.equal(status, "ok"), False)
    verdict = pc.if_else(blocked, "blocked", pc.if_else(ok, "ok", "failure"))
    rule = pc.if_else(pc.or_(blocked, ok), "signal:backend_status",
                      "signal:backend_status_missing")
    return verdict, rule


def _verdicts_web(t: pa.Table):
    blocking = test_key(t, "blocking")
    accessible = pc.fill_null(pc.equal(test_key(t, "accessible"), True), False)
    is_blocked = pc.fill_null(pc.is_in(blocking, pa.array(WEB_BLOCKING_VALUES)), False)
    is_false = pc.fill_null(pc.equal(blocking, "false"), False)
    ok = pc.and_(is_false, accessible)
    verdict = pc.if_else(is_blocked, "blocked", pc.if_else(ok, "ok", "failure"))
    rule = pc.if_else(
        is_blocked, pc.binary_join_element_wise("web_connectivity:blocking=", blocking, ""),
        pc.if_else(ok, "web_connectivity:accessible",
                   pc.if_else(is_false, "web_connectivity:down_everywhere",
                              "web_connectivity:blocking_null")))
    return verdict, rule


VERDICT_RULES = {
    "whatsapp": _verdicts_whatsapp,
    "telegram": _verdicts_telegram,
    "facebook_messenger": _verdicts_facebook,
    "signal": _verdicts_signal,
    "web_connectivity": _verdicts_web,
}


def assign_verdicts(table: pa.Table) -> tuple[pa.Array, pa.Array]:
    """Return (verdict, verdict_rule) for every row, each by its own test's rule."""
    present = pc.unique(table["test_name"]).to_pylist()
    if len(present) == 1:  # the usual block (OONI files hold one test): no per-test merge
        return VERDICT_RULES[present[0]](table)
    verdict = pa.nulls(table.num_rows, pa.string())
    rule = pa.nulls(table.num_rows, pa.string())
    for test, rules in VERDICT_RULES.items():
        is_test = pc.equal(table["test_name"], test)
        if not pc.any(is_test).as_py():
            continue
        test_verdict, test_rule = rules(table)
        verdict = pc.if_else(is_test, test_verdict, verdict)
        rule = pc.if_else(is_test, test_rule, rule)
    return verdict, rule
