"""Source-agnostic machinery every output relies on.

Row accounting (``accounting``), provenance records (``provenance``), the rejects table
(``rejects``), Parquet storage with content hashes and atomic writes (``storage``) and the raw-file
checksum registry (``checksums``). Nothing here knows a source, a driver or a file layout beyond
one file: it imports only ``censorlab.schema``, ``censorlab.errors`` and ``censorlab.paths``.
"""
