"""Access Now STOP exports: constructed fixtures with the recent and an older header."""

from pathlib import Path

import pandas as pd
import pytest

import censorlab
from censorlab.run.driver import run_ingest

FIXTURES = Path(__file__).parent / "fixtures" / "stop"
RECENT = FIXTURES / "stop_recent.csv"
OLD = FIXTURES / "stop_2019.csv"


@pytest.fixture(scope="module")
def context(reference_context):
    return reference_context


def ingest(paths, out, context, **options):
    return run_ingest("stop", paths, out, context=context, **options).manifest


@pytest.fixture(scope="module")
def built(tmp_path_factory, context):
    out = tmp_path_factory.mktemp("stop")
    manifest = ingest([RECENT, OLD], out, context)
    return out, manifest, censorlab.load("stop_events", out).set_index("event_id")


def test_counts_and_accounting(built):
    _, manifest, _ = built
    assert manifest["summary"] == {"files": 2, "rows_in": 16, "rows_out": 12, "rows_rejected": 9,
                                   "rows_filtered": 0, "rows_split": 6, "rows_merged": 1,
                                   "file_errors": 0}
    recent, old = manifest["inputs"]["stop_recent.csv"], manifest["inputs"]["stop_2019.csv"]
    assert (recent["rows_read"], recent["rows_clean"], recent["rows_rejected"],
            recent["rows_split"], recent["rows_merged"], recent["rows_out"]) == (13, 5, 8, 5, 1, 9)
    assert (old["rows_read"], old["rows_clean"], old["rows_rejected"], old["rows_split"],
            old["rows_out"]) == (3, 2, 1, 1, 3)


def test_multi_country_service_block_splits(built):
    _, _, table = built
    line3 = table[(table.source_file == "stop_recent.csv") & (table.source_line == 3)]
    assert sorted(zip(line3.blocking_country, line3.service_id, strict=True)) == [
        ("IQ", "instagram"), ("IQ", "whatsapp"), ("IQ", "youtube"),
        ("IR", "instagram"), ("IR", "whatsapp"), ("IR", "youtube")]
    assert line3.is_ongoing.all() and line3.end_date.isna().all()
    assert set(line3.affected_service_raw) == {"instagram_affected", "whatsapp_affected",
                                               "YouTube"}
    assert line3.source_urls.iloc[0] == ["https://news.example/b", "https://news.example/c"]


def test_network_shutdown_and_durations(built):
    _, _, table = built
    india = table.loc["STOP-stop_recent-2-IN"]
    assert (india.blocking_country, india.start_date, india.end_date) == (
        "IN", pd.Timestamp("2023-01-15"), pd.Timestamp("2023-01-18"))
    assert not india.is_service_based and pd.isna(india.service_id)
    assert india.is_ongoing == False  # noqa: E712 - pandas boolean scalar
    assert india.reported_duration_text == "72" and pd.isna(india.reported_duration_hours)
    assert (india.authority, india.legal_basis) == ("State government", "Public safety")
    assert table.loc["STOP-stop_recent-4-TR-twitter"].reported_duration_hours == 12.0
    myanmar = table.loc["STOP-stop_recent-11-MM"]
    assert myanmar.is_service_based and pd.isna(myanmar.service_id)
    assert myanmar.reported_duration_text == "Curfew Style"
    assert pd.isna(myanmar.reported_duration_hours) and pd.isna(myanmar.end_date)


def test_older_header_is_aligned(built):
    _, _, table = built
    sudan = table.loc["STOP-stop_2019-2-SD"]
    assert sudan.reported_duration_hours == 864.0 and sudan.reported_duration_text == "36 days"
    assert sudan.legal_basis == "National security"
    assert sudan.source_urls == ["https://news.example/sd"] and pd.isna(sudan.is_ongoing)
    congo = table[table.blocking_country == "CD"]
    assert sorted(congo.service_id) == ["facebook", "whatsapp"]
    assert (congo.reported_duration_hours == 20.0).all()


def test_rejects(built):
    out, _, _ = built
    rejects = censorlab.load("rejects", out)
    got = {(r.source_file, r.source_line): r.reason_code for r in rejects.itertuples()}
    assert got == {
        ("stop_2019.csv", 4): "constraint-error",
        ("stop_recent.csv", 5): "type-error",
        ("stop_recent.csv", 6): "type-error",
        ("stop_recent.csv", 7): "unknown-country",
        ("stop_recent.csv", 8): "constraint-error",
        ("stop_recent.csv", 9): "end-before-start",
        ("stop_recent.csv", 10): "constraint-error",
        ("stop_recent.csv", 12): "missing-cell",
        ("stop_recent.csv", 13): "extra-cell",
    }
    detail = rejects.set_index("source_line").detail
    assert "Ongoing but an end_date" in detail[10]
    assert "2023-03-04" in detail[5]


def test_dask_engine_gives_the_same_content_hash(built, tmp_path, context):
    _, manifest, _ = built
    other = ingest([RECENT, OLD], tmp_path, context, engine="dask", scheduler="synchronous")
    assert other == manifest


def test_cli_ingest(tmp_path):
    from censorlab.cli import main

    assert main(["ingest", "stop", str(FIXTURES), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "stop_events.parquet").exists()
    assert censorlab.load_manifest(tmp_path)["inputs"]["stop/stop_recent.csv"]["rows_read"] == 13
