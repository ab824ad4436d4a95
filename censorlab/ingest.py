"""Ingest downloaded formats (OONI, Access Now STOP, GDELT, Roskomnadzor registry).

Each kind is a source module in `censorlab/sources/` with the same contract as the curated
sources (docs/contract.md) plus an `ingest` function::

    ingest(paths, out_dir, *, engine, scheduler, workers, context) -> manifest dict

The manifest carries per-file accounting and a `summary` (rows in, out, rejected, duplicates).
`context` holds the reference lookups (countries, services) from the curated raw directory, so
downloaded data resolves names exactly as the curated tables do.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

from censorlab.errors import CensorlabError
from censorlab.paths import RAW_DIR
from censorlab.provenance import BuildContext

INGEST_KINDS = {
    "ooni": "censorlab.sources.ooni",
    "ooni-aggregate": "censorlab.sources.ooni_aggregate",
    "stop": "censorlab.sources.stop",
    "gdelt": "censorlab.sources.gdelt",
    "rkn": "censorlab.sources.rkn",
}


def ingest_modules() -> list[ModuleType]:
    """Return the ingest source modules that are installed (in registry order)."""
    modules = []
    for name in INGEST_KINDS.values():
        try:
            modules.append(importlib.import_module(name))
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise
    return modules


def reference_context(raw_dir: str | Path | None = None) -> BuildContext:
    """Build the country and service lookups from a curated raw directory (checksums verified).

    Args:
        raw_dir: Directory holding `country_aliases.csv` and `services.csv` (default data/raw).
    """
    from censorlab.checksums import verify_files
    from censorlab.pipeline import _load_country_resolver
    from censorlab.services import ServiceCatalog
    from censorlab.sources import services

    raw_dir = Path(raw_dir or RAW_DIR)
    sha = verify_files(raw_dir, ["country_aliases.csv", "services.csv"])
    context = BuildContext(raw_dir=raw_dir, countries=_load_country_resolver(raw_dir), sha256=sha)
    result = services.clean(services.read_raw(raw_dir / "services.csv"), context)
    context.services = ServiceCatalog(result.table)
    return context


def ingest(
    kind: str,
    paths: list[str | Path],
    out_dir: str | Path,
    *,
    engine: str = "pandas",
    scheduler: str | None = None,
    workers: int = 2,
    raw_dir: str | Path | None = None,
) -> dict:
    """Clean downloaded files of one kind into validated Parquet under `out_dir`.

    Raises:
        CensorlabError: Unknown kind or engine.
    """
    if kind not in INGEST_KINDS:
        raise CensorlabError(f"unknown ingest kind {kind!r}; known: {sorted(INGEST_KINDS)}")
    if engine not in ("pandas", "dask"):
        raise CensorlabError(f"unknown engine {engine!r}; use pandas or dask")
    module = importlib.import_module(INGEST_KINDS[kind])
    return module.ingest(
        [Path(p) for p in paths],
        Path(out_dir),
        engine=engine,
        scheduler=scheduler,
        workers=workers,
        context=reference_context(raw_dir),
    )
