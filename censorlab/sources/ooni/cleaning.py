"""Cleaning OONI rows: raw Arrow columns -> rows of ooni_measurements with a verdict, or rejects.

Known quirks (each handled, none silently):

* ``probe_cc = "ZZ"`` (or ``XX``) / ``probe_asn = "AS0"`` in any zero-padding (``AS00``,
  ``AS0000000000``): the probe withheld its location (or ASN lookup failed, OONI's 2020 ASN
  incident): ``withheld-probe``. Any other ``probe_cc`` must be an assigned ISO 3166-1 code
  (or ``XK``, Kosovo): ``QQ`` and the other user-assigned codes are ``constraint-error``; an
  ASN above 2**32 - 1 does not exist: ``implausible-value``.
* ``test_keys`` null or absent: ``no-test-keys``; a test censorlab has no rule for:
  ``constraint-error``; a ``test_version`` that is not N.N.N: ``type-error``.
* Timestamps are UTC strings ``YYYY-MM-DD HH:MM:SS`` without a zone; the date always comes from
  ``measurement_start_time``, never from the file path. Impossible dates (``2017-02-30``) and
  years outside 1970-2099 are ``type-error`` -- not rolled over as Arrow's parser would do.
* ``measurement_uid`` is OONI's own when the line has one (or, for an API response, when the
  response gives it: ``parse.read_document``); otherwise it is
  ``"h" + sha256(report_id + "|" + (input or "") + "|" + measurement_start_time)[:31]`` (hex),
  deterministic across machines and runs.
* ``service_id`` comes from the test (telegram -> telegram), for web_connectivity from the input
  URL's host through the services catalog (``web.telegram.org`` -> telegram); null when the host
  belongs to no catalogued service.

The verdicts themselves are in ``verdicts.py`` and ``reliability.py``; duplicates are found
after the shuffle, in stage 2 (``dataset.py``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from censorlab.cleaning import SourceResult, finish
from censorlab.reference import Context
from censorlab.reference.countries import ALPHA2_CODES
from censorlab.sources.ooni.formats import (
    DATASET,
    SERVICE_BY_TEST,
    SPOOL_SCHEMA,
    TABLE,
    TESTS,
    TIME_FORMAT,
)
from censorlab.sources.ooni.parse import RawBlock, RawBlocks, reject_record
from censorlab.sources.ooni.reliability import apply_reliability_rules
from censorlab.sources.ooni.verdicts import WEB_BLOCKING_VALUES, assign_verdicts, test_key


@dataclass
class _Work:
    """A block on its way through the cleaning steps: its rows, which are still alive, rejects.

    Reject steps only mark rows (first reason wins, as if each step had removed them);
    ``_drop_rejected`` removes them all at once, so the table is copied once per block instead
    of once per step.
    """

    table: pa.Table
    raw: RawBlock | RawBlocks
    source_file: str
    service_for_host: Callable[[str], str | None]
    rejects: list[dict] = field(default_factory=list)
    alive: np.ndarray | None = None
    marked: list[tuple[np.ndarray, str, list[str]]] = field(default_factory=list)

    def pipe(self, step: Callable[[_Work], _Work]) -> _Work:
        """Apply one cleaning step (pandas-style chaining for Arrow tables)."""
        return step(self)

    def reject(self, mask, reason: str,
               detail: str | Callable[[np.ndarray], list[str]]) -> _Work:
        """Mark the live rows where ``mask`` is true as rejected, with a reason and a detail.

        Args:
            mask: Boolean array over the block's rows (null counts as false).
            reason: Reason code.
            detail: Text, or a function from row indices to one text per row (computed for
                the hit rows only).
        """
        if not pc.any(mask).as_py():  # the common case: one cheap scan, nothing to mark
            return self
        if self.alive is None:
            self.alive = np.ones(self.table.num_rows, dtype=bool)
        hit = pc.fill_null(mask, False)
        hit = np.asarray(hit.to_numpy(zero_copy_only=False) if hasattr(hit, "to_numpy")
                         else hit, dtype=bool) & self.alive
        if not hit.any():
            return self
        index = np.flatnonzero(hit)
        details = [detail] * len(index) if isinstance(detail, str) else detail(index)
        self.marked.append((index, reason, details))
        self.alive &= ~hit
        return self


def _drop_rejected(w: _Work) -> _Work:
    """Turn marked rows into reject records (in line order) and remove them from the table."""
    if not w.marked:
        return w
    index = np.concatenate([m[0] for m in w.marked])
    reasons = [r for m in w.marked for r in [m[1]] * len(m[0])]
    details = [d for m in w.marked for d in m[2]]
    order = np.argsort(index, kind="stable")
    lines = pc.take(w.table["source_line"], pa.array(index[order])).to_pylist()
    texts = w.raw.raw_texts(lines)
    for k, line, text in zip(order, lines, texts, strict=True):
        w.rejects.append(reject_record(w.source_file, line, "clean", reasons[k], details[k],
                                 text))
    w.table = w.table.filter(pa.array(w.alive))
    w.marked, w.alive = [], None
    return w


def _describe(prefix: str, *columns: pa.ChunkedArray) -> Callable[[np.ndarray], list[str]]:
    """Return a detail maker: ``prefix`` + the row's values (``null`` for missing)."""
    def make(index: np.ndarray) -> list[str]:
        picked = [pc.take(c, pa.array(index)).to_pylist() for c in columns]
        return [prefix + " ".join("null" if v is None else str(v) for v in values)
                for values in zip(*picked, strict=True)]

    return make


