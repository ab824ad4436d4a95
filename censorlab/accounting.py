"""Row accounting: proof that no row was lost between a raw file and the outputs.

For every raw file::

    rows_read == rows_clean + rows_rejected
    rows_clean + rows_split == rows_out + rows_merged

`rows_split` counts the extra rows made when one raw row names several services (or countries)
and becomes several output rows; it is zero for sources that never split, where the second line
is the plain `rows_clean == rows_out + rows_merged`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


class AccountingError(AssertionError):
    """The invariants do not hold: a row was lost or invented, which is always a bug."""


@dataclass
class FileAccounting:
    """Counts for one raw file through one source's cleaning."""

    source_file: str
    sha256: str
    dataset: str
    rows_read: int = 0
    rows_clean: int = 0
    rows_rejected: int = 0
    rows_split: int = 0
    rows_merged: int = 0
    rows_out: int = 0
    repairs: list[str] = field(default_factory=list)  # e.g. a stripped byte-order mark

    def check(self) -> FileAccounting:
        """Raise AccountingError unless both invariants hold; return self for chaining."""
        if self.rows_read != self.rows_clean + self.rows_rejected:
            raise AccountingError(
                f"{self.source_file}: rows_read {self.rows_read} != rows_clean "
                f"{self.rows_clean} + rows_rejected {self.rows_rejected}"
            )
        if self.rows_clean + self.rows_split != self.rows_out + self.rows_merged:
            raise AccountingError(
                f"{self.source_file}: rows_clean {self.rows_clean} + rows_split "
                f"{self.rows_split} != rows_out {self.rows_out} + rows_merged {self.rows_merged}"
            )
        return self

    def to_dict(self) -> dict[str, object]:
        """Return the counts as a plain dict for the manifest."""
        return asdict(self)
