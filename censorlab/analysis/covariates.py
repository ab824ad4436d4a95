"""Covariates for models of block duration: each one an interpretation, documented here.

The processed tables hold facts (a diplomatic event happened on a date between two
countries; an authority was named in a source). Turning them into model covariates needs
choices, and each choice is written down in this module so a reader can disagree with it:

* **Diplomatic contact, naive baseline flag** (:func:`flag_diplomatic_contact`): the blocking
  country and the operator's home country had at least one *contact* event (``CONTACT_KINDS``:
  negotiation, summit, agreement, call, state visit) dated within ``window_days`` **after** the
  block start (start day included), whatever the calendar row's ``compiled_by``. The window
  does not stop at the block's end, so the flag uses events after the lift (issue #9: WeChat's
  only contact came three days after its lift). It is kept only for the labelled contrast
  :func:`censorlab.analysis.contact_models.fit_naive_contact_cox`; the main design uses the
  time-varying covariate of :mod:`censorlab.analysis.intervals`. Disputes and sanctions are
  not contact.
* **Region** (:func:`assign_region`): UN M49 region and sub-region of the blocking country,
  from the explicit table ``UN_M49_REGIONS`` (no library lookup, so the mapping is visible
  and testable). Countries missing from the table get ``"unknown"`` and a log message.
* **Authority type** (:func:`classify_authority`): keyword rules over the free-text
  ``authority`` column, first match wins, in the order of ``AUTHORITY_RULES``: a court or
  judge is the legal source of a block even when a regulator implements it, so a statute
  (legislature) and courts come first; then named telecom regulators; then governments,
  ministries, police, prosecutors and unnamed "authorities" (executive); last, ISPs and
  state operators acting without a named order (isp).
* **Operator home** (:func:`group_operator_home`): the operator's country, keeping the
  largest groups (US, CN) and pooling the rest as ``"other"`` so the model stays small.
* **Service size** is added in :mod:`censorlab.analysis.userbase` (log of the global MAU
  at block start), because it needs the MAU lookup rules.
"""

from __future__ import annotations

import logging
import re

import pandas as pd

from censorlab import schema
from censorlab.analysis.durations import coerce_dates

logger = logging.getLogger(__name__)

CONTACT_KINDS = frozenset(schema.CONTACT_KINDS)
DEFAULT_CONTACT_WINDOW_DAYS = 30
OPERATOR_HOME_GROUPS = ("US", "CN")
OPERATOR_HOME_OTHER = "other"
OPERATOR_HOME_UNKNOWN = "unknown"
UNKNOWN_REGION = "unknown"

