"""The hierarchical model of one pool (:mod:`.pooling`) in PyMC, sampled with NUTS.

Non-centred: ``w[c] = mu[parent[c]] + tau * z[c]`` with ``z ~ N(0, 1)``; for two levels
``mu[j] = m + omega * u[j]``. The top mean has the spec's prior family (the family's own PyMC
variable, inside a sub-model named ``top``), every spread a half-normal prior with scale
``FitSpec.pooling_scale``. ``--sampler nuts`` uses it for every pool (the default engine,
:func:`~.pooled_importance.fit_pool`, samples the collapsed posterior instead).
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from preference_dissect.fit.pooling import PoolFit
from preference_dissect.fit.spec import FitSpec


def build_pool_model(
    data: list[tuple[np.ndarray, np.ndarray]], parent: np.ndarray, levels: int, spec: FitSpec
) -> Any:
    """The ``pymc.Model`` of one pool (variables ``top::weight``, ``tau``, ``z``, ``weight``
    with dims (cell, attribute); for two levels also ``omega``, ``u``, ``node_mean``)."""
    import pymc as pm

    from preference_dissect.fit.families import LIKELIHOODS, PRIORS

    p = data[0][0].shape[1]
    x = np.concatenate([d[0] for d in data])
    y = np.concatenate([d[1] for d in data])
    row_cell = np.concatenate([np.full(len(d[1]), c) for c, d in enumerate(data)])
    likelihood = LIKELIHOODS.get(spec.likelihood)
    coords = {"attribute": [f"a{j}" for j in range(p)], "cell": np.arange(len(data)),
              "node": np.arange(int(parent.max()) + 1)}  # fmt: skip
    with pm.Model(coords=coords) as model:
        with pm.Model(name="top"):
            top = PRIORS.get(spec.prior.kind).pymc(spec.prior.scale, p, len(y), likelihood)
        nodes = top[None, :]
        if levels == 2:
            omega = pm.HalfNormal("omega", spec.pooling_scale, dims="attribute")
            u = pm.Normal("u", 0.0, 1.0, dims=("node", "attribute"))
            nodes = pm.Deterministic("node_mean", top[None, :] + omega[None, :] * u,
                                     dims=("node", "attribute"))  # fmt: skip
        tau = pm.HalfNormal("tau", spec.pooling_scale, dims="attribute")
        z = pm.Normal("z", 0.0, 1.0, dims=("cell", "attribute"))
        weight = pm.Deterministic(
            "weight", nodes[parent] + tau[None, :] * z, dims=("cell", "attribute")
        )
        eta = (pm.Data("X", x) * weight[row_cell]).sum(axis=1)
        likelihood.pymc_observed(eta, y)
    return model


def nuts_pool(
    data: list[tuple[np.ndarray, np.ndarray]],
    parent: np.ndarray,
    levels: int,
    spec: FitSpec,
    rng: np.random.Generator,
) -> PoolFit:
    """Sample one pool with PyMC NUTS (``spec.chains`` x ``spec.draws`` after ``spec.tune``);
    ``data`` holds the outcomes as the likelihood's ``pymc_observed`` takes them (``y``)."""
    import arviz as az
    import pymc as pm

    model = build_pool_model(data, parent, levels, spec)
    logging.getLogger("pymc").setLevel(logging.ERROR)
    with model, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(
            draws=spec.draws, tune=spec.tune, chains=spec.chains, cores=1,
            random_seed=int(rng.integers(2**31)), target_accept=max(spec.target_accept, 0.95),
            progressbar=False, compute_convergence_checks=False,
        )  # fmt: skip
    post = idata.posterior
    names = ["weight", "tau"] + (["omega"] if levels == 2 else [])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rhat = az.rhat(idata, var_names=names)
        ess = az.ess(idata, var_names=names, method="bulk")
    s = spec.chains * spec.draws
    top = post["top::weight"].to_numpy().reshape(s, -1)
    nodes = (
        post["node_mean"].to_numpy().reshape(s, -1, top.shape[1]) if levels == 2 else top[:, None]
    )
    scales = [post["tau"].to_numpy().reshape(s, -1)]
    if levels == 2:
        scales.append(post["omega"].to_numpy().reshape(s, -1))
    divergences = int(idata.sample_stats["diverging"].to_numpy().sum())
    notes = [f"pooled NUTS: {divergences} divergent transitions"] if divergences else []
    return PoolFit(
        weight=post["weight"].to_numpy().reshape(s, len(data), -1), nodes=nodes, top=top,
        scales=np.stack(scales, axis=1), pareto_k=np.full(len(data), np.nan),
        ess=float(min(np.nanmin(ess[v].to_numpy()) for v in names)), method="nuts",
        rhat=float(max(np.nanmax(rhat[v].to_numpy()) for v in names)),
        divergences=divergences, notes=notes,
    )  # fmt: skip
