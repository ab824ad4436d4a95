"""Dates with precision: `2017-05-04`, `2017-05`, `2017`, `Q2 2018`, never inferred.

A reported date is an interval, not a point: `2017-05` means some day in May 2017. Each parsed
date keeps its precision and its earliest and latest possible day, so analyses can report a
sensitivity range instead of pretending to know the day. Formats are explicit; a string that is
not in a declared form, a date that does not exist (2017-02-30) or a precision that contradicts
the form is an error for the caller to reject.

Two repairs, each naming exactly one interval and reported in ``PartialDate.repair`` so the
caller records it (never a guess beyond the form):

* a **quarter named by its last day** (`2016-12-31` with precision `quarter`, the usual way
  companies name a quarter) is the house form `2016-12` / `Q4 2016`: 2016-10-01 to 2016-12-31.
  Any other day with precision `quarter` is still an error.
* an **empty precision** is the one the form states: `YYYY-MM-DD` day, `YYYY-MM` month, `YYYY`
  year, `Qn YYYY` quarter.

Digits are ASCII only (a full-width `２０１７` is an error, not 2017), and a date must lie in
``PLAUSIBLE_DATES``: year 0001 or 9999 is a placeholder or a typo, and passed on it breaks every
duration (pandas cannot hold 9999-12-31 plus a day) and makes the build's ``as_of`` absurd.
"""

from __future__ import annotations

import calendar
import datetime as dt
import re
from dataclasses import dataclass, field, replace

APPROX_DAY_TOLERANCE_DAYS = 3
PRECISION_ALIASES = {
    "day": "day",
    "day(approx)": "day_approx",
    "day_approx": "day_approx",
    "month": "month",
    "quarter": "quarter",
    "year": "year",
}
QUARTER_END_MONTHS = (3, 6, 9, 12)
# The dates a reported event can have: nothing censorlab studies (service blocks, user counts,
# diplomatic contacts about the internet) predates the public web, and the build's as_of is the
# newest date in the data, so a bound relative to it would let any far-future typo through;
# the upper bound is fixed (a build is a function of its inputs, never of the clock) and far
# enough ahead for announced future dates (a block "until" a date, a scheduled visit).
EARLIEST_PLAUSIBLE_DATE = dt.date(1990, 1, 1)
LATEST_PLAUSIBLE_DATE = dt.date(2099, 12, 31)
_FORMS = {
    "day": re.compile(r"^([0-9]{4})-([0-9]{2})-([0-9]{2})$"),
    "month": re.compile(r"^([0-9]{4})-([0-9]{2})$"),
    "year": re.compile(r"^([0-9]{4})$"),
    "quarter_label": re.compile(r"^Q([1-4])\s+([0-9]{4})$"),
}


class DateParseError(ValueError):
    """A date string or precision is not in a declared form."""


class ImplausibleDateError(DateParseError):
    """A date in a declared form that lies outside the plausible dates."""


@dataclass(frozen=True)
class PartialDate:
    """A reported date with its precision and the interval it stands for.

    ``repair`` says how the text was brought to the house form (None when it already was); it
    is not part of the value (equality and repr ignore it).
    """

    precision: str
    earliest: dt.date
    latest: dt.date
    repair: str | None = field(default=None, repr=False, compare=False)

    @property
    def reported(self) -> dt.date:
        """The date as a point: the stated day, or the first day of a coarser period."""
        if self.precision == "day_approx":
            return self.earliest + dt.timedelta(days=APPROX_DAY_TOLERANCE_DAYS)
        return self.earliest


def _month_end(year: int, month: int) -> dt.date:
    return dt.date(year, month, calendar.monthrange(year, month)[1])


def _real_date(year: int, month: int, day: int, text: str) -> dt.date:
    try:
        return dt.date(year, month, day)
    except ValueError as exc:
        raise DateParseError(f"{text!r} is not a calendar date ({exc})") from exc


def normalise_precision(text: str | None) -> str | None:
    """Map a raw precision label (`day(approx)`) to its canonical name (`day_approx`)."""
    if text is None:
        return None
    key = text.strip().lower()
    if key not in PRECISION_ALIASES:
        raise DateParseError(f"unknown precision {text!r}")
    return PRECISION_ALIASES[key]