# UN M49 (https://unstats.un.org/unsd/methodology/m49/): alpha-2 -> (region, sub-region).
# "Latin America and the Caribbean" is the M49 intermediate grouping used for the Americas.
UN_M49_REGIONS: dict[str, tuple[str, str]] = {
    "AE": ("Asia", "Western Asia"),
    "AF": ("Asia", "Southern Asia"),
    "AL": ("Europe", "Southern Europe"),
    "AM": ("Asia", "Western Asia"),
    "AR": ("Americas", "Latin America and the Caribbean"),
    "AZ": ("Asia", "Western Asia"),
    "BD": ("Asia", "Southern Asia"),
    "BF": ("Africa", "Sub-Saharan Africa"),
    "BH": ("Asia", "Western Asia"),
    "BI": ("Africa", "Sub-Saharan Africa"),
    "BJ": ("Africa", "Sub-Saharan Africa"),
    "BR": ("Americas", "Latin America and the Caribbean"),
    "BT": ("Asia", "Southern Asia"),
    "BY": ("Europe", "Eastern Europe"),
    "CA": ("Americas", "Northern America"),
    "CD": ("Africa", "Sub-Saharan Africa"),
    "CM": ("Africa", "Sub-Saharan Africa"),
    "CN": ("Asia", "Eastern Asia"),
    "CO": ("Americas", "Latin America and the Caribbean"),
    "CU": ("Americas", "Latin America and the Caribbean"),
    "DZ": ("Africa", "Northern Africa"),
    "EC": ("Americas", "Latin America and the Caribbean"),
    "EG": ("Africa", "Northern Africa"),
    "ES": ("Europe", "Southern Europe"),
    "ET": ("Africa", "Sub-Saharan Africa"),
    "FR": ("Europe", "Western Europe"),
    "GA": ("Africa", "Sub-Saharan Africa"),
    "GB": ("Europe", "Northern Europe"),
    "GM": ("Africa", "Sub-Saharan Africa"),
    "GN": ("Africa", "Sub-Saharan Africa"),
    "GQ": ("Africa", "Sub-Saharan Africa"),
    "ID": ("Asia", "South-eastern Asia"),
    "IN": ("Asia", "Southern Asia"),
    "IQ": ("Asia", "Western Asia"),
    "IR": ("Asia", "Southern Asia"),
    "IT": ("Europe", "Southern Europe"),
    "JO": ("Asia", "Western Asia"),
    "JP": ("Asia", "Eastern Asia"),
    "KE": ("Africa", "Sub-Saharan Africa"),
    "KG": ("Asia", "Central Asia"),
    "KP": ("Asia", "Eastern Asia"),
    "KR": ("Asia", "Eastern Asia"),
    "KZ": ("Asia", "Central Asia"),
    "LB": ("Asia", "Western Asia"),
    "LK": ("Asia", "Southern Asia"),
    "LR": ("Africa", "Sub-Saharan Africa"),
    "MA": ("Africa", "Northern Africa"),
    "ML": ("Africa", "Sub-Saharan Africa"),
    "MM": ("Asia", "South-eastern Asia"),
    "MU": ("Africa", "Sub-Saharan Africa"),
    "MY": ("Asia", "South-eastern Asia"),
    "MZ": ("Africa", "Sub-Saharan Africa"),
    "NG": ("Africa", "Sub-Saharan Africa"),
    "NP": ("Asia", "Southern Asia"),
    "NR": ("Oceania", "Micronesia"),
    "OM": ("Asia", "Western Asia"),
    "PG": ("Oceania", "Melanesia"),
    "PK": ("Asia", "Southern Asia"),
    "RU": ("Europe", "Eastern Europe"),
    "SA": ("Asia", "Western Asia"),
    "SD": ("Africa", "Northern Africa"),
    "SG": ("Asia", "South-eastern Asia"),
    "SN": ("Africa", "Sub-Saharan Africa"),
    "SO": ("Africa", "Sub-Saharan Africa"),
    "SS": ("Africa", "Sub-Saharan Africa"),
    "SY": ("Asia", "Western Asia"),
    "SZ": ("Africa", "Sub-Saharan Africa"),
    "TD": ("Africa", "Sub-Saharan Africa"),
    "TG": ("Africa", "Sub-Saharan Africa"),
    "TH": ("Asia", "South-eastern Asia"),
    "TJ": ("Asia", "Central Asia"),
    "TM": ("Asia", "Central Asia"),
    "TN": ("Africa", "Northern Africa"),
    "TR": ("Asia", "Western Asia"),
    "TW": ("Asia", "Eastern Asia"),  # not listed separately by M49; its geography
    "TZ": ("Africa", "Sub-Saharan Africa"),
    "UA": ("Europe", "Eastern Europe"),
    "UG": ("Africa", "Sub-Saharan Africa"),
    "US": ("Americas", "Northern America"),
    "UZ": ("Asia", "Central Asia"),
    "VE": ("Americas", "Latin America and the Caribbean"),
    "VN": ("Asia", "South-eastern Asia"),
    "YE": ("Asia", "Western Asia"),
    "ZM": ("Africa", "Sub-Saharan Africa"),
    "ZW": ("Africa", "Sub-Saharan Africa"),
}

