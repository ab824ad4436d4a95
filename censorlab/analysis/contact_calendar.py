"""The diplomatic contact calendar the models read: which events count, where it is complete.

A contact calendar is two frames, and the models take both:

* **Contacts** (:func:`select_calendar_contacts`): dated events of a dyad (an *unordered* pair
  of countries: a US service blocked in TR matches rows (TR, US) and (US, TR)). Only rows whose
  ``compiled_by`` is in a declared set count (the main analysis: ``dyad-sweep`` only, because a
  row found by looking around a block is there *because of* the block), and only rows whose
  ``contact_level`` is in a declared set (disputes and sanctions have none and never count).
  Each contact is dated by its **latest possible day** (``latest_date``): a visit known only to
  the month switches on at the end of that month, so an imprecise date can delay exposure but
  never move it before a lift it might have followed.
* **Coverage spans** (:func:`select_covered_spans`): the calendar days on which the calendar of
  a dyad is known to be complete. From the curated ``diplomatic_coverage`` table a dyad-year is
  covered only if its ``complete_levels`` list **every** declared contact level (a sweep that
  is complete for presidential visits says nothing about phone calls, so counting calls there
  would read "no call found" as "no call happened"). Rows of the same dyad-year (either order)
  are pooled: a level is complete if any of them says so. Covered days are merged into
  contiguous spans. Outside them, "no contact" is not an observation, and the models leave that
  time out (see :mod:`censorlab.analysis.intervals`).

**Main contact levels** (``MAIN_CONTACT_LEVELS``): leader visits, in either direction: the one
level that a systematic list certifies complete in the coverage table (the U.S. Office of the
Historian's "Travels of the President" and "Visits by Foreign Leaders"; US dyads 2009-2016 and
2021-2024). Foreign-minister visits were declared too until 2026-12-02, but the coverage table
never marks ``minister-visit`` complete (only the Secretary of State's trips are listed, not the
other minister's visits to the US), so requiring both left no covered day at all; the change
follows from which sweeps could be certified, not from any result (``docs/design.md``).
``MINISTER_CONTACT_LEVELS`` (leader and minister visits) and ``ALL_CONTACT_LEVELS`` are
sensitivity runs.

**Levels counted as found** (``required_complete_levels``): a sensitivity run can count the
contacts of more levels than it requires to be complete, e.g. every level, on the dyad-years
complete for leader visits only. Such a run reads "not found" as "did not happen" for the
extra levels, which is exactly the reading the main analysis refuses; it shows what the extra
rows would change, not an estimate on complete data.

**GDELT route** (:func:`build_gdelt_contact_calendar`, :func:`build_gdelt_coverage`): for
users who downloaded GDELT exports, a machine-coded calendar in the same shape. A dyad-day is a
contact when its events with a pre-declared CAMEO code (root codes 03 "express intent to
cooperate", 04 "consult" and 05 "engage in diplomatic cooperation", which includes 057 "sign
formal agreement") reach a declared minimum of mentions and of distinct source articles; one
row per dyad-day, ``compiled_by="gdelt"``, ``contact_level="gdelt-contact"``. Every dyad-day of
the downloaded span is covered (GDELT reads the same news stream for every pair), so coverage
is one span with the wildcard dyad ``"*"``. The ingest (:mod:`censorlab.sources.gdelt`) already
maps actor codes to alpha-2 through the crosswalk and keeps only diplomatic CAMEO codes; in
practice root 03 means 036 and root 05 means 057. Actors are any persons of the two countries
(GDELT keeps no actor type in ``gdelt_events``), not only governments: a known limitation.

**Placebo calendars** (:func:`draw_placebo_calendar`): each dyad's contacts are shifted by one
random number of days, circularly *inside that dyad's covered days* (the covered spans laid
end to end). The shift keeps the number of contacts, their spacing and the calendar's coverage,
and breaks only their timing relative to the blocks: the null hypothesis of the permutation
test and of the event-window placebo.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from censorlab.analysis.covariates import add_dyad_key
from censorlab.analysis.durations import coerce_dates
from censorlab.analysis.vocabulary import (
    COMPILED_BY_GDELT,
    COMPILED_BY_SWEEP,
    CONTACT_LEVELS,
)

logger = logging.getLogger(__name__)

MAIN_CONTACT_LEVELS = ("leader-visit",)
MINISTER_CONTACT_LEVELS = ("leader-visit", "minister-visit")
ALL_CONTACT_LEVELS = tuple(CONTACT_LEVELS)
LEADER_CONTACT_LEVELS = ("leader-visit", "leader-meeting", "leader-call")
MAIN_COMPILED_BY = (COMPILED_BY_SWEEP,)
ALL_DYADS = "*"
GDELT_CONTACT_LEVEL = "gdelt-contact"
GDELT_CONTACT_CAMEO_ROOTS = ("03", "04", "05")
GDELT_CONTACT_CAMEO_CODES = ("057",)
GDELT_MIN_MENTIONS = 10
GDELT_MIN_SOURCES = 2
GDELT_SWEEP_SOURCE = "GDELT 2.0 event exports"
CONTACT_COLUMNS = [
    "contact_event_id",
    "dyad",
    "contact_date",
    "date_precision",
    "contact_level",
    "compiled_by",
]
SPAN_COLUMNS = ["dyad", "covered_start_date", "covered_end_date"]
EPOCH = pd.Timestamp("1970-01-01")


def to_epoch_days(dates: pd.Series) -> np.ndarray:
    """Whole days since 1970-01-01 of a date column (for integer day arithmetic).

    Args:
        dates: Dates (any form ``pd.to_datetime`` reads); no missing values.

    Returns:
        An int64 array.
    """
    return ((pd.to_datetime(dates) - EPOCH).dt.days).to_numpy(dtype="int64")


def _level_set(value: object) -> frozenset[str]:
    """Levels of one ``complete_levels`` cell: a list/array (Parquet) or a ``;`` string (CSV)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return frozenset()
    if isinstance(value, str):
        return frozenset(part.strip() for part in value.split(";") if part.strip())
    return frozenset(str(part) for part in value)


