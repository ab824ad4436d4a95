"""The wheel works where a new user installs it: outside the checkout, writing nowhere in it.

Builds the wheel, installs it into a fresh virtual environment in a temporary directory, and
runs ``censorlab build``, ``censorlab.load()`` (which builds on first use) and a worked query
there, from a directory outside the repository.

For speed the new environment gets censorlab's dependencies from this test environment: a
``.pth`` line adds this environment's site-packages to its path (``pip install --no-deps`` then
installs only the wheel). Python does not run the ``.pth`` files of a directory added that way,
so this environment's editable censorlab stays invisible; the test asserts that the censorlab
imported is the installed wheel, that the curated data came from inside the wheel, and that
the environment's files are byte-for-byte the same after the runs (nothing written into
site-packages). Installing the dependencies from the index as well would prove the same plus
the dependency list, at a minute or more per run.
"""

from __future__ import annotations

import hashlib
import json
import os
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def _tree_digest(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and "__pycache__" not in p.parts}


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    base = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--no-build-isolation", "--wheel-dir", str(base / "dist"), str(REPO)],
                   check=True, timeout=300)
    (wheel,) = (base / "dist").glob("censorlab-*.whl")
    venv = base / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True,
                   timeout=120)
    python = venv / "bin" / "python"
    target = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig."
                                  "get_paths()['purelib'])"], capture_output=True, text=True,
                                 check=True).stdout.strip())
    (target / "censorlab_test_deps.pth").write_text(
        "\n".join(site.getsitepackages()) + "\n", encoding="utf-8")
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                    "--no-deps", "--no-index", str(wheel)], check=True, timeout=300)
    return base, wheel, venv, target


def _run(venv: Path, base: Path, program: str, *args: str,
         data_home: Path) -> subprocess.CompletedProcess:
    """Run one of the new environment's programs from outside the repository."""
    env = {**os.environ, "XDG_DATA_HOME": str(data_home), "MPLBACKEND": "Agg"}
    env.pop("PYTHONPATH", None)
    return subprocess.run([str(venv / "bin" / program), *args], cwd=base, env=env,
                          capture_output=True, text=True, timeout=600, check=True)


def test_the_wheel_ships_the_curated_raw_data_and_reference_tables(installed):
    _, wheel, _, _ = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ("block_events.csv", "mau.csv", "diplomatic_events.csv", "services.csv",
                 "country_aliases.csv", "registry.txt"):
        assert f"censorlab/data/raw/{name}" in names
    assert "censorlab/reference/country_crosswalk.csv" in names
    assert "censorlab/paper.mplstyle" in names
    assert not any(n.startswith(("tests/", "notebooks/", "data/")) for n in names)


def test_build_load_and_a_query_run_from_the_installed_wheel(installed):
    base, _, venv, site_packages = installed
    before = _tree_digest(site_packages)
    data_home = base / "xdg"
    built = _run(venv, base, "censorlab", "--log-level", "WARNING", "build",
                 data_home=data_home)
    assert "built block_events" in built.stdout
    processed = data_home / "censorlab" / "processed"
    assert (processed / "manifest.json").exists()
    again = _run(venv, base, "censorlab", "build", data_home=data_home)
    assert again.stdout.startswith("up to date")

    script = (
        "import json, censorlab, censorlab.paths as p\n"
        "blocks = censorlab.load('block_events')\n"
        "now = censorlab.blocks(country='Russia', status='ongoing')\n"
        "figure = censorlab.mau_at('wechat', '2017-05-04')\n"
        "print(json.dumps({'file': censorlab.__file__, 'checkout': p.IS_CHECKOUT,\n"
        "  'raw': str(p.RAW_DIR), 'processed': str(p.PROCESSED_DIR), 'blocks': len(blocks),\n"
        "  'ongoing_ru': len(now), 'mau': int(figure['mau'])}))\n")
    first_use = base / "xdg-first-use"  # nothing built there: load() builds on first use
    result = json.loads(_run(venv, base, "python", "-c", script,
                             data_home=first_use).stdout.strip().splitlines()[-1])
    assert Path(result["file"]).is_relative_to(site_packages), "imported the wheel, not the repo"
    assert not result["checkout"] and Path(result["raw"]).is_relative_to(site_packages)
    assert Path(result["processed"]) == first_use / "censorlab" / "processed"
    assert result["blocks"] > 100 and result["ongoing_ru"] > 0 and result["mau"] > 0
    assert _tree_digest(site_packages) == before, "nothing may be written into site-packages"
    assert not (REPO / "data" / "processed" / "censorlab").exists()
