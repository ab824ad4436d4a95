"""Property-based tests (hypothesis) on every cleaner and helper.

For each curated source: arbitrary text in any cell never crashes the cleaner (the row is
rejected instead), the accounting invariants hold, cleaning is order-invariant (shuffled raw rows
give the same content hash once line numbers are mapped back) and idempotent (the processed
table written back in raw layout cleans to the same content). For the helpers: no exception but
their own on arbitrary text, and f(f(x)) == f(x).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import random
from decimal import Decimal

import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from censorlab.cleaning.dates import (
    APPROX_DAY_TOLERANCE_DAYS,
    EARLIEST_PLAUSIBLE_DATE,
    LATEST_PLAUSIBLE_DATE,
    DateParseError,
    parse_partial_date,
)
from censorlab.cleaning.units import CountParseError, parse_user_count
from censorlab.core.storage import content_hash, to_arrow
from censorlab.reference.countries import CountryResolver, normalise_name, strip_footnote
from censorlab.schema import REASON_CODES, SCOPES
from censorlab.sources import (
    block_events,
    diplomatic_coverage,
    diplomatic_events,
    mau,
    register_sweeps,
    services,
)

SETTINGS = settings(max_examples=20, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture,
                                           HealthCheck.too_slow, HealthCheck.filter_too_much])
HELPER_SETTINGS = settings(max_examples=100, deadline=None, derandomize=True)
# a day_approx date's interval must lie within the plausible dates too
APPROX = dt.timedelta(days=APPROX_DAY_TOLERANCE_DAYS)
LINE_COLUMNS = ("source_line", "source_lines")
# one-line text (order invariance needs one record per physical line)
LINE_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"),
                    max_size=12)
ANY_TEXT = st.text(max_size=12)


def cell(valid, text=LINE_TEXT):
    return st.one_of(st.sampled_from(valid), st.sampled_from(valid), text)


URLS = ["https://a.example/1", "https://b.example/2", "http://c.example/x;https://d.example/y",
        ""]
CONFIDENCE = ["high", "medium: month only", "low (estimate)", "high: x"]


def _coherent_status(row):
    """Status cells that agree with the row's end (curated values only, for idempotence)."""
    row = {**row, "decision_id": row["decision_id"] or row["event_id"]}
    if row["end_date"] in ("", "ongoing"):
        return {**row, "end_status": "in_force", "end_mechanism": "",
                "last_confirmed_date": "2025", "last_confirmed_precision": "year"}
    return {**row, "end_status": "ended", "end_mechanism": "court-order",
            "last_confirmed_date": "", "last_confirmed_precision": ""}


def block_rows(text=LINE_TEXT):
    rows = _block_cells(text)
    return rows.map(_coherent_status) if text.is_empty else rows


def _block_cells(text):
    return st.fixed_dictionaries({
        "event_id": cell(["E1", "E2", "E3", "E4"], text),
        "service": cell(["WeChat", "Weixin", "微信", "Telegram", "Twitter; Facebook", "LINE",
                         "Nope"], text),
        "operator": cell(["Tencent", ""], text),
        "operator_country": cell(["CN", "US", "US;JP", "ZZ", ""], text),
        "blocking_country": cell(["RU", "Russia", "Россия", "CN", "IR", "Rusia"], text),
        "authority": cell(["Roskomnadzor", "=cmd", ""], text),
        "start_date": cell(["2017-05-04", "2017-05", "2017", "Q2 2017", "2017-06-01",
                            "03/04/2019", "2017-02-30"], text),
        "start_precision": cell(["day", "month", "year", "quarter", "day(approx)", ""], text),
        "end_date": cell(["", "2017-05-11", "2017-06", "2018", "ongoing", "2016-01-01"], text),
        "end_precision": cell(["", "day", "month", "year"], text),
        "scope": cell([*SCOPES, "bad"], text),
        "implemented": cell(["yes", "no", ""], text),
        "legal_basis": cell(["149-FZ", ""], text),
        "notes": cell(["", "n1", "+1"], text),
        "source_url": cell(URLS, text),
        "source_url_2": cell(URLS, text),
        "confidence": cell(CONFIDENCE, text),
        "decision_id": cell(["E1", "D1", ""], text),
        "end_status": cell(["ended", "in_force", "unknown", "", "gone"], text),
        "end_mechanism": cell(["government-reversal", "court-order", "", "magic"], text),
        "last_confirmed_date": cell(["", "2017-06", "2017-05-20", "2016-01-01", "2025"], text),
        "last_confirmed_precision": cell(["", "day", "month", "year"], text),
        "status_source_url": cell(URLS, text),
    })


