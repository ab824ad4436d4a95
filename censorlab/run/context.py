"""The one place a run's reference context is built: countries, services, crosswalk.

Every run -- the curated build and every ingest -- calls :func:`build_context` once, with the
raw directory it reads reference tables from, and hands the result to every source's ``read``
and ``clean``. Downloaded data therefore resolves names exactly as the curated tables do, and
nothing below the driver loads reference data on its own.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from censorlab.core.checksums import verify_files
from censorlab.errors import CensorlabError, ChecksumMismatchError
from censorlab.paths import is_read_only_raw_dir
from censorlab.reading.delimited import RawFile, read_delimited
from censorlab.reference import Context
from censorlab.reference.countries import CountryResolver, read_aliases
from censorlab.reference.crosswalk import Crosswalk
from censorlab.reference.services import ServiceCatalog
from censorlab.sources import REFERENCE_FILES
from censorlab.sources import services as services_source


def build_context(raw_dir: str | Path) -> Context:
    """Verify the reference files' checksums and build the run's lookups from them.

    Args:
        raw_dir: A raw directory holding ``country_aliases.csv`` and ``services.csv``.

    Raises:
        ChecksumMismatchError: A reference file changed after its checksum was recorded.
        CensorlabError: A reference file is missing, or one of its rows is not usable (a
            reference row cannot be rejected: every later row would resolve differently).
    """
    raw_dir = Path(raw_dir)
    inputs = verify_files(raw_dir, list(REFERENCE_FILES),
                          record_new=not is_read_only_raw_dir(raw_dir))
    aliases = _read_alias_file(raw_dir / "country_aliases.csv")
    countries = CountryResolver(_aliases_of(_as_verified(aliases, inputs)))
    bootstrap = Context(raw_dir=raw_dir, countries=countries, services=None,
                        crosswalk=Crosswalk(), inputs=inputs)
    services = _as_verified(services_source.read(raw_dir / "services.csv"), inputs)
    result = services_source.clean(services, bootstrap)
    return dataclasses.replace(bootstrap, services=ServiceCatalog(result.table))


def _as_verified(raw: RawFile, verified: dict[str, str]) -> RawFile:
    """Return ``raw`` if the bytes parsed are the bytes whose checksum was checked.

    Raises:
        ChecksumMismatchError: The file was replaced between its check and its parse.
    """
    expected = verified[raw.path.name]
    if raw.sha256 != expected:
        raise ChecksumMismatchError(raw.path, expected, raw.sha256)
    return raw


def read_country_aliases(path: Path) -> dict[str, str]:
    """Read the curated alias table; a bad row stops the run (it would change every lookup)."""
    return _aliases_of(_read_alias_file(path))


def _read_alias_file(path: Path) -> RawFile:
    """Parse ``country_aliases.csv`` (the build checks its hash; queries only read it)."""
    return read_delimited(path, dataset="country_aliases",
                          required_columns=("alias", "country_code"))


def _aliases_of(raw: RawFile) -> dict[str, str]:
    """The alias table of a parsed ``country_aliases.csv``; a bad row stops the run."""
    path = raw.path
    if len(raw.rejects):
        first = raw.rejects.iloc[0]
        raise CensorlabError(f"{path}:{first.source_line}: {first.detail}")
    try:
        return read_aliases(raw.rows)
    except ValueError as exc:
        raise CensorlabError(f"{path}: {exc}") from exc
