"""Download GDELT 2.0 event exports for a range of days, for users with internet access.

Who publishes it: the GDELT Project. ``<base>/masterfilelist.txt`` (base
``http://data.gdeltproject.org/gdeltv2``) lists every file GDELT 2.0 has published, one per
line, ``<size in bytes> <md5 hex> <url>``, e.g.
``… http://data.gdeltproject.org/gdeltv2/20150218230000.export.CSV.zip``. Each 15-minute
interval also has ``.mentions`` and ``.gkg`` files; only the ``.export.CSV.zip`` event files are
fetched, as published: ``censorlab ingest gdelt`` reads single-member ``.zip`` files.

Selection: the exports whose timestamp (the name's ``YYYYMMDDHHMMSS``, UTC) falls on a day in
``[since, until]``. A range selecting more than ``max_files`` (``--max-files``) is refused
before any download, with the count and the listed bytes, so a wide range cannot start a huge
download silently. The list is kept as ``<out>/masterfilelist.txt``: what the selection was made
from (the ingest ignores ``.txt`` files).

Files: ``<out>/<YYYYMMDDHHMMSS>.export.CSV.zip``, each fetched from ``<base>/<name>`` with the
bounded downloader (``censorlab.core.http``). Only the name is taken from the list's URL, and
only when it is exactly a timestamp and ``.export.CSV.zip``, so a list can neither send us to
another server nor write outside ``--out``. Each file is checked against the list's size and
md5: a mismatch is an error naming the file, and its ``.part`` is removed. A file already
present with the listed md5 is skipped, so an interrupted fetch resumes; one with another md5
is downloaded again (it is replaced only once the new one checks out).

Quirks handled: a line of the list that is not ``<size> <md5> <url>`` is ignored unless it
names an export in the range (then it is an error: that file could not be checked); the same
export listed twice with the same size and md5 is fetched once, with different ones an error.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

from censorlab.core.http import (
    DEFAULT_LIMITS,
    FetchError,
    Limits,
    download,
    file_md5,
    parse_day_range,
)

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "http://data.gdeltproject.org/gdeltv2"
MASTER_LIST = "masterfilelist.txt"
MAX_FILES = 2000  # 96 exports a day: about 21 days per fetch unless raised
EXPORT_NAME = re.compile(r"([0-9]{14})\.export\.CSV\.zip")
LIST_LINE = re.compile(r"([0-9]+) ([0-9a-fA-F]{32}) (\S+)")


@dataclass(frozen=True)
class ListedFile:
    """One export as the master list describes it."""

    name: str
    size: int
    md5: str


@dataclass(frozen=True)
class GdeltFetch:
    """What a fetch did: every selected file's path, and how many were downloaded or present."""

    paths: list[Path]
    downloaded: int
    present: int


def _export_day(name: str, list_url: str, number: int) -> dt.date | None:
    """The UTC day of an export named in the list (None for any other kind of file)."""
    match = EXPORT_NAME.fullmatch(name)
    if not match:
        return None
    try:
        return dt.datetime.strptime(match[1], "%Y%m%d%H%M%S").date()
    except ValueError:
        raise FetchError(f"{list_url}:{number}: {name} is not named by a real time") from None


def select_exports(lines: Iterable[str], first: dt.date, last: dt.date,
                   list_url: str) -> list[ListedFile]:
    """Pick the exports of days ``first`` to ``last`` from the master list's lines, by name.

    Raises:
        FetchError: An export in the range whose line has no readable size and md5, or that
            is listed twice differently (the message names the list and the line).
    """
    chosen: dict[str, ListedFile] = {}
    for number, line in enumerate(lines, start=1):
        fields = line.split()
        name = fields[-1].rsplit("/", 1)[-1] if fields else ""
        day = _export_day(name, list_url, number)
        if day is None or not first <= day <= last:
            continue
        match = LIST_LINE.fullmatch(line.strip())
        if not match:
            raise FetchError(f"{list_url}:{number}: no size and md5 for {name}: "
                             f"{line.strip()[:200]!r}")
        listed = ListedFile(name, int(match[1]), match[2].lower())
        if chosen.setdefault(name, listed) != listed:
            raise FetchError(f"{list_url}:{number}: {name} is listed twice with different "
                             "sizes or md5")
    return sorted(chosen.values(), key=lambda f: f.name)


def _check_count(selected: list[ListedFile], max_files: int, since: str, until: str,
                 list_url: str) -> None:
    if len(selected) > max_files:
        total = sum(f.size for f in selected)
        raise FetchError(f"{list_url}: {len(selected)} export files from {since} to {until} "
                         f"({total:,} bytes listed), more than --max-files {max_files}; narrow "
                         "the range or raise --max-files")


def fetch_gdelt(since: str, until: str, out_dir: str | Path, base_url: str | None = None, *,
                max_files: int = MAX_FILES, limits: Limits = DEFAULT_LIMITS) -> GdeltFetch:
    """Download the GDELT 2.0 event exports of days ``since`` to ``until`` (inclusive).

    Args:
        since: First day, ``YYYY-MM-DD`` (UTC).
        until: Last day, ``YYYY-MM-DD`` (inclusive).
        out_dir: Download directory (also receives ``masterfilelist.txt``).
        base_url: Where the list and the files are (default GDELT's; tests use a local server).
        max_files: Refuse a range selecting more exports than this.
        limits: Bounds of each GET; a file's byte cap is its listed size.

    Returns:
        The selected files' paths (present ones included) and the counts.

    Raises:
        FetchError: A GET failed for good, a file does not match the list, or the range
            selects more than ``max_files``; files already complete stay on disk.
        CensorlabError: A bad date.
    """
    first, last = parse_day_range(since, until)
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    list_url = f"{base}/{MASTER_LIST}"
    list_path = download(list_url, out / MASTER_LIST, limits)
    with open(list_path, encoding="utf-8", errors="replace") as lines:
        selected = select_exports(lines, first, last, list_url)
    _check_count(selected, max_files, since, until, list_url)
    if not selected:
        logger.warning("%s lists no export file from %s to %s", list_url, since, until)
    downloaded = present = 0
    for number, listed in enumerate(selected, start=1):
        target = out / listed.name
        if target.exists() and file_md5(target) == listed.md5:
            present += 1
            continue
        if target.exists():
            logger.warning("%s: md5 differs from the list; downloading it again", target)
        if listed.size > limits.max_bytes:
            raise FetchError(f"{list_url}: {listed.name} is listed with {listed.size} bytes, "
                             f"more than the limit of {limits.max_bytes}")
        download(f"{base}/{listed.name}", target, replace(limits, max_bytes=listed.size),
                 size=listed.size, md5=listed.md5)
        downloaded += 1
        logger.info("%s (%d/%d)", target, number, len(selected))
    return GdeltFetch([out / f.name for f in selected], downloaded, present)
