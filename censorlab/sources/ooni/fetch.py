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
fetch resumes where it stopped. Each HTTP request is retried a bounded number of times (network
errors, HTTP 429 and 5xx) with exponential backoff; other HTTP errors stop the fetch.
"""

from __future__ import annotations

import gzip
import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import date, datetime, timedelta
from pathlib import Path

from censorlab import __version__
from censorlab.errors import CensorlabError

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.ooni.io"
PAGE_SIZE = 100
RETRIES = 4
BACKOFF_SECONDS = 1.0
TIMEOUT_SECONDS = 60
RETRY_STATUSES = (429, 500, 502, 503, 504)


class FetchError(CensorlabError):
    """A download failed for good (after retries, or with a non-retryable HTTP status)."""


def _parse_day(text: str, what: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError as exc:
        raise CensorlabError(f"--{what} {text!r} is not a date YYYY-MM-DD") from exc


def _get(url: str, retries: int, backoff: float, timeout: float) -> bytes:
    """GET a URL, retrying transient failures ``retries`` times with exponential backoff."""
    request = urllib.request.Request(url, headers={"User-Agent": f"censorlab/{__version__}",
                                                   "Accept": "application/json"})
    for attempt in range(retries + 1):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.read()
        except urllib.error.HTTPError as exc:
            if exc.code not in RETRY_STATUSES or attempt == retries:
                raise FetchError(f"GET {url}: HTTP {exc.code} {exc.reason}") from exc
            problem = f"HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            if attempt == retries:
                raise FetchError(f"GET {url}: {exc} (after {retries} retries)") from exc
            problem = str(exc)
        wait = backoff * (2 ** attempt)
        logger.warning("GET %s: %s; retry %d/%d in %.1f s", url, problem, attempt + 1, retries,
                       wait)
        time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def _get_json(url: str, retries: int, backoff: float, timeout: float):
    body = _get(url, retries, backoff, timeout)
    try:
        return json.loads(body)
    except ValueError as exc:
        raise FetchError(f"GET {url}: response is not JSON ({exc})") from exc


def list_day(base_url: str, probe_cc: str, test_name: str, day: date, *, page_size: int = PAGE_SIZE,
             retries: int = RETRIES, backoff: float = BACKOFF_SECONDS,
             timeout: float = TIMEOUT_SECONDS) -> list[dict]:
    """Return the listing entries of one UTC day (all pages), oldest first."""
    entries: list[dict] = []
    offset = 0
    while True:
        query = urllib.parse.urlencode({
            "probe_cc": probe_cc, "test_name": test_name,
            "since": f"{day.isoformat()}T00:00:00",
            "until": f"{(day + timedelta(days=1)).isoformat()}T00:00:00",
            "order_by": "measurement_start_time", "order": "asc",
            "limit": page_size, "offset": offset,
        })
        page = _get_json(f"{base_url}/api/v1/measurements?{query}", retries, backoff, timeout)
        results = page.get("results") or []
        entries.extend(results)
        if len(results) < page_size or not (page.get("metadata") or {}).get("next_url"):
            return entries
        offset += page_size


def fetch_ooni(probe_cc: str, test_name: str, since: str, until: str, out_dir: str | Path,
               base_url: str | None = None, *, page_size: int = PAGE_SIZE,
               retries: int = RETRIES, backoff: float = BACKOFF_SECONDS,
               timeout: float = TIMEOUT_SECONDS) -> list[Path]:
    """Download every measurement of a country and test between two days (inclusive).

    Args:
        probe_cc: Probe country, ISO alpha-2 (``ZZ`` is refused by the API).
        test_name: OONI test name, e.g. ``telegram``.
        since: First day, ``YYYY-MM-DD``.
        until: Last day, ``YYYY-MM-DD`` (inclusive).
        out_dir: Download directory.
        base_url: API root (default https://api.ooni.io; tests use a local server).
        page_size: Listing page size.
        retries: Retries per HTTP request for network errors, 429 and 5xx.
        backoff: First retry delay in seconds (doubles each retry).
        timeout: Socket timeout per request in seconds.

    Returns:
        The day files, existing ones included (one per day, possibly empty).

    Raises:
        FetchError: A request failed for good; days already complete stay on disk.
    """
    first, last = _parse_day(since, "since"), _parse_day(until, "until")
    if last < first:
        raise CensorlabError(f"--until {until} is before --since {since}")
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
            _fetch_day(base, probe_cc.upper(), test_name, day, target, page_size, retries,
                       backoff, timeout)
        written.append(target)
        day += timedelta(days=1)
    return written


def _fetch_day(base: str, probe_cc: str, test_name: str, day: date, target: Path,
               page_size: int, retries: int, backoff: float, timeout: float) -> None:
    entries = list_day(base, probe_cc, test_name, day, page_size=page_size, retries=retries,
                       backoff=backoff, timeout=timeout)
    tmp = target.with_name(f".{target.name}.part")
    missing = 0
    try:
        with gzip.open(tmp, "wb") as handle:
            for entry in entries:
                uid = entry.get("measurement_uid")
                query = urllib.parse.urlencode({"measurement_uid": uid})
                body = _get_json(f"{base}/api/v1/raw_measurement?{query}", retries, backoff,
                                 timeout)
                if not body:
                    missing += 1
                    continue
                if uid and "measurement_uid" not in body:
                    body["measurement_uid"] = uid
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
