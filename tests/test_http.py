"""The bounded downloader against a local server that misbehaves in every way issue #12 lists."""

import hashlib
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from censorlab.core import http
from censorlab.core.http import FetchError, Limits
from censorlab.errors import CensorlabError

# Short bounds so that each stalling case costs well under a second.
QUICK = Limits(connect_timeout=2, read_timeout=2, deadline=0.5, retries=0, backoff=0)
BODY = b"hello, bounded world\n"


class Misbehaving(BaseHTTPRequestHandler):
    """One path per misbehaviour; ``hits`` counts the requests of each path."""

    hits: dict[str, int] = {}

    def log_message(self, *args):
        pass

    def _head(self, status=200, length=None, **headers):
        self.send_response(status)
        if length is not None:
            self.send_header("Content-Length", str(length))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()

    def _trickle(self, data: bytes, pause: float):
        try:
            for i in range(len(data)):
                self.wfile.write(data[i:i + 1])
                self.wfile.flush()
                time.sleep(pause)
        except OSError:  # the client gave up: what we want
            pass

    def do_GET(self):
        hits = Misbehaving.hits[self.path] = Misbehaving.hits.get(self.path, 0) + 1
        if self.path == "/ok":
            self._head(length=len(BODY))
            self.wfile.write(BODY)
        elif self.path == "/slow-body":  # each byte well inside the read timeout
            self._head(length=200)
            self._trickle(b"x" * 200, 0.05)
        elif self.path == "/slow-headers":
            self.close_connection = True
            self._trickle(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n" + b"X: y\r\n" * 40, 0.05)
        elif self.path == "/declares-too-much":
            self._head(length=10_000)
            self.wfile.write(b"x" * 10_000)
        elif self.path == "/grows":  # no Content-Length: the body ends when the server closes
            self._head()
            self.wfile.write(b"x" * 10_000)
        elif self.path == "/lying-length" or (self.path == "/cut-once" and hits == 1):
            self._head(length=100)
            self.wfile.write(BODY)  # then the connection closes, 79 bytes short
        elif self.path == "/cut-once":
            self._head(length=len(BODY))
            self.wfile.write(BODY)
        elif self.path == "/same-origin":
            self._head(302, length=0, Location="/ok")
        elif self.path == "/other-origin":
            port = self.server.server_address[1]
            self._head(302, length=0, Location=f"http://localhost:{port}/ok")
        elif self.path == "/loop":
            self._head(301, length=0, Location="/loop")
        elif self.path == "/busy":
            self._head(503, length=0)
        else:
            self._head(404, length=0)


@pytest.fixture()
def server():
    Misbehaving.hits = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Misbehaving)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_plain_response(server):
    assert http.get_bytes(f"{server}/ok", QUICK) == BODY


@pytest.mark.parametrize("path", ["/slow-body", "/slow-headers"])
def test_a_slow_loris_server_is_cut_at_the_deadline(server, path):
    started = time.monotonic()
    with pytest.raises(FetchError, match=f"GET {server}{path}: no complete response within "
                       "the 0.5 s deadline"):
        http.get_bytes(f"{server}{path}", QUICK)
    assert time.monotonic() - started < 1.5  # the trickle would take 10 s or more


def test_a_passed_deadline_is_not_retried(server):
    started = time.monotonic()
    with pytest.raises(FetchError, match="0.3 s deadline$"):
        http.get_bytes(f"{server}/slow-body", Limits(deadline=0.3, retries=2, backoff=0))
    assert Misbehaving.hits["/slow-body"] == 1
    assert time.monotonic() - started < 1


def test_a_read_timeout_is_retried(server):
    with pytest.raises(FetchError, match=r"read failed after [0-9]+ bytes \(timed out\) "
                       r"\(after 1 retries\)"):
        http.get_bytes(f"{server}/slow-body", Limits(read_timeout=0.02, retries=1, backoff=0))
    assert Misbehaving.hits["/slow-body"] == 2


