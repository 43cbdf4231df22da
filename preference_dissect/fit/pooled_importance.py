"""The default engine of a pool (:func:`importance_pool`): importance sampling of its collapsed
posterior, the spreads and the top mean, with the cells integrated out through their Gaussian
sites (:class:`~.pooling.Hierarchy`), and every draw completed by exact draws of the level-1
nodes and the cells' weights.

The collapsed posterior factorises as ``p(u) p(top | u)``, ``u`` the log spreads. Given ``u``
the sites leave a Gaussian likelihood on the top mean, so only the draws of ``u`` need the
cells integrated out (a batch of small Cholesky factorisations); the top is cheap.

Proposal of ``u``
    The log spreads are nearly independent a posteriori (a pool's spreads interact only
    through the cells' site correlations), but each is skewed: a poorly identified spread's
    posterior has the long left tail of its half-normal prior in log coordinates. The
    proposal is a product of one-dimensional densities, each the shape of its coordinate's
    log density on a grid, found with a few dozen evaluations: at grid point ``g`` every
    coordinate sits at its own ``g``-th value, and under independence the gradient's ``j``-th
    entry (Fisher's identity, the top's posterior by EP: :func:`_ep_gradients`) is the
    derivative of coordinate ``j``'s log density there; integrating it along the grid gives
    every coordinate's log density at once. A first grid around the mode of the spreads with
    the top prior replaced by a normal of its variance (:func:`~.pooling.centred_sites`)
    finds each coordinate's mean and sd, a second around those is the proposal. The weights
    correct for the dependence left.
Proposal of the top given ``u``
    A defensive mixture of t distributions around EP's Gaussian of the top given ``u`` (EP
    warm-started from its sites at the spreads' mode; exact for a normal prior).

The target is exact given the sites (the spec's top prior, half-normal spreads): Pareto k of
the weights (PSIS) above ``FitSpec.pareto_k_max`` sends the pool to NUTS on the same collapsed
posterior (:func:`~.pooled_collapsed.sample_collapsed`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from preference_dissect.fit.importance import _psis, systematic_resample
from preference_dissect.fit.laplace import _ep_sites, _site_gaussian, _treated_by_ep
from preference_dissect.fit.pooling import (
    Hierarchy,
    PoolFit,
    _log_scale_prior,
    _objective,
)
from preference_dissect.fit.spec import FitSpec

#: Effective sample size of the importance weights asked for.
ESS_TARGET = 2000.0
#: Draws of the spreads in the first round, and at most in all.
FIRST_ROUND = 300
MAX_SPREAD_DRAWS = 6000
#: Draws of the top mean per draw of the spreads (only the spreads' draws cost a batch of
#: factorisations).
TOPS_PER_SPREAD = 16
#: Gradient points of the spreads' proposal: within 6 sd of the mode, and in the left tail
#: down to ``LOG_SCALE_FLOOR``; each interval holds ``SUB_BINS`` bins of constant density.
GRID_CORE, GRID_TAIL, SUB_BINS = 41, 8, 16
LOG_SCALE_FLOOR = float(np.log(1e-4))
#: EP's tolerance for the top's proposal given each draw of the spreads (warm-started from
#: the sites at the mode; any Gaussian is a valid proposal, EP only makes it a good one)
TOP_EP_TOL = 1e-3


@dataclass(frozen=True)
class _TopPrior:
    """What EP (:func:`~.laplace._ep_sites`) reads of a posterior: the top mean's dimension
    and prior."""

    p: int
    scale: float
    prior: Any


def top_sites(hier: Hierarchy, mode: np.ndarray, spec: FitSpec) -> tuple[Any, Any]:
    """The spec's top prior as Gaussian sites on the top at the spreads' ``mode``: EP's (a
    warm start for EP at every other spread), or the prior itself when it is normal. ``hier``
    (from :func:`~.pooling.centred_sites`) has the top prior replaced by the normal of the
    same variance: proper and smooth, its evidence guides the first grid everywhere, where
    EP's sites are only good near where they were fitted."""
    from preference_dissect.fit.families import PRIORS

    top_prior = _TopPrior(hier.sites.shift.shape[1], spec.prior.scale, PRIORS.get(spec.prior.kind))
    if not _treated_by_ep(top_prior):
        return hier.top_precision, hier.top_shift
    *_, up_p, up_s = hier._integrate(mode)
    return _ep_sites(up_p, up_s, top_prior)[3]


