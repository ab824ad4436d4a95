"""Exports: formula-injection cells escaped (OWASP), lists joined, atomic, paths contained."""

from __future__ import annotations

import csv

import openpyxl
import pytest
from conftest import BLOCK_HEADER, BLOCK_ROW, write_raw_dir

import censorlab
from censorlab import export
from censorlab.cli import EXIT_ERROR, EXIT_OK, main
from censorlab.errors import CensorlabError
from censorlab.export import escape_cell, export_table

INJECTION = {"=HYPERLINK(\"http://evil.example\")", "+1+1", "-2+3", "@SUM(A1:A2)",
             "\tTAB", "\rCR"}


@pytest.fixture()
def injected_build(tmp_path):
    row = BLOCK_ROW.replace("Roskomnadzor", '"=HYPERLINK(""http://evil.example"")"')
    row = row.replace("149-FZ", "+1+1").replace(",,https://a", ",-2+3,https://a")
    row = row.replace(",Tencent,", ",@SUM(A1:A2),")
    raw = write_raw_dir(tmp_path / "raw", block=BLOCK_HEADER + row)
    out = tmp_path / "out"
    censorlab.build(raw, out)
    return out


@pytest.mark.parametrize("value", sorted(INJECTION))
def test_escape_prefixes_formula_cells(value):
    assert escape_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["plain", "", "1+1", "a=b", 5, None])
def test_escape_leaves_other_cells(value):
    assert escape_cell(value) == value


def test_csv_export_escapes_and_joins_lists(injected_build, tmp_path):
    path = export_table("block_events", fmt="csv", out=tmp_path / "e" / "blocks.csv",
                        processed_dir=injected_build)
    [row] = list(csv.DictReader(path.open(encoding="utf-8", newline="")))
    assert row["authority"] == "'=HYPERLINK(\"http://evil.example\")"
    assert (row["legal_basis"], row["notes"], row["operator_name"]) == (
        "'+1+1", "'-2+3", "'@SUM(A1:A2)")
    assert row["source_urls"] == "https://a.example/1; https://b.example/2"
    assert row["start_date"] == "2017-05-04"
    # the Parquet keeps the verbatim value
    assert censorlab.load("block_events", injected_build).authority[0].startswith("=")
    assert [p.name for p in path.parent.iterdir()] == ["blocks.csv"]  # no temp file left


def test_xlsx_export_holds_no_formulas(injected_build, tmp_path):
    path = export_table("block_events", fmt="xlsx", out=tmp_path / "blocks.xlsx",
                        processed_dir=injected_build)
    sheet = openpyxl.load_workbook(path).active
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, [c.value for c in sheet[2]], strict=True))
    assert values["authority"] == "'=HYPERLINK(\"http://evil.example\")"
    assert values["legal_basis"] == "'+1+1"
    assert all(c.data_type != "f" for r in sheet.iter_rows() for c in r)


@pytest.mark.parametrize("table", ["../block_events", "block_events/../../x", "..", "",
                                   "not_a_table", "block_events\\x"])
def test_table_names_cannot_escape_the_export_directory(table, built_dir):
    with pytest.raises(CensorlabError):
        export_table(table, processed_dir=built_dir[1])


def test_unknown_format_is_an_error(built_dir):
    with pytest.raises(CensorlabError):
        export_table("mau", fmt="xls", processed_dir=built_dir[1])


def test_default_path_is_reports_exports(monkeypatch, tmp_path, built_dir):
    monkeypatch.setattr(export, "EXPORTS_DIR", tmp_path / "reports" / "exports")
    path = export_table("services", processed_dir=built_dir[1])
    assert path == (tmp_path / "reports" / "exports" / "services.csv").resolve()
    assert path.read_text(encoding="utf-8").startswith("service_id,")


def test_failed_export_leaves_no_file(monkeypatch, tmp_path, built_dir):
    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(export.pd.DataFrame, "to_csv", boom)
    target = tmp_path / "x" / "mau.csv"
    with pytest.raises(OSError):
        export_table("mau", out=target, processed_dir=built_dir[1])
    assert list(target.parent.iterdir()) == []


def test_cli_export(tmp_path, built_dir, capsys):
    target = tmp_path / "d.xlsx"
    assert main(["export", "diplomatic_events", "--format", "xlsx", "--out", str(target),
                 "--from", str(built_dir[1])]) == EXIT_OK  # --out is what it writes, as in build
    assert target.exists() and str(target) in capsys.readouterr().out
    assert main(["export", "../etc", "--from", str(built_dir[1])]) == EXIT_ERROR