def _reject_missing_cells(w: _Work) -> _Work:
    for key in ("measurement_start_time", "probe_cc", "probe_asn", "test_name", "test_version",
                "report_id"):
        if w.table[key].null_count:
            w = w.reject(pc.is_null(w.table[key]), "missing-cell", f"{key} is missing or null")
    return w


def _reject_unsupported_tests(w: _Work) -> _Work:
    mask = pc.invert(pc.is_in(w.table["test_name"], pa.array(TESTS)))
    return w.reject(mask, "constraint-error",
                    _describe("test_name is not one of the supported tests: ",
                              w.table["test_name"]))


WITHHELD_COUNTRY_CODES = ("ZZ", "XX")  # OONI's "unknown country"; XX in older probes
WITHHELD_ASN_PATTERN = r"^AS0+$"  # AS0 however padded
MAX_ASN = 2**32 - 1  # ASNs are 32-bit (RFC 6793)


def _reject_withheld_probes(w: _Work) -> _Work:
    mask = pc.or_(pc.is_in(w.table["probe_cc"], pa.array(WITHHELD_COUNTRY_CODES)),
                  pc.match_substring_regex(w.table["probe_asn"], WITHHELD_ASN_PATTERN))
    return w.reject(mask, "withheld-probe",
                    _describe("probe withheld: probe_cc, probe_asn = ", w.table["probe_cc"],
                              w.table["probe_asn"]))


def _reject_malformed_probe_ids(w: _Work) -> _Work:
    bad_cc = pc.invert(pc.is_in(w.table["probe_cc"], pa.array(sorted(ALPHA2_CODES))))
    w = w.reject(bad_cc, "constraint-error", _describe("probe_cc is not an assigned ISO "
                                                        "3166-1 alpha-2 code: ",
                                                        w.table["probe_cc"]))
    bad_asn = pc.invert(pc.match_substring_regex(w.table["probe_asn"], r"^AS[0-9]{1,10}$"))
    w = w.reject(bad_asn, "type-error", _describe("probe_asn is not AS<number>: ",
                                                  w.table["probe_asn"]))
    digits = pc.if_else(pc.fill_null(bad_asn, True), "0",
                        pc.utf8_slice_codeunits(w.table["probe_asn"], 2))
    too_big = pc.greater(pc.cast(digits, pa.int64()), MAX_ASN)
    return w.reject(too_big, "implausible-value", _describe(f"probe_asn is above {MAX_ASN}: ",
                                                            w.table["probe_asn"]))