def parse_partial_date(text: str, precision: str | None = None, *,
                       earliest: dt.date = EARLIEST_PLAUSIBLE_DATE,
                       latest: dt.date = LATEST_PLAUSIBLE_DATE) -> PartialDate:
    """Parse a date at its stated precision.

    Args:
        text: `YYYY-MM-DD`, `YYYY-MM`, `YYYY` or `Qn YYYY`.
        precision: Raw precision label; when None the form decides (an ISO form is explicit).
        earliest: First plausible day (the date's interval must start on or after it).
        latest: Last plausible day (the interval must end on or before it).

    Raises:
        DateParseError: Unknown form, impossible date, or a precision the form contradicts;
            ImplausibleDateError (a subclass) when the date lies outside the plausible days.

    >>> parse_partial_date("2017-05", "month")
    PartialDate(precision='month', earliest=datetime.date(2017, 5, 1), latest=datetime.date(2017, 5, 31))
    >>> parse_partial_date("2016-12", "quarter").earliest
    datetime.date(2016, 10, 1)
    >>> parse_partial_date("2016-12-31", "quarter").earliest
    datetime.date(2016, 10, 1)
    """  # noqa: E501
    text = text.strip()
    wanted = normalise_precision(precision)
    parsed = _check_plausible(_parse_form(text, wanted, precision), text, earliest, latest)
    if wanted is None:
        return replace(parsed, repair=f"empty precision read from the form: {parsed.precision}")
    return parsed


def _check_plausible(parsed: PartialDate, text: str, earliest: dt.date,
                     latest: dt.date) -> PartialDate:
    """Return ``parsed`` when it lies within ``earliest``..``latest``, else raise saying why."""
    if parsed.earliest < earliest or parsed.latest > latest:
        raise ImplausibleDateError(f"{text[:40]!r} is outside the plausible dates {earliest} "
                                   f"to {latest}")
    return parsed


def _parse_form(text: str, wanted: str | None, precision: str | None) -> PartialDate:
    if match := _FORMS["day"].match(text):
        day = _real_date(*map(int, match.groups()), text)
        if wanted in (None, "day"):
            return PartialDate("day", day, day)
        if wanted == "day_approx":
            delta = dt.timedelta(days=APPROX_DAY_TOLERANCE_DAYS)
            return PartialDate("day_approx", day - delta, day + delta)
        if wanted == "quarter" and day.month in QUARTER_END_MONTHS \
                and day == _month_end(day.year, day.month):
            return PartialDate("quarter", dt.date(day.year, day.month - 2, 1), day,
                               repair="a quarter named by its last day, read as that quarter")
        raise DateParseError(f"{text!r} is a day but precision says {precision!r}")
    if match := _FORMS["month"].match(text):
        year, month = map(int, match.groups())
        _real_date(year, month, 1, text)
        if wanted in (None, "month"):
            return PartialDate("month", dt.date(year, month, 1), _month_end(year, month))
        if wanted == "quarter":
            if month not in QUARTER_END_MONTHS:
                raise DateParseError(f"{text!r}: a quarter is written as its last month")
            return PartialDate("quarter", dt.date(year, month - 2, 1), _month_end(year, month))
        raise DateParseError(f"{text!r} is a month but precision says {precision!r}")
    if match := _FORMS["quarter_label"].match(text):
        quarter, year = map(int, match.groups())
        if wanted not in (None, "quarter"):
            raise DateParseError(f"{text!r} is a quarter but precision says {precision!r}")
        last = quarter * 3
        return PartialDate("quarter", dt.date(year, last - 2, 1), _month_end(year, last))
    if match := _FORMS["year"].match(text):
        year = int(match.group(1))
        if wanted not in (None, "year"):
            raise DateParseError(f"{text!r} is a year but precision says {precision!r}")
        return PartialDate("year", dt.date(year, 1, 1), dt.date(year, 12, 31))
    raise DateParseError(f"{text!r} is not YYYY-MM-DD, YYYY-MM, YYYY or Qn YYYY")
