"""Simulate OONI-format measurements for tests, benchmarks and method notebooks.

Everything this module writes is SYNTHETIC: every record carries
``software_name="censorlab-simulator"`` and ``annotations.synthetic = "true"`` so that no
simulated row can be mistaken for a real OONI measurement once it sits next to real data. Test
and engine versions are those a probe of the day ran (``annotations.engine_version`` from
3.17.2 on after 2023-05-02), so OONI's reliability rules leave simulated data alone unless a
scenario sets an old ``test_version`` on purpose.

The records follow the OONI base data format (``ooni/spec`` ``df-000-base.md``) and the
``test_keys`` of the five tests censorlab reads (``ts-018`` whatsapp, ``ts-019``
facebook_messenger, ``ts-020`` telegram, ``ts-029`` signal, ``ts-017`` web_connectivity), with
parent keys (``network_events``, ``queries``, ``tcp_connect``) so that each line is 1-2 KB like a
real one. They carry the messiness seen in real dumps, each switch in :class:`Messiness`:
withheld probes (``ZZ`` / ``AS0``), re-published duplicates, missing ``test_keys``,
pre-0.4.0 facebook_messenger hyphenated keys, and (at write time) truncated lines.

The scenario API describes what a researcher wants to see in the data: a block that starts on
``onset_day`` and (maybe) ends on ``lift_day``; during it a share of measurements show blocking,
outside it only the base failure share is noisy::

    records = simulate_measurements(
        [BlockScenario("RU", "telegram", date(2018, 4, 1), date(2018, 5, 31),
                       onset_day=date(2018, 4, 16), lift_day=None,
                       blocked_share_during=0.8, base_failure_share=0.05,
                       measurements_per_day=40)],
        seed=1,
    )
    write_jsonl_gz(records, "raw/telegram.jsonl.gz")

The generator is deterministic for a given seed and scenario list.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import random
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

SOFTWARE_NAME = "censorlab-simulator"
SOFTWARE_VERSION = "1.0"

TEST_NAMES = ("whatsapp", "telegram", "facebook_messenger", "signal", "web_connectivity")

# Default network per country: (ASN, network name). Synthetic values, not a survey of real ISPs.
DEFAULT_ASNS = {
    "RU": (12389, 8359, 31213),
    "IR": (58224, 197207, 44244),
    "CN": (4134, 4837),
    "IT": (30722, 3269),
    "BR": (28573, 7738),
}

# Web Connectivity inputs: service front doors plus an unrelated control URL.
WEB_INPUTS = {
    "telegram": ("https://web.telegram.org/", "https://t.me/"),
    "whatsapp": ("https://web.whatsapp.com/", "https://www.whatsapp.com/"),
    "facebook-messenger": ("https://www.messenger.com/",),
    "signal": ("https://signal.org/",),
    None: ("https://www.example.org/", "http://www.example.com/"),
}

TELEGRAM_DCS = ("149.154.175.50", "149.154.167.51", "149.154.175.100", "149.154.167.91",
                "149.154.171.5")
FACEBOOK_ENDPOINTS = ("stun", "b_api", "b_graph", "edge", "external_cdn", "scontent_cdn", "star")
FAILURES = ("generic_timeout_error", "connection_reset", "connection_refused",
            "ssl_invalid_hostname", "dns_nxdomain_error")


@dataclass(frozen=True)
class BlockScenario:
    """One country's measurements of one test over a period, with an optional block.

    Attributes:
        probe_cc: ISO alpha-2 country of the probes.
        test_name: One of :data:`TEST_NAMES`.
        start_day: First simulated day (inclusive).
        end_day: Last simulated day (inclusive).
        onset_day: First day of the block, or None for no block at all.
        lift_day: First day without the block again, or None if it lasts past ``end_day``.
        blocked_share_during: Share (0-1) of measurements showing blocking during the block.
        base_failure_share: Share (0-1) of measurements that fail (verdict ``failure``) any day.
        measurements_per_day: Measurements per day (before duplicates are added).
        probe_asns: ASNs the probes sit in; defaults to a synthetic list per country.
        test_version: ``test_version`` written; None picks a realistic one per test and day.
        web_service: For web_connectivity, which service's URLs are measured (None: control URLs).
    """

    probe_cc: str
    test_name: str
    start_day: date
    end_day: date
    onset_day: date | None = None
    lift_day: date | None = None
    blocked_share_during: float = 0.9
    base_failure_share: float = 0.02
    measurements_per_day: int = 24
    probe_asns: tuple[int, ...] | None = None
    test_version: str | None = None
    web_service: str | None = "telegram"

    def is_blocked_on(self, day: date) -> bool:
        """Return whether the block is in force on ``day``."""
        if self.onset_day is None or day < self.onset_day:
            return False
        return self.lift_day is None or day < self.lift_day


@dataclass(frozen=True)
class Messiness:
    """Shares of the usual defects of raw OONI dumps (all 0 gives clean data).

    Attributes:
        withheld_share: Records with probe_cc ``ZZ`` or probe_asn ``AS0``.
        duplicate_share: Records emitted twice (same measurement_uid), like re-published reports.
        no_test_keys_share: Records whose ``test_keys`` is null.
        legacy_facebook_share: facebook_messenger records written as test_version 0.3.0 with
            hyphenated keys (``facebook-tcp-blocking``), as before 0.4.0.
    """

    withheld_share: float = 0.01
    duplicate_share: float = 0.005
    no_test_keys_share: float = 0.002
    legacy_facebook_share: float = 0.2


CLEAN = Messiness(0.0, 0.0, 0.0, 0.0)


@dataclass
class _Outcome:
    verdict: str  # ok | blocked | failure
    rng: random.Random = field(repr=False)


def simulate_measurements(
    scenarios: Iterable[BlockScenario],
    seed: int = 0,
    messiness: Messiness = Messiness(),
) -> Iterator[dict]:
    """Yield synthetic OONI measurements, day by day, for every scenario.

    Args:
        scenarios: What to simulate; each scenario is independent.
        seed: Seed of the private random generator (the global one is never touched).
        messiness: Shares of defects to inject (see :class:`Messiness`).

    Yields:
        One dict per measurement in OONI's raw JSON layout; duplicates are yielded right after
        their original, exactly equal.
    """
    rng = random.Random(seed)
    for scenario in scenarios:
        if scenario.test_name not in TEST_NAMES:
            raise ValueError(f"unknown test_name {scenario.test_name!r}; use one of {TEST_NAMES}")
        asns = scenario.probe_asns or DEFAULT_ASNS.get(scenario.probe_cc, (64500,))
        day = scenario.start_day
        while day <= scenario.end_day:
            blocked_today = scenario.is_blocked_on(day)
            for _ in range(scenario.measurements_per_day):
                draw = rng.random()
                if draw < scenario.base_failure_share:
                    verdict = "failure"
                elif blocked_today and rng.random() < scenario.blocked_share_during:
                    verdict = "blocked"
                else:
                    verdict = "ok"
                record = _make_record(scenario, day, rng.choice(asns), verdict, rng, messiness)
                yield record
                if rng.random() < messiness.duplicate_share:
                    yield record
            day += timedelta(days=1)


def _make_record(
    scenario: BlockScenario, day: date, asn: int, verdict: str, rng: random.Random,
    messiness: Messiness,
) -> dict:
    start = datetime(day.year, day.month, day.day) + timedelta(seconds=rng.randrange(86400))
    start_text = start.strftime("%Y-%m-%d %H:%M:%S")
    probe_cc, probe_asn = scenario.probe_cc, f"AS{asn}"
    if rng.random() < messiness.withheld_share:
        if rng.random() < 0.5:
            probe_cc = "ZZ"
        else:
            probe_asn = "AS0"
    test = scenario.test_name
    version = scenario.test_version or _default_version(test, day)
    legacy_fb = test == "facebook_messenger" and scenario.test_version is None and (
        rng.random() < messiness.legacy_facebook_share
    )
    if legacy_fb:
        version = "0.3.0"
    stamp = start.strftime("%Y%m%dT%H%M%SZ")
    token = f"{rng.getrandbits(64):016x}"
    report_id = f"{stamp}_{test.replace('_', '')}_{probe_cc}_{asn}_n1_{token}"
    input_ = None
    if test == "web_connectivity":
        input_ = rng.choice(WEB_INPUTS.get(scenario.web_service, WEB_INPUTS[None]))
    uid_hash = hashlib.sha256(f"{report_id}|{input_}".encode()).hexdigest()[:16]
    received = start + timedelta(seconds=rng.randrange(1, 120))
    measurement_uid = (
        f"{received.strftime('%Y%m%d%H%M%S')}.{rng.randrange(10**6):06d}_{probe_cc}_{test}_{uid_hash}"
    )
    outcome = _Outcome(verdict, rng)
    if rng.random() < messiness.no_test_keys_share:
        test_keys = None
    else:
        test_keys = _TEST_KEYS[test](outcome, version)
        if legacy_fb:
            test_keys = {k.replace("_", "-") if k.startswith("facebook_") else k: v
                         for k, v in test_keys.items()}
    return {
        "annotations": {
            "architecture": "amd64",
            "engine_name": "censorlab-simulator",
            "engine_version": _engine_version(day),
            "platform": "linux",
            "synthetic": "true",
        },
        "data_format_version": "0.2.0",
        "extensions": {"dnst": 0, "httpt": 0, "netevents": 0, "tcpconnect": 0,
                       "tlshandshake": 0, "tunnel": 0},
        "input": input_,
        "measurement_start_time": start_text,
        "measurement_uid": measurement_uid,
        "probe_asn": probe_asn,
        "probe_cc": probe_cc,
        "probe_ip": "127.0.0.1",
        "probe_network_name": f"Synthetic network {asn}",
        "report_id": report_id,
        "resolver_asn": probe_asn,
        "resolver_ip": f"10.{asn % 250}.{rng.randrange(250)}.{rng.randrange(250)}",
        "resolver_network_name": f"Synthetic network {asn}",
        "software_name": SOFTWARE_NAME,
        "software_version": SOFTWARE_VERSION,
        "test_keys": test_keys,
        "test_name": test,
        "test_runtime": round(rng.uniform(0.3, 9.0), 6),
        "test_start_time": start_text,
        "test_version": version,
    }


def _default_version(test: str, day: date) -> str:
    if test == "telegram":
        return "0.3.0" if day >= date(2022, 12, 7) else "0.2.0"
    if test == "signal":  # the fixed version of the day, so OONI's rules (reliability.py) pass
        return ("0.2.0" if day < date(2022, 10, 19) else "0.2.2" if day < date(2023, 11, 7)
                else "0.2.5")
    return {"whatsapp": "0.9.0", "facebook_messenger": "0.4.0", "web_connectivity": "0.4.1"}[test]


def _engine_version(day: date) -> str:
    """A probe-engine version of the day: none older than 3.17.2 after 2023-05-02 (backend#679)."""
    return "3.16.5" if day < date(2023, 5, 2) else "3.19.0" if day < date(2024, 3, 1) else "3.21.0"


def _failure(o: _Outcome) -> str:
    return o.rng.choice(FAILURES)


def _events(o: _Outcome, addresses: Iterable[str], failed: bool) -> list[dict]:
    events, t = [], round(o.rng.uniform(0.0, 0.01), 6)
    for address in addresses:
        t += round(o.rng.uniform(0.01, 0.2), 6)
        failure = _failure(o) if failed else None
        events.append({"address": address, "failure": failure, "operation": "connect",
                       "proto": "tcp", "t": round(t, 9)})
        if not failed:
            events.append({"failure": None, "num_bytes": o.rng.randrange(300, 4000),
                           "operation": "read", "t": round(t + 0.03, 9)})
    return events


def _query(o: _Outcome, hostname: str, ip: str, asn: int, failed: bool) -> dict:
    answers = [] if failed else [{"asn": asn, "as_org_name": "Synthetic AS", "answer_type": "A",
                                  "ipv4": ip, "ttl": None}]
    return {"answers": answers, "engine": "system", "failure": _failure(o) if failed else None,
            "hostname": hostname, "query_type": "A", "resolver_hostname": None,
            "resolver_port": None, "resolver_address": "", "t": round(o.rng.uniform(0, 0.1), 6)}


def _tcp(o: _Outcome, ip: str, port: int, failed: bool) -> dict:
    return {"ip": ip, "port": port, "status": {"failure": _failure(o) if failed else None,
                                                "success": not failed},
            "t": round(o.rng.uniform(0, 1), 6)}


def _keys_telegram(o: _Outcome, version: str) -> dict:
    blocked = o.verdict == "blocked"
    tcp_blocked = blocked and o.rng.random() < 0.7
    web_blocked = blocked and not tcp_blocked
    keys = {
        "agent": "redirect", "failed_operation": None, "failure": None,
        "network_events": _events(o, [f"{ip}:443" for ip in TELEGRAM_DCS[:2]], tcp_blocked),
        "queries": [_query(o, "web.telegram.org", "149.154.167.99", 62041, False)],
        "tcp_connect": [_tcp(o, ip, 443, tcp_blocked) for ip in TELEGRAM_DCS[:3]],
        "telegram_http_blocking": tcp_blocked,
        "telegram_tcp_blocking": tcp_blocked,
        "telegram_web_failure": _failure(o) if web_blocked else None,
        "telegram_web_status": "blocked" if web_blocked else "ok",
    }
    if o.verdict == "failure":
        keys.update(telegram_http_blocking=None, telegram_tcp_blocking=None,
                    telegram_web_status=None, failure="generic_timeout_error")
    return keys


def _keys_whatsapp(o: _Outcome, version: str) -> dict:
    blocked = o.verdict == "blocked"
    which = o.rng.choice(("endpoints", "registration", "web")) if blocked else None
    endpoints = [f"e{i}.whatsapp.net" for i in range(1, 5)]
    keys = {
        "agent": "redirect", "failed_operation": None, "failure": None,
        "network_events": _events(o, [f"157.240.{i}.53:443" for i in range(1, 3)],
                                  which == "endpoints"),
        "queries": [_query(o, endpoints[0], "157.240.1.53", 32934, False)],
        "tcp_connect": [_tcp(o, f"157.240.{i}.53", 5222, which == "endpoints")
                        for i in range(1, 4)],
        "registration_server_failure": _failure(o) if which == "registration" else None,
        "registration_server_status": "blocked" if which == "registration" else "ok",
        "whatsapp_endpoints_blocked": endpoints if which == "endpoints" else [],
        "whatsapp_endpoints_dns_inconsistent": [],
        "whatsapp_endpoints_status": "blocked" if which == "endpoints" else "ok",
        "whatsapp_web_failure": _failure(o) if which == "web" else None,
        "whatsapp_web_status": "blocked" if which == "web" else "ok",
    }
    if o.verdict == "failure":
        keys.update(registration_server_status=None, whatsapp_endpoints_status=None,
                    whatsapp_web_status=None, failure="generic_timeout_error")
    return keys


def _keys_facebook(o: _Outcome, version: str) -> dict:
    blocked = o.verdict == "blocked"
    dns_blocked = blocked and o.rng.random() < 0.4
    tcp_blocked = blocked and not dns_blocked
    keys: dict = {"agent": "redirect", "socksproxy": None}
    for endpoint in FACEBOOK_ENDPOINTS:
        keys[f"facebook_{endpoint}_dns_consistent"] = not dns_blocked
        keys[f"facebook_{endpoint}_reachable"] = None if endpoint == "stun" else not tcp_blocked
    keys["facebook_dns_blocking"] = dns_blocked
    keys["facebook_tcp_blocking"] = tcp_blocked
    keys["queries"] = [_query(o, "b-api.facebook.com", "31.13.86.37", 32934, False),
                       _query(o, "edge-mqtt.facebook.com", "31.13.86.2", 32934, False)]
    keys["tcp_connect"] = [_tcp(o, ip, 443, tcp_blocked)
                           for ip in ("31.13.86.8", "31.13.86.37", "31.13.86.4")]
    if o.verdict == "failure":
        keys.update(facebook_dns_blocking=None, facebook_tcp_blocking=None)
    return keys


def _keys_signal(o: _Outcome, version: str) -> dict:
    blocked = o.verdict == "blocked"
    hosts = ("textsecure-service.whispersystems.org", "storage.signal.org", "cdn.signal.org")
    keys = {
        "agent": "redirect", "failed_operation": None, "failure": None,
        "network_events": _events(o, [f"76.223.92.{i}:443" for i in range(1, 3)], blocked),
        "queries": [_query(o, h, f"76.223.92.{i}", 16509, False)
                    for i, h in enumerate(hosts[:2], start=1)],
        "tcp_connect": [_tcp(o, f"76.223.92.{i}", 443, blocked) for i in range(1, 4)],
        "signal_backend_failure": _failure(o) if blocked else None,
        "signal_backend_status": "blocked" if blocked else "ok",
    }
    if o.verdict == "failure":
        keys.update(signal_backend_status=None, failure="generic_timeout_error")
    return keys


def _keys_web(o: _Outcome, version: str) -> dict:
    blocked = o.verdict == "blocked"
    blocking = o.rng.choice(("dns", "tcp_ip", "http-diff", "http-failure")) if blocked else False
    keys = {
        "agent": "redirect", "client_resolver": "10.0.0.1", "retries": None, "socksproxy": None,
        "network_events": _events(o, ["93.184.216.34:443"], blocking == "tcp_ip"),
        "queries": [_query(o, "example.org", "93.184.216.34", 15133, blocking == "dns")],
        "tcp_connect": [_tcp(o, "93.184.216.34", 443, blocking == "tcp_ip")],
        "dns_experiment_failure": None,
        "dns_consistency": "inconsistent" if blocking == "dns" else "consistent",
        "control_failure": None,
        "http_experiment_failure": _failure(o) if blocking == "http-failure" else None,
        "body_length_match": not blocked, "body_proportion": 1 if not blocked else 0.12,
        "status_code_match": not blocked, "headers_match": not blocked,
        "title_match": not blocked, "accessible": not blocked, "blocking": blocking,
    }
    if o.verdict == "failure":
        keys.update(accessible=None, blocking=None, control_failure="generic_timeout_error")
    return keys


_TEST_KEYS = {
    "telegram": _keys_telegram,
    "whatsapp": _keys_whatsapp,
    "facebook_messenger": _keys_facebook,
    "signal": _keys_signal,
    "web_connectivity": _keys_web,
}


def write_jsonl_gz(
    records: Iterable[dict],
    path: str | Path,
    *,
    truncate_lines: Iterable[int] = (),
    compresslevel: int = 6,
) -> int:
    """Write records as OONI-style JSONL; gzip-compressed when ``path`` ends in ``.gz``.

    Args:
        records: Measurements (from :func:`simulate_measurements` or hand-made).
        path: Output file; parent directories are created.
        truncate_lines: 1-based line numbers to cut in half (a truncated JSON line, as left by
            an interrupted upload); a cut line that is the last line also loses its newline.
        compresslevel: gzip level (6 matches common tools).

    Returns:
        The number of lines written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cut = set(truncate_lines)
    lines = []
    for number, record in enumerate(records, start=1):
        text = json.dumps(record, separators=(",", ":"))
        if number in cut:
            text = text[: len(text) // 2]
        lines.append(text)
    payload = "\n".join(lines)
    if lines and len(lines) not in cut:
        payload += "\n"
    data = payload.encode("utf-8")
    if path.suffix == ".gz":
        with gzip.open(path, "wb", compresslevel=compresslevel) as handle:
            handle.write(data)
    else:
        path.write_bytes(data)
    return len(lines)


def write_stream_jsonl_gz(records: Iterable[dict], path: str | Path, compresslevel: int = 1,
                          broken_line_every: int = 0) -> int:
    """Write many records to gzip JSONL without holding them in memory (for benchmarks).

    Args:
        records: Measurements (from :func:`simulate_measurements`).
        path: Output file; parent directories are created.
        compresslevel: gzip level (1: fast to write, as the benchmark needs).
        broken_line_every: When > 0, every n-th line is cut in half (a broken line inside the
            file, as left by a concatenation of interrupted uploads).

    Returns:
        The number of lines written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with gzip.open(path, "wb", compresslevel=compresslevel) as handle:
        buffer = []
        for record in records:
            text = json.dumps(record, separators=(",", ":"))
            count += 1
            if broken_line_every and count % broken_line_every == 0:
                text = text[: len(text) // 2]
            buffer.append(text)
            if len(buffer) >= 10_000:
                handle.write(("\n".join(buffer) + "\n").encode("utf-8"))
                buffer = []
        if buffer:
            handle.write(("\n".join(buffer) + "\n").encode("utf-8"))
    return count


def cut_gzip_stream(path: str | Path, keep_fraction: float = 0.6) -> None:
    """Truncate a gzip file in place to a prefix, as an interrupted download leaves it."""
    path = Path(path)
    data = path.read_bytes()
    path.write_bytes(data[: max(20, int(len(data) * keep_fraction))])