def _parse_start_times(w: _Work) -> _Work:
    """Parse ``measurement_start_time``; reject any text that is not exactly a valid time.

    Fast path: Arrow's ISO 8601 cast refuses impossible dates and times (2017-02-30, 10:00:60)
    and one-digit fields; with the length fixed at 19 and no ``T`` it accepts exactly
    ``YYYY-MM-DD HH:MM:SS``. When the cast refuses the block, each row is parsed with strptime
    and kept only if formatting it back gives the same text, because strptime rolls
    impossible values over (2017-02-30 -> 2017-03-02, 10:00:60 -> 10:01:00) instead of failing.
    """
    text = w.table["measurement_start_time"]
    shaped = pc.and_(pc.equal(pc.binary_length(text), 19),
                     pc.invert(pc.match_substring(text, "T")))
    try:
        parsed = pc.cast(pc.if_else(shaped, text, None), pa.timestamp("s"))
        valid = shaped
    except pa.ArrowInvalid:
        parsed = pc.strptime(text, format=TIME_FORMAT, unit="s", error_is_null=True)
        valid = pc.and_(shaped, pc.equal(pc.strftime(parsed, format=TIME_FORMAT), text))
    # years outside 1970-2099 are typos or placeholders (0000-01-01), not measurements
    in_range = pc.and_(pc.greater_equal(parsed, pa.scalar(0, pa.timestamp("s"))),
                       pc.less(parsed, pa.scalar(4102444800, pa.timestamp("s"))))
    valid = pc.and_(pc.fill_null(valid, False), pc.fill_null(in_range, False))
    parsed = pc.if_else(valid, parsed, None)
    w.table = w.table.append_column("start_ts", parsed.cast(pa.timestamp("us", tz="UTC")))
    return w.reject(pc.invert(valid), "type-error",
                    _describe("measurement_start_time is not a valid YYYY-MM-DD HH:MM:SS "
                              "in 1970-2099: ",
                              text))


def _reject_missing_test_keys(w: _Work) -> _Work:
    return w.reject(pc.is_null(w.table["test_keys"]), "no-test-keys", "test_keys is null or "
                    "absent")


def _reject_malformed_versions(w: _Work) -> _Work:
    version = w.table["test_version"]
    bad = pc.invert(pc.match_substring_regex(version, r"^\d+\.\d+\.\d+$"))
    return w.reject(bad, "type-error", _describe("test_version is not N.N.N: ", version))


def _reject_missing_inputs(w: _Work) -> _Work:
    mask = pc.and_(pc.equal(w.table["test_name"], "web_connectivity"),
                   pc.is_null(w.table["input"]))
    return w.reject(mask, "missing-cell", "input is null for web_connectivity")


def _reject_unknown_blocking(w: _Work) -> _Work:
    blocking = test_key(w.table, "blocking")
    known = pc.is_in(blocking, pa.array(("false", *WEB_BLOCKING_VALUES)))
    mask = pc.and_(pc.equal(w.table["test_name"], "web_connectivity"),
                   pc.and_(pc.is_valid(blocking), pc.invert(known)))
    return w.reject(mask, "constraint-error",
                    _describe("test_keys.blocking has an unknown value: ", blocking))


def _assign_verdicts(w: _Work) -> _Work:
    """Say what the test keys say (``verdicts.py``), then what the data is worth."""
    verdict, rule = apply_reliability_rules(w.table, *assign_verdicts(w.table))
    w.table = w.table.append_column("verdict", verdict).append_column("verdict_rule", rule)
    return w


def fallback_uid(report_id: str, input_: str | None, start_time: str) -> str:
    """Return the documented deterministic id for a measurement without measurement_uid."""
    text = f"{report_id}|{input_ or ''}|{start_time}"
    return "h" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:31]


