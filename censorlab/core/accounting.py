"""Row accounting: proof that no row was lost between a raw file and the outputs.

For every raw file::

    rows_read == rows_clean + rows_rejected
    rows_clean + rows_split == rows_out + rows_merged

`rows_split` counts the extra rows made when one raw row names several services (or countries)
and becomes several output rows; it is zero for sources that never split, where the second line
is the plain `rows_clean == rows_out + rows_merged`.

Some records are neither clean nor bad but out of scope (a GDELT event with no diplomatic CAMEO
code, a registry entry naming no known service). They are not rejects - nothing is wrong with
them - so they are counted as `rows_filtered` beside the invariants: `rows_read` counts the
in-scope records only, and `records_read == rows_read + rows_filtered` is every data record of
the file.
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
    rows_filtered: int = 0  # records out of scope: neither clean nor rejected (see above)
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

    @property
    def records_read(self) -> int:
        """Every data record of the file: the in-scope rows plus the filtered ones."""
        return self.rows_read + self.rows_filtered

    def add(self, other: FileAccounting) -> FileAccounting:
        """Add the counts and repairs of another part of the same file (OONI batches)."""
        for name in COUNTS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.repairs.extend(r for r in other.repairs if r not in self.repairs)
        return self

    def to_dict(self) -> dict[str, object]:
        """Return the counts as a plain dict for the manifest."""
        return asdict(self)


COUNTS = ("rows_read", "rows_clean", "rows_rejected", "rows_split", "rows_merged", "rows_out",
          "rows_filtered")
