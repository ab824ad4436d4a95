import numpy as np
import pandas as pd
import pytest

from censorlab.analysis.evidence import (
    PANEL_COLUMNS,
    corroborate,
    count_statuses,
    daily_panel,
    detect_changes,
    plot_blocked_share,
)

DAY0 = pd.Timestamp("2018-04-01")


def _measurements(cc, service, shares, per_day=20, failures=2, skip=()):
    """Literal measurements: on day i, round(shares[i]*per_day) blocked, the rest ok, + failures."""
    rows = []
    for i, share in enumerate(shares):
        if i in skip:
            continue
        blocked = round(share * per_day)
        verdicts = ["blocked"] * blocked + ["ok"] * (per_day - blocked) + ["failure"] * failures
        for j, verdict in enumerate(verdicts):
            start = DAY0 + pd.Timedelta(days=i, minutes=j)
            rows.append((cc, service, start, verdict))
    frame = pd.DataFrame(
        rows, columns=["probe_cc", "service_id", "measurement_start_time", "verdict"]
    )
    started = frame["measurement_start_time"].dt.tz_localize("UTC")
    return frame.assign(measurement_start_time=started)


def _step():
    """RU telegram: 20 days at 5%, 20 days at 80% (onset day 20), 20 days at 5% (lift day 40)."""
    return _measurements("RU", "telegram", [0.05] * 20 + [0.8] * 20 + [0.05] * 20)


def _block(event_id, cc, service, start, end=None, start_bounds=None):
    start = pd.Timestamp(start)
    end = pd.Timestamp(end) if end is not None else pd.NaT
    lo, hi = (pd.Timestamp(d) for d in start_bounds) if start_bounds else (start, start)
    return {
        "event_id": event_id,
        "blocking_country": cc,
        "service_id": service,
        "start_date": start,
        "end_date": end,
        "start_earliest_date": lo,
        "start_latest_date": hi,
        "end_earliest_date": end,
        "end_latest_date": end,
    }


def test_daily_panel_counts_verdicts_and_keeps_gaps_as_zero_rows():
    m = pd.DataFrame(
        {
            "probe_cc": ["RU", "RU", "RU", "RU", "IR"],
            "service_id": ["telegram", "telegram", "telegram", None, "whatsapp"],
            "measurement_start_time": pd.to_datetime(
                [
                    "2018-04-16 23:59:59",
                    "2018-04-16 00:00:00",
                    "2018-04-18 12:00:00",
                    "2018-04-16 10:00:00",
                    "2022-09-21 08:00:00",
                ],
                utc=True,
            ),
            "verdict": ["blocked", "failure", "ok", "blocked", "failure"],
        }
    )
    expected = pd.DataFrame(
        {
            "probe_cc": ["IR", "RU", "RU", "RU"],
            "service_id": ["whatsapp", "telegram", "telegram", "telegram"],
            "measurement_date": pd.to_datetime(
                ["2022-09-21", "2018-04-16", "2018-04-17", "2018-04-18"]
            ).astype("datetime64[ns]"),
            "n_measurements": [1, 2, 0, 1],
            "n_ok": [0, 0, 0, 1],
            "n_blocked": [0, 1, 0, 0],
            "n_failure": [1, 1, 0, 0],
            "blocked_share": [np.nan, 1.0, np.nan, 0.0],
        }
    ).astype({"probe_cc": "str", "service_id": "str"})
    panel = daily_panel(m)
    pd.testing.assert_frame_equal(panel, expected, check_dtype=False)
    assert list(panel.columns) == PANEL_COLUMNS
    assert m["service_id"].isna().sum() == 1  # input untouched


def test_daily_panel_same_on_dask_and_pandas():
    dd = pytest.importorskip("dask.dataframe")
    import dask

    m = pd.concat([_step(), _measurements("IR", "whatsapp", [0.0, 0.5, 1.0], skip=(1,))])
    m = m.sample(frac=1.0, random_state=3).reset_index(drop=True)  # days spread over partitions
    with dask.config.set(scheduler="synchronous"):
        from_dask = daily_panel(dd.from_pandas(m, npartitions=4))
    pd.testing.assert_frame_equal(from_dask, daily_panel(m))


def test_daily_panel_reads_partitioned_parquet_with_dask(tmp_path):
    dd = pytest.importorskip("dask.dataframe")
    import dask

    m = _step().assign(
        test_name="telegram",
        measurement_month=lambda f: f["measurement_start_time"].dt.strftime("%Y-%m"),
    )
    m.to_parquet(tmp_path / "ooni", partition_cols=["test_name", "measurement_month"])
    with dask.config.set(scheduler="synchronous"):
        from_dask = daily_panel(dd.read_parquet(tmp_path / "ooni"))
    pd.testing.assert_frame_equal(from_dask, daily_panel(m))


def test_step_change_detected_within_one_day():
    changes = detect_changes(daily_panel(_step()))
    assert pd.isna(changes["change_type"].iloc[0])
    assert changes["change_type"].iloc[1:].tolist() == ["onset", "lift"]
    onset, lift = changes["change_date"].iloc[1:]
    assert abs((onset - (DAY0 + pd.Timedelta(days=20))).days) <= 1
    assert abs((lift - (DAY0 + pd.Timedelta(days=40))).days) <= 1
    assert changes["is_blocked"].tolist() == [False, True, False]
    assert changes["blocked_share"].round(2).tolist() == [0.05, 0.8, 0.05]
    assert changes["n_tested"].tolist() == [400, 400, 400]


