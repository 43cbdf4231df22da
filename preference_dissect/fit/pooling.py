"""Partial pooling of the scenario groups: one hierarchical model instead of cells fitted alone.

GAIR's small scenario groups (a few hundred pairs, 29 weights) give wide, noisy intervals, and
a judge's groups are fitted as if they had nothing in common. The hierarchical model lets them
borrow strength (``FitSpec.pooling``):

``groups``
    per judge, ``w[g] = mu + tau * z[g]``, ``z ~ N(0, 1)``: the judge's weights in each
    scenario group around the judge's mean ``mu``;
``judges``
    per scenario group, ``w[j] = mu + tau * z[j]`` around the group's mean over judges;
``both``
    ``w[j, g] = mu[j] + tau * z[j, g]`` and ``mu[j] = m + omega * u[j]``.

The spec's prior (Laplace(0, 0.1) by default) is on the top-level mean, every spread
(``tau``, ``omega``, one per attribute) has a half-normal prior with scale
``FitSpec.pooling_scale``. Only scenario groups are pooled (they partition the pairs); ``all``
and the query groups keep their own fits. Cells below ``min_group_size`` stay skipped.

The default engine (:func:`~.pooled_importance.fit_pool`) replaces each cell's log-likelihood
by its second-order expansion (a Gaussian "site" in information form, re-centred at the cell's
pooled posterior mean), which makes everything below the spreads and the top mean exactly
Gaussian: the cells' weights (and for ``both`` the judges' means) integrate out in closed
form, level by level (:class:`Hierarchy`, batched over many spreads at once), leaving a
smooth, low-dimensional posterior of the spreads and the top mean with an exact gradient.
Importance sampling (:mod:`.pooled_importance`) samples that collapsed posterior with the
spec's top prior and the half-normal spread priors exactly as written, and every draw of it
gets an exact draw of the cells' weights; when its Pareto k is too high (or the prior has no
density, the horseshoe) NUTS samples the same collapsed posterior (:mod:`.pooled_collapsed`).
Each cell's site is checked against its exact likelihood at its draws (Pareto k). ``--sampler
nuts`` samples the full model on the raw rows instead (:mod:`.pooled_nuts`); the engines are
compared in the tests and in ``benchmarks/fit_calibration.py`` / ``fit_scale.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from preference_dissect.fit.spec import FitSpec

#: Bounds of the log spreads the optimiser searches.
LOG_SCALE_BOUNDS = (np.log(1e-3), np.log(5.0))
#: Re-centrings of the cells' Gaussian sites at their posterior means.
RECENTRE = 2
#: Matrix entries per batch of spreads (bounds the memory of the batched factorisations).
BATCH_ENTRIES = 4_000_000


@dataclass
class PoolSet:
    """Cells pooled together.

    Attributes
    ----------
    name : str
        The pool's name (the judge for ``groups``, the group for ``judges``, ``all`` for
        ``both``).
    structure : str
        ``groups``, ``judges`` or ``both``.
    cells : list of (judge, group)
    parents : list of str
        The level-1 node of each cell: one node (``name``) for one-level pools, the cell's
        judge for ``both``.
    """

    name: str
    structure: str
    cells: list[tuple[str, str]]
    parents: list[str]

    @property
    def nodes(self) -> list[str]:
        """The level-1 nodes (``both``: judges; else the single pooled mean)."""
        return list(dict.fromkeys(self.parents))

    @property
    def levels(self) -> int:
        """1: cells around one mean; 2: cells around judge means around a population mean."""
        return 2 if self.structure == "both" else 1


def pool_sets(
    judges: list[str], groups: list[str], fitted: set[tuple[str, str]], structure: str
) -> list[PoolSet]:
    """The pools of a table: fitted cells of the scenario groups, grouped by ``structure``
    (pools of fewer than two cells, or ``both`` with one judge, fall back to the simpler
    structure or stay unpooled)."""
    from preference_dissect.compare.groups import scenario_groups

    scenarios = scenario_groups(groups)
    cells = [(j, g) for j in judges for g in scenarios if (j, g) in fitted]
    if structure == "both" and len({j for j, _ in cells}) > 1:
        return [PoolSet("all", "both", cells, [j for j, _ in cells])]
    if structure == "judges":
        by = {g: [c for c in cells if c[1] == g] for g in scenarios}
    else:  # groups (and both with a single judge)
        by = {j: [c for c in cells if c[0] == j] for j in judges}
    kind = "judges" if structure == "judges" else "groups"
    return [PoolSet(n, kind, cs, [n] * len(cs)) for n, cs in by.items() if len(cs) >= 2]


# --------------------------------------------------------------------- Gaussian sites


@dataclass
class Sites:
    """The cells' Gaussian sites: ``loglik(w) ~ -w' L w / 2 + h' w`` (information form).

    Attributes
    ----------
    precision : ndarray, shape (cells, p, p)
    shift : ndarray, shape (cells, p)
    """

    precision: np.ndarray
    shift: np.ndarray


def cell_sites(data: list[tuple[np.ndarray, np.ndarray]], centre: np.ndarray, likelihood: Any):
    """Second-order expansions of each cell's log-likelihood at ``centre`` (cells, p)."""
    p = centre.shape[1]
    precision = np.zeros((len(data), p, p))
    shift = np.zeros((len(data), p))
    for c, (x, target) in enumerate(data):
        eta = x @ centre[c]
        _, d1, d2 = likelihood.eta_terms(eta, target)
        grad = -(x.T @ d1)  # of the log-likelihood
        precision[c] = (x * d2[:, None]).T @ x
        shift[c] = precision[c] @ centre[c] + grad
    return Sites(precision, shift)


