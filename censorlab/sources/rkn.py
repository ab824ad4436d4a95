"""Roskomnadzor's register of blocked resources, as dumped by `zapret-info/z-i` (`dump.csv`).

Published by Roskomnadzor (the Russian communications regulator) to ISPs; the public mirror
`github.com/zapret-info/z-i` commits the dump several times a day. Layout (docs FORMATS.md s. 5,
read in the `zicsv` parser): windows-1251 text, `;`-separated, double quotes allowed (an
organisation name may hold a `;`), no header. Line 1 is `Updated: YYYY-MM-DD HH:MM:SS +ZZZZ`, the
snapshot time, kept in the manifest and in `snapshot_time`. Every further line has six fields:
IPs and subnets (`|`-separated), domains (`|`-separated, may be `*.example.com` or `*`), URLs
(` | `-separated, because a URL may hold `|`), the requesting organisation (Russian free text),
the decision number and the decision date (`YYYY-MM-DD`, the only required field).

What censorlab keeps: one row per (entry, domain) whose domain belongs to a known service
(`ServiceCatalog.service_for_host`, which also matches subdomains and `*.` wildcards), so the
earliest decision per service is `table.groupby("service_id").decision_date.min()`.

Quirks and choices:
* entries that name no domain of a known service (the bulk of the register: gambling, piracy,
  IP-only entries, `*`) are out of scope: counted as `rows_filtered` in the manifest, not
  rejected and not stored; add a domain to data/raw/services.csv and re-run to pick them up.
  Unknown domains of an in-scope entry are likewise not stored (the entry's URLs and IPs are).
* a wrong field count is a reject (`missing-cell`/`extra-cell`), as is a bad or missing date
  (`type-error`/`missing-cell`); these are checked before scope, because a broken line cannot be
  classified.
* undecodable bytes or a missing `Updated:` line stop the file (`RawFileError`).
* the same (service, domain, decision, date, organisation) in two snapshots is kept once and
  counted as a duplicate.
* the decision date is the legal decision, which can precede actual blocking by days or weeks.
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from censorlab.cleaning import (
    SourceResult,
    finish,
    mark_rejects,
    require_cells,
    split_list,
    split_rejects,
    start_marking,
    strip_cells,
)
from censorlab.core.provenance import Provenance
from censorlab.errors import RawFileError
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context

PROVENANCE = Provenance(
    name="rkn",
    producer="Roskomnadzor (Federal Service for Supervision of Communications, Russia); "
    "mirrored by the zapret-info project",
    url="https://github.com/zapret-info/z-i",
    licence="Public register (Russian Federal Law 149-FZ art. 15.1); mirror without a stated "
    "licence",
    description="Register of resources Russian ISPs must block: IPs, domains, URLs, the "
    "requesting body and the legal decision's number and date.",
)
TABLE = "rkn_decisions"
FILE_SUFFIXES = (".csv",)
COLUMNS = ("ips", "domains", "urls", "organisation", "decision_number", "decision_date")
ENCODING = "windows-1251"
UPDATED_PATTERN = re.compile(r"^Updated: (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}) ([+-]\d{4})$")
DATE_PATTERN = r"^\d{4}-\d{2}-\d{2}$"
#: The same entry in two snapshots is kept once and counted as merged.
DEDUP_KEY = ("service_id", "blocked_host", "decision_date", "decision_number", "authority")


def read(path: Path, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse a dump into string rows; check and keep the `Updated:` line.

    Raises:
        RawFileError: Undecodable bytes, an unbalanced quote, or no valid `Updated:` line.
    """
    raw = read_delimited(path, dataset=TABLE, column_names=COLUMNS, encoding=ENCODING,
                         delimiter=";", skip_lines=1, name=name)
    first = raw.preamble[0] if raw.preamble else ""
    if not UPDATED_PATTERN.match(first):
        raise RawFileError(path, 1, first, "first line must be `Updated: YYYY-MM-DD HH:MM:SS "
                           "+ZZZZ` (the snapshot time)")
    return raw


def snapshot_time(raw: RawFile) -> pd.Timestamp:
    """Return the dump's `Updated:` time in UTC."""
    when, offset = UPDATED_PATTERN.match(raw.preamble[0]).groups()
    return pd.Timestamp(f"{when}{offset[:3]}:{offset[3:]}").tz_convert("UTC")


def _parse_decision_dates(df: pd.DataFrame) -> pd.DataFrame:
    text = df["decision_date"].fillna("")
    shaped = text.str.match(DATE_PATTERN)
    parsed = pd.to_datetime(text.where(shaped), format="%Y-%m-%d", errors="coerce")
    out = df.assign(decision_date=parsed)
    bad = df["decision_date"].notna() & parsed.isna()
    return mark_rejects(out, bad, "type-error", "decision_date is not a real YYYY-MM-DD date: "
                        + text)


def _split_entry_lists(df: pd.DataFrame) -> pd.DataFrame:
    """Split the three list fields; URLs only on ` | ` because a URL may contain `|`."""
    return df.assign(
        _hosts=df["domains"].map(lambda v: [h.lower() for h in split_list(v, "|")]),
        entry_ips=df["ips"].map(lambda v: split_list(v, "|")),
        entry_urls=df["urls"].map(lambda v: split_list(v, " | ")),
    )


def _map_hosts_to_services(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    def mapped(hosts: list[str]) -> list[tuple[str, str]]:
        pairs = [(h, context.services.service_for_host(h)) for h in hosts]
        return [(h, s) for h, s in pairs if s]

    return df.assign(_mapped=df["_hosts"].map(mapped))


def _explode_hosts(df: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    """One row per (entry, mapped domain)."""
    rows = [
        {**row, "blocked_host": host, "service_id": service}
        for row in df.to_dict("records") for host, service in row["_mapped"]
    ]
    out = pd.DataFrame(rows, columns=[*df.columns, "blocked_host", "service_id"])
    return out.assign(authority=out["organisation"], snapshot_time=when,
                      entry_urls=out["entry_urls"].map(lambda v: v or None),
                      entry_ips=out["entry_ips"].map(lambda v: v or None))


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean one dump: reject broken lines, keep entries naming a known service's domain."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(COLUMNS))
        .pipe(require_cells, ["decision_date"])
        .pipe(_parse_decision_dates)
        .pipe(_split_entry_lists)
        .pipe(_map_hosts_to_services, context)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    in_scope = accepted[accepted["_mapped"].map(len) > 0]
    return finish(raw, TABLE, clean=in_scope, rejects=[rejects],
                  split=_explode_hosts(in_scope, snapshot_time(raw)),
                  filtered=len(accepted) - len(in_scope),
                  facts={"snapshot_time": raw.preamble[0].removeprefix("Updated: ")})
