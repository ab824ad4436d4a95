"""Worked queries: the questions a researcher asks first, answered from the published build.

``blocks(country="Russia", status="in_force")`` is "what is blocked in Russia now?" (as of
each block's last confirmation);
``mau_at("wechat", "2017-05-04")`` is "how many users did WeChat have when Russia blocked it?".
Both read the curated build (``censorlab.load``, built on first use) and never use today's
date, so the answer is reproducible.
Names are resolved exactly as the build resolves them (country aliases, service aliases), never
guessed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from censorlab.errors import CensorlabError
from censorlab.paths import RAW_DIR
from censorlab.reference.countries import CountryResolver
from censorlab.reference.services import ServiceCatalog
from censorlab.run.context import read_country_aliases
from censorlab.run.outputs import load

STATUSES = ("in_force", "ended", "unknown")
STATUS_ALIASES = {"ongoing": "in_force"}
WORLD = "WORLD"


def blocks(country: str | None = None, service: str | None = None, status: str | None = None,
           *, on: object = None, out_dir: str | Path | None = None) -> pd.DataFrame:
    """Return the block events of a country and/or service, by the curators' end status.

    "What is blocked in Russia now?" is answered with what the sources say, not with a guess
    from an empty end date: ``in_force`` rows are blocks a source confirms still in force on
    their ``last_confirmed_date`` (shown on every row, so "now" means "as of that day"),
    ``ended`` rows have a reported end, ``unknown`` rows have no source either way after the
    start. Orders that never took effect have no status and are returned only when
    ``status`` is None.

    Args:
        country: The blocking country: an alpha-2 code or any name the build resolves
            (``"RU"``, ``"Russia"``, ``"Россия"``); None for every country.
        service: A service id or alias (``"wechat"``, ``"Weixin"``, ``"微信"``); None for all.
        status: ``"in_force"`` (alias ``"ongoing"``), ``"ended"``, ``"unknown"``, or None.
        on: A day (anything ``pd.Timestamp`` reads): keep only blocks known to be in force
            that day - started on or before it, and either ended after it or confirmed in
            force on or after it. A block whose last confirmation is earlier is not known to
            be in force then and is left out.
        out_dir: A build directory (default: the curated build).

    Returns:
        Rows of ``block_events`` sorted by start date.

    Example:
        >>> blocked = censorlab.blocks(country="Russia", status="in_force")  # doctest: +SKIP
    """
    status = STATUS_ALIASES.get(status, status)
    if status not in (None, *STATUSES):
        raise ValueError(f"status must be one of {STATUSES} (or 'ongoing') or None, "
                         f"not {status!r}")
    rows = load("block_events", out_dir)
    if country is not None:
        rows = rows[rows["blocking_country"] == _country_code(country)]
    if service is not None:
        rows = rows[rows["service_id"] == _service_id(service, out_dir)]
    if status is not None:
        rows = rows[rows["end_status"] == status]
    if on is not None:
        day = pd.Timestamp(on)
        started = rows["start_date"] <= day
        running = rows["end_date"] > day
        confirmed = rows["end_date"].isna() & (rows["last_confirmed_date"] >= day)
        rows = rows[started & (running | confirmed)]
    return rows.sort_values(["start_date", "event_id"]).reset_index(drop=True)


def mau_at(service: str, date: object, geo: str = WORLD, *,
           out_dir: str | Path | None = None) -> pd.Series | None:
    """Return the latest monthly-active-user figure of a service on or before a date.

    Only figures whose metric is monthly active users (``is_mau``) and that carry a number
    count; the period must have ended by ``date``. Ties on one period end (two sources) go to
    the larger figure, and the row says which sources reported it.

    Args:
        service: A service id or alias.
        date: Anything ``pd.Timestamp`` reads (``"2017-05-04"``).
        geo: ``"WORLD"`` (default), a country (code or name), or ``"WORLD_EX_XX"``.
        out_dir: A build directory (default: the curated build).

    Returns:
        The ``mau`` row (``mau``, ``mau_qualifier``, ``period_end``, ``metric``,
        ``source_urls``...), or None when no figure is that old.

    Example:
        >>> censorlab.mau_at("wechat", "2017-05-04")["mau"]  # doctest: +SKIP
    """
    when = pd.Timestamp(date)
    where = geo if geo == WORLD or geo.startswith("WORLD_EX_") else _country_code(geo)
    figures = load("mau", out_dir)
    usable = figures[(figures["service_id"] == _service_id(service, out_dir))
                     & (figures["geo"] == where) & figures["is_mau"].fillna(False)
                     & figures["mau"].notna() & (figures["period_end"] <= when)]
    if usable.empty:
        return None
    return usable.sort_values(["period_end", "mau"]).iloc[-1]


def _country_code(value: str) -> str:
    code = CountryResolver(read_country_aliases(RAW_DIR / "country_aliases.csv")).resolve(value)
    if code is None:
        raise CensorlabError(f"unknown country {value!r} (use an ISO alpha-2 code or a name in "
                             "country_aliases.csv)")
    return code


def _service_id(value: str, out_dir: str | Path | None) -> str:
    service_id = ServiceCatalog(load("services", out_dir)).resolve(value)
    if service_id is None:
        raise CensorlabError(f"unknown service {value!r} (see censorlab.load('services'))")
    return service_id
