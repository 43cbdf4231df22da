"""The fitting engine: importance sampling against real PyMC NUTS, planted weights,
calibration, model variants and the InferenceData contract."""

from __future__ import annotations

import numpy as np
import pytest

from preference_dissect.errors import InputError
from preference_dissect.fit.cells import fit_cell, fit_table
from preference_dissect.fit.features import validate_features
from preference_dissect.fit.idata import build_idata, diagnostics_frame, load_fit, save_fit
from preference_dissect.fit.importance import importance_sample
from preference_dissect.fit.nuts import nuts_sample
from preference_dissect.fit.posterior import Posterior
from preference_dissect.fit.simulate import simulate_features
from preference_dissect.fit.spec import FitSpec, Prior


def _data(n: int, p: int, seed: int, scale: float = 0.4):
    rng = np.random.default_rng(seed)
    xmat = rng.choice([-1.0, 0.0, 1.0], size=(n, p), p=[0.25, 0.5, 0.25])
    w = rng.laplace(0, scale, p)
    y = (rng.random(n) < 1 / (1 + np.exp(-xmat @ w))).astype(float)
    return xmat, y, w


def test_prior_parsing():
    assert Prior.parse("laplace:0.1") == Prior(kind="laplace", scale=0.1)
    assert Prior.parse("normal") == Prior(kind="normal", scale=1.0)
    assert Prior.parse("horseshoe").kind == "horseshoe"
    for bad in ("laplace:-1", "laplace:x", "student:1"):
        with pytest.raises(InputError):
            Prior.parse(bad)
    with pytest.raises(InputError):
        FitSpec(likelihood="probit")


def test_importance_sampling_matches_pymc_nuts():
    """IS posterior vs real PyMC NUTS on one small fit: means and sds agree."""
    xmat, y, _ = _data(300, 8, seed=11)
    spec = FitSpec()
    res = importance_sample(Posterior(xmat, y, spec), np.random.default_rng(0), 4000)
    assert res.pareto_k < 0.7
    ref = nuts_sample(xmat, y, spec, seed=1, draws=1500, tune=700, chains=2)
    assert ref["rhat_max"] < 1.02 and ref["divergences"] == 0
    nuts_w = ref["weight"].reshape(-1, 8)
    is_w = res.draws[:, :8]
    assert np.max(np.abs(is_w.mean(0) - nuts_w.mean(0))) < 0.03
    ratio = is_w.std(0) / nuts_w.std(0)
    assert np.all((ratio > 0.85) & (ratio < 1.15)), ratio


def test_planted_weights_are_recovered_and_calibrated():
    """Repeated simulations with weights drawn from the prior: posterior means near the truth
    and 95% HDIs covering the truth at about the nominal rate."""
    import arviz as az

    p, reps = 10, 12
    spec = FitSpec(prior=Prior(kind="laplace", scale=0.3), draws=250, chains=4)
    covered, z = [], []
    for rep in range(reps):
        rng = np.random.default_rng(100 + rep)
        truth = rng.laplace(0, 0.3, p)
        xmat = rng.choice([-1.0, 0.0, 1.0], size=(2000, p), p=[0.25, 0.5, 0.25])
        y = (rng.random(len(xmat)) < 1 / (1 + np.exp(-xmat @ truth))).astype(float)
        cell = fit_cell(xmat, y, spec, seed=rep)
        assert cell.method == "is"
        draws = cell.weight
        interval = np.asarray(az.hdi(draws, hdi_prob=0.95))
        covered.append((interval[:, 0] <= truth) & (truth <= interval[:, 1]))
        z.append((draws.mean(axis=(0, 1)) - truth) / draws.std(axis=(0, 1)))
        assert np.max(np.abs(draws.mean(axis=(0, 1)) - truth)) < 0.25
    coverage = float(np.mean(covered))
    z = np.concatenate(z)
    assert 0.88 <= coverage <= 1.0, coverage
    assert abs(float(np.mean(z))) < 0.3
    assert 0.7 < float(np.std(z)) < 1.3


