"""Issue #12: one commit point per run, one writer per output directory, files read as hashed.

The kill matrices SIGKILL a run at every rename, link and fsync it makes (``kill_points``) over a
previous output, then check what a reader sees and what the next run does: before the commit
point the previous generation whole, after it the new one whole, never a mix, and the next run
leaves nothing of the killed one behind.
"""

from __future__ import annotations

import errno
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from conftest import MAU_HEADER, MAU_ROW, write_raw_dir
from kill_points import ROOT, Job, calls, run_jobs

import censorlab
from censorlab.cli import EXIT_ERROR, EXIT_OK, main
from censorlab.core import checksums, storage
from censorlab.errors import ChecksumMismatchError
from censorlab.run import context, driver
from censorlab.run.driver import run_build
from censorlab.run.outputs import dataset_path, load_manifest
from censorlab.run.publish import CONTROL_DIR, CURRENT, output_lock, published_generation
from censorlab.sources.ooni import dataset as ooni_dataset
from censorlab.sources.ooni.dataset import read_dataset

FIXTURES = Path(__file__).parent / "fixtures"
SECOND_MAU_ROW = ("WeChat,Tencent,2017-12,quarter,980,global,monthly active users,"
                  "https://m.example/2,high,,mau\n")
KILLED = -9


def leftovers(out: Path) -> list[str]:
    """What is in ``out`` besides the commit point, stable names, the lock, and the published
    generation with the one it replaced (kept for readers)."""
    published = published_generation(out)
    generations = out / CONTROL_DIR / "generations"
    numbered = sorted(p.name for p in generations.iterdir()) if generations.exists() else []
    kept = {published.name} if published else set()
    kept.update([n for n in numbered if published and n < published.name][-1:])
    found = [p for p in out.iterdir() if p.name not in (CURRENT, CONTROL_DIR)
             and not (p.is_symlink() and str(p.readlink()).startswith(f"{CURRENT}/"))]
    found += [p for p in (out / CONTROL_DIR).iterdir() if p.name not in ("lock", "generations")]
    found += [generations / n for n in numbered if n not in kept]
    return sorted(str(p.relative_to(out)) for p in found)


def kill_matrix(tmp_path: Path, template: Path, argv: list[str]) -> tuple[list[str], list[Path]]:
    """Run ``argv`` over a copy of ``template`` once per kill point; return (calls, outputs).

    The first job counts the calls (killed at none); job N dies at call N.
    """
    count_out = tmp_path / "count"
    shutil.copytree(template, count_out, symlinks=True)
    counted = tmp_path / "count.log"
    assert run_jobs([Job([*argv, "--out", str(count_out)], 0, counted)]) == [EXIT_OK]
    made = calls(counted)
    outs = [tmp_path / f"kill-{n}" for n in range(1, len(made) + 1)]
    for out in outs:
        shutil.copytree(template, out, symlinks=True)
    jobs = [Job([*argv, "--out", str(out)], n, tmp_path / f"kill-{n}.log")
            for n, out in enumerate(outs, start=1)]
    assert run_jobs(jobs) == [KILLED] * len(jobs)
    return made, outs


def commit_index(made: list[str]) -> int:
    """1-based number of the call that publishes: the rename of the new link over `current`."""
    return next(i for i, call in enumerate(made, start=1)
                if call.startswith("replace ") and call.endswith(f"/{CURRENT}"))


@pytest.fixture()
def curated_runs(tmp_path):
    """(raw dir now holding two MAU rows, an output built when it held one)."""
    raw = write_raw_dir(tmp_path / "raw")
    template = tmp_path / "template"
    censorlab.build(raw, template)
    (raw / "mau.csv").write_text(MAU_HEADER + MAU_ROW + SECOND_MAU_ROW, encoding="utf-8")
    assert main(["checksums", "--raw", str(raw), "--update"]) == EXIT_OK
    return raw, template


def test_a_curated_build_killed_at_any_rename_or_fsync_shows_one_whole_generation(
        tmp_path, curated_runs):
    raw, template = curated_runs
    made, outs = kill_matrix(tmp_path, template, ["build", "--raw", str(raw), "--force"])
    publish_at = commit_index(made)
    for n, out in enumerate(outs, start=1):
        manifest = load_manifest(out)
        assert censorlab.validate(out) == [], (n, made[n - 1])
        expected_mau_rows = 1 if n <= publish_at else 2
        assert manifest["tables"]["mau"]["rows"] == expected_mau_rows, (n, made[n - 1])
        for table, info in manifest["tables"].items():  # every table from the same generation
            assert len(censorlab.load(table, out)) == info["rows"], (n, table)
        assert main(["build", "--raw", str(raw), "--out", str(out)]) == EXIT_OK
        assert leftovers(out) == [], (n, made[n - 1])
        assert load_manifest(out)["tables"]["mau"]["rows"] == 2
        assert censorlab.validate(out) == []


