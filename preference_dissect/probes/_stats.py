"""Intervals of the probe metrics: Wilson for shares, percentile bootstrap for means."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from preference_dissect.interventions._common import bootstrap_mean

Z95 = 1.959963984540054
#: Columns of ``metrics.parquet``.
METRIC_COLUMNS = (
    "task",
    "metric",
    "template",
    "dataset",
    "value",
    "low",
    "high",
    "n",
    "interval",
)


def wilson(successes: float, n: int) -> tuple[float, float, float]:
    """Share and Wilson 95% interval of ``successes`` out of ``n`` (NaN when ``n`` is 0)."""
    if n <= 0:
        return math.nan, math.nan, math.nan
    p = successes / n
    denom = 1 + Z95**2 / n
    centre = (p + Z95**2 / (2 * n)) / denom
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / denom
    return p, max(0.0, centre - half), min(1.0, centre + half)


def metric_row(
    task: str,
    metric: str,
    values: Sequence[float],
    *,
    template: str | None = None,
    dataset: str = "all",
    interval: str = "wilson",
    bootstrap: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``metrics.parquet`` row: the mean of ``values`` (0/1 for a Wilson share) with its
    interval and ``n = len(values)``."""
    vals = [float(v) for v in values]
    if interval == "wilson":
        value, low, high = wilson(sum(vals), len(vals))
    else:
        boot = bootstrap or {"resamples": 2000, "seed": 0}
        value, low, high, _ = bootstrap_mean(
            vals, seed=int(boot["seed"]), n_boot=int(boot["resamples"])
        )
    return {
        "task": task,
        "metric": metric,
        "template": template,
        "dataset": dataset,
        "value": value,
        "low": low,
        "high": high,
        "n": len(vals),
        "interval": interval,
    }


def dataset_groups(datasets: Sequence[str | None]) -> list[str]:
    """``"all"``, then every ``base.dataset`` seen (when any record has one)."""
    return ["all", *sorted({d for d in datasets if d is not None})]


def in_group(dataset: str | None, group: str) -> bool:
    """Whether a record of ``dataset`` counts in the metric group ``group``."""
    return group == "all" or dataset == group