def test_fit_table_to_inference_data_round_trip(tmp_path):
    rng = np.random.default_rng(5)
    attrs = [f"a{i}" for i in range(5)]
    weights = {(j, g): rng.laplace(0, 0.4, 5) for j in ("human", "m1") for g in ("G1", "G2")}
    del weights[("m1", "G2")]  # a judge without a fit in one group
    table = validate_features(simulate_features(weights, {"G1": 150, "G2": 120}, attrs, seed=6))
    spec = FitSpec(draws=100, chains=2)
    cells = fit_table(table, spec)
    idata = build_idata(
        table.judges, table.groups, attrs, 2, 100, cells, attrs={"spec": spec.to_dict()}
    )
    path = save_fit(idata, tmp_path / "fit.nc")
    back = load_fit(path)
    w = back.posterior["weight"]
    assert w.dims == ("chain", "draw", "judge", "group", "attribute")
    assert w.shape == (2, 100, 2, 2, 5)
    assert np.isnan(w.sel(judge="m1", group="G2").to_numpy()).all()
    assert not np.isnan(w.sel(judge="m1", group="G1").to_numpy()).any()
    diag = diagnostics_frame(back)
    assert len(diag) == 3 and set(diag["method"]) == {"is"}
    assert diag["accuracy"].between(0, 1).all()
    assert back.fit_diagnostics["method"].sel(judge="m1", group="G2").item() == "none"
    assert back.fit_diagnostics["ppc_p_agree"].dims == ("judge", "group", "attribute")


def test_results_do_not_depend_on_the_number_of_worker_processes(monkeypatch):
    """Each cell has its own seed: one process or several give identical fits, in order."""
    rng = np.random.default_rng(8)
    attrs = [f"a{i}" for i in range(4)]
    weights = {(j, g): rng.laplace(0, 0.4, 4) for j in ("h", "m1", "m2") for g in ("G1", "G2")}
    table = validate_features(simulate_features(weights, {"G1": 90, "G2": 20}, attrs, seed=2))
    spec = FitSpec(draws=100, chains=2, min_group_size=30)
    seen: list[tuple[str, str]] = []
    one = fit_table(table, spec, workers=1)
    three = fit_table(table, spec, workers=3, on_fit=lambda j, g, c: seen.append((j, g)))
    assert list(one) == list(three) == seen
    for key, cell in one.items():
        other = three[key]
        assert cell.method == other.method
        np.testing.assert_array_equal(cell.weight, other.weight)
        assert cell.accuracy == other.accuracy or np.isnan(cell.accuracy)
        np.testing.assert_array_equal(cell.ppc_p_agree, other.ppc_p_agree)
        np.testing.assert_array_equal(cell.wide_mean, other.wide_mean)
    monkeypatch.setenv("PREFDISSECT_WORKERS", "2")
    from preference_dissect.fit.cells import default_workers

    assert default_workers() == 2
    monkeypatch.setenv("PREFDISSECT_WORKERS", "many")
    with pytest.raises(InputError):
        default_workers()


def test_warm_started_approximation_matches_a_cold_start(monkeypatch):
    """Started from another posterior's approximation (a k-fold fold from all rows: its EP
    sites, its mean as the first centre, no mode search), the approximation reaches the
    fixed point of re-centring at least as closely as a cold start from the mode."""
    from preference_dissect.fit import laplace

    xmat, y, _ = _data(160, 6, seed=4)
    full = laplace.gaussian_approximation(Posterior(xmat, y, FitSpec()))
    fold = Posterior(xmat[:128], y[:128], FitSpec())
    cold, warm = laplace.gaussian_approximation(fold), laplace.gaussian_approximation(fold, full)
    monkeypatch.setattr(laplace, "RECENTRE", 12)
    fixed = laplace.gaussian_approximation(fold)
    for got, tol in ((warm, 1e-5), (cold, 2e-4)):
        np.testing.assert_allclose(got.mean, fixed.mean, atol=tol)
        np.testing.assert_allclose(got.cov, fixed.cov, atol=tol)
    assert np.abs(warm.mean - fixed.mean).max() < np.abs(cold.mean - fixed.mean).max()


