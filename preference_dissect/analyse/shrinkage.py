"""How much partial pooling moved each cell (a fit with ``pooling``, see
:mod:`preference_dissect.fit.pooling`): unpooled against pooled weights, and the spreads the
hierarchy learned (how much an attribute's weight really varies across groups or judges)."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.analyse.scores import HDI_PROB, hdi, weight_summary
from preference_dissect.errors import InputError
from preference_dissect.fit.pooled_idata import POOLING_GROUP

SHRINKAGE_COLUMNS = [
    "judge", "group", "attribute", "pool", "n", "unpooled_mean", "unpooled_sd",
    "pooled_mean", "pooled_sd", "pool_mean", "shift", "sd_ratio",
]  # fmt: skip


def pooling_of(idata: Any) -> Any:
    """The fit's ``pooling`` group; :class:`InputError` naming ``idata`` for an unpooled fit."""
    group = getattr(idata, POOLING_GROUP, None)
    if group is None:
        raise InputError(
            "this fit is not pooled (fit it with pooling='groups', 'judges' or 'both')",
            field="idata",
        )
    return group


def _cell_pools(pooling: Any) -> dict[tuple[str, str], tuple[str, str]]:
    """``(judge, group) -> (pool, node)``: the pool of each pooled cell and its level-1 node
    (the judge for ``groups`` and ``both``, the group for ``judges``)."""
    out = {}
    for pool in json.loads(pooling.attrs["pools"]):
        for judge, group in pool["cells"]:
            node = group if pool["structure"] == "judges" else judge
            out[(judge, group)] = (pool["name"], node)
    return out


def shrinkage(idata: Any) -> pd.DataFrame:
    """Unpooled against pooled weights, one row per pooled (judge, group, attribute)
    (columns :data:`SHRINKAGE_COLUMNS`; see :func:`preference_dissect.shrinkage`)."""
    pooling = pooling_of(idata)
    pools = _cell_pools(pooling)
    node_mean = pooling["pool_mean"].mean(("chain", "draw"))
    summary = weight_summary(idata).set_index(["judge", "group", "attribute"])
    rows = []
    for (judge, group), (pool, node) in pools.items():
        before = pooling[["unpooled_mean", "unpooled_sd"]].sel(judge=judge, group=group)
        for attribute in pooling["attribute"].to_numpy():
            key = (judge, group, str(attribute))
            if key not in summary.index:
                continue  # constant in this cell: no weight
            after = summary.loc[key]
            rows.append([
                judge, group, str(attribute), pool, after["n"],
                float(before["unpooled_mean"].sel(attribute=attribute)),
                float(before["unpooled_sd"].sel(attribute=attribute)),
                after["mean"], after["sd"],
                float(node_mean.sel(node=node, attribute=attribute)),
            ])  # fmt: skip
    table = pd.DataFrame(rows, columns=SHRINKAGE_COLUMNS[:-2])
    table["shift"] = table["pooled_mean"] - table["unpooled_mean"]
    table["sd_ratio"] = table["pooled_sd"] / table["unpooled_sd"]
    return table


def pool_spreads(idata: Any, hdi_prob: float = HDI_PROB) -> pd.DataFrame:
    """The spreads the hierarchy learned, one row per (pool, level, attribute); see
    :func:`preference_dissect.pool_spreads`."""
    pooling = pooling_of(idata)
    attributes = [str(a) for a in pooling["attribute"].to_numpy()]
    parts = []
    scale = pooling["pool_scale"].to_numpy()  # (chain, draw, pool, attribute)
    for i, pool in enumerate(pooling["pool"].to_numpy()):
        parts.append(_spread_rows(str(pool), "cells", scale[:, :, i], attributes, hdi_prob))
    if "judge_scale" in pooling:
        draws = pooling["judge_scale"].to_numpy()
        parts.append(_spread_rows("all", "judges", draws, attributes, hdi_prob))
    return pd.concat(parts, ignore_index=True)


def _spread_rows(pool: str, level: str, draws: np.ndarray, attributes: list[str], prob: float):
    interval = hdi(draws, prob)
    return pd.DataFrame({
        "pool": pool, "level": level, "attribute": attributes,
        "mean": draws.mean(axis=(0, 1)), "hdi_low": interval[:, 0], "hdi_high": interval[:, 1],
    })  # fmt: skip
