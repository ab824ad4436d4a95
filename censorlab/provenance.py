"""What every source declares and returns: its provenance record and its cleaning result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from censorlab.accounting import FileAccounting
from censorlab.rejects import empty_rejects

if TYPE_CHECKING:
    from censorlab.countries import CountryResolver
    from censorlab.services import ServiceCatalog


@dataclass(frozen=True)
class Provenance:
    """Who publishes a raw dataset and under which terms (owid/etl's snapshot record).

    Attributes:
        name: Short name used on the command line and in manifests.
        producer: Who publishes the data.
        url: Where a researcher gets it.
        licence: Terms of use as stated by the producer.
        description: What the data is, in one or two sentences.
        citation: How to cite it.
    """

    name: str
    producer: str
    url: str
    licence: str
    description: str
    citation: str = ""

    def to_dict(self) -> dict[str, str]:
        """Return the record as a plain dict."""
        return asdict(self)


@dataclass
class SourceResult:
    """What `clean` returns: the processed rows, the rejects and the proof nothing was lost."""

    table: pd.DataFrame
    rejects: pd.DataFrame = field(default_factory=empty_rejects)
    accounting: FileAccounting | None = None


@dataclass
class BuildContext:
    """Shared lookups a source's cleaning needs (built once per build, never global state)."""

    raw_dir: Path
    countries: CountryResolver
    services: ServiceCatalog | None = None
    sha256: dict[str, str] = field(default_factory=dict)
