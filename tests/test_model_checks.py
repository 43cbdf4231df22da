"""Collinearity (feature correlations, VIFs, posterior weight correlations) and model
comparison by PSIS-LOO: exact values on constructed inputs, PSIS-LOO against exact
leave-one-out refits, the CLI's compare-models and the report's sections."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import preference_dissect as pdx
from preference_dissect.analyse.loo import observation_log_likelihood
from preference_dissect.fit.cells import CellFit
from preference_dissect.fit.idata import build_idata


def _features(columns: dict[str, list[float]], y: list[float], group: str = "all"):
    n = len(y)
    frame = pd.DataFrame(
        {"pair_id": [f"p{i}" for i in range(n)], "judge": "human", "group": group, "y": y}
    )
    for name, values in columns.items():
        frame[name] = np.asarray(values, dtype=float)
    return frame


def test_feature_correlations_and_vif_take_known_values():
    a = [1, -1, 1, -1, 1, -1, 1, -1]
    b = [1, 1, -1, -1, 1, 1, -1, -1]  # orthogonal to a
    frame = _features({"a": a, "b": b, "same": a, "neg": [-v for v in b]}, [1, 0] * 4)
    corr = pdx.collinearity(frame, min_pairs=1).set_index(["attribute_a", "attribute_b"])
    assert corr.loc[("a", "b"), "r"] == pytest.approx(0.0)
    assert corr.loc[("a", "same"), "r"] == pytest.approx(1.0)
    assert corr.loc[("b", "neg"), "r"] == pytest.approx(-1.0)
    assert corr["flagged"].sum() == 2 and set(corr["n"]) == {8}
    vif = pdx.vif(frame, min_pairs=1).set_index("attribute")["vif"]
    assert np.isinf(vif).all()  # each is an exact copy (or negation) of another
    vif = pdx.vif(frame[["pair_id", "judge", "group", "y", "a", "b"]], min_pairs=1)
    np.testing.assert_allclose(vif["vif"], [1.0, 1.0])  # orthogonal: no inflation
    c = [1, 1, 1, -1, 1, -1, -1, -1]  # r(a, c) = 0.5, r(b, c) = 0.5
    three = pdx.vif(_features({"a": a, "b": b, "c": c}, [1, 0] * 4), min_pairs=1)
    # R^2 of c on (a, b) = 0.5^2 + 0.5^2 = 0.5 -> VIF 2; of a on (b, c): 1/3 -> 1.5
    np.testing.assert_allclose(three.set_index("attribute")["vif"], [1.5, 1.5, 2.0])
    assert pdx.collinearity(frame).empty  # 8 pairs: under the model's minimum group size


def _cell(weight: np.ndarray) -> CellFit:
    p = weight.shape[-1]
    return CellFit(
        weight=weight, intercept=None, sigma=None, method="is", n=3, rhat_max=np.nan,
        ess_bulk_min=np.nan, divergences=0, pareto_k=np.nan, accuracy=np.nan,
        ppc_p_share=np.nan, ppc_p_agree=np.full(p, np.nan), seconds=0.0,
    )  # fmt: skip


def test_pointwise_log_likelihood_and_weight_correlation_are_exact():
    draws = np.array([[[1.0, 0.5], [-2.0, np.nan]]])  # 1 chain x 2 draws x 2 attributes
    idata = build_idata(["human"], ["all"], ["a", "b"], 1, 2, {("human", "all"): _cell(draws)})
    frame = _features({"a": [1, -1, 0], "b": [1, 1, -1]}, [1, 1, 0])
    loglik, rows = observation_log_likelihood(idata, frame)
    eta = np.array([[1.5, -0.5, -0.5], [-2.0, 2.0, 0.0]])  # the NaN weight contributes 0
    y = np.array([1.0, 1.0, 0.0])
    np.testing.assert_allclose(loglik[0], y * eta - np.log1p(np.exp(eta)))
    assert rows["pair_id"].tolist() == ["p0", "p1", "p2"]
    rng = np.random.default_rng(0)
    w = rng.normal(size=(2, 50, 2))
    w[..., 1] = -0.9 * w[..., 0] + 0.1 * w[..., 1]
    idata = build_idata(["human"], ["all"], ["a", "b"], 2, 50, {("human", "all"): _cell(w)})
    table = pdx.weight_correlations(idata)
    expected = np.corrcoef(w.reshape(-1, 2), rowvar=False)[0, 1]
    assert table["r"].iloc[0] == pytest.approx(expected) and table["flagged"].iloc[0]


@pytest.fixture(scope="module")
def simulated():
    """60 verdicts driven by attribute a (weight 2); b is noise."""
    rng = np.random.default_rng(3)
    x = rng.choice([-1.0, 0.0, 1.0], size=(60, 2))
    y = (rng.random(60) < 1 / (1 + np.exp(-2.0 * x[:, 0]))).astype(float)
    return _features({"a": x[:, 0], "b": x[:, 1]}, list(y))


def test_psis_loo_matches_exact_leave_one_out(simulated):
    spec = {"prior": "normal:1", "min_group_size": 5, "draws": 1000, "progress": False}
    full = pdx.fit(simulated, **spec)
    psis = pdx.loo(full, simulated).iloc[0]
    exact = []
    for i in range(len(simulated)):
        rest = simulated.drop(index=i)
        w = pdx.fit(rest, **spec).posterior["weight"].to_numpy()[:, :, 0, 0, :]
        eta = w.reshape(-1, 2) @ simulated.loc[i, ["a", "b"]].to_numpy(dtype=float)
        y = simulated.loc[i, "y"]
        exact.append(np.log(np.mean(np.exp(y * eta - np.log1p(np.exp(eta))))))
    assert psis["observations"] == 60 and psis["k_bad"] == 0
    assert psis["elpd_loo"] == pytest.approx(sum(exact), abs=0.5)
    assert 1.0 < psis["p_loo"] < 3.0  # two weights, shrunk a little by the prior


def test_compare_models_ranks_and_refuses_what_is_not_comparable(simulated):
    opts = {"min_group_size": 5, "progress": False}
    good = pdx.fit(simulated, prior="normal:1", **opts)
    crushed = pdx.fit(simulated, prior="normal:0.01", **opts)  # cannot follow attribute a
    table = pdx.compare_models({"crushed": crushed, "good": good}, simulated)
    assert list(table.index) == ["good", "crushed"]
    assert table.loc["crushed", "elpd_diff"] > 2 * table.loc["crushed", "dse"]
    assert table["weight"].sum() == pytest.approx(1.0)
    linear = pdx.fit(simulated, likelihood="linear", **opts)
    with pytest.raises(pdx.InputError, match="same outcome"):
        pdx.compare_models({"good": good, "linear": linear}, simulated)
    other = simulated.assign(group=["all"] * 30 + ["tiny"] * 30)
    with pytest.raises(pdx.InputError, match="no cell human / tiny"):
        pdx.compare_models({"a": good, "b": crushed}, other)
    with pytest.raises(pdx.InputError, match="at least two"):
        pdx.compare_models({"good": good}, simulated)


def test_compare_models_cli(simulated, tmp_path, cli):
    simulated.to_parquet(tmp_path / "features.parquet")
    for prior in ("normal:1", "normal:0.01"):
        res = cli(
            "fit", tmp_path / "features.parquet", "--prior", prior, "--min-group-size", "5",
            "--out", tmp_path / f"{prior.replace(':', '_')}.nc",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
    res = cli(
        "compare-models", f"wide={tmp_path / 'normal_1.nc'}", tmp_path / "normal_0.01.nc",
        "--features", tmp_path / "features.parquet", "--out", tmp_path / "loo.csv", "--json",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    models = json.loads(res.stdout)["models"]
    assert [m["model"] for m in models] == ["wide", "normal_0.01"]
    written = pd.read_csv(tmp_path / "loo.csv")
    assert written["model"].tolist() == ["wide", "normal_0.01"]
    assert written["elpd_loo"].iloc[0] == pytest.approx(models[0]["elpd_loo"])
    res = cli(
        "compare-models", tmp_path / "normal_1.nc", tmp_path / "normal_1.nc",
        "--features", tmp_path / "features.parquet",
    )  # fmt: skip
    assert res.returncode == 2 and "two fits are called 'normal_1'" in res.stderr


def test_run_reports_collinearity_and_loo(tmp_path, cli):
    res = cli("run", "bundled:hh-rlhf", "--limit", "300", "--out", tmp_path / "run")
    assert res.returncode == 0, res.stderr
    run = pdx.open_run(tmp_path / "run")
    summary = json.loads((tmp_path / "run" / "analysis" / "summary.json").read_text())
    direct = pdx.loo(run.idata, run.features).iloc[0]
    assert summary["loo"]["elpd_loo"] == pytest.approx(direct["elpd_loo"])
    fitted = run.idata.fit_diagnostics["n"].to_numpy()  # rows of every fitted cell
    methods = run.idata.fit_diagnostics["method"].to_numpy()
    assert summary["loo"]["observations"] == direct["observations"]
    assert direct["observations"] == fitted[methods != "skipped"].sum() > 300
    html = run.report_path.read_text(encoding="utf-8")
    section = html[html.index('id="collinearity"') : html.index('id="similarity"')]
    assert "<td>words</td><td>tokens</td>" in section  # length measured twice: r > 0.8
    assert 'alt="attribute correlation heatmap, group all"' in section
    loo_part = html[html.index('id="model_fit"') :]
    assert f"{direct['elpd_loo']:,.1f}" in loo_part