@pytest.fixture()
def ooni_runs(tmp_path):
    """(raw dir for the reference tables, an OONI output of the spec examples)."""
    raw = write_raw_dir(tmp_path / "raw")
    template = tmp_path / "template"
    assert main(["ingest", "ooni", str(FIXTURES / "ooni" / "spec_examples.jsonl"), "--raw",
                 str(raw), "--out", str(template)]) == EXIT_OK
    return raw, template


def test_an_ooni_ingest_killed_at_any_rename_or_fsync_shows_one_whole_dataset(tmp_path,
                                                                               ooni_runs):
    raw, template = ooni_runs
    old_rows = load_manifest(template)["tables"]["ooni_measurements"]["rows"]
    new_input = FIXTURES / "ooni" / "facebook_messenger.jsonl"
    made, outs = kill_matrix(tmp_path, template, ["ingest", "ooni", str(new_input),
                                                  "--raw", str(raw), "--workers", "1"])
    publish_at = commit_index(made)
    new_rows = None
    for n, out in enumerate(outs, start=1):
        assert censorlab.validate(out) == [], (n, made[n - 1])
        rows = load_manifest(out)["tables"]["ooni_measurements"]["rows"]
        assert (rows == old_rows) == (n <= publish_at), (n, made[n - 1])
        assert read_dataset(dataset_path(out)).num_rows == rows
        assert main(["ingest", "ooni", str(new_input), "--raw", str(raw), "--workers", "1",
                     "--out", str(out)]) == EXIT_OK
        assert leftovers(out) == [], (n, made[n - 1])
        new_rows = new_rows or load_manifest(out)["tables"]["ooni_measurements"]["rows"]
        assert load_manifest(out)["tables"]["ooni_measurements"]["rows"] == new_rows
        assert censorlab.validate(out) == []
    assert new_rows != old_rows


PAUSE_BEFORE_PUBLISH = """
import time
from pathlib import Path
from censorlab.run import publish
real = publish.os.replace
def paused_replace(source, target):
    if Path(target).name == "current":  # the whole generation is written; publishing is next
        Path(MARKER).write_text("reached")
        while not Path(GO).exists():
            time.sleep(0.02)
    return real(source, target)
publish.os.replace = paused_replace
import censorlab
censorlab.build(RAW, OUT, force=True)
"""


def test_two_writers_never_touch_each_others_files(tmp_path, curated_runs):
    raw, out = curated_runs
    marker, go = tmp_path / "reached", tmp_path / "go"
    child = (PAUSE_BEFORE_PUBLISH.replace("MARKER", repr(str(marker))).replace("GO", repr(str(go)))
             .replace("RAW", repr(str(raw))).replace("OUT", repr(str(out))))
    first = subprocess.Popen([sys.executable, "-c", child], cwd=ROOT)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert first.poll() is None and time.monotonic() < deadline, "writer A never paused"
            time.sleep(0.05)
        written_by_first = sorted((out / CONTROL_DIR / "generations").iterdir())[-1]
        files_of_first = sorted(p.name for p in written_by_first.iterdir())
        # B fails at once, naming A, and deletes nothing of A's
        assert main(["build", "--raw", str(raw), "--out", str(out), "--force"]) == EXIT_ERROR
        assert sorted(p.name for p in written_by_first.iterdir()) == files_of_first
        # a writer that waits (as load() building on first use does) runs after A
        waiting = threading.Thread(target=run_build, args=(raw, out),
                                   kwargs={"force": True, "lock_timeout": 60})
        waiting.start()
        time.sleep(0.5)
        assert waiting.is_alive(), "the waiting writer did not wait for the lock"
        go.write_text("go")
        assert first.wait(timeout=60) == 0
        waiting.join(timeout=60)
    finally:
        go.write_text("go")
        first.wait(timeout=60)
    assert not waiting.is_alive()
    assert published_generation(out).name > written_by_first.name  # B published after A
    assert censorlab.validate(out) == [] and leftovers(out) == []
    assert load_manifest(out)["tables"]["mau"]["rows"] == len(censorlab.load("mau", out)) == 2