def _require_columns(frame: pd.DataFrame, columns: Iterable[str], table: str) -> None:
    missing = [column for column in columns if column not in frame.columns]
    if missing:
        raise ValueError(f"{table} lacks column(s) {missing} (issue #9 input contract)")


def select_calendar_contacts(
    diplomatic_events: pd.DataFrame,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    compiled_by: Sequence[str] = MAIN_COMPILED_BY,
) -> pd.DataFrame:
    """Keep the contact events that the declared calendar counts, dated by their latest day.

    Args:
        diplomatic_events: Rows of ``diplomatic_events`` (or a GDELT calendar), with
            ``country_a``, ``country_b``, ``date`` (``latest_date`` when present),
            ``compiled_by`` and ``contact_level``.
        contact_levels: Contact levels that count (module docstring).
        compiled_by: Values of ``compiled_by`` that count.

    Returns:
        ``contact_event_id, dyad, contact_date, date_precision, contact_level, compiled_by``,
        sorted by dyad, date and id.

    Raises:
        ValueError: A required column is absent.
    """
    _require_columns(
        diplomatic_events,
        ["country_a", "country_b", "date", "compiled_by", "contact_level"],
        "diplomatic_events",
    )
    unknown = sorted(set(contact_levels) - set(CONTACT_LEVELS) - {GDELT_CONTACT_LEVEL})
    if unknown:
        raise ValueError(f"unknown contact level(s) {unknown}; known: {CONTACT_LEVELS}")
    kept = diplomatic_events.loc[
        diplomatic_events["compiled_by"].isin(list(compiled_by)).to_numpy()
        & diplomatic_events["contact_level"].isin(list(contact_levels)).to_numpy()
    ]
    dated = coerce_dates(kept, ["date", "latest_date"]).pipe(add_dyad_key, "country_a", "country_b")
    latest = dated["latest_date"].fillna(dated["date"]) if "latest_date" in dated else dated["date"]
    ids = dated["event_id"] if "event_id" in dated else pd.Series(dated.index.astype(str))
    out = pd.DataFrame(
        {
            "contact_event_id": ids.astype(str).to_numpy(),
            "dyad": dated["dyad"].to_numpy(),
            "contact_date": latest.to_numpy(),
            "date_precision": (
                dated["date_precision"].to_numpy() if "date_precision" in dated else pd.NA
            ),
            "contact_level": dated["contact_level"].to_numpy(),
            "compiled_by": dated["compiled_by"].to_numpy(),
        }
    )
    return (
        out.dropna(subset=["dyad", "contact_date"])
        .sort_values(["dyad", "contact_date", "contact_event_id"])
        .reset_index(drop=True)
    )