# (authority_type, case-insensitive regex); the first matching rule wins.
AUTHORITY_RULES: tuple[tuple[str, str], ...] = (
    ("legislature", r"\bact\b|parliament|legislat"),
    ("judiciary", r"\bcourt\b|\bjudge\b|\bjudiciary\b|\bjudicial\b|\bjustice\b|\bSTF\b"),
    (
        "regulator",
        r"roskomnadzor|meity|\bbtrc\b|\bpta\b|\btrc\b|\bbtk\b|kominfo|\bcitc\b|\bucc\b"
        r"|conatel|communications authority|communications commission|komnazorat|\bnbtc\b"
        r"|\bncc\b|haute autorit|regulatory|rtuk|\btib\b|telecommunications directorate",
    ),
    (
        "executive",
        r"government|ministry|minister|cabinet|president|authorities|department|council"
        r"|great firewall|security|interior|taliban|junta|prosecutor|police|constabulary",
    ),
    ("isp", r"\bisps?\b|state telecom|state-run|cantv|etecsa"),
)
UNKNOWN_AUTHORITY = "unknown"


def _dyad_key(country_a: pd.Series, country_b: pd.Series) -> pd.Series:
    """Order-free key of a country pair, so RU-CN and CN-RU are the same dyad."""
    first = country_a.where(country_a <= country_b, country_b)
    second = country_b.where(country_a <= country_b, country_a)
    return first.str.cat(second, sep="-")


def add_dyad_key(frame: pd.DataFrame, country_a: str, country_b: str) -> pd.DataFrame:
    """Add an order-free ``dyad`` column (``"CN-RU"``) from two country columns.

    Args:
        frame: A table with the two columns.
        country_a: Name of the first country column.
        country_b: Name of the second country column.

    Returns:
        A copy with ``dyad``; missing when either country is missing.
    """
    a = frame[country_a].astype("string")
    b = frame[country_b].astype("string")
    return frame.assign(dyad=_dyad_key(a, b))


def select_contact_events(diplomatic_events: pd.DataFrame) -> pd.DataFrame:
    """Keep the cooperative diplomatic events (``CONTACT_KINDS``), dropping disputes and sanctions.

    Args:
        diplomatic_events: Rows of ``diplomatic_events``.

    Returns:
        The contact events only.
    """
    return diplomatic_events.loc[diplomatic_events["kind"].isin(CONTACT_KINDS)]


def flag_diplomatic_contact(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_CONTACT_WINDOW_DAYS,
) -> pd.DataFrame:
    """Add ``has_diplomatic_contact`` and ``n_contact_events`` to each block.

    Args:
        blocks: Rows of ``block_events`` (``event_id``, ``blocking_country``,
            ``operator_country``, ``start_date``).
        diplomatic_events: Rows of ``diplomatic_events``.
        window_days: Length of the window after the block start (start day is day 0).

    Returns:
        A copy of ``blocks`` with ``n_contact_events`` (int) and ``has_diplomatic_contact``
        (bool; False also when the operator country is unknown, which is logged).
    """
    keyed_blocks = coerce_dates(blocks, ["start_date"]).pipe(
        add_dyad_key, "blocking_country", "operator_country"
    )
    contacts = (
        diplomatic_events.pipe(select_contact_events)
        .pipe(coerce_dates, ["date"])
        .pipe(add_dyad_key, "country_a", "country_b")
        .loc[:, ["dyad", "date"]]
    )
    pairs = (
        keyed_blocks[["event_id", "dyad", "start_date"]]
        .dropna(subset=["dyad"])
        .merge(contacts, on="dyad", how="inner", validate="m:m")
    )
    days_after_start = (pairs["date"] - pairs["start_date"]).dt.days
    in_window = pairs.loc[days_after_start.between(0, window_days)]
    counts = in_window.groupby("event_id").size()
    n_unknown = int(keyed_blocks["dyad"].isna().sum())
    if n_unknown:
        logger.info("%d block(s) have no operator country; contact set to False", n_unknown)
    n_contact = blocks["event_id"].map(counts).fillna(0).astype(int)
    return blocks.assign(
        n_contact_events=n_contact.to_numpy(), has_diplomatic_contact=(n_contact > 0).to_numpy()
    )