def test_flat_series_has_no_change():
    rng = np.random.default_rng(7)
    noisy = list(np.clip(0.1 + rng.normal(0, 0.05, 60), 0, 1))
    changes = detect_changes(daily_panel(_measurements("RU", "signal", noisy)))
    assert len(changes) == 1
    assert changes["change_type"].isna().all()
    assert not changes["is_blocked"].any()


def test_change_across_a_gap_is_dated_by_an_interval():
    shares = [0.0] * 10 + [0.9] * 10
    changes = detect_changes(daily_panel(_measurements("RU", "telegram", shares, skip=(8, 9, 10))))
    onset = changes.loc[changes["change_type"] == "onset"].iloc[0]
    assert onset["change_earliest_date"] == DAY0 + pd.Timedelta(days=8)
    assert onset["change_date"] == DAY0 + pd.Timedelta(days=11)


def test_unknown_method_raises():
    with pytest.raises(ValueError, match="unknown method"):
        detect_changes(daily_panel(_step()), method="cusum")


def test_corroborate_assigns_each_block_one_status():
    m = pd.concat([_step(), _measurements("IR", "whatsapp", [0.02] * 30)])
    panel = daily_panel(m)
    changes = detect_changes(panel)
    blocks = pd.DataFrame(
        [
            _block("RU-T", "RU", "telegram", "2018-04-21", "2018-05-11"),
            _block(
                "RU-T-LATE",
                "RU",
                "telegram",
                "2018-04-10",
                "2018-05-20",
                start_bounds=("2018-04-05", "2018-04-15"),
            ),
            _block("RU-T-ONGOING", "RU", "telegram", "2018-04-21"),
            _block("IR-W", "IR", "whatsapp", "2018-04-10", "2018-04-20"),
            _block("BD-W", "BD", "whatsapp", "2015-11-18"),
            _block("RU-T-OLD", "RU", "telegram", "2015-01-01", "2015-02-01"),
        ]
    )
    evidence = corroborate(blocks, panel, changes, tolerance_days=7)
    assert evidence["event_id"].tolist() == blocks["event_id"].tolist()
    assert evidence["status"].tolist() == [
        "confirmed",
        "onset-only",
        "onset-only",
        "contradicted",
        "no coverage",
        "no coverage",
    ]
    assert evidence["onset_lag_days"].tolist()[:3] == [0, 6, 0]
    assert evidence["lift_lag_days"].iloc[:2].tolist() == [0, -9]
    assert evidence["lift_lag_days"].iloc[2:].isna().all()
    assert evidence.loc[4, "reason"] == "no measurements of whatsapp in BD"
    assert evidence.loc[5, "reason"].startswith("measurements of telegram in RU cover 2018-04-01")
    counts = count_statuses(evidence)
    assert counts.to_dict() == {
        "confirmed": 1,
        "onset-only": 2,
        "blocked-unmatched": 0,
        "contradicted": 1,
        "no coverage": 2,
    }


def test_corroborate_lag_zero_inside_precision_interval():
    panel = daily_panel(_step())
    changes = detect_changes(panel)
    blocks = pd.DataFrame(
        [
            _block(
                "RU-T-MONTH",
                "RU",
                "telegram",
                "2018-04-01",
                "2018-05-11",
                start_bounds=("2018-04-01", "2018-04-30"),
            )
        ]
    )
    evidence = corroborate(blocks, panel, changes)
    assert evidence.loc[0, ["status", "onset_lag_days", "lift_lag_days"]].tolist() == [
        "confirmed",
        0,
        0,
    ]


def test_plot_blocked_share_returns_axes():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panel = daily_panel(_step())
    fig, ax = plt.subplots()
    blocks = pd.DataFrame([_block("RU-T", "RU", "telegram", "2018-04-21", "2018-05-11")])
    out = plot_blocked_share(data=panel, changes=detect_changes(panel), blocks=blocks, ax=ax)
    assert out is ax
    assert len(ax.lines) >= 3  # series + onset + lift
    plt.close(fig)


def test_an_open_block_is_judged_only_up_to_its_last_confirmation():
    panel = daily_panel(_step())  # onset 2018-04-21, lift 2018-05-11
    changes = detect_changes(panel)
    blocks = pd.DataFrame(
        [
            _block("RU-T-OPEN", "RU", "telegram", "2018-04-21"),
            _block("RU-T-CONFIRMED", "RU", "telegram", "2018-04-21"),
            _block("RU-T-STALE", "RU", "telegram", "2016-01-01"),
        ]
    ).assign(last_confirmed_date=[pd.NaT, pd.Timestamp("2018-04-25"), pd.Timestamp("2016-02-01")])
    evidence = corroborate(blocks, panel, changes, tolerance_days=7)
    assert evidence["status"].tolist() == ["onset-only", "confirmed", "no coverage"]
    assert evidence.loc[1, "reason"] == (
        "onset measured; still blocked at the last confirmation (2018-04-25)"
    )
