"""The PyMC model of one (judge, group) regression, sampled with NUTS.

Used for every fit with ``--sampler nuts``, for priors without an importance-sampling form
(the horseshoe), and as the fallback when importance sampling's Pareto k is too high.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from preference_dissect.fit.posterior import INTERCEPT_SD
from preference_dissect.fit.spec import FitSpec


def build_model(
    xmat: np.ndarray, y: np.ndarray, spec: FitSpec, attributes: list[str] | None = None
) -> Any:
    """Return the ``pymc.Model`` for one fit.

    Variables: ``weight`` (dim ``attribute``) from the spec's prior family, optional
    ``intercept``, the likelihood's own (``sigma`` of the linear model), and the prior's
    auxiliaries (the horseshoe's ``tau``, ``lam``, ``c2``, ``z``). A logistic fit with
    fractional outcomes (ties as 0.5, soft labels) uses the fractional Bernoulli
    log-likelihood as a potential, the same density the default engine uses.
    """
    import pymc as pm

    from preference_dissect.fit.families import LIKELIHOODS, PRIORS

    n, p = xmat.shape
    names = attributes or [f"w{i}" for i in range(p)]
    likelihood = LIKELIHOODS.get(spec.likelihood)
    with pm.Model(coords={"attribute": names}) as model:
        x_data = pm.Data("X", xmat)
        weight = PRIORS.get(spec.prior.kind).pymc(spec.prior.scale, p, n, likelihood)
        eta = pm.math.dot(x_data, weight)
        if spec.intercept:
            eta = eta + pm.Normal("intercept", 0.0, INTERCEPT_SD)
        likelihood.pymc_observed(eta, y)
    return model


def nuts_sample(
    xmat: np.ndarray,
    y: np.ndarray,
    spec: FitSpec,
    seed: int,
    *,
    draws: int | None = None,
    tune: int | None = None,
    chains: int | None = None,
    cores: int = 1,
) -> dict[str, Any]:
    """Sample one fit with PyMC NUTS.

    Returns
    -------
    dict
        ``weight`` (chains, draws, p), optional ``intercept`` / ``sigma`` (chains, draws),
        ``rhat_max``, ``ess_bulk_min``, ``divergences``.
    """
    import arviz as az
    import pymc as pm

    model = build_model(xmat, y, spec)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    target = 0.95 if spec.prior.kind == "horseshoe" else spec.target_accept  # funnel-shaped
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(
            draws=draws or spec.draws,
            tune=spec.tune if tune is None else tune,
            chains=chains or spec.chains,
            cores=cores,
            random_seed=seed,
            target_accept=target,
            progressbar=False,
            compute_convergence_checks=False,
        )
    post = idata.posterior
    var_names = ["weight"] + [v for v in ("intercept", "sigma") if v in post]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(idata, var_names=var_names)
        ess = az.ess(idata, var_names=var_names, method="bulk")
    out: dict[str, Any] = {
        "weight": post["weight"].to_numpy(),
        "rhat_max": float(max(np.nanmax(rhat[v].to_numpy()) for v in var_names)),
        "ess_bulk_min": float(min(np.nanmin(ess[v].to_numpy()) for v in var_names)),
        "divergences": int(idata.sample_stats["diverging"].to_numpy().sum()),
    }
    for v in ("intercept", "sigma"):
        if v in post:
            out[v] = post[v].to_numpy()
    return out
