"""Partial pooling (``FitSpec.pooling``): the nested Gaussian engine against the exact joint
Gaussian it claims to integrate, shrinkage on planted weights, the pooled NUTS model, the
``pooling`` group, and the CLI / run / report paths."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import preference_dissect as pdx
from preference_dissect.fit.pooling import Hierarchy, Sites
from preference_dissect.testing.simulate import hierarchical_features

P, CELLS = 3, 4
#: Enough draws for the assertions below, few enough for a quick suite.
QUICK = {"draws": 300, "chains": 2, "tune": 300, "progress": False}


def _brute_force(sites: Sites, parent, levels, top_p, top_s, u):
    """The joint Gaussian of (top, judge means, cells) with the sites, written out densely:
    log evidence up to a constant, and the cells' posterior means."""
    var = np.exp(2 * u.reshape(levels, P))
    names = ["top"] + [f"j{j}" for j in range(parent.max() + 1) if levels == 2]
    names += [f"c{c}" for c in range(CELLS)]
    at = {n: slice(i * P, (i + 1) * P) for i, n in enumerate(names)}
    prior = np.zeros((len(names) * P,) * 2)
    prior[at["top"], at["top"]] += np.diag(top_p)

    def link(child, par, v):
        for a, b, sign in ((child, child, 1), (par, par, 1), (child, par, -1), (par, child, -1)):
            prior[at[a], at[b]] += sign * np.diag(1 / v)

    for c in range(CELLS):
        link(f"c{c}", f"j{parent[c]}" if levels == 2 else "top", var[0])
    for j in range(parent.max() + 1 if levels == 2 else 0):
        link(f"j{j}", "top", var[1])
    shift = np.zeros(len(prior))
    shift[at["top"]] = top_s
    data_p, data_s = np.zeros_like(prior), np.zeros_like(shift)
    for c in range(CELLS):
        data_p[at[f"c{c}"], at[f"c{c}"]] = sites.precision[c]
        data_s[at[f"c{c}"]] = sites.shift[c]
    post_p, post_s = prior + data_p, shift + data_s
    mean = np.linalg.solve(post_p, post_s)
    log_ev = 0.5 * post_s @ mean - 0.5 * shift @ np.linalg.solve(prior, shift)
    log_ev += 0.5 * (np.linalg.slogdet(prior)[1] - np.linalg.slogdet(post_p)[1])
    cells = np.stack([mean[at[f"c{c}"]] for c in range(CELLS)])
    return log_ev, cells, np.linalg.inv(post_p)[at["c0"], at["c0"]]


@pytest.mark.parametrize("levels", [1, 2])
def test_nested_engine_is_the_exact_gaussian_marginal(levels):
    rng = np.random.default_rng(0)
    precision = np.stack([(a := rng.normal(size=(P, P))) @ a.T + 0.5 * np.eye(P)
                          for _ in range(CELLS)])  # fmt: skip
    precision[1][:, 2] = precision[1][2, :] = 0  # an attribute constant in a cell: no data
    shift = rng.normal(size=(CELLS, P))
    shift[1, 2] = 0
    sites = Sites(precision, shift)
    parent = np.zeros(CELLS, int) if levels == 1 else np.array([0, 0, 1, 1])
    top_p, top_s = np.array([2.0, 1.0, 4.0]), np.array([0.3, -0.2, 0.1])
    hier = Hierarchy(sites, parent, levels, top_p, top_s)
    u1, u2 = (rng.normal(size=levels * P) * 0.3 - 0.5 for _ in range(2))
    ours = [hier.evidence(u)[0] for u in (u1, u2)]
    exact = [_brute_force(sites, parent, levels, top_p, top_s, u) for u in (u1, u2)]
    # the constant cancels in a difference; the means and the gradient are exact
    assert ours[0] - ours[1] == pytest.approx(exact[0][0] - exact[1][0], abs=1e-9)
    _, grad = hier.evidence(u1)
    steps = np.eye(len(u1)) * 1e-6
    numeric = [(hier.evidence(u1 + d)[0] - hier.evidence(u1 - d)[0]) / 2e-6 for d in steps]
    np.testing.assert_allclose(grad, numeric, atol=1e-5)
    hier.evidence(u1)
    np.testing.assert_allclose(hier.cache["means"], exact[0][1], atol=1e-10)
    # the engine's target: the top mean known (a brute force with the top clamped at it)
    top = np.array([0.4, -0.1, 0.2])
    clamp = [_brute_force(sites, parent, levels, np.full(P, 1e9), 1e9 * top, u) for u in (u1, u2)]
    known = [hier.given_top(u, top)[0] for u in (u1, u2)]
    assert known[0] - known[1] == pytest.approx(clamp[0][0] - clamp[1][0], abs=1e-5)
    _, grad_u, grad_top = hier.given_top(u1, top)
    numeric = [(hier.given_top(u1 + d, top)[0] - hier.given_top(u1 - d, top)[0]) / 2e-6
               for d in np.eye(len(u1)) * 1e-6]  # fmt: skip
    np.testing.assert_allclose(grad_u, numeric, atol=1e-5)
    numeric = [(hier.given_top(u1, top + d)[0] - hier.given_top(u1, top - d)[0]) / 2e-6
               for d in np.eye(P) * 1e-6]  # fmt: skip
    np.testing.assert_allclose(grad_top, numeric, atol=1e-5)
    n = 100_000
    _, draws = hier.draw_given_top(u1[None], np.zeros(n, dtype=int), np.tile(top, (n, 1)),
                                   np.random.default_rng(1))  # fmt: skip
    np.testing.assert_allclose(draws.mean(axis=0), clamp[0][1], atol=0.02)
    np.testing.assert_allclose(np.cov(draws[:, 0].T), clamp[0][2], atol=0.02)


