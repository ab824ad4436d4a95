"""The one module that knows where censorlab's files live, in a checkout and when installed.

* **In a checkout** (the package sits beside ``pyproject.toml`` and ``data/raw``; also an
  editable install): raw data in ``data/raw``, the build in ``data/processed``, notebooks and
  reports beside them, as the repository lays them out.
* **Installed from a wheel**: the curated raw files are package data
  (``censorlab/data/raw``, read only); everything censorlab writes goes to the user's data
  directory (``platformdirs.user_data_path("censorlab")``, e.g. ``~/.local/share/censorlab``;
  ``XDG_DATA_HOME`` moves it), never into site-packages.

Everything else asks this module for a path, so a checkout, an installed package and a test's
temporary directory all resolve the same way.
"""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
IS_CHECKOUT = (REPO_ROOT / "pyproject.toml").is_file() and (REPO_ROOT / "data" / "raw").is_dir()

PACKAGED_RAW_DIR = PACKAGE_DIR / "data" / "raw"  # only in a wheel (hatch force-include)
RAW_DIR = REPO_ROOT / "data" / "raw" if IS_CHECKOUT else PACKAGED_RAW_DIR
USER_DIR = REPO_ROOT if IS_CHECKOUT else user_data_path("censorlab", appauthor=False)
PROCESSED_DIR = USER_DIR / "data" / "processed" if IS_CHECKOUT else USER_DIR / "processed"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"  # notebooks are not shipped in the wheel
REPORTS_DIR = USER_DIR / "reports"
FIGURES_DIR = REPORTS_DIR / "figures"
EXPORTS_DIR = REPORTS_DIR / "exports"

CHECKSUM_REGISTRY_NAME = "registry.txt"
MANIFEST_NAME = "manifest.json"


def is_read_only_raw_dir(raw_dir: Path) -> bool:
    """True for the raw data shipped inside the installed package (never written to)."""
    try:
        return Path(raw_dir).resolve().is_relative_to(PACKAGE_DIR)
    except OSError:  # pragma: no cover - an unreadable path is not the package's
        return False
