import gzip
import json
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import censorlab
from censorlab.core.http import Limits
from censorlab.sources.ooni import fetch

FAST = Limits(backoff=0)
SPEC = Path(__file__).parent / "fixtures" / "ooni" / "spec_examples.jsonl"


def _measurements():
    """Fixture bodies served by the fake API: the telegram spec example on two days."""
    base = json.loads(SPEC.read_text().splitlines()[0])
    bodies = {}
    for i, start in enumerate(["2022-12-07 10:51:55", "2022-12-07 11:00:00",
                               "2022-12-07 12:00:00", "2022-12-08 09:00:00"]):
        body = dict(base, measurement_start_time=start, report_id=f"r{i}")
        bodies[f"20221207000000.00000{i}_IT_telegram_{i:016x}"] = body
    return bodies


class FakeApi(BaseHTTPRequestHandler):
    bodies = _measurements()
    requests: list[str] = []
    fail_first: set[str] = set()

    def log_message(self, *args):
        pass

    def _send(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        FakeApi.requests.append(self.path)
        if url.path in FakeApi.fail_first:
            FakeApi.fail_first.discard(url.path)
            return self._send(503, {"error": "busy"})
        if url.path == "/api/v1/measurements":
            since, until = query["since"].replace("T", " "), query["until"].replace("T", " ")
            rows = sorted((b["measurement_start_time"], uid) for uid, b in self.bodies.items()
                          if since < b["measurement_start_time"] <= until
                          and b["probe_cc"] == query["probe_cc"])
            offset, limit = int(query["offset"]), int(query["limit"])
            page = rows[offset: offset + limit]
            more = len(page) == limit
            return self._send(200, {
                "metadata": {"next_url": "http://elsewhere/next" if more else None},
                "results": [{"measurement_uid": uid, "measurement_start_time": t}
                            for t, uid in page]})
        if url.path == "/api/v1/raw_measurement":
            return self._send(200, self.bodies.get(query["measurement_uid"], {}))
        return self._send(404, {"error": "not found"})


@pytest.fixture()
def server():
    FakeApi.requests = []
    FakeApi.fail_first = set()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeApi)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def _lines(path):
    with gzip.open(path, "rt") as handle:
        return [json.loads(line) for line in handle]


def test_fetch_pages_days_and_resumes(server, tmp_path):
    paths = fetch.fetch_ooni("it", "telegram", "2022-12-07", "2022-12-09", tmp_path,
                             base_url=server, page_size=2, limits=FAST)
    assert [p.name for p in paths] == ["20221207.jsonl.gz", "20221208.jsonl.gz",
                                       "20221209.jsonl.gz"]
    day1 = _lines(paths[0])
    assert [r["report_id"] for r in day1] == ["r0", "r1", "r2"]
    assert day1[0]["measurement_uid"] == "20221207000000.000000_IT_telegram_0000000000000000"
    assert len(_lines(paths[1])) == 1 and _lines(paths[2]) == []
    listings = [r for r in FakeApi.requests if r.startswith("/api/v1/measurements")]
    assert len(listings) == 2 + 1 + 1  # day 1 takes two pages of 2
    FakeApi.requests = []
    fetch.fetch_ooni("IT", "telegram", "2022-12-07", "2022-12-09", tmp_path, base_url=server)
    assert FakeApi.requests == []  # complete days are not fetched again
    result = censorlab.ingest("ooni", [tmp_path / "IT"], tmp_path / "out")
    assert result["summary"]["rows_out"] == 4


def test_transient_errors_are_retried(server, tmp_path):
    FakeApi.fail_first = {"/api/v1/measurements", "/api/v1/raw_measurement"}
    paths = fetch.fetch_ooni("IT", "telegram", "2022-12-08", "2022-12-08", tmp_path,
                             base_url=server, limits=FAST)
    assert len(_lines(paths[0])) == 1
    assert sum(r.startswith("/api/v1/measurements") for r in FakeApi.requests) == 2


def test_persistent_errors_stop_without_partial_files(server, tmp_path, monkeypatch):
    original = FakeApi.do_GET

    def always_503(self):
        if self.path.startswith("/api/v1/raw_measurement"):
            FakeApi.requests.append(self.path)
            return self._send(503, {"error": "down"})
        return original(self)

    monkeypatch.setattr(FakeApi, "do_GET", always_503)
    with pytest.raises(fetch.FetchError, match="HTTP 503"):
        fetch.fetch_ooni("IT", "telegram", "2022-12-08", "2022-12-08", tmp_path,
                         base_url=server, limits=Limits(retries=2, backoff=0))
    assert sum(r.startswith("/api/v1/raw_measurement") for r in FakeApi.requests) == 3
    assert list((tmp_path / "IT" / "telegram").iterdir()) == []


