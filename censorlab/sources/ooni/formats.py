"""What OONI's files look like: the tests read, the keys kept, and the Arrow shapes in between.

Base keys follow ``ooni/spec`` ``data-formats/df-000-base.md``; the ``test_keys`` of each test
follow its ``nettests/ts-*.md`` spec. Only the keys a verdict or an output column needs are
read (``RAW_SCHEMA``); every other key of a line is ignored. The shape of the rows between the
two stages of the ingest (``SPOOL_SCHEMA``) and of the output are derived from the data
dictionary in ``censorlab/schema.py``, never re-typed here.
"""

from __future__ import annotations

import pyarrow as pa

from censorlab.cleaning import spool_schema

TABLE = "ooni_measurements"
DATASET = "ooni"  # the `dataset` of every reject and accounting entry
FILE_SUFFIXES = (".jsonl", ".jsonl.gz", ".json.gz", ".json")  # .json: see parse.py

TESTS = ("whatsapp", "telegram", "facebook_messenger", "signal", "web_connectivity")
SERVICE_BY_TEST = {
    "whatsapp": "whatsapp",
    "telegram": "telegram",
    "facebook_messenger": "facebook-messenger",
    "signal": "signal",
}
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"

TOP_STRING_KEYS = ("measurement_uid", "measurement_start_time", "probe_cc", "probe_asn",
                   "test_name", "test_version", "input", "report_id", "software_name",
                   "software_version")
TK_BOOL_KEYS = ("telegram_tcp_blocking", "telegram_http_blocking", "facebook_tcp_blocking",
                "facebook_dns_blocking", "facebook-tcp-blocking", "facebook-dns-blocking",
                "accessible")
TK_STRING_KEYS = ("telegram_web_status", "whatsapp_endpoints_status",
                  "registration_server_status", "whatsapp_web_status", "signal_backend_status",
                  "blocking", "whatsapp_web_failure")
TEST_KEYS_TYPE = pa.struct([pa.field(k, pa.bool_()) for k in TK_BOOL_KEYS]
                           + [pa.field(k, pa.string()) for k in TK_STRING_KEYS])
ANNOTATION_KEYS = ("engine_version",)  # read by a reliability rule (reliability.py)
ANNOTATIONS_TYPE = pa.struct([pa.field(k, pa.string()) for k in ANNOTATION_KEYS])
RAW_SCHEMA = pa.schema([pa.field(k, pa.string()) for k in TOP_STRING_KEYS]
                       + [pa.field("test_keys", TEST_KEYS_TYPE),
                          pa.field("annotations", ANNOTATIONS_TYPE)])

PARTITION_COLUMNS = ("test_name", "measurement_month")
SPOOL_SCHEMA = spool_schema(TABLE)  # the table's columns and types from schema.py
OUTPUT_COLUMNS = tuple(SPOOL_SCHEMA.names)
