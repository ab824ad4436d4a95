"""Figures for censorlab notebooks and papers, in the seaborn calling style.

Every helper takes ``data=`` plus named column arguments and an optional ``ax``, draws on it
and returns the Axes, so figures compose (several panels, a caller's own titles) and tests
can inspect what was drawn. Colours come from the package style ``censorlab.paper``
(``plt.style.use("censorlab.paper")``), whose cycle is colour-blind safe (Okabe-Ito).

:func:`save_figure` writes PDF and PNG with fixed metadata, so the same code and data give
byte-identical files and a figure only shows up in a diff when it really changed.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter

from censorlab.paths import FIGURES_DIR

logger = logging.getLogger(__name__)

STYLE = "censorlab.paper"
FIGURE_FORMATS = ("pdf", "png")
FIXED_METADATA = {
    "png": {"Software": None},
    "pdf": {"Creator": None, "Producer": None, "CreationDate": None},
}
EVENT_MARKERS = {
    "summit": "o",
    "state_visit": "D",
    "negotiation": "s",
    "agreement": "^",
    "call": "v",
    "dispute": "X",
    "sanction": "P",
}
DEFAULT_EVENT_MARKER = "*"
ONGOING_HATCH = "///"
BAR_HEIGHT = 0.6


def _get_ax(ax: Axes | None) -> Axes:
    return plt.gca() if ax is None else ax


def _millions(value: float, _position: int) -> str:
    return f"{value / 1e6:,.0f}M"


def _as_datetime(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).astype("datetime64[ns]")


def _hue_colours(levels: Sequence[object], offset: int = 0) -> dict[object, str]:
    """Map levels to the style's colour cycle; ``offset`` skips colours already in use."""
    cycle = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    return {level: cycle[(i + offset) % len(cycle)] for i, level in enumerate(levels)}


def plot_block_timeline(
    data: pd.DataFrame,
    y: str = "service_name",
    start: str = "start_date",
    end: str = "end_date",
    as_of: object | None = None,
    events: pd.DataFrame | None = None,
    event_date: str = "date",
    event_kind: str = "kind",
    event_label: str | None = "country_b",
    ax: Axes | None = None,
) -> Axes:
    """Draw one horizontal bar per block, with diplomatic events as marked vertical lines.

    Ongoing blocks (missing ``end``) run to ``as_of`` and are hatched, so "still blocked"
    is visible and not confused with a known end.

    Args:
        data: One row per block (e.g. the blocks of one country).
        y: Column labelling each bar.
        start: Column of start dates.
        end: Column of end dates (missing = ongoing).
        as_of: Date ongoing bars run to; required when any block is ongoing.
        events: Optional diplomatic events to mark.
        event_date: Column of event dates in ``events``.
        event_kind: Column of event kinds (sets the marker).
        event_label: Column shown next to each event marker (None for none).
        ax: Axes to draw on (default: current Axes).

    Returns:
        The Axes.
    """
    ax = _get_ax(ax)
    starts = _as_datetime(data[start])
    ends = _as_datetime(data[end])
    ongoing = ends.isna()
    if ongoing.any():
        if as_of is None:
            raise ValueError("as_of is required to draw ongoing blocks")
        ends = ends.fillna(pd.Timestamp(as_of))
    positions = np.arange(len(data))
    left = mdates.date2num(starts)
    width = np.maximum(mdates.date2num(ends) - left, 1.0)
    colour = plt.rcParams["axes.prop_cycle"].by_key()["color"][0]
    ax.barh(positions, width, left=left, height=BAR_HEIGHT, color=colour, label="blocked")
    if ongoing.any():
        ax.barh(
            positions[ongoing.to_numpy()],
            width[ongoing.to_numpy()],
            left=left[ongoing.to_numpy()],
            height=BAR_HEIGHT,
            color="white",
            edgecolor=colour,
            hatch=ONGOING_HATCH,
            label=f"ongoing as of {pd.Timestamp(as_of).date()}",
        )
    ax.set_yticks(positions, labels=data[y].astype(str).tolist())
    ax.invert_yaxis()
    if events is not None and len(events):
        _mark_events(ax, events, event_date, event_kind, event_label)
    ax.xaxis_date()
    ax.set_xlabel("date")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return ax


