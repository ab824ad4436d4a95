"""Registry of raw sources: one module per raw dataset, each honouring docs/contract.md.

`CURATED_SOURCES` lists, in build order, the curated tables rebuilt by `censorlab build` (the
service reference first, because the others resolve service names through it). Downloaded
formats (OONI, STOP, GDELT, registry dump) are ingested on demand by `censorlab ingest` and
registered in `censorlab.ingest`.
"""

from __future__ import annotations

import importlib
from types import ModuleType

CURATED_SOURCES = ("services", "block_events", "mau", "diplomatic_events")
REFERENCE_FILES = ("country_aliases.csv",)


def get_source(name: str) -> ModuleType:
    """Import and return the module of a source by name."""
    return importlib.import_module(f"censorlab.sources.{name}")


def curated_modules() -> list[ModuleType]:
    """Return the curated source modules in build order."""
    return [get_source(name) for name in CURATED_SOURCES]