@dataclass
class SpreadProposal:
    """A product of one-dimensional piecewise-constant densities of the log spreads.

    Attributes
    ----------
    edges : ndarray, shape (bins + 1, d)
        Each coordinate's bin edges.
    log_density : ndarray, shape (bins, d)
        Each coordinate's normalised log density in its bins.
    cdf : ndarray, shape (bins, d)
    """

    edges: np.ndarray
    log_density: np.ndarray
    cdf: np.ndarray

    @classmethod
    def build(cls, gradients: Any, centre: np.ndarray, sd: np.ndarray) -> SpreadProposal:
        """From the gradients of the log posterior (``gradients(points)``: (n, d) -> (n, d),
        finite) on a grid around ``centre`` with widths ``sd`` (see the module docstring)."""
        grid = _grid(centre, sd)
        grads = gradients(grid)
        log_f = _log_marginals(grid, grads)
        # bins: SUB_BINS per grid interval, the log density at their middles by cubic Hermite
        # interpolation (the values and the gradients at the grid points)
        step = np.diff(grid, axis=0)[:, None, :]
        t = ((np.arange(SUB_BINS) + 0.5) / SUB_BINS)[None, :, None]
        values = (2 * t**3 - 3 * t**2 + 1) * log_f[:-1, None] + (-2 * t**3 + 3 * t**2) * log_f[
            1:, None
        ]
        values += step * (
            (t**3 - 2 * t**2 + t) * grads[:-1, None] + (t**3 - t**2) * grads[1:, None]
        )
        values = values.reshape(-1, len(centre))
        edges = grid[:-1, None, :] + step * (np.arange(SUB_BINS) / SUB_BINS)[None, :, None]
        edges = np.vstack([edges.reshape(-1, len(centre)), grid[-1:]])
        widths = np.diff(edges, axis=0)
        values -= values.max(axis=0)
        mass = np.exp(values) * widths
        total = mass.sum(axis=0)
        return cls(edges, values - np.log(total), np.cumsum(mass, axis=0) / total)

    def draw(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` draws and the proposal's log density at them."""
        cols = np.arange(self.edges.shape[1])
        bins = np.stack([np.searchsorted(self.cdf[:, j], rng.random(n)) for j in cols], axis=1)
        bins = np.minimum(bins, len(self.cdf) - 1)
        low, width = self.edges[bins, cols], self.edges[bins + 1, cols] - self.edges[bins, cols]
        return low + rng.random(bins.shape) * width, self.log_density[bins, cols].sum(axis=1)


def _log_marginals(grid: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Each coordinate's log density on the grid (up to a constant): its gradient entries
    integrated along it (trapezoids with the end correction of the gradient's slope, exact
    for cubics)."""
    step = np.diff(grid, axis=0)
    slope = np.stack([np.gradient(grads[:, j], grid[:, j]) for j in range(grid.shape[1])], 1)
    rises = 0.5 * (grads[1:] + grads[:-1]) * step - step**2 * (slope[1:] - slope[:-1]) / 12
    return np.vstack([np.zeros(grid.shape[1]), np.cumsum(rises, axis=0)])


def _grid(centre: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """Grid points (GRID_TAIL + GRID_CORE, d): per coordinate, 6 sd either side of the
    centre, and a tail down to ``LOG_SCALE_FLOOR``."""
    low = np.maximum(centre - 6 * sd, LOG_SCALE_FLOOR)
    core = low + (centre + 6 * sd - low) * np.linspace(0.0, 1.0, GRID_CORE)[:, None]
    start = np.minimum(LOG_SCALE_FLOOR, low - 1.0)
    tail = start + (low - start) * np.linspace(0.0, 1.0, GRID_TAIL + 1)[:-1, None]
    return np.vstack([tail, core])


def _grid_moments(grid: np.ndarray, log_f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and sd of each coordinate's density on the grid (trapezoid weights)."""
    steps = np.diff(grid, axis=0)
    weights = np.zeros_like(grid)
    weights[:-1] += 0.5 * steps
    weights[1:] += 0.5 * steps
    density = np.exp(log_f - log_f.max(axis=0)) * weights
    density /= density.sum(axis=0)
    mean = (density * grid).sum(axis=0)
    return mean, np.sqrt((density * (grid - mean) ** 2).sum(axis=0))


def spread_proposal(hier: Hierarchy, mode: np.ndarray, sites, spec: FitSpec):
    """The proposal of the log spreads (:class:`SpreadProposal`), from the gradients of
    their posterior with the top prior treated by EP (:func:`_ep_gradients`): a first grid
    around the spreads' ``mode`` under ``hier`` (widths from its curvature, a central
    difference of the gradient along the diagonal: the independence the proposal assumes)
    finds each coordinate's mean and sd, a second grid around those is the proposal's."""
    objective = _objective(hier, spec.pooling_scale)
    h = 0.05
    curvature = (objective(mode + h)[1] - objective(mode - h)[1]) / (2 * h)
    sd = np.where(curvature < -1e-6, 1.0 / np.sqrt(np.abs(curvature)), 1.0)

    def gradients(points: np.ndarray) -> np.ndarray:
        grads = _ep_gradients(hier, sites, points, spec)
        return np.where(np.isfinite(grads), grads, 0.0)  # where a factorisation failed

    grid = _grid(mode, sd)
    grads = gradients(grid)
    centre, sd = _grid_moments(grid, _log_marginals(grid, grads))
    return SpreadProposal.build(gradients, centre, np.maximum(sd, 1e-3))


def _ep_gradients(hier: Hierarchy, sites, points: np.ndarray, spec: FitSpec) -> np.ndarray:
    """The gradient of the log spreads' posterior (the spec's top prior) at each of
    ``points`` (n, d): Fisher's identity, the expected gradient of the integrated-out levels'
    log density, with EP's Gaussian for the top's posterior (EP warm-started from ``sites``)."""
    out = []
    size = hier.batch_size()
    for start in range(0, len(points), size):
        batch = points[start : start + size]
        var, cells, nodes, _, up_p, up_s = hier._integrate(batch)
        mean, cov = _top_moments(up_p, up_s, sites, spec)
        for i in range(len(batch)):
            level = None if nodes is None else nodes.select(i)
            grad, _ = hier._gradient(cells.select(i), level, mean[i], cov[i], var[i])
            out.append(grad + _log_scale_prior(batch[i], spec.pooling_scale)[1])
    return np.array(out)


def _weigh(hier: Hierarchy, sites, u: np.ndarray, log_q: np.ndarray, spec: FitSpec, rng):
    """``TOPS_PER_SPREAD`` top draws for each draw of the log spreads ``u`` (proposal log
    density ``log_q``; ``sites``: the top prior's EP sites at the mode) and the log
    importance weights of the pairs: tops (n, TOPS, p) and log weights (n, TOPS)."""
    from preference_dissect.fit.families import PRIORS

    prior, scale = PRIORS.get(spec.prior.kind), spec.prior.scale
    size = hier.batch_size()
    tops, log_w = [], []
    for start in range(0, len(u), size):
        batch = u[start : start + size]
        *_, total, up_p, up_s = hier._integrate(batch)
        top, log_proposal = _top_draws(up_p, up_s, sites, spec, rng)
        target = total[:, None] + np.einsum("ki,ksi->ks", up_s, top)
        target -= 0.5 * np.einsum("ksi,kij,ksj->ks", top, up_p, top)
        target += prior.log_density(top, scale)
        target += _log_scale_prior(batch, spec.pooling_scale)[0][:, None]
        tops.append(top)
        log_w.append(target - log_proposal - log_q[start : start + size, None])
    return np.concatenate(tops), np.concatenate(log_w)


def _top_moments(up_p: np.ndarray, up_s: np.ndarray, sites, spec: FitSpec):
    """Mean and covariance of the top given each of a batch of spreads, whose sites leave
    the Gaussian likelihood (``up_p``, ``up_s``) on it: with the prior's EP sites (EP
    warm-started from ``sites``), or exactly for a normal prior (``sites`` its own)."""
    from preference_dissect.fit.families import PRIORS

    top_prior = _TopPrior(up_s.shape[-1], spec.prior.scale, PRIORS.get(spec.prior.kind))
    if not _treated_by_ep(top_prior):
        cov, mean = _site_gaussian(up_p, up_s, *sites)
        return mean, cov
    mean, cov, _, _ = _ep_sites(up_p, up_s, top_prior, sites, TOP_EP_TOL)
    return mean, cov


def _top_draws(up_p: np.ndarray, up_s: np.ndarray, sites, spec: FitSpec, rng):
    """Draws of the top given each of a batch of spreads, whose sites leave the Gaussian
    likelihood (``up_p``, ``up_s``) on it: from a defensive mixture of t distributions (as
    :mod:`.importance`) around the Gaussian of that likelihood times the prior's EP sites
    (EP warm-started from ``sites``); draws (k, TOPS, p) and their log density (k, TOPS)."""
    from preference_dissect.fit.importance import PROPOSAL_MIX, t_log_norm

    k, p = up_s.shape
    mean, cov = _top_moments(up_p, up_s, sites, spec)
    chol = np.linalg.cholesky(cov)
    log_det = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    weights, dfs, inflation = (np.array(c) for c in zip(*PROPOSAL_MIX, strict=True))
    factor = inflation * (dfs - 2) / dfs  # the components' scales: factor x cov
    which = rng.choice(len(weights), size=(k, TOPS_PER_SPREAD), p=weights)
    z = rng.standard_normal((k, TOPS_PER_SPREAD, p))
    g = rng.chisquare(dfs[which]) / dfs[which]
    top = (
        mean[:, None, :]
        + np.einsum("kij,ksj->ksi", chol, z) * np.sqrt(factor[which] / g)[..., None]
    )
    maha = (z**2).sum(axis=-1) * factor[which] / g  # in cov's units
    parts = []
    for w, df, f in zip(weights, dfs, factor, strict=True):
        log_norm = t_log_norm(df, p, p * np.log(f) + log_det[:, None])  # scale f x cov
        parts.append(np.log(w) + log_norm - 0.5 * (df + p) * np.log1p(maha / (f * df)))
    return top, np.logaddexp.reduce(parts, axis=0)


@dataclass
class _Weighted:
    """The weighted draws of the collapsed posterior: per draw of the log spreads ``u``
    (n, d), ``TOPS_PER_SPREAD`` draws of the top (n, TOPS, p) and their log weights."""

    u: np.ndarray
    top: np.ndarray
    log_w: np.ndarray


def _sample(hier: Hierarchy, sites, proposal: SpreadProposal, spec: FitSpec, rng):
    """Rounds of importance sampling until the ESS reaches ``ESS_TARGET`` (or
    ``MAX_SPREAD_DRAWS`` spreads are drawn): the weighted draws, the normalised smoothed
    weights (flat, as ``log_w.ravel()``), the Pareto k and the ESS."""
    from preference_dissect.fit.importance import _next_batch

    parts: list[_Weighted] = []
    size, used = FIRST_ROUND, 0
    while True:
        u, log_q = proposal.draw(rng, size)
        parts.append(_Weighted(u, *_weigh(hier, sites, u, log_q, spec, rng)))
        used += size
        log_w = np.concatenate([part.log_w for part in parts])
        weights, k = _psis(log_w.ravel())
        ess = float(1.0 / np.sum(weights**2))
        if ess >= ESS_TARGET or used >= MAX_SPREAD_DRAWS:
            break
        size = _next_batch(ess, used, ESS_TARGET, FIRST_ROUND, MAX_SPREAD_DRAWS)
    fields = ("u", "top", "log_w")
    drawn = _Weighted(*(np.concatenate([getattr(part, f) for part in parts]) for f in fields))
    return drawn, weights, k, ess


def importance_pool(
    hier: Hierarchy, mode: np.ndarray, spec: FitSpec, rng: np.random.Generator
) -> tuple[PoolFit | None, float]:
    """Sample a pool's collapsed posterior by importance sampling (see the module docstring)
    and complete every draw.

    Parameters
    ----------
    hier, mode
        The pool's sites, with the normal of the top prior's variance on the top, and the
        log spreads' mode under them (:func:`~.pooling.centred_sites`).
    spec : FitSpec
    rng : numpy.random.Generator

    Returns
    -------
    (PoolFit or None, float)
        The fit (``spec.chains * spec.draws`` equal-weight draws; ``None`` when the Pareto
        k of the weights exceeds ``spec.pareto_k_max``) and that Pareto k.
    """
    sites = top_sites(hier, mode, spec)
    proposal = spread_proposal(hier, mode, sites, spec)
    drawn, weights, k, ess = _sample(hier, sites, proposal, spec, rng)
    if not k <= spec.pareto_k_max:
        return None, k
    n_out = spec.chains * spec.draws
    spread, which = np.divmod(systematic_resample(rng, weights, n_out), TOPS_PER_SPREAD)
    top = drawn.top[spread, which]
    nodes, weight = hier.draw_given_top(drawn.u, spread, top, rng)
    scales = np.exp(drawn.u[spread]).reshape(n_out, hier.levels, -1)
    fit = PoolFit(
        weight=weight, nodes=nodes, top=top, scales=scales,
        pareto_k=np.full(len(hier.parent), np.nan), ess=ess, rhat=float("nan"),
    )  # fmt: skip
    return fit, k


def fit_pool(
    data: list[tuple[np.ndarray, np.ndarray]],
    parent: np.ndarray,
    levels: int,
    centre: np.ndarray,
    spec: FitSpec,
    rng: np.random.Generator,
) -> PoolFit:
    """Fit one pool with the default engine: Gaussian sites combined exactly, the spreads
    and the top mean by importance sampling (:func:`importance_pool`; NUTS on the same
    collapsed posterior, :func:`~.pooled_collapsed.sample_collapsed`, for a prior without a
    density or when the weights' Pareto k is too high), the rest drawn exactly; every
    cell's site is checked against its exact likelihood at its draws.

    Parameters
    ----------
    data : list of (xmat, target)
        Each cell's comparisons (constant columns zeroed) and outcome as the likelihood
        models it.
    parent : ndarray, shape (cells,)
        Level-1 node of each cell.
    levels : int
    centre : ndarray, shape (cells, p)
        Where to expand the cells' log-likelihoods first (their unpooled posterior means).
    spec : FitSpec
    rng : numpy.random.Generator
    """
    from preference_dissect.fit.families import LIKELIHOODS, PRIORS
    from preference_dissect.fit.pooled_collapsed import sample_collapsed
    from preference_dissect.fit.pooling import centred_sites, site_pareto_k

    hier, mode = centred_sites(data, parent, levels, centre, spec)
    fit, notes = None, []
    if PRIORS.get(spec.prior.kind).importance_sampling:
        try:
            fit, k = importance_pool(hier, mode, spec, rng)
        except np.linalg.LinAlgError:  # a factorisation failed: k unknown
            fit, k = None, float("nan")
        if fit is None:
            notes.append(f"pooled importance sampling: Pareto k {k:.2f}; sampled with NUTS")
    if fit is None:
        rows = sum(len(t) for _, t in data)
        fit = sample_collapsed(hier, mode, spec, rows, rng)
        fit.notes = notes + fit.notes
    fit.pareto_k = site_pareto_k(data, hier, fit.weight, LIKELIHOODS.get(spec.likelihood))
    return fit
