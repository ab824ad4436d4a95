"""Bounded HTTP GETs for the fetch commands: every way a server can stall or flood us has a limit.

Why not ``urllib.request.urlopen``: its one timeout bounds each socket read, not a response (a
server sending a byte every 59 s holds it for ever), it follows redirects to any host, and
``read()`` holds the whole body in memory and raises a bare ``IncompleteRead`` when the
connection is cut. Here (stdlib ``http.client``, no new dependency):

* ``connect_timeout`` bounds the TCP (and TLS) connect, ``read_timeout`` each socket read, and
  ``deadline`` the whole attempt (connect, redirects, headers, body): a watchdog shuts the
  socket when it passes, so a slow-loris server is cut off after ``deadline`` seconds. A
  passed deadline is final, not retried (the server would trickle again).
* ``max_bytes`` caps the body: a larger Content-Length is refused before reading, a body that
  grows past it is cut. :func:`download` streams to ``.<name>.part`` beside the target, then
  fsyncs and renames it (a killed run leaves no half file under the real name).
* ``retries`` with exponential ``backoff`` (capped at ``MAX_BACKOFF_SECONDS``) on what may pass:
  refused or cut connections, read timeouts, a body shorter than its Content-Length, HTTP 429
  and 5xx. Anything else (HTTP 4xx, a body over the cap, a redirect to another origin, a bad
  certificate) fails at once.
* Redirects are followed only within the origin (scheme, host, port) of the requested URL, at
  most ``max_redirects`` times; a redirect elsewhere is refused and named.

Every failure is one :class:`FetchError` whose message starts ``GET <url>:``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import http.client
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from censorlab import __version__
from censorlab.errors import CensorlabError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_SECONDS = 30.0
READ_TIMEOUT_SECONDS = 60.0
DEADLINE_SECONDS = 900.0  # one attempt: 1 GiB at ~1.2 MB/s; a stalled server loses 15 min
MAX_BODY_BYTES = 1 << 30  # 1 GiB: room for GDELT's master list, which grows by 3 lines / 15 min
RETRIES = 4
BACKOFF_SECONDS = 1.0
MAX_BACKOFF_SECONDS = 60.0
MAX_REDIRECTS = 5
CHUNK_BYTES = 1 << 16
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
ISO_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class FetchError(CensorlabError):
    """A download failed for good (after retries, or for a reason retrying cannot fix)."""


@dataclass(frozen=True)
class Limits:
    """The bounds of one GET (see the module docstring); the defaults are the constants above."""

    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    read_timeout: float = READ_TIMEOUT_SECONDS
    deadline: float = DEADLINE_SECONDS
    max_bytes: int = MAX_BODY_BYTES
    retries: int = RETRIES
    backoff: float = BACKOFF_SECONDS
    max_redirects: int = MAX_REDIRECTS

    def __post_init__(self):
        """Refuse bounds that would disable themselves (a zero deadline, negative retries)."""
        if (min(self.connect_timeout, self.read_timeout, self.deadline) <= 0
                or min(self.max_bytes, self.retries, self.backoff, self.max_redirects) < 0):
            raise CensorlabError(f"download limits out of range: {self}")


DEFAULT_LIMITS = Limits()


class _Transient(Exception):
    """A failure that may pass: the attempt is retried."""


class _Refused(Exception):
    """A failure retrying cannot fix: the GET stops at once."""


class _Watchdog:
    """Shuts the attempt's socket when its deadline passes: socket timeouts bound single reads."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = threading.Event()
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket) -> None:
        """Make ``sock`` the one to cut (each redirect opens a new one).

        The socket, not the connection: ``http.client`` drops the connection's reference to it
        once a response that closes the connection has begun, and the body is read after.
        """
        with self._lock:
            self._sock = sock
            if self.expired.is_set():
                _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired.set()
            if self._sock is not None:
                _shut(self._sock)

    def failure(self, problem: str) -> Exception:
        """The error for a failed connect or read: final if the deadline passed, else transient.

        A passed deadline is not retried: a server that trickles bytes will do it again, and
        one deadline is then the whole cost of a slow-loris server.
        """
        if self.expired.is_set():
            return _Refused(f"no complete response within the {self.seconds:g} s deadline")
        return _Transient(problem)

    def cancel(self) -> None:
        """Stop the timer once the attempt is over."""
        self._timer.cancel()


def _shut(sock: socket.socket) -> None:
    """Shut a socket from another thread, so that a blocked read returns at once."""
    try:  # the plain-socket shutdown also cuts TLS without touching the SSL object
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except OSError:
        pass


def origin(url: str) -> tuple[str, str, int | None]:
    """Return (scheme, host, port) of a URL, the port made explicit: what same-origin compares."""
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or DEFAULT_PORTS.get(scheme)
    except ValueError:  # a port that is not a number
        port = None
    return scheme, (parts.hostname or "").lower(), port


