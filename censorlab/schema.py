"""The data dictionary: every processed field and table censorlab writes.

One field name means one thing in every table (pudl's rule): `blocking_country` is always an ISO
3166-1 alpha-2 code of the state that ordered a block, `source_urls` always a list of the pages a
row rests on. Each table lists its columns, primary key and row-level checks; from that this
module builds the pyarrow schema used to write Parquet and the pandera schema used to validate,
so the documentation and the enforcement cannot drift apart.

Derived values (block duration, "ongoing") are deliberately absent: they depend on an `as_of`
date and belong to the analysis layer (ooni/data's facts-versus-verdicts split).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa_schema
import pyarrow as pa

SCHEMA_VERSION = "1.2.0"

PRECISIONS = ("day", "day_approx", "month", "quarter", "year")
SCOPES = ("full", "partial", "throttling", "app-store-removal")
CONFIDENCES = ("high", "medium", "low")
DIPLOMATIC_KINDS = (
    "dispute",
    "summit",
    "negotiation",
    "state_visit",
    "sanction",
    "agreement",
    "call",
)
# The kinds that are contact between the two governments (cooperative), as the analyses read
# them; disputes and sanctions are not contact.
CONTACT_KINDS = ("negotiation", "summit", "agreement", "call", "state_visit")
if not set(CONTACT_KINDS) <= set(DIPLOMATIC_KINDS):  # pragma: no cover - an edit mistake
    raise ValueError("CONTACT_KINDS must be diplomatic kinds")
SERVICE_KINDS = (
    "messenger",
    "social",
    "video",
    "search",
    "encyclopedia",
    "game",
    "browser",
    "file-sharing",
    "voip",
    "other",
    "bundle",
)
MAU_QUALIFIERS = ("approx", "at_least", "at_most", "range")
# How the curators read a block's end from the sources (data, not inferred from free text).
END_STATUSES = ("ended", "in_force", "unknown")
# How an ended block ended, as the sources tell it (data/raw/README.md defines each one).
END_MECHANISMS = (
    "operator-complied",
    "court-order",
    "government-reversal",
    "event-over",
    "negotiated-with-operator",
    "diplomatic",
    "unknown",
)
# How a diplomatic event entered the calendar: found by reading a systematic list for the dyad
# and period whatever blocks exist (`dyad-sweep`), or by looking around a block (`block-linked`).
COMPILED_BY_VALUES = ("dyad-sweep", "block-linked")
# The level of an in-scope contact between two governments (null: not contact at these levels).
CONTACT_LEVELS = (
    "leader-visit",
    "leader-meeting",
    "leader-call",
    "minister-visit",
    "minister-meeting",
    "agreement",
    "dialogue",
)
# What a user figure counts, coded by the curators so the same source's figures are alike.
METRIC_KINDS = ("mau", "dau", "registered", "users", "reach", "ad-audience", "downloads")
VERDICTS = ("ok", "blocked", "failure")
REASON_CODES = (
    "missing-cell",
    "extra-cell",
    "type-error",
    "constraint-error",
    "unknown-country",
    "unknown-service",
    "end-before-start",
    "primary-key",
    "duplicate-row",
    "implausible-value",
    "field-too-large",
    "schema-error",
    "withheld-probe",
    "no-test-keys",
    "truncated-line",
    "invalid-json",
    "blank-row",
)

ALPHA2_PATTERN = r"^[A-Z]{2}$"
GEO_PATTERN = r"^([A-Z]{2}|WORLD|WORLD_EX_[A-Z]{2})$"
URL_PATTERN = r"^https?://\S+$"

STRING = pa.string()
DATE = pa.date32()
INT = pa.int64()
BOOL = pa.bool_()
TIMESTAMP = pa.timestamp("us", tz="UTC")
STRING_LIST = pa.list_(pa.string())
INT_LIST = pa.list_(pa.int64())


@dataclass(frozen=True)
class Field:
    """One column of the data dictionary.

    Attributes:
        name: Column name, identical in every table that carries it.
        type: Arrow type written to Parquet.
        description: What a value means, for the datasheet.
        unit: Unit of a numeric value, when it has one.
        allowed: Closed vocabulary, when the column has one.
        pattern: Regular expression every non-null value must match.
        minimum: Smallest allowed numeric value.
    """

    name: str
    type: pa.DataType
    description: str
    unit: str | None = None
    allowed: tuple[str, ...] | None = None
    pattern: str | None = None
    minimum: float | None = None


_FIELD_LIST = [
    # identifiers
    Field("event_id", STRING, "Stable identifier of an event row (block or diplomatic event)."),
    Field(
        "raw_event_id",
        STRING,
        "The event_id as written in the raw file; a row naming several services shares it.",
    ),
    Field("service_id", STRING, "Canonical service slug from data/raw/services.csv.",
          pattern=r"^[a-z0-9][a-z0-9-]*$"),
    Field("service_name", STRING, "Canonical display name of the service."),
    Field("service_as_reported", STRING, "The service name exactly as the raw row wrote it "
          "(before alias resolution), so a resolution can be checked."),
    Field("service_kind", STRING, "Kind of service.", allowed=SERVICE_KINDS),
    Field("aliases", STRING_LIST, "Other spellings that resolve to the service (exact match "
          "after NFKC, casefold and whitespace folding)."),
    Field("domains", STRING_LIST, "Main internet domains of the service, used to map registry "
          "entries and measurements to it."),
    Field("operator_name", STRING, "Company or body operating the service."),
    Field("operator_country", STRING, "ISO 3166-1 alpha-2 code of the operator's home country.",
          pattern=ALPHA2_PATTERN),
    # blocks
    Field("blocking_country", STRING, "ISO 3166-1 alpha-2 code of the state that ordered the "
          "block.", pattern=ALPHA2_PATTERN),
    Field("authority", STRING, "Body that ordered or carried out the block, as reported."),
    Field("start_date", DATE, "Reported start of the block: the stated day, or the first day "
          "of the period when the precision is coarser than a day."),
    Field("start_precision", STRING, "Precision of start_date.", allowed=PRECISIONS),
    Field("start_earliest_date", DATE, "Earliest day the block can have started, given the "
          "precision."),
    Field("start_latest_date", DATE, "Latest day the block can have started, given the "
          "precision."),
    Field("end_date", DATE, "Reported end of the block (as start_date, but never before it); "
          "null means no end was reported: ongoing as of the source."),
    Field("end_precision", STRING, "Precision of end_date; null when the block is ongoing.",
          allowed=PRECISIONS),
    Field("end_earliest_date", DATE, "Earliest day the block can have ended."),
    Field("end_latest_date", DATE, "Latest day the block can have ended."),
    Field("scope", STRING, "How much of the service was blocked.", allowed=SCOPES),
    Field("is_implemented", BOOL, "False for orders that never took effect; null if unknown."),
    Field("legal_basis", STRING, "Law or reason invoked, as reported."),
    Field("confidence", STRING, "Curator's confidence in the row.", allowed=CONFIDENCES),
    Field("confidence_note", STRING, "Free text qualifying the confidence (what is uncertain)."),
    Field("notes", STRING, "Curator's notes, including what is unknown and why."),
    Field("source_urls", STRING_LIST, "Every page the row rests on (at least one)."),
    Field("merged_from", STRING_LIST, "Raw event ids merged into this row (lineage of "
          "duplicates and overlapping periods); one id when nothing was merged."),
    Field("source_file", STRING, "Raw file the row came from (name relative to the raw dir)."),
    Field("source_line", INT, "1-based physical line of the row in its raw file.", minimum=1),
    Field("source_lines", INT_LIST, "Physical lines of every raw row merged into this row."),
    Field("decision_id", STRING, "The source decision a block comes from: rows cut by the same "
          "order or incident share it (the raw event_id of its first row), so analyses can "
          "count one unit per decision instead of one per service."),
    Field("end_status", STRING, "What the sources say about the end: ended (access restored), "
          "in_force (the latest source read says still blocked) or unknown (no source after the "
          "start says either); null only for orders that never took effect.",
          allowed=END_STATUSES),
    Field("end_mechanism", STRING, "How an ended block ended, as the sources tell it; null "
          "unless end_status is ended.", allowed=END_MECHANISMS),
    Field("last_confirmed_date", DATE, "Latest day a source read confirms the block in force "
          "(first day of its period when coarser); where an in-force or unknown block is "
          "censored."),
    Field("last_confirmed_precision", STRING, "Precision of last_confirmed_date.",
          allowed=PRECISIONS),
    Field("status_source_url", STRING, "The page supporting end_date and end_mechanism (ended) "
          "or last_confirmed_date (in force, unknown); also listed in source_urls.",
          pattern=URL_PATTERN),
    # MAU
    Field("period_end", DATE, "Last day of the period a user figure refers to."),
    Field("period_precision", STRING, "Length of the period the figure refers to.",
          allowed=PRECISIONS),
    Field("geo", STRING, "Where the users are: ISO alpha-2, WORLD, or WORLD_EX_XX (world "
          "except XX).", pattern=GEO_PATTERN),
    Field("mau", INT, "Users, as a plain count (not millions); null when the source gives no "
          "usable number.", unit="users", minimum=0),
    Field("mau_qualifier", STRING, "How the source qualified the figure (`over 50 million` -> "
          "at_least); null for a plain figure.", allowed=MAU_QUALIFIERS),
    Field("metric", STRING, "The metric as the source reported it."),
    Field("is_mau", BOOL, "True exactly when metric_kind is mau (monthly active users or "
          "accounts)."),
    Field("metric_kind", STRING, "What the figure counts, coded by the curators: mau, dau, "
          "registered, users (activity window not stated), reach (panel reach or audience), "
          "ad-audience (advertising reach) or downloads.", allowed=METRIC_KINDS),
    # diplomacy
    Field("date", DATE, "Day of a diplomatic event (first day of its period when coarser)."),
    Field("date_precision", STRING, "Precision of date.", allowed=PRECISIONS),
    Field("earliest_date", DATE, "Earliest day the event can have happened."),
    Field("latest_date", DATE, "Latest day the event can have happened."),
    Field("country_a", STRING, "Blocking-side country of the dyad (alpha-2).",
          pattern=ALPHA2_PATTERN),
    Field("country_b", STRING, "Other country of the dyad, usually the operator's home "
          "(alpha-2).", pattern=ALPHA2_PATTERN),
    Field("kind", STRING, "Kind of diplomatic event.", allowed=DIPLOMATIC_KINDS),
    Field("title", STRING, "Short description of the event."),
    Field("related_block_event_ids", STRING_LIST, "raw_event_ids of blocks the curator linked "
          "to the event; on a dyad-sweep row, the link of a row first found around a block "
          "and then re-found by the sweep (sweep rows themselves name no blocks)."),
    Field("compiled_by", STRING, "How the row entered the calendar: dyad-sweep (read from a "
          "systematic list of the dyad's contacts) or block-linked (found around a block).",
          allowed=COMPILED_BY_VALUES),
    Field("contact_level", STRING, "Level of the contact between the two governments (leader "
          "visit, leader meeting elsewhere, leaders' call, foreign-minister visit or meeting, "
          "signed agreement, formal dialogue); null when the event is not contact at these "
          "levels (disputes, sanctions, officials' talks).", allowed=CONTACT_LEVELS),
    Field("sweep_source", STRING, "The systematic list a dyad-sweep row was read from."),
    # coverage of the diplomatic calendar and of the register
    Field("year", INT, "Calendar year.", minimum=1900),
    Field("complete_levels", STRING_LIST, "Contact levels whose sweep of the dyad-year is "
          "complete: every entry of a systematic list for that level and year was read, so no "
          "event found means none happened.", allowed=CONTACT_LEVELS),
    Field("incomplete_levels", STRING_LIST, "In-scope contact levels looked for but not "
          "claimed complete for the dyad-year.", allowed=CONTACT_LEVELS),
    Field("source_name", STRING, "Short name of a systematic source the register's curators "
          "read for a country."),
    Field("period_covered", STRING, "The period (or part of a page) a swept source covered, "
          "as the curator recorded it."),
    Field("swept_date", DATE, "Day the curators swept the source."),
    # rejects
    Field("dataset", STRING, "Source dataset a reject row belongs to."),
    Field("stage", STRING, "Pipeline stage that rejected the row (read, clean, validate, merge)."),
    Field("reason_code", STRING, "Why the row was rejected.", allowed=REASON_CODES),
    Field("detail", STRING, "Human-readable detail naming the column and value."),
    Field("raw_text", STRING, "The raw row as read (decoded text, possibly shortened)."),
]

FIELDS: dict[str, Field] = {f.name: f for f in _FIELD_LIST}

# --- measurement tables (OONI, aggregation API): fields added here -------------------------
FIELDS.update({f.name: f for f in [
    Field("measurement_uid", STRING, "OONI's measurement_uid (the raw line's, or the API "
          "response's that wraps it), or (when neither gives one) "
          "'h' + the first 31 hex digits of sha256(report_id|input|measurement_start_time)."),
    Field("measurement_start_time", TIMESTAMP, "When the probe started the measurement (UTC); "
          "the only source of a measurement's date."),
    Field("measurement_month", STRING, "YYYY-MM of measurement_start_time (partition key).",
          pattern=r"^\d{4}-\d{2}$"),
    Field("measurement_start_day", DATE, "UTC day (or first day of the time grain) of the "
          "aggregated measurements."),
    Field("time_grain", STRING, "Length of an aggregation bucket, read from its form in the "
          "file: hour (`2021-07-09T02:00:00Z`) or day (`2021-07-09`); null without a time axis.",
          allowed=("hour", "day")),
    Field("period_start_time", TIMESTAMP, "First instant of an aggregation bucket (UTC): the "
          "hour of an hourly row, midnight of a daily row; null without a time axis."),
    Field("probe_cc", STRING, "ISO 3166-1 alpha-2 country of the probe.", pattern=ALPHA2_PATTERN),
    Field("probe_asn", INT, "Autonomous system number of the probe's network (AS prefix "
          "dropped).", minimum=1),
    Field("test_name", STRING, "OONI test (nettest) name."),
    Field("test_version", STRING, "Version of the test that produced the measurement (N.N.N)."),
    Field("input", STRING, "The URL or host measured (web_connectivity); null for the IM tests."),
    Field("report_id", STRING, "OONI report the measurement belongs to."),
    Field("verdict", STRING, "censorlab's reading of the test keys: ok, blocked or failure "
          "(the measurement cannot tell).", allowed=VERDICTS),
    Field("verdict_rule", STRING, "Which test keys decided the verdict, e.g. "
          "telegram:tcp_blocking (rules in censorlab/sources/ooni/verdicts.py and "
          "reliability.py)."),
    Field("software_name", STRING, "Probe software (censorlab-simulator marks synthetic data)."),
    Field("software_version", STRING, "Version of the probe software."),
    Field("domain", STRING, "Domain axis of an aggregation query."),
    Field("category_code", STRING, "Citizen Lab test-list category axis of an aggregation "
          "query."),
    Field("anomaly_count", INT, "Measurements flagged anomalous but not confirmed and not "
          "failed.", unit="measurements", minimum=0),
    Field("confirmed_count", INT, "Measurements with confirmed blocking (not failed).",
          unit="measurements", minimum=0),
    Field("failure_count", INT, "Measurements that failed.", unit="measurements", minimum=0),
    Field("ok_count", INT, "Measurements neither anomalous, confirmed nor failed; in the 2021 "
          "layout without it, derived where the other counters determine it, else null.",
          unit="measurements", minimum=0),
    Field("measurement_count", INT, "All measurements in the cell (= anomaly + confirmed + "
          "failure + ok when ok_count is given).", unit="measurements", minimum=0),
]})
# --- end of measurement tables -------------------------------------------------------------

# --- downloaded-format tables (STOP, GDELT, registry): fields added here -------------------
FLOAT = pa.float64()
FIELDS.update({f.name: f for f in [
    # Access Now STOP
    Field("is_ongoing", BOOL, "The source's own status (STOP `shutdown_status`) says the event "
          "was ongoing when exported; null when the source gives no status. An ended event "
          "with a null end_date has an unknown end."),
    Field("area_name", STRING, "Region or city affected, as the source names it."),
    Field("geo_scope", STRING, "Geographic scope as the source states it (e.g. Level 1)."),
    Field("shutdown_type", STRING, "STOP shutdown_type as reported (Shutdown, Throttle, ...)."),
    Field("shutdown_extent", STRING, "STOP shutdown_extent as reported (Full network, "
          "Service-based, ...)."),
    Field("is_service_based", BOOL, "True when STOP's shutdown_extent names a service-based "
          "block: the row then describes one affected platform (service_id)."),
    Field("affected_service_raw", STRING, "The platform as the source names it: the STOP "
          "`<name>_affected` column or a name in `other_affected`; null for whole-network rows."),
    Field("reported_duration_text", STRING, "Duration exactly as the source wrote it (may be "
          "text such as `Curfew Style`); a source fact, not derived from the dates."),
    Field("reported_duration_hours", FLOAT, "reported_duration_text as hours when its unit is "
          "unambiguous (days x 24); null otherwise.", unit="hours", minimum=0),
    Field("end_date_reading", STRING, "How the source's end cell reads: reported (a date), "
          "ongoing (`Ongoing`) or unknown (`Unknown`, also misspelt `Unkown`); null when the "
          "cell is empty. end_date is null unless reported.",
          allowed=("reported", "ongoing", "unknown")),
    Field("report_year", INT, "The STOP report year a row belongs to: the workbook sheet's year "
          "(`2019`, `2021 Data`), or the row's own `year` column (`2016+2017+2018` sheet); an "
          "event running into a later year is listed again in that year's report.",
          minimum=2016),
    Field("source_sheet", STRING, "Workbook sheet the row came from, exactly as named (a "
          "trailing space kept); null for a CSV file."),
    Field("sheet_row", INT, "1-based row of the row in its workbook sheet; null for a CSV file "
          "(its source_line is the physical line).", minimum=1),
    # GDELT
    Field("cameo_code", STRING, "CAMEO event code of a GDELT event (EventCode).",
          pattern=r"^\d{2,4}$"),
    Field("goldstein_scale", FLOAT, "GDELT GoldsteinScale: fixed conflict/cooperation score of "
          "the CAMEO code (-10 to +10).", unit="score", minimum=-10),
    Field("num_mentions", INT, "GDELT NumMentions: mentions of the event in the 15-minute "
          "window that produced the row.", unit="mentions", minimum=0),
    Field("action_country", STRING, "Alpha-2 country where the action took place (GDELT "
          "ActionGeo_CountryCode, FIPS 10-4 mapped through the crosswalk).",
          pattern=ALPHA2_PATTERN),
    # Roskomnadzor registry
    Field("decision_date", DATE, "Date of the legal decision behind a registry entry (field 6 "
          "of the dump); can precede the day ISPs started blocking."),
    Field("decision_number", STRING, "Number of the legal decision, as written in the registry."),
    Field("entry_scope", STRING, "What a registry entry orders blocked: url (the listed pages "
          "only), domain (the whole domain; `*.` every subdomain) or ip (addresses only). Only "
          "domain entries are blocks of a whole service.", allowed=("url", "domain", "ip")),
    Field("entry_domains", STRING_LIST, "Every domain the registry entry lists (lower-cased, "
          "`*.` wildcard kept)."),
    Field("entry_urls", STRING_LIST, "Every URL the registry entry lists."),
    Field("entry_ips", STRING_LIST, "Every IPv4 address and subnet the registry entry lists."),
    Field("snapshot_time", TIMESTAMP, "When the registry dump was produced (its `Updated:` "
          "line, UTC)."),
]})
# --- end of downloaded-format tables -------------------------------------------------------


def _end_not_before_start(df: pd.DataFrame) -> pd.Series:
    """A block cannot end before it starts; such rows are rejected, never swapped."""
    return df["end_date"].isna() | (
        (df["end_date"] >= df["start_date"])
        & (df["end_earliest_date"] >= df["start_earliest_date"])
        & (df["end_latest_date"] >= df["start_latest_date"])
    )


def _bounds_ordered(prefix: str) -> Callable[[pd.DataFrame], pd.Series]:
    def check(df: pd.DataFrame) -> pd.Series:
        early, late = df[f"{prefix}earliest_date"], df[f"{prefix}latest_date"]
        return early.isna() | late.isna() | (early <= late)

    check.__name__ = f"{prefix or 'date_'}bounds_ordered"
    return check


def _end_fields_consistent(df: pd.DataFrame) -> pd.Series:
    """An ongoing block has no end precision; an ended one has one."""
    return df["end_date"].isna() == df["end_precision"].isna()


def _end_status_consistent(df: pd.DataFrame) -> pd.Series:
    """The end status agrees with the dates: every implemented block is ended or censorable.

    An ended block has an end date and a mechanism; an in-force or unknown block has no end and
    a last confirmation no earlier than its start; an order that never took effect has no
    status. So no implemented block can leave both the end and the last confirmation empty.
    """
    status, implemented = df["end_status"], df["is_implemented"]
    ended = status.eq("ended").fillna(False).astype(bool)
    open_ = status.isin(["in_force", "unknown"]).fillna(False).astype(bool)
    never = implemented.eq(False).fillna(False).astype(bool)
    confirmed_after_start = df["last_confirmed_date"] >= df["start_earliest_date"]
    return (
        (ended & df["end_date"].notna() & df["end_mechanism"].notna())
        | (open_ & df["end_date"].isna() & df["end_mechanism"].isna()
           & confirmed_after_start.fillna(False).astype(bool))
        | (never & status.isna() & df["end_mechanism"].isna())
    )


def _mau_flag_follows_kind(df: pd.DataFrame) -> pd.Series:
    """`is_mau` is derived from the curated metric kind, never from free text."""
    return df["is_mau"] == df["metric_kind"].eq("mau")


def _levels_disjoint(df: pd.DataFrame) -> pd.Series:
    """A level is either complete or incomplete for a dyad-year, not both."""
    return pd.Series([not (set(a if a is not None else ()) & set(b if b is not None else ()))
                      for a, b in zip(df["complete_levels"], df["incomplete_levels"],
                                      strict=True)], index=df.index)


@dataclass(frozen=True)
class Table:
    """A processed table: which fields, which key, which row checks.

    Attributes:
        name: Table name; the Parquet file is `<name>.parquet`.
        description: One paragraph for the datasheet.
        columns: Field names in output order.
        primary_key: Columns that identify a row (unique, non-null).
        required: Columns that may never be null (primary key columns are implied).
        row_checks: Named dataframe-level checks returning a boolean Series (True = valid).
        sort_key: Output order; the primary key when empty.
    """

    name: str
    description: str
    columns: tuple[str, ...]
    primary_key: tuple[str, ...]
    required: tuple[str, ...] = ()
    row_checks: tuple[Callable[[pd.DataFrame], pd.Series], ...] = field(default=())
    sort_key: tuple[str, ...] = ()

    @property
    def order(self) -> list[str]:
        """Columns to sort by before writing, so outputs are deterministic."""
        return list(self.sort_key or self.primary_key)

    @property
    def non_null(self) -> set[str]:
        """Columns that may not hold nulls."""
        return set(self.primary_key) | set(self.required)


TABLES: dict[str, Table] = {}


def register_table(table: Table) -> Table:
    """Add a table to the dictionary, checking every column is a known field."""
    unknown = [c for c in table.columns if c not in FIELDS]
    if unknown:
        raise KeyError(f"table {table.name}: columns not in FIELDS: {unknown}")
    TABLES[table.name] = table
    return table


register_table(
    Table(
        name="block_events",
        description="One row per (service, blocking country, period): a government block of an "
        "app or online service, with its dates at their reported precision and every source.",
        columns=(
            "event_id", "raw_event_id", "service_id", "service_name", "service_as_reported",
            "service_kind",
            "operator_name", "operator_country", "blocking_country", "authority",
            "start_date", "start_precision", "start_earliest_date", "start_latest_date",
            "end_date", "end_precision", "end_earliest_date", "end_latest_date",
            "scope", "is_implemented", "legal_basis", "confidence", "confidence_note", "notes",
            "decision_id", "end_status", "end_mechanism", "last_confirmed_date",
            "last_confirmed_precision", "status_source_url",
            "source_urls", "merged_from", "source_file", "source_lines",
        ),
        primary_key=("event_id",),
        required=(
            "raw_event_id", "service_id", "service_name", "blocking_country", "start_date",
            "start_precision", "start_earliest_date", "start_latest_date", "scope",
            "confidence", "decision_id", "source_urls", "merged_from", "source_file",
            "source_lines",
        ),
        row_checks=(
            _end_not_before_start,
            _bounds_ordered("start_"),
            _bounds_ordered("end_"),
            _end_fields_consistent,
            _end_status_consistent,
        ),
    )
)

register_table(
    Table(
        name="mau",
        description="Reported user figures of a service for a period and a place (the world or "
        "one country), as integers with the source's qualifier and metric kept.",
        columns=(
            "service_id", "service_name", "service_as_reported", "period_end",
            "period_precision", "geo", "mau",
            "mau_qualifier", "metric", "metric_kind", "is_mau", "confidence", "notes",
            "source_urls", "source_file", "source_line",
        ),
        primary_key=("service_id", "geo", "period_end", "metric", "source_line"),
        required=("service_name", "period_precision", "metric_kind", "is_mau", "confidence",
                  "source_urls", "source_file"),
        row_checks=(_mau_flag_follows_kind,),
    )
)

# The columns every table of dated bilateral events shares (the curated calendar and GDELT).
_BILATERAL_EVENT_COLUMNS = (
    "event_id", "date", "date_precision", "earliest_date", "latest_date", "country_a",
    "country_b", "kind", "title", "notes", "related_block_event_ids", "confidence",
    "confidence_note", "source_urls", "source_file", "source_line",
)
_BILATERAL_EVENT_REQUIRED = (
    "date", "date_precision", "earliest_date", "latest_date", "country_a", "country_b", "kind",
    "title", "confidence", "source_urls", "source_file", "source_line",
)
register_table(
    Table(
        name="diplomatic_events",
        description="Dated bilateral events between a blocking country and another country "
        "(usually the operator's home), with kind, contact level, how the row was compiled "
        "(dyad sweep or around a block) and sources.",
        columns=(*_BILATERAL_EVENT_COLUMNS[:11], "compiled_by", "contact_level",
                 "sweep_source", *_BILATERAL_EVENT_COLUMNS[11:]),
        primary_key=("event_id",),
        required=(*_BILATERAL_EVENT_REQUIRED, "compiled_by"),
        row_checks=(_bounds_ordered(""),),
        sort_key=("date", "country_a", "country_b", "event_id"),
    )
)

register_table(
    Table(
        name="diplomatic_coverage",
        description="What the calendar's dyad sweep read: one row per dyad and year, with the "
        "contact levels whose systematic lists were read in full (complete) and the sources. "
        "Analyses of contact use only complete dyad-years.",
        columns=("country_a", "country_b", "year", "complete_levels", "incomplete_levels",
                 "notes", "source_urls", "source_file", "source_line"),
        primary_key=("country_a", "country_b", "year"),
        required=("complete_levels", "incomplete_levels", "source_urls", "source_file",
                  "source_line"),
        row_checks=(_levels_disjoint,),
    )
)

register_table(
    Table(
        name="register_sweeps",
        description="Which systematic sources the register's curators read for each blocking "
        "country (encyclopedic country and service pages, Access Now, NetBlocks, OONI, Freedom "
        "House), so coverage gaps can be seen.",
        columns=("blocking_country", "source_name", "period_covered", "swept_date", "notes",
                 "source_urls", "source_file", "source_line"),
        primary_key=("source_file", "source_line"),
        required=("blocking_country", "source_name", "swept_date", "source_urls"),
        sort_key=("blocking_country", "source_name", "source_line"),
    )
)

register_table(
    Table(
        name="services",
        description="The service reference table: canonical ids, aliases, operators, home "
        "countries and domains.",
        columns=(
            "service_id", "service_name", "service_kind", "aliases", "operator_name",
            "operator_country", "domains", "notes", "source_urls", "source_file", "source_line",
        ),
        primary_key=("service_id",),
        required=("service_name", "service_kind", "source_file", "source_line"),
    )
)

register_table(
    Table(
        name="rejects",
        description="Every raw row that did not reach a processed table, with the reason.",
        columns=("dataset", "source_file", "source_line", "stage", "reason_code", "detail",
                 "raw_text"),
        primary_key=(),
        required=("dataset", "source_file", "stage", "reason_code", "detail"),
        sort_key=("dataset", "source_file", "source_line", "stage", "reason_code", "detail"),
    )
)

# --- measurement tables (OONI, aggregation API): registered here, fields above ----------------
register_table(
    Table(
        name="ooni_measurements",
        description="One row per OONI measurement of the whatsapp, telegram, "
        "facebook_messenger, signal and web_connectivity tests, with censorlab's verdict and "
        "the rule that decided it. Written as a hive-partitioned dataset "
        "(test_name=…/measurement_month=…).",
        columns=(
            "measurement_uid", "measurement_start_time", "measurement_month", "probe_cc",
            "probe_asn", "test_name", "test_version", "input", "report_id", "service_id",
            "verdict", "verdict_rule", "software_name", "software_version", "source_file",
            "source_line",
        ),
        primary_key=("measurement_uid",),
        required=("measurement_start_time", "measurement_month", "probe_cc", "probe_asn",
                  "test_name", "test_version", "report_id", "verdict", "verdict_rule",
                  "source_file", "source_line"),
        sort_key=("test_name", "measurement_month", "measurement_start_time",
                  "measurement_uid"),
    )
)

register_table(
    Table(
        name="ooni_aggregate",
        description="Counts from OONI's aggregation API (CSV): one row per combination of the "
        "query's axes (hourly or daily buckets), with the five counters.",
        columns=(
            "measurement_start_day", "time_grain", "period_start_time", "probe_cc",
            "probe_asn", "test_name", "domain", "input", "category_code", "anomaly_count",
            "confirmed_count", "failure_count", "ok_count", "measurement_count", "source_file",
            "source_line",
        ),
        primary_key=("source_file", "source_line"),
        required=("anomaly_count", "confirmed_count", "failure_count", "measurement_count"),
        sort_key=("source_file", "measurement_start_day", "period_start_time", "probe_cc",
                  "probe_asn", "test_name", "domain", "input", "category_code", "source_line"),
    )
)
# --- end of measurement tables (registered) ---------------------------------------------------

# --- downloaded-format tables (STOP, GDELT, registry): registered here, fields above ----------
register_table(
    Table(
        name="stop_events",
        description="Access Now #KeepItOn STOP rows: one row per (raw row, country) for network "
        "shutdowns, and per (raw row, country, platform) for service-based blocks.",
        columns=(
            "event_id", "blocking_country", "start_date", "end_date", "is_ongoing",
            "area_name", "geo_scope", "shutdown_type", "shutdown_extent", "is_service_based",
            "service_id", "affected_service_raw", "authority", "legal_basis",
            "reported_duration_text", "reported_duration_hours", "end_date_reading",
            "report_year", "source_urls", "source_file", "source_line", "source_sheet",
            "sheet_row",
        ),
        primary_key=("event_id",),
        required=("blocking_country", "start_date", "is_service_based", "source_urls",
                  "source_file", "source_line"),
        sort_key=("blocking_country", "start_date", "event_id"),
    )
)

_DIPLOMATIC = TABLES["diplomatic_events"]
register_table(
    Table(
        name="gdelt_events",
        description="GDELT events between two countries with a diplomatic CAMEO code, in the "
        "diplomatic_events columns plus CAMEO code, Goldstein score, mentions and action place.",
        # the bilateral-event columns plus GDELT's own fields (the curated calendar adds its
        # curation columns to the same core), so the two tables concatenate on the core
        columns=(*_BILATERAL_EVENT_COLUMNS, "cameo_code", "goldstein_scale", "num_mentions",
                 "action_country"),
        primary_key=_DIPLOMATIC.primary_key,
        required=(*_BILATERAL_EVENT_REQUIRED, "cameo_code"),
        row_checks=(_bounds_ordered(""),),
        sort_key=_DIPLOMATIC.sort_key,
    )
)

register_table(
    Table(
        name="rkn_decisions",
        description="Roskomnadzor registry entries whose domains or URLs belong to a known "
        "service: one row per entry (per service it touches), whole -- every domain, URL and "
        "IP -- with its scope, the decision date, number and issuing body.",
        columns=(
            "service_id", "entry_scope", "decision_date", "decision_number", "authority",
            "entry_domains", "entry_urls", "entry_ips", "snapshot_time", "source_file",
            "source_line",
        ),
        primary_key=("source_file", "source_line", "service_id"),
        required=("entry_scope", "decision_date"),
        sort_key=("service_id", "decision_date", "source_file", "source_line"),
    )
)
# --- end of downloaded-format tables (registered) ---------------------------------------------


def arrow_schema(table: str) -> pa.Schema:
    """Return the pyarrow schema of a table, with field descriptions as field metadata."""
    spec = TABLES[table]
    fields = []
    for name in spec.columns:
        f = FIELDS[name]
        meta = {"description": f.description}
        if f.unit:
            meta["unit"] = f.unit
        fields.append(pa.field(name, f.type, nullable=name not in spec.non_null, metadata=meta))
    return pa.schema(fields)


def _is_list_of_strings(series: pd.Series) -> pd.Series:
    return series.map(
        lambda v: v is None
        or (isinstance(v, list | tuple) and all(isinstance(x, str) and x for x in v))
    )


def _column_checks(f: Field) -> list[pa_schema.Check]:
    checks: list[pa_schema.Check] = []
    if f.allowed is not None and f.type == STRING_LIST:
        allowed = set(f.allowed)
        checks.append(pa_schema.Check(
            lambda s: s.map(lambda v: v is None or set(v) <= allowed),
            name="list_items_in_vocabulary"))
    elif f.allowed is not None:
        checks.append(pa_schema.Check.isin(list(f.allowed)))
    if f.pattern is not None:
        checks.append(pa_schema.Check.str_matches(f.pattern))
    if f.minimum is not None:
        checks.append(pa_schema.Check.ge(f.minimum))
    if f.type == STRING_LIST:
        checks.append(pa_schema.Check(_is_list_of_strings, element_wise=False,
                                      name="list_of_nonempty_strings"))
    if f.name == "source_urls":
        checks.append(pa_schema.Check(
            lambda s: s.map(lambda v: v is not None and len(v) > 0
                            and all(pd.Series(list(v)).str.match(URL_PATTERN))),
            name="at_least_one_http_url"))
    return checks


def pandera_schema(table: str) -> pa_schema.DataFrameSchema:
    """Build the pandera schema that validates a processed table in memory.

    Types are enforced when the frame is converted to Arrow; pandera checks what types cannot:
    nulls, vocabularies, patterns, ranges, key uniqueness and cross-column rules.
    """
    spec = TABLES[table]
    columns = {
        name: pa_schema.Column(
            dtype=None,
            checks=_column_checks(FIELDS[name]),
            nullable=name not in spec.non_null,
            required=True,
        )
        for name in spec.columns
    }
    checks = [pa_schema.Check(fn, name=fn.__name__) for fn in spec.row_checks]
    return pa_schema.DataFrameSchema(
        columns=columns,
        checks=checks,
        unique=list(spec.primary_key) or None,
        strict=True,
        ordered=True,
        name=table,
    )


def describe_tables() -> pd.DataFrame:
    """Return the data dictionary as a tidy frame (table, column, type, unit, description)."""
    rows = []
    for spec in TABLES.values():
        for name in spec.columns:
            f = FIELDS[name]
            rows.append(
                {
                    "table": spec.name,
                    "column": name,
                    "type": str(f.type),
                    "unit": f.unit,
                    "required": name in spec.non_null,
                    "allowed": ", ".join(f.allowed) if f.allowed else None,
                    "description": f.description,
                }
            )
    return pd.DataFrame(rows)
