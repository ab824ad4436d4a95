"""User counts written the ways sources write them: `889 million`, `1.2B`, `500M+`, `1,2 млрд`.

A small explicit grammar, not a guesser::

    [qualifier] number [unit] [+] [footnote]      or      number [unit] - number [unit]

Qualifiers (`over`, `more than`, `about`, `up to`, `+`) are kept as `at_least`, `approx`,
`at_most`; a range keeps its lower bound with qualifier `range` and reports the upper bound.
A comma followed by exactly three digits groups thousands (`1,200`); otherwise it is a decimal
comma (`1,2 млрд`). Bare numbers take the column's unit (`mau_millions` -> millions). A result
above the world's population is implausible, and one below a single user (`0.0000001` million)
is below the resolution of a count of users: the caller rejects both, nothing is rounded to 0.

Only ASCII digits are numbers (`٣٠٠` is not 300): every source writes its figures in ASCII, so
other digits are a copy-paste or a hostile cell, never a figure. The grammar's patterns are
possessive (no backtracking), so parsing takes time linear in the cell's length.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from censorlab.reference.countries import strip_footnote

MAX_PLAUSIBLE_USERS = 8_500_000_000
UNITS = {
    "k": 10**3, "thousand": 10**3, "тыс": 10**3, "тыс.": 10**3,
    "m": 10**6, "mn": 10**6, "mln": 10**6, "million": 10**6, "millions": 10**6,
    "млн": 10**6, "млн.": 10**6, "миллионов": 10**6, "миллиона": 10**6, "миллион": 10**6,
    "b": 10**9, "bn": 10**9, "billion": 10**9, "billions": 10**9, "млрд": 10**9,
    "млрд.": 10**9, "миллиард": 10**9, "миллиарда": 10**9, "миллиардов": 10**9,
}
QUALIFIERS = (
    (("more than", "over", "above", "at least", ">", "≥"), "at_least"),
    (("about", "around", "approximately", "approx.", "approx", "roughly", "~", "≈"), "approx"),
    (("up to", "nearly", "almost", "under", "less than", "<", "≤"), "at_most"),
)
MIN_PLAUSIBLE_USERS = 1  # a nonzero figure below one user is below a count's resolution
# Digit groups joined by single separators (`1,200.5`, `1 200 000`), ASCII digits only; every
# quantifier possessive, so a failed match never backtracks (linear time on any cell).
_NUMBER = r"([0-9]++(?:[,.\s][0-9]++)*+)"
_UNIT = r"\s*+([^\d\s+\-–—]++)?"
_SINGLE = re.compile(rf"^{_NUMBER}{_UNIT}\s*+(\+)?$")
_RANGE = re.compile(rf"^{_NUMBER}{_UNIT}\s*+[-–—]\s*+{_NUMBER}{_UNIT}$")
MESSAGE_CHARS = 80  # characters of a cell quoted in an error message


class CountParseError(ValueError):
    """The text is not a count in the grammar, or is implausible."""


@dataclass(frozen=True)
class ParsedCount:
    """A parsed user count."""

    value: int
    qualifier: str | None
    had_footnote: bool = False
    upper: int | None = None


def _to_decimal(text: str) -> Decimal:
    text = text.replace(" ", "").replace("\u00a0", "")
    if re.fullmatch(r"[0-9]{1,3}(,[0-9]{3})+(\.[0-9]+)?", text):
        text = text.replace(",", "")
    elif re.fullmatch(r"[0-9]+,[0-9]{1,2}", text):
        text = text.replace(",", ".")
    elif "," in text:
        raise CountParseError(f"ambiguous separators in {_quoted(text)}")
    try:
        return Decimal(text)
    except InvalidOperation as exc:
        raise CountParseError(f"{_quoted(text)} is not a number") from exc


def _multiplier(unit: str | None, default: int) -> int:
    if not unit:
        return default
    key = unit.strip().lower()
    if key not in UNITS:
        raise CountParseError(f"unknown unit {_quoted(unit)}")
    return UNITS[key]


def _split_qualifier(text: str) -> tuple[str, str | None]:
    lowered = text.lower()
    for words, qualifier in QUALIFIERS:
        for word in words:
            if lowered.startswith(word):
                return text[len(word):].strip(), qualifier
    return text, None


def _quoted(text: str) -> str:
    """The cell for an error message: its first MESSAGE_CHARS characters and its length."""
    if len(text) <= MESSAGE_CHARS:
        return repr(text)
    return f"{text[:MESSAGE_CHARS]!r}... ({len(text)} characters)"


def _checked(value: Decimal) -> int:
    if 0 < value < MIN_PLAUSIBLE_USERS:
        raise CountParseError(f"{value} users is below one user: a figure finer than a count "
                              "of users can hold (never rounded to 0)")
    users = int(value.to_integral_value())
    if users > MAX_PLAUSIBLE_USERS:
        raise CountParseError(f"{users} users is more than the world's population")
    return users


def parse_user_count(text: str, default_multiplier: int = 1) -> ParsedCount:
    """Parse a user count into an integer number of users.

    Args:
        text: The cell as written.
        default_multiplier: Unit of bare numbers (10**6 for a `*_millions` column).

    Raises:
        CountParseError: Not in the grammar, unknown unit, or implausible.

    >>> parse_user_count("889", 10**6).value
    889000000
    >>> parse_user_count("500M+")
    ParsedCount(value=500000000, qualifier='at_least', had_footnote=False, upper=None)
    >>> parse_user_count("1,2 млрд").value, parse_user_count("over 50 million[3]").qualifier
    (1200000000, 'at_least')
    """
    body, had_footnote = strip_footnote(text.strip())
    body, qualifier = _split_qualifier(body)
    if match := _RANGE.match(body):
        low_num, low_unit, high_num, high_unit = match.groups()
        unit = low_unit or high_unit
        low = _checked(_to_decimal(low_num) * _multiplier(unit, default_multiplier))
        high = _checked(_to_decimal(high_num) * _multiplier(high_unit, default_multiplier))
        if high < low:
            raise CountParseError(f"range {_quoted(text)} runs backwards")
        return ParsedCount(low, "range", had_footnote, high)
    if match := _SINGLE.match(body):
        number, unit, plus = match.groups()
        value = _checked(_to_decimal(number) * _multiplier(unit, default_multiplier))
        if plus:
            qualifier = qualifier or "at_least"
        return ParsedCount(value, qualifier, had_footnote)
    raise CountParseError(f"{_quoted(text)} is not a user count")
