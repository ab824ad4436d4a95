"""Issue #12: one commit point per run, one writer per output directory, files read as hashed.

The kill matrices SIGKILL a run at every rename, link and fsync it makes (``kill_points``) over a
previous output, then check what a reader sees and what the next run does: before the commit
point the previous generation whole, after it the new one whole, never a mix, and the next run
leaves nothing of the killed one behind.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import MAU_HEADER, MAU_ROW, write_raw_dir
from kill_points import Job, calls, run_jobs

import censorlab
from censorlab.cli import EXIT_OK, main
from censorlab.run.outputs import dataset_path, load_manifest
from censorlab.run.publish import CONTROL_DIR, CURRENT, published_generation
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
