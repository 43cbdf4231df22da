"""Gaussian approximations of one posterior: the mode (damped Newton) and Laplace + EP.

The Laplace prior has a kink at 0, so a Gaussian centred at the mode is a poor proposal:
the mode sets weakly supported weights to exactly 0 while their posterior means are not.
:func:`gaussian_approximation` therefore approximates only the smooth part (likelihood,
intercept and sigma priors) by a second-order expansion and treats each Laplace prior factor
exactly through expectation propagation (EP): each factor gets a Gaussian "site" fitted by
matching the moments of the tilted distribution (cavity Gaussian x Laplace), which has closed
form moments (a two-piece truncated normal). The expansion is re-centred at the EP mean once.
Importance sampling (:mod:`.importance`) then corrects against the exact posterior.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preference_dissect.fit.posterior import Posterior

MAX_ITER = 100
EP_ITER = 60
EP_DAMPING = 0.7
RECENTRE = 2


@dataclass
class GaussianApprox:
    """Mean and covariance of a Gaussian approximation of the posterior.

    Attributes
    ----------
    mean : ndarray, shape (dim,)
    cov : ndarray, shape (dim, dim)
    mode : ndarray, shape (dim,)
        Mode of the (slightly smoothed) posterior.
    converged : bool
        Whether Newton and EP converged.
    sites : tuple of ndarray, optional
        EP's site precisions and shifts of the prior factors (``None`` for a smooth prior):
        with ``mode``, a warm start for a nearby posterior (:func:`gaussian_approximation`).
    """

    mean: np.ndarray
    cov: np.ndarray
    mode: np.ndarray
    converged: bool
    sites: tuple[np.ndarray, np.ndarray] | None = None


def find_mode(
    post: Posterior, smoothing: float | None = None, start: np.ndarray | None = None
) -> tuple[np.ndarray, int, bool]:
    """Minimise the smoothed negative log-posterior by damped Newton with backtracking,
    from ``start`` (default :meth:`Posterior.initial`).

    Returns
    -------
    theta : ndarray
        The mode.
    iterations : int
    converged : bool
    """
    eps = smoothing  # None: the prior family's own smoothing of its kink
    theta = post.initial() if start is None else np.array(start, dtype=float)
    value, grad, hess = post.smooth_objective(theta, eps)
    for it in range(1, MAX_ITER + 1):
        step = _newton_step(hess, grad)
        t = 1.0
        while True:
            candidate = theta - t * step
            new_value, new_grad, new_hess = post.smooth_objective(candidate, eps)
            if np.isfinite(new_value) and new_value <= value - 1e-4 * t * float(grad @ step):
                break
            t *= 0.5
            if t < 1e-10:
                return theta, it, bool(np.max(np.abs(grad)) < 1e-6)
        theta, value, grad, hess = candidate, new_value, new_grad, new_hess
        if np.max(np.abs(t * step)) < 1e-9 or np.max(np.abs(grad)) < 1e-8:
            return theta, it, True
    return theta, MAX_ITER, False


def _newton_step(hess: np.ndarray, grad: np.ndarray) -> np.ndarray:
    try:
        chol = np.linalg.cholesky(hess)
        return np.linalg.solve(chol.T, np.linalg.solve(chol, grad))
    except np.linalg.LinAlgError:
        # not positive definite (possible for the linear model's sigma far from the mode)
        shift = abs(float(np.linalg.eigvalsh(hess).min())) + 1e-3
        return np.linalg.solve(hess + shift * np.eye(len(grad)), grad)


def _clip_spd(matrix: np.ndarray) -> np.ndarray:
    sym = 0.5 * (matrix + matrix.T)
    vals, vecs = np.linalg.eigh(sym)
    floor = 1e-9 * max(float(vals.max()), 1.0)
    if vals.min() >= floor:
        return sym
    return (vecs * np.maximum(vals, floor)) @ vecs.T


def _ep_sites(
    precision: np.ndarray,
    shift: np.ndarray,
    post: Posterior,
    sites: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, np.ndarray, bool, tuple[np.ndarray, np.ndarray]]:
    """Run parallel damped EP for the prior factors on the first ``p`` coordinates of the
    Gaussian with natural parameters (``precision``, ``shift``), from the site parameters
    ``sites`` (default: the prior's variance, mean 0); return mean, cov, whether it
    converged and the sites (their fixed point does not depend on the start)."""
    p, b, prior = post.p, post.scale, post.prior
    idx = np.arange(p)
    if sites is None:
        tau, nu = np.full(p, 1.0 / prior.variance(b)), np.zeros(p)
    else:
        tau, nu = sites[0].copy(), sites[1].copy()
    converged = False
    for _ in range(EP_ITER):
        q = precision.copy()
        q[idx, idx] += tau
        h = shift.copy()
        h[:p] += nu
        cov = np.linalg.inv(q)
        mean = cov @ h
        v = np.diag(cov)[:p]
        m = mean[:p]
        cav_prec = 1.0 / v - tau
        ok = cav_prec > 1e-10
        cav_var = np.where(ok, 1.0 / np.where(ok, cav_prec, 1.0), 1.0)
        cav_mean = cav_var * (m / v - nu)
        tm, tv = prior.tilted_moments(cav_mean, cav_var, b)
        new_tau = np.maximum(1.0 / tv - 1.0 / cav_var, 1e-10)
        new_nu = tm / tv - cav_mean / cav_var
        new_tau = np.where(ok, new_tau, tau)
        new_nu = np.where(ok, new_nu, nu)
        change = max(np.max(np.abs(new_tau - tau) / (tau + 1.0)), np.max(np.abs(new_nu - nu)))
        tau = EP_DAMPING * new_tau + (1 - EP_DAMPING) * tau
        nu = EP_DAMPING * new_nu + (1 - EP_DAMPING) * nu
        if change < 1e-6:
            converged = True
            break
    q = precision.copy()
    q[idx, idx] += tau
    h = shift.copy()
    h[:p] += nu
    cov = np.linalg.inv(q)
    return cov @ h, 0.5 * (cov + cov.T), converged, (tau, nu)


def gaussian_approximation(post: Posterior, start: GaussianApprox | None = None) -> GaussianApprox:
    """Return a Gaussian approximation of the posterior's mean and covariance.

    A smooth prior (normal): the Laplace approximation at the mode. A prior family that EP
    treats exactly (laplace: it has :meth:`~.families.PriorFamily.tilted_moments`): a
    second-order expansion of the smooth part combined with EP for the prior factors.

    ``start`` (the approximation of a nearby posterior with the same parameters, e.g. of all
    the rows for a cross-validation fold) warm-starts Newton and EP: fewer iterations, the
    same answer to their tolerances.
    """
    usable = start is not None and len(start.mode) == post.dim
    mode, _, converged = find_mode(post)
    b = post.scale
    if post.prior.tilted_moments(np.zeros(1), np.ones(1), b) is None:
        _, _, hess = post.smooth_objective(mode)
        return GaussianApprox(mode, np.linalg.inv(_clip_spd(hess)), mode, converged)
    centre = mode
    mean, cov = mode, np.eye(post.dim)
    sites = start.sites if usable and start.sites is not None else None
    if sites is not None and not all(np.all(np.isfinite(s)) for s in sites):
        sites = None
    for _ in range(RECENTRE):
        _, grad, hess = post.smooth_part(centre)
        precision = _clip_spd(hess)
        shift = precision @ centre - grad
        mean, cov, ep_ok, sites = _ep_sites(precision, shift, post, sites)
        converged = converged and ep_ok
        if not np.all(np.isfinite(mean)):
            mean, cov = mode, np.linalg.inv(_clip_spd(post.smooth_objective(mode, 2 * b)[2]))
            sites = None
            break
        centre = mean
    return GaussianApprox(mean, cov, mode, converged, sites)
