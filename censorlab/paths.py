"""The one module that knows where censorlab's files live.

Everything else asks this module for a path, so a checkout, an installed package and a test's
temporary directory all resolve the same way.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
REPO_ROOT = PACKAGE_DIR.parent
RAW_DIR = REPO_ROOT / "data" / "raw"
PROCESSED_DIR = REPO_ROOT / "data" / "processed"
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
REPORTS_DIR = REPO_ROOT / "reports"
FIGURES_DIR = REPORTS_DIR / "figures"
REFERENCE_DIR = PACKAGE_DIR / "reference"

CHECKSUM_REGISTRY_NAME = "registry.txt"
MANIFEST_NAME = "manifest.json"
