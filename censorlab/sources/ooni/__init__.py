"""OONI raw measurements (JSONL) -> one row per measurement with a verdict.

Who publishes it: the Open Observatory of Network Interference (OONI). Volunteers run OONI Probe;
every measurement is published as JSON, one per line, in gzip-compressed JSONL files of the
public S3 bucket ``ooni-data-eu-fra``, laid out as
``raw/<YYYYMMDD>/<HH>/<CC>/<testname>/<...>.jsonl.gz`` (``censorlab fetch ooni`` downloads
from the API into plain per-day files of the same JSONL format). A single measurement saved as
a ``.json`` file -- pretty-printed, compact, or the API's ``measurement_meta`` response with
its ``raw_measurement`` body and OONI's ``measurement_uid`` -- is read too (``parse.py``).

Layout of one line (trimmed)::

    {"measurement_start_time": "2022-12-07 10:51:55", "probe_cc": "IT", "probe_asn": "AS30722",
     "report_id": "...", "input": null, "test_name": "telegram", "test_version": "0.3.0",
     "software_name": "miniooni", "software_version": "3.17.0-alpha",
     "test_keys": {"telegram_tcp_blocking": false, ...}, ...}

The subpackage, in the order a line goes through it:

* ``formats``: the tests, the keys read, the Arrow shapes (derived from ``schema.py``);
* ``parse``: bytes -> blocks of lines -> raw columns (quirks of lines: cut, not JSON, 0/1);
* ``cleaning``: raw columns -> rows or rejects (withheld probes, impossible times, uids,
  services);
* ``verdicts``: what the test keys say, one rule per test -- the file a reviewer reads;
* ``reliability``: OONI's dated rules for data known to be unreliable, whatever its keys say;
* ``spool``: stage 1, per raw file: parse, clean and spool rows by (test, UTC day);
* ``dataset``: stage 2, per (test, month): dedup, sort, write partitions, the ordered hash;
* ``writer``: both stages on the run's engine, the rejects merged, each file's proof;
* ``fetch`` and ``simulate``: download from OONI's API, and synthetic lines in the real format.

How the ingest scales: see ``docs/scaling.md``.
"""

from censorlab.core.provenance import Provenance
from censorlab.sources.ooni.cleaning import clean
from censorlab.sources.ooni.formats import FILE_SUFFIXES, TABLE
from censorlab.sources.ooni.parse import read
from censorlab.sources.ooni.writer import write

PROVENANCE = Provenance(
    name="ooni",
    producer="Open Observatory of Network Interference (OONI)",
    url="https://ooni.org/data/",
    licence="CC BY-NC-SA 4.0 (OONI measurement data)",
    description="Raw network measurements from OONI Probe volunteers, one JSON object per line, "
    "for the whatsapp, telegram, facebook_messenger, signal and web_connectivity tests.",
    citation="OONI, Open Observatory of Network Interference, https://ooni.org/data/",
)

__all__ = ["FILE_SUFFIXES", "PROVENANCE", "TABLE", "clean", "read", "write"]
