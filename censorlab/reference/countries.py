"""Country names and codes to ISO 3166-1 alpha-2, by exact lookup only.

Raw data names countries every way there is: `Russia`, `Russian Federation`, `RUS`, `643`,
`Россия`. This module resolves a value through pycountry's exact fields (alpha-2, alpha-3,
numeric, name, official name, common name) and the curated alias table
`data/raw/country_aliases.csv`; anything else is unknown and the caller rejects the row. There
is no fuzzy matching: a wrong guess would silently move a block to another country.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from functools import lru_cache

import pandas as pd
import pycountry

USER_ASSIGNED_CODES = {"XK": "Kosovo"}
# Every code a country can have here: ISO 3166-1's assigned codes plus the accepted
# user-assigned ones (not QQ, XX, ZZ ...: those name no country).
ALPHA2_CODES = frozenset({c.alpha_2 for c in pycountry.countries} | set(USER_ASSIGNED_CODES))
FOOTNOTE_MARKS = "*†‡"
BRACKET_FOOTNOTE = re.compile(r"\[\w{1,3}\]$")  # `[3]`, `[a]`, `[12c]`
BRACKET_FOOTNOTE_CHARS = 5  # the longest bracketed marker: `[` + 3 characters + `]`


def normalise_name(text: str) -> str:
    """Fold a name for exact matching: NFKC, casefold, single spaces, no outer spaces."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def strip_footnote(text: str) -> tuple[str, bool]:
    """Remove a trailing footnote marker (`Russia*`, `889 million[3]`); say whether one was.

    String methods and a pattern over the last few characters only, never a regex searched
    through the text: a pattern for "marks at the end" retried at every position takes
    quadratic time (8.7 s for 16,000 `*` and an `x`); this is linear in the text's length.
    """
    body = text.rstrip()
    if bracket := BRACKET_FOOTNOTE.search(body[-BRACKET_FOOTNOTE_CHARS:]):
        stripped = body[: len(body) - len(bracket.group())].rstrip()
    else:
        stripped = body.rstrip(FOOTNOTE_MARKS).rstrip()
    return stripped, stripped != body


@lru_cache(maxsize=1)
def _pycountry_index() -> dict[str, str]:
    index: dict[str, str] = {}
    for country in pycountry.countries:
        for attr in ("name", "official_name", "common_name"):
            value = getattr(country, attr, None)
            if value:
                index.setdefault(normalise_name(value), country.alpha_2)
    return index


def is_alpha2(code: str) -> bool:
    """True for an assigned ISO alpha-2 code (or a user-assigned code we accept, e.g. XK)."""
    return code.upper() in ALPHA2_CODES


class CountryResolver:
    """Resolve country values to alpha-2 with pycountry plus a curated alias table.

    Args:
        aliases: {alias: alpha-2} from data/raw/country_aliases.csv.
    """

    def __init__(self, aliases: Mapping[str, str] | None = None):
        self.aliases = {normalise_name(k): v for k, v in (aliases or {}).items()}

    def resolve(self, value: str | None) -> str | None:
        """Return the alpha-2 code of a value, or None when it is not known exactly.

        >>> CountryResolver({"Россия": "RU"}).resolve("Россия")
        'RU'
        >>> CountryResolver().resolve("RUS"), CountryResolver().resolve("643")
        ('RU', 'RU')
        >>> CountryResolver().resolve("Rusia") is None
        True
        """
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        text, _ = strip_footnote(str(value).strip())
        if not text:
            return None
        if re.fullmatch(r"[A-Za-z]{2}", text) and text.isupper():
            return text if is_alpha2(text) else None
        if re.fullmatch(r"[A-Z]{3}", text):
            found = pycountry.countries.get(alpha_3=text)
            return found.alpha_2 if found else None
        if re.fullmatch(r"[0-9]{1,3}", text):  # ISO numeric, ASCII digits only
            found = pycountry.countries.get(numeric=text.zfill(3))
            return found.alpha_2 if found else None
        key = normalise_name(text)
        return self.aliases.get(key) or _pycountry_index().get(key)


def read_aliases(frame: pd.DataFrame) -> dict[str, str]:
    """Turn the alias table's rows into a mapping, checking each code is a real alpha-2."""
    mapping: dict[str, str] = {}
    for row in frame.itertuples(index=False):
        code = str(row.country_code).strip()
        if not is_alpha2(code):
            raise ValueError(f"country_aliases: {row.alias!r} maps to unknown code {code!r}")
        mapping[str(row.alias).strip()] = code
    return mapping
