"""``prefdissect fit`` end to end: JSON contract, stored diagnostics, warnings, NUTS fallback."""

from __future__ import annotations

import json

import numpy as np
import pytest

from preference_dissect.fit.cells import fit_cell
from preference_dissect.fit.idata import load_fit, warnings_of
from preference_dissect.fit.simulate import simulate_features
from preference_dissect.fit.spec import FitSpec

ATTRS = ["friendly", "lengthy", "no_severe_errors", "clear"]


@pytest.fixture
def features_path(tmp_path):
    rng = np.random.default_rng(21)
    weights = {
        (j, g): rng.laplace(0, 0.5, len(ATTRS))
        for j in ("human", "m-7b")
        for g in ("Code", "Advice")
    }
    path = tmp_path / "features.parquet"
    simulate_features(weights, {"Code": 250, "Advice": 180}, ATTRS, seed=22).to_parquet(path)
    return path


def test_fit_json_contract_and_file(tmp_path, cli, features_path):
    out = tmp_path / "fit.nc"
    res = cli("fit", features_path, "--out", out, "--json", "--groups", "Code", "--seed", "3")
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert payload["seconds"] > 0
    assert [(f["judge"], f["group"]) for f in payload["fits"]] == [
        ("human", "Code"),
        ("m-7b", "Code"),
    ]
    fit = payload["fits"][0]
    for key in ("n", "rhat_max", "ess_bulk_min", "divergences", "accuracy"):
        assert key in fit
    assert fit["n"] == 250 and fit["divergences"] == 0 and fit["ess_bulk_min"] >= 400
    attr = fit["attributes"]["lengthy"]
    assert set(attr) == {"mean", "sd", "hdi_low", "hdi_high", "score", "n_nonzero"}
    assert 0 < attr["n_nonzero"] <= 250
    assert attr["hdi_low"] < attr["mean"] < attr["hdi_high"]
    assert attr["score"] == pytest.approx(100 / (1 + np.exp(-attr["mean"])))
    idata = load_fit(out)
    assert list(idata.posterior["group"].to_numpy()) == ["Code"]
    assert idata.posterior["weight"].shape == (4, 500, 2, 1, 4)
    spec = json.loads(idata.posterior.attrs["spec"])
    assert spec["prior"] == "laplace:0.1" and spec["seed"] == 3
    # same seed, same result
    again = cli(
        "fit",
        features_path,
        "--out",
        tmp_path / "fit2.nc",
        "--json",
        "--groups",
        "Code",
        "--seed",
        "3",
    )
    assert json.loads(again.stdout)["fits"][0]["attributes"] == fit["attributes"]


def test_threshold_warnings_are_printed_and_stored(tmp_path, cli, features_path):
    out = tmp_path / "fit.nc"
    res = cli(
        "fit",
        features_path,
        "--out",
        out,
        "--sampler",
        "nuts",
        "--draws",
        "60",
        "--tune",
        "60",
        "--chains",
        "2",
        "--judges",
        "human",
        "--groups",
        "Advice",
    )
    assert res.returncode == 0, res.stderr
    assert "warning: human / Advice: ESS" in res.stderr
    stored = warnings_of(load_fit(out))
    assert any("ESS" in w for w in stored)
    assert (
        load_fit(out).fit_diagnostics["method"].sel(judge="human", group="Advice").item() == "nuts"
    )


def test_unreliable_importance_sampling_falls_back_to_nuts():
    rng = np.random.default_rng(1)
    xmat = rng.choice([-1.0, 0.0, 1.0], size=(120, 3))
    y = (rng.random(120) < 0.5).astype(float)
    spec = FitSpec(pareto_k_max=-1.0, draws=200, tune=200, chains=2)  # no k passes
    cell = fit_cell(xmat, y, spec, seed=1)
    assert cell.method == "nuts"
    assert np.isfinite(cell.pareto_k)
    assert any("refitted with NUTS" in note for note in cell.notes)
    assert cell.weight.shape == (2, 200, 3)


def test_interrupted_fit_resumes_from_saved_fits(tmp_path, cli, features_path):
    from preference_dissect.fit.checkpoint import Checkpoint, table_fingerprint
    from preference_dissect.fit.features import read_features

    out = tmp_path / "fit.nc"
    table = read_features(features_path)
    spec = FitSpec(draws=100)
    first = cli("fit", features_path, "--out", out, "--draws", "100", "--json")
    assert first.returncode == 0, first.stderr
    reference = json.loads(first.stdout)["fits"]
    # simulate an interruption: saved fits for two cells, one of them with planted weights
    checkpoint = Checkpoint(
        out, {"spec": spec.to_dict(), "features": table_fingerprint(table.frame)}
    )
    checkpoint.load()
    cells = table.cells()
    planted = fit_cell(*cells[("human", "Code")], spec, seed=0)
    planted.weight[:] = 0.25
    checkpoint.save("human", "Code", planted)
    resumed = cli("fit", features_path, "--out", out, "--draws", "100", "--json")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming: 1 fit(s)" in resumed.stderr
    fits = {(f["judge"], f["group"]): f for f in json.loads(resumed.stdout)["fits"]}
    assert fits[("human", "Code")]["attributes"]["lengthy"]["mean"] == pytest.approx(0.25)
    other = {(f["judge"], f["group"]): f for f in reference}[("m-7b", "Advice")]
    assert fits[("m-7b", "Advice")]["attributes"] == other["attributes"]
    assert not checkpoint.folder.exists()
    # a saved fit from different settings is not reused
    checkpoint.load()
    checkpoint.save("human", "Code", planted)
    fresh = cli("fit", features_path, "--out", out, "--draws", "100", "--seed", "7", "--json")
    assert "resuming" not in fresh.stderr
    fits = {(f["judge"], f["group"]): f for f in json.loads(fresh.stdout)["fits"]}
    assert fits[("human", "Code")]["attributes"]["lengthy"]["mean"] != pytest.approx(0.25)