def _mark_events(ax: Axes, events: pd.DataFrame, date: str, kind: str, label: str | None) -> None:
    dates = _as_datetime(events[date])
    kinds = events[kind].astype(str)
    top = ax.get_ylim()[1]
    colours = _hue_colours(sorted(kinds.unique()), offset=1)  # colour 0 is the block bars
    for kind_name in sorted(kinds.unique()):
        selected = kinds == kind_name
        x = mdates.date2num(dates[selected])
        for x_value in x:
            ax.axvline(x_value, color=colours[kind_name], linewidth=0.8, alpha=0.6)
        ax.scatter(
            x,
            np.full(len(x), top),
            marker=EVENT_MARKERS.get(kind_name, DEFAULT_EVENT_MARKER),
            color=colours[kind_name],
            zorder=3,
            clip_on=False,
            label=kind_name.replace("_", " "),
        )
        if label is not None:
            for x_value, text in zip(x, events.loc[selected, label].astype(str), strict=True):
                ax.annotate(
                    text,
                    (x_value, top),
                    xytext=(2, 4),
                    textcoords="offset points",
                    fontsize=7,
                    rotation=45,
                    annotation_clip=False,
                )


def plot_survival(
    data: pd.DataFrame,
    x: str = "time",
    y: str = "survival",
    hue: str | None = "group",
    ci_low: str | None = "ci_low",
    ci_high: str | None = "ci_high",
    ax: Axes | None = None,
) -> Axes:
    """Draw Kaplan-Meier step curves with shaded confidence bands, one per ``hue`` level.

    Args:
        data: Output of ``censorlab.analysis.estimate_km``.
        x: Column of times (days).
        y: Column of survival probabilities.
        hue: Column of group labels (None: one curve).
        ci_low: Column of lower CI limits (None: no band).
        ci_high: Column of upper CI limits.
        ax: Axes to draw on.

    Returns:
        The Axes.
    """
    ax = _get_ax(ax)
    groups = [(None, data)] if hue is None else list(data.groupby(hue, sort=True))
    colours = _hue_colours([name for name, _ in groups])
    for name, part in groups:
        ordered = part.sort_values(x)
        label = None if name is None else f"{hue} = {name}"
        ax.step(ordered[x], ordered[y], where="post", color=colours[name], label=label)
        if ci_low is not None and ci_high is not None:
            ax.fill_between(
                ordered[x],
                ordered[ci_low],
                ordered[ci_high],
                step="post",
                color=colours[name],
                alpha=0.2,
                linewidth=0,
            )
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("days since block start")
    ax.set_ylabel("share of blocks still in place")
    if hue is not None:
        ax.legend(loc="best")
    return ax


