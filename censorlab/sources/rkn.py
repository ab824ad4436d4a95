"""Roskomnadzor's register of blocked resources, as dumped by `zapret-info/z-i` (`dump.csv`).

Published by Roskomnadzor (the Russian communications regulator) to ISPs; the public mirror
`github.com/zapret-info/z-i` commits the dump several times a day. Layout (docs FORMATS.md s. 5,
read in the `zicsv` parser, and real dumps of 2012-2014): windows-1251 text, `;`-separated,
double quotes allowed (an organisation name may hold a `;`), no header. Line 1 is `Updated:
YYYY-MM-DD HH:MM:SS +ZZZZ`, the snapshot time, kept in the manifest and in `snapshot_time`.
Every further line is one **registry entry** with six fields: IPs and subnets (`|`-separated),
domains (`|`-separated, may be `*.example.com` or `*`), URLs (` | `-separated, because a URL
may hold `|`), the requesting organisation (Russian free text), the decision number and the
decision date (`YYYY-MM-DD`, the only required field).

**Two layouts.** Until 2019-11-07 one `dump.csv`; since then z-i ships the same dump split into
`dump-00.csv` ... `dump-NN.csv` (GitHub's file-size limit), only part 00 holding the `Updated:`
line. A split dump is read as ONE input: given as a directory or as part files in any order,
the parts of one directory are grouped (:func:`group_inputs`), ordered by part number and
**joined byte for byte** (what `cat dump-*.csv` and the scripts that download the parts do).
Joining bytes, not lines, makes the reader independent of where z-i cuts: at a line boundary
the joined bytes are the lines, and a cut inside an entry is restored (windows-1251 has one byte
per character, so no character can be cut). The input is recorded as `dump-{00..08}.csv`
(with its directory), `source_line` counts lines of the joined dump, and the manifest's `parts`
says at which joined line each part begins. A gap in the part numbers (or no part 00) is a file
error naming the missing part; a joined dump that does not end with a newline lost its last
part (z-i's dump ends with one), also a file error. A missing *last* part whose predecessor ends
exactly at a line boundary cannot be seen: the manifest lists the parts read.

**One row per registry entry.** An entry is kept whole -- every IP, domain and URL it lists --
with its `entry_scope`: `url` when it lists URLs (the register orders those pages blocked: a
video, a `telegram.me/<channel>`; its domain and IPs are where ISPs find them), else `domain`
(the whole domain, or every subdomain for `*.`), else `ip`. The register lists many distinct
entries under one decision (a prosecutor's order on seven YouTube channels is seven entries),
and those are never merged; only a true repeat -- the same entry with the same decision, scope,
domains, URLs and IPs, as in the next snapshot -- is kept once and counted as merged.

**Scope.** An entry is kept when one of its domains or URL hosts belongs to a known service
(`ServiceCatalog.service_for_host`, which also matches subdomains and `*.` wildcards); it gives
one row per service it touches (one for every entry in the fixtures). The rest of the register
(gambling, piracy, `*`, and every IP-only entry, which names no host to tie to a service) is out
of scope: counted in `rows_filtered` (and, per scope, in the manifest's `filtered_by_scope`),
not rejected and not stored; add a domain to data/raw/services.csv and re-run to pick it up.

**Service-level blocks come only from domain-scope entries.** A URL entry blocks one page, so
"earliest decision per service" over every entry reads a police order on one channel as the
service's block. :func:`earliest_service_blocks` takes the earliest decision of a
`domain`-scope entry per service, and nothing else.

Quirks: a wrong field count is a reject (`missing-cell`/`extra-cell`), as is a bad or missing
date (`type-error`/`missing-cell`), checked before scope because a broken line cannot be
classified; undecodable bytes or a missing `Updated:` line stop the file (`RawFileError`); cells
are trimmed (`27-27-2014/Ид1152-14 ` and `27-27-2014/Ид1152-14` are one decision number); the
decision date is the legal decision, which can precede actual blocking by days or weeks.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

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
from censorlab.reading.delimited import RawFile, file_digest, read_delimited
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
UPDATED_PATTERN = re.compile(r"^Updated: ([0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}) "
                             r"([+-][0-9]{4})$")
DATE_PATTERN = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
PART_PATTERN = re.compile(r"^dump-([0-9]{2})\.csv$")
HOST_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://(?:[^@/?#]*@)?([^:/?#\\]*)")
SCOPES = ("url", "domain", "ip")
#: A true repeat of one entry (the same entry in the next snapshot) is kept once and counted
#: as merged; distinct entries under one decision never are.
DEDUP_KEY = ("service_id", "entry_scope", "decision_date", "decision_number", "authority",
             "entry_domains", "entry_urls", "entry_ips")

Input = Path | tuple[Path, ...]


@dataclass
class SplitDump(RawFile):
    """A split dump read as one: the RawFile of the joined parts, and where each part begins.

    Attributes:
        parts: ``{"part": "dump-03.csv", "first_line": n}`` per part, n being the line of the
            joined dump where the part's bytes begin (recorded in the manifest).
    """

    parts: list[dict] = field(default_factory=list)


def group_inputs(files: Sequence[tuple[Path, str]]) -> list[tuple[Input, str]]:
    """Group the `dump-NN.csv` parts of each directory into one input (a split dump).

    Called by the driver on the discovered files. Parts are ordered by part number, whatever
    the order given; the group is recorded as ``<dir>/dump-{00..NN}.csv``. Other files stay
    single inputs.
    """
    singles: list[tuple[Input, str]] = []
    groups: dict[tuple[Path, str], list[tuple[int, Path]]] = {}
    for path, name in files:
        match = PART_PATTERN.match(Path(path).name)
        if not match:
            singles.append((path, name))
            continue
        key = (Path(path).resolve().parent, str(PurePosixPath(name).parent))
        groups.setdefault(key, []).append((int(match.group(1)), Path(path)))
    for (_, folder), parts in groups.items():
        parts.sort()
        numbers = [n for n, _ in parts]
        label = (f"dump-{numbers[0]:02d}.csv" if len(parts) == 1 else
                 f"dump-{{{numbers[0]:02d}..{numbers[-1]:02d}}}.csv")
        singles.append((tuple(p for _, p in parts),
                        label if folder == "." else f"{folder}/{label}"))
    return sorted(singles, key=lambda pair: pair[1])


def read(path: Input, context: Context | None = None, name: str | None = None) -> RawFile:
    """Parse a dump (one file, or the parts of a split dump) into string rows.

    Raises:
        RawFileError: Undecodable bytes, an unbalanced quote, no valid `Updated:` line, a
            missing part, or a split dump cut after its last part.
    """
    if isinstance(path, tuple | list):
        return _read_parts([Path(p) for p in path], name)
    path = Path(path)
    return _check_updated(path, _read_dump(path, name or path.name))


def _read_dump(path: Path, name: str) -> RawFile:
    return read_delimited(path, dataset=TABLE, column_names=COLUMNS, encoding=ENCODING,
                          delimiter=";", skip_lines=1, name=name)


def _check_updated(path: Path | str, raw: RawFile) -> RawFile:
    first = raw.preamble[0] if raw.preamble else ""
    if not UPDATED_PATTERN.match(first):
        raise RawFileError(path, 1, first, "first line must be `Updated: YYYY-MM-DD HH:MM:SS "
                           "+ZZZZ` (the snapshot time)")
    return raw


def _read_parts(parts: list[Path], name: str | None) -> RawFile:
    """Check the part numbers, join the parts' bytes in order and read them as one dump."""
    numbered = sorted((int(PART_PATTERN.match(p.name).group(1)), p) for p in parts)
    numbers = [n for n, _ in numbered]
    missing = sorted(set(range(numbers[-1] + 1)) - set(numbers))
    if missing:
        folder = numbered[0][1].parent
        raise RawFileError(folder / f"dump-{missing[0]:02d}.csv", None,
                           [f"dump-{n:02d}.csv" for n in missing],
                           "part(s) of the split dump are missing (parts are joined in order "
                           "from dump-00.csv, which holds the Updated: line)")
    chunks = [p.read_bytes() for _, p in numbered]
    joined = b"".join(chunks)
    label = name or numbered[0][1].name
    if len(chunks) > 1 and not joined.endswith(b"\n"):
        raise RawFileError(numbered[-1][1], None, chunks[-1][-40:],
                           "the joined dump ends inside an entry: the part after "
                           f"{numbered[-1][1].name} is missing (z-i's dump ends with a newline)")
    starts, line = [], 1
    for (_, part), chunk in zip(numbered, chunks, strict=True):
        starts.append({"part": part.name, "first_line": line})
        line += chunk.count(b"\n")
    with tempfile.TemporaryDirectory() as tmp:
        whole = Path(tmp) / "dump.csv"
        whole.write_bytes(joined)
        try:
            raw = _check_updated(numbered[0][1], _read_dump(whole, label))
        except RawFileError as exc:
            raise _in_part(exc, numbered, starts) from exc
    return SplitDump(**{**vars(raw), "path": numbered[0][1], "sha256": file_digest(joined)},
                     parts=starts)


