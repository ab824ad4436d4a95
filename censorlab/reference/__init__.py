"""Reference lookups every source resolves names through: countries, services, the crosswalk.

The lookups are built once per run by :func:`censorlab.run.context.build_context` and handed to
every source's ``read`` and ``clean`` as a :class:`Context`; no source builds or loads one itself,
so the curated build and every ingest resolve a name the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from censorlab.reference.countries import CountryResolver
from censorlab.reference.crosswalk import Crosswalk
from censorlab.reference.services import ServiceCatalog


@dataclass(frozen=True)
class Context:
    """The reference lookups of one run (picklable: Dask workers receive it with each file).

    Attributes:
        raw_dir: The raw directory the lookups come from.
        countries: Country names and codes to ISO alpha-2 (pycountry + country_aliases.csv).
        services: Service names, aliases and domains to service ids (services.csv).
        crosswalk: FIPS 10-4 and CAMEO country codes to alpha-2 (shipped table).
        inputs: `{file name: sha256}` of the reference files read, for the manifest.
    """

    raw_dir: Path
    countries: CountryResolver
    services: ServiceCatalog | None  # None only while the catalog itself is being built
    crosswalk: Crosswalk
    inputs: dict[str, str]


__all__ = ["Context", "CountryResolver", "Crosswalk", "ServiceCatalog"]
