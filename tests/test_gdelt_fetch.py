"""`censorlab fetch gdelt` against a local server with a SYNTHETIC masterfilelist.txt.

The list and the zips are made here: the line layout (`<size> <md5> <url>`, three files per
15-minute interval) is GDELT 2.0's, the file contents are the synthetic 61-column events of
tests/fixtures/gdelt/20240121.export.CSV, one event per zip.
"""

import hashlib
import io
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

import censorlab
from censorlab.cli import EXIT_ERROR, EXIT_OK, main
from censorlab.core.http import FetchError, Limits
from censorlab.sources import gdelt_fetch

EVENTS = (Path(__file__).parent / "fixtures" / "gdelt" / "20240121.export.CSV").read_text(
    encoding="utf-8").splitlines()
FAST = Limits(retries=0, backoff=0)
# Exports on 2024-01-20 .. 2024-01-23; a fetch of 2024-01-21 to 2024-01-22 selects the middle 3.
STAMPS = ["20240120234500", "20240121000000", "20240122234500", "20240121001500",
          "20240123000000"]
SELECTED = ["20240121000000.export.CSV.zip", "20240121001500.export.CSV.zip",
            "20240122234500.export.CSV.zip"]


def _zip(line: str, member: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(member, line + "\n")
    return buffer.getvalue()


def _files() -> dict[str, bytes]:
    return {f"{stamp}.export.CSV.zip": _zip(EVENTS[i % len(EVENTS)], f"{stamp}.export.CSV")
            for i, stamp in enumerate(STAMPS)}


def _master_list(files: dict[str, bytes], host: str = "http://data.gdeltproject.org") -> str:
    """A synthetic list: each export with its mentions and gkg neighbours, like GDELT's."""
    lines = []
    for name, data in files.items():
        stamp = name.split(".")[0]
        lines.append(f"{len(data)} {hashlib.md5(data).hexdigest()} {host}/gdeltv2/{name}")
        lines.append(f"1234 {'a' * 32} {host}/gdeltv2/{stamp}.mentions.CSV.zip")
        lines.append(f"5678 {'b' * 32} {host}/gdeltv2/{stamp}.gkg.csv.zip")
    lines += ["", f"{host}/gdeltv2/20190101000000.export.CSV.zip",  # outside: ignored
              f"99 {'c' * 32} {host}/gdeltv2/../../20240121003000.evil.zip"]
    return "\n".join(lines) + "\n"


class FakeGdelt(BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    master_list = ""
    requests: list[str] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        FakeGdelt.requests.append(self.path)
        name = self.path.removeprefix("/gdeltv2/")
        data = (self.master_list.encode() if name == "masterfilelist.txt"
                else self.files.get(name))
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")


@pytest.fixture()
def server():
    FakeGdelt.files = _files()
    FakeGdelt.master_list = _master_list(FakeGdelt.files)
    FakeGdelt.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeGdelt)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/gdeltv2"
    httpd.shutdown()
    httpd.server_close()


def _fetch(server, out, **options):
    return gdelt_fetch.fetch_gdelt("2024-01-21", "2024-01-22", out, base_url=server,
                                   **{"limits": FAST, **options})


def test_fetch_selects_the_range_checks_md5_and_resumes(server, tmp_path):
    outcome = _fetch(server, tmp_path)
    assert [p.name for p in outcome.paths] == SELECTED
    assert (outcome.downloaded, outcome.present) == (3, 0)
    for path in outcome.paths:  # stored as published, byte for byte
        assert path.read_bytes() == FakeGdelt.files[path.name]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(SELECTED + ["masterfilelist.txt"])
    assert FakeGdelt.requests == ["/gdeltv2/masterfilelist.txt"] + [f"/gdeltv2/{n}"
                                                                   for n in SELECTED]
    FakeGdelt.requests = []
    again = _fetch(server, tmp_path)
    assert (again.downloaded, again.present) == (0, 3)
    assert FakeGdelt.requests == ["/gdeltv2/masterfilelist.txt"]  # the list only
    result = censorlab.ingest("gdelt", [tmp_path], tmp_path / "out")  # the ingest reads .zip
    assert result["summary"]["files"] == 3 and result["errors"] == []


def test_files_come_from_the_base_url_whatever_host_the_list_names(server, tmp_path):
    FakeGdelt.master_list = _master_list(FakeGdelt.files, host="http://elsewhere.invalid")
    assert _fetch(server, tmp_path).downloaded == 3


def test_a_wrong_md5_is_an_error_naming_the_file_and_leaves_no_part(server, tmp_path):
    data = FakeGdelt.files[SELECTED[1]]
    FakeGdelt.files[SELECTED[1]] = data[:-1] + bytes([data[-1] ^ 0xFF])  # same size
    with pytest.raises(FetchError, match=f"GET {server}/{SELECTED[1]}: {SELECTED[1]} has md5 "
                       "[0-9a-f]{32}, the list says [0-9a-f]{32}"):
        _fetch(server, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == [SELECTED[0], "masterfilelist.txt"]


def test_a_wrong_size_is_an_error_naming_the_file(server, tmp_path):
    FakeGdelt.files[SELECTED[0]] += b"more"
    with pytest.raises(FetchError, match=f"GET {server}/{SELECTED[0]}: response declares "):
        _fetch(server, tmp_path)
    FakeGdelt.files = _files()
    FakeGdelt.files[SELECTED[0]] = FakeGdelt.files[SELECTED[0]][:-4]
    with pytest.raises(FetchError, match=f"{SELECTED[0]} has [0-9]+ bytes, the list says"):
        _fetch(server, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["masterfilelist.txt"]


def test_a_present_file_with_another_md5_is_fetched_again(server, tmp_path):
    (tmp_path / SELECTED[2]).write_bytes(b"an older, different file")
    assert (_fetch(server, tmp_path).downloaded) == 3
    assert (tmp_path / SELECTED[2]).read_bytes() == FakeGdelt.files[SELECTED[2]]


def test_a_range_over_max_files_is_refused_before_any_download(server, tmp_path):
    with pytest.raises(FetchError, match=f"{server}/masterfilelist.txt: 3 export files from "
                       "2024-01-21 to 2024-01-22 .* more than --max-files 2"):
        _fetch(server, tmp_path, max_files=2)
    assert FakeGdelt.requests == ["/gdeltv2/masterfilelist.txt"]


def test_an_unreadable_line_in_the_range_is_an_error_naming_the_line(server, tmp_path):
    FakeGdelt.master_list += f"12 notanmd5 http://x/gdeltv2/{SELECTED[0]}\n"
    with pytest.raises(FetchError, match=rf"masterfilelist.txt:19: no size and md5 for "
                       rf"{SELECTED[0]}"):
        _fetch(server, tmp_path)


def test_select_exports_keeps_a_repeated_line_once_and_refuses_a_conflicting_one():
    line = f"10 {'d' * 32} http://h/gdeltv2/{SELECTED[0]}"
    days = (censorlab.core.http.parse_day("2024-01-21", "since"),) * 2
    assert len(gdelt_fetch.select_exports([line, line], *days, "list")) == 1
    with pytest.raises(FetchError, match=f"list:2: {SELECTED[0]} is listed twice"):
        gdelt_fetch.select_exports([line, line.replace("10 ", "11 ")], *days, "list")


def test_the_command_line(server, tmp_path, capsys):
    out = tmp_path / "gdelt"
    assert main(["fetch", "gdelt", "--since", "2024-01-21", "--until", "2024-01-22",
                 "--base-url", server, "--out", str(out), "--retries", "0"]) == EXIT_OK
    assert capsys.readouterr().out == (f"fetched 3 file(s), 0 already present, into {out} "
                                       "(3 export file(s) from 2024-01-21 to 2024-01-22)\n")
    assert main(["fetch", "gdelt", "--since", "2024-01-21", "--until", "2024-01-22",
                 "--base-url", server, "--out", str(out), "--max-files", "1"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith(f"error: {server}/masterfilelist.txt: 3 export files") and \
        err.count("\n") == 1