def _merge_day_spans(spans: pd.DataFrame) -> pd.DataFrame:
    """Merge overlapping or adjacent (next day) spans of each dyad."""
    if spans.empty:
        return pd.DataFrame(columns=SPAN_COLUMNS).astype(
            {"covered_start_date": "datetime64[ns]", "covered_end_date": "datetime64[ns]"}
        )
    rows = []
    ordered = spans.sort_values(["dyad", "covered_start_date", "covered_end_date"])
    for dyad, group in ordered.groupby("dyad", sort=True):
        current_start, current_end = None, None
        for start, end in zip(group["covered_start_date"], group["covered_end_date"], strict=True):
            if current_end is not None and start <= current_end + pd.Timedelta(days=1):
                current_end = max(current_end, end)
                continue
            if current_end is not None:
                rows.append((dyad, current_start, current_end))
            current_start, current_end = start, end
        rows.append((dyad, current_start, current_end))
    return pd.DataFrame(rows, columns=SPAN_COLUMNS).astype(
        {"covered_start_date": "datetime64[ns]", "covered_end_date": "datetime64[ns]"}
    )


def _yearly_rows_to_spans(coverage: pd.DataFrame, contact_levels: Sequence[str]) -> pd.DataFrame:
    keyed = add_dyad_key(coverage, "country_a", "country_b").dropna(subset=["dyad"])
    pooled = (
        keyed.assign(levels=keyed["complete_levels"].map(_level_set))
        .groupby(["dyad", "year"])["levels"]
        .agg(lambda sets: frozenset().union(*sets))
    )
    wanted = frozenset(contact_levels)
    covered = pooled[pooled.map(wanted.issubset)].reset_index()
    years = covered["year"].astype(int).astype(str)
    return pd.DataFrame(
        {
            "dyad": covered["dyad"],
            "covered_start_date": pd.to_datetime(years + "-01-01"),
            "covered_end_date": pd.to_datetime(years + "-12-31"),
        }
    )


def _span_rows_to_spans(coverage: pd.DataFrame, contact_levels: Sequence[str]) -> pd.DataFrame:
    spans = coverage
    if "dyad" not in spans.columns:
        spans = add_dyad_key(spans, "country_a", "country_b")
    if "complete_levels" in spans.columns:
        wanted = frozenset(contact_levels)
        spans = spans.loc[spans["complete_levels"].map(_level_set).map(wanted.issubset).to_numpy()]
    return coerce_dates(spans, ["covered_start_date", "covered_end_date"]).loc[:, SPAN_COLUMNS]


def resolve_required_levels(
    contact_levels: Sequence[str], required_complete_levels: Sequence[str] | None
) -> tuple[str, ...]:
    """The levels a dyad-year must have complete: all counted levels, or a declared subset.

    A required level that is not counted would make coverage depend on a calendar the model
    never reads, so it is refused rather than silently ignored.

    Args:
        contact_levels: The contact levels that count.
        required_complete_levels: ``None`` or a non-empty subset of ``contact_levels``.

    Returns:
        The required levels, as a tuple.

    Raises:
        ValueError: An empty list, or a level outside ``contact_levels``.
    """
    if required_complete_levels is None:
        return tuple(contact_levels)
    required = tuple(required_complete_levels)
    extra = sorted(set(required) - set(contact_levels))
    if not required or extra:
        raise ValueError(
            "required_complete_levels must be a non-empty subset of contact_levels; "
            f"got {required} (not counted: {extra})"
        )
    return required


