"""The default pooled engine (:mod:`preference_dissect.fit.pooled_importance`): batched
integration equal to one spread at a time, the spreads' grid proposal against a density
known in closed form, importance sampling against NUTS on the same collapsed posterior, and
the fallback to NUTS when the weights' Pareto k is too high."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import preference_dissect.fit.pooled_importance  # noqa: F401 - the module, not pdx.fit
from preference_dissect.fit.families import LIKELIHOODS
from preference_dissect.fit.pooled_cells import _cell_data
from preference_dissect.fit.pooling import Hierarchy, Sites, centred_sites
from preference_dissect.fit.spec import FitSpec
from preference_dissect.testing.simulate import hierarchical_features

engine = sys.modules["preference_dissect.fit.pooled_importance"]


@pytest.mark.parametrize("levels", [1, 2])
def test_batched_integration_is_one_spread_at_a_time(levels):
    rng = np.random.default_rng(1)
    p, cells = 3, 4
    precision = np.stack([(a := rng.normal(size=(p, p))) @ a.T + 0.3 * np.eye(p)
                          for _ in range(cells)])  # fmt: skip
    hier = Hierarchy(Sites(precision, rng.normal(size=(cells, p))), np.array([0, 0, 1, 1]),
                     levels, np.full(p, 2.0), np.zeros(p))  # fmt: skip
    spreads = rng.normal(-1.0, 0.5, size=(5, levels * p))
    _, batch, nodes, total, up_p, up_s = hier._integrate(spreads)
    for i, u in enumerate(spreads):
        _, one, one_nodes, one_total, one_p, one_s = hier._integrate(u)
        np.testing.assert_allclose(total[i], one_total, rtol=1e-12)
        np.testing.assert_allclose(up_p[i], one_p, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(up_s[i], one_s, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batch.select(i).q_inv, one.q_inv, rtol=1e-10)
        if levels == 2:
            np.testing.assert_allclose(nodes.q_shift[i], one_nodes.q_shift, rtol=1e-10)


def test_spread_proposal_has_the_shape_of_a_log_half_normal():
    """``u = log tau``, ``tau ~ HalfNormal(s)``: log density ``u - exp(2u) / (2 s^2)``,
    gradient ``1 - exp(2u) / s^2``, mean ``log s - (gamma + log 2) / 2``, variance pi^2 / 8;
    three independent coordinates with other scales."""
    scales = np.array([0.1, 0.5, 2.0])

    def gradients(points):
        return 1.0 - np.exp(2 * points) / scales**2

    proposal = engine.SpreadProposal.build(gradients, np.log(scales), np.full(3, 0.9))
    widths = np.diff(proposal.edges, axis=0)
    np.testing.assert_allclose((np.exp(proposal.log_density) * widths).sum(axis=0), 1.0)
    u, log_q = proposal.draw(np.random.default_rng(0), 40_000)
    exact_mean = np.log(scales) - (np.euler_gamma + np.log(2)) / 2
    np.testing.assert_allclose(u.mean(axis=0), exact_mean, atol=0.03)
    np.testing.assert_allclose(u.var(axis=0), np.pi**2 / 8, rtol=0.05)
    exact = (u - np.exp(2 * u) / (2 * scales**2)).sum(axis=1)
    exact += 1.5 * np.log(2 / np.pi) - np.log(scales).sum()
    gap = exact - log_q  # as an importance weight: the bins are within a percent or two
    assert np.abs(gap).mean() < 0.02 and gap.std() < 0.03


@pytest.fixture(scope="module")
def small_pool():
    sim = hierarchical_features(3, [200, 120, 80, 60], attributes=4, top_scale=0.3, spread=0.2)
    spec = FitSpec(pooling="groups", draws=1000, chains=2, tune=500)
    likelihood = LIKELIHOODS.get(spec.likelihood)
    data = []
    for _, cell in sim.features[sim.features["group"] != "all"].groupby("group", sort=True):
        x = cell[[f"a{j}" for j in range(4)]].to_numpy(float)
        x, target, _ = _cell_data(x, cell["y"].to_numpy(float), likelihood.target(cell["y"]))
        data.append((x, target))
    hier, mode = centred_sites(data, np.zeros(4, dtype=int), 1, np.zeros((4, 4)), spec)
    return data, hier, mode, spec


@pytest.mark.slow
def test_importance_sampling_matches_nuts_on_the_collapsed_posterior(small_pool):
    from preference_dissect.fit.pooled_collapsed import sample_collapsed

    _, hier, mode, spec = small_pool
    fit, k = engine.importance_pool(hier, mode, spec, np.random.default_rng(0))
    assert fit is not None and k <= spec.pareto_k_max and fit.ess >= engine.ESS_TARGET
    assert fit.weight.shape == (2000, 4, 4) and fit.scales.shape == (2000, 1, 4)
    ref = sample_collapsed(hier, mode, spec, 460, np.random.default_rng(1))
    assert ref.method == "collapsed" and ref.rhat < 1.02
    sd = ref.weight.std(axis=0)
    gap = np.abs(fit.weight.mean(axis=0) - ref.weight.mean(axis=0)) / sd
    ratio = fit.weight.std(axis=0) / sd
    assert gap.max() < 0.15 and ratio.min() > 0.9 and ratio.max() < 1.1
    top_gap = np.abs(fit.top.mean(axis=0) - ref.top.mean(axis=0)) / ref.top.std(axis=0)
    assert top_gap.max() < 0.15


def test_a_high_pareto_k_sends_the_pool_to_nuts(small_pool):
    data, _, _, spec = small_pool
    strict = spec.model_copy(update={"pareto_k_max": -1.0, "draws": 100, "tune": 100})
    fit = engine.fit_pool(data, np.zeros(4, dtype=int), 1, np.zeros((4, 4)), strict,
                          np.random.default_rng(0))  # fmt: skip
    assert fit.method == "collapsed" and fit.weight.shape == (200, 4, 4)
    assert fit.notes[0].startswith("pooled importance sampling: Pareto k ")
    assert fit.notes[0].endswith("; sampled with NUTS")
    assert np.isfinite(fit.pareto_k).all()  # the sites are checked whichever engine sampled


def test_pooled_results_do_not_depend_on_the_number_of_worker_processes():
    """Each pool has its own seed: pools fitted in one process or in two are identical."""
    from preference_dissect.fit.cells import fit_table
    from preference_dissect.fit.features import validate_features
    from preference_dissect.fit.pooled_cells import pool_cells

    sim = hierarchical_features(5, [120, 80, 60], judges=3, attributes=3, spread=0.2)
    table = validate_features(sim.features)
    spec = FitSpec(pooling="groups", draws=100, chains=2, min_group_size=20)
    cells = fit_table(table, spec, workers=1)
    one, group_one, notes_one = pool_cells(table, spec, cells, workers=1)
    two, group_two, notes_two = pool_cells(table, spec, cells, workers=2)
    assert list(one) == list(two) and notes_one == notes_two
    assert {c.method for k, c in one.items() if k[1] != "all"} == {"pooled"}
    for key, cell in one.items():
        np.testing.assert_array_equal(cell.weight, two[key].weight)
        assert cell.accuracy == two[key].accuracy or np.isnan(cell.accuracy)
    np.testing.assert_array_equal(group_one["pool_scale"], group_two["pool_scale"])
