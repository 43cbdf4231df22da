"""The PyMC model of one (judge, group) regression, sampled with NUTS.

Used for every fit with ``--sampler nuts``, for the horseshoe prior, and as the fallback
when importance sampling's Pareto k is too high.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from preference_dissect.fit.posterior import INTERCEPT_SD
from preference_dissect.fit.spec import FitSpec

HORSESHOE_SLAB_SCALE = 1.0
HORSESHOE_SLAB_DF = 4.0
LOGISTIC_PSEUDO_SIGMA = 2.0


def build_model(
    xmat: np.ndarray, y: np.ndarray, spec: FitSpec, attributes: list[str] | None = None
) -> Any:
    """Return the ``pymc.Model`` for one fit.

    Variables: ``weight`` (dim ``attribute``), optional ``intercept``, ``sigma`` (linear
    model), the horseshoe's ``tau``, ``lam``, ``c2``, ``z`` when that prior is used. A
    logistic fit with fractional outcomes (ties as 0.5, soft labels) uses the fractional
    Bernoulli log-likelihood as a potential, the same density the default engine uses.
    """
    import pymc as pm

    n, p = xmat.shape
    names = attributes or [f"w{i}" for i in range(p)]
    with pm.Model(coords={"attribute": names}) as model:
        x_data = pm.Data("X", xmat)
        prior = spec.prior
        if prior.kind == "laplace":
            weight = pm.Laplace("weight", mu=0.0, b=prior.scale, dims="attribute")
        elif prior.kind == "normal":
            weight = pm.Normal("weight", mu=0.0, sigma=prior.scale, dims="attribute")
        else:
            p0 = min(prior.scale, p - 0.5)
            sigma_ref = LOGISTIC_PSEUDO_SIGMA if spec.model == "logistic" else 0.5
            tau0 = p0 / (p - p0) * sigma_ref / np.sqrt(max(n, 1))
            tau = pm.HalfStudentT("tau", nu=1, sigma=tau0)
            lam = pm.HalfStudentT("lam", nu=1, sigma=1.0, dims="attribute")
            c2 = pm.InverseGamma(
                "c2",
                alpha=HORSESHOE_SLAB_DF / 2,
                beta=HORSESHOE_SLAB_DF * HORSESHOE_SLAB_SCALE**2 / 2,
            )
            z = pm.Normal("z", 0.0, 1.0, dims="attribute")
            lam_tilde = pm.math.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
            weight = pm.Deterministic("weight", z * tau * lam_tilde, dims="attribute")
        eta = pm.math.dot(x_data, weight)
        if spec.intercept:
            eta = eta + pm.Normal("intercept", 0.0, INTERCEPT_SD)
        if spec.model == "logistic" and np.isin(y, (0.0, 1.0)).all():
            pm.Bernoulli("y", logit_p=eta, observed=y)
        elif spec.model == "logistic":
            # fractional outcomes (ties as 0.5, soft labels): y log p + (1 - y) log(1 - p)
            pm.Potential("y", pm.math.sum(y * eta - pm.math.log1pexp(eta)))
        else:
            sigma = pm.HalfNormal("sigma", 1.0)
            pm.Normal("y", mu=eta, sigma=sigma, observed=y - 0.5)
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
    target = 0.95 if spec.prior.kind == "horseshoe" else spec.target_accept
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
