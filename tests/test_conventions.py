"""Convention tests: every source honours the contract; every notebook is a thin report."""

import ast
import inspect
import json
from pathlib import Path

import pytest
from censorlab.ingest import INGEST_KINDS, ingest_modules
from censorlab.provenance import Provenance

from censorlab.schema import FIELDS, TABLES
from censorlab.sources import curated_modules

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))
ALL_SOURCES = curated_modules() + ingest_modules()


@pytest.mark.parametrize("module", ALL_SOURCES, ids=lambda m: m.__name__)
def test_source_module_honours_the_contract(module):
    assert isinstance(module.PROVENANCE, Provenance)
    assert module.PROVENANCE.url and module.PROVENANCE.licence
    assert module.TABLE in TABLES
    assert len(inspect.getdoc(module) or "") > 200, "docstring must describe layout and quirks"
    for name in ("read_raw", "clean"):
        assert callable(getattr(module, name)), name
    assert list(inspect.signature(module.clean).parameters)[:2] == ["raw", "context"]


def test_every_curated_source_lists_its_raw_files():
    for module in curated_modules():
        assert module.RAW_FILES and all((REPO / "data" / "raw" / f).exists()
                                        for f in module.RAW_FILES)


def test_ingest_registry_is_importable():
    assert {m.__name__ for m in ingest_modules()} <= set(INGEST_KINDS.values())


def test_every_field_is_documented_and_used():
    used = {c for t in TABLES.values() for c in t.columns}
    assert set(FIELDS) == used
    assert all(len(f.description) > 10 for f in FIELDS.values())


def test_source_modules_do_not_reimplement_shared_helpers():
    forbidden = ("import pycountry", "format=\"mixed\"", "to_csv(")
    for path in (REPO / "censorlab" / "sources").glob("*.py"):
        text = path.read_text(encoding="utf-8")
        for word in forbidden:
            assert word not in text, f"{path.name} uses {word}: use the shared helpers"


def test_library_never_configures_logging_handlers():
    for path in (REPO / "censorlab").rglob("*.py"):
        if path.name == "cli.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr == "basicConfig":
                pytest.fail(f"{path} configures logging")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_a_thin_report(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    cells = notebook["cells"]
    assert cells[0]["cell_type"] == "markdown", "first cell states the question and answer"
    tags = [t for c in cells for t in c.get("metadata", {}).get("tags", [])]
    assert "parameters" in tags
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    assert "import censorlab" in code or "from censorlab" in code
    assert "data/raw" not in code and "read_csv(" not in code
    code_cells = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c.get("execution_count") for c in code_cells), "committed executed"
    assert any(c.get("outputs") for c in code_cells), "committed with outputs"
    assert path.name[:2].isdigit() and path.name[2] == "-"
