"""Country-code crosswalk: ISO 3166-1, FIPS 10-4 and CAMEO codes to alpha-2.

GDELT names countries two ways: `Actor*CountryCode` holds CAMEO country codes (ISO 3166-1
alpha-3 for states) and the `*Geo_CountryCode` columns hold FIPS 10-4 codes, which look like
alpha-2 codes but differ for many states (China is `CH`, which is Switzerland in ISO; Russia is
`RS`, which is Serbia in ISO). Reading a FIPS code as ISO would silently move an event to another
country, so every conversion goes through the shipped table
`censorlab/reference/country_crosswalk.csv` and an unknown code maps to None, never a guess.
The table is loaded once per run, as part of the run's reference context.

How the table was built (once, by the censorlab developers; the file is data, not generated at
run time): `iso2`, `iso3`, `numeric` and `name` from pycountry; `cameo` = `iso3` (CAMEO uses
ISO alpha-3 for states); `fips104` from two public copies of the GDELT/CIA codebook values, a
GDELT FIPS->ISO3 mapping and GeoNames' `countryInfo.txt` `fips` column (which only covered P-Z in
the copy read). The `note` column says how each FIPS code is supported; where the two sources
disagree (South Sudan: `SS` vs `OD`) the GeoNames/CIA GEC value is used and the disagreement
recorded; rows with no verified FIPS code keep it empty and say so.
"""

from __future__ import annotations

import csv
from importlib import resources

import pandas as pd

CROSSWALK_COLUMNS = ("iso2", "iso3", "numeric", "fips104", "cameo", "name", "note")


CROSSWALK_FILE = "country_crosswalk.csv"


class Crosswalk:
    """The shipped crosswalk table with exact lookups from FIPS 10-4 and CAMEO codes.

    Args:
        frame: The table (default: ``censorlab/reference/country_crosswalk.csv``).

    Raises:
        ValueError: A bad header, or a code used for two countries (a lookup would be a guess).
    """

    def __init__(self, frame: pd.DataFrame | None = None):
        self.frame = read_crosswalk() if frame is None else frame
        self._by_fips = self._index("fips104")
        self._by_cameo = self._index("cameo")

    def _index(self, column: str) -> dict[str, str]:
        known = self.frame[self.frame[column].fillna("") != ""]
        duplicated = known[column][known[column].duplicated()]
        if len(duplicated):
            raise ValueError(f"{CROSSWALK_FILE}: {column} codes used twice: "
                             f"{sorted(set(duplicated))}")
        return dict(zip(known[column], known["iso2"], strict=True))

    def fips_to_alpha2(self, code: str | None) -> str | None:
        """Map a FIPS 10-4 country code (GDELT `*Geo_CountryCode`) to alpha-2, or None.

        >>> Crosswalk().fips_to_alpha2("CH"), Crosswalk().fips_to_alpha2("RS")
        ('CN', 'RU')
        >>> Crosswalk().fips_to_alpha2("ZZ") is None
        True
        """
        return self._by_fips.get((code or "").strip().upper()) if code else None

    def cameo_to_alpha2(self, code: str | None) -> str | None:
        """Map a CAMEO actor country code (GDELT `Actor*CountryCode`) to alpha-2, or None.

        Regional CAMEO codes (`EUR`, `AFR`, `WST`...) are not countries and map to None.

        >>> Crosswalk().cameo_to_alpha2("RUS"), Crosswalk().cameo_to_alpha2("EUR")
        ('RU', None)
        """
        return self._by_cameo.get((code or "").strip().upper()) if code else None


def read_crosswalk() -> pd.DataFrame:
    """Return the shipped crosswalk table (every cell a string, empty when unknown)."""
    text = resources.files("censorlab.reference").joinpath(CROSSWALK_FILE).read_text(
        encoding="utf-8")
    rows = list(csv.DictReader(text.splitlines()))
    frame = pd.DataFrame(rows, columns=list(CROSSWALK_COLUMNS), dtype=object)
    if tuple(frame.columns) != CROSSWALK_COLUMNS or frame["iso2"].duplicated().any():
        raise ValueError(f"{CROSSWALK_FILE}: bad header or duplicated iso2 codes")
    return frame
