"""Model checks for one fit: k-fold holdout accuracy and a posterior predictive check."""

from __future__ import annotations

import numpy as np

from preference_dissect.fit.families import LIKELIHOODS, PRIORS
from preference_dissect.fit.laplace import GaussianApprox, fold_means
from preference_dissect.fit.posterior import Posterior
from preference_dissect.fit.spec import FitSpec, Prior

PPC_DRAWS = 400


#: The prior the approximations of k-fold accuracy use for a prior without an
#: importance-sampling form (the horseshoe).
APPROXIMATION_PRIOR = "laplace:0.1"


def _hits(eta: np.ndarray, y: np.ndarray) -> np.ndarray:
    """1 for a correct prediction, 0 for a wrong one, 0.5 for a tie (eta at the boundary).

    Every likelihood's linear predictor is centred: eta > 0 means "A preferred"."""
    threshold = 0.0
    target = y > 0.5
    hits = ((eta > threshold) == target).astype(float)
    hits[np.isclose(eta, threshold)] = 0.5
    return hits


def kfold_accuracy(
    xmat: np.ndarray,
    y: np.ndarray,
    spec: FitSpec,
    rng: np.random.Generator,
    start: GaussianApprox | None = None,
) -> float:
    """Holdout accuracy by k-fold cross-validation (``spec.folds`` folds).

    Each training fold is fitted with the Laplace+EP Gaussian approximation and its
    posterior-mean weights predict the held-out rows. Rows whose soft target is exactly 0.5
    (linear model) are not scored. Returns NaN when there are fewer than two rows per fold.
    ``start``, the approximation of all the rows under ``spec``, warm-starts the folds'.
    """
    keep = ~np.isclose(y, 0.5)
    n = len(y)
    if n < 2 * spec.folds:
        return float("nan")
    approx_spec = spec
    if not PRIORS.get(spec.prior.kind).importance_sampling:
        approx_spec = spec.model_copy(update={"prior": Prior.parse(APPROXIMATION_PRIOR)})
        start = None  # an approximation under another prior
    folds = np.array_split(rng.permutation(n), spec.folds)
    posts = []
    for held in folds:
        train = np.setdiff1d(np.arange(n), held)
        posts.append(Posterior(xmat[train], y[train], approx_spec))
    with np.errstate(all="ignore"):
        means = fold_means(posts, start)
    hits = []
    for held, post, mean in zip(folds, posts, means, strict=True):
        eta = post.predict(mean, xmat[held])
        # a degenerate training fold (e.g. too few rows) has no approximation: not scored
        if np.all(np.isfinite(eta)):
            hits.append(_hits(eta, y[held])[keep[held]])
    scored = np.concatenate(hits) if hits else np.array([])
    return float(scored.mean()) if len(scored) else float("nan")


def posterior_predictive_check(
    xmat: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    intercept: np.ndarray | None,
    sigma: np.ndarray | None,
    likelihood: str,
    rng: np.random.Generator,
) -> tuple[float, np.ndarray]:
    """Posterior predictive p-values for the share of y = 1 and per-attribute agreement.

    Agreement of attribute j is the share of rows with ``x_j != 0`` where the preferred
    response is the one that wins attribute j. A p-value is two-sided,
    ``2 * min(P(T_rep >= T_obs), P(T_rep <= T_obs))`` capped at 1.

    Parameters
    ----------
    weight : ndarray, shape (S, p)
        Posterior draws of the weights (a random subset of at most 400 is used).
    intercept, sigma : ndarray, shape (S,), optional

    Returns
    -------
    p_share : float
    p_agree : ndarray, shape (p,)
        NaN for attributes that are 0 in every row.
    """
    s = weight.shape[0]
    pick = rng.choice(s, size=min(PPC_DRAWS, s), replace=False)
    eta = xmat @ weight[pick].T
    if intercept is not None:
        eta = eta + intercept[pick][None, :]
    y_rep = LIKELIHOODS.get(likelihood).replicate(eta, None if sigma is None else sigma[pick], rng)
    obs_bin = (y > 0.5).astype(float)
    rep_bin = (y_rep > 0.5).astype(float)

    def p_value(rep: np.ndarray, obs: float) -> float:
        return float(min(1.0, 2 * min(np.mean(rep >= obs - 1e-12), np.mean(rep <= obs + 1e-12))))

    binary = bool(np.isin(y, (0.0, 1.0)).all()) and bool(np.isin(y_rep, (0.0, 1.0)).all())
    share_obs = float(obs_bin.mean()) if binary else float(y.mean())
    share_rep = rep_bin.mean(axis=0) if binary else y_rep.mean(axis=0)
    p_share = p_value(share_rep, share_obs)
    # per attribute j: the share of its rows (x_j != 0, decided) where the preferred side
    # is the side that wins j, observed and in each replicate, as counts: one matrix product
    decided = ~np.isclose(y, 0.5)  # a tie (y = 0.5) prefers neither side
    wins = ((xmat > 0) & decided[:, None]).astype(float)
    loses = ((xmat < 0) & decided[:, None]).astype(float)
    rows = wins.sum(axis=0) + loses.sum(axis=0)
    obs = (wins.T @ obs_bin + loses.T @ (1.0 - obs_bin)) / np.maximum(rows, 1.0)
    rep = (wins.T @ rep_bin + loses.T @ (1.0 - rep_bin)) / np.maximum(rows, 1.0)[:, None]
    p_agree = np.full(xmat.shape[1], np.nan)
    for j in np.flatnonzero(rows > 0):
        p_agree[j] = p_value(rep[j], float(obs[j]))
    return p_share, p_agree
