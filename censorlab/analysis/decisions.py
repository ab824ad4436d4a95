"""Units of analysis: one per source decision (and operator home country), or one per service row.

The register splits a multi-service order into one row per service (``block_events`` is one row
per service x country x period), so 128 lifts can come from 54 decisions. Counting each row as
an independent block pseudo-replicates the decision. The main model therefore has **one unit per
decision** (``decision_id``, issue #10: rows of the same order or incident share it):

* **Time to lift** of a decision = time from its earliest start to the **first restoration** of
  any of its services (the first sign that the government gave way). If none of its rows ended,
  it is censored at the **latest** ``last_confirmed_date`` of its rows (a source confirming any
  service of the order still blocked is read as confirming the order in force). Both choices can
  be disagreed with: ``decision_censoring="earliest"`` censors at the earliest confirmation
  instead (no claim about a row after its own last confirmation), and the service-level units
  are the other sensitivity run.
* **One home country per unit.** Contact is dyadic, so a decision whose services belong to
  operators of several home countries (Russia's May 2017 order: WeChat CN, LINE JP, BBM CA, imo
  US) gives one unit per home country (``unit_id = "<decision_id>|<country>"``), each with its
  own time to first restoration. Those parts share a decision, which
  :func:`censorlab.analysis.contact_models.bootstrap_contact_cox` can resample together.
* **Service level** (``level="service"``): one unit per ``block_events`` row, ``decision_id``
  kept for a cluster bootstrap by decision.

If ``decision_id`` is absent (a build before issue #10), ``raw_event_id`` (one source row = one
decision) stands in for it, with a warning.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from censorlab.analysis.covariates import add_dyad_key
from censorlab.analysis.durations import SECONDS_PER_DAY, coerce_dates

logger = logging.getLogger(__name__)

LEVEL_DECISION = "decision"
LEVEL_SERVICE = "service"
UNIT_LEVELS = (LEVEL_DECISION, LEVEL_SERVICE)
DATE_BOUNDS = {
    # bound: (start column, stop column)
    "point": ("start_date", "stop_date"),
    "low": ("start_latest_date", "stop_earliest_date"),
    "high": ("start_earliest_date", "stop_latest_date"),
}
DECISION_CENSORING = ("latest", "earliest")
UNKNOWN_COUNTRY_LABEL = "unknown"
UNIT_COLUMNS = [
    "unit_id",
    "decision_id",
    "level",
    "blocking_country",
    "operator_country",
    "dyad",
    "start_date",
    "stop_date",
    "time_days",
    "observed",
    "stop_source",
    "n_rows",
    "event_ids",
    "service_ids",
    "date_bound",
]


def _with_decision_id(durations: pd.DataFrame) -> pd.DataFrame:
    if "decision_id" in durations.columns and durations["decision_id"].notna().all():
        return durations
    fallback = "raw_event_id" if "raw_event_id" in durations.columns else "event_id"
    logger.warning("decision_id missing on some rows; %s stands in for it", fallback)
    current = (
        durations["decision_id"]
        if "decision_id" in durations
        else pd.Series(pd.NA, index=durations.index, dtype="object")
    )
    return durations.assign(decision_id=current.fillna(durations[fallback]))


def _row_times(durations: pd.DataFrame, date_bound: str) -> pd.DataFrame:
    start_column, stop_column = DATE_BOUNDS[date_bound]
    dated = coerce_dates(durations, [start_column, stop_column, "start_date", "stop_date"])
    start = dated[start_column].fillna(dated["start_date"])
    stop = dated[stop_column].fillna(dated["stop_date"])
    return dated.assign(row_start=start, row_stop=stop.where(stop >= start, start))


def _aggregate_decision(group: pd.DataFrame, censoring: str) -> dict:
    ended = group.loc[group["observed"].astype(bool)]
    if len(ended):
        chosen = ended.sort_values(["row_stop", "event_id"]).iloc[0]
    else:
        ascending = censoring == "earliest"
        chosen = group.sort_values(["row_stop", "event_id"], ascending=[ascending, True]).iloc[0]
    start = group["row_start"].min()
    return {
        "start_date": start,
        "stop_date": chosen["row_stop"],
        "observed": bool(len(ended)),
        "stop_source": chosen.get("stop_source", pd.NA),
        "n_rows": len(group),
        "event_ids": sorted(group["event_id"].astype(str)),
        "service_ids": sorted(group["service_id"].astype(str).unique())
        if "service_id" in group
        else [],
    }


def build_analysis_units(
    durations: pd.DataFrame,
    level: str = LEVEL_DECISION,
    date_bound: str = "point",
    decision_censoring: str = "latest",
) -> pd.DataFrame:
    """One row per unit of analysis with its start, stop, time to lift and event flag.

    Args:
        durations: Output of :func:`censorlab.analysis.durations.compute_block_durations`
            (``event_id``, ``blocking_country``, ``operator_country``, ``decision_id``,
            ``start_*`` and ``stop_*`` dates, ``observed``).
        level: ``"decision"`` (main) or ``"service"`` (sensitivity); module docstring.
        date_bound: ``"point"`` dates, or the ``"low"`` (latest start, earliest stop) or
            ``"high"`` (earliest start, latest stop) precision bound.
        decision_censoring: ``"latest"`` (main) or ``"earliest"`` confirmation of an unlifted
            decision's rows.

    Returns:
        ``UNIT_COLUMNS``: ``time_days`` is whole days from ``start_date`` to ``stop_date`` (the
        lift day of an observed unit, the censoring day otherwise); ``dyad`` is the unordered
        pair of blocking and operator country (missing when the operator's country is). Sorted
        by ``unit_id``.

    Raises:
        ValueError: Unknown ``level``, ``date_bound`` or ``decision_censoring``.
    """
    if level not in UNIT_LEVELS:
        raise ValueError(f"level must be one of {UNIT_LEVELS}, got {level!r}")
    if date_bound not in DATE_BOUNDS:
        raise ValueError(f"date_bound must be one of {tuple(DATE_BOUNDS)}, got {date_bound!r}")
    if decision_censoring not in DECISION_CENSORING:
        raise ValueError(f"decision_censoring must be one of {DECISION_CENSORING}")
    rows = _row_times(_with_decision_id(durations), date_bound).assign(
        operator_country=lambda frame: frame["operator_country"].astype("string"),
        blocking_country=lambda frame: frame["blocking_country"].astype("string"),
    )
    if level == LEVEL_SERVICE:
        units = pd.DataFrame(
            {
                "unit_id": rows["event_id"].astype(str).to_numpy(),
                "decision_id": rows["decision_id"].astype(str).to_numpy(),
                "blocking_country": rows["blocking_country"].to_numpy(),
                "operator_country": rows["operator_country"].to_numpy(),
                "start_date": rows["row_start"].to_numpy(),
                "stop_date": rows["row_stop"].to_numpy(),
                "observed": rows["observed"].astype(bool).to_numpy(),
                "stop_source": rows["stop_source"].to_numpy() if "stop_source" in rows else pd.NA,
                "n_rows": 1,
                "event_ids": rows["event_id"].astype(str).map(lambda e: [e]).to_numpy(),
                "service_ids": rows["service_id"].astype(str).map(lambda s: [s]).to_numpy()
                if "service_id" in rows
                else [[]] * len(rows),
            }
        )
    else:
        keys = ["decision_id", "blocking_country", "operator_country"]
        records = []
        for (decision, blocking, operator), group in rows.groupby(keys, dropna=False, sort=True):
            record = _aggregate_decision(group, decision_censoring)
            record.update(
                decision_id=str(decision),
                blocking_country=blocking,
                operator_country=operator if isinstance(operator, str) else pd.NA,
            )
            records.append(record)
        units = pd.DataFrame.from_records(records)
        homes = units.groupby("decision_id")["operator_country"].transform(
            lambda values: values.fillna(UNKNOWN_COUNTRY_LABEL).nunique()
        )
        suffix = units["operator_country"].astype("string").fillna(UNKNOWN_COUNTRY_LABEL)
        units["unit_id"] = units["decision_id"].where(
            homes.to_numpy() == 1, units["decision_id"] + "|" + suffix
        )
    units = coerce_dates(units, ["start_date", "stop_date"])
    time = (units["stop_date"] - units["start_date"]).dt.total_seconds() / SECONDS_PER_DAY
    return (
        units.pipe(add_dyad_key, "blocking_country", "operator_country")
        .assign(level=level, time_days=np.round(time.to_numpy(), 6), date_bound=date_bound)
        .loc[:, UNIT_COLUMNS]
        .sort_values("unit_id")
        .reset_index(drop=True)
    )
