"""Figures (matplotlib ``Figure`` objects, made without pyplot: no global state, no backend
switch, shown inline by Jupyter): one builder per figure, two ways out.

Builders return a Matplotlib figure:

* :func:`scores_figure` - one group's attribute scores with 95% HDI bars, judges as series
  (a judges x attributes heatmap above :data:`MAX_FOREST_JUDGES` judges);
* :func:`similarity_figure` - judge-by-judge similarity heatmap;
* :func:`sensitivity_figure` - error-sensitivity bars per judge;
* :func:`correlation_figure` - an attribute correlation heatmap;
* :func:`shrinkage_figure` - a pooled fit's weights against the cells fitted alone.

:func:`save_figure` writes PNG + SVG files (the ``analyze`` stage, via :func:`plot_group_scores`,
:func:`plot_similarity`, :func:`plot_sensitivity`); :func:`figure_data_uri` returns a PNG
``data:`` URI (the one-file HTML report).
"""

from __future__ import annotations

import base64
import functools
import io
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.io import atomic_path

FORMATS = ("png", "svg")
#: Score plots show at most this many judges as series; more judges get a heatmap.
MAX_FOREST_JUDGES = 6
SCORE_AXIS_LABEL = "preference score (100·sigmoid(w)); 50 = no effect; bars: 95% HDI"
POINT_AXIS_LABEL = "preference score (100·sigmoid(w)); 50 = no effect; point estimates"
COUNT_NOTE = "\n(· k: pairs where the attribute differs, fewest over the judges shown)"


@functools.cache
def _figure_class() -> type:
    from matplotlib.figure import Figure

    class DissectFigure(Figure):
        """A matplotlib Figure that Jupyter shows inline by itself (no pyplot needed)."""

        def _repr_png_(self) -> bytes:
            buf = io.BytesIO()
            self.savefig(buf, format="png", dpi=100, bbox_inches="tight", facecolor="white")
            return buf.getvalue()

    return DissectFigure


def new_figure(figsize: tuple[float, float]) -> tuple[Any, Any]:
    """A figure outside pyplot (nothing to close, any backend; shown inline by Jupyter) and
    its one axes."""
    fig = _figure_class()(figsize=figsize)
    return fig, fig.subplots()


def save_figure(fig: Any, stem: str | os.PathLike[str], dpi: int = 150) -> list[Path]:
    """Write ``fig`` as ``STEM.png`` and ``STEM.svg`` (atomically), close it, return the paths."""
    out = []
    for fmt in FORMATS:
        target = Path(f"{stem}.{fmt}")
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=fmt, dpi=dpi, bbox_inches="tight", facecolor="white")
        out.append(target)
    return out


