"""Readers that turn raw bytes into strings without judging them.

``delimited`` reads CSV/TSV exports strictly (declared encoding, header checks, cell-count and
field-size rejects, a source line per row) into a :class:`~censorlab.reading.delimited.RawFile`;
``lineblocks`` cuts large (gzipped) JSONL into blocks of whole lines read in parallel. Sources
build their ``read`` on these and never decode or split bytes themselves.
"""
