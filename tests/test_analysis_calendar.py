"""The contact calendar: which events count, where coverage is complete, GDELT, placebo shifts."""

import numpy as np
import pandas as pd
import pytest

from censorlab.analysis.contact_calendar import (
    ALL_DYADS,
    build_gdelt_contact_calendar,
    build_gdelt_coverage,
    draw_placebo_calendar,
    expand_wildcard_spans,
    select_calendar_contacts,
    select_covered_spans,
    shift_contacts_within_coverage,
)

VISITS = ("leader-visit", "minister-visit")


def _events() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "event_id": ["S1", "S2", "B1", "S3", "S4", "S5"],
            "date": ["2017-05-14", "2017-03-01", "2017-05-14", "2018-02-01", "2016-06-01",
                     "2017-06-25"],
            "latest_date": ["2017-05-14", "2017-03-31", "2017-05-14", "2018-02-01",
                            "2016-06-30", "2017-06-25"],
            "date_precision": ["day", "month", "day", "day", "month", "day"],
            "country_a": ["RU", "US", "RU", "TR", "CN", "RU"],
            "country_b": ["CN", "TR", "CN", "US", "RU", "CN"],
            "compiled_by": ["dyad-sweep", "dyad-sweep", "block-linked", "dyad-sweep",
                            "dyad-sweep", "dyad-sweep"],
            "contact_level": ["leader-visit", "minister-visit", "leader-visit", "leader-call",
                              "leader-visit", None],
        }
    )


def test_only_declared_levels_and_sweep_rows_count_dated_by_latest_day():
    contacts = select_calendar_contacts(_events(), VISITS)
    assert contacts["contact_event_id"].tolist() == ["S4", "S1", "S2"]
    assert contacts["dyad"].tolist() == ["CN-RU", "CN-RU", "TR-US"]
    # a month-precision visit switches on at the end of its month, never earlier
    assert contacts["contact_date"].tolist() == pd.to_datetime(
        ["2016-06-30", "2017-05-14", "2017-03-31"]
    ).tolist()
    with_linked = select_calendar_contacts(_events(), VISITS, ("dyad-sweep", "block-linked"))
    assert "B1" in set(with_linked["contact_event_id"])
    calls = select_calendar_contacts(_events(), ("leader-call",))
    assert calls["contact_event_id"].tolist() == ["S3"]


def test_contact_selection_refuses_unknown_levels_and_old_layouts():
    with pytest.raises(ValueError, match="unknown contact level"):
        select_calendar_contacts(_events(), ("summit",))
    with pytest.raises(ValueError, match="compiled_by"):
        select_calendar_contacts(_events().drop(columns="compiled_by"))


def _coverage() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "country_a": ["TR", "US", "TR", "RU", "RU", "RU"],
            "country_b": ["US", "TR", "US", "CN", "CN", "CN"],
            "year": [2016, 2016, 2017, 2016, 2017, 2019],
            "complete_levels": [
                ["leader-visit"],
                "minister-visit;leader-call",
                ["leader-visit", "minister-visit"],
                ["leader-visit", "minister-visit", "leader-call"],
                np.array(["leader-visit", "minister-visit"]),
                ["leader-visit", "minister-visit"],
            ],
            "incomplete_levels": [[], [], [], [], [], []],
        }
    )


def test_covered_dyad_years_need_every_declared_level_pooling_both_orders():
    spans = select_covered_spans(_coverage(), VISITS)
    assert spans.values.tolist() == [
        ["CN-RU", pd.Timestamp("2016-01-01"), pd.Timestamp("2017-12-31")],
        ["CN-RU", pd.Timestamp("2019-01-01"), pd.Timestamp("2019-12-31")],
        # (TR,US) 2016 lists leader visits, (US,TR) 2016 minister visits: pooled, complete
        ["TR-US", pd.Timestamp("2016-01-01"), pd.Timestamp("2017-12-31")],
    ]
    calls = select_covered_spans(_coverage(), ("leader-visit", "leader-call"))
    assert calls.values.tolist() == [
        ["CN-RU", pd.Timestamp("2016-01-01"), pd.Timestamp("2016-12-31")],
        ["TR-US", pd.Timestamp("2016-01-01"), pd.Timestamp("2016-12-31")],
    ]


def test_span_coverage_passes_through_and_wildcard_expands_to_every_dyad():
    gdelt = build_gdelt_coverage("2017-03-01", "2017-06-30")
    spans = select_covered_spans(gdelt, ("gdelt-contact",))
    assert spans.values.tolist() == [
        [ALL_DYADS, pd.Timestamp("2017-03-01"), pd.Timestamp("2017-06-30")]
    ]
    assert select_covered_spans(gdelt, VISITS).empty  # complete for GDELT contact only
    expanded = expand_wildcard_spans(spans, ["CN-RU", "JP-RU"])
    assert expanded["dyad"].tolist() == ["CN-RU", "JP-RU"]
    with pytest.raises(ValueError, match="before since"):
        build_gdelt_coverage("2017-06-30", "2017-03-01")


