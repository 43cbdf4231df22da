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
#: EP's convergence tolerance (largest change of a site), and the looser one of the passes
#: whose mean only re-centres the expansion (the last pass converges to ``EP_TOL``)
EP_TOL = 1e-6
EP_CENTRE_TOL = 1e-4
RECENTRE = 2


@dataclass
class GaussianApprox:
    """Mean and covariance of a Gaussian approximation of the posterior.

    Attributes
    ----------
    mean : ndarray, shape (dim,)
    cov : ndarray, shape (dim, dim)
    mode : ndarray, shape (dim,)
        Mode of the (slightly smoothed) posterior (of the start's posterior when warm-started
        from one: see :func:`gaussian_approximation`).
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
    tol: float = EP_TOL,
) -> tuple[np.ndarray, np.ndarray, bool, tuple[np.ndarray, np.ndarray]]:
    """Run parallel damped EP for the prior factors on the first ``p`` coordinates of the
    Gaussian with natural parameters (``precision``, ``shift``), from the site parameters
    ``sites`` (default: the prior's variance, mean 0); return mean, cov, whether it
    converged (largest site change below ``tol``) and the sites (their fixed point does not
    depend on the start).

    Leading axes of ``precision`` (..., d, d) and ``shift`` (..., d) are a batch of
    Gaussians sharing ``post``'s prior (cross-validation folds), run in lockstep until every
    one has converged; ``sites`` broadcast against the batch."""
    p, b, prior = post.p, post.scale, post.prior
    batch = shift.shape[:-1]
    if sites is None:
        tau, nu = np.full((*batch, p), 1.0 / prior.variance(b)), np.zeros((*batch, p))
    else:
        tau = np.broadcast_to(sites[0], (*batch, p)).copy()
        nu = np.broadcast_to(sites[1], (*batch, p)).copy()
    converged = False
    for _ in range(EP_ITER):
        cov, mean = _site_gaussian(precision, shift, tau, nu)
        v = np.diagonal(cov, axis1=-2, axis2=-1)[..., :p]
        m = mean[..., :p]
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
        if change < tol:
            converged = True
            break
    cov, mean = _site_gaussian(precision, shift, tau, nu)
    return mean, 0.5 * (cov + np.swapaxes(cov, -1, -2)), converged, (tau, nu)


def _site_gaussian(
    precision: np.ndarray, shift: np.ndarray, tau: np.ndarray, nu: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Covariance and mean of the Gaussian (``precision``, ``shift``) times the sites
    (precisions ``tau`` and shifts ``nu`` on the first coordinates), batched like
    :func:`_ep_sites`."""
    p = tau.shape[-1]
    idx = np.arange(p)
    q = precision.copy()
    q[..., idx, idx] += tau
    h = shift.copy()
    h[..., :p] += nu
    cov = np.linalg.inv(q)
    return cov, (cov @ h[..., None])[..., 0]


def fold_means(posts: list[Posterior], start: GaussianApprox | None) -> np.ndarray:
    """Posterior means of the Gaussian approximations of ``posts`` (cross-validation folds:
    the same parameters and prior), warm-started from ``start`` (the approximation of all
    the rows) as :func:`gaussian_approximation` does, with the folds' EP run in lockstep
    (one batched step for all of them: several times faster than one at a time). Without a
    usable ``start`` (or when the batch fails), one at a time.

    Returns an array (folds, dim); a fold whose approximation failed is a row of NaN.
    """
    sites = _warm_sites(posts[0], start)
    if start is not None and sites is not None:
        centres = np.tile(start.mean, (len(posts), 1))
        try:
            means, _, _, done = _recentred_ep(posts, centres, sites, RECENTRE + 1)
            if done is not None:
                return means
        except (np.linalg.LinAlgError, ValueError):
            pass  # e.g. one singular fold: one at a time, that one left out
    return np.stack([_fold_mean(post, start) for post in posts])


def _recentred_ep(
    posts: list[Posterior],
    centres: np.ndarray,
    sites: tuple[np.ndarray, np.ndarray] | None,
    passes: int,
) -> tuple[np.ndarray, np.ndarray, bool, tuple[np.ndarray, np.ndarray] | None]:
    """EP for a batch of posteriors sharing one prior (one row of ``centres`` each): the
    smooth part expanded at the centre, EP for the prior factors (the intermediate passes to
    ``EP_CENTRE_TOL``, the last to ``EP_TOL``), re-centred at the EP mean ``passes`` times.
    Returns means, covariances, whether EP converged, and the batch's sites (``None`` when a
    mean is not finite: the caller falls back)."""
    means, covs, converged = centres, np.zeros(0), True
    for pass_ in range(passes):
        precisions, shifts = [], []
        for post, at in zip(posts, centres, strict=True):
            _, grad, hess = post.smooth_part(at)
            precision = _clip_spd(hess)
            precisions.append(precision)
            shifts.append(precision @ at - grad)
        tol = EP_TOL if pass_ == passes - 1 else EP_CENTRE_TOL
        batch = np.stack(precisions), np.stack(shifts)
        means, covs, ep_ok, sites = _ep_sites(*batch, posts[0], sites, tol)
        converged = converged and ep_ok
        if not np.all(np.isfinite(means)):
            return means, covs, False, None
        centres = means
    return means, covs, converged, sites


def _fold_mean(post: Posterior, start: GaussianApprox | None) -> np.ndarray:
    try:
        return gaussian_approximation(post, start).mean
    except (np.linalg.LinAlgError, ValueError):
        return np.full(post.dim, np.nan)


def _treated_by_ep(post: Posterior) -> bool:
    """Whether EP treats the prior of ``post`` exactly (it has tilted moments), rather than
    the Laplace approximation at the mode."""
    return post.prior.tilted_moments(np.zeros(1), np.ones(1), post.scale) is not None


def _warm_sites(
    post: Posterior, start: GaussianApprox | None
) -> tuple[np.ndarray, np.ndarray] | None:
    """EP sites of ``start`` when they can warm-start ``post`` (a prior EP treats, the same
    parameters, finite sites)."""
    if start is None or start.sites is None or len(start.mode) != post.dim:
        return None
    if not _treated_by_ep(post):
        return None
    return start.sites if all(np.all(np.isfinite(s)) for s in start.sites) else None


def gaussian_approximation(post: Posterior, start: GaussianApprox | None = None) -> GaussianApprox:
    """Return a Gaussian approximation of the posterior's mean and covariance.

    A smooth prior (normal): the Laplace approximation at the mode. A prior family that EP
    treats exactly (laplace: it has :meth:`~.families.PriorFamily.tilted_moments`): a
    second-order expansion of the smooth part combined with EP for the prior factors.

    ``start`` (the approximation of a nearby posterior with the same parameters, e.g. of all
    the rows for a cross-validation fold) warm-starts EP: its sites start EP and its mean is
    the first centre of the expansion (no mode search; ``mode`` is then the start's), with
    one more re-centring: closer to the expansion's fixed point than a cold start, faster.
    """
    b = post.scale
    sites = _warm_sites(post, start)
    if sites is not None:
        # no mode search (most of the cost of a cross-validation fold's approximation): the
        # nearby posterior's EP mean is the first centre, and one more re-centring brings
        # the expansion closer to its fixed point than the cold start's two do
        assert start is not None
        mode, converged, centre, passes = start.mode, True, start.mean, RECENTRE + 1
    else:
        mode, _, converged = find_mode(post)
        if not _treated_by_ep(post):
            _, _, hess = post.smooth_objective(mode)
            return GaussianApprox(mode, np.linalg.inv(_clip_spd(hess)), mode, converged)
        centre, passes = mode, RECENTRE
    means, covs, ep_ok, batch_sites = _recentred_ep([post], centre[None], sites, passes)
    if batch_sites is None:  # a mean that is not finite: the Laplace approximation
        cov = np.linalg.inv(_clip_spd(post.smooth_objective(mode, 2 * b)[2]))
        return GaussianApprox(mode, cov, mode, False, None)
    sites = (batch_sites[0][0], batch_sites[1][0])
    return GaussianApprox(means[0], covs[0], mode, converged and ep_ok, sites)