@pytest.fixture(scope="module")
def planted():
    """One judge, five scenario groups of 40-400 pairs, weights drawn around shared means."""
    return hierarchical_features(4, [400, 300, 300, 200, 40], attributes=4, top_scale=0.8,
                                 spread=0.15)  # fmt: skip


@pytest.fixture(scope="module")
def pooled(planted):
    return pdx.fit(planted.features, pooling="groups", prior="normal:1", min_group_size=20,
                   **QUICK)  # fmt: skip


def test_pooled_fit_borrows_strength_for_small_groups(planted, pooled):
    methods = pooled.fit_diagnostics["method"].to_dataframe()["method"]
    assert methods.loc[("judge0", "all")] == "is"  # the union of the groups stays unpooled
    assert (methods.drop(("judge0", "all")) == "pooled").all()
    table = pdx.shrinkage(pooled).merge(planted.weights, on=["judge", "group", "attribute"])
    small = table[table["group"] == "g4"]
    assert (small["sd_ratio"] < 0.8).all()  # 40 pairs borrow from the other 1,200
    toward = (small["pooled_mean"] - small["pool_mean"]).abs()
    assert toward.sum() < 0.5 * (small["unpooled_mean"] - small["pool_mean"]).abs().sum()
    err_pooled = ((small["pooled_mean"] - small["weight"]) ** 2).mean()
    err_alone = ((small["unpooled_mean"] - small["weight"]) ** 2).mean()
    assert err_pooled < err_alone
    spreads = pdx.pool_spreads(pooled)
    assert spreads["level"].eq("cells").all() and spreads["pool"].eq("judge0").all()
    assert spreads["mean"].max() < 0.35  # planted spread 0.15


def test_pooling_group_layout_and_netcdf_round_trip(pooled, tmp_path):
    group = pooled.pooling
    assert group.attrs["structure"] == "groups"
    assert group["pool_mean"].dims == ("chain", "draw", "node", "attribute")
    assert list(group["node"].values) == ["judge0"] and list(group["pool"].values) == ["judge0"]
    assert np.isnan(group["unpooled_mean"].sel(group="all")).all()
    pools = json.loads(group.attrs["pools"])
    assert [c[1] for c in pools[0]["cells"]] == ["g0", "g1", "g2", "g3", "g4"]
    pooled.to_netcdf(tmp_path / "fit.nc")
    back = pdx.shrinkage(__import__("arviz").from_netcdf(tmp_path / "fit.nc"))
    pd.testing.assert_frame_equal(back, pdx.shrinkage(pooled))