def _describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def _connect(url: str, limits: Limits, watchdog: _Watchdog) -> http.client.HTTPConnection:
    scheme, host, _ = origin(url)
    if scheme not in DEFAULT_PORTS or not host:
        raise _Refused(f"not an http(s) URL: {url}")
    parts = urllib.parse.urlsplit(url)
    kind = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    try:
        connection = kind(parts.netloc, timeout=limits.connect_timeout)
    except ValueError as exc:  # http.client.InvalidURL: a bad port
        raise _Refused(_describe(exc)) from exc
    try:
        connection.connect()
    except ssl.SSLCertVerificationError as exc:
        raise _Refused(f"TLS certificate refused: {exc.verify_message}") from exc
    except OSError as exc:
        raise watchdog.failure(f"cannot connect: {_describe(exc)}") from exc
    connection.sock.settimeout(limits.read_timeout)
    watchdog.watch(connection.sock)
    return connection


def _request(url: str, limits: Limits, watchdog: _Watchdog,
             accept: str) -> tuple[http.client.HTTPConnection, http.client.HTTPResponse]:
    """Send the GET and read the headers of a 200 response, following same-origin redirects."""
    current = url
    for _ in range(limits.max_redirects + 1):
        connection = _connect(current, limits, watchdog)
        parts = urllib.parse.urlsplit(current)
        target = urllib.parse.urlunsplit(("", "", parts.path or "/", parts.query, ""))
        try:
            connection.request("GET", target, headers={
                "User-Agent": f"censorlab/{__version__}", "Accept": accept,
                "Accept-Encoding": "identity"})
            response = connection.getresponse()
        except ValueError as exc:  # a URL http.client cannot send (spaces, non-ASCII)
            connection.close()
            raise _Refused(_describe(exc)) from exc
        except (OSError, http.client.HTTPException) as exc:
            connection.close()
            raise watchdog.failure(f"no response: {_describe(exc)}") from exc
        if response.status in REDIRECT_STATUSES:
            connection.close()
            current = _same_origin_redirect(url, current, response.getheader("Location"))
            continue
        if response.status in RETRY_STATUSES:
            connection.close()
            raise _Transient(f"HTTP {response.status} {response.reason}")
        if response.status != 200:
            connection.close()
            raise _Refused(f"HTTP {response.status} {response.reason}")
        return connection, response
    raise _Refused(f"more than {limits.max_redirects} redirects")


def _same_origin_redirect(url: str, current: str, location: str | None) -> str:
    if not location:
        raise _Refused("redirect without a Location header")
    target = urllib.parse.urljoin(current, location)
    if origin(target) != origin(url):
        parts = urllib.parse.urlsplit(url)
        raise _Refused(f"redirect to {target} refused: only redirects within "
                       f"{parts.scheme}://{parts.netloc} are followed (use a URL of the "
                       "other origin if you trust it)")
    return target