def plot_mau_series(
    data: pd.DataFrame,
    x: str = "period_end",
    y: str = "mau",
    hue: str | None = "service_name",
    blocks: pd.DataFrame | None = None,
    block_start: str = "start_date",
    block_end: str = "end_date",
    as_of: object | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw MAU over time, one line per ``hue`` level, with block periods shaded.

    Args:
        data: Rows of ``mau`` (users, not millions; the axis shows millions).
        x: Column of period end dates.
        y: Column of user counts.
        hue: Column separating lines (None: one line).
        blocks: Optional blocks whose periods are shaded.
        block_start: Column of block start dates.
        block_end: Column of block end dates (missing = ongoing, shaded to ``as_of``).
        as_of: Date ongoing blocks are shaded to (default: the last ``x``).
        ax: Axes to draw on.

    Returns:
        The Axes.
    """
    ax = _get_ax(ax)
    plotted = data.dropna(subset=[y]).assign(**{x: _as_datetime(data[x].dropna())})
    groups = [(None, plotted)] if hue is None else list(plotted.groupby(hue, sort=True))
    colours = _hue_colours([name for name, _ in groups])
    for name, part in groups:
        ordered = part.sort_values(x)
        ax.plot(
            ordered[x],
            ordered[y].astype(float),
            marker="o",
            markersize=3,
            color=colours[name],
            label=name,
        )
    if blocks is not None and len(blocks):
        last = pd.Timestamp(as_of) if as_of is not None else plotted[x].max()
        starts = _as_datetime(blocks[block_start])
        ends = _as_datetime(blocks[block_end]).fillna(last)
        for i, (begin, finish) in enumerate(zip(starts, ends, strict=True)):
            ax.axvspan(
                begin,
                max(finish, begin + pd.Timedelta(days=1)),
                color="0.5",
                alpha=0.25,
                linewidth=0,
                label="block period" if i == 0 else None,
            )
    ax.yaxis.set_major_formatter(FuncFormatter(_millions))
    ax.set_xlabel("period end")
    ax.set_ylabel("monthly active users")
    ax.legend(loc="best")
    return ax


def plot_users_exposed(
    data: pd.DataFrame,
    x: str = "users_exposed",
    y: str = "event_id",
    hue: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Draw users exposed per block (or per country) as horizontal bars, largest on top.

    Args:
        data: Output of ``estimate_users_exposed`` or ``rank_blocks_by_exposure``; rows with
            a missing ``x`` are not drawn.
        x: Column of user counts.
        y: Column labelling each bar.
        hue: Optional column colouring the bars (e.g. ``blocking_country``).
        ax: Axes to draw on.

    Returns:
        The Axes.
    """
    ax = _get_ax(ax)
    known = data.dropna(subset=[x]).sort_values(x, ascending=False)
    positions = np.arange(len(known))
    values = known[x].astype(float).to_numpy()
    if hue is None:
        ax.barh(positions, values, height=BAR_HEIGHT)
    else:
        colours = _hue_colours(sorted(known[hue].astype(str).unique()))
        levels = known[hue].astype(str)
        for level, colour in colours.items():
            selected = (levels == level).to_numpy()
            ax.barh(
                positions[selected], values[selected], height=BAR_HEIGHT, color=colour, label=level
            )
        ax.legend(loc="lower right")
    ax.set_yticks(positions, labels=known[y].astype(str).tolist())
    ax.invert_yaxis()
    ax.xaxis.set_major_formatter(FuncFormatter(_millions))
    ax.set_xlabel("users exposed (MAU in the blocking country at block start)")
    return ax


def _default_figures_dir() -> Path:
    return FIGURES_DIR


def save_figure(fig: Figure, name: str, figures_dir: Path | str | None = None) -> list[Path]:
    """Write ``<figures_dir>/<name>.pdf`` and ``.png`` with fixed metadata (same bytes each run).

    Matplotlib stamps PDFs with a creation date and PNGs with its version; both are dropped
    so re-running a notebook does not churn binary files in version control.

    Args:
        fig: The figure to save.
        name: File stem, e.g. ``"02-wechat-russia-2017-timeline"``.
        figures_dir: Output directory (default: ``censorlab.paths.FIGURES_DIR``).

    Returns:
        The written paths, PDF first.
    """
    directory = Path(figures_dir) if figures_dir is not None else _default_figures_dir()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for extension in FIGURE_FORMATS:
        path = directory / f"{name}.{extension}"
        fig.savefig(path, format=extension, metadata=FIXED_METADATA[extension])
        written.append(path)
    logger.info("Saved figure %s", ", ".join(str(path) for path in written))
    return written


def plot_coverage_heatmap(
    data: pd.DataFrame,
    x: str = "year",
    y: str = "dyad",
    hue: str = "coverage_label",
    ax: Axes | None = None,
) -> Axes:
    """Draw a dyad x year grid coloured by which contact levels a sweep certified complete.

    Cells never swept stay blank, so "not swept" and "swept, nothing complete" look different:
    the first is no information about coverage, the second is a recorded gap.

    Args:
        data: Output of ``censorlab.analysis.contact_calendar.tabulate_coverage``.
        x: Column of years.
        y: Column of dyad labels (one row of the grid each).
        hue: Column of category labels (one colour each, in sorted order).
        ax: Axes to draw on.

    Returns:
        The Axes.
    """
    ax = _get_ax(ax)
    labels = sorted(data[hue].unique())
    codes = {label: code for code, label in enumerate(labels)}
    years = np.arange(int(data[x].min()), int(data[x].max()) + 1)
    dyads = sorted(data[y].unique(), reverse=True)
    grid = np.full((len(dyads), len(years)), np.nan)
    rows = {dyad: index for index, dyad in enumerate(dyads)}
    for dyad, year, label in zip(data[y], data[x], data[hue], strict=True):
        grid[rows[dyad], int(year) - years[0]] = codes[label]
    colours = _hue_colours(labels)
    cmap = ListedColormap([colours[label] for label in labels])
    ax.imshow(
        grid,
        aspect="auto",
        interpolation="nearest",
        cmap=cmap,
        vmin=-0.5,
        vmax=len(labels) - 0.5,
        extent=(years[0] - 0.5, years[-1] + 0.5, -0.5, len(dyads) - 0.5),
        origin="lower",
    )
    ax.set_yticks(range(len(dyads)), dyads)
    ax.set_xticks(years[:: max(1, len(years) // 9)])
    ax.set_xlabel(x)
    ax.set_ylabel(y)
    ax.legend(
        handles=[Patch(color=colours[label], label=label) for label in labels],
        loc="upper left",
        bbox_to_anchor=(1.01, 1),
        frameon=False,
    )
    return ax