def test_a_second_writer_is_refused_by_name_of_the_holder(curated_runs, capsys):
    raw, out = curated_runs
    with output_lock(out):
        assert main(["build", "--raw", str(raw), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert str(out) in err and f"pid {os.getpid()}" in err


@pytest.mark.parametrize(("name", "last_check"), [("mau.csv", driver), ("services.csv", context),
                                                 ("country_aliases.csv", context)])
def test_a_raw_file_replaced_between_its_check_and_its_parse_stops_the_build(
        curated_runs, monkeypatch, name, last_check):
    raw, out = curated_runs
    before = load_manifest(out)
    real = checksums.verify_files

    def verify_then_replace(raw_dir, names, **options):
        hashes = real(raw_dir, names, **options)
        if name in names:  # the same rows behind a byte-order mark: other bytes, same parse
            path = Path(raw_dir) / name
            path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
        return hashes

    monkeypatch.setattr(last_check, "verify_files", verify_then_replace)  # the file's last check
    with pytest.raises(ChecksumMismatchError, match=name):
        censorlab.build(raw, out, force=True)
    assert load_manifest(out) == before and leftovers(out) == []


def _fifo_in_place_of(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


@contextmanager
def at_most(seconds: int):
    """Fail instead of hanging (opening a FIFO for reading blocks until a writer comes)."""
    def hung(*_):
        raise AssertionError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hung)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def test_a_fifo_among_the_raw_files_is_refused_by_name(curated_runs, capsys):
    raw, out = curated_runs
    _fifo_in_place_of(raw / "mau.csv")
    with at_most(20):
        assert main(["build", "--raw", str(raw), "--out", str(out)]) == EXIT_ERROR
        assert "mau.csv" in capsys.readouterr().err
        assert main(["checksums", "--raw", str(raw)]) != EXIT_OK
        assert "mau.csv" in capsys.readouterr().err
        assert main(["checksums", "--raw", str(raw), "--update"]) == EXIT_ERROR
        assert "mau.csv" in capsys.readouterr().err


def test_a_fifo_given_to_an_ingest_is_refused_by_name(tmp_path, ooni_runs, capsys):
    raw, out = ooni_runs
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    os.mkfifo(inputs / "live.jsonl")
    with at_most(20):
        for given in (inputs, inputs / "live.jsonl"):
            assert main(["ingest", "ooni", str(given), "--raw", str(raw), "--out",
                         str(out)]) == EXIT_ERROR
            err = capsys.readouterr().err
            assert "live.jsonl" in err and "not a regular file" in err


def test_a_full_disk_names_the_file_it_stopped(curated_runs, monkeypatch, capsys):
    raw, out = curated_runs
    before = load_manifest(out)

    def no_space(table, where, **options):  # what pyarrow raises: an errno, no file name
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space "
                                    "left on device")

    monkeypatch.setattr(storage.pq, "write_table", no_space)
    assert main(["build", "--raw", str(raw), "--out", str(out), "--force"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "[Errno 28]" in err and ".parquet" in err and "generations" in err, err
    assert load_manifest(out) == before and leftovers(out) == []


def test_a_read_only_raw_directory_without_a_registry_can_be_built_from(tmp_path, monkeypatch,
                                                                          caplog):
    raw = write_raw_dir(tmp_path / "raw")

    def read_only(target, text):
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(target))

    monkeypatch.setattr(checksums, "atomic_write_text", read_only)
    manifest = censorlab.build(raw, tmp_path / "out")
    assert not (raw / "registry.txt").exists()
    assert manifest["inputs"]["mau.csv"]["sha256"] == checksums.file_sha256(raw / "mau.csv")
    assert "registry.txt" in caplog.text and "Read-only file system" in caplog.text


def test_a_full_disk_in_an_ooni_ingest_names_the_part_file(ooni_runs, monkeypatch, capsys):
    raw, out = ooni_runs
    before = load_manifest(out)

    class FullDiskWriter(ooni_dataset.pq.ParquetWriter):
        def write_table(self, table, **options):
            raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No "
                                        "space left on device")

    monkeypatch.setattr(ooni_dataset.pq, "ParquetWriter", FullDiskWriter)
    new_input = FIXTURES / "ooni" / "facebook_messenger.jsonl"
    assert main(["ingest", "ooni", str(new_input), "--raw", str(raw), "--workers", "1",
                 "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "[Errno 28]" in err and "part-0000.parquet" in err, err
    assert load_manifest(out) == before and leftovers(out) == []


def test_a_stable_name_link_left_by_a_killed_first_build_is_removed(curated_runs):
    raw, out = curated_runs
    left = out / ".mau.parquet.link-tmp"  # a first build killed between symlink and rename
    left.symlink_to(f"{CURRENT}/mau.parquet")
    assert main(["build", "--raw", str(raw), "--out", str(out)]) == EXIT_OK
    assert not left.is_symlink() and leftovers(out) == []
