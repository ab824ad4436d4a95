"""Faults: a killed build, two writers, a full disk, an unwritable output, an edited raw file, a
corrupted output. Each must leave the previous generation published and whole (or none), and say
clearly what happened. (Kills at every rename and fsync: `test_atomicity.py`.)"""

from __future__ import annotations

import errno
import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import censorlab
from censorlab.cli import EXIT_ERROR, EXIT_INVALID, EXIT_OK, main
from censorlab.core import storage
from censorlab.errors import ChecksumMismatchError, OutputLockedError
from censorlab.run.publish import output_lock, published_generation

ROOT = Path(__file__).resolve().parents[1]


def snapshot(directory: Path) -> dict[str, str]:
    """sha256 of every published file, read through the stable names."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.iterdir()) if p.is_file()}


def temp_files(directory: Path) -> list[str]:
    """What a run left beside the published generation: other generations, scratch, temps."""
    control = directory / ".censorlab"
    published = published_generation(directory)
    left = [p for p in (control / "generations").iterdir() if p.resolve() != published] \
        if (control / "generations").exists() else []
    left += [p for p in directory.rglob("*.tmp")]
    left += [control / "work"] if (control / "work").exists() else []
    return sorted(p.name for p in left if published is None or p.name < published.name
                  or p.resolve() != published)


@pytest.fixture()
def previous_build(raw_dir, tmp_path):
    out = tmp_path / "out"
    censorlab.build(raw_dir, out)
    return raw_dir, out, snapshot(out)


def _kill_child_at(hook: str, raw: Path, out: Path, marker: Path) -> subprocess.Popen:
    """Start a build in a child that stops (sleeps) inside ``hook``; return it once there."""
    child = ("import time\nfrom pathlib import Path\n" + hook.replace("MARKER", repr(str(marker)))
             + f"import censorlab\ncensorlab.build({str(raw)!r}, {str(out)!r}, force=True)\n")
    proc = subprocess.Popen([sys.executable, "-c", child], cwd=ROOT)
    deadline = time.monotonic() + 60
    while not marker.exists():
        assert proc.poll() is None, "the child build ended before reaching the hook"
        assert time.monotonic() < deadline, "the child never reached the hook"
        time.sleep(0.05)
    return proc


HALF_WRITE = """
import pyarrow.parquet as pq
from censorlab.core import storage
real = pq.write_table
def slow_write(table, where, **kwargs):
    real(table.slice(0, max(table.num_rows // 2, 0)), where, **kwargs)  # half written
    Path(MARKER).write_text(str(where))
    time.sleep(120)
storage.pq.write_table = slow_write
"""
BEFORE_PUBLISH = """
from censorlab.run import publish
real = publish.os.replace
def slow_replace(source, target):
    if Path(target).name == "current":  # everything is written; the commit point is next
        Path(MARKER).write_text(str(source))
        time.sleep(120)
    return real(source, target)
publish.os.replace = slow_replace
"""


@pytest.mark.parametrize("hook", [HALF_WRITE, BEFORE_PUBLISH], ids=["mid-write", "pre-publish"])
def test_sigkill_leaves_the_previous_generation_published_and_whole(previous_build, tmp_path,
                                                                     hook):
    raw, out, before = previous_build
    generation = published_generation(out)
    proc = _kill_child_at(hook, raw, out, tmp_path / "reached")
    try:
        # a live writer holds the lock: a second writer is refused with a clear message
        with pytest.raises(OutputLockedError, match=f"pid {proc.pid}"):
            censorlab.build(raw, out, force=True)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    # the killed run's generation is there, unpublished; readers see the previous one
    assert temp_files(out) != [] and published_generation(out) == generation
    assert snapshot(out) == before
    assert censorlab.validate(out) == []
    assert len(censorlab.load("block_events", out)) == 1
    # the next build (the kernel released the dead run's lock) removes what it left
    assert main(["build", "--raw", str(raw), "--out", str(out), "--force"]) == EXIT_OK
    assert main(["validate", "--out", str(out)]) == EXIT_OK
    assert snapshot(out) == before
    assert temp_files(out) == [generation.name]  # kept one generation back, for readers


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(previous_build):
    raw, out, _ = previous_build
    with output_lock(out):
        with pytest.raises(OutputLockedError, match="another censorlab run"):
            censorlab.build(raw, out, force=True)
    assert censorlab.build(raw, out, force=True)  # the lock is free again


def test_outputs_respect_the_umask(raw_dir, tmp_path):
    old = os.umask(0o027)
    try:
        out = tmp_path / "out"
        censorlab.build(raw_dir, out)
    finally:
        os.umask(old)
    modes = {p.stat().st_mode & 0o777 for p in published_generation(out).iterdir()}
    assert modes == {0o640}, "outputs follow the umask (0644 under the usual 022)"


def test_full_disk_gives_a_clear_error_and_no_partial_file(previous_build, monkeypatch,
                                                            capsys):
    raw, out, before = previous_build
    calls = []

    def full_disk(table, where, **kwargs):
        calls.append(where)
        Path(where).write_bytes(b"PAR1 partial")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(where))

    monkeypatch.setattr(storage.pq, "write_table", full_disk)
    with pytest.raises(OSError) as info:
        censorlab.build(raw, out, force=True)
    assert info.value.errno == errno.ENOSPC
    assert calls and temp_files(out) == []  # the failed run removed its generation
    assert snapshot(out) == before
    assert main(["build", "--raw", str(raw), "--out", str(out), "--force"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "No space left on device" in err and "Traceback" not in err
    assert temp_files(out) == [] and snapshot(out) == before
    monkeypatch.undo()
    assert censorlab.validate(out) == []


def test_full_disk_while_writing_the_manifest(previous_build, monkeypatch):
    raw, out, before = previous_build
    real = storage.write_text

    def no_space(target, text):
        if Path(target).name == "manifest.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))
        return real(target, text)

    import censorlab.run.driver

    monkeypatch.setattr(censorlab.run.driver, "write_text", no_space)
    with pytest.raises(OSError):
        censorlab.build(raw, out, force=True)
    assert temp_files(out) == []
    monkeypatch.undo()
    assert censorlab.validate(out) == []  # same inputs: the rewritten tables match the manifest


def test_unwritable_output_directory_is_a_clear_error(raw_dir, tmp_path, capsys):
    # CI runs as root, which ignores permission bits: a path under a regular file is
    # unwritable for everyone.
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file")
    out = blocker / "processed"
    with pytest.raises(OSError):
        censorlab.build(raw_dir, out)
    assert main(["build", "--raw", str(raw_dir), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not-a-directory" in err and "Traceback" not in err
    assert blocker.read_text() == "a file"


def test_edited_raw_file_stops_the_build_with_both_hashes(full_raw_dir, tmp_path, capsys):
    out = tmp_path / "out"
    path = full_raw_dir / "mau.csv"
    recorded = storage_hash(path)
    path.write_bytes(path.read_bytes().replace(b",889,", b",890,", 1))
    edited = storage_hash(path)
    assert recorded != edited
    with pytest.raises(ChecksumMismatchError) as info:
        censorlab.build(full_raw_dir, out)
    assert recorded in str(info.value) and edited in str(info.value)
    assert not out.exists()
    assert main(["build", "--raw", str(full_raw_dir), "--out", str(out)]) == EXIT_ERROR
    assert recorded in capsys.readouterr().err
    assert main(["checksums", "--raw", str(full_raw_dir)]) == EXIT_INVALID
    assert main(["checksums", "--raw", str(full_raw_dir), "--update"]) == EXIT_OK
    report = capsys.readouterr().out
    assert "changed" in report and "mau.csv" in report and recorded in report and edited in report
    assert main(["checksums", "--raw", str(full_raw_dir)]) == EXIT_OK
    manifest = censorlab.build(full_raw_dir, out)
    assert manifest["inputs"]["mau.csv"]["sha256"] == edited


def storage_hash(path: Path) -> str:
    from censorlab.core.checksums import file_sha256

    return file_sha256(path)


@pytest.mark.parametrize("table", ["mau", "block_events", "rejects"])
def test_corrupted_parquet_fails_validate_and_is_rebuilt(previous_build, table, capsys):
    raw, out, before = previous_build
    (out / f"{table}.parquet").write_bytes(b"\x00garbage" * 100)
    assert main(["validate", "--out", str(out)]) == EXIT_INVALID
    assert f"{table}.parquet" in capsys.readouterr().err
    with pytest.raises(Exception):  # noqa: B017 - any read error; load never returns garbage
        censorlab.load(table, out)
    assert main(["build", "--raw", str(raw), "--out", str(out)]) == EXIT_OK  # no --force
    assert main(["validate", "--out", str(out)]) == EXIT_OK
    assert snapshot(out) == before


def test_missing_output_is_rebuilt(previous_build):
    raw, out, before = previous_build
    (out / "services.parquet").resolve().unlink()  # the published file
    censorlab.build(raw, out)
    assert snapshot(out) == before
    (out / "mau.parquet").unlink()  # only its stable name: the build puts it back
    censorlab.build(raw, out)
    assert snapshot(out) == before


def test_a_raw_file_changed_after_its_check_stops_the_build(previous_build, monkeypatch):
    import censorlab.run.driver as driver

    raw, out, before = previous_build
    real = driver.verify_files

    def checked_other_bytes(raw_dir, names, **options):  # as if mau.csv changed since
        return {**real(raw_dir, names, **options), "mau.csv": "sha256:" + "0" * 64}

    monkeypatch.setattr(driver, "verify_files", checked_other_bytes)
    with pytest.raises(ChecksumMismatchError, match="mau.csv"):
        censorlab.build(raw, out, force=True)
    assert snapshot(out) == before and temp_files(out) == []