def _body(response: http.client.HTTPResponse, watchdog: _Watchdog,
          max_bytes: int) -> Iterator[bytes]:
    """Yield the body in chunks, each from at most one socket read, within the byte cap."""
    declared = response.length  # None when chunked or not declared
    if declared is not None and declared > max_bytes:
        raise _Refused(f"response declares {declared} bytes, more than the limit of "
                       f"{max_bytes}")
    received = 0
    while True:
        try:
            chunk = response.read1(CHUNK_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            raise watchdog.failure(f"read failed after {received} bytes "
                                   f"({_describe(exc)})") from exc
        if not chunk:
            break
        received += len(chunk)
        if received > max_bytes:
            raise _Refused(f"response larger than the limit of {max_bytes} bytes")
        yield chunk
    if received == declared:
        return  # complete, even if the deadline passed while the last chunk was checked
    if watchdog.expired.is_set():  # the watchdog's cut ends a body of unknown length too
        raise watchdog.failure("")
    if declared is not None:
        raise _Transient(f"connection cut after {received} of {declared} bytes")


@contextmanager
def _response_chunks(url: str, limits: Limits, accept: str) -> Iterator[Iterator[bytes]]:
    """One attempt: the body's chunks, under the attempt's deadline; the socket closed after."""
    watchdog = _Watchdog(limits.deadline)
    connection = None
    try:
        connection, response = _request(url, limits, watchdog, accept)
        yield _body(response, watchdog, limits.max_bytes)
    finally:
        watchdog.cancel()
        if connection is not None:
            connection.close()


def _with_retries(url: str, limits: Limits, attempt: Callable[[], object]) -> object:
    """Run ``attempt`` until it succeeds, a refusal, or ``limits.retries`` retries."""
    for number in range(limits.retries + 1):
        try:
            return attempt()
        except _Refused as exc:
            raise FetchError(f"GET {url}: {exc}") from exc
        except _Transient as exc:
            if number == limits.retries:
                raise FetchError(f"GET {url}: {exc} (after {limits.retries} retries)") from exc
            wait = min(limits.backoff * 2 ** number, MAX_BACKOFF_SECONDS)
            logger.warning("GET %s: %s; retry %d/%d in %.1f s", url, exc, number + 1,
                           limits.retries, wait)
            time.sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


def get_bytes(url: str, limits: Limits = DEFAULT_LIMITS, accept: str = "*/*") -> bytes:
    """GET a small response into memory (at most ``limits.max_bytes``), with retries.

    Raises:
        FetchError: The GET failed for good; the message names the URL.
    """
    def attempt() -> bytes:
        with _response_chunks(url, limits, accept) as chunks:
            return b"".join(chunks)

    return _with_retries(url, limits, attempt)


def get_json(url: str, limits: Limits = DEFAULT_LIMITS) -> object:
    """GET a JSON document (any shape: the caller checks the one it expects).

    Raises:
        FetchError: The GET failed, or the body is not JSON.
    """
    body = get_bytes(url, limits, accept="application/json")
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deeply
        raise FetchError(f"GET {url}: response is not JSON ({_describe(exc)[:200]})") from exc


def part_path(target: Path) -> Path:
    """The hidden ``.part`` file a download of ``target`` streams into."""
    return target.with_name(f".{target.name}.part")


def download(url: str, target: Path, limits: Limits = DEFAULT_LIMITS, *, size: int | None = None,
             md5: str | None = None) -> Path:
    """Stream a GET into ``target`` via its ``.part`` file: never a partial file under its name.

    Args:
        url: What to fetch.
        target: Where the complete file goes (its directory must exist).
        limits: Bounds; with ``size`` the byte cap becomes ``size``.
        size: Expected size in bytes (a published list's), checked.
        md5: Expected md5 hex digest, checked.

    Raises:
        FetchError: The GET failed, or the file has the wrong size or md5 (the ``.part`` is
            removed and ``target`` is left as it was).
    """
    part = part_path(target)
    if size is not None:
        limits = replace(limits, max_bytes=size)

    def attempt() -> tuple[int, str]:
        digest, written = hashlib.md5(usedforsecurity=False), 0
        with open(part, "wb") as handle, _response_chunks(url, limits, "*/*") as chunks:
            for chunk in chunks:
                handle.write(chunk)
                digest.update(chunk)
                written += len(chunk)
            handle.flush()
            os.fsync(handle.fileno())
        return written, digest.hexdigest()

    try:
        written, digest = _with_retries(url, limits, attempt)
        if size is not None and written != size:
            raise FetchError(f"GET {url}: {target.name} has {written} bytes, the list says "
                             f"{size}")
        if md5 is not None and digest != md5.lower():
            raise FetchError(f"GET {url}: {target.name} has md5 {digest}, the list says "
                             f"{md5.lower()}")
        os.replace(part, target)
    except BaseException:
        part.unlink(missing_ok=True)
        raise
    return target


def file_md5(path: Path) -> str:
    """md5 hex digest of a file, read in chunks (what GDELT's file list publishes)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def check_path_component(text: str, what: str) -> str:
    """Return ``text`` if it is safe as one file or directory name, else raise.

    Why: ``--test ../../x`` or a name sent by a server must not place a file outside the
    download directory.

    Raises:
        CensorlabError: Empty, ``.`` or ``..``, or holding a path separator or NUL.
    """
    bad = {"/", "\\", "\0", os.sep, os.altsep or "/"}
    if not text or text in {".", ".."} or any(ch in text for ch in bad):
        raise CensorlabError(f"{what} {text!r} is not a plain file name (no separators, "
                             "no '..', not empty)")
    return text


def parse_day_range(since: str, until: str) -> tuple[dt.date, dt.date]:
    """Parse a fetch command's inclusive day range, ``YYYY-MM-DD`` each, real calendar dates.

    Why strict: ``2017`` or ``now`` read as dates would make a fetch depend on the day it runs.

    Raises:
        CensorlabError: Not a date of that form, or ``until`` before ``since``.
    """
    first, last = parse_day(since, "--since"), parse_day(until, "--until")
    if last < first:
        raise CensorlabError(f"--until {until} is before --since {since}")
    return first, last


def parse_day(text: str, what: str) -> dt.date:
    """Parse ``YYYY-MM-DD`` (a real calendar date, nothing else), or raise naming ``what``."""
    try:
        if not ISO_DAY.fullmatch(text):
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise CensorlabError(f"{what} {text!r} is not a date YYYY-MM-DD") from exc