def test_unpooled_fit_and_bad_pooling_settings_are_refused(planted):
    plain = pdx.fit(planted.features, min_group_size=20, draws=100, chains=2, progress=False)
    with pytest.raises(pdx.InputError, match="not pooled") as err:
        pdx.shrinkage(plain)
    assert err.value.field == "idata"
    with pytest.raises(pdx.InputError, match="groups") as err:
        pdx.fit(planted.features, pooling="group", progress=False)
    assert err.value.field == "pooling"
    with pytest.raises(pdx.InputError, match="intercept"):
        pdx.fit(planted.features, pooling="groups", intercept=True, progress=False)
    with pytest.raises(pdx.InputError, match="linear"):
        pdx.fit(planted.features, pooling="groups", likelihood="linear", progress=False)


def test_two_level_pooling_nests_judges_in_a_population():
    sim = hierarchical_features(2, [120, 80, 60], judges=3, attributes=3, spread=0.1,
                                judge_spread=0.4)  # fmt: skip
    fit = pdx.fit(sim.features, pooling="both", prior="normal:1", min_group_size=20, **QUICK)
    spreads = pdx.pool_spreads(fit).set_index(["level", "attribute"])["mean"]
    assert set(spreads.index.get_level_values(0)) == {"cells", "judges"}
    assert "population_mean" in fit.pooling and fit.pooling["node"].size == 3
    table = pdx.shrinkage(fit).merge(sim.means, on=["judge", "attribute"], suffixes=("", "_t"))
    # each judge's pooled mean tracks its planted mean
    judge_means = table.groupby(["judge", "attribute"])[["pool_mean", "weight"]].first()
    assert np.corrcoef(judge_means["pool_mean"], judge_means["weight"])[0, 1] > 0.8
    # judges: one pool per scenario group, its judges around the group's mean
    by_group = pdx.fit(sim.features, pooling="judges", prior="normal:1", min_group_size=20,
                       **QUICK)  # fmt: skip
    assert list(by_group.pooling["pool"].values) == ["g0", "g1", "g2"]
    assert list(by_group.pooling["node"].values) == ["g0", "g1", "g2"]
    moved = pdx.shrinkage(by_group)
    assert (moved["pool"] == moved["group"]).all() and moved["judge"].nunique() == 3


@pytest.mark.slow
def test_fast_pooled_engine_matches_pooled_nuts():
    sim = hierarchical_features(1, [150, 80, 60, 40], attributes=4, top_scale=0.5, spread=0.3)
    opts = {"pooling": "groups", "min_group_size": 20, "progress": False, "draws": 500,
            "tune": 500}  # fmt: skip
    fast = pdx.shrinkage(pdx.fit(sim.features, **opts))
    nuts_fit = pdx.fit(sim.features, sampler="nuts", **opts)
    nuts = pdx.shrinkage(nuts_fit)
    methods = nuts_fit.fit_diagnostics["method"].to_dataframe()["method"]
    assert set(methods.drop(("judge0", "all"))) == {"pooled-nuts"}
    assert float(nuts_fit.fit_diagnostics["rhat_max"].max()) < 1.02
    gap = (fast["pooled_mean"] - nuts["pooled_mean"]).abs() / nuts["pooled_sd"]
    ratio = fast["pooled_sd"] / nuts["pooled_sd"]
    assert gap.max() < 0.3 and ratio.between(0.85, 1.15).all()


def test_run_with_pooling_reports_shrinkage(cli, tmp_path):
    out = tmp_path / "run"
    res = cli("run", "bundled:hh-rlhf", "--out", str(out), "--pooling", "groups",
              "--draws", "200", "--chains", "2", "--tune", "200")  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert summary["pooling"]["structure"] == "groups"
    assert summary["pooling"]["pools"][0]["pool"] == "human"
    assert (out / "analysis" / "shrinkage.csv").is_file()
    assert (out / "analysis" / "shrinkage.png").is_file()
    html = (out / "report.html").read_text()
    assert "Partial pooling" in html and "shrinkage" in html
    fit_file = tmp_path / "fit.nc"
    good = cli("fit", str(out / "features.parquet"), "--out", str(fit_file), "--pooling",
               "judges", "--draws", "100", "--chains", "2", "--tune", "100")  # fmt: skip
    assert good.returncode == 0, good.stderr
    assert "pooling judges: no two fitted scenario-group cells" in good.stdout + good.stderr
    bad = cli("fit", str(out / "features.parquet"), "--out", str(fit_file), "--pooling",
              "sideways")  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert "--pooling" in bad.stderr and "groups" in bad.stderr
