"""The command line: exit codes, messages, and that it only calls the library."""

import shutil
from pathlib import Path

import pytest

import censorlab
from censorlab.cli import EXIT_ERROR, EXIT_INVALID, EXIT_OK, main
from censorlab.errors import CensorlabError

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


def _usage_error(argv, capsys) -> str:
    """Run a command line argparse must refuse; return its one error line."""
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == EXIT_ERROR
    return capsys.readouterr().err.splitlines()[-1]


@pytest.mark.parametrize("as_of", ["soon", "now", "today", "2017", "2017-02-30", "20170101",
                                   "2017-1-5"])
def test_as_of_is_a_real_date_written_yyyy_mm_dd(tmp_path, capsys, as_of):
    error = _usage_error(["build", "--out", str(tmp_path), "--as-of", as_of], capsys)
    assert error == f"censorlab build: error: argument --as-of: {as_of!r} is not a real date " \
        "written YYYY-MM-DD"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(("workers", "message"), [("-1", "must be at least 1, got -1"),
                                                  ("0", "must be at least 1, got 0"),
                                                  ("1.5", "'1.5' is not a whole number"),
                                                  ("many", "'many' is not a whole number")])
def test_workers_must_be_a_positive_whole_number(tmp_path, capsys, workers, message):
    error = _usage_error(["ingest", "stop", str(FIXTURES / "stop"), "--out", str(tmp_path),
                          "--workers", workers], capsys)
    assert error == f"censorlab ingest: error: argument --workers: {message}"


@pytest.mark.parametrize("as_of", ["now", "today", "2017", "2017-02-30"])
def test_the_library_takes_the_same_as_of_rule_as_the_command_line(tmp_path, raw_dir, as_of):
    with pytest.raises(CensorlabError, match="is not a date YYYY-MM-DD"):
        censorlab.build(raw_dir=raw_dir, out_dir=tmp_path / "out", as_of=as_of)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("workers", [-1, 0, 1.5, True])
def test_the_library_refuses_workers_below_one_before_reading(tmp_path, workers):
    with pytest.raises(CensorlabError, match="workers must be a whole number >= 1"):
        censorlab.ingest("stop", [FIXTURES / "stop"], tmp_path / "out", workers=workers)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("option", "value", "message"), [
    ("--since", "now", "'now' is not a real date written YYYY-MM-DD"),
    ("--timeout", "0", "'0' is not a positive number of seconds"),
    ("--deadline", "inf", "'inf' is not a positive number of seconds"),
    ("--retries", "-1", "must be at least 0, got -1"),
    ("--max-pages", "0", "must be at least 1, got 0")])
def test_fetch_bounds_are_checked_by_argparse(tmp_path, capsys, option, value, message):
    argv = ["fetch", "ooni", "--cc", "IT", "--test", "telegram", "--since", "2022-12-08",
            "--until", "2022-12-08", "--out", str(tmp_path), option, value]
    assert _usage_error(argv, capsys).endswith(f"error: argument {option}: {message}")


@pytest.mark.parametrize(("cc", "test", "message"), [
    ("../../x", "telegram", "--cc '../../x' is not a two-letter country code"),
    ("IT", "../../x", "--test '../../x' is not a plain file name")])
def test_fetch_names_outside_out_are_one_line_errors(tmp_path, capsys, cc, test, message):
    out = tmp_path / "a" / "b"
    assert main(["fetch", "ooni", "--cc", cc, "--test", test, "--since", "2022-12-08",
                 "--until", "2022-12-08", "--out", str(out)]) == EXIT_ERROR
    assert capsys.readouterr().err.startswith(f"error: {message}")
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_server_is_one_line_naming_the_url(tmp_path, capsys):
    assert main(["fetch", "ooni", "--cc", "IT", "--test", "telegram", "--since", "2022-12-08",
                 "--until", "2022-12-08", "--out", str(tmp_path), "--retries", "0",
                 "--base-url", "http://127.0.0.1:9"]) == EXIT_ERROR
    err = capsys.readouterr().err
    assert err.startswith("error: GET http://127.0.0.1:9/api/v1/measurements?probe_cc=IT&")
    assert "cannot connect" in err and err.count("\n") == 1  # no traceback
