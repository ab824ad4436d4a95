"""Download OONI measurements from OONI's public API, for users with internet access.

Which API: ``api.ooni.io`` (``ooni/backend`` ``api/ooniapi/measurements.py``):

* ``GET /api/v1/measurements?probe_cc=RU&test_name=telegram&since=…&until=…&limit=…&offset=…``
  lists measurement metadata (``measurement_uid``, ``report_id``, ``input``,
  ``measurement_start_time``…) with ``metadata.next_url`` set while more pages exist; the server
  filters ``since < measurement_start_time <= until`` and never lists ``ZZ`` / ``AS0`` probes.
* ``GET /api/v1/raw_measurement?measurement_uid=…`` returns the measurement JSON as published.

We list one UTC day at a time (``since = day 00:00:00``, ``until = next day 00:00:00``) and page
with our own ``offset`` (the API builds ``next_url`` from its own base URL, which is wrong behind
a proxy or in tests); then fetch each raw measurement and write it as one JSONL line, adding
``measurement_uid`` from the listing when the body lacks it (raw bodies often do). The result is
the same JSONL format as the S3 bucket's ``raw/`` files, so ``censorlab ingest ooni`` reads it.
(For bulk history the S3 bucket ``ooni-data-eu-fra``, ``raw/YYYYMMDD/HH/CC/testname/*.jsonl.gz``,
is faster; it needs an S3 client, which this stdlib-only module does not use.)

Files: ``<out_dir>/<CC>/<test_name>/<YYYYMMDD>.jsonl.gz``, one per day, written to a temporary
file and renamed when the day is complete. A day whose file exists is skipped, so an interrupted
fetch resumes where it stopped. Every GET is bounded (``censorlab.core.http``: timeouts, a
deadline per response, a byte cap, retries with backoff, same-origin redirects only). A day's
listing stops after ``MAX_PAGES`` pages (``--max-pages``) and fails when a page brings no
measurement that earlier pages did not (a server ignoring ``offset`` would page for ever); a
listing or body of the wrong JSON shape is an error naming its URL. ``--cc`` must be two letters
and ``--test`` a plain name, since both become directory names.
"""

from __future__ import annotations

import gzip
import itertools
import json
import logging
import os
import re
import urllib.parse
from dataclasses import replace
from datetime import date, timedelta
from pathlib import Path

from censorlab.core.http import (
    DEFAULT_LIMITS,
    FetchError,
    Limits,
    check_path_component,
    get_json,
    parse_day_range,
    part_path,
)
from censorlab.errors import CensorlabError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.ooni.io"
PAGE_SIZE = 100
MAX_PAGES = 1000  # a day of one country and test: 100,000 measurements, 100,000 more GETs
MAX_JSON_BYTES = 64 << 20  # a listing page or one raw measurement (bodies of a few MB exist)
PROBE_CC = re.compile(r"[A-Za-z]{2}")



def _json_limits(limits: Limits) -> Limits:
    return replace(limits, max_bytes=min(limits.max_bytes, MAX_JSON_BYTES))


def _page_results(page: object, url: str) -> list[dict]:
    """The listing entries of one page, after checking the page has the API's shape."""
    results = page.get("results") if isinstance(page, dict) else None
    metadata = page.get("metadata") if isinstance(page, dict) else None
    if (not isinstance(page, dict) or not isinstance(results, list | None)
            or not isinstance(metadata, dict | None)):
        raise FetchError(f"GET {url}: not a measurement listing (an object with a 'results' "
                         f"list), got {type(page).__name__}")
    for entry in results or []:
        uid = entry.get("measurement_uid") if isinstance(entry, dict) else None
        if not isinstance(uid, str) or not uid:
            raise FetchError(f"GET {url}: a listing entry without a measurement_uid: "
                             f"{str(entry)[:120]}")
    return results or []


def _has_next_page(page: dict) -> bool:
    return bool((page.get("metadata") or {}).get("next_url"))


