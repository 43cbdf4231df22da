"""Refit the scenario-group cells of a table with partial pooling (:mod:`.pooling`): the
unpooled fits are the starting point and the shrinkage baseline, the pooled draws replace
them, and the pools' means and spreads go into the fit's ``pooling`` group."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np

from preference_dissect.fit.cells import CellFit, cell_seed, constant_columns
from preference_dissect.fit.checks import posterior_predictive_check
from preference_dissect.fit.features import FeatureTable
from preference_dissect.fit.pooled_importance import fit_pool
from preference_dissect.fit.pooling import PoolFit, PoolSet, pool_sets
from preference_dissect.fit.spec import FitSpec

#: Methods of pooled cells, by the pool's engine (:class:`~.pooling.PoolFit` ``method``):
#: importance sampling (the default), NUTS on the collapsed posterior (its fallback, and for
#: the horseshoe), NUTS on the full model (``--sampler nuts``).
POOLED_METHODS = {"pooled": "pooled", "collapsed": "pooled-collapsed", "nuts": "pooled-nuts"}
#: Newton iterations of a fold's MAP fit (k-fold holdout accuracy).
FOLD_ITER = 50


def _cell_data(xmat: np.ndarray, y: np.ndarray, target: np.ndarray):
    """The cell's comparisons with constant columns zeroed (as in its unpooled fit)."""
    x = xmat.copy()
    constant = constant_columns(xmat)
    keep = np.ones(xmat.shape[1], dtype=bool)
    for j in constant:
        x[:, j] = 0.0
        keep[j] = False
    return x, target, keep


def _map_fit(x, target, mean, var, likelihood) -> np.ndarray:
    """The MAP weights of one fold under the prior ``N(mean, diag(var))`` (Newton)."""
    w = mean.copy()
    for _ in range(FOLD_ITER):
        _, d1, d2 = likelihood.eta_terms(x @ w, target)
        grad = x.T @ d1 + (w - mean) / var
        hess = (x * d2[:, None]).T @ x + np.diag(1.0 / var)
        step = np.linalg.solve(hess, grad)
        w = w - step
        if np.max(np.abs(step)) < 1e-8:
            break
    return w


def pooled_kfold_accuracy(x, y, target, mean, var, spec, likelihood, rng) -> float:
    """k-fold holdout accuracy of a pooled cell: each training fold is fitted (MAP) under
    the cell's pooled prior, its node's posterior mean and the spreads' posterior mean."""
    from preference_dissect.fit.checks import _hits

    n = len(y)
    if n < 2 * spec.folds:
        return float("nan")
    hits = []
    for held in np.array_split(rng.permutation(n), spec.folds):
        train = np.setdiff1d(np.arange(n), held)
        try:
            w = _map_fit(x[train], target[train], mean, var, likelihood)
        except np.linalg.LinAlgError:
            continue
        hits.append(_hits(x[held] @ w, y[held]))
    scored = np.concatenate(hits) if hits else np.array([])
    return float(scored.mean()) if len(scored) else float("nan")


def _fit(pool: PoolSet, data, centre, spec: FitSpec, rng) -> PoolFit:
    parent = np.array([pool.nodes.index(n) for n in pool.parents])
    if spec.sampler == "nuts":
        from preference_dissect.fit.pooled_nuts import nuts_pool

        return nuts_pool(data, parent, pool.levels, spec, rng)
    return fit_pool(data, parent, pool.levels, centre, spec, rng)


def _pooled_cell(old: CellFit, i: int, prepared, y, fit: PoolFit, prior, spec: FitSpec, rng):
    """The pooled :class:`CellFit` of the pool's cell ``i`` (its draws ``fit.weight[:, i]``)."""
    from preference_dissect.fit.families import LIKELIHOODS

    x, target, keep = prepared
    draws = fit.weight[:, i, :]
    likelihood = LIKELIHOODS.get(spec.likelihood)
    weight = np.where(keep[None, :], draws, np.nan).reshape(spec.chains, spec.draws, -1)
    mean, var = prior
    accuracy = pooled_kfold_accuracy(x[:, keep], y, target, mean[keep], var[keep], spec,
                                     likelihood, rng)  # fmt: skip
    p_share, p_agree_sub = posterior_predictive_check(
        x[:, keep], y, draws[:, keep], None, None, spec.likelihood, rng
    )
    p_agree = np.full(len(keep), np.nan)
    p_agree[keep] = p_agree_sub
    k = float(fit.pareto_k[i])
    notes = list(fit.notes)
    if k > spec.pareto_k_max:
        notes.append(
            f"pooled fit: Pareto k {k:.2f} of the cell's Gaussian site (its likelihood is far "
            "from Gaussian where its pooled posterior lies); check with --sampler nuts"
        )
    return CellFit(
        weight=weight, intercept=None, sigma=None,
        method=POOLED_METHODS[fit.method], n=old.n, rhat_max=fit.rhat,
        ess_bulk_min=fit.ess, divergences=fit.divergences, pareto_k=k, accuracy=accuracy,
        ppc_p_share=p_share, ppc_p_agree=p_agree, seconds=0.0, n_nonzero=old.n_nonzero,
        wide_mean=np.full(len(keep), np.nan), notes=notes, dropped=dict(old.dropped),
    )  # fmt: skip


