"""Unit tests of the source-agnostic helpers: dates, counts, countries, CSV reading, storage."""

import datetime as dt
import doctest

import pandas as pd
import pyarrow as pa
import pytest

from censorlab.cleaning import dates, units
from censorlab.cleaning.dates import DateParseError, parse_partial_date
from censorlab.cleaning.units import CountParseError, parse_user_count
from censorlab.core.storage import content_hash, to_arrow
from censorlab.errors import RawFileError
from censorlab.reading.delimited import read_delimited
from censorlab.reference import countries, crosswalk
from censorlab.reference.countries import CountryResolver


@pytest.mark.parametrize("module", [countries, crosswalk, dates, units])
def test_docstring_examples_run(module):
    failures, tried = doctest.testmod(module)
    assert tried > 0 and failures == 0


@pytest.mark.parametrize(
    ("text", "precision", "expected"),
    [
        ("2017-05-04", "day", ("day", dt.date(2017, 5, 4), dt.date(2017, 5, 4))),
        ("2017-05-02", "day(approx)", ("day_approx", dt.date(2017, 4, 29), dt.date(2017, 5, 5))),
        ("2017-05", "month", ("month", dt.date(2017, 5, 1), dt.date(2017, 5, 31))),
        ("2016-12", "quarter", ("quarter", dt.date(2016, 10, 1), dt.date(2016, 12, 31))),
        ("Q2 2018", None, ("quarter", dt.date(2018, 4, 1), dt.date(2018, 6, 30))),
        ("2009", "year", ("year", dt.date(2009, 1, 1), dt.date(2009, 12, 31))),
        ("2024-02", "month", ("month", dt.date(2024, 2, 1), dt.date(2024, 2, 29))),
    ],
)
def test_partial_dates_keep_precision_and_bounds(text, precision, expected):
    parsed = parse_partial_date(text, precision)
    assert (parsed.precision, parsed.earliest, parsed.latest) == expected


@pytest.mark.parametrize(
    ("text", "precision"),
    [("2017-02-30", "day"), ("03/04/2019", None), ("2017-05", "day"), ("2017-05-04", "month"),
     ("2016-11", "quarter"), ("2017", "fortnight"), ("yesterday", None)],
)
def test_dates_outside_declared_forms_are_errors(text, precision):
    with pytest.raises(DateParseError):
        parse_partial_date(text, precision)


def test_approximate_day_reports_the_stated_day():
    assert parse_partial_date("2017-05-02", "day(approx)").reported == dt.date(2017, 5, 2)
    assert parse_partial_date("2017-05", "month").reported == dt.date(2017, 5, 1)


@pytest.mark.parametrize(
    ("text", "multiplier", "value", "qualifier"),
    [
        ("889", 10**6, 889_000_000, None),
        ("889 million", 1, 889_000_000, None),
        ("889 million[3]", 1, 889_000_000, None),
        ("1.2B", 1, 1_200_000_000, None),
        ("500M+", 1, 500_000_000, "at_least"),
        ("1,2 млрд", 1, 1_200_000_000, None),
        ("over 50 million", 1, 50_000_000, "at_least"),
        ("about 17", 10**6, 17_000_000, "approx"),
        ("up to 1 million", 1, 1_000_000, "at_most"),
        ("1,200", 10**3, 1_200_000, None),
        ("29-40", 10**6, 29_000_000, "range"),
        ("0.4", 10**6, 400_000, None),
    ],
)
def test_user_counts_parse_to_integers_with_qualifier(text, multiplier, value, qualifier):
    parsed = parse_user_count(text, multiplier)
    assert (parsed.value, parsed.qualifier) == (value, qualifier)


@pytest.mark.parametrize("text", ["lots", "12 zillion", "1,2,3", "9000 billion", "40-29"])
def test_bad_or_implausible_counts_are_errors(text):
    with pytest.raises(CountParseError):
        parse_user_count(text, 10**6)


@pytest.mark.parametrize(
    ("value", "code"),
    [("RU", "RU"), ("RUS", "RU"), ("643", "RU"), ("Russian Federation", "RU"),
     ("Россия", "RU"), ("Russia*", "RU"), ("china", "CN"), ("Iran, Islamic Republic of", "IR")],
)
def test_countries_resolve_exactly(value, code):
    resolver = CountryResolver({"Россия": "RU", "Russia": "RU"})
    assert resolver.resolve(value) == code


@pytest.mark.parametrize("value", ["Rusia", "XX", "ru", "Soviet Union", "", None])
def test_unknown_countries_are_not_guessed(value):
    assert CountryResolver({"Russia": "RU"}).resolve(value) is None


def test_reader_rejects_bad_shapes_and_keeps_lines(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text('a,b\n1,2\n3\n4,5,6\n"multi\nline",7\n,\n', encoding="utf-8")
    raw = read_delimited(path, dataset="t", required_columns=("a", "b"))
    assert raw.rows_read == 5
    assert raw.rows[["a", "b", "source_line"]].values.tolist() == [
        ["1", "2", 2], ["multi\nline", "7", 5]]
    assert raw.rejects[["source_line", "reason_code"]].values.tolist() == [
        [3, "missing-cell"], [4, "extra-cell"], [7, "blank-row"]]


def test_reader_stops_on_undecodable_bytes_with_offset(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes(b"a,b\n1,2\n" + "Россия,3\n".encode("cp1251"))
    with pytest.raises(RawFileError) as info:
        read_delimited(path, dataset="t", required_columns=("a", "b"))
    assert info.value.line == 3 and "byte offset 8" in str(info.value)


def test_content_hash_ignores_row_order_but_not_values():
    frame = pd.DataFrame({"dataset": ["x", "y"], "source_file": ["f", "f"],
                          "source_line": [1, 2], "stage": ["read", "read"],
                          "reason_code": ["extra-cell", "missing-cell"],
                          "detail": ["d", "e"], "raw_text": ["r", None]})
    reordered = frame.iloc[::-1]
    changed = frame.assign(raw_text=["r", ""])
    assert content_hash(to_arrow(frame, "rejects")) == content_hash(to_arrow(reordered, "rejects"))
    assert content_hash(to_arrow(frame, "rejects")) != content_hash(to_arrow(changed, "rejects"))
    assert isinstance(to_arrow(frame, "rejects"), pa.Table)


def test_arrow_rejects_table_equals_the_pandas_path():
    import random

    from censorlab.core.rejects import make_rejects, rejects_table
    from censorlab.core.storage import to_arrow

    rng = random.Random(1)
    records = [{"dataset": rng.choice(["ooni", "stop"]),
                "source_file": rng.choice(["b.jsonl", "a.jsonl", "é.gz"]),
                "source_line": rng.choice([None, 1, 2, 10, 3]),
                "stage": rng.choice(["read", "clean", "dedup"]),
                "reason_code": rng.choice(["withheld-probe", "type-error", "duplicate-row"]),
                "detail": rng.choice(["x", "y", "ü", "Z"]),
                "raw_text": rng.choice([None, "abc", "x" * 5000])} for _ in range(500)]
    assert rejects_table(records).equals(to_arrow(make_rejects(records), "rejects"))
    assert rejects_table([]).equals(to_arrow(make_rejects([]), "rejects"))
    texts = set(rejects_table(records)["raw_text"].to_pylist())
    assert texts == {None, "abc", "x" * 1980 + "...[5000 chars]"}
    with pytest.raises(ValueError, match="unknown reject reason"):
        rejects_table([dict(records[0], reason_code="made-up")])
