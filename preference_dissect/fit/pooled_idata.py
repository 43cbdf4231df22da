"""The ``pooling`` group of a pooled fit: the pools' means and spreads, and the unpooled
posterior means and sds that show how much each cell was shrunk.

Variables: ``pool_mean`` (chain, draw, node, attribute), the level-1 means the cells are
pooled towards (a judge's mean for ``groups`` and ``both``, a group's mean for ``judges``);
``pool_scale`` (chain, draw, pool, attribute), the spread of a pool's cells around their
node; for ``both`` also ``population_mean`` and ``judge_scale`` (chain, draw, attribute);
``unpooled_mean`` and ``unpooled_sd`` (judge, group, attribute) of the cells fitted alone.
Attributes: ``structure`` and ``pools`` (JSON: each pool's name, structure and cells).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np

#: The InferenceData group of a pooled fit.
POOLING_GROUP = "pooling"


def _chains(values: np.ndarray, spec: Any) -> np.ndarray:
    """(draws, ...) -> (chain, draw, ...)."""
    return values.reshape(spec.chains, spec.draws, *values.shape[1:])


def pooling_dataset(results: list, cells: dict, table: Any, spec: Any) -> Any:
    """The ``pooling`` group (an ``xarray.Dataset``) of ``results`` (pairs of
    :class:`~.pooling.PoolSet` and :class:`~.pooling.PoolFit`); ``cells`` are the unpooled
    fits."""
    import xarray as xr

    attributes = list(table.attributes)
    nodes, means, pool_names, scales = [], [], [], []
    data_vars: dict[str, Any] = {}
    for pool, fit in results:
        nodes += pool.nodes
        means.append(fit.nodes)  # (S, nodes, p)
        pool_names.append(pool.name)
        scales.append(fit.scales[:, 0, :])  # (S, p): the cells' spread around their node
        if pool.levels == 2:
            data_vars["population_mean"] = (("chain", "draw", "attribute"),
                                            _chains(fit.top, spec))  # fmt: skip
            data_vars["judge_scale"] = (("chain", "draw", "attribute"),
                                        _chains(fit.scales[:, 1, :], spec))  # fmt: skip
    data_vars["pool_mean"] = (("chain", "draw", "node", "attribute"),
                              _chains(np.concatenate(means, axis=1), spec))  # fmt: skip
    data_vars["pool_scale"] = (("chain", "draw", "pool", "attribute"),
                               _chains(np.stack(scales, axis=1), spec))  # fmt: skip
    shape = (len(table.judges), len(table.groups), len(attributes))
    unpooled_mean, unpooled_sd = np.full(shape, np.nan), np.full(shape, np.nan)
    for pool, _ in results:
        for judge, group in pool.cells:
            w = cells[(judge, group)].weight.reshape(-1, len(attributes))
            a, b = table.judges.index(judge), table.groups.index(group)
            unpooled_mean[a, b], unpooled_sd[a, b] = w.mean(axis=0), w.std(axis=0, ddof=1)
    cell_dims = ("judge", "group", "attribute")
    data_vars["unpooled_mean"] = (cell_dims, unpooled_mean)
    data_vars["unpooled_sd"] = (cell_dims, unpooled_sd)
    pools = [{"name": p.name, "structure": p.structure, "cells": [list(c) for c in p.cells]}
             for p, _ in results]  # fmt: skip
    coords = {
        "chain": np.arange(spec.chains),
        "draw": np.arange(spec.draws),
        "node": nodes,
        "pool": pool_names,
        "attribute": attributes,
        "judge": list(table.judges),
        "group": list(table.groups),
    }
    return xr.Dataset(
        data_vars, coords=coords, attrs={"structure": spec.pooling, "pools": json.dumps(pools)}
    )