def test_pareto_smoothing_equals_arviz_psislw():
    """The partitioned PSIS gives ArviZ's smoothed weights and k exactly, also with heavy
    tails (k > 0.7) and for too short a tail to fit (k = inf)."""
    import warnings

    import arviz as az

    from preference_dissect.fit.importance import _psislw

    rng = np.random.default_rng(0)
    for n, scale in ((7, 1.0), (1000, 1.0), (4000, 3.0), (20000, 0.3)):
        x = rng.standard_t(3, n) * scale
        x -= x.max()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            want, k_want = az.psislw(x.copy())
        got, k_got = _psislw(x)
        np.testing.assert_array_equal(got, np.asarray(want))
        assert k_got == float(k_want)


def test_float32_log_density_is_the_float64_one_to_far_below_monte_carlo_error():
    """The logistic likelihood is evaluated in float32 by importance sampling: on a cell of
    800 pairs its log-density differs from float64 arithmetic by < 1e-4 (importance
    weights by < 0.01%)."""
    from preference_dissect.fit.families import LogisticLikelihood

    xmat, y, _ = _data(800, 25, seed=5)
    post = Posterior(xmat, y, FitSpec())
    theta = np.random.default_rng(1).normal(0, 0.3, (600, post.dim))
    eta = xmat @ theta[:, : post.p].T
    exact = (y[:, None] * eta - np.logaddexp(0.0, eta)).sum(axis=0)
    prior = post.prior.log_density(theta[:, : post.p], post.scale)
    assert LogisticLikelihood.sampling_dtype is np.float32
    np.testing.assert_allclose(post.log_density(theta), exact + prior, rtol=0, atol=1e-4)


def test_linear_model_and_intercept_recover_planted_values():
    rng = np.random.default_rng(9)
    xmat = rng.choice([-1.0, 0.0, 1.0], size=(1500, 4), p=[0.3, 0.4, 0.3])
    truth = np.array([0.6, -0.4, 0.0, 0.2])
    y = (rng.random(1500) < 1 / (1 + np.exp(-(xmat @ truth + 0.5)))).astype(float)
    normal = Prior(kind="normal", scale=1.0)
    cell = fit_cell(xmat, y, FitSpec(intercept=True, prior=normal, draws=250), seed=1)
    assert cell.intercept is not None
    assert abs(float(cell.intercept.mean()) - 0.5) < 0.2
    assert np.max(np.abs(cell.weight.mean(axis=(0, 1)) - truth)) < 0.2
    soft = np.clip(0.5 + 0.1 * (xmat @ truth) + rng.normal(0, 0.1, 1500), 0, 1)
    lin = fit_cell(xmat, soft, FitSpec(likelihood="linear", prior=normal, draws=250), seed=2)
    assert lin.sigma is not None and abs(float(lin.sigma.mean()) - 0.1) < 0.02
    assert np.max(np.abs(lin.weight.mean(axis=(0, 1)) - 0.1 * truth)) < 0.02


def test_forced_nuts_reports_mcmc_diagnostics():
    xmat, y, _ = _data(150, 3, seed=2)
    cell = fit_cell(xmat, y, FitSpec(sampler="nuts", draws=300, tune=300, chains=2), seed=3)
    assert cell.method == "nuts"
    assert cell.weight.shape == (2, 300, 3)
    assert 0.99 < cell.rhat_max < 1.05
    assert cell.ess_bulk_min > 100
    assert np.isnan(cell.pareto_k)