def _valid_new_cells(valid):
    """In idempotence runs (curated values only), keep the new columns' cells valid, so rows
    are not discarded for a reason the older columns already exercise."""
    def fix(row):
        return {**row, **{column: choice for column, (bad, choice) in valid.items()
                          if row[column] in bad}}
    return fix


def mau_rows(text=LINE_TEXT):
    rows = _mau_cells(text)
    return rows.map(_valid_new_cells({"metric_kind": (("", "bogus"), "users")})) \
        if text.is_empty else rows


def _mau_cells(text):
    return st.fixed_dictionaries({
        "service": cell(["WeChat", "Weixin", "Telegram", "QQ", "Nope"], text),
        "operator": cell(["Tencent", ""], text),
        "period_end": cell(["2016-12", "2017", "2017-03-31", "2017-02", "13/2017"], text),
        "period_precision": cell(["month", "quarter", "year", "day", ""], text),
        "mau_millions": cell(["889", "889 million[3]", "1.2B", "500M+", "1,2 млрд", "",
                              "over 50", "9000000", "29-40", "abc"], text),
        "scope": cell(["global", "RU", "non-CN", "Russia", "Atlantis"], text),
        "metric_as_reported": cell(["monthly active users", "registered users", ""], text),
        "source_url": cell(URLS, text),
        "confidence": cell(CONFIDENCE, text),
        "notes": cell(["", "n"], text),
        "metric_kind": cell(["mau", "users", "reach", "", "bogus"], text),
    })


def diplomatic_rows(text=LINE_TEXT):
    rows = _diplomatic_cells(text)
    fix = _valid_new_cells({"compiled_by": (("", "guess"), "block-linked"),
                            "contact_level": (("lunch",), "")})
    return rows.map(fix) if text.is_empty else rows


def _diplomatic_cells(text):
    return st.fixed_dictionaries({
        "date": cell(["2014-05-20", "2014-05", "2014", "Q2 2014", "20/05/2014"], text),
        "date_precision": cell(["day", "month", "year", "quarter", "day(approx)"], text),
        "country_a": cell(["RU", "CN", "Россия", "XX"], text),
        "country_b": cell(["CN", "US", "KR"], text),
        "kind": cell(["summit", "dispute", "call", "party"], text),
        "title": cell(["T1", "T2", ""], text),
        "notes": cell(["", "n"], text),
        "related_block_event_ids": cell(["", "E1", "E1;E2"], text),
        "source_url": cell(URLS, text),
        "confidence": cell(CONFIDENCE, text),
        "compiled_by": cell(["dyad-sweep", "block-linked", "", "guess"], text),
        "contact_level": cell(["leader-visit", "agreement", "", "lunch"], text),
        "sweep_source": cell(["", "OOH Travels of the President: Russia"], text),
    })


def coverage_rows(text=LINE_TEXT):
    return st.fixed_dictionaries({
        "country_a": cell(["RU", "CN", "Россия", "XX"], text),
        "country_b": cell(["US", "CN", "JP"], text),
        "year": cell(["2010", "2017", "0001", "20x0", ""], text),
        "complete_levels": cell(["leader-visit", "leader-visit;minister-visit", "", "tea"], text),
        "incomplete_levels": cell(["leader-call", "leader-visit", "", "agreement;dialogue"],
                                  text),
        "sources": cell(URLS, text),
        "notes": cell(["", "n"], text),
    })


def sweep_rows(text=LINE_TEXT):
    return st.fixed_dictionaries({
        "blocking_country": cell(["RU", "Russia", "XX"], text),
        "source_name": cell(["Wikipedia: Internet censorship in Russia", "NetBlocks", ""], text),
        "source_url": cell(URLS, text),
        "period_covered": cell(["2012-2025", ""], text),
        "swept_on": cell(["2026-12-01", "2026-12", "01/12/2026", ""], text),
        "notes": cell(["", "n"], text),
    })


def service_rows(text=LINE_TEXT):
    return st.fixed_dictionaries({
        "service_id": cell(["s1", "s2", "s3", "wechat", "Bad Id"], text),
        "service_name": cell(["Alpha", "Beta", "Gamma", ""], text),
        "aliases": cell(["", "A;B", "Zeta"], text),
        "operator_name": cell(["Op", ""], text),
        "operator_country": cell(["US", "CN", "Russia", "ZZ", ""], text),
        "kind": cell(["messenger", "social", "other", "toaster"], text),
        "domains": cell(["", "a.example;B.example", "c.example"], text),
        "source_url": cell(URLS, text),
        "notes": cell(["", "n"], text),
    })


