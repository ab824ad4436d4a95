"""Block durations with censoring read from the data (``end_status``) and date-precision bounds.

A block's duration is an interpretation, never a stored fact: the processed ``block_events``
table keeps dates, their precision and (issue #10) each block's ``end_status``, and this module
turns them into days. The rules:

* **Censoring from data, not text.** ``end_status`` says what the sources say:
  ``ended`` -> an event (the lift) at ``end_date``; ``in_force`` or ``unknown`` -> right-censored
  at ``last_confirmed_date``, the latest day a source confirms the block in force. Never at the
  build's ``as_of``: a block last confirmed in 2014 is not known to have lasted until 2026, and
  censoring it there would claim eleven years of un-lifted time that nobody observed.
* **Scenarios** (``CENSORING_SCENARIOS``), chosen explicitly by the caller:
  ``last_confirmed`` (the main reading: ``in_force`` and ``unknown`` both censored at
  ``last_confirmed_date``); ``unknown_excluded`` (``unknown`` rows dropped: if a source's silence
  is informative, this shows how much it matters); ``as_of_contrast`` (the old reading, every row
  without an end date censored at ``as_of``; kept only as a labelled contrast, it ignores
  ``end_status``). The old free-text heuristic ("end not found" in the notes) is gone: after
  issue #10 every implemented row carries ``end_status`` as data, so nothing needs it.
* **Precision bounds.** A start known only to the month could be any day in it. The low bound is
  the shortest duration the bracketed dates allow (latest start to earliest stop), the high bound
  the longest (earliest start to latest stop), so every statistic can be reported as a range
  across ``duration_low_days`` .. ``duration_high_days``. A censoring date has no bracket: it is
  the day the source confirms (the first day of its period when coarser, which can only make
  the censored time shorter).
* **Contract checks.** Rows that break the contract (an ``ended`` row without an end date, an
  unresolved row without ``last_confirmed_date``, a confirmation before the start, an unknown
  ``end_status``) raise ``ValueError`` naming them: an analysis that silently dropped them would
  change its sample without saying so.

Example:
    >>> import pandas as pd
    >>> blocks = pd.DataFrame({
    ...     "event_id": ["RU-2017-WECHAT", "RU-2017-LINE"],
    ...     "start_date": ["2017-05-04", "2017-05-03"], "end_date": ["2017-05-11", None],
    ...     "end_status": ["ended", "in_force"], "last_confirmed_date": [None, "2017-06-01"],
    ... })
    >>> out = compute_block_durations(blocks)
    >>> print(out[["event_id", "duration_days", "observed", "stop_source"]].to_string(index=False))
          event_id  duration_days  observed         stop_source
    RU-2017-WECHAT            7.0      True            end_date
      RU-2017-LINE           29.0     False last_confirmed_date
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import pandas as pd

from censorlab.analysis.vocabulary import (
    END_STATUS_ENDED,
    END_STATUS_IN_FORCE,
    END_STATUS_UNKNOWN,
    END_STATUSES,
)

logger = logging.getLogger(__name__)

START_COLUMNS = ("start_date", "start_earliest_date", "start_latest_date")
END_COLUMNS = ("end_date", "end_earliest_date", "end_latest_date")
DATE_COLUMNS = START_COLUMNS + END_COLUMNS + ("last_confirmed_date",)
DURATION_COLUMNS = (
    "observed",
    "stop_date",
    "stop_earliest_date",
    "stop_latest_date",
    "stop_source",
    "duration_days",
    "duration_low_days",
    "duration_high_days",
)
SECONDS_PER_DAY = 86_400

SCENARIO_LAST_CONFIRMED = "last_confirmed"
SCENARIO_UNKNOWN_EXCLUDED = "unknown_excluded"
SCENARIO_AS_OF_CONTRAST = "as_of_contrast"
CENSORING_SCENARIOS = (SCENARIO_LAST_CONFIRMED, SCENARIO_UNKNOWN_EXCLUDED, SCENARIO_AS_OF_CONTRAST)
MAIN_CENSORING_SCENARIO = SCENARIO_LAST_CONFIRMED
STOP_END_DATE = "end_date"
STOP_LAST_CONFIRMED = "last_confirmed_date"
STOP_AS_OF = "as_of"
UNRESOLVED_STATUSES = (END_STATUS_IN_FORCE, END_STATUS_UNKNOWN)


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


def check_end_status(blocks: pd.DataFrame) -> list[str]:
    """List every row that breaks the end-status contract of issue #10 (empty = consistent).

    Args:
        blocks: Implemented rows of ``block_events`` with ``end_status``, ``end_date`` and
            ``last_confirmed_date``.

    Returns:
        One message per kind of problem, naming the ``event_id`` values concerned.
    """
    if "end_status" not in blocks.columns:
        return [
            "block_events has no end_status column (issue #10): use scenario "
            f"{SCENARIO_AS_OF_CONTRAST!r} for the old reading"
        ]
    dated = coerce_dates(blocks, ["start_date", "end_date", "last_confirmed_date"])
    if "last_confirmed_date" not in dated.columns:
        dated = dated.assign(last_confirmed_date=pd.NaT)
    status = dated["end_status"]
    unresolved = status.isin(UNRESOLVED_STATUSES)
    checks = {
        "end_status missing or not one of " + ", ".join(END_STATUSES): ~status.isin(END_STATUSES),
        "ended without end_date": status.eq(END_STATUS_ENDED) & dated["end_date"].isna(),
        "in_force/unknown with an end_date": unresolved & dated["end_date"].notna(),
        "in_force/unknown without last_confirmed_date": unresolved
        & dated["last_confirmed_date"].isna(),
        "last_confirmed_date before start_date": unresolved
        & (dated["last_confirmed_date"] < dated["start_date"]),
    }
    ids = blocks["event_id"] if "event_id" in blocks.columns else pd.Series(blocks.index)
    return [
        f"{label}: {sorted(map(str, ids[mask.to_numpy()]))}"
        for label, mask in checks.items()
        if mask.any()
    ]


def _stop_dates_from_status(dated: pd.DataFrame) -> pd.DataFrame:
    """Stop date and its bracket: the end for ended rows, the last confirmation otherwise."""
    ended = dated["end_status"].eq(END_STATUS_ENDED)
    confirmed = dated["last_confirmed_date"]
    return dated.assign(
        observed=ended.to_numpy(),
        stop_date=dated["end_date"].where(ended, confirmed),
        stop_earliest_date=dated["end_earliest_date"].where(ended, confirmed),
        stop_latest_date=dated["end_latest_date"].where(ended, confirmed),
        stop_source=pd.Series(STOP_END_DATE, index=dated.index).where(ended, STOP_LAST_CONFIRMED),
    )


def _stop_dates_at_as_of(dated: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """The old reading: no end date (or an end after as_of) = censored at as_of."""
    open_ended = dated["end_date"].isna() | (dated["end_date"] > as_of)
    return dated.assign(
        observed=(~open_ended).to_numpy(),
        stop_date=dated["end_date"].where(~open_ended, as_of),
        stop_earliest_date=dated["end_earliest_date"].where(~open_ended, as_of),
        stop_latest_date=dated["end_latest_date"].where(~open_ended, as_of),
        stop_source=pd.Series(STOP_END_DATE, index=dated.index).where(~open_ended, STOP_AS_OF),
    )


def compute_block_durations(
    blocks: pd.DataFrame,
    scenario: str = MAIN_CENSORING_SCENARIO,
    as_of: object | None = None,
) -> pd.DataFrame:
    """Add the lift/censoring date, event flag, duration in days and precision bounds per block.

    Args:
        blocks: Implemented rows of ``block_events`` (``start_date``; ``end_date``,
            ``end_status`` and ``last_confirmed_date`` per issue #10; the
            ``*_earliest_date``/``*_latest_date`` brackets are used when present).
        scenario: One of ``CENSORING_SCENARIOS`` (module docstring). The default is the main
            reading; the other two are sensitivity runs and must be asked for by name.
        as_of: Only for ``as_of_contrast``: the date the old reading censored open blocks at
            (normally ``censorlab.load_manifest()["as_of"]``). Refused otherwise, so the build
            date can never leak into the main analysis.

    Returns:
        A copy of ``blocks`` (``unknown_excluded``: without the ``unknown`` rows) with
        ``observed`` (the lift was seen), ``stop_date`` (lift or censoring date) with its bracket
        ``stop_earliest_date``/``stop_latest_date``, ``stop_source`` (``end_date``,
        ``last_confirmed_date`` or ``as_of``), ``duration_days`` and the
        ``duration_low_days``/``duration_high_days`` bounds.

    Raises:
        ValueError: Unknown scenario, ``as_of`` missing or superfluous, or rows that break the
            end-status contract (:func:`check_end_status`).
    """
    if scenario not in CENSORING_SCENARIOS:
        raise ValueError(f"scenario must be one of {CENSORING_SCENARIOS}, got {scenario!r}")
    if (scenario == SCENARIO_AS_OF_CONTRAST) != (as_of is not None):
        raise ValueError(f"as_of is required for {SCENARIO_AS_OF_CONTRAST!r} and only for it")
    dated = coerce_dates(blocks, DATE_COLUMNS).pipe(_fill_bounds_from_point)
    if scenario == SCENARIO_AS_OF_CONTRAST:
        as_of_ts = to_timestamp(as_of)
        stopped = _stop_dates_at_as_of(dated, as_of_ts)
        started = (dated["start_date"] <= as_of_ts).to_numpy()
        if (~started).any():
            logger.warning(
                "%d block(s) start after as_of=%s; their durations are left missing",
                int((~started).sum()),
                as_of_ts.date(),
            )
    else:
        problems = check_end_status(blocks)
        if problems:
            raise ValueError("block_events breaks the end-status contract: " + "; ".join(problems))
        if "last_confirmed_date" not in dated.columns:
            dated = dated.assign(last_confirmed_date=pd.NaT)
        stopped = _stop_dates_from_status(dated)
        started = pd.Series(True, index=dated.index).to_numpy()
    duration = _days_between(stopped["stop_date"], dated["start_date"])
    low = _days_between(stopped["stop_earliest_date"], dated["start_latest_date"]).clip(lower=0)
    high = _days_between(stopped["stop_latest_date"], dated["start_earliest_date"])
    out = blocks.assign(
        **{column: stopped[column].to_numpy() for column in DURATION_COLUMNS[:5]},
        duration_days=duration.where(started).to_numpy(),
        duration_low_days=low.where(started).clip(upper=duration).to_numpy(),
        duration_high_days=high.where(started).clip(lower=duration).to_numpy(),
    )
    if scenario == SCENARIO_UNKNOWN_EXCLUDED:
        unknown = blocks["end_status"].eq(END_STATUS_UNKNOWN).to_numpy()
        logger.info("Scenario %s: %d unknown row(s) excluded", scenario, int(unknown.sum()))
        out = out.loc[~unknown]
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
        ``event_id``, dates, precisions, ``end_status``, the stop date and its source, the
        three durations and ``observed`` (the columns present).
    """
    wanted = [
        "event_id",
        "service_name",
        "blocking_country",
        "start_date",
        "start_precision",
        "end_date",
        "end_precision",
        "end_status",
        "stop_date",
        "stop_source",
        "duration_days",
        "duration_low_days",
        "duration_high_days",
        "observed",
    ]
    return durations[[column for column in wanted if column in durations.columns]]
