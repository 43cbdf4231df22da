"""The one figure of a sycophancy probe: metric bars with 95% interval whiskers."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

TASK_COLOURS = {
    "answer": "#4c72b0",
    "are_you_sure": "#dd8452",
    "feedback": "#55a868",
    "mimicry": "#c44e52",
}


def _label(row: Any) -> str:
    template = f" [{row.template}]" if isinstance(row.template, str) and row.template else ""
    return f"{row.task}: {row.metric}{template} (n={row.n})"


def sycophancy_figure(metrics: pd.DataFrame) -> Any:
    """Horizontal bars of every pooled metric (``dataset == "all"``), one colour per task,
    whiskers from ``low`` to ``high``; metrics without a value are left out."""
    from preference_dissect.analyse.plots import new_figure

    rows = metrics[(metrics["dataset"] == "all") & metrics["value"].notna()]
    rows = rows.iloc[::-1]
    fig, ax = new_figure((8.0, max(2.5, 0.38 * len(rows) + 1.2)))
    if rows.empty:
        ax.text(0.5, 0.5, "no metric has a value", ha="center", va="center")
        ax.set_axis_off()
        return fig
    ys = list(range(len(rows)))
    values = rows["value"].to_numpy(dtype=float)
    low = rows["low"].to_numpy(dtype=float)
    high = rows["high"].to_numpy(dtype=float)
    lows = [0.0 if math.isnan(lo) else v - lo for v, lo in zip(values, low, strict=True)]
    highs = [0.0 if math.isnan(hi) else hi - v for v, hi in zip(values, high, strict=True)]
    colours = [TASK_COLOURS.get(t, "#8c8c8c") for t in rows["task"]]
    ax.barh(ys, values, color=colours, xerr=[lows, highs], capsize=3, ecolor="#333333")
    ax.set_yticks(ys, [_label(r) for r in rows.itertuples()], fontsize=8)
    ax.axvline(0.0, color="#333333", linewidth=0.8)
    ax.set_xlim(min(-0.05, float(min(values - lows)) - 0.05), 1.05)
    ax.set_xlabel("value (shares and changes in accuracy); whiskers: 95% interval")
    ax.set_title("SycophancyEval probes (Sharma et al. 2023)")
    fig.tight_layout()
    return fig