SOURCES = {
    "block_events": (block_events, block_rows),
    "mau": (mau, mau_rows),
    "diplomatic_events": (diplomatic_events, diplomatic_rows),
    "services": (services, service_rows),
    "diplomatic_coverage": (diplomatic_coverage, coverage_rows),
    "register_sweeps": (register_sweeps, sweep_rows),
}


def write_csv(path, rows, columns):
    buffer = io.StringIO(newline="")
    # "\r\n" as terminator makes the writer quote cells holding \r or \n
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8", newline="")


def clean_rows(module, rows, columns, directory, context):
    path = directory / module.RAW_FILES[0]
    write_csv(path, rows, columns)
    return module.clean(module.read(path, context), context)


def check_result(result, n_rows):
    acc = result.accounting
    assert acc.rows_read == n_rows
    assert acc.rows_read == acc.rows_clean + acc.rows_rejected
    assert acc.rows_clean + acc.rows_split == acc.rows_out + acc.rows_merged
    assert acc.rows_out == len(result.table)
    assert set(result.rejects["reason_code"]) <= set(REASON_CODES)
    assert result.rejects["source_line"].between(2, n_rows + 1).all()
    assert result.rejects["source_line"].nunique() == acc.rows_rejected


def table_hash(module, table, drop=()):
    arrow_table = to_arrow(table, module.TABLE)
    return content_hash(arrow_table.drop_columns([c for c in drop
                                                  if c in arrow_table.column_names]))


def remap_lines(table, mapping):
    out = table.copy()
    if "source_line" in out:
        out["source_line"] = out["source_line"].map(mapping)
    if "source_lines" in out:
        out["source_lines"] = out["source_lines"].map(lambda ls: sorted(mapping[x] for x in ls))
    return out


def _line_set(table):
    if "source_lines" in table:
        return sorted(tuple(lines) for lines in table["source_lines"])
    return sorted(table["source_line"]) if "source_line" in table else []


# --- no crash + accounting on arbitrary text in any cell --------------------------------------

@pytest.mark.parametrize("name", sorted(SOURCES))
def test_arbitrary_text_never_crashes_and_accounting_holds(name, tmp_path, clean_context):
    module, rows_strategy = SOURCES[name]

    @SETTINGS
    @given(st.lists(rows_strategy(ANY_TEXT), min_size=1, max_size=6))
    def run(rows):
        columns = list(rows[0])
        result = clean_rows(module, rows, columns, tmp_path, clean_context)
        physical = result.rejects  # every reject names a line of the file
        assert (physical["source_file"] == module.RAW_FILES[0]).all()
        acc = result.accounting
        assert acc.rows_read == len(rows)
        assert acc.rows_read == acc.rows_clean + acc.rows_rejected
        assert acc.rows_clean + acc.rows_split == acc.rows_out + acc.rows_merged

    run()


# --- order invariance -----------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(SOURCES))
def test_shuffled_rows_give_the_same_content(name, tmp_path, clean_context):
    module, rows_strategy = SOURCES[name]

    @SETTINGS
    @given(st.lists(rows_strategy(), min_size=1, max_size=6), st.randoms(use_true_random=False))
    def run(rows, rnd: random.Random):
        columns = list(rows[0])
        first = clean_rows(module, rows, columns, tmp_path, clean_context)
        check_result(first, len(rows))
        order = list(range(len(rows)))
        rnd.shuffle(order)
        second = clean_rows(module, [rows[i] for i in order], columns, tmp_path, clean_context)
        check_result(second, len(rows))
        back = {position + 2: original + 2 for position, original in enumerate(order)}
        # Every value but the line numbers must match; lines are compared as sets, because
        # when two identical raw lines merge, which one names the row depends on position.
        assert table_hash(module, second.table, LINE_COLUMNS) == table_hash(
            module, first.table, LINE_COLUMNS)
        assert _line_set(remap_lines(second.table, back)) == _line_set(first.table)
        rejects = sorted(zip(first.rejects.reason_code, first.rejects.raw_text, strict=True))
        assert sorted(zip(second.rejects.reason_code, second.rejects.raw_text,
                          strict=True)) == rejects

    run()


# --- idempotence: processed rows written back in raw layout clean to the same content ------

