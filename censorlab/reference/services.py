"""Service names to canonical ids: `WeChat`, `Weixin` and `微信` are one service.

The catalog is built from the processed `services` table (from data/raw/services.csv). Names
match exactly after NFKC, casefold and whitespace folding; an unknown name is rejected by the
caller, never guessed. The catalog also maps internet hosts to services through each service's
domains, which registry dumps and measurements need.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from censorlab.errors import CensorlabError
from censorlab.reference.countries import normalise_name


class ServiceCatalog:
    """Look up services by name, alias or internet host.

    Args:
        services: Rows of the processed `services` table.
    """

    def __init__(self, services: pd.DataFrame):
        self.frame = services.set_index("service_id", drop=False)
        self._by_name: dict[str, str] = {}
        self._by_domain: dict[str, str] = {}
        for row in services.itertuples(index=False):
            for name in [row.service_name, row.service_id, *(row.aliases or [])]:
                self._add(self._by_name, normalise_name(name), row.service_id, "name")
            for domain in row.domains or []:
                self._add(self._by_domain, domain.lower().strip("."), row.service_id, "domain")

    @staticmethod
    def _add(index: dict[str, str], key: str, service_id: str, what: str) -> None:
        owner = index.setdefault(key, service_id)
        if owner != service_id:
            raise CensorlabError(f"services: {what} {key!r} belongs to both {owner!r} and "
                                 f"{service_id!r}")

    def resolve(self, name: str | None) -> str | None:
        """Return the service_id of a name or alias, or None when unknown."""
        if name is None or not str(name).strip():
            return None
        return self._by_name.get(normalise_name(str(name)))

    def service_for_host(self, host: str | None) -> str | None:
        """Return the service whose domain is the host or a parent of it (`web.telegram.org`)."""
        if not host:
            return None
        labels = host.lower().strip(".").split(".")
        for i in range(len(labels) - 1):
            found = self._by_domain.get(".".join(labels[i:]))
            if found:
                return found
        return None

    def info(self, service_id: str) -> pd.Series:
        """Return the reference row of a service."""
        return self.frame.loc[service_id]

    def ids(self) -> Iterable[str]:
        """Return every known service_id."""
        return self.frame.index
