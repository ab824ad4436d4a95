"""Curated dates in the research layout's own conventions (issue #11, item 9).

A quarter named by its last day (`2016-12-31` with precision `quarter`) and an empty precision
whose date's form says it (`2018-04` -> month) are repairs to the house form, recorded in the
manifest -- never rejects, and never a guess beyond what the text states.
"""

import datetime as dt

import pytest
from conftest import BLOCK_HEADER, BLOCK_ROW, MAU_HEADER, MAU_ROW, write_raw_dir

import censorlab
from censorlab.cleaning.dates import DateParseError, parse_partial_date


def build(tmp_path, **files):
    out = tmp_path / "out"
    manifest = censorlab.build(write_raw_dir(tmp_path / "raw", **files), out)
    return manifest, {name: censorlab.load(name, out) for name in ("block_events", "mau",
                                                                    "rejects")}


@pytest.mark.parametrize(("text", "earliest"), [
    ("2016-12-31", dt.date(2016, 10, 1)), ("2018-03-31", dt.date(2018, 1, 1)),
    ("2018-06-30", dt.date(2018, 4, 1)), ("2018-09-30", dt.date(2018, 7, 1))])
def test_a_quarters_last_day_names_that_quarter(text, earliest):
    parsed = parse_partial_date(text, "quarter")
    assert (parsed.precision, parsed.earliest, parsed.latest.isoformat()) == (
        "quarter", earliest, text)
    assert parsed == parse_partial_date(text[:7], "quarter")  # the house form, same interval
    assert parsed.repair == "a quarter named by its last day, read as that quarter"


@pytest.mark.parametrize("text", ["2016-12-30", "2016-11-30", "2016-10-01"])
def test_any_other_day_with_precision_quarter_is_still_an_error(text):
    with pytest.raises(DateParseError):
        parse_partial_date(text, "quarter")


@pytest.mark.parametrize(("text", "precision"), [
    ("2018-04-16", "day"), ("2018-04", "month"), ("2018", "year"), ("Q2 2018", "quarter")])
def test_an_empty_precision_is_the_one_the_form_states(text, precision):
    parsed = parse_partial_date(text, None)
    assert parsed.precision == precision
    assert parsed.repair == f"empty precision read from the form: {precision}"
    assert parse_partial_date(text, precision).repair is None


def test_the_889_million_quarter_row_is_kept_and_the_repair_recorded(tmp_path):
    row = MAU_ROW.replace("2016-12,quarter", "2016-12-31,quarter")
    manifest, tables = build(tmp_path, mau=MAU_HEADER + row)
    (mau,) = tables["mau"].itertuples()
    assert (mau.period_end.strftime("%Y-%m-%d"), mau.period_precision, mau.mau) == (
        "2016-12-31", "quarter", 889_000_000)
    assert tables["rejects"].empty
    assert manifest["inputs"]["mau.csv"]["repairs"] == [
        "period_end/period_precision: a quarter named by its last day, read as that quarter "
        "(1 row(s): line 2)"]


def test_an_empty_start_precision_is_read_from_the_form(tmp_path):
    row = BLOCK_ROW.replace("2017-05-04,day,", "2017-05,,")
    manifest, tables = build(tmp_path, block=BLOCK_HEADER + row)
    (block,) = tables["block_events"].itertuples()
    assert (block.start_precision, block.start_earliest_date.isoformat()[:10],
            block.start_latest_date.isoformat()[:10]) == ("month", "2017-05-01", "2017-05-31")
    assert tables["rejects"].empty
    assert manifest["inputs"]["block_events.csv"]["repairs"] == [
        "start_date/start_precision: empty precision read from the form: month "
        "(1 row(s): line 2)"]