def _render_date(date, precision):
    if pd.isna(date):
        return ""
    date = pd.Timestamp(date)
    if precision in ("day", "day_approx"):
        return date.strftime("%Y-%m-%d")
    if precision == "month":
        return date.strftime("%Y-%m")
    if precision == "quarter":
        return f"Q{(date.month - 1) // 3 + 1} {date.year}"
    return str(date.year)


def _precision(value):
    return "" if pd.isna(value) else {"day_approx": "day(approx)"}.get(value, value)


def _text(value):
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _confidence(row):
    note = _text(row.get("confidence_note"))
    return f"{row['confidence']}: {note}" if note else row["confidence"]


def _users(value, qualifier):
    if pd.isna(value):
        return ""
    number = format(Decimal(int(value)) / Decimal(10**6), "f")
    prefix = {"at_least": "over ", "approx": "about ", "at_most": "up to "}.get(
        _text(qualifier), "")
    return prefix + number


def _geo(value):
    if value == "WORLD":
        return "global"
    return f"non-{value[-2:]}" if value.startswith("WORLD_EX_") else value


def back_to_raw(name, table):
    """Write a processed table in its raw layout (the inverse of the documented mapping)."""
    rows = []
    for row in table.to_dict("records"):
        if name == "block_events":
            rows.append({
                "event_id": row["event_id"], "service": row["service_id"],
                "operator": _text(row["operator_name"]),
                "operator_country": _text(row["operator_country"]),
                "blocking_country": row["blocking_country"],
                "authority": _text(row["authority"]),
                "start_date": _render_date(row["start_date"], row["start_precision"]),
                "start_precision": _precision(row["start_precision"]),
                "end_date": _render_date(row["end_date"], row["end_precision"]),
                "end_precision": _precision(row["end_precision"]),
                "scope": row["scope"],
                "implemented": {True: "yes", False: "no"}.get(row["is_implemented"], ""),
                "legal_basis": _text(row["legal_basis"]), "notes": _text(row["notes"]),
                "source_url": ";".join(row["source_urls"]), "source_url_2": "",
                "confidence": _confidence(row), "decision_id": row["decision_id"],
                "end_status": _text(row["end_status"]),
                "end_mechanism": _text(row["end_mechanism"]),
                "last_confirmed_date": _render_date(row["last_confirmed_date"],
                                                    row["last_confirmed_precision"]),
                "last_confirmed_precision": _precision(row["last_confirmed_precision"]),
                "status_source_url": _text(row["status_source_url"])})
        elif name == "mau":
            rows.append({
                "service": row["service_id"], "operator": "",
                "period_end": _render_date(row["period_end"], row["period_precision"])
                if row["period_precision"] != "quarter" else row["period_end"].strftime("%Y-%m"),
                "period_precision": _precision(row["period_precision"]),
                "mau_millions": _users(row["mau"], row["mau_qualifier"]),
                "scope": _geo(row["geo"]), "metric_as_reported": _text(row["metric"]),
                "source_url": ";".join(row["source_urls"]), "confidence": row["confidence"],
                "notes": _text(row["notes"]), "metric_kind": row["metric_kind"]})
        elif name == "diplomatic_events":
            rows.append({
                "date": _render_date(row["date"], row["date_precision"]),
                "date_precision": _precision(row["date_precision"]),
                "country_a": row["country_a"], "country_b": row["country_b"],
                "kind": row["kind"], "title": row["title"], "notes": _text(row["notes"]),
                "related_block_event_ids": ";".join(row["related_block_event_ids"]),
                "source_url": ";".join(row["source_urls"]), "confidence": _confidence(row),
                "compiled_by": row["compiled_by"], "contact_level": _text(row["contact_level"]),
                "sweep_source": _text(row["sweep_source"])})
        elif name == "diplomatic_coverage":
            rows.append({
                "country_a": row["country_a"], "country_b": row["country_b"],
                "year": str(row["year"]), "complete_levels": ";".join(row["complete_levels"]),
                "incomplete_levels": ";".join(row["incomplete_levels"]),
                "sources": ";".join(row["source_urls"]), "notes": _text(row["notes"])})
        elif name == "register_sweeps":
            rows.append({
                "blocking_country": row["blocking_country"], "source_name": row["source_name"],
                "source_url": ";".join(row["source_urls"]),
                "period_covered": _text(row["period_covered"]),
                "swept_on": pd.Timestamp(row["swept_date"]).strftime("%Y-%m-%d"),
                "notes": _text(row["notes"])})
        else:
            rows.append({
                "service_id": row["service_id"], "service_name": row["service_name"],
                "aliases": ";".join(row["aliases"]), "operator_name": _text(row["operator_name"]),
                "operator_country": _text(row["operator_country"]), "kind": row["service_kind"],
                "domains": ";".join(row["domains"]), "source_url": ";".join(row["source_urls"]),
                "notes": _text(row["notes"])})
    return rows


