"""The registry of sources: every raw dataset censorlab reads, one line each.

A source is a module (or, for OONI, a subpackage) honouring docs/contract.md::

    PROVENANCE            who publishes it, where, under which licence
    TABLE                 the processed table it feeds (a key of schema.TABLES)
    read(path, context)   bytes -> strings (a RawFile; OONI: batches of parsed blocks)
    clean(raw, context)   a .pipe chain of small steps ending in cleaning.finish(...)
    RAW_FILES             curated sources: the file(s) in the raw directory
    FILE_SUFFIXES         downloaded formats: the file names an ingest picks up
    DEDUP_KEY             optional: columns that identify one record seen in two files
    group_inputs(files)   optional: files read as one input (a split registry dump)
    write(...)            optional: a table written in stages instead of by the driver (OONI)

The CLI reads its ``ingest`` kinds and their help from ``SOURCES``; the curated build runs the
``curated`` ones; nothing else lists sources. Entries are imported on use, so ``censorlab
--help`` stays fast.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType


@dataclass(frozen=True)
class Source:
    """One registry entry.

    Attributes:
        kind: The name on the command line and in manifests (= the module's PROVENANCE.name).
        module: The module implementing the contract.
        curated: True for the tables ``censorlab build`` rebuilds from the raw directory;
            False for formats researchers download and ``censorlab ingest``.
        summary: One line for the command's help.
    """

    kind: str
    module: str
    curated: bool
    summary: str

    def load(self) -> ModuleType:
        """Import and return the source's module."""
        return importlib.import_module(self.module)


SOURCES: tuple[Source, ...] = (
    Source("services", "censorlab.sources.services", True, "service reference table"),
    Source("block_events", "censorlab.sources.block_events", True, "curated block register"),
    Source("mau", "censorlab.sources.mau", True, "curated user figures"),
    Source("diplomatic_events", "censorlab.sources.diplomatic_events", True,
           "curated bilateral diplomatic events"),
    Source("diplomatic_coverage", "censorlab.sources.diplomatic_coverage", True,
           "what the calendar's dyad sweep read, per dyad and year"),
    Source("register_sweeps", "censorlab.sources.register_sweeps", True,
           "systematic sources read per country for the block register"),
    Source("ooni", "censorlab.sources.ooni", False, "OONI raw measurements (JSONL, JSONL.gz)"),
    Source("ooni-aggregate", "censorlab.sources.ooni_aggregate", False,
           "OONI aggregation API counts (CSV)"),
    Source("stop", "censorlab.sources.stop", False,
           "Access Now #KeepItOn STOP workbook (XLSX) or CSV export"),
    Source("gdelt", "censorlab.sources.gdelt", False, "GDELT 1.0/2.0 event exports"),
    Source("rkn", "censorlab.sources.rkn", False,
           "Roskomnadzor registry dump (windows-1251; dump.csv or split dump-NN.csv parts)"),
)
REFERENCE_FILES = ("country_aliases.csv", "services.csv")  # read by every run's context


def get_source(kind: str) -> Source:
    """Return the registry entry of a kind.

    Raises:
        KeyError: Unknown kind (the message lists the known ones).
    """
    for source in SOURCES:
        if source.kind == kind:
            return source
    raise KeyError(f"unknown source {kind!r}; known: {', '.join(s.kind for s in SOURCES)}")


def curated_sources() -> list[Source]:
    """The curated sources, in the registry's order."""
    return [s for s in SOURCES if s.curated]


def ingest_sources() -> list[Source]:
    """The downloaded formats ``censorlab ingest`` reads."""
    return [s for s in SOURCES if not s.curated]
