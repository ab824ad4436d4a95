"""Block durations with explicit censoring and date-precision bounds.

A block's duration is an interpretation, never a stored fact: the processed ``block_events``
table keeps dates and their precision, and this module turns them into days. Two rules make
the numbers honest:

* **Censoring.** A block without an end date is ongoing *as of* a stated date (the build's
  ``as_of``, never today). Its duration is ``as_of - start`` and it is flagged
  ``observed=False`` so survival methods treat it as right-censored, not as missing.
* **Precision bounds.** A start known only to the month could be any day in it. The low bound
  is the shortest duration the bracketed dates allow (latest start to earliest end), the high
  bound the longest (earliest start to latest end), so every statistic can be reported as a
  range across ``duration_low_days`` .. ``duration_high_days``.
* **End status** (:func:`classify_end_status`). The curated convention is "empty end_date =
  ongoing as of the source", but many curated rows say in ``confidence_note``/``notes`` that
  the end was simply *not found* (short election-time blocks, for instance). Treating those as
  ongoing for years inflates durations, so each block gets ``end_status``: ``reported`` (an
  end date is present), ``unknown`` (no end date, and the text matches one of
  ``UNKNOWN_END_PATTERNS``) or ``ongoing`` (no end date otherwise). This is an interpretation
  of free text and lives here, not in the processed table. :func:`apply_end_status_scenario`
  turns it into the three censoring scenarios of the sensitivity analysis.

Example:
    >>> import pandas as pd
    >>> blocks = pd.DataFrame({
    ...     "event_id": ["RU-2017-WECHAT"],
    ...     "start_date": ["2017-05-04"], "start_earliest_date": ["2017-05-04"],
    ...     "start_latest_date": ["2017-05-04"], "end_date": ["2017-05-11"],
    ...     "end_earliest_date": ["2017-05-11"], "end_latest_date": ["2017-05-11"],
    ... })
    >>> out = compute_block_durations(blocks, as_of="2025-11-01")
    >>> columns = ["duration_days", "duration_low_days", "duration_high_days", "observed"]
    >>> print(out[columns].to_string(index=False))
     duration_days  duration_low_days  duration_high_days  observed
               7.0                7.0                 7.0      True
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

import pandas as pd

logger = logging.getLogger(__name__)

START_COLUMNS = ("start_date", "start_earliest_date", "start_latest_date")
END_COLUMNS = ("end_date", "end_earliest_date", "end_latest_date")
DATE_COLUMNS = START_COLUMNS + END_COLUMNS
DURATION_COLUMNS = (
    "duration_days",
    "duration_low_days",
    "duration_high_days",
    "observed",
    "is_ongoing",
    "censor_date",
)
SECONDS_PER_DAY = 86_400

END_REPORTED = "reported"
END_ONGOING = "ongoing"
END_UNKNOWN = "unknown"
END_STATUS_TEXT_COLUMNS = ("confidence_note", "notes")
# Case-insensitive regexes over "confidence_note | notes"; any match on a row without an end
# date makes its end "unknown". Each names the END (or unblocking/restoration/lifting) as not
# found/known/captured/confirmed, so start-side phrases ("enforcement date not captured",
# "exact day not captured") and "ongoing as of source" never match.
UNKNOWN_END_PATTERNS: tuple[str, ...] = (
    # "end not found", "end date not found", "end dates unknown", "end of block not found",
    # "actual end not found", "end not captured", "enforcement and end not confirmed"
    r"\bend(?:\s+dates?)?(?:\s+of\s+(?:the\s+)?block)?\s+(?:is\s+)?"
    r"(?:not\s+(?:found|known|captured|confirmed)|unknown)",
    # "unblock date not found", "restoration date not captured", "unblock dates per service not
    # captured"
    r"\b(?:unblock(?:ing)?|restoration|lifting|reopening)\s+dates?\b[^;|.]{0,40}?"
    r"\bnot\s+(?:found|known|captured|confirmed)",
    # "later unblocked (date not found)", "access was restored at an unknown date"
    r"\b(?:restored|unblocked|lifted)\b[^;|.]{0,40}?\b(?:unknown\s+date|date\s+not\s+found)",
    # "durations of the social-media restrictions not all captured"
    r"\bdurations?\b[^;|.]{0,60}?\bnot\s+(?:all\s+)?captured",
    # "later status of each service not tracked", "later lifting ... not sourced here"
    r"\blater\s+(?:status|lifting)\b[^;|.]{0,60}?\bnot\s+(?:tracked|sourced)",
)
_UNKNOWN_END_REGEX = re.compile("|".join(f"(?:{p})" for p in UNKNOWN_END_PATTERNS), re.IGNORECASE)
DEFAULT_UNKNOWN_END_MIN_DAYS = 1
END_STATUS_SCENARIOS = ("as_ongoing", "excluded", "censored_at_report")


def coerce_dates(frame: pd.DataFrame, columns: Iterable[str]) -> pd.DataFrame:
    """Return a copy whose date columns are ``datetime64[ns]`` (naive), whatever they arrived as.

    Processed tables may hold ``datetime64[ms]``, python ``date`` objects or ISO strings
    depending on how they were read; arithmetic in this package needs one representation.
    Columns that are absent are skipped, so callers can pass a superset.

    Args:
        frame: Any table.
        columns: Names of the columns to normalise.

    Returns:
        A new frame; the input is not modified.
    """
    present = [column for column in columns if column in frame.columns]
    return frame.assign(
        **{column: pd.to_datetime(frame[column]).astype("datetime64[ns]") for column in present}
    )


def to_timestamp(value: object) -> pd.Timestamp:
    """Return ``value`` (str, date, Timestamp) as a naive ``pd.Timestamp``.

    Args:
        value: Anything ``pd.Timestamp`` accepts.

    Returns:
        The timestamp, so ``as_of`` can be given as ``"2025-11-01"`` or a ``date``.
    """
    return pd.Timestamp(value)


def _days_between(later: pd.Series, earlier: pd.Series) -> pd.Series:
    return (later - earlier).dt.total_seconds() / SECONDS_PER_DAY


def _fill_bounds_from_point(blocks: pd.DataFrame) -> pd.DataFrame:
    """Use the point date where a bracket is missing, so bounds never silently vanish."""
    filled = {}
    for point, earliest, latest in (START_COLUMNS, END_COLUMNS):
        for bound in (earliest, latest):
            if bound in blocks.columns:
                filled[bound] = blocks[bound].fillna(blocks[point])
            else:
                filled[bound] = blocks[point]
    return blocks.assign(**filled)


def compute_block_durations(blocks: pd.DataFrame, as_of: object) -> pd.DataFrame:
    """Add durations in days, censoring flags and precision bounds to a table of blocks.

    Args:
        blocks: Rows of ``block_events`` (needs ``start_date`` and ``end_date``; the
            ``*_earliest_date``/``*_latest_date`` brackets are used when present).
        as_of: The date at which ongoing blocks are censored, normally
            ``censorlab.load_manifest()["as_of"]``. Required on purpose: "ongoing" means
            nothing without it.

    Returns:
        A copy of ``blocks`` with ``is_ongoing`` (no end date, or an end after ``as_of``),
        ``observed`` (the end was seen: the complement, for survival models),
        ``censor_date`` (end date or ``as_of``), ``duration_days`` and the
        ``duration_low_days``/``duration_high_days`` bounds. Blocks that start after
        ``as_of`` get missing durations (logged), because they cannot have lasted yet.
    """
    as_of_ts = to_timestamp(as_of)
    dated = coerce_dates(blocks, DATE_COLUMNS).pipe(_fill_bounds_from_point)
    is_ongoing = dated["end_date"].isna() | (dated["end_date"] > as_of_ts)
    censor_date = dated["end_date"].where(~is_ongoing, as_of_ts)
    end_earliest = dated["end_earliest_date"].where(~is_ongoing, as_of_ts)
    end_latest = dated["end_latest_date"].where(~is_ongoing, as_of_ts)
    started = dated["start_date"] <= as_of_ts
    if (~started).any():
        logger.warning(
            "%d block(s) start after as_of=%s; their durations are left missing",
            int((~started).sum()),
            as_of_ts.date(),
        )
    duration = _days_between(censor_date, dated["start_date"])
    low = _days_between(end_earliest, dated["start_latest_date"]).clip(lower=0)
    high = _days_between(end_latest, dated["start_earliest_date"])
    return blocks.assign(
        is_ongoing=is_ongoing.to_numpy(),
        observed=(~is_ongoing).to_numpy(),
        censor_date=censor_date.to_numpy(),
        duration_days=duration.where(started).to_numpy(),
        duration_low_days=low.where(started).clip(upper=duration).to_numpy(),
        duration_high_days=high.where(started).clip(lower=duration).to_numpy(),
    )


def says_end_unknown(text: object) -> bool:
    """Return True when a free text says a block's end was not found, known or captured.

    Args:
        text: A ``confidence_note``/``notes`` value (anything; non-strings give False).

    Returns:
        Whether any of ``UNKNOWN_END_PATTERNS`` matches (case-insensitive).

    Example:
        >>> says_end_unknown("for start; end not found")
        True
        >>> says_end_unknown("order date; enforcement date not captured")
        False
    """
    return isinstance(text, str) and _UNKNOWN_END_REGEX.search(text) is not None


def classify_end_status(blocks: pd.DataFrame) -> pd.DataFrame:
    """Add ``end_status``: ``reported``, ``unknown`` or ``ongoing`` (rules: module docstring).

    Args:
        blocks: Rows of ``block_events`` (``end_date``; ``confidence_note`` and ``notes`` are
            read when present).

    Returns:
        A copy with ``end_status``. ``reported`` whenever ``end_date`` is present, whatever
        the text says; ``unknown`` when it is empty and the joined ``confidence_note | notes``
        match :func:`says_end_unknown`; ``ongoing`` otherwise.
    """
    present = [column for column in END_STATUS_TEXT_COLUMNS if column in blocks.columns]
    text = pd.Series("", index=blocks.index, dtype="object")
    for column in present:
        text = text.str.cat(blocks[column].astype("string").fillna(""), sep=" | ")
    end_missing = blocks["end_date"].isna()
    unknown = text.map(says_end_unknown).astype(bool)
    status = pd.Series(END_ONGOING, index=blocks.index, dtype="object")
    status = status.mask(unknown, END_UNKNOWN).mask(~end_missing, END_REPORTED)
    return blocks.assign(end_status=status.to_numpy())


def apply_end_status_scenario(
    durations: pd.DataFrame,
    scenario: str,
    unknown_min_days: float = DEFAULT_UNKNOWN_END_MIN_DAYS,
) -> pd.DataFrame:
    """Re-censor the blocks whose end is ``unknown`` under one sensitivity scenario.

    * ``as_ongoing``: unchanged (the curated convention: censored at ``as_of``).
    * ``excluded``: the ``unknown`` rows are dropped.
    * ``censored_at_report``: each ``unknown`` block is censored at
      ``start_latest_date + unknown_min_days`` (never later than its ``as_of`` censor date):
      all we know is that it was in force when it was reported. The bounds follow the same
      rule (low from the latest start, high from the earliest start).

    Args:
        durations: Output of :func:`compute_block_durations` piped through
            :func:`classify_end_status`.
        scenario: One of ``END_STATUS_SCENARIOS``.
        unknown_min_days: Days after the latest possible start that an ``unknown`` block is
            known to have lasted (scenario ``censored_at_report`` only).

    Returns:
        A copy (``excluded``: a subset) with ``observed``, ``censor_date`` and the three
        durations adjusted.
    """
    if scenario not in END_STATUS_SCENARIOS:
        raise ValueError(f"scenario must be one of {END_STATUS_SCENARIOS}, got {scenario!r}")
    unknown = durations["end_status"].eq(END_UNKNOWN).to_numpy()
    if scenario == "as_ongoing":
        return durations.copy()
    if scenario == "excluded":
        return durations.loc[~unknown].copy()
    dated = coerce_dates(durations, DATE_COLUMNS + ("censor_date",)).pipe(_fill_bounds_from_point)
    report_date = dated["start_latest_date"] + pd.Timedelta(days=unknown_min_days)
    censor = report_date.where(report_date < dated["censor_date"], dated["censor_date"])
    duration = _days_between(censor, dated["start_date"])
    low = _days_between(censor, dated["start_latest_date"]).clip(lower=0).clip(upper=duration)
    high = _days_between(censor, dated["start_earliest_date"]).clip(lower=duration)
    started = durations["duration_days"].notna().to_numpy()
    replace = unknown & started
    out = durations.copy()
    out["censor_date"] = dated["censor_date"].where(~replace, censor).to_numpy()
    out["observed"] = out["observed"].to_numpy() & ~replace
    for column, values in (
        ("duration_days", duration),
        ("duration_low_days", low),
        ("duration_high_days", high),
    ):
        out[column] = out[column].where(~replace, values.to_numpy())
    return out


def select_implemented_blocks(blocks: pd.DataFrame) -> pd.DataFrame:
    """Drop orders that never took effect (``is_implemented`` is False).

    A block that was ordered but never enforced has no duration to study; unknown
    implementation status (missing) is kept, because most sources do not state it.

    Args:
        blocks: Rows of ``block_events``.

    Returns:
        The rows whose ``is_implemented`` is True or missing.
    """
    if "is_implemented" not in blocks.columns:
        return blocks
    never_implemented = blocks["is_implemented"].astype("boolean").eq(False).fillna(False)
    return blocks.loc[~never_implemented.to_numpy()]


def summarise_duration_bounds(durations: pd.DataFrame) -> pd.DataFrame:
    """Tabulate one row per block with its duration, bounds and precision, for reading.

    Args:
        durations: Output of :func:`compute_block_durations`.

    Returns:
        ``event_id``, dates, precisions, the three durations and ``observed``.
    """
    wanted = [
        "event_id",
        "service_name",
        "blocking_country",
        "start_date",
        "start_precision",
        "end_date",
        "end_precision",
        "duration_days",
        "duration_low_days",
        "duration_high_days",
        "observed",
    ]
    return durations[[column for column in wanted if column in durations.columns]]
