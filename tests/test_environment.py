"""pyproject.toml is the single source of dependencies; environment.yml must mirror it.

environment.yml is the developers' environment: the core dependencies and every extra.
"""

import re
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# pip name -> conda-forge name, where they differ
CONDA_NAMES = {"matplotlib": "matplotlib-base", "dask": "dask-core", "isal": "python-isal",
               "duckdb": "python-duckdb"}
CONDA_ONLY = {"python", "pip"}


def _requirement(text: str) -> tuple[str, str | None]:
    match = re.match(r"^\s*([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*(>=\s*[\w.]+)?", text)
    assert match, text
    floor = match.group(3).replace(" ", "")[2:] if match.group(3) else None
    return match.group(1).lower(), floor


def _pyproject() -> tuple[dict[str, str | None], str]:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = data["project"]["optional-dependencies"]
    deps = data["project"]["dependencies"] + [d for group in extras.values() for d in group]
    wanted = {}
    for dep in deps:
        name, floor = _requirement(dep)
        if name == data["project"]["name"]:
            continue  # an extra that includes another (censorlab[analysis])
        wanted[CONDA_NAMES.get(name, name)] = floor
    python_floor = data["project"]["requires-python"].removeprefix(">=")
    return wanted, python_floor


def _environment() -> tuple[dict[str, str | None], list[str]]:
    deps, pip_lines, in_pip, in_deps = {}, [], False, False
    for line in (REPO / "environment.yml").read_text().splitlines():
        stripped = line.strip()
        if not line.startswith(" "):
            in_deps = stripped == "dependencies:"
            continue
        if not in_deps:
            continue
        if stripped.startswith("- pip:"):
            in_pip = True
            continue
        if in_pip and stripped.startswith("- "):
            pip_lines.append(stripped[2:])
            continue
        if stripped.startswith("- ") and line.startswith("  - "):
            name, floor = _requirement(stripped[2:])
            deps[name] = floor
    return deps, pip_lines


def test_environment_mirrors_pyproject():
    wanted, python_floor = _pyproject()
    conda, _ = _environment()
    assert conda.pop("python") == python_floor
    conda.pop("pip")
    assert conda == wanted


def test_environment_installs_the_package_itself():
    _, pip_lines = _environment()
    assert pip_lines == ["-e ."]