def figure_data_uri(fig: Any, dpi: int = 80) -> str:
    """Render ``fig`` as a PNG ``data:`` URI and close it."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight", facecolor="white")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def plot_text(text: object, limit: int | None = None) -> str:
    """Text safe to draw: ``$`` escaped so dataset or YAML text never switches Matplotlib into
    mathtext (which garbles it or fails to parse); cut to ``limit`` characters with an ellipsis.
    """
    out = str(text)
    if limit is not None and len(out) > limit:
        out = out[: limit - 1] + "…"
    return out.replace("$", r"\$")


def _short(text: object, limit: int = 32) -> str:
    return plot_text(str(text).replace("_", " "), limit)


def safe_name(text: str) -> str:
    """File-name-safe form of a group or judge name."""
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text).strip("_") or "x"


def scores_figure(
    rows: pd.DataFrame,
    attributes: list[str],
    title: str,
    labels: dict[str, str] | None = None,
    judges: list[str] | None = None,
) -> Any:
    """Preference scores of one group: a row per attribute, a series per judge.

    Parameters
    ----------
    rows : pandas.DataFrame
        Rows of one group with columns ``judge``, ``attribute``, ``score``, ``score_low``,
        ``score_high`` (:func:`~preference_dissect.analyse.scores.weight_summary`).
    attributes : list of str
        Attribute order (top to bottom).
    title : str
    labels : dict, optional
        Attribute name -> plot label.
    judges : list of str, optional
        Series and their order (default: the judges in ``rows``, in order).

    Returns
    -------
    matplotlib.figure.Figure
        A forest plot, or a judges x attributes heatmap above :data:`MAX_FOREST_JUDGES` judges.
    """
    judges = judges or list(dict.fromkeys(rows["judge"]))
    labels = labels or {}
    if len(judges) > MAX_FOREST_JUDGES:
        return _score_heatmap(rows, attributes, judges, labels, title)
    import matplotlib

    n = len(attributes)
    fig, ax = new_figure((7.5, 0.9 + 0.3 * n))
    colours = matplotlib.colormaps["tab10"].colors
    offsets = np.linspace(-0.3, 0.3, len(judges)) if len(judges) > 1 else np.zeros(1)
    ypos = {a: n - 1 - i for i, a in enumerate(attributes)}
    for j, judge in enumerate(judges):
        part = rows[(rows["judge"] == judge) & rows["attribute"].isin(ypos)]
        y = part["attribute"].map(ypos).to_numpy(dtype=float) + offsets[j]
        colour = colours[j % len(colours)]
        ax.hlines(y, part["score_low"], part["score_high"], color=colour, linewidth=1.6, alpha=0.8)
        ax.plot(part["score"], y, "o", color=colour, markersize=4.5, label=plot_text(judge))
    ax.axvline(50, color="#888888", linewidth=0.8, linestyle="--")
    ax.set_yticks(range(n))
    ax.set_yticklabels(_tick_labels(rows, list(reversed(attributes)), labels), fontsize=8)
    ax.set_ylim(-0.7, n - 0.3)
    low = rows["score_low"].to_numpy(dtype=float)
    lo_all = np.nanmin(np.r_[low, rows["score"].to_numpy(dtype=float)], initial=40.0)
    hi_all = np.nanmax(np.r_[rows["score_high"].to_numpy(dtype=float), rows["score"]], initial=60.0)
    ax.set_xlim(max(0.0, min(lo_all, 40.0) - 2), min(100.0, max(hi_all, 60.0) + 2))
    counted = "n_nonzero" in rows and rows["n_nonzero"].notna().any()
    axis = SCORE_AXIS_LABEL if np.isfinite(low).any() else POINT_AXIS_LABEL
    ax.set_xlabel(axis + (COUNT_NOTE if counted else ""), fontsize=8)
    ax.set_title(_short(title, 80), fontsize=10)
    ax.grid(axis="x", color="#eeeeee")
    if len(judges) > 1:
        ax.legend(fontsize=7, loc="lower right", framealpha=0.9)
    return fig


def _tick_labels(rows: pd.DataFrame, attributes: list[str], labels: dict[str, str]) -> list[str]:
    """Attribute labels, with ``· k`` (informative pairs, fewest over judges) when known."""
    counts: dict[str, float] = {}
    if "n_nonzero" in rows:
        counts = rows.groupby("attribute")["n_nonzero"].min().dropna().to_dict()
    out = []
    for a in attributes:
        text = _short(labels.get(a, a))
        out.append(f"{text} · {int(counts[a])}" if a in counts else text)
    return out


def _score_heatmap(
    rows: pd.DataFrame,
    attributes: list[str],
    judges: list[str],
    labels: dict[str, str],
    title: str,
) -> Any:
    grid = (
        rows.pivot_table(index="judge", columns="attribute", values="score", dropna=False)
        .reindex(index=judges, columns=attributes)
        .to_numpy(dtype=float)
    )
    fig, ax = new_figure((1.5 + 0.28 * len(attributes), 1.2 + 0.24 * len(judges)))
    im = ax.imshow(grid, cmap="RdBu_r", vmin=20, vmax=80, aspect="auto")
    ax.set_xticks(range(len(attributes)))
    ax.set_xticklabels(
        [_short(labels.get(a, a)) for a in attributes], rotation=70, ha="right", fontsize=7
    )
    ax.set_yticks(range(len(judges)))
    ax.set_yticklabels([_short(j) for j in judges], fontsize=7)
    ax.set_title(f"{_short(title, 80)}: preference scores", fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    return fig


SIMILARITY_TITLE = "judge similarity: posterior mean of the mean Pearson r of weights over groups"
SIMILARITY_POINT_TITLE = "judge similarity: mean Pearson r of weights over groups (point estimates)"


def similarity_figure(matrix: pd.DataFrame, title: str = SIMILARITY_TITLE) -> Any:
    """Heatmap of a judge x judge similarity matrix (values written in when 12 judges or fewer)."""
    k = len(matrix)
    values = matrix.to_numpy(dtype=float)
    fig, ax = new_figure((3.2 + 0.32 * k, 2.6 + 0.3 * k))
    finite = values[np.isfinite(values)]
    vmin = -1 if finite.size and finite.min() < 0 else 0
    im = ax.imshow(values, cmap="viridis", vmin=vmin, vmax=1)
    names = [_short(j) for j in matrix.index]
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(k))
    ax.set_yticklabels(names, fontsize=7)
    if k <= 12:
        for i in range(k):
            for j in range(k):
                v = values[i, j]
                if np.isfinite(v):
                    colour = "white" if v < 0.6 else "black"
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=7, color=colour)
    ax.set_title(plot_text(title), fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    return fig


def correlation_figure(matrix: pd.DataFrame, title: str) -> Any:
    """Heatmap of an attribute x attribute correlation matrix (-1 blue, +1 red)."""
    k = len(matrix)
    fig, ax = new_figure((2.2 + 0.3 * k, 1.6 + 0.3 * k))
    im = ax.imshow(matrix.to_numpy(dtype=float), cmap="RdBu_r", vmin=-1, vmax=1)
    names = [_short(a, 24) for a in matrix.index]
    ax.set_xticks(range(k))
    ax.set_xticklabels(names, rotation=70, ha="right", fontsize=7)
    ax.set_yticks(range(k))
    ax.set_yticklabels(names, fontsize=7)
    ax.set_title(plot_text(title), fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.04, pad=0.02)
    return fig


def shrinkage_figure(table: pd.DataFrame, title: str) -> Any:
    """Unpooled (x) against pooled (y) posterior mean weights, one point per (cell,
    attribute) of :func:`~preference_dissect.analyse.shrinkage.shrinkage`, sized by the
    cell's pairs, with 1-sd whiskers of the pooled weight; the further a point is from the
    diagonal, the more pooling moved it (towards its pool's mean)."""
    fig, ax = new_figure((5.2, 4.8))
    n = table["n"].to_numpy(dtype=float)
    size = 8 + 60 * n / max(float(np.nanmax(n)), 1.0)
    ax.errorbar(table["unpooled_mean"], table["pooled_mean"], yerr=table["pooled_sd"],
                fmt="none", ecolor="#bbb", elinewidth=0.6, zorder=1)  # fmt: skip
    points = ax.scatter(table["unpooled_mean"], table["pooled_mean"], s=size, c=n,
                        cmap="viridis", alpha=0.8, zorder=2)  # fmt: skip
    low = float(np.nanmin(table[["unpooled_mean", "pooled_mean"]].to_numpy()))
    high = float(np.nanmax(table[["unpooled_mean", "pooled_mean"]].to_numpy()))
    ax.plot([low, high], [low, high], color="grey", lw=1, ls="--", zorder=0)
    ax.set_xlabel("weight, cell fitted alone (posterior mean)")
    ax.set_ylabel("weight, pooled (posterior mean ± sd)")
    ax.set_title(plot_text(title), fontsize=10)
    fig.colorbar(points, ax=ax, fraction=0.04, pad=0.02, label="pairs in the cell")
    return fig


def sensitivity_figure(table: pd.DataFrame, title: str = "Sensitivity to errors") -> Any:
    """Grouped bars: per judge, the score of each error attribute with HDI whiskers."""
    judges = list(dict.fromkeys(table["judge"].tolist()))
    attrs = list(dict.fromkeys(table["label"].tolist()))
    fig, ax = new_figure((max(6.0, 0.45 * len(judges) + 2), 4.5))
    x = np.arange(len(judges))
    width = 0.8 / len(attrs)
    for k, label in enumerate(attrs):
        part = table[table["label"] == label].set_index("judge").reindex(judges)
        err = np.vstack([part["score"] - part["score_low"], part["score_high"] - part["score"]])
        ax.bar(
            x + (k - (len(attrs) - 1) / 2) * width,
            part["score"] - 50,
            width,
            bottom=50,
            yerr=np.clip(err, 0, None),
            capsize=2,
            label=plot_text(label),
        )
    ax.axhline(50, color="grey", lw=1, ls="--")
    ax.set_xticks(x)
    ax.set_xticklabels([plot_text(j) for j in judges], rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("mean preference score over scenario groups")
    ax.set_title(plot_text(title))
    ax.legend(fontsize=8)
    return fig


def group_scores_figure(
    summary: pd.DataFrame, group: str, judges: list[str], *, title: str | None = None
) -> Any:
    """One group's :func:`scores_figure` for some judges (``None``: no fit of them there).

    Parameters
    ----------
    summary : pandas.DataFrame
        :func:`~preference_dissect.analyse.scores.weight_summary` output (needs ``group``,
        ``judge``, ``attribute``, ``label`` and the score columns).
    group : str
    judges : list of str
        Series to draw (in this order).
    title : str, optional
    """
    rows = summary[(summary["group"] == group) & summary["judge"].isin(judges)]
    if rows.empty:
        return None
    attributes = list(dict.fromkeys(rows["attribute"]))
    labels = dict(zip(rows["attribute"], rows["label"], strict=True))
    present = [j for j in judges if j in set(rows["judge"])]
    has_interval = np.isfinite(rows["score_low"].to_numpy(dtype=float)).any()
    what = "95% HDI" if has_interval else "point estimates"
    title = title or f"{group}: attribute preference scores ({what})"
    return scores_figure(rows, attributes, title, labels, present)


def plot_group_scores(
    summary: pd.DataFrame,
    group: str,
    judges: list[str],
    stem: str | os.PathLike[str],
    *,
    title: str | None = None,
) -> list[Path]:
    """Write :func:`group_scores_figure` to ``STEM.png`` / ``STEM.svg``; return the files."""
    fig = group_scores_figure(summary, group, judges, title=title)
    return [] if fig is None else save_figure(fig, stem)


def plot_similarity(
    matrix: pd.DataFrame,
    stem: str | os.PathLike[str],
    *,
    title: str | None = None,
    point_estimates: bool = False,
) -> list[Path]:
    """Write :func:`similarity_figure`; return the files."""
    default = SIMILARITY_POINT_TITLE if point_estimates else SIMILARITY_TITLE
    return save_figure(similarity_figure(matrix, title or default), stem)


def plot_sensitivity(
    table: pd.DataFrame, stem: str | os.PathLike[str], *, title: str | None = None
) -> list[Path]:
    """Write :func:`sensitivity_figure`; return the files (none for an empty table)."""
    if table.empty:
        return []
    fig = sensitivity_figure(table, title) if title else sensitivity_figure(table)
    return save_figure(fig, stem)