def _assign_measurement_uids(w: _Work) -> _Work:
    uid = w.table["measurement_uid"]
    missing = pc.is_null(uid)
    if pc.any(missing).as_py():
        values = uid.to_pylist()
        rid, inp = w.table["report_id"].to_pylist(), w.table["input"].to_pylist()
        start = w.table["measurement_start_time"].to_pylist()
        for i, value in enumerate(values):
            if value is None:
                values[i] = fallback_uid(rid[i], inp[i], start[i])
        uid = pa.array(values, pa.string())
    w.table = w.table.set_column(w.table.schema.get_field_index("measurement_uid"),
                                 "measurement_uid", uid)
    return w


_HOST_RE = r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?(?P<host>\[[^\]]*\]|[^:/?#]*)"


def _assign_services(w: _Work) -> _Work:
    t = w.table
    mapping = pa.array(list(SERVICE_BY_TEST)), pa.array(list(SERVICE_BY_TEST.values()))
    service = pc.take(mapping[1], pc.index_in(t["test_name"], mapping[0]))
    is_web = pc.equal(t["test_name"], "web_connectivity")
    if t.num_rows and pc.any(is_web).as_py():
        hosts = pc.utf8_lower(pc.struct_field(pc.extract_regex(pc.fill_null(t["input"], ""),
                                                               _HOST_RE), "host"))
        unique = pc.unique(hosts).to_pylist()
        lookup = pa.array([w.service_for_host(h) if h else None for h in unique],
                          pa.string())
        web_service = pc.take(lookup, pc.index_in(hosts, pa.array(unique, pa.string())))
        service = pc.if_else(is_web, web_service, service)
    w.table = w.table.append_column("service_id", service)
    return w


def _select_columns(w: _Work) -> _Work:
    t = w.table
    month = pc.utf8_slice_codeunits(t["measurement_start_time"], 0, 7)
    asn = pc.cast(pc.utf8_slice_codeunits(t["probe_asn"], 2), pa.int64())
    files = pa.repeat(pa.scalar(w.source_file, pa.string()), t.num_rows)
    columns = {
        "measurement_uid": t["measurement_uid"], "measurement_start_time": t["start_ts"],
        "measurement_month": month, "probe_cc": t["probe_cc"], "probe_asn": asn,
        "test_name": t["test_name"], "test_version": t["test_version"], "input": t["input"],
        "report_id": t["report_id"], "service_id": t["service_id"], "verdict": t["verdict"],
        "verdict_rule": t["verdict_rule"], "software_name": t["software_name"],
        "software_version": t["software_version"], "source_file": files,
        "source_line": t["source_line"],
    }
    w.table = pa.table(columns, schema=SPOOL_SCHEMA)
    return w


def clean(raw: RawBlocks, context: Context) -> SourceResult:
    """Turn a batch of parsed blocks into ooni_measurements rows (before dedup) and rejects.

    Reject steps only mark rows; the marked rows leave the table at once before the verdicts
    (a malformed version or time must never reach a rule), then the surviving rows get their
    verdict, uid and service, and ``finish`` applies the table's Arrow types and checks the
    batch's accounting (every line of the batch clean or rejected).
    """
    work = (
        _Work(raw.table, raw, raw.name, context.services.service_for_host)
        .pipe(_reject_missing_cells)
        .pipe(_reject_unsupported_tests)
        .pipe(_reject_withheld_probes)
        .pipe(_reject_malformed_probe_ids)
        .pipe(_parse_start_times)
        .pipe(_reject_missing_test_keys)
        .pipe(_reject_malformed_versions)
        .pipe(_reject_missing_inputs)
        .pipe(_reject_unknown_blocking)
        .pipe(_drop_rejected)
        .pipe(_assign_verdicts)
        .pipe(_assign_measurement_uids)
        .pipe(_assign_services)
        .pipe(_select_columns)
    )
    return finish(raw, TABLE, clean=work.table, rejects=[work.rejects], dataset=DATASET)

