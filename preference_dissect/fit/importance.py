"""Importance sampling with Pareto smoothing (PSIS, ``arviz.psislw``).

The proposal is a defensive mixture of multivariate t distributions around the Laplace+EP
Gaussian approximation (:mod:`.laplace`). The Pareto k (ArviZ) says whether the weights can
be trusted (k <= 0.7); the caller falls back to NUTS otherwise. Equal-weight posterior
draws are produced by systematic resampling.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import special

from preference_dissect.fit.laplace import gaussian_approximation
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
    """

    draws: np.ndarray
    pareto_k: float
    ess: float
    rounds: int
    mean: np.ndarray
    sd: np.ndarray


def _student_t_draws(
    rng: np.random.Generator, mean: np.ndarray, cov: np.ndarray, df: float, m: int
) -> tuple[np.ndarray, np.ndarray]:
    """Draws from a multivariate t with scale matrix ``cov`` and their log densities."""
    dim = len(mean)
    chol = np.linalg.cholesky(cov)
    z = rng.standard_normal((m, dim))
    g = rng.chisquare(df, size=m) / df
    x = mean + (z @ chol.T) / np.sqrt(g)[:, None]
    maha = np.sum(z**2, axis=1) / g
    log_det = 2.0 * np.log(np.diag(chol)).sum()
    logq = (
        special.gammaln((df + dim) / 2)
        - special.gammaln(df / 2)
        - 0.5 * dim * np.log(df * np.pi)
        - 0.5 * log_det
        - 0.5 * (df + dim) * np.log1p(maha / df)
    )
    return x, logq


def _psis(log_weights: np.ndarray) -> tuple[np.ndarray, float]:
    import arviz as az

    finite = np.where(np.isfinite(log_weights), log_weights, -np.inf)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        lw, k = az.psislw(finite - np.max(finite))
    weights = np.exp(lw - special.logsumexp(lw))
    return weights, float(k)


def _weighted_moments(x: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = w @ x
    centred = x - mean
    cov = (centred * w[:, None]).T @ centred
    return mean, cov


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


def _mixture_log_density(
    x: np.ndarray, mean: np.ndarray, components: list[tuple[float, np.ndarray, float]]
) -> np.ndarray:
    dim = len(mean)
    parts = []
    for weight, scale, df in components:
        chol = np.linalg.cholesky(scale)
        z = np.linalg.solve(chol, (x - mean).T).T
        maha = np.sum(z**2, axis=1)
        log_det = 2.0 * np.log(np.diag(chol)).sum()
        parts.append(
            np.log(weight)
            + special.gammaln((df + dim) / 2)
            - special.gammaln(df / 2)
            - 0.5 * dim * np.log(df * np.pi)
            - 0.5 * log_det
            - 0.5 * (df + dim) * np.log1p(maha / df)
        )
    return special.logsumexp(np.array(parts), axis=0)


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
    Batches of ``batch`` proposals are added until the effective sample size reaches
    ``ess_target`` or ``max_proposals`` are used (default: a budget of about 1.2e7
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
    components = [
        (
            PROPOSAL_MIX[0][0],
            _t_scale(approx.cov, PROPOSAL_MIX[0][1], PROPOSAL_MIX[0][2]),
            PROPOSAL_MIX[0][1],
        ),
        (
            PROPOSAL_MIX[1][0],
            _t_scale(approx.cov, PROPOSAL_MIX[1][1], PROPOSAL_MIX[1][2]),
            PROPOSAL_MIX[1][1],
        ),
    ]
    xs: list[np.ndarray] = []
    log_ratios: list[np.ndarray] = []
    rounds = 0
    while True:
        rounds += 1
        counts = rng.multinomial(batch, [c[0] for c in components])
        x = np.vstack(
            [
                _student_t_draws(rng, mean, scale, df, int(c))[0]
                for (_, scale, df), c in zip(components, counts, strict=True)
            ]
        )
        xs.append(x)
        log_ratios.append(post.log_density(x) - _mixture_log_density(x, mean, components))
        weights, k = _psis(np.concatenate(log_ratios))
        ess = float(1.0 / np.sum(weights**2))
        if ess >= ess_target or batch * rounds >= max_proposals:
            break
    x = np.vstack(xs)
    w_mean, w_cov = _weighted_moments(x, weights)
    idx = systematic_resample(rng, weights, n_out)
    return ImportanceResult(
        draws=x[idx],
        pareto_k=k,
        ess=ess,
        rounds=rounds,
        mean=w_mean,
        sd=np.sqrt(np.maximum(np.diag(w_cov), 0.0)),
    )
