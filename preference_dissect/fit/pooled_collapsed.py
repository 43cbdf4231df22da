"""NUTS on a pool's collapsed posterior, the spreads and the top mean, with the cells
integrated out through their Gaussian sites (:class:`~.pooling.Hierarchy`): the default
engine's (:func:`~.pooled_importance.fit_pool`) sampler for priors without a density (the
horseshoe) and its fallback when importance sampling's Pareto k is too high.

The PyMC model holds the priors as written (the spec's family on the top mean, inside a
sub-model named ``top``; half-normal spreads ``tau``) and one black-box PyTensor ``Op`` for
the sites' marginal likelihood and its exact gradient. Every posterior draw of the spreads
and the top mean is completed by an exact draw of the level-1 nodes and the cells' weights.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

import numpy as np

from preference_dissect.fit.pooling import Hierarchy, PoolFit
from preference_dissect.fit.spec import FitSpec


class _Memo:
    """``hier.given_top`` of the last point asked for: the value and the gradient Ops ask
    for the same point in turn."""

    def __init__(self, hier: Hierarchy) -> None:
        self.hier, self.key, self.value = hier, None, None

    def __call__(self, tau: np.ndarray, top: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        key = (tau.tobytes(), top.tobytes())
        if key != self.key:
            self.key, self.value = key, self.hier.given_top(np.log(tau), top)
        return self.value


def _ops(memo: _Memo) -> Any:
    """The PyTensor Op of the sites' log marginal likelihood ``f(tau, top)`` (with a
    gradient Op: d/d tau = d/d log tau / tau)."""
    import pytensor.tensor as pt
    from pytensor.graph.basic import Apply
    from pytensor.graph.op import Op

    class SitesGrad(Op):
        def make_node(self, tau: Any, top: Any) -> Apply:
            tau, top = pt.as_tensor_variable(tau), pt.as_tensor_variable(top)
            return Apply(self, [tau, top], [tau.type(), top.type()])

        def perform(self, node: Any, inputs: list, outputs: list) -> None:
            tau, top = inputs
            _, grad_u, grad_top = memo(tau, top)
            outputs[0][0] = np.asarray(grad_u / tau, dtype=tau.dtype)
            outputs[1][0] = np.asarray(grad_top, dtype=top.dtype)

    class Sites(Op):
        def make_node(self, tau: Any, top: Any) -> Apply:
            tau, top = pt.as_tensor_variable(tau), pt.as_tensor_variable(top)
            return Apply(self, [tau, top], [pt.dscalar()])

        def perform(self, node: Any, inputs: list, outputs: list) -> None:
            outputs[0][0] = np.asarray(memo(*inputs)[0], dtype="float64")

        def grad(self, inputs: list, output_grads: list) -> list:
            g_tau, g_top = SitesGrad()(*inputs)
            return [output_grads[0] * g_tau, output_grads[0] * g_top]

    return Sites()


def collapsed_model(hier: Hierarchy, spec: FitSpec, rows: int) -> Any:
    """The ``pymc.Model`` of the collapsed posterior (variables ``top::weight``, ``tau``;
    ``tau`` holds the levels' spreads one after the other)."""
    import pymc as pm

    from preference_dissect.fit.families import LIKELIHOODS, PRIORS

    p = hier.sites.shift.shape[1]
    with pm.Model(coords={"attribute": [f"a{j}" for j in range(p)]}) as model:
        with pm.Model(name="top"):
            top = PRIORS.get(spec.prior.kind).pymc(
                spec.prior.scale, p, rows, LIKELIHOODS.get(spec.likelihood)
            )
        tau = pm.HalfNormal("tau", spec.pooling_scale, shape=hier.levels * p)
        pm.Potential("sites", _ops(_Memo(hier))(tau, top))
    return model


def sample_collapsed(
    hier: Hierarchy, mode: np.ndarray, spec: FitSpec, rows: int, rng: np.random.Generator
) -> PoolFit:
    """NUTS on :func:`collapsed_model` (``spec.chains`` x ``spec.draws`` after
    ``spec.tune``, started at the spreads' mode ``mode``), each draw completed exactly."""
    import arviz as az
    import pymc as pm

    logging.getLogger("pymc").setLevel(logging.ERROR)
    with collapsed_model(hier, spec, rows), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata = pm.sample(
            draws=spec.draws, tune=spec.tune, chains=spec.chains, cores=1,
            random_seed=int(rng.integers(2**31)), target_accept=spec.target_accept,
            initvals={"tau": np.exp(mode)}, progressbar=False, compute_convergence_checks=False,
        )  # fmt: skip
        rhat = az.rhat(idata, var_names=["tau", "top::weight"])
        ess = az.ess(idata, var_names=["tau", "top::weight"], method="bulk")
    s, p = spec.chains * spec.draws, hier.sites.shift.shape[1]
    tau = idata.posterior["tau"].to_numpy().reshape(s, -1)
    top = idata.posterior["top::weight"].to_numpy().reshape(s, p)
    nodes, weight = hier.draw_given_top(np.log(tau), np.arange(s), top, rng)
    divergences = int(idata.sample_stats["diverging"].to_numpy().sum())
    return PoolFit(
        weight=weight, nodes=nodes, top=top,
        scales=tau.reshape(s, hier.levels, p), pareto_k=np.full(len(hier.parent), np.nan),
        ess=float(min(np.nanmin(ess[v].to_numpy()) for v in ess.data_vars)),
        method="collapsed",
        rhat=float(max(np.nanmax(rhat[v].to_numpy()) for v in rhat.data_vars)),
        divergences=divergences,
        notes=[f"pooled NUTS: {divergences} divergent transitions"] if divergences else [],
    )  # fmt: skip
