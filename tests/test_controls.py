"""Control covariates (``controls``): an exact rescaling of the prior, a confounder they
absorb, the with/without table, the compare/run/report paths and the refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import preference_dissect as pdx

QUICK = {"draws": 200, "chains": 2, "progress": False}


@pytest.fixture(scope="module")
def confounded():
    """The verdict follows length (weight 1.2) and b (0.5); attribute a only goes with
    length (its true weight is 0)."""
    rng = np.random.default_rng(0)
    n = 800
    length = rng.normal(size=n)
    a = np.sign(length + rng.normal(size=n) * 0.8)
    b = rng.choice([-1.0, 0.0, 1.0], size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(1.2 * length + 0.5 * b)))).astype(float)
    keys = {"pair_id": [f"p{i}" for i in range(n)], "judge": "human", "group": "all", "y": y}
    return pd.DataFrame({**keys, "a": a, "b": b, "style_length": length})


def test_a_control_is_the_same_fit_with_its_column_rescaled(confounded):
    controlled = pdx.fit(confounded, controls=("style_length",), **QUICK)
    factor = 2.5 / 0.1  # the control scale over the Laplace(0, 0.1) scale
    manual = pdx.fit(confounded.assign(style_length=confounded["style_length"] * factor), **QUICK)
    ours = controlled.posterior["weight"].to_numpy()
    theirs = manual.posterior["weight"].to_numpy() * np.array([1.0, 1.0, factor])
    np.testing.assert_allclose(ours, theirs, rtol=1e-6)  # the fit stores float32
    assert json.loads(controlled.posterior.attrs["spec"])["controls"] == ["style_length"]


def test_a_control_absorbs_the_confounder_it_stands_for(confounded):
    controlled = pdx.fit(confounded, controls=["style_length"], **QUICK)
    plain = pdx.scores(pdx.fit(confounded, **QUICK)).set_index("attribute")["mean"]
    scores = pdx.scores(controlled).set_index("attribute")["mean"]
    assert abs(scores["a"]) < 0.15 and plain["a"] > scores["a"]  # penalised, length leaks into a
    assert scores["style_length"] > plain["style_length"]  # unpenalised, closer to 1.2
    effects = pdx.control_effects(controlled).set_index("attribute")
    assert list(effects.index) == ["a", "b"]  # largest change first, no row for the control
    assert effects.loc["a", "without_controls"] > 0.4
    assert effects.loc["a", "change"] == pytest.approx(
        effects.loc["a", "with_controls"] - effects.loc["a", "without_controls"]
    )
    assert effects.loc["a", "with_controls"] == pytest.approx(scores["a"], abs=0.05)


def test_bad_controls_are_refused(confounded):
    with pytest.raises(pdx.InputError, match="'colour' is not an attribute") as err:
        pdx.fit(confounded, controls=["colour"], **QUICK)
    assert err.value.field == "controls"
    with pytest.raises(pdx.InputError, match="location-scale"):
        pdx.fit(confounded, controls=["b"], prior="horseshoe", **QUICK)
    with pytest.raises(pdx.InputError, match="pooling"):
        pdx.fit(confounded, controls=["b"], pooling="groups", **QUICK)
    with pytest.raises(pdx.InputError, match="no controls") as err:
        pdx.control_effects(pdx.fit(confounded, **QUICK))
    assert err.value.field == "idata"
    pairs = pdx.load("bundled:hh-rlhf", limit=60)
    with pytest.raises(pdx.InputError, match="valid: length, markdown, words") as err:
        pdx.compare(pdx.annotate(pairs), pairs, controls="verbosity")
    assert err.value.field == "controls"


def test_run_with_controls_reports_them(cli, tmp_path):
    out = tmp_path / "run"
    res = cli("run", "bundled:hh-rlhf", "--out", str(out), "--controls", "length,markdown",
              "--draws", "200", "--chains", "2")  # fmt: skip
    assert res.returncode == 0, res.stderr
    controls = ["style_length", "style_header", "style_list", "style_bold"]
    features = pd.read_parquet(out / "features.parquet")
    assert set(controls) <= set(features.columns)
    summary = json.loads((out / "analysis" / "summary.json").read_text())
    assert sorted(summary["controls"]["controls"]) == sorted(controls)
    top = {r["attribute"] for g in summary["top_bottom"]["human"].values() for r in g["top"]}
    assert not top & set(controls)  # adjusted for, not dissected
    effects = pd.read_csv(out / "analysis" / "control_effects.csv")
    assert not set(effects["attribute"]) & set(controls) and len(effects) > 0
    html = (out / "report.html").read_text()
    assert "Adjusted for:" in html and "style_length" in html
    # by hand: the fit picks up the controls the features file recorded
    fit_file = tmp_path / "fit.nc"
    again = cli("fit", str(out / "features.parquet"), "--out", str(fit_file), "--draws", "200",
                "--chains", "2")  # fmt: skip
    assert again.returncode == 0, again.stderr
    import arviz as az

    by_hand = az.from_netcdf(fit_file)
    in_run = az.from_netcdf(out / "fit.nc")
    np.testing.assert_array_equal(by_hand.posterior["weight"], in_run.posterior["weight"])
