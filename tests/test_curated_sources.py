"""Unit tests of the curated sources on tiny literal raw files (one test file per concern)."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import BLOCK_HEADER, with_end_status

from censorlab.run.context import build_context
from censorlab.sources import block_events, diplomatic_events, mau

REPO_RAW = Path(__file__).resolve().parents[1] / "data" / "raw"


def blocks(text: str) -> str:
    """Literal block rows in the old layout, each completed with its end-status cells."""
    return "".join(with_end_status(line + "\n") for line in text.splitlines())


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    raw = tmp_path_factory.mktemp("raw")
    for name in ("services.csv", "country_aliases.csv"):
        shutil.copy(REPO_RAW / name, raw / name)
    return build_context(raw)


def _clean(module, tmp_path, text, context):
    path = tmp_path / module.RAW_FILES[0]
    path.write_text(text, encoding="utf-8")
    return module.clean(module.read(path, context), context)


def test_wechat_block_in_russia_is_cleaned_with_precision(tmp_path, context):
    text = BLOCK_HEADER + blocks(
        "RU-2017-WECHAT,Weixin,Tencent,CN,Russia,Roskomnadzor,2017-05-04,day,2017-05-11,day,"
        "full,yes,149-FZ,,https://a.example/1,https://b.example/2,high: registry entry\n")
    result = _clean(block_events, tmp_path, text, context)
    row = result.table.iloc[0]
    assert (row.event_id, row.service_id, row.blocking_country, row.operator_country) == (
        "RU-2017-WECHAT", "wechat", "RU", "CN")
    assert (row.start_date, row.end_date) == (pd.Timestamp("2017-05-04"),
                                              pd.Timestamp("2017-05-11"))
    assert row.source_urls == ["https://a.example/1", "https://b.example/2"]
    assert (row.confidence, row.confidence_note) == ("high", "registry entry")
    assert result.accounting.rows_out == 1 and result.rejects.empty


def test_multi_service_row_splits_and_is_counted(tmp_path, context):
    text = BLOCK_HEADER + blocks(
        "TR-2016-X,Twitter; Facebook; YouTube,,US,TR,ISPs,2016-07-15,day,2016-07-16,day,"
        "throttling,yes,,,https://a.example/1,,high\n")
    result = _clean(block_events, tmp_path, text, context)
    assert sorted(result.table["event_id"]) == [
        "TR-2016-X:facebook", "TR-2016-X:twitter", "TR-2016-X:youtube"]
    acc = result.accounting
    assert (acc.rows_read, acc.rows_clean, acc.rows_split, acc.rows_out) == (1, 1, 2, 3)


def test_same_block_twice_merges_keeping_both_sources(tmp_path, context):
    text = BLOCK_HEADER + blocks(
        "RU-2017-LINE,LINE,,JP,RU,RKN,2017-05-02,day(approx),,,full,yes,,,https://a.example/1,,"
        "medium\n"
        "RU-2017-LINE-B,Line,,JP,RU,RKN,2017-05-03,day,,,full,yes,,,https://b.example/2,,high\n")
    result = _clean(block_events, tmp_path, text, context)
    assert len(result.table) == 1
    row = result.table.iloc[0]
    assert row.merged_from == ["RU-2017-LINE", "RU-2017-LINE-B"]
    assert row.source_urls == ["https://a.example/1", "https://b.example/2"]
    assert row.source_lines == [2, 3] and row.confidence == "medium"
    assert result.accounting.rows_merged == 1


def test_open_block_does_not_swallow_a_later_one(tmp_path, context):
    # an election-week block whose end is unknown (last confirmed on its start day)
    text = BLOCK_HEADER + (
        "UG-2016-FB,Facebook,,US,UG,UCC,2016-02-18,day,,,full,yes,,,https://a.example/1,,high,"
        "UG-2016-FB,unknown,,2016-02-18,day,\n"
        "UG-2021-FB,Facebook,,US,UG,UCC,2021-01-12,day,,,full,yes,,,https://b.example/2,,high,"
        "UG-2021-FB,in_force,,2025-01-01,day,\n")
    assert len(_clean(block_events, tmp_path, text, context).table) == 2


def test_block_confirmed_in_force_absorbs_a_later_report_of_itself(tmp_path, context):
    # confirmed in force until 2024, so a row starting in 2021 describes the same block
    text = BLOCK_HEADER + (
        "MM-2021-FB,Facebook,,US,MM,MoTC,2021-02-04,day,,,full,yes,,,https://a.example/1,,high,"
        "MM-2021-FB,in_force,,2024-06-13,day,\n"
        "MM-2021-FB-B,Facebook,,US,MM,MoTC,2021-02-05,day,,,full,yes,,,https://b.example/2,,high,"
        "MM-2021-FB-B,unknown,,2021-02-05,day,\n")
    table = _clean(block_events, tmp_path, text, context).table
    assert len(table) == 1
    row = table.iloc[0]
    assert row.merged_from == ["MM-2021-FB", "MM-2021-FB-B"]
    assert (row.end_status, row.last_confirmed_date) == ("in_force", pd.Timestamp("2024-06-13"))


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("X-1,WeChat,,CN,Narnia,A,2017-05-04,day,,,full,yes,,,https://a.example,,high",
         "unknown-country"),
        ("X-1,WeChatt,,CN,RU,A,2017-05-04,day,,,full,yes,,,https://a.example,,high",
         "unknown-service"),
        ("X-1,WeChat,,CN,RU,A,2017-05-11,day,2017-05-04,day,full,yes,,,https://a.example,,high",
         "end-before-start"),
        ("X-1,WeChat,,CN,RU,A,05/04/2017,day,,,full,yes,,,https://a.example,,high",
         "type-error"),
        ("X-1,WeChat,,CN,RU,A,2017-05-04,day,,,total,yes,,,https://a.example,,high",
         "constraint-error"),
        ("X-1,WeChat,,CN,RU,A,2017-05-04,day,,,full,yes,,,,,high", "missing-cell"),
        ("X-1,WeChat,,CN,RU,A,2017-05-04,day,,,full,yes,,,https://a.example,,sure",
         "constraint-error"),
    ],
)
def test_bad_block_rows_are_rejected_with_reason(tmp_path, context, row, reason):
    result = _clean(block_events, tmp_path, BLOCK_HEADER + blocks(row), context)
    assert result.table.empty
    assert result.rejects[["source_line", "reason_code"]].values.tolist() == [[2, reason]]
    assert result.accounting.rows_rejected == 1


def test_mau_units_geo_and_metric(tmp_path, context):
    text = (
        "service,operator,period_end,period_precision,mau_millions,scope,metric_as_reported,"
        "source_url,confidence,notes,metric_kind\n"
        "WeChat/Weixin,Tencent,2016-12,quarter,889,global,Combined MAU of Weixin and WeChat,"
        "https://a.example,high,,mau\n"
        "Telegram,Telegram,2017-06,month,over 8[2],RU,users in Russia,https://b.example,low,,"
        "users\n"
        "QQ,Tencent,2017-06,quarter,1.2B,non-CN,monthly active users,https://c.example,low,,mau\n")
    table = _clean(mau, tmp_path, text, context).table.sort_values("source_line")
    assert table["mau"].tolist() == [889_000_000, 8_000_000, 1_200_000_000]
    assert table["geo"].tolist() == ["WORLD", "RU", "WORLD_EX_CN"]
    assert table["period_end"].tolist() == [pd.Timestamp("2016-12-31"),
                                           pd.Timestamp("2017-06-30"),
                                           pd.Timestamp("2017-06-30")]
    assert table["is_mau"].tolist() == [True, False, True]
    assert table["mau_qualifier"].tolist()[1] == "at_least"


def test_diplomatic_event_ids_are_stable_and_duplicates_merge(tmp_path, context):
    line = ("2016-06-25,day,RU,CN,agreement,Joint statement on information space,,"
            "RU-2017-WECHAT,{url},high,block-linked,agreement,\n")
    text = ("date,date_precision,country_a,country_b,kind,title,notes,related_block_event_ids,"
            "source_url,confidence,compiled_by,contact_level,sweep_source\n"
            + line.format(url="https://a.example")
            + line.format(url="https://b.example"))
    result = _clean(diplomatic_events, tmp_path, text, context)
    row = result.table.iloc[0]
    assert len(result.table) == 1 and row.event_id.startswith("DIP-2016-06-25-RU-CN-agreement-")
    assert row.source_urls == ["https://a.example", "https://b.example"]
    assert row.related_block_event_ids == ["RU-2017-WECHAT"]
    assert result.accounting.rows_merged == 1


def test_reused_event_id_on_another_period_is_a_primary_key_reject(tmp_path, context):
    text = BLOCK_HEADER + blocks(
        "RU-X,Telegram,,AE,RU,RKN,2018-04-16,day,2020-06-18,day,full,yes,,,https://a.example,,"
        "high\n"
        "RU-X,Telegram,,AE,RU,RKN,2022-01-01,day,2022-02-01,day,full,yes,,,https://b.example,,"
        "high\n")
    result = _clean(block_events, tmp_path, text, context)
    assert result.table["start_date"].tolist() == [pd.Timestamp("2018-04-16")]
    assert result.rejects[["source_line", "reason_code"]].values.tolist() == [[3, "primary-key"]]
    assert result.accounting.rows_rejected == 1