@pytest.mark.slow
def test_horseshoe_prior_uses_nuts_and_shrinks_null_weights():
    rng = np.random.default_rng(4)
    xmat = rng.choice([-1.0, 0.0, 1.0], size=(400, 4), p=[0.3, 0.4, 0.3])
    truth = np.array([1.0, 0, 0, -0.8])
    y = (rng.random(400) < 1 / (1 + np.exp(-xmat @ truth))).astype(float)
    spec = FitSpec(prior=Prior.parse("horseshoe:2"), draws=200, tune=300, chains=2, folds=2)
    cell = fit_cell(xmat, y, spec, seed=5)
    assert cell.method == "nuts"
    mean = cell.weight.mean(axis=(0, 1))
    assert mean[0] > 0.5 and mean[3] < -0.4
    assert np.all(np.abs(mean[1:3]) < 0.15)


def test_constant_attributes_are_left_out_and_reported():
    """A column that is 0 (or +1) in every row says nothing about the judge in that cell: it
    is left out of the regression (NaN weight) with the reason, not reported as its prior."""
    xmat, y, _ = _data(300, 5, seed=8)
    xmat[:, 2] = 0.0
    xmat[:, 4] = 1.0
    names = ["a", "b", "c", "d", "e"]
    cell = fit_cell(xmat, y, FitSpec(draws=250), seed=4, attributes=names)
    assert cell.method == "is"
    assert np.isnan(cell.weight[..., 2]).all() and np.isnan(cell.weight[..., 4]).all()
    assert np.isfinite(cell.weight[..., [0, 1, 3]]).all()
    assert cell.dropped == {"c": "all zero", "e": "always +1"}
    assert cell.n_nonzero.tolist()[2] == 0 and cell.n_nonzero.tolist()[4] == 300
    assert np.isnan(cell.ppc_p_agree[2])  # no rows to check


def test_cell_where_nothing_varies_is_skipped_not_a_traceback():
    """GAIR placeholder texts gave all-zero features and a ValueError deep in Newton's method."""
    xmat = np.zeros((40, 3))
    y = np.tile([0.0, 1.0], 20)
    cell = fit_cell(xmat, y, FitSpec(), seed=0)
    assert cell.method == "skipped" and cell.reason == "no attribute varies in this cell"
    assert np.isnan(cell.weight).all()


def test_small_cells_are_skipped_by_the_fit_itself():
    rng = np.random.default_rng(3)
    attrs = ["a0", "a1", "a2"]
    weights = {("human", "big"): rng.laplace(0, 0.4, 3), ("human", "tiny"): np.zeros(3)}
    table = validate_features(simulate_features(weights, {"big": 80, "tiny": 5}, attrs, seed=2))
    cells = fit_table(table, FitSpec(draws=100, chains=2, min_group_size=30))
    assert cells[("human", "big")].method == "is"
    tiny = cells[("human", "tiny")]
    assert tiny.method == "skipped" and tiny.n == 5
    assert tiny.reason == "5 pairs, fewer than the minimum group size 30"
    idata = build_idata(table.judges, table.groups, attrs, 2, 100, cells)
    diag = diagnostics_frame(idata).set_index("group")
    assert diag.loc["tiny", "method"] == "skipped" and diag.loc["tiny", "reason"] == tiny.reason
    assert idata.fit_diagnostics["n_nonzero"].sel(group="big").to_numpy().min() > 0


@pytest.mark.parametrize("sampler", ["auto", "nuts"])
def test_ties_as_half_wins_fit_with_the_logistic_model(sampler):
    """--ties half gives y = 0.5: a fractional Bernoulli outcome the logistic fit accepts (the
    default engine and PyMC NUTS use the same density), instead of an error."""
    xmat, y, _ = _data(400, 3, seed=6, scale=0.8)
    y[::5] = 0.5
    spec = FitSpec(sampler=sampler, draws=300, tune=300, chains=2)
    cell = fit_cell(xmat, y, spec, seed=1)
    assert cell.method == ("is" if sampler == "auto" else "nuts")
    assert np.isfinite(cell.weight).all() and np.isfinite(cell.accuracy)
    frame = simulate_features({("h", "g"): np.zeros(3)}, {"g": 50}, ["a", "b", "c"], seed=1)
    frame["y"] = frame["y"].astype(float)
    frame.loc[:9, "y"] = 0.5
    assert validate_features(frame).frame["y"].tolist()[:10] == [0.5] * 10
