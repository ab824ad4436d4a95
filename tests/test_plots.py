import hashlib

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402

from censorlab import plots  # noqa: E402

OKABE_ITO_BLUE = "#0072B2"


@pytest.fixture(autouse=True)
def close_figures():
    with plt.style.context("censorlab.paper"):
        yield
    plt.close("all")


@pytest.fixture
def blocks():
    return pd.DataFrame(
        {
            "event_id": ["RU-2017-WECHAT", "RU-2017-LINE", "RU-2017-BBM"],
            "service_name": ["WeChat", "LINE", "BBM"],
            "blocking_country": ["RU", "RU", "RU"],
            "start_date": pd.to_datetime(["2017-05-04", "2017-05-02", "2017-05-02"]),
            "end_date": pd.to_datetime(["2017-05-11", None, None]),
            "users_exposed": pd.array([None, 2_000_000, 500_000], dtype="Int64"),
        }
    )


@pytest.fixture
def events():
    return pd.DataFrame(
        {
            "date": pd.to_datetime(["2017-04-27", "2017-05-14"]),
            "kind": ["summit", "summit"],
            "country_b": ["JP", "CN"],
        }
    )


def test_style_is_colour_blind_cycle():
    assert plt.rcParams["axes.prop_cycle"].by_key()["color"][0] == OKABE_ITO_BLUE


def test_timeline_draws_one_bar_per_block_plus_hatched_ongoing(blocks, events):
    fig, ax = plt.subplots()
    returned = plots.plot_block_timeline(data=blocks, as_of="2017-06-30", events=events, ax=ax)
    assert returned is ax
    labels = [tick.get_text() for tick in ax.get_yticklabels()]
    assert labels == ["WeChat", "LINE", "BBM"]
    hatched = [patch for patch in ax.patches if patch.get_hatch()]
    assert len(hatched) == 2
    wechat = ax.patches[0]
    assert wechat.get_width() == pytest.approx(7.0)
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "summit" in legend and "ongoing as of 2017-06-30" in legend


def test_timeline_requires_as_of_for_ongoing(blocks):
    with pytest.raises(ValueError, match="as_of"):
        plots.plot_block_timeline(data=blocks)


def test_survival_plot_draws_steps_per_group():
    km = pd.DataFrame(
        {
            "group": ["a", "a", "b", "b"],
            "time": [0.0, 5.0, 0.0, 9.0],
            "survival": [1.0, 0.5, 1.0, 0.2],
            "ci_low": [1.0, 0.3, 1.0, 0.05],
            "ci_high": [1.0, 0.7, 1.0, 0.5],
        }
    )
    ax = plots.plot_survival(data=km, hue="group")
    assert isinstance(ax, Axes)
    assert len(ax.get_lines()) == 2
    assert [text.get_text() for text in ax.get_legend().get_texts()] == ["group = a", "group = b"]


def test_mau_series_shades_block_periods(blocks):
    mau = pd.DataFrame(
        {
            "service_name": ["WeChat", "WeChat", "WeChat"],
            "period_end": pd.to_datetime(["2016-12-31", "2017-03-31", "2017-06-30"]),
            "mau": pd.array([889_000_000, 938_000_000, None], dtype="Int64"),
        }
    )
    ax = plots.plot_mau_series(data=mau, blocks=blocks.head(1))
    assert len(ax.get_lines()) == 1 and len(ax.get_lines()[0].get_xdata()) == 2
    assert len(ax.patches) == 1
    assert ax.yaxis.get_major_formatter()(938e6, 0) == "938M"


def test_users_exposed_skips_unknown_and_sorts(blocks):
    ax = plots.plot_users_exposed(data=blocks, hue="blocking_country")
    assert [tick.get_text() for tick in ax.get_yticklabels()] == ["RU-2017-LINE", "RU-2017-BBM"]


def test_save_figure_writes_byte_identical_pdf_and_png(tmp_path, blocks):
    fig, ax = plt.subplots()
    plots.plot_block_timeline(data=blocks, as_of="2017-06-30", ax=ax)
    first = plots.save_figure(fig, "timeline", figures_dir=tmp_path / "a")
    second = plots.save_figure(fig, "timeline", figures_dir=tmp_path / "b")
    assert [path.suffix for path in first] == [".pdf", ".png"]
    for one, two in zip(first, second, strict=True):
        digest = hashlib.sha256
        assert digest(one.read_bytes()).digest() == digest(two.read_bytes()).digest()
    pdf = first[0].read_bytes()
    assert b"CreationDate" not in pdf and b"Matplotlib" not in pdf
    assert b"matplotlib" not in first[1].read_bytes().lower()[:4096]
    assert np.all([path.stat().st_size > 1000 for path in first])
