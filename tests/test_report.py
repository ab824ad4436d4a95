import nbformat
import pytest

from censorlab.report import find_notebooks, run_report


def _write_notebook(path, source):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# Title"), nbformat.v4.new_code_cell(source)]
    nbformat.write(notebook, path)


def test_find_notebooks_keeps_numbered_ones_in_order(tmp_path):
    for name in ("02-b.ipynb", "01-a.ipynb", "scratch.ipynb"):
        _write_notebook(tmp_path / name, "1")
    assert [path.name for path in find_notebooks(tmp_path)] == ["01-a.ipynb", "02-b.ipynb"]


@pytest.mark.slow
def test_run_report_executes_and_writes_html(tmp_path):
    notebooks, reports = tmp_path / "nb", tmp_path / "reports"
    notebooks.mkdir()
    _write_notebook(notebooks / "01-answer.ipynb", "print(6 * 7)")
    original = (notebooks / "01-answer.ipynb").read_bytes()
    written = run_report(notebooks, reports, timeout=60)
    assert written == [reports / "01-answer.html"]
    html = written[0].read_text(encoding="utf-8")
    assert "42" in html
    assert (notebooks / "01-answer.ipynb").read_bytes() == original


def test_run_report_without_notebooks_fails_clearly(tmp_path):
    with pytest.raises(FileNotFoundError, match="No NN-"):
        run_report(tmp_path, tmp_path / "out")