@dataclass
class Lifted:
    """Children ``x ~ N(parent, diag(var))`` with sites (precision, shift), integrated out.

    Attributes
    ----------
    up_precision, up_shift : ndarray
        Their sites on the parent, per child.
    log_norm : float or ndarray
        The log normaliser (summed over children; one per spread of a batch).
    q_inv : ndarray, shape (children, p, p)
        The children's conditional covariance given the parent, ``(precision + 1/var)^-1``.
    q_shift : ndarray, shape (children, p)
        ``q_inv @ shift``: with ``q_inv_t = q_inv / var`` the conditional mean is
        ``q_shift + q_inv_t @ parent``.
    var : ndarray, shape (p,)
    """

    up_precision: np.ndarray
    up_shift: np.ndarray
    log_norm: float
    q_inv: np.ndarray
    q_shift: np.ndarray
    var: np.ndarray

    def select(self, i: int) -> Lifted:
        """The ``i``-th of a batch of spreads."""
        return Lifted(
            self.up_precision[i],
            self.up_shift[i],
            float(self.log_norm[i]),
            self.q_inv[i],
            self.q_shift[i],
            self.var[i],
        )

    @property
    def q_inv_t(self) -> np.ndarray:
        """``q_inv @ diag(1 / var)``."""
        return self.q_inv / self.var[..., None, None, :]


def lift(precision: np.ndarray, shift: np.ndarray, var: np.ndarray) -> Lifted:
    """Integrate children ``x ~ N(parent, diag(var))`` with Gaussian sites out (see
    :class:`Lifted`). Leading axes of ``var`` (..., p) are a batch of spreads (the children's
    sites, (children, p, p) and (children, p), or batched alike, are shared): every field
    gains them, and ``log_norm`` is an array of their shape."""
    inv = 1.0 / var
    p = inv.shape[-1]
    diag = np.arange(p)
    q = np.array(np.broadcast_to(precision, inv.shape[:-1] + precision.shape[-3:]))
    q[..., diag, diag] += inv[..., None, :]
    chol = np.linalg.cholesky(q)
    q_inv = np.linalg.inv(q)
    q_inv += np.swapaxes(q_inv, -1, -2)
    q_inv *= 0.5
    shift = np.broadcast_to(shift, q.shape[:-1])
    q_shift = _mv(q_inv, shift)
    up_precision = -inv[..., None, :, None] * q_inv * inv[..., None, None, :]
    up_precision[..., diag, diag] += inv[..., None, :]
    up_shift = inv[..., None, :] * q_shift
    log_det = 2 * np.log(np.diagonal(chol, axis1=-2, axis2=-1)).sum(axis=-1)
    log_norm = (0.5 * (shift * q_shift).sum(axis=-1) - 0.5 * log_det).sum(axis=-1)
    log_norm = log_norm - 0.5 * shift.shape[-2] * np.log(var).sum(axis=-1)
    return Lifted(up_precision, up_shift, log_norm, q_inv, q_shift, var)


def _sum_by(values: np.ndarray, index: np.ndarray, n: int, axis: int) -> np.ndarray:
    """Sums of ``values`` over the children (axis ``axis``) of each of ``n`` parents
    (``index``: each child's parent; every parent has a child)."""
    if n == 1:
        return values.sum(axis=axis, keepdims=True)
    order = np.argsort(index, kind="stable")
    starts = np.searchsorted(index[order], np.arange(n))
    return np.add.reduceat(np.take(values, order, axis=axis), starts, axis=axis)