def _pool_job(pool: PoolSet, old: list[CellFit], raw: list, spec: FitSpec, p: int):
    """Fit one pool and its cells (the pool's own seed: the same in any process); returns the
    :class:`PoolFit`, the pooled :class:`CellFit` of each cell and the warnings."""
    from preference_dissect.fit.families import LIKELIHOODS

    start = time.perf_counter()
    likelihood = LIKELIHOODS.get(spec.likelihood)
    rng = np.random.default_rng(cell_seed(spec.seed, "pool", pool.name))
    prepared = [_cell_data(x, y, likelihood.target(y)) for x, y in raw]
    centre = np.stack([np.nan_to_num(c.weight.reshape(-1, p).mean(axis=0)) for c in old])
    fit = _fit(pool, [(x, t) for x, t, _ in prepared], centre, spec, rng)
    node_mean = fit.nodes.mean(axis=0)
    var = (fit.scales[:, 0, :] ** 2).mean(axis=0)
    parent = [pool.nodes.index(n) for n in pool.parents]
    notes = [f"pool {pool.name}: {note}" for note in fit.notes]
    pooled = []
    for i, key in enumerate(pool.cells):
        prior = (node_mean[parent[i]], var)
        cell = _pooled_cell(old[i], i, prepared[i], raw[i][1], fit, prior, spec, rng)
        notes += [f"{key[0]} / {key[1]}: {n}" for n in cell.notes if n not in fit.notes]
        pooled.append(cell)
    for cell in pooled:
        cell.seconds = (time.perf_counter() - start) / len(pooled)
    return fit, pooled, notes


def pool_cells(
    table: FeatureTable,
    spec: FitSpec,
    cells: dict[tuple[str, str], CellFit],
    on_pool: Callable[[str, int], None] | None = None,
    workers: int | None = None,
) -> tuple[dict[tuple[str, str], CellFit], Any, list[str]]:
    """Replace the scenario-group cells of ``cells`` by their pooled fits.

    Parameters
    ----------
    table, spec, cells
        The features, the spec and the cells fitted alone.
    on_pool : callable, optional
        Called with (pool name, cells) after each pool.
    workers : int, optional
        Processes that fit pools (default :func:`~.cells.default_workers`); the results
        are the same for any number.

    Returns
    -------
    (cells, pooling, notes)
        The cells (pooled ones replaced), the ``pooling`` group (an ``xarray.Dataset``: the
        pools' means and spreads, and the unpooled means and sds the shrinkage is measured
        against; ``None`` when nothing could be pooled) and the warnings (one per pool or
        per cell).
    """
    from preference_dissect.fit.cells import default_workers, forked_imap
    from preference_dissect.fit.pooled_idata import pooling_dataset

    fitted = {k for k, c in cells.items() if c.method != "skipped"}
    pools = pool_sets(table.judges, table.groups, fitted, spec.pooling)
    if not pools:
        return cells, None, [f"pooling {spec.pooling}: no two fitted scenario-group cells to pool"]
    raw = table.cells()
    jobs = [(pool, [cells[c] for c in pool.cells], [raw[c] for c in pool.cells]) for pool in pools]
    n_workers = default_workers() if workers is None else max(1, int(workers))
    out = dict(cells)
    results, notes = [], []
    for pool, (fit, pooled, pool_notes) in zip(
        pools,
        forked_imap(_pool_job, jobs, n_workers, spec=spec, p=len(table.attributes)),
        strict=True,
    ):
        results.append((pool, fit))
        out.update(zip(pool.cells, pooled, strict=True))
        notes += pool_notes
        if on_pool is not None:
            on_pool(pool.name, len(pool.cells))
    return out, pooling_dataset(results, cells, table, spec), notes