def _in_part(exc: RawFileError, numbered: list[tuple[int, Path]],
             starts: list[dict]) -> RawFileError:
    """Re-address a joined-dump error to the part and line it falls in."""
    if exc.line is None:
        return RawFileError(numbered[0][1], None, exc.value, exc.reason)
    index = max(i for i, s in enumerate(starts) if s["first_line"] <= exc.line)
    local = exc.line - starts[index]["first_line"] + 1
    return RawFileError(numbered[index][1], local, exc.value,
                        f"{exc.reason} (line {exc.line} of the joined dump)")


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
        entry_domains=df["domains"].map(lambda v: [h.lower() for h in split_list(v, "|")]),
        entry_ips=df["ips"].map(lambda v: split_list(v, "|")),
        entry_urls=df["urls"].map(lambda v: split_list(v, " | ")),
    )


def _classify_scopes(df: pd.DataFrame) -> pd.DataFrame:
    """Scope each entry: `url` if it lists URLs, else `domain` if it lists domains, else `ip`."""
    scope = [("url" if urls else "domain" if domains else "ip" if ips else None)
             for urls, domains, ips in zip(df["entry_urls"], df["entry_domains"],
                                           df["entry_ips"], strict=True)]
    return df.assign(entry_scope=pd.Series(scope, index=df.index, dtype=object))