def _mv(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Batched matrix @ vector: (c, i, j), (c, j) -> (c, i)."""
    return np.matmul(matrices, vectors[..., None])[..., 0]


def _spread_moments(level: Lifted, parent_mean: np.ndarray, parent_cov: np.ndarray | None):
    """Posterior moments of the children: of ``x - parent`` (mean, diagonal variance; for the
    spreads' gradient) and of ``x`` (mean, and covariance unless the parents are known,
    ``parent_cov`` None; for the level below)."""
    q_inv_t = level.q_inv_t
    b = q_inv_t - np.eye(q_inv_t.shape[-1])[None]  # x - parent = q_shift + b @ parent + noise
    diff_mean = level.q_shift + _mv(b, parent_mean)
    diff_var = np.diagonal(level.q_inv, axis1=1, axis2=2).copy()
    mean = level.q_shift + _mv(q_inv_t, parent_mean)
    if parent_cov is None:
        return diff_mean, diff_var, mean, level.q_inv
    diff_var += (np.matmul(b, parent_cov) * b).sum(axis=2)
    cov = level.q_inv + np.matmul(np.matmul(q_inv_t, parent_cov), np.swapaxes(q_inv_t, 1, 2))
    return diff_mean, diff_var, mean, cov


@dataclass
class Hierarchy:
    """The nested Gaussian model of one pool given its spreads (see the module docstring).

    Attributes
    ----------
    sites : Sites
        The cells' likelihood sites.
    parent : ndarray, shape (cells,)
        Level-1 node of each cell.
    levels : int
    top_precision, top_shift : ndarray, shape (p,)
        The top mean's (Gaussian) prior in information form.
    """

    sites: Sites
    parent: np.ndarray
    levels: int
    top_precision: np.ndarray
    top_shift: np.ndarray
    cache: dict[str, Any] = field(default_factory=dict)

    def _integrate(self, log_scales: np.ndarray):
        """Integrate the cells (and for two levels the level-1 nodes) out: the variances, the
        lifted levels, their log normaliser and the site they leave on the top mean
        (precision, shift). Leading axes of ``log_scales`` (..., levels x p) are a batch of
        spreads: every result gains them."""
        u = np.asarray(log_scales, dtype=float)
        var = np.exp(2 * u.reshape(*u.shape[:-1], self.levels, -1))
        n_nodes = int(self.parent.max()) + 1
        cells = lift(self.sites.precision, self.sites.shift, var[..., 0, :])
        up_p = _sum_by(cells.up_precision, self.parent, n_nodes, axis=-3)
        up_s = _sum_by(cells.up_shift, self.parent, n_nodes, axis=-2)
        total, nodes = cells.log_norm, None
        if self.levels == 2:
            nodes = lift(up_p, up_s, var[..., 1, :])
            total = total + nodes.log_norm
            up_p = nodes.up_precision.sum(axis=-3, keepdims=True)
            up_s = nodes.up_shift.sum(axis=-2, keepdims=True)
        return var, cells, nodes, total, up_p[..., 0, :, :], up_s[..., 0, :]

    def evidence(self, log_scales: np.ndarray) -> tuple[float, np.ndarray]:
        """Log marginal likelihood of the spreads (``levels`` x p log standard deviations),
        up to a constant, and its gradient (Fisher's identity: the expected gradient of the
        log density of the integrated-out levels)."""
        var, cells, nodes, total, up_p, up_s = self._integrate(log_scales)
        m = up_p + np.diag(self.top_precision)
        h = up_s + self.top_shift
        top_cov = np.linalg.inv(m)
        top_mean = top_cov @ h
        total += 0.5 * h @ top_mean - np.log(np.diag(np.linalg.cholesky(m))).sum()
        total += 0.5 * np.log(self.top_precision).sum()
        total -= 0.5 * (self.top_shift**2 / self.top_precision).sum()
        grads, means = self._gradient(cells, nodes, top_mean, top_cov, var)
        self.cache = {"cells": cells, "nodes": nodes, "top": (m, top_mean), "means": means}
        return float(total), grads

    def _gradient(self, cells, nodes, top_mean, top_cov, var):
        """d log evidence / d log spreads, and the cells' posterior means (``top_cov``
        None: the top mean is known)."""
        grads = []
        parent_mean = np.broadcast_to(top_mean, (1, len(top_mean)))
        parent_cov = None if top_cov is None else top_cov[None]
        if nodes is not None:
            k = nodes.q_shift.shape[0]
            d_mean, d_var, parent_mean, parent_cov = _spread_moments(
                nodes, np.repeat(parent_mean, k, 0),
                None if parent_cov is None else np.repeat(parent_cov, k, 0),
            )  # fmt: skip
            grads.append(((d_mean**2 + d_var) / var[1] - 1).sum(axis=0))
        d_mean, d_var, mean, _ = _spread_moments(
            cells, parent_mean[self.parent], None if parent_cov is None else parent_cov[self.parent]
        )
        grads.insert(0, ((d_mean**2 + d_var) / var[0] - 1).sum(axis=0))
        return np.concatenate(grads), mean

    def given_top(self, log_scales: np.ndarray, top: np.ndarray):
        """Log density of the data given the spreads and the top mean (the level-1 nodes and
        the cells integrated out), up to a constant, with its gradients in the log spreads
        and in the top mean."""
        var, cells, nodes, total, up_p, up_s = self._integrate(log_scales)
        total += up_s @ top - 0.5 * top @ up_p @ top
        grad_u, _ = self._gradient(cells, nodes, top, None, var)  # the top is known
        return float(total), grad_u, up_s - up_p @ top

    def batch_size(self) -> int:
        """Spreads per batch of :meth:`_integrate`: at most ``BATCH_ENTRIES`` entries of the
        cells' matrices."""
        p = self.sites.shift.shape[1]
        return max(1, int(BATCH_ENTRIES // (len(self.parent) * p * p)))

    def draw_given_top(
        self, log_scales: np.ndarray, spread: np.ndarray, top: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Exact draws of the level-1 nodes (n, nodes, p) and the cells' weights (n, cells, p)
        given draws of the top mean ``top`` (n, p), draw ``i`` at the log spreads
        ``log_scales[spread[i]]`` (``log_scales``: (m, levels x p)); each spread drawn is
        integrated once, in batches."""
        n, p = top.shape
        n_nodes = int(self.parent.max()) + 1
        nodes, weight = np.empty((n, n_nodes, p)), np.empty((n, len(self.parent), p))
        unique, inverse = np.unique(spread, return_inverse=True)
        size = self.batch_size()
        for start in range(0, len(unique), size):
            _, cells, node_level, *_ = self._integrate(log_scales[unique[start : start + size]])
            cell_chol = _chol(cells.q_inv)
            node_chol = None if node_level is None else _chol(node_level.q_inv)
            rows = np.flatnonzero((inverse >= start) & (inverse < start + size))
            for part in np.array_split(rows, max(1, len(rows) // size)):
                at = inverse[part] - start
                above = np.repeat(top[part][:, None, :], n_nodes, axis=1)
                if node_level is not None:
                    above = _conditional(node_level, node_chol, at, above, rng)
                nodes[part] = above
                weight[part] = _conditional(cells, cell_chol, at, above[:, self.parent], rng)
        return nodes, weight


def _chol(cov: np.ndarray) -> np.ndarray:
    """Cholesky factors of a batch of covariances (a jitter of 1e-12 on the diagonal)."""
    return np.linalg.cholesky(cov + 1e-12 * np.eye(cov.shape[-1]))


def _conditional(level: Lifted, chol: np.ndarray, at: np.ndarray, parent: np.ndarray, rng):
    """Draws of the children given their parents ``parent`` (n, k, p), draw ``i`` at the
    batch's spreads ``at[i]``: ``N(q_shift + q_inv_t @ parent, q_inv)``, ``chol`` the
    Cholesky factors of ``q_inv``."""
    mean = level.q_shift[at] + np.einsum("nkij,nkj->nki", level.q_inv_t[at], parent)
    z = rng.standard_normal(parent.shape)
    return mean + np.einsum("nkij,nkj->nki", chol[at], z)


# --------------------------------------------------------------------- the engine


@dataclass
class PoolFit:
    """The result of fitting one pool.

    Attributes
    ----------
    weight : ndarray, shape (draws, cells, p)
    nodes : ndarray, shape (draws, nodes, p)
        The level-1 means (a single node for one-level pools).
    top : ndarray, shape (draws, p)
    scales : ndarray, shape (draws, levels, p)
        The spreads (standard deviations).
    pareto_k : ndarray, shape (cells,)
        The Gaussian sites' check: per cell, the Pareto k of the
        exact log-likelihood against the site at the cell's draws (NaN for NUTS on the full
        model).
    ess, rhat : float
        Smallest bulk ESS and largest R-hat of the sampled parameters (spreads, top mean;
        the full model's weights too); for importance sampling the ESS of its weights and
        R-hat NaN.
    method : str
        ``pooled`` (importance sampling, :mod:`.pooled_importance`), ``collapsed`` (NUTS on
        the collapsed posterior, :mod:`.pooled_collapsed`) or ``nuts`` (the full model,
        :mod:`.pooled_nuts`).
    divergences : int
    notes : list of str
        Of the whole pool (divergences).
    """

    weight: np.ndarray
    nodes: np.ndarray
    top: np.ndarray
    scales: np.ndarray
    pareto_k: np.ndarray
    ess: float
    rhat: float
    method: str = "pooled"
    divergences: int = 0
    notes: list[str] = field(default_factory=list)


def _log_scale_prior(log_scales: np.ndarray, scale: float) -> tuple[Any, np.ndarray]:
    """Half-normal prior of the spreads in log coordinates (with the Jacobian), and its
    gradient; leading axes of ``log_scales`` are a batch (one value per row)."""
    s2 = np.exp(2 * log_scales)
    value = -0.5 * s2.sum(axis=-1) / scale**2 + log_scales.sum(axis=-1)
    return value, 1.0 - s2 / scale**2


def _objective(hier: Hierarchy, scale: float) -> Callable[[np.ndarray], tuple[float, Any]]:
    """The log posterior of the log spreads and its gradient (-inf where it breaks down)."""

    def log_post(u: np.ndarray) -> tuple[float, np.ndarray]:
        try:
            value, grad = hier.evidence(u)
        except np.linalg.LinAlgError:
            return -np.inf, np.zeros_like(u)
        prior, prior_grad = _log_scale_prior(u, scale)
        return value + float(prior), grad + prior_grad

    return log_post


def _mode(objective: Callable[[np.ndarray], tuple[float, Any]], start: np.ndarray):
    """The mode of the log spreads (L-BFGS-B with the exact gradient)."""
    from scipy.optimize import minimize

    def negative(u: np.ndarray) -> tuple[float, np.ndarray]:
        value, grad = objective(u)
        return (-value, -grad) if np.isfinite(value) else (1e300, np.zeros_like(u))

    bounds = [LOG_SCALE_BOUNDS] * len(start)
    return minimize(negative, start, jac=True, method="L-BFGS-B", bounds=bounds).x


def centred_sites(data, parent, levels, centre, spec: FitSpec) -> tuple[Hierarchy, np.ndarray]:
    """The pool's :class:`Hierarchy` with every cell's site re-centred (:data:`RECENTRE`
    times) at the cell's conditional posterior mean at the spreads' mode (the top prior
    replaced by a normal of the same variance for this step only), and that mode."""
    from preference_dissect.fit.families import LIKELIHOODS, PRIORS

    likelihood = LIKELIHOODS.get(spec.likelihood)
    p = centre.shape[1]
    top_p = np.full(p, 1.0 / PRIORS.get(spec.prior.kind).variance(spec.prior.scale))
    log_scales = np.full(levels * p, np.log(0.2))
    for _ in range(RECENTRE + 1):
        hier = Hierarchy(cell_sites(data, centre, likelihood), parent, levels, top_p,
                         np.zeros(p))  # fmt: skip
        log_scales = _mode(_objective(hier, spec.pooling_scale), log_scales)
        hier.evidence(log_scales)
        centre = hier.cache["means"]
    return hier, log_scales


def site_pareto_k(data, hier: Hierarchy, weight: np.ndarray, likelihood: Any) -> np.ndarray:
    """Per cell, the Pareto k of ``exact log-likelihood - site`` at the cell's draws
    ``weight`` (draws, cells, p): above 0.7, the cell's Gaussian site is a poor stand-in for
    its likelihood where its pooled posterior lies."""
    from preference_dissect.fit.importance import _psis

    ks = []
    for c, (x, target) in enumerate(data):
        w = weight[:, c, :]
        exact = likelihood.log_density(x @ w.T, target, None)
        site = -0.5 * np.einsum("sp,pq,sq->s", w, hier.sites.precision[c], w)
        _, k = _psis(exact - site - w @ hier.sites.shift[c])
        ks.append(k)
    return np.array(ks)
