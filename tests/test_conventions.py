"""Convention tests: what every source does (not what it is called), imports that run one way,
notebooks that are thin reports.

A new source is covered here without editing this file: the registry lists it, and its
fixtures sit in ``tests/fixtures/<kind>/`` (curated sources: in the frozen raw snapshot).
"""

from __future__ import annotations

import ast
import hashlib
import inspect
import json
from pathlib import Path

import pyarrow as pa
import pytest

from censorlab.cleaning import SourceResult
from censorlab.core.provenance import Provenance
from censorlab.errors import RawFileError
from censorlab.schema import FIELDS, TABLES
from censorlab.sources import SOURCES

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "censorlab"
FIXTURES = REPO / "tests" / "fixtures"
NOTEBOOKS = sorted((REPO / "notebooks").glob("*.ipynb"))

# Layers, lowest first: a module may import its own layer and the ones below, never above.
LAYERS = [
    ("censorlab.schema", "censorlab.errors", "censorlab.paths"),
    ("censorlab.core",),
    ("censorlab.reading", "censorlab.reference", "censorlab.cleaning"),
    ("censorlab.sources",),
    ("censorlab.run",),
    ("censorlab.queries", "censorlab.export", "censorlab.report", "censorlab.cli",
     "censorlab.__main__", "censorlab.plots"),
]
# Function-local imports allowed, each for a reason (any other is a failure).
LOCAL_IMPORTS = {
    ("censorlab.run.engines", "dask"): "the Dask engine loads Dask only when used (1 s)",
    ("censorlab.run.engines", "distributed"): "the same, for distributed",
    ("censorlab.cli", "*"): "each subcommand imports what it needs: `censorlab --help` is fast",
    ("censorlab.analysis.evidence", "matplotlib"): "plots only; the panel needs no matplotlib",
    ("censorlab.core.progress", "tqdm.contrib.logging"): "imported under a warning filter",
}


def fixture_files(kind: str) -> list[Path]:
    """The fixture inputs of a source: its raw files, or tests/fixtures/<kind>/."""
    source = next(s for s in SOURCES if s.kind == kind)
    module = source.load()
    if source.curated:
        return [FIXTURES / "pinned_raw" / name for name in module.RAW_FILES]
    folder = FIXTURES / kind.replace("-", "_")
    return sorted(p for p in folder.iterdir() if p.name.endswith(tuple(module.FILE_SUFFIXES)))


def clean_fixture(kind: str, path: Path, context) -> list[SourceResult]:
    """Read and clean one fixture file with a source's contract functions."""
    module = next(s for s in SOURCES if s.kind == kind).load()
    raw = module.read(path, context)
    if inspect.isgenerator(raw):  # a streaming source: one result per batch of blocks
        return [module.clean(batch, context) for batch in raw]
    return [module.clean(raw, context)]


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.kind)
def test_source_declares_its_provenance_and_table(source):
    module = source.load()
    assert isinstance(module.PROVENANCE, Provenance) and module.PROVENANCE.name == source.kind
    assert module.PROVENANCE.url and module.PROVENANCE.licence
    assert module.TABLE in TABLES
    assert len(inspect.getdoc(module) or "") > 200, "docstring must describe layout and quirks"
    assert hasattr(module, "RAW_FILES") == source.curated
    assert hasattr(module, "FILE_SUFFIXES") != source.curated


@pytest.mark.parametrize("source", SOURCES, ids=lambda s: s.kind)
def test_clean_returns_the_result_type_and_accounting_holds_on_every_fixture(
        source, clean_context):
    module = source.load()
    files = fixture_files(source.kind)
    assert files, f"{source.kind} has no fixture"
    cleaned = 0
    for path in files:
        try:
            results = clean_fixture(source.kind, path, clean_context)
        except RawFileError as exc:  # a fixture of a file-level error names its file
            assert path.name in exc.path
            continue
        for result in results:
            assert isinstance(result, SourceResult)
            result.accounting.check()
            assert result.accounting.source_file == path.name
            assert result.accounting.sha256 in ("", f"sha256:{_sha(path)}")
            table, rejects = result.table, result.rejects
            columns = list(table.column_names if isinstance(table, pa.Table) else table.columns)
            assert columns == list(TABLES[module.TABLE].columns)
            assert type(rejects) is type(table)
            n_rejects = rejects.num_rows if isinstance(rejects, pa.Table) else len(rejects)
            assert result.accounting.rows_rejected <= n_rejects
            cleaned += 1
    assert cleaned, f"no fixture of {source.kind} was cleaned"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_every_field_is_documented_and_used():
    used = {c for t in TABLES.values() for c in t.columns}
    assert set(FIELDS) == used
    assert all(len(f.description) > 10 for f in FIELDS.values())


def test_source_modules_do_not_reimplement_shared_helpers():
    forbidden = ("import pycountry", "format=\"mixed\"", "to_csv(")
    for path in (PACKAGE / "sources").rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        for word in forbidden:
            assert word not in text, f"{path.name} uses {word}: use the shared helpers"


def _module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(name: str) -> int | None:
    for index, prefixes in enumerate(LAYERS):
        if any(name == p or name.startswith(p + ".") for p in prefixes):
            return index
    return None


def _imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module
        elif isinstance(node, ast.Import):
            for alias in node.names:
                yield node, alias.name


def test_imports_run_one_way():
    wrong = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        here = _layer(name)
        for _, imported in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if imported == "censorlab" or not imported.startswith("censorlab"):
                continue  # `from censorlab import __version__` is the package's version
            if name.startswith("censorlab.analysis"):
                if not imported.startswith(("censorlab.analysis", "censorlab.schema")):
                    wrong.append(f"{name} -> {imported} (analysis takes frames, imports schema)")
                continue
            there = _layer(imported)
            if here is not None and there is not None and there > here:
                wrong.append(f"{name} -> {imported}")
    assert not wrong, "imports running back up:\n" + "\n".join(sorted(wrong))


def test_function_local_imports_are_the_justified_ones():
    found = []
    for path in PACKAGE.rglob("*.py"):
        name = _module_name(path)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for _, imported in _imports(function):
                if (name, "*") in LOCAL_IMPORTS or any(
                        (name, prefix) in LOCAL_IMPORTS for prefix in _prefixes(imported)):
                    continue
                found.append(f"{name}: {imported}")
    assert not found, "function-local imports without a reason:\n" + "\n".join(sorted(found))


def _prefixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def test_library_never_configures_logging_handlers():
    for path in PACKAGE.rglob("*.py"):
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
    assert "data/raw" not in code and "read_csv(" not in code and "RAW_DIR" not in code
    code_cells = [c for c in cells if c["cell_type"] == "code" and "".join(c["source"]).strip()]
    assert all(c.get("execution_count") for c in code_cells), "committed executed"
    assert any(c.get("outputs") for c in code_cells), "committed with outputs"
    assert path.name[:2].isdigit() and path.name[2] == "-"