def list_day(base_url: str, probe_cc: str, test_name: str, day: date, *, page_size: int = PAGE_SIZE,
             max_pages: int = MAX_PAGES, limits: Limits = DEFAULT_LIMITS) -> list[dict]:
    """Return the listing entries of one UTC day (all pages), oldest first.

    A measurement listed twice (uploads arriving while we page shift the offsets) is kept
    once; a page bringing nothing new means the server ignores ``offset``: an error.

    Raises:
        FetchError: A GET failed, a page has the wrong shape or repeats, or the day has more
            than ``max_pages`` pages.
    """
    entries: dict[str, dict] = {}
    for page_number in itertools.count():
        query = urllib.parse.urlencode({
            "probe_cc": probe_cc, "test_name": test_name,
            "since": f"{day.isoformat()}T00:00:00",
            "until": f"{(day + timedelta(days=1)).isoformat()}T00:00:00",
            "order_by": "measurement_start_time", "order": "asc",
            "limit": page_size, "offset": page_number * page_size,
        })
        url = f"{base_url}/api/v1/measurements?{query}"
        if page_number >= max_pages:
            raise FetchError(f"GET {url}: stopped, {probe_cc} {test_name} on {day} has more "
                             f"than {max_pages} pages of {page_size}; raise --max-pages or "
                             "fetch from OONI's S3 bucket")
        page = get_json(url, _json_limits(limits))
        results = _page_results(page, url)
        new = {e["measurement_uid"]: e for e in results if e["measurement_uid"] not in entries}
        if results and not new:
            raise FetchError(f"GET {url}: page {page_number + 1} repeats earlier pages only "
                             "(the server ignores offset); stopped")
        entries.update(new)
        if len(results) < page_size or not _has_next_page(page):
            return list(entries.values())
    raise AssertionError("unreachable")  # pragma: no cover


def _check_names(probe_cc: str, test_name: str) -> None:
    """``--cc`` and ``--test`` become directory names: refuse anything else than a plain name."""
    if not PROBE_CC.fullmatch(probe_cc):
        raise CensorlabError(f"--cc {probe_cc!r} is not a two-letter country code")
    check_path_component(test_name, "--test")


def fetch_ooni(probe_cc: str, test_name: str, since: str, until: str, out_dir: str | Path,
               base_url: str | None = None, *, page_size: int = PAGE_SIZE,
               max_pages: int = MAX_PAGES, limits: Limits = DEFAULT_LIMITS) -> list[Path]:
    """Download every measurement of a country and test between two days (inclusive).

    Args:
        probe_cc: Probe country, ISO alpha-2 (``ZZ`` is refused by the API).
        test_name: OONI test name, e.g. ``telegram``.
        since: First day, ``YYYY-MM-DD``.
        until: Last day, ``YYYY-MM-DD`` (inclusive).
        out_dir: Download directory.
        base_url: API root (default https://api.ooni.io; tests use a local server).
        page_size: Listing page size.
        max_pages: Listing pages per day at most.
        limits: Bounds of each GET (timeouts, deadline, retries, backoff; the byte cap is at
            most ``MAX_JSON_BYTES``).

    Returns:
        The day files, existing ones included (one per day, possibly empty).

    Raises:
        FetchError: A request failed for good; days already complete stay on disk.
        CensorlabError: A bad date, country code or test name.
    """
    first, last = parse_day_range(since, until)
    _check_names(probe_cc, test_name)
    base = (base_url or DEFAULT_BASE_URL).rstrip("/")
    folder = Path(out_dir) / probe_cc.upper() / test_name
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    day = first
    while day <= last:
        target = folder / f"{day.strftime('%Y%m%d')}.jsonl.gz"
        if target.exists():
            logger.info("%s exists: skipped (resume)", target)
        else:
            entries = list_day(base, probe_cc.upper(), test_name, day, page_size=page_size,
                               max_pages=max_pages, limits=limits)
            _write_day(base, entries, target, limits)
        written.append(target)
        day += timedelta(days=1)
    return written


def _raw_measurement(base: str, uid: str, limits: Limits) -> dict | None:
    """One measurement's JSON as published (None when the API has no body for it)."""
    url = f"{base}/api/v1/raw_measurement?{urllib.parse.urlencode({'measurement_uid': uid})}"
    body = get_json(url, _json_limits(limits))
    if body is not None and not isinstance(body, dict):
        raise FetchError(f"GET {url}: a measurement is a JSON object, got "
                         f"{type(body).__name__}")
    return body or None


def _write_day(base: str, entries: list[dict], target: Path, limits: Limits) -> None:
    tmp = part_path(target)
    missing = 0
    try:
        with gzip.open(tmp, "wb") as handle:
            for entry in entries:
                uid = entry["measurement_uid"]
                body = _raw_measurement(base, uid, limits)
                if body is None:
                    missing += 1
                    continue
                body.setdefault("measurement_uid", uid)
                handle.write(json.dumps(body, separators=(",", ":")).encode("utf-8") + b"\n")
        with open(tmp, "rb+") as handle:
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if missing:
        logger.warning("%s: %d listed measurements had no raw body", target.name, missing)
    logger.info("%s: %d measurements", target, len(entries) - missing)