def _gdelt_events() -> pd.DataFrame:
    """A tiny literal gdelt_events frame (the ingest's output columns that matter here)."""
    rows = [
        # RU-CN 2017-05-14: two consultations + a signed agreement, 3 distinct articles
        ("GDELT-1", "2017-05-14", "RU", "CN", "042", "state_visit", 6, "https://a.example/1"),
        ("GDELT-2", "2017-05-14", "CN", "RU", "040", "negotiation", 3, "https://b.example/2"),
        ("GDELT-3", "2017-05-14", "RU", "CN", "057", "agreement", 2, "https://a.example/1"),
        # RU-CN 2017-05-15: many mentions, one article only -> below min_sources
        ("GDELT-4", "2017-05-15", "RU", "CN", "043", "state_visit", 40, "https://c.example/3"),
        # RU-JP 2017-04-27: enough of both
        ("GDELT-5", "2017-04-27", "JP", "RU", "044", "summit", 7, "https://d.example/4"),
        ("GDELT-6", "2017-04-27", "RU", "JP", "046", "negotiation", 5, "https://e.example/5"),
        # a sanction and an easing are not contact, whatever their mentions
        ("GDELT-7", "2017-04-27", "RU", "US", "163", "sanction", 99, "https://f.example/6"),
        ("GDELT-8", "2017-04-27", "RU", "US", "0811", "agreement", 99, "https://g.example/7"),
        # intent to meet (root 03)
        ("GDELT-9", "2017-06-01", "US", "RU", "036", "negotiation", 12, "https://h.example/8"),
        ("GDELT-10", "2017-06-01", "RU", "US", "036", "negotiation", 1, "https://i.example/9"),
    ]
    frame = pd.DataFrame(
        rows,
        columns=["event_id", "date", "country_a", "country_b", "cameo_code", "kind",
                 "num_mentions", "url"],
    )
    return frame.assign(
        date=pd.to_datetime(frame["date"]).dt.date,
        num_mentions=frame["num_mentions"].astype("Int64"),
        source_urls=frame["url"].map(lambda url: [url]),
    ).drop(columns="url")


def test_gdelt_calendar_keeps_dyad_days_with_enough_mentions_and_sources():
    calendar = build_gdelt_contact_calendar(_gdelt_events(), min_mentions=10, min_sources=2)
    columns = ["event_id", "country_a", "country_b", "n_events", "num_mentions_total",
               "n_sources", "cameo_codes", "kind"]
    assert calendar[columns].values.tolist() == [
        ["GDELT-DAY-JP-RU-20170427", "JP", "RU", 2, 12, 2, ["044", "046"], "negotiation"],
        ["GDELT-DAY-CN-RU-20170514", "CN", "RU", 3, 11, 2, ["040", "042", "057"], "agreement"],
        ["GDELT-DAY-RU-US-20170601", "RU", "US", 2, 13, 2, ["036"], "negotiation"],
    ]
    assert set(calendar["compiled_by"]) == {"gdelt"}
    assert set(calendar["contact_level"]) == {"gdelt-contact"}
    assert calendar[["min_mentions", "min_sources"]].drop_duplicates().values.tolist() == [[10, 2]]
    # the models read it like any calendar
    contacts = select_calendar_contacts(calendar, ("gdelt-contact",), ("gdelt",))
    assert contacts["dyad"].tolist() == ["CN-RU", "JP-RU", "RU-US"]
    stricter = build_gdelt_contact_calendar(_gdelt_events(), min_mentions=12, min_sources=2)
    assert stricter["event_id"].tolist() == [
        "GDELT-DAY-JP-RU-20170427", "GDELT-DAY-RU-US-20170601"
    ]
    single_source = build_gdelt_contact_calendar(_gdelt_events(), min_mentions=1, min_sources=1)
    assert "GDELT-DAY-CN-RU-20170515" in set(single_source["event_id"])


def test_gdelt_calendar_root_codes_are_declared_not_hard_wired():
    only_consult = build_gdelt_contact_calendar(
        _gdelt_events(), cameo_roots=("04",), cameo_codes=(), min_mentions=1, min_sources=1
    )
    assert all(code.startswith("04") for codes in only_consult["cameo_codes"] for code in codes)
    assert "GDELT-DAY-RU-US-20170601" not in set(only_consult["event_id"])


def _contacts_and_spans():
    contacts = pd.DataFrame(
        {
            "contact_event_id": ["a", "b", "c", "outside"],
            "dyad": ["CN-RU", "CN-RU", "CN-RU", "CN-RU"],
            "contact_date": pd.to_datetime(["2017-01-10", "2017-12-30", "2019-01-02",
                                            "2018-06-01"]),
            "date_precision": "day",
            "contact_level": "leader-visit",
            "compiled_by": "dyad-sweep",
        }
    )
    spans = pd.DataFrame(
        {
            "dyad": ["CN-RU", "CN-RU"],
            "covered_start_date": pd.to_datetime(["2017-01-01", "2019-01-01"]),
            "covered_end_date": pd.to_datetime(["2017-12-31", "2019-12-31"]),
        }
    )
    return contacts, spans