def _url_host(url: str) -> str | None:
    match = HOST_PATTERN.match(url)
    return match.group(1).lower() if match and match.group(1) else None


def _map_entries_to_services(df: pd.DataFrame, context: Context) -> pd.DataFrame:
    """The services an entry touches: through its domains and the hosts of its URLs."""
    def services(domains: list[str], urls: list[str]) -> list[str]:
        hosts = [*domains, *(h for h in map(_url_host, urls) if h)]
        return sorted({s for s in map(context.services.service_for_host, hosts) if s})

    found = [services(d, u) for d, u in zip(df["entry_domains"], df["entry_urls"], strict=True)]
    return df.assign(_services=pd.Series(found, index=df.index, dtype=object))


def _explode_services(df: pd.DataFrame, when: pd.Timestamp) -> pd.DataFrame:
    """One row per (entry, service): one per entry unless it names hosts of two services."""
    rows = [{**row, "service_id": service}
            for row in df.to_dict("records") for service in row["_services"]]
    out = pd.DataFrame(rows, columns=[*df.columns, "service_id"])
    return out.assign(authority=out["organisation"], snapshot_time=when,
                      **{c: out[c].map(lambda v: v or None)
                         for c in ("entry_domains", "entry_urls", "entry_ips")})


def clean(raw: RawFile, context: Context) -> SourceResult:
    """Clean one dump: reject broken lines, keep whole entries touching a known service."""
    marked = (
        raw.rows.pipe(start_marking)
        .pipe(strip_cells, list(COLUMNS))
        .pipe(require_cells, ["decision_date"])
        .pipe(_parse_decision_dates)
        .pipe(_split_entry_lists)
        .pipe(_classify_scopes)
        .pipe(_map_entries_to_services, context)
    )
    accepted, rejects = split_rejects(marked, TABLE)
    kept = accepted["_services"].map(len) > 0
    out_of_scope = accepted.loc[~kept, "entry_scope"].fillna("none").value_counts()
    facts = {"snapshot_time": raw.preamble[0].removeprefix("Updated: "),
             "filtered_by_scope": {k: int(v) for k, v in sorted(out_of_scope.items())}}
    if isinstance(raw, SplitDump):
        facts["parts"] = raw.parts
    return finish(raw, TABLE, clean=accepted[kept], rejects=[rejects],
                  split=_explode_services(accepted[kept], snapshot_time(raw)),
                  filtered=int((~kept).sum()), facts=facts)


def earliest_service_blocks(table: pd.DataFrame) -> pd.DataFrame:
    """The earliest decision per service among **domain-scope** entries only.

    A domain entry orders the whole domain (or, for `*.`, every subdomain) blocked, which is a
    block of the service; a URL entry blocks one page (a video, one channel) and an IP entry
    addresses, so neither is counted. Ties on the date are broken by decision number and line,
    so the answer does not depend on row order.

    Args:
        table: Rows of ``rkn_decisions`` (e.g. ``censorlab.load("rkn_decisions", out)``).

    Returns:
        One row per service with a domain-scope entry: service_id, decision_date,
        decision_number, authority, entry_domains, source_file, source_line.
    """
    columns = ["service_id", "decision_date", "decision_number", "authority", "entry_domains",
               "source_file", "source_line"]
    domain = table[table["entry_scope"] == "domain"]
    ordered = domain.sort_values(["service_id", "decision_date", "decision_number",
                                  "source_file", "source_line"])
    return ordered.drop_duplicates("service_id")[columns].reset_index(drop=True)
