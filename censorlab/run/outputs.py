"""Reading published outputs: ``load``, ``load_manifest``, ``validate``, for every output kind.

Readers never take the writers' lock and never see a half-written output: they resolve the
output directory's published generation once (``run.publish.published_generation``) and read
everything from it. ``load()`` with no directory reads the default build and builds it on first
use, so a script or notebook on a fresh install needs no separate step.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from censorlab.core.storage import read_frame
from censorlab.errors import CensorlabError, ValidationError
from censorlab.paths import PROCESSED_DIR
from censorlab.run.driver import run_build
from censorlab.run.manifest import check_outputs, failed_inputs
from censorlab.run.publish import read_published_manifest
from censorlab.schema import TABLES
from censorlab.sources import SOURCES

logger = logging.getLogger(__name__)

FIRST_USE_LOCK_SECONDS = 600.0  # a concurrent first use waits for the other build


def load_manifest(out_dir: str | Path | None = None) -> dict:
    """Return the manifest of a published output (default: the curated build).

    Raises:
        CensorlabError: Nothing is published there.
    """
    return _published(out_dir, build_if_missing=True)[1]


def load(table: str, out_dir: str | Path | None = None) -> pd.DataFrame:
    """Return a processed table as a pandas DataFrame.

    Args:
        table: A table of the output (``block_events``, ``mau``, ``diplomatic_events``,
            ``services``, ``rejects`` in the curated build; an ingest's table, e.g.
            ``stop_events``, with its output directory).
        out_dir: An output directory (default: the curated build, built on first use).

    Raises:
        KeyError: Not a table of the data dictionary.
        CensorlabError: The output holds no such table (the message says which command makes
            it), or it holds a partitioned dataset (read it with ``read_dataset``).
    """
    if table not in TABLES:
        raise KeyError(f"unknown table {table!r}; known: {sorted(TABLES)}")
    generation, manifest = _published(out_dir, build_if_missing=True)
    info = manifest["tables"].get(table)
    if info is None:
        raise CensorlabError(f"{table} is not in {out_dir or PROCESSED_DIR} (it holds "
                             f"{', '.join(manifest['tables'])}); {_made_by(table)}")
    if info.get("layout") == "partitioned":
        raise CensorlabError(f"{table} is a partitioned dataset: read it with "
                             f"censorlab.read_dataset({str(out_dir)!r}) or dask/pyarrow")
    for problem in failed_inputs(manifest, info.get("inputs")):
        logger.warning("%s was published without a file that failed: %s", table, problem)
    return read_frame(generation / info["path"])


def dataset_path(out_dir: str | Path, table: str = "ooni_measurements") -> Path:
    """Return the published directory of a partitioned table (for pyarrow, Dask, DuckDB)."""
    generation, manifest = _published(out_dir)
    if table not in manifest["tables"]:
        raise CensorlabError(f"{table} is not in {out_dir}; {_made_by(table)}")
    return generation / manifest["tables"][table]["path"]


def validate(out_dir: str | Path | None = None) -> list[str]:
    """Re-check a published output against its schemas and manifest (any output kind).

    Raises:
        ValidationError: With every problem found, when there is at least one.
    """
    generation, manifest = _published(out_dir)
    problems = check_outputs(generation, manifest, deep=True)
    if problems:
        raise ValidationError("; ".join(problems))
    return problems


def _published(out_dir: str | Path | None, build_if_missing: bool = False) -> tuple[Path, dict]:
    """The published generation and manifest; the default build is built on first use."""
    published = read_published_manifest(out_dir or PROCESSED_DIR)
    if published is None and out_dir is None and build_if_missing:
        logger.info("no build in %s yet: building it", PROCESSED_DIR)
        run_build(lock_timeout=FIRST_USE_LOCK_SECONDS)
        published = read_published_manifest(PROCESSED_DIR)
    if published is None:
        raise CensorlabError(f"{out_dir or PROCESSED_DIR}: no published censorlab output here; "
                             "run `censorlab build` (or `censorlab ingest KIND PATH --out DIR`) "
                             "first")
    return published


def _made_by(table: str) -> str:
    for source in SOURCES:
        if source.load().TABLE == table:
            if source.curated:
                return "`censorlab build` makes it"
            return f"`censorlab ingest {source.kind} PATH --out DIR` makes it"
    return "no source makes it"
