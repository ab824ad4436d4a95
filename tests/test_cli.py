"""The command line: exit codes, messages, and that it only calls the library."""

import shutil
from pathlib import Path

import pytest

from censorlab.cli import EXIT_ERROR, EXIT_INVALID, EXIT_OK, main

REPO_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture()
def raw_copy(tmp_path):
    raw = tmp_path / "raw"
    shutil.copytree(REPO_RAW, raw)
    return raw


def test_build_validate_and_rebuild_skip(raw_copy, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["build", "--raw", str(raw_copy), "--out", str(out)]) == EXIT_OK
    assert capsys.readouterr().out.startswith("built block_events")
    assert main(["validate", "--out", str(out)]) == EXIT_OK
    capsys.readouterr()
    assert main(["build", "--raw", str(raw_copy), "--out", str(out)]) == EXIT_OK
    said = capsys.readouterr().out
    assert said.startswith("up to date") and "built" not in said
    assert main(["build", "--raw", str(raw_copy), "--out", str(out), "--as-of",
                 "2026-01-01"]) == EXIT_OK
    assert "as_of 2026-01-01" in capsys.readouterr().out


def test_changed_raw_file_stops_build_and_checksums_reports(raw_copy, tmp_path, capsys):
    out = tmp_path / "out"
    with open(raw_copy / "mau.csv", "a", encoding="utf-8") as handle:
        handle.write("\n")
    assert main(["build", "--raw", str(raw_copy), "--out", str(out)]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert "sha256 mismatch" in err and err.count("sha256:") == 2
    assert f"censorlab checksums --raw {raw_copy} --update" in err  # the directory, not DIR
    assert main(["checksums", "--raw", str(raw_copy)]) == EXIT_INVALID
    assert "changed  mau.csv" in capsys.readouterr().out
    assert main(["checksums", "--raw", str(raw_copy), "--update"]) == EXIT_OK
    assert main(["build", "--raw", str(raw_copy), "--out", str(out)]) == EXIT_OK


def test_own_raw_directory_gets_checksums_on_first_build(raw_copy, tmp_path):
    (raw_copy / "registry.txt").unlink()
    assert main(["build", "--raw", str(raw_copy), "--out", str(tmp_path / "o")]) == EXIT_OK
    assert "block_events.csv sha256:" in (raw_copy / "registry.txt").read_text()


def test_validate_without_build_is_an_error(tmp_path, capsys):
    assert main(["validate", "--out", str(tmp_path)]) == EXIT_ERROR
    assert "no published censorlab output" in capsys.readouterr().err


def test_missing_raw_directory_is_named(tmp_path, capsys):
    assert main(["build", "--raw", str(tmp_path / "missing"), "--out", str(tmp_path)]) == \
        EXIT_ERROR
    err = capsys.readouterr().err
    assert f"raw directory {tmp_path / 'missing'} does not exist" in err
    assert not (tmp_path / ".censorlab").exists()


def test_ingest_tables_export_and_a_wrong_table_says_which_command_makes_it(tmp_path, capsys):
    out, target = tmp_path / "stop", tmp_path / "e" / "stop.csv"
    assert main(["ingest", "stop", str(FIXTURES / "stop"), "--out", str(out)]) == EXIT_OK
    assert main(["export", "stop_events", "--from", str(out), "--out", str(target)]) == EXIT_OK
    assert target.read_text().startswith("event_id,blocking_country")
    assert main(["export", "gdelt_events", "--from", str(out)]) == EXIT_ERROR
    assert "`censorlab ingest gdelt PATH --out DIR` makes it" in capsys.readouterr().err


def test_an_ingest_whose_every_row_is_rejected_warns_and_exits_1(tmp_path, capsys):
    wrong = tmp_path / "aggregate.csv"  # an OONI aggregation CSV fed to the STOP reader
    wrong.write_text("start_date,country,facebook_affected\n2023-01-15,Atlantis,\n",
                     encoding="utf-8")
    assert main(["ingest", "stop", str(wrong), "--out", str(tmp_path / "out")]) == EXIT_INVALID
    err = capsys.readouterr().err
    assert "warning: stop_events: every one of the 1 rows read was rejected" in err


def test_sources_lists_provenance(capsys):
    assert main(["sources"]) == EXIT_OK
    assert "block_events" in capsys.readouterr().out


def test_bad_as_of_is_a_clear_error(raw_copy, tmp_path, capsys):
    code = main(["build", "--raw", str(raw_copy), "--out", str(tmp_path), "--as-of", "soon"])
    assert code == EXIT_ERROR and "--as-of" in capsys.readouterr().err