def select_covered_spans(
    coverage: pd.DataFrame,
    contact_levels: Sequence[str] = MAIN_CONTACT_LEVELS,
    required_complete_levels: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Calendar spans on which each dyad's calendar is complete for every required level.

    Args:
        coverage: Either the curated ``diplomatic_coverage`` table (``country_a, country_b,
            year, complete_levels``) or a span frame (``dyad`` or the two countries,
            ``covered_start_date, covered_end_date`` and optionally ``complete_levels``), such
            as :func:`build_gdelt_coverage` returns. ``dyad == "*"`` covers every dyad.
        contact_levels: The declared contact levels; all must be complete unless
            ``required_complete_levels`` says otherwise.
        required_complete_levels: The levels that must be complete (``None``: all of
            ``contact_levels``). A subset of ``contact_levels`` makes the other levels
            "counted as found" (module docstring).

    Returns:
        ``dyad, covered_start_date, covered_end_date`` (inclusive days), merged and sorted.

    Raises:
        ValueError: ``required_complete_levels`` is empty or names a level not counted.
    """
    contact_levels = resolve_required_levels(contact_levels, required_complete_levels)
    if {"year", "complete_levels"} <= set(coverage.columns):
        spans = _yearly_rows_to_spans(coverage, contact_levels)
    else:
        _require_columns(coverage, ["covered_start_date", "covered_end_date"], "coverage")
        spans = _span_rows_to_spans(coverage, contact_levels)
    return _merge_day_spans(spans)


def expand_wildcard_spans(spans: pd.DataFrame, dyads: Iterable[str]) -> pd.DataFrame:
    """Give every named dyad the spans of the wildcard dyad ``"*"`` (GDELT coverage).

    Args:
        spans: Output of :func:`select_covered_spans`.
        dyads: The dyads the analysis needs.

    Returns:
        Spans without the wildcard, merged per dyad.
    """
    wildcard = spans.loc[spans["dyad"] == ALL_DYADS]
    named = spans.loc[spans["dyad"] != ALL_DYADS]
    if wildcard.empty:
        return named.reset_index(drop=True)
    copies = [wildcard.assign(dyad=dyad) for dyad in sorted(set(dyads) - {ALL_DYADS})]
    return _merge_day_spans(pd.concat([named, *copies], ignore_index=True))


def build_gdelt_contact_calendar(
    gdelt_events: pd.DataFrame,
    cameo_roots: Sequence[str] = GDELT_CONTACT_CAMEO_ROOTS,
    cameo_codes: Sequence[str] = GDELT_CONTACT_CAMEO_CODES,
    min_mentions: int = GDELT_MIN_MENTIONS,
    min_sources: int = GDELT_MIN_SOURCES,
) -> pd.DataFrame:
    """Turn GDELT events into a dyad-day contact calendar in the ``diplomatic_events`` shape.

    A single machine-coded article is often miscoded, so a dyad-day counts only when its events
    with a declared CAMEO code add up to at least ``min_mentions`` mentions and come from at
    least ``min_sources`` distinct source URLs. Both thresholds are declared here, before any
    result, and reported on every row.

    Args:
        gdelt_events: Rows of ``gdelt_events`` (``date``, ``country_a``, ``country_b``,
            ``cameo_code``, ``num_mentions``, ``source_urls``).
        cameo_roots: CAMEO root codes (first two digits) that are contact.
        cameo_codes: Further full CAMEO codes that are contact (057, sign formal agreement,
            is named explicitly; it is also inside root 05).
        min_mentions: Minimum total ``num_mentions`` of the dyad-day's contact events.
        min_sources: Minimum number of distinct source URLs of the dyad-day.

    Returns:
        One row per kept dyad-day: ``event_id`` (``GDELT-DAY-<dyad>-<YYYYMMDD>``), ``date``,
        ``date_precision`` (day), ``earliest_date``, ``latest_date``, ``country_a``,
        ``country_b`` (alphabetical), ``kind`` (the day's most frequent kind), ``compiled_by``
        (``gdelt``), ``contact_level`` (``gdelt-contact``), ``sweep_source``, ``n_events``,
        ``num_mentions_total``, ``n_sources``, ``cameo_codes`` and ``source_urls`` (lists),
        ``min_mentions`` and ``min_sources``; sorted by date and dyad.
    """
    codes = gdelt_events["cameo_code"].astype("string")
    is_contact = codes.str.slice(0, 2).isin(list(cameo_roots)) | codes.isin(list(cameo_codes))
    kept = (
        coerce_dates(gdelt_events.loc[is_contact.fillna(False).to_numpy()], ["date"])
        .pipe(add_dyad_key, "country_a", "country_b")
        .dropna(subset=["dyad", "date"])
    )
    kept = kept.loc[kept["country_a"] != kept["country_b"]]
    kind = kept["kind"] if "kind" in kept else pd.Series("negotiation", index=kept.index)
    kept = kept.assign(
        kind=kind.astype(str),
        num_mentions=pd.to_numeric(kept["num_mentions"]).fillna(0).astype("int64"),
        source_urls=kept["source_urls"].map(lambda urls: [] if urls is None else list(urls)),
    )
    rows = []
    for (dyad, day), group in kept.groupby(["dyad", "date"], sort=True):
        urls = sorted({url for urls in group["source_urls"] for url in urls})
        kinds = group["kind"].value_counts()
        first, second = dyad.split("-")
        rows.append(
            {
                "event_id": f"GDELT-DAY-{dyad}-{day:%Y%m%d}",
                "date": day,
                "date_precision": "day",
                "earliest_date": day,
                "latest_date": day,
                "country_a": first,
                "country_b": second,
                "kind": sorted(kinds.index, key=lambda k: (-kinds[k], k))[0],
                "compiled_by": COMPILED_BY_GDELT,
                "contact_level": GDELT_CONTACT_LEVEL,
                "sweep_source": GDELT_SWEEP_SOURCE,
                "n_events": len(group),
                "num_mentions_total": int(group["num_mentions"].sum()),
                "n_sources": len(urls),
                "cameo_codes": sorted(group["cameo_code"].astype(str).unique()),
                "source_urls": urls,
            }
        )
    columns = [
        "event_id",
        "date",
        "date_precision",
        "earliest_date",
        "latest_date",
        "country_a",
        "country_b",
        "kind",
        "compiled_by",
        "contact_level",
        "sweep_source",
        "n_events",
        "num_mentions_total",
        "n_sources",
        "cameo_codes",
        "source_urls",
    ]
    calendar = pd.DataFrame(rows, columns=columns)
    enough = (calendar["num_mentions_total"] >= min_mentions) & (
        calendar["n_sources"] >= min_sources
    )
    logger.info(
        "GDELT calendar: %d of %d dyad-days reach %d mentions and %d sources",
        int(enough.sum()),
        len(calendar),
        min_mentions,
        min_sources,
    )
    return (
        calendar.loc[enough.to_numpy()]
        .assign(min_mentions=min_mentions, min_sources=min_sources)
        .sort_values(["date", "country_a", "country_b"])
        .reset_index(drop=True)
    )


def build_gdelt_coverage(since: object, until: object) -> pd.DataFrame:
    """Coverage of a GDELT download: every dyad is covered on every day of the span.

    Args:
        since: First day of the downloaded exports.
        until: Last day of the downloaded exports (inclusive).

    Returns:
        One span row with ``dyad == "*"``, ``covered_start_date``, ``covered_end_date`` and
        ``complete_levels == ["gdelt-contact"]``, in the shape :func:`select_covered_spans`
        accepts.

    Raises:
        ValueError: ``until`` before ``since``.
    """
    first, last = pd.Timestamp(since), pd.Timestamp(until)
    if last < first:
        raise ValueError(f"until {last.date()} is before since {first.date()}")
    return pd.DataFrame(
        {
            "dyad": [ALL_DYADS],
            "covered_start_date": [first],
            "covered_end_date": [last],
            "complete_levels": [[GDELT_CONTACT_LEVEL]],
        }
    )


def contact_days_by_dyad(contacts: pd.DataFrame) -> dict[str, np.ndarray]:
    """Sorted epoch days of each dyad's contacts: the form the model builders iterate over.

    Args:
        contacts: Output of :func:`select_calendar_contacts`.

    Returns:
        ``{dyad: int64 array}``.
    """
    if contacts.empty:
        return {}
    days = to_epoch_days(contacts["contact_date"])
    return {
        dyad: np.sort(days[index])
        for dyad, index in contacts.groupby("dyad", sort=True).indices.items()
    }


@dataclass(frozen=True)
class _DyadCoverage:
    """A dyad's covered spans laid end to end, and its contacts' positions in them."""

    starts: np.ndarray  # epoch day of each span's first day
    offsets: np.ndarray  # covered-day index of each span's first day
    total: int  # covered days in all
    contact_index: np.ndarray  # covered-day index of each contact inside coverage
    contact_rows: np.ndarray  # row positions (in the contacts frame) of those contacts

    def days_at(self, index: np.ndarray) -> np.ndarray:
        span = np.searchsorted(self.offsets, index, side="right") - 1
        return self.starts[span] + index - self.offsets[span]


@dataclass(frozen=True)
class PlaceboCalendar:
    """Contacts and coverage prepared once, so each placebo draw is a few numpy operations.

    Attributes:
        contacts: The contacts it was built from (``select_calendar_contacts`` output).
        dyads: ``{dyad: _DyadCoverage}`` for every dyad with contacts and coverage.
    """

    contacts: pd.DataFrame
    dyads: dict[str, _DyadCoverage]

    def shifted_days(self, shifts: dict[str, int]) -> dict[str, np.ndarray]:
        """Each dyad's contact days after moving them ``shifts[dyad]`` covered days."""
        return {
            dyad: np.sort(cover.days_at((cover.contact_index + shifts.get(dyad, 0)) % cover.total))
            for dyad, cover in self.dyads.items()
        }

    def draw_shifts(self, rng: np.random.Generator) -> dict[str, int]:
        """One uniform shift in ``0 .. L-1`` per dyad, drawn in sorted dyad order."""
        return {dyad: int(rng.integers(0, self.dyads[dyad].total)) for dyad in sorted(self.dyads)}

    def draw_days(self, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Contact days of one placebo calendar (see :func:`draw_placebo_calendar`)."""
        return self.shifted_days(self.draw_shifts(rng))


def prepare_placebo_calendar(contacts: pd.DataFrame, spans: pd.DataFrame) -> PlaceboCalendar:
    """Index each dyad's covered days and its contacts' positions in them.

    Contacts outside their dyad's covered days are left out: they never enter an at-risk row.

    Args:
        contacts: Output of :func:`select_calendar_contacts`.
        spans: Output of :func:`select_covered_spans` (wildcards already expanded).

    Returns:
        A :class:`PlaceboCalendar`.
    """
    contacts = contacts.reset_index(drop=True)
    dyads = {}
    for dyad, rows in contacts.groupby("dyad", sort=True).indices.items():
        dyad_spans = spans.loc[spans["dyad"] == dyad].sort_values("covered_start_date")
        if dyad_spans.empty:
            continue
        starts = to_epoch_days(dyad_spans["covered_start_date"])
        ends = to_epoch_days(dyad_spans["covered_end_date"])
        lengths = ends - starts + 1
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        days = to_epoch_days(contacts.loc[rows, "contact_date"])
        span_of = np.searchsorted(starts, days, side="right") - 1
        inside = (span_of >= 0) & (days <= ends[np.clip(span_of, 0, None)])
        index = offsets[span_of[inside]] + days[inside] - starts[span_of[inside]]
        dyads[dyad] = _DyadCoverage(starts, offsets, int(lengths.sum()), index, rows[inside])
    return PlaceboCalendar(contacts, dyads)


def _calendar_frame(calendar: PlaceboCalendar, shifts: dict[str, int]) -> pd.DataFrame:
    frames = []
    for dyad, cover in calendar.dyads.items():
        moved = cover.days_at((cover.contact_index + shifts.get(dyad, 0)) % cover.total)
        frames.append(
            calendar.contacts.loc[cover.contact_rows].assign(
                contact_date=EPOCH + pd.to_timedelta(moved, unit="D")
            )
        )
    if not frames:
        return calendar.contacts.iloc[0:0].copy()
    return (
        pd.concat(frames, ignore_index=True)
        .sort_values(["dyad", "contact_date", "contact_event_id"])
        .reset_index(drop=True)
    )


def shift_contacts_within_coverage(
    contacts: pd.DataFrame, spans: pd.DataFrame, shifts: dict[str, int]
) -> pd.DataFrame:
    """Move each dyad's contacts by a given number of covered days, circularly.

    The covered spans of a dyad are laid end to end (``L`` covered days); a contact on the
    ``k``-th covered day moves to covered day ``(k + shift) mod L``. Contacts outside the
    dyad's covered days are dropped: they never enter an at-risk row anyway.

    Args:
        contacts: Output of :func:`select_calendar_contacts`.
        spans: Output of :func:`select_covered_spans` (wildcards already expanded).
        shifts: ``{dyad: shift in days}``; dyads absent from it are not shifted.

    Returns:
        The contacts with shifted ``contact_date``.
    """
    return _calendar_frame(prepare_placebo_calendar(contacts, spans), shifts)


def draw_placebo_calendar(
    contacts: pd.DataFrame, spans: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """One placebo calendar: each dyad's contacts shifted by a uniform random covered-day offset.

    Args:
        contacts: Output of :func:`select_calendar_contacts`.
        spans: Output of :func:`select_covered_spans` (wildcards expanded for these dyads).
        rng: A seeded ``numpy.random.Generator`` (the caller owns the seed).

    Returns:
        The shifted contacts (see :func:`shift_contacts_within_coverage`).
    """
    calendar = prepare_placebo_calendar(contacts, spans)
    return _calendar_frame(calendar, calendar.draw_shifts(rng))


NOT_COMPLETE_LABEL = "swept, no level complete"


def tabulate_coverage(coverage: pd.DataFrame) -> pd.DataFrame:
    """One row per swept unordered dyad-year with the levels certified complete, as a label.

    The coverage heat map and its counts read this table; pooling the two orders of a dyad the
    same way as :func:`select_covered_spans` keeps the picture and the analysis in step.

    Args:
        coverage: The curated ``diplomatic_coverage`` table.

    Returns:
        ``dyad, year, complete_levels`` (sorted tuple) and ``coverage_label`` (the levels
        joined with ``" + "``, or ``"swept, no level complete"``), sorted by dyad and year.
        Dyad-years that were never swept have no row.
    """
    keyed = add_dyad_key(coverage, "country_a", "country_b").dropna(subset=["dyad"])
    pooled = (
        keyed.assign(levels=keyed["complete_levels"].map(_level_set))
        .groupby(["dyad", "year"])["levels"]
        .agg(lambda sets: tuple(sorted(frozenset().union(*sets))))
        .rename("complete_levels")
        .reset_index()
    )
    labels = pooled["complete_levels"].map(lambda levels: " + ".join(levels) or NOT_COMPLETE_LABEL)
    return (
        pooled.assign(year=pooled["year"].astype(int), coverage_label=labels)
        .sort_values(["dyad", "year"])
        .reset_index(drop=True)
    )