def test_shift_moves_contacts_circularly_through_covered_days_only():
    contacts, spans = _contacts_and_spans()
    moved = shift_contacts_within_coverage(contacts, spans, {"CN-RU": 3})
    # 2017-12-30 + 3 covered days: 12-31, then the uncovered 2018 is skipped (2019-01-01,
    # 2019-01-02); the contact in uncovered 2018 is dropped; 365 + 365 covered days wrap around
    assert moved["contact_date"].tolist() == pd.to_datetime(
        ["2017-01-13", "2019-01-02", "2019-01-05"]
    ).tolist()
    wrapped = shift_contacts_within_coverage(contacts, spans, {"CN-RU": 730})
    assert wrapped["contact_date"].tolist() == pd.to_datetime(
        ["2017-01-10", "2017-12-30", "2019-01-02"]
    ).tolist()
    back = shift_contacts_within_coverage(contacts, spans, {"CN-RU": 729})
    assert back["contact_date"].iloc[0] == pd.Timestamp("2017-01-09")


def test_placebo_calendar_is_seeded_and_keeps_count_and_spacing():
    contacts, spans = _contacts_and_spans()
    first = draw_placebo_calendar(contacts, spans, np.random.default_rng(7))
    again = draw_placebo_calendar(contacts, spans, np.random.default_rng(7))
    pd.testing.assert_frame_equal(first, again)
    assert len(first) == 3
    covered = pd.concat(
        [pd.Series(pd.date_range(s, e)) for s, e in spans[["covered_start_date",
                                                           "covered_end_date"]].values]
    )
    assert first["contact_date"].isin(set(covered)).all()
    draws = {tuple(draw_placebo_calendar(contacts, spans, np.random.default_rng(seed))
                   ["contact_date"]) for seed in range(20)}
    assert len(draws) > 10  # the shift is random, not fixed


def test_required_complete_levels_widen_coverage_to_the_declared_subset():
    coverage = pd.DataFrame(
        {
            "country_a": ["RU", "CN", "RU"],
            "country_b": ["CN", "RU", "CN"],
            "year": [2016, 2017, 2018],
            "complete_levels": [["leader-visit"], ["leader-visit", "minister-visit"], []],
        }
    )
    both = select_covered_spans(coverage, VISITS)
    assert both.astype(str).values.tolist() == [["CN-RU", "2017-01-01", "2017-12-31"]]
    leaders = select_covered_spans(coverage, VISITS, required_complete_levels=("leader-visit",))
    assert leaders.astype(str).values.tolist() == [["CN-RU", "2016-01-01", "2017-12-31"]]
    assert leaders.equals(select_covered_spans(coverage, ("leader-visit",)))
    with pytest.raises(ValueError, match="subset of contact_levels"):
        select_covered_spans(coverage, ("leader-visit",), required_complete_levels=VISITS)


def test_coverage_table_pools_both_orders_and_labels_what_is_complete():
    from censorlab.analysis.contact_calendar import tabulate_coverage

    coverage = pd.DataFrame(
        {
            "country_a": ["TR", "US", "RU"],
            "country_b": ["US", "TR", "CN"],
            "year": [2016, 2016, 2017],
            "complete_levels": [["leader-visit"], "minister-visit", []],
        }
    )
    table = tabulate_coverage(coverage)
    assert table[["dyad", "year", "coverage_label"]].values.tolist() == [
        ["CN-RU", 2017, "swept, no level complete"],
        ["TR-US", 2016, "leader-visit + minister-visit"],
    ]


def test_coverage_heatmap_leaves_unswept_cells_blank():
    import matplotlib.pyplot as plt

    from censorlab.analysis.contact_calendar import tabulate_coverage
    from censorlab.plots import plot_coverage_heatmap

    coverage = pd.DataFrame(
        {
            "country_a": ["TR", "TR", "RU"],
            "country_b": ["US", "US", "CN"],
            "year": [2015, 2017, 2017],
            "complete_levels": [["leader-visit"], ["leader-visit"], []],
        }
    )
    fig, ax = plt.subplots()
    plot_coverage_heatmap(data=tabulate_coverage(coverage), ax=ax)
    grid = ax.images[0].get_array()
    assert grid.shape == (2, 3)  # two dyads x 2015-2017
    # row 0 is the bottom row (dyads read alphabetically from the top): TR-US, 2016 unswept
    assert grid.mask.tolist() == [[False, True, False], [True, True, False]]
    assert [text.get_text() for text in ax.get_legend().get_texts()] == [
        "leader-visit", "swept, no level complete"
    ]
    plt.close(fig)
