"""Execute the notebooks and write HTML copies to ``reports/``: ``censorlab report``.

Notebooks are committed with their outputs; the report re-executes each one from top to
bottom in a fresh kernel (nbclient), so the HTML always reflects today's code and data, and a
notebook that no longer runs fails the report instead of shipping stale numbers. The
committed ``.ipynb`` files are not rewritten: the HTML copies are the report.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbconvert import HTMLExporter

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT_SECONDS = 600
KERNEL_NAME = "python3"
NOTEBOOK_GLOB = "[0-9][0-9]-*.ipynb"
HEADLESS_BACKEND = {"MPLBACKEND": "Agg"}


def find_notebooks(notebooks_dir: Path | str) -> list[Path]:
    """List the numbered notebooks (``NN-topic.ipynb``) in run order.

    Args:
        notebooks_dir: Directory holding the notebooks.

    Returns:
        Sorted paths; scratch notebooks without a number prefix are ignored.
    """
    return sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))


def execute_notebook(path: Path, timeout: int = DEFAULT_TIMEOUT_SECONDS) -> nbformat.NotebookNode:
    """Run one notebook in a fresh kernel, with the notebook's directory as working directory.

    Args:
        path: The ``.ipynb`` file.
        timeout: Seconds allowed per cell.

    Returns:
        The executed notebook (the file on disk is left unchanged).
    """
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=timeout,
        kernel_name=KERNEL_NAME,
        resources={"metadata": {"path": str(path.parent)}},
    )
    previous = {key: os.environ.get(key) for key in HEADLESS_BACKEND}
    os.environ.update(HEADLESS_BACKEND)
    try:
        client.execute()
    finally:
        for key, value in previous.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return notebook


def run_report(
    notebooks_dir: Path | str,
    reports_dir: Path | str,
    timeout: int = DEFAULT_TIMEOUT_SECONDS,
) -> list[Path]:
    """Execute every numbered notebook and write ``<reports_dir>/<stem>.html`` for each.

    Args:
        notebooks_dir: Directory holding ``NN-*.ipynb``.
        reports_dir: Directory for the HTML copies (created if missing).
        timeout: Seconds allowed per cell.

    Returns:
        The HTML paths written, in notebook order.

    Raises:
        FileNotFoundError: When there is no numbered notebook to run.
        nbclient.exceptions.CellExecutionError: When a cell fails (no HTML is written for
            that notebook or the ones after it).
    """
    notebooks = find_notebooks(notebooks_dir)
    if not notebooks:
        raise FileNotFoundError(f"No NN-*.ipynb notebooks in {notebooks_dir}")
    output_dir = Path(reports_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    exporter = HTMLExporter()
    written = []
    for path in notebooks:
        logger.info("Executing %s", path.name)
        body, _resources = exporter.from_notebook_node(execute_notebook(path, timeout))
        target = output_dir / f"{path.stem}.html"
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written
