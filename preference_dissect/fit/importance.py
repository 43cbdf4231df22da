"""Importance sampling with Pareto smoothing (PSIS, ``arviz.psislw``).

The proposal is a defensive mixture of multivariate t distributions around the Laplace+EP
Gaussian approximation (:mod:`.laplace`). The Pareto k (ArviZ) says whether the weights can
be trusted (k <= 0.7); the caller falls back to NUTS otherwise. Equal-weight posterior
draws are produced by systematic resampling.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from preference_dissect.fit.laplace import GaussianApprox, gaussian_approximation
from preference_dissect.fit.posterior import Posterior

#: (mixture weight, degrees of freedom, covariance inflation) of the proposal components
PROPOSAL_MIX = ((0.8, 1e7, 1.05), (0.2, 4.0, 2.0))
PROPOSAL_BUDGET = 1.2e7


@dataclass
class ImportanceResult:
    """Outcome of importance sampling for one fit.

    Attributes
    ----------
    draws : ndarray, shape (n_out, dim)
        Equal-weight posterior draws (resampled).
    pareto_k : float
        Pareto k of all the importance weights.
    ess : float
        Effective sample size of the smoothed weights, 1 / sum(w**2).
    rounds : int
    mean, sd : ndarray, shape (dim,)
        Importance-weighted posterior mean and sd (before resampling).
    approx : GaussianApprox, optional
        The Gaussian approximation the proposal was built around (a warm start for the
        cross-validation folds' approximations).
    """

    draws: np.ndarray
    pareto_k: float
    ess: float
    rounds: int
    mean: np.ndarray
    sd: np.ndarray
    approx: GaussianApprox | None = None


def t_log_norm(df: float, dim: int, log_det: np.ndarray | float) -> np.ndarray | float:
    """Log normalising constant of a ``dim``-variate t with ``df`` degrees of freedom and a
    scale matrix of log determinant ``log_det``."""
    return (
        special.gammaln((df + dim) / 2)
        - special.gammaln(df / 2)
        - 0.5 * dim * np.log(df * np.pi)
        - 0.5 * log_det
    )


@dataclass
class _TComponent:
    """One multivariate t component of the proposal: its mixture weight, degrees of freedom,
    scale matrix (its Cholesky factor) and log normalising constant."""

    weight: float
    df: float
    chol: np.ndarray
    log_norm: float
    #: scale = factor * base: the base scale is the Gaussian approximation's covariance
    factor: float

    @classmethod
    def build(cls, cov: np.ndarray, weight: float, df: float, inflation: float) -> _TComponent:
        dim = cov.shape[0]
        chol = np.linalg.cholesky(_t_scale(cov, df, inflation))
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        log_norm = t_log_norm(df, dim, log_det)
        return cls(weight, df, chol, float(log_norm), inflation * (df - 2.0) / df)

    def log_density(self, maha: np.ndarray) -> np.ndarray:
        """Log density at points of squared Mahalanobis distance ``maha`` (in its scale)."""
        dim = self.chol.shape[0]
        return self.log_norm - 0.5 * (self.df + dim) * np.log1p(maha / self.df)


def _student_t_draws(
    rng: np.random.Generator, mean: np.ndarray, comp: _TComponent, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draws from one t component and their squared Mahalanobis distances in its scale."""
    dim = len(mean)
    z = rng.standard_normal((m, dim))
    g = rng.chisquare(comp.df, size=m) / comp.df
    x = mean + (z @ comp.chol.T) / np.sqrt(g)[:, None]
    return x, np.sum(z**2, axis=1) / g


def _mixture_draws(
    rng: np.random.Generator, mean: np.ndarray, components: list[_TComponent], m: int
) -> tuple[np.ndarray, np.ndarray]:
    """``m`` draws from the mixture and the mixture's log density at them.

    Every component's scale is a multiple of one matrix (:func:`_t_scale`), so a draw's
    Mahalanobis distance in another component's scale is its own rescaled: no solve needed.
    """
    counts = rng.multinomial(m, [c.weight for c in components])
    xs, parts = [], []
    for comp, count in zip(components, counts, strict=True):
        x, maha = _student_t_draws(rng, mean, comp, int(count))
        xs.append(x)
        parts.append(
            [np.log(o.weight) + o.log_density(maha * comp.factor / o.factor) for o in components]
        )
    logq = np.concatenate([functools.reduce(np.logaddexp, p) for p in parts])
    return np.vstack(xs), logq


def _psis(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """Pareto-smoothed normalised weights and the Pareto k (``arviz.psislw``, reff 1)."""
    finite = np.where(np.isfinite(log_weights), log_weights, -np.inf)
    lw, k = _psislw(finite - np.max(finite))
    weights = np.exp(lw - _logsumexp(lw))
    return weights, float(k)


def _psislw(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    """``arviz.psislw(log_weights)`` of a 1-D array whose largest value is 0: the same
    arithmetic (ArViZ's generalised Pareto fit of the right tail), with the tail found by
    partitioning instead of sorting every weight and without the xarray wrapping, which
    together cost several times the smoothing itself at the sizes here (the tests compare
    it with ``arviz.psislw``)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            from arviz.stats.stats import _gpdfit, _gpinv
        except ImportError:  # pragma: no cover - a future ArviZ: its public function
            import arviz as az

            return az.psislw(log_weights)
        x = np.array(log_weights, dtype=float)
        n = len(x)
        below = n - int(np.ceil(min(n / 5.0, 3 * n**0.5))) - 1  # ArViZ's cutoff index
        cutoff = max(float(np.partition(x, below)[below]), float(np.log(np.finfo(float).tiny)))
        tail = np.flatnonzero(x > cutoff)
        k = np.inf
        if len(tail) > 4:
            order = tail[np.argsort(x[tail])]
            k, sigma = _gpdfit(np.exp(x[order]) - np.exp(cutoff))
            if np.isfinite(k):
                quantiles = np.arange(0.5, len(tail)) / len(tail)
                x[order] = np.log(_gpinv(quantiles, k, sigma) + np.exp(cutoff))
                x[x > 0] = 0
        return x - _logsumexp(x), float(k)


def _logsumexp(a: np.ndarray) -> float:
    top = float(np.max(a))
    return top + float(np.log(np.sum(np.exp(a - top))))


def _weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted mean and variance of each column of ``x`` (weights ``w`` sum to 1)."""
    mean = w @ x
    centred = x - mean
    np.square(centred, out=centred)
    return mean, w @ centred


def _t_scale(cov: np.ndarray, df: float, inflation: float) -> np.ndarray:
    """Scale matrix of a t proposal whose covariance is ``inflation * cov``."""
    dim = cov.shape[0]
    scale = inflation * cov * (df - 2.0) / df
    return scale + 1e-10 * np.trace(scale) / dim * np.eye(dim)


def systematic_resample(rng: np.random.Generator, weights: np.ndarray, n_out: int) -> np.ndarray:
    """Indices of ``n_out`` systematic-resampling draws, randomly permuted."""
    positions = (rng.random() + np.arange(n_out)) / n_out
    cumulative = np.cumsum(weights)
    cumulative[-1] = 1.0
    idx = np.searchsorted(cumulative, positions, side="left")
    return rng.permutation(np.minimum(idx, len(weights) - 1))


def _next_batch(ess: float, used: int, ess_target: float, batch: int, max_proposals: int) -> int:
    """Proposals for the next round: enough to reach ``ess_target`` at the efficiency seen so
    far (ESS per proposal) with a 10% margin, at least a quarter batch, within the budget."""
    efficiency = max(ess / used, 1e-4)
    needed = int(np.ceil(1.1 * (ess_target - ess) / efficiency))
    return int(np.clip(needed, batch // 4, max_proposals - used))


def importance_sample(
    post: Posterior,
    rng: np.random.Generator,
    n_out: int,
    *,
    ess_target: float = 3000.0,
    batch: int = 4000,
    max_proposals: int | None = None,
) -> ImportanceResult:
    """Sample the posterior of ``post`` by Pareto-smoothed importance sampling.

    The proposal is a defensive mixture around the Gaussian approximation of
    :func:`~preference_dissect.fit.laplace.gaussian_approximation` (80% a near-Gaussian
    t with 1.05 x its covariance, 20% a t with 4 degrees of freedom and 2 x its covariance).
    A first batch of ``batch`` proposals measures the efficiency (ESS per proposal); each
    further round adds what that efficiency says is still needed (10% more, at least a
    quarter batch) until the effective sample size reaches ``ess_target`` or
    ``max_proposals`` are used (default: a budget of about 1.2e7
    row-evaluations, between 48,000 and 120,000 proposals; small groups, whose posteriors are
    the least Gaussian, get the most).

    Parameters
    ----------
    post : Posterior
        The target.
    rng : numpy.random.Generator
    n_out : int
        Number of equal-weight draws to return.
    ess_target, batch, max_proposals
        See above.
    """
    if max_proposals is None:
        max_proposals = int(np.clip(PROPOSAL_BUDGET / max(post.n, 1), 48000, 120000))
    approx = gaussian_approximation(post)
    mean = approx.mean
    components = [_TComponent.build(approx.cov, w, df, infl) for w, df, infl in PROPOSAL_MIX]
    xs: list[np.ndarray] = []
    log_ratios: list[np.ndarray] = []
    rounds, size, used = 0, batch, 0
    while True:
        rounds += 1
        x, logq = _mixture_draws(rng, mean, components, size)
        xs.append(x)
        log_ratios.append(post.log_density(x) - logq)
        used += size
        weights, k = _psis(np.concatenate(log_ratios))
        ess = float(1.0 / np.sum(weights**2))
        if ess >= ess_target or used >= max_proposals:
            break
        size = _next_batch(ess, used, ess_target, batch, max_proposals)
    x = np.vstack(xs)
    w_mean, w_var = _weighted_moments(x, weights)
    idx = systematic_resample(rng, weights, n_out)
    return ImportanceResult(
        draws=x[idx],
        pareto_k=k,
        ess=ess,
        rounds=rounds,
        mean=w_mean,
        sd=np.sqrt(np.maximum(w_var, 0.0)),
        approx=approx,
    )
