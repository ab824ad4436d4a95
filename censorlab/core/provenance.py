"""What every source declares: its provenance record (owid/etl's snapshot record)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Provenance:
    """Who publishes a raw dataset and under which terms.

    Attributes:
        name: Short name used on the command line and in manifests (the registry's kind).
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
