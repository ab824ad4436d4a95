"""The one exit of every source's cleaning: `finish()` and the result every driver understands.

Every source's ``clean(raw, context)`` is a ``.pipe`` chain of small steps that ends in
:func:`finish`. It does, the same way for every source, what each source used to write by hand:

* keeps the read-stage rejects and the read-stage repairs of the raw file (a stripped
  byte-order mark is recorded for every source, never dropped);
* applies the table's schema to the rows (pandera checks and the column order for frames; the
  exact Arrow types for Arrow tables, where pandera would cost more than the parse);
* does the row accounting from the stages the source went through (clean, split, merged,
  filtered) and checks its invariants, so a lost or invented row is a bug caught here;
* returns a :class:`SourceResult`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pandas as pd
import pyarrow as pa

from censorlab.cleaning.steps import REPAIRS, assert_valid
from censorlab.core.accounting import AccountingError, FileAccounting
from censorlab.core.rejects import concat_rejects, rejects_table
from censorlab.schema import TABLES, arrow_schema

Rows = pd.DataFrame | pa.Table


@dataclass
class SourceResult:
    """What every source's ``clean`` returns: rows, rejects, and the proof that nothing was lost.

    Attributes:
        table: The rows of the source's table (a pandas frame; an Arrow table for the
            streaming OONI source, one batch of blocks at a time).
        rejects: The rejects of the same lines (the same kind of table as ``table``).
        accounting: The file's row accounting, checked.
        facts: JSON-serialisable facts about the file for the manifest (e.g. a registry
            dump's snapshot time).
    """

    table: Rows
    rejects: Rows
    accounting: FileAccounting
    facts: dict = field(default_factory=dict)


def finish(
    raw,
    table: str,
    *,
    clean: Rows,
    rejects: Iterable[Rows] = (),
    split: Rows | None = None,
    out: Rows | None = None,
    filtered: int = 0,
    dataset: str | None = None,
    facts: dict | None = None,
) -> SourceResult:
    """Assemble a source's result: schema applied, all rejects kept, accounting checked.

    Args:
        raw: What the source's ``read`` returned (a RawFile, or OONI's RawBlocks): its
            ``rejects``, ``repairs``, ``rows_read``, ``name`` and ``sha256`` are used.
        table: The processed table (a key of ``schema.TABLES``).
        clean: The rows that passed cleaning, one per raw line (``rows_clean`` counts their
            distinct source lines).
        rejects: The cleaning chain's reject tables (the read-stage rejects are added here).
        split: The rows after one line became several (a block naming three services);
            default ``clean``.
        out: The rows after duplicates were merged: the table written; default ``split``.
        filtered: Records out of scope, neither clean nor rejected (``rows_filtered``).
        dataset: The ``dataset`` of the accounting (default ``table``; OONI's is ``ooni``).
        facts: Extra facts for the manifest.

    Returns:
        The SourceResult every driver understands.

    Raises:
        AccountingError: A raw line is neither clean nor rejected, or both: a bug.
    """
    split = clean if split is None else split
    out = split if out is None else out
    if isinstance(clean, pa.Table):
        return _finish_arrow(raw, table, clean, list(rejects), out, dataset, facts)
    rows = assert_valid(out, table)[list(TABLES[table].columns)].reset_index(drop=True)
    all_rejects = concat_rejects([raw.rejects, *rejects])
    clean_lines = set(clean["source_line"])
    rejected_lines = set(all_rejects["source_line"].dropna())
    if clean_lines & rejected_lines:
        raise AccountingError(f"{raw.name}: lines both clean and rejected: "
                              f"{sorted(clean_lines & rejected_lines)[:10]}")
    accounting = FileAccounting(
        source_file=raw.name,
        sha256=raw.sha256,
        dataset=dataset or table,
        rows_read=raw.rows_read - filtered,
        rows_clean=len(clean_lines),
        rows_rejected=len(rejected_lines) + int(all_rejects["source_line"].isna().sum()),
        rows_split=len(split) - len(clean_lines),
        rows_merged=len(split) - len(out),
        rows_out=len(out),
        rows_filtered=filtered,
        repairs=[*raw.repairs, *_row_repairs(clean)],
    )
    return SourceResult(table=rows, rejects=all_rejects, accounting=accounting.check(),
                        facts=dict(facts or {}))


def _row_repairs(clean: pd.DataFrame) -> list[str]:
    """The cleaning steps' per-row repairs (``steps.note_repairs``), one line per kind."""
    if REPAIRS not in clean.columns:
        return []
    lines: dict[str, set[int]] = {}
    for notes, line in zip(clean[REPAIRS], clean["source_line"], strict=True):
        for note in notes if isinstance(notes, tuple) else ():  # None, or NaN after a merge
            lines.setdefault(note, set()).add(int(line))
    return [f"{note} ({len(found)} row(s): line {', '.join(map(str, sorted(found)[:10]))}"
            f"{', ...' if len(found) > 10 else ''})" for note, found in sorted(lines.items())]


def _finish_arrow(raw, table: str, clean: pa.Table, rejects: list, out: pa.Table,
                  dataset: str | None, facts: dict | None) -> SourceResult:
    """The Arrow path: exact types from the schema, one row per line, rejects as records.

    ``rejects`` are reject records (dicts) or Arrow tables; the raw blocks' own rejects are
    records. Lines are not compared as sets here: OONI's rows are one per line by
    construction, and a set of a batch's lines would cost more than cleaning it.
    """
    schema = spool_schema(table)
    rows = out if out.schema.equals(schema) else out.select(schema.names).cast(schema)
    records = list(raw.rejects)
    tables = [r for r in rejects if isinstance(r, pa.Table)]
    records += [r for part in rejects if not isinstance(part, pa.Table) for r in part]
    reject_rows = rejects_table(records)
    if tables:
        reject_rows = pa.concat_tables([reject_rows, *tables])
    accounting = FileAccounting(
        source_file=raw.name,
        sha256=raw.sha256,
        dataset=dataset or table,
        rows_read=raw.rows_read,
        rows_clean=clean.num_rows,
        rows_rejected=reject_rows.num_rows,
        rows_out=rows.num_rows,
        repairs=list(raw.repairs),
    )
    return SourceResult(table=rows, rejects=reject_rows, accounting=accounting.check(),
                        facts=dict(facts or {}))


def spool_schema(table: str) -> pa.Schema:
    """The table's Arrow columns and types as data moves between stages (no nullability).

    Derived from ``schema.py`` so an intermediate file (OONI's spool) can never disagree with
    the data dictionary; nullability and descriptions are checked when the table is written.
    """
    return pa.schema([pa.field(f.name, f.type) for f in arrow_schema(table)])