def test_bad_dates_are_refused(tmp_path):
    with pytest.raises(fetch.CensorlabError, match="not a date"):
        fetch.fetch_ooni("IT", "telegram", "2022-02-30", "2022-03-01", tmp_path)
    with pytest.raises(fetch.CensorlabError, match="before"):
        fetch.fetch_ooni("IT", "telegram", "2022-03-02", "2022-03-01", tmp_path)


def _serve_listing(monkeypatch, listing):
    """Make the fake API answer every listing request with ``listing(query)``."""
    original = FakeApi.do_GET

    def do_get(self):
        url = urllib.parse.urlsplit(self.path)
        if url.path != "/api/v1/measurements":
            return original(self)
        FakeApi.requests.append(self.path)
        return self._send(200, listing(dict(urllib.parse.parse_qsl(url.query))))

    monkeypatch.setattr(FakeApi, "do_GET", do_get)


def test_an_endless_next_page_stops_at_the_page_limit(server, tmp_path, monkeypatch):
    _serve_listing(monkeypatch, lambda q: {"metadata": {"next_url": "http://x/next"}, "results": [
        {"measurement_uid": f"uid-{int(q['offset']) + i}"} for i in range(int(q["limit"]))]})
    with pytest.raises(fetch.FetchError, match="IT telegram on 2022-12-08 has more than 5 pages "
                       "of 2; raise --max-pages"):
        fetch.fetch_ooni("IT", "telegram", "2022-12-08", "2022-12-08", tmp_path,
                         base_url=server, page_size=2, max_pages=5, limits=FAST)
    assert len(FakeApi.requests) == 5
    assert list((tmp_path / "IT" / "telegram").iterdir()) == []


def test_a_listing_that_ignores_offset_is_an_error_at_the_second_page(server, tmp_path,
                                                                       monkeypatch):
    _serve_listing(monkeypatch, lambda q: {"metadata": {"next_url": "http://x/next"}, "results": [
        {"measurement_uid": "same-1"}, {"measurement_uid": "same-2"}]})
    with pytest.raises(fetch.FetchError, match="page 2 repeats earlier pages only"):
        fetch.fetch_ooni("IT", "telegram", "2022-12-08", "2022-12-08", tmp_path,
                         base_url=server, page_size=2, limits=FAST)
    assert len(FakeApi.requests) == 2


@pytest.mark.parametrize("listing", [[], [{"measurement_uid": "x"}], {"results": {"a": 1}},
                                     {"results": [{"uid": "x"}]}, {"results": ["x"]},
                                     {"results": [], "metadata": []}])
def test_a_listing_of_the_wrong_shape_is_an_error_naming_the_url(server, tmp_path, monkeypatch,
                                                                  listing):
    _serve_listing(monkeypatch, lambda q: listing)
    with pytest.raises(fetch.FetchError, match=rf"^GET {server}/api/v1/measurements\?\S+: "
                       "(not a measurement listing|a listing entry without a measurement_uid)"):
        fetch.fetch_ooni("IT", "telegram", "2022-12-08", "2022-12-08", tmp_path,
                         base_url=server, limits=FAST)


def test_a_raw_measurement_that_is_not_an_object_is_an_error(server, tmp_path, monkeypatch):
    original = FakeApi.do_GET

    def raw_as_list(self):
        if self.path.startswith("/api/v1/raw_measurement"):
            return self._send(200, [{"measurement_uid": "x"}])
        return original(self)

    monkeypatch.setattr(FakeApi, "do_GET", raw_as_list)
    with pytest.raises(fetch.FetchError, match=rf"^GET {server}/api/v1/raw_measurement\?"
                       r"measurement_uid=\S+: a measurement is a JSON object, got list"):
        fetch.fetch_ooni("IT", "telegram", "2022-12-08", "2022-12-08", tmp_path,
                         base_url=server, limits=FAST)


@pytest.mark.parametrize(("cc", "test", "message"), [
    ("../../x", "telegram", "--cc '../../x' is not a two-letter country code"),
    ("IT", "../../x", "--test '../../x' is not a plain file name"),
    ("IT", "", "--test '' is not a plain file name"),
    ("IT", "..", "--test '..' is not a plain file name")])
def test_names_that_would_leave_the_download_directory_are_refused(tmp_path, cc, test, message):
    out = tmp_path / "a" / "b"
    with pytest.raises(fetch.CensorlabError, match=message):
        fetch.fetch_ooni(cc, test, "2022-12-08", "2022-12-08", out, base_url="http://127.0.0.1:9")
    assert list(tmp_path.iterdir()) == []