def assign_region(blocks: pd.DataFrame, country: str = "blocking_country") -> pd.DataFrame:
    """Add ``region`` and ``subregion`` (UN M49) of a country column.

    Args:
        blocks: Any table with an alpha-2 country column.
        country: The column to map.

    Returns:
        A copy with ``region`` and ``subregion``; ``"unknown"`` for unmapped codes (logged).
    """
    codes = blocks[country]
    unmapped = sorted(set(codes.dropna()) - set(UN_M49_REGIONS))
    if unmapped:
        logger.warning("No UN M49 region for %s; set to %r", unmapped, UNKNOWN_REGION)
    region = codes.map(lambda code: UN_M49_REGIONS.get(code, (UNKNOWN_REGION,) * 2)[0])
    subregion = codes.map(lambda code: UN_M49_REGIONS.get(code, (UNKNOWN_REGION,) * 2)[1])
    return blocks.assign(region=region.to_numpy(), subregion=subregion.to_numpy())


def classify_authority_text(text: object) -> str:
    """Return the authority type of one free-text authority name.

    Args:
        text: The ``authority`` value, e.g. ``"Roskomnadzor / Moscow City Court"``.

    Returns:
        One of ``legislature``, ``judiciary``, ``regulator``, ``executive``, ``isp`` or
            ``unknown``.

    Example:
        >>> classify_authority_text("Roskomnadzor / Tagansky District Court Moscow")
        'judiciary'
        >>> classify_authority_text("Roskomnadzor")
        'regulator'
    """
    if not isinstance(text, str) or not text.strip():
        return UNKNOWN_AUTHORITY
    for authority_type, pattern in AUTHORITY_RULES:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return authority_type
    return UNKNOWN_AUTHORITY


def classify_authority(blocks: pd.DataFrame) -> pd.DataFrame:
    """Add ``authority_type`` from the free-text ``authority`` column (rules: module docstring).

    Args:
        blocks: Rows of ``block_events``.

    Returns:
        A copy with ``authority_type``.
    """
    return blocks.assign(authority_type=blocks["authority"].map(classify_authority_text))


def group_operator_home(blocks: pd.DataFrame) -> pd.DataFrame:
    """Add ``operator_home``: US, CN, ``other`` or ``unknown``, to keep the Cox model small.

    Args:
        blocks: Rows of ``block_events``.

    Returns:
        A copy with ``operator_home``.
    """
    country = blocks["operator_country"].astype("string")
    home = country.where(country.isin(OPERATOR_HOME_GROUPS), OPERATOR_HOME_OTHER)
    return blocks.assign(
        operator_home=home.where(country.notna(), OPERATOR_HOME_UNKNOWN).astype(str).to_numpy()
    )


def pool_rare_levels(
    frame: pd.DataFrame, column: str, min_count: int, other: str = OPERATOR_HOME_OTHER
) -> pd.DataFrame:
    """Replace levels of ``column`` seen fewer than ``min_count`` times with ``other``.

    A level with two blocks gives a hazard ratio with an infinite interval; pooling keeps
    the model estimable and says so in the level name.

    Args:
        frame: Any table.
        column: A categorical/text column.
        min_count: Minimum number of rows a level needs to stay separate.
        other: Name of the pooled level.

    Returns:
        A copy with the column pooled.
    """
    counts = frame[column].value_counts()
    rare = set(counts[counts < min_count].index)
    if rare:
        logger.info("Pooled %s levels %s into %r", column, sorted(rare), other)
    return frame.assign(**{column: frame[column].where(~frame[column].isin(rare), other)})


def add_block_covariates(
    blocks: pd.DataFrame,
    diplomatic_events: pd.DataFrame,
    window_days: int = DEFAULT_CONTACT_WINDOW_DAYS,
) -> pd.DataFrame:
    """Add every covariate of this module in one ``.pipe`` chain.

    Args:
        blocks: Rows of ``block_events`` (usually with durations already added).
        diplomatic_events: Rows of ``diplomatic_events``.
        window_days: Contact window after block start.

    Returns:
        A copy with contact, region, authority type and operator-home columns.
    """
    return (
        blocks.pipe(flag_diplomatic_contact, diplomatic_events, window_days=window_days)
        .pipe(assign_region)
        .pipe(classify_authority)
        .pipe(group_operator_home)
    )