# Lineage, line numbers and the raw spelling say where a row came from, which writing it
# back (with canonical ids) changes.
IDEMPOTENCE_IGNORES = {"block_events": ("source_lines", "merged_from", "raw_event_id",
                                        "service_as_reported"),
                       "mau": ("source_line", "service_as_reported"),
                       "diplomatic_events": ("source_line",),
                       "services": ("source_line",),
                       "diplomatic_coverage": ("source_line",),
                       "register_sweeps": ("source_line",)}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_cleaning_clean_output_changes_nothing(name, tmp_path, clean_context):
    module, rows_strategy = SOURCES[name]

    # curated values only (no free text), so enough rows survive to test re-cleaning
    @SETTINGS
    @given(st.lists(rows_strategy(st.nothing()), min_size=1, max_size=6))
    def run(rows):
        first = clean_rows(module, rows, list(rows[0]), tmp_path, clean_context)
        if name == "mau":
            assume("range" not in set(first.table["mau_qualifier"].dropna()))
        assume(len(first.table))
        again = back_to_raw(name, first.table)
        second = clean_rows(module, again, list(again[0]), tmp_path, clean_context)
        assert second.rejects.empty, second.rejects[["reason_code", "detail"]].to_dict("records")
        assert second.accounting.rows_merged == 0
        ignore = IDEMPOTENCE_IGNORES[name]
        assert table_hash(module, second.table, ignore) == table_hash(module, first.table,
                                                                      ignore)

    run()


# --- helpers ----------------------------------------------------------------------------------

@HELPER_SETTINGS
@given(ANY_TEXT, st.one_of(st.none(), st.sampled_from(["day", "month", "year", "quarter",
                                                        "day(approx)"]), ANY_TEXT))
def test_dates_never_raise_anything_but_date_errors(text, precision):
    try:
        parsed = parse_partial_date(text, precision)
    except DateParseError:
        return
    assert parsed.earliest <= parsed.reported <= parsed.latest


@HELPER_SETTINGS
@given(st.dates(min_value=EARLIEST_PLAUSIBLE_DATE + APPROX,
                max_value=LATEST_PLAUSIBLE_DATE - APPROX),
       st.sampled_from(["day", "day_approx", "month", "quarter", "year"]))
def test_dates_round_trip(day, precision):
    first = parse_partial_date(_render_date(day, precision), _precision(precision))
    second = parse_partial_date(_render_date(first.reported, first.precision),
                                _precision(first.precision))
    assert first == second


@HELPER_SETTINGS
@given(ANY_TEXT, st.sampled_from([1, 10**6]))
def test_units_never_raise_anything_but_count_errors(text, multiplier):
    try:
        parsed = parse_user_count(text, multiplier)
    except CountParseError:
        return
    assert 0 <= parsed.value <= 8_500_000_000


@HELPER_SETTINGS
@given(st.integers(0, 8_500_000_000), st.sampled_from([None, "at_least", "approx", "at_most"]))
def test_units_round_trip(users, qualifier):
    first = parse_user_count(_users(users, qualifier), 10**6)
    assert (first.value, first.qualifier) == (users, qualifier)
    assert parse_user_count(_users(first.value, first.qualifier), 10**6) == first


@HELPER_SETTINGS
@given(st.one_of(ANY_TEXT, st.sampled_from(["Russia", "Россия", "RUS", "643", "Russia*",
                                            "China", "US", "usa", "XK"])))
def test_countries_resolve_idempotently(text):
    resolver = CountryResolver({"Россия": "RU"})
    code = resolver.resolve(text)
    if code is not None:
        assert len(code) == 2 and resolver.resolve(code) == code
    assert normalise_name(normalise_name(text)) == normalise_name(text)
    stripped, _ = strip_footnote(text)
    assert strip_footnote(stripped) == (stripped, False)


def test_service_catalog_resolves_idempotently(clean_context):
    catalog = clean_context.services

    @HELPER_SETTINGS
    @given(st.one_of(ANY_TEXT, st.sampled_from(["WeChat", "微信", "ＷｅＣｈａｔ", "X",
                                                "Twitter / X"])))
    def run(text):
        service_id = catalog.resolve(text)
        if service_id is not None:
            assert catalog.resolve(service_id) == service_id
            assert catalog.resolve(catalog.info(service_id)["service_name"]) == service_id

    run()