def test_a_body_over_the_cap_is_refused_without_retry(server):
    small = Limits(max_bytes=1000, retries=3, backoff=0)
    with pytest.raises(FetchError, match="declares 10000 bytes, more than the limit of 1000"):
        http.get_bytes(f"{server}/declares-too-much", small)
    with pytest.raises(FetchError, match="larger than the limit of 1000 bytes"):
        http.get_bytes(f"{server}/grows", small)
    assert Misbehaving.hits == {"/declares-too-much": 1, "/grows": 1}


def test_a_lying_content_length_is_retried_then_named(server):
    with pytest.raises(FetchError, match=f"GET {server}/lying-length: connection cut after 21 "
                       r"of 100 bytes \(after 2 retries\)"):
        http.get_bytes(f"{server}/lying-length", Limits(retries=2, backoff=0))
    assert Misbehaving.hits["/lying-length"] == 3


def test_a_cut_connection_is_retried(server, tmp_path):
    target = tmp_path / "file.txt"
    http.download(f"{server}/cut-once", target, Limits(retries=1, backoff=0))
    assert target.read_bytes() == BODY and Misbehaving.hits["/cut-once"] == 2
    assert list(tmp_path.iterdir()) == [target]  # no .part left


def test_redirects_are_followed_within_the_origin_only(server):
    assert http.get_bytes(f"{server}/same-origin", QUICK) == BODY
    port = server.rsplit(":", 1)[1]
    with pytest.raises(FetchError, match=f"redirect to http://localhost:{port}/ok refused: "
                       f"only redirects within {server} are followed"):
        http.get_bytes(f"{server}/other-origin", QUICK)
    with pytest.raises(FetchError, match="more than 5 redirects"):
        http.get_bytes(f"{server}/loop", QUICK)
    assert Misbehaving.hits["/ok"] == 1  # the other origin (localhost) was never asked


def test_http_errors_retry_only_when_transient(server):
    with pytest.raises(FetchError, match=r"HTTP 503 .*\(after 1 retries\)"):
        http.get_bytes(f"{server}/busy", Limits(retries=1, backoff=0))
    with pytest.raises(FetchError, match=f"GET {server}/missing: HTTP 404"):
        http.get_bytes(f"{server}/missing", Limits(retries=3, backoff=0))
    assert Misbehaving.hits == {"/busy": 2, "/missing": 1}


def test_unreachable_and_unsupported_urls_are_one_line_errors():
    with pytest.raises(FetchError, match="GET http://127.0.0.1:9/x: cannot connect"):
        http.get_bytes("http://127.0.0.1:9/x", QUICK)
    with pytest.raises(FetchError, match="not an http"):
        http.get_bytes("file:///etc/passwd", QUICK)


def test_download_checks_size_and_md5_and_removes_the_part(server, tmp_path):
    target = tmp_path / "file.txt"
    good = hashlib.md5(BODY).hexdigest()
    http.download(f"{server}/ok", target, QUICK, size=len(BODY), md5=good)
    assert http.file_md5(target) == good
    other = tmp_path / "other.txt"
    with pytest.raises(FetchError, match=f"other.txt has md5 {good}, the list says 0+$"):
        http.download(f"{server}/ok", other, QUICK, size=len(BODY), md5="0" * 32)
    with pytest.raises(FetchError, match="declares 21 bytes, more than the limit of 5"):
        http.download(f"{server}/ok", other, QUICK, size=5)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


@pytest.mark.parametrize("bad", [{"deadline": 0}, {"read_timeout": -1}, {"retries": -1},
                                 {"max_bytes": -1}])
def test_limits_that_would_disable_themselves_are_refused(bad):
    with pytest.raises(CensorlabError, match="download limits out of range"):
        Limits(**bad)


@pytest.mark.parametrize("name", ["", ".", "..", "../x", "a/b", "a\\b", "x\0"])
def test_path_components_refuse_anything_but_a_plain_name(name):
    with pytest.raises(CensorlabError, match="not a plain file name"):
        http.check_path_component(name, "--test")


@pytest.mark.parametrize("text", ["now", "today", "2017", "2017-02-30", "20170101", "2017-1-5",
                                  " 2017-01-01"])
def test_days_are_real_calendar_dates_written_yyyy_mm_dd(text):
    with pytest.raises(CensorlabError, match="is not a date YYYY-MM-DD"):
        http.parse_day(text, "--since")
