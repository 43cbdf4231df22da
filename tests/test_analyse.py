"""Analyses on fits: scores with HDIs, top/bottom, sensitivity, similarity, contrasts, plots."""

from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from preference_dissect.analyse.scores import (
    error_sensitivity,
    scenario_groups,
    score,
    top_bottom,
    weight_summary,
)
from preference_dissect.analyse.similarity import (
    judge_contrasts,
    judge_similarity,
    parse_size,
    size_group_similarity,
)
from preference_dissect.fit.idata import build_idata

ATTRS = ["friendly", "no_minor_errors", "no_severe_errors", "lengthy"]


def _cell(draws: np.ndarray):
    return SimpleNamespace(
        weight=draws,
        intercept=None,
        sigma=None,
        n=100,
        rhat_max=1.0,
        ess_bulk_min=1000.0,
        divergences=0,
        pareto_k=0.2,
        accuracy=0.6,
        method="is",
        ppc_p_share=0.5,
        ppc_p_agree=np.full(draws.shape[-1], 0.5),
        seconds=0.1,
    )


def _idata(
    means: dict[tuple[str, str], np.ndarray], sd: float = 0.1, draws: int = 2000, seed: int = 0
):
    rng = np.random.default_rng(seed)
    judges = list(dict.fromkeys(j for j, _ in means))
    groups = list(dict.fromkeys(g for _, g in means))
    cells = {
        k: _cell(m + sd * rng.standard_normal((2, draws // 2, len(m)))) for k, m in means.items()
    }
    return build_idata(judges, groups, ATTRS, 2, draws // 2, cells)


@pytest.mark.parametrize(
    ("name", "size"),
    [
        ("llama-2-7b-chat", 7),
        ("qwen-72b", 72),
        ("mistral-8x7b-instruct-v0.1", 56),
        ("yi-6b", 6),
        ("tulu-2-dpo-13b", 13),
        ("gpt-4-1106-preview", None),
        ("human", None),
        ("vicuna-7b-v1.5", 7),
    ],
)
def test_parse_size(name, size):
    assert parse_size(name) == size


def test_scores_and_hdi_follow_the_draws():
    mean = np.array([0.5, -0.2, 0.0, 1.0])
    idata = _idata({("human", "Advice"): mean}, sd=0.1)
    table = weight_summary(idata)
    assert len(table) == 4
    assert np.allclose(table["mean"], mean, atol=0.01)
    assert np.allclose(table["sd"], 0.1, atol=0.01)
    width = table["hdi_high"] - table["hdi_low"]
    assert np.allclose(width, 2 * 1.96 * 0.1, atol=0.03)
    assert np.allclose(table["score"], score(table["mean"]))
    assert (table["score_low"] < table["score"]).all() and (
        table["score"] < table["score_high"]
    ).all()
    tb = top_bottom(table, 2)
    top = tb[tb["end"] == "top"]["attribute"].tolist()
    bottom = tb[tb["end"] == "bottom"]["attribute"].tolist()
    assert top == ["lengthy", "friendly"] and bottom == ["no_minor_errors", "no_severe_errors"]


def test_error_sensitivity_averages_scenario_groups_only():
    means = {
        ("human", "Advice"): np.array([0, 0, 1.0, 0]),
        ("human", "Code"): np.array([0, 0, 0.0, 0]),
        ("human", "w_stances"): np.array([0, 0, -3.0, 0]),  # query group: not averaged
    }
    idata = _idata(means, sd=0.01)
    assert scenario_groups(["Advice", "Code", "w_stances", "all"]) == ["Advice", "Code"]
    table = error_sensitivity(idata).set_index("attribute")
    expected = (score(1.0) + score(0.0)) / 2
    assert table.loc["no_severe_errors", "score"] == pytest.approx(expected, abs=0.2)
    assert table.loc["no_severe_errors", "groups"] == 2
    assert table.loc["no_minor_errors", "score"] == pytest.approx(50, abs=0.2)
    assert "no_moderate_errors" not in table.index


def test_similarity_is_pearson_averaged_over_groups():
    base = {"Advice": np.array([0.5, -0.2, 0.3, 1.0]), "Code": np.array([-0.4, 0.1, 0.9, 0.2])}
    means = {}
    for g, w in base.items():
        means[("a-7b", g)] = w
        means[("b-13b", g)] = 2 * w + 0.1  # perfectly correlated
        means[("c-70b", g)] = -w  # perfectly anti-correlated
    idata = _idata(means, sd=0.001)
    sim = judge_similarity(idata, n_draws=50)
    matrix, pairs = sim.matrix, sim.pairs
    assert matrix.loc["a-7b", "b-13b"] == pytest.approx(1.0, abs=1e-3)
    assert matrix.loc["a-7b", "c-70b"] == pytest.approx(-1.0, abs=1e-3)
    row = pairs[(pairs.judge_a == "a-7b") & (pairs.judge_b == "b-13b")].iloc[0]
    assert row.hdi_low <= row.similarity <= row.hdi_high and row.groups == 2
    sizes = size_group_similarity(sim)
    assert sizes["small_judges"] == ["a-7b", "b-13b"] and sizes["large_judges"] == ["c-70b"]
    assert sizes["small"] == pytest.approx(1.0, abs=1e-3)
    assert sizes["small_hdi"][0] <= sizes["small"] <= sizes["small_hdi"][1]
    assert sizes["between"] == pytest.approx(-1.0, abs=1e-3)
    assert sizes["large"] is None and sizes["large_hdi"] is None  # one judge: no pair
    remapped = size_group_similarity(matrix, sizes={"c-70b": 7})
    assert remapped["large_judges"] == [] and remapped["small_hdi"] is None


def test_similarity_interval_describes_the_reported_statistic():
    """The interval used to belong to a different quantity (per-draw correlations) than the
    reported point (correlation of posterior means): 0.91 with interval [0.10, 0.46]. Now the
    reported similarity is the posterior mean of the statistic whose HDI is given; GAIR's
    plug-in number is kept beside it, and with wide posteriors it is the higher of the two."""
    rng = np.random.default_rng(4)
    attrs = len(ATTRS)
    means = {}
    for g in ("Advice", "Code", "Coding2"):
        w = rng.normal(0, 0.3, attrs)
        means[("h-7b", g)] = w
        means[("m-13b", g)] = w + rng.normal(0, 0.05, attrs)
    sim = judge_similarity(_idata(means, sd=0.4, seed=1), ["Advice", "Code", "Coding2"])
    row = sim.pairs.iloc[0]
    assert row.hdi_low <= row.similarity <= row.hdi_high
    assert row.plugin > row.similarity + 0.1  # shrunk means look alike; draws attenuate
    assert sim.matrix.loc["h-7b", "m-13b"] == pytest.approx(row.similarity)
    assert not sim.point_estimates


def test_similarity_skips_attributes_a_fit_left_out():
    """Left-out (NaN) attributes are dropped pairwise, not propagated as NaN."""
    means = {("j1-7b", "Advice"): np.array([0.5, -0.2, 0.3, 1.0])}
    means[("j2-7b", "Advice")] = means[("j1-7b", "Advice")] * 3
    idata = _idata(means, sd=0.0001)
    idata.posterior["weight"].loc[{"judge": "j2-7b", "attribute": "lengthy"}] = np.nan
    sim = judge_similarity(idata, ["Advice"], n_draws=20)
    assert sim.pairs.iloc[0].similarity == pytest.approx(1.0, abs=1e-3)
    table = weight_summary(idata)
    assert len(table[table["judge"] == "j2-7b"]) == 3  # no row for the left-out attribute


def test_point_estimates_have_no_intervals_and_no_probabilities():
    """GAIR's released weights are single draws: P(delta > 0) = 1.0 for delta = 0.0016 and
    zero-width 'HDIs' were reported; now intervals and probabilities are NaN."""
    means = {("human", "Advice"): np.zeros(4), ("gpt", "Advice"): np.array([0.0016, 0, 0, 0])}
    cells = {k: _cell(m.reshape(1, 1, -1)) for k, m in means.items()}
    idata = build_idata(["human", "gpt"], ["Advice"], ATTRS, 1, 1, cells)
    contrast = judge_contrasts(idata, "human").set_index("attribute").loc["friendly"]
    assert contrast["diff"] == pytest.approx(0.0016)
    assert np.isnan(contrast["p_greater"]) and np.isnan(contrast["hdi_low"])
    table = weight_summary(idata)
    assert table["score_low"].isna().all() and table["sd"].isna().all()
    sim = judge_similarity(idata, ["Advice"])
    assert sim.point_estimates and np.isnan(sim.pairs.iloc[0].hdi_low)


def test_contrasts_probability_of_difference():
    means = {("human", "Advice"): np.zeros(4), ("gpt", "Advice"): np.array([0.5, -0.5, 0.0, 0.02])}
    idata = _idata(means, sd=0.1)
    table = judge_contrasts(idata, "human").set_index("attribute")
    assert table.loc["friendly", "p_greater"] > 0.99
    assert table.loc["no_minor_errors", "p_greater"] < 0.01
    assert 0.3 < table.loc["no_severe_errors", "p_greater"] < 0.7
    assert table.loc["friendly", "diff"] == pytest.approx(0.5, abs=0.02)


def test_analyze_cli_writes_tables_plots_and_summary(tmp_path, cli):
    means = {
        (j, g): np.random.default_rng(i).normal(0, 0.5, 4)
        for i, (j, g) in enumerate(
            [(j, g) for j in ("human", "llama-2-7b", "qwen-72b") for g in ("Advice", "Code")]
        )
    }
    idata = _idata(means)
    from preference_dissect.fit.idata import save_fit

    fit = save_fit(idata, tmp_path / "fit.nc")
    out = tmp_path / "analysis"
    res = cli("analyze", fit, "--out", out, "--top-k", "2", "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    for name in (
        "scores.csv",
        "top_bottom.csv",
        "sensitivity.csv",
        "similarity.csv",
        "contrasts.csv",
        "diagnostics.csv",
        "summary.json",
        "scores_Advice.png",
        "scores_Advice.svg",
        "similarity.png",
        "similarity.svg",
        "sensitivity.png",
        "sensitivity.svg",
    ):
        assert (out / name).exists(), name
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "summary.json").read_text())["fits"] == 6
    assert summary["contrast_reference"] == "human"
    assert len(summary["top_bottom"]["human"]["Advice"]["top"]) == 2
    scores = pd.read_csv(out / "scores.csv")
    assert len(scores) == 6 * 4
    assert (out / "scores_Advice.svg").read_text().lstrip().startswith("<?xml")


def test_analyze_cli_bad_input(tmp_path, cli):
    bad = tmp_path / "fit.nc"
    bad.write_text("not netcdf")
    res = cli("analyze", bad, "--out", tmp_path / "out")
    assert res.returncode == 2
    assert len(res.stderr.strip().splitlines()) == 1 and "not a readable fit file" in res.stderr
    assert not (tmp_path / "out").exists()


def test_plots_draw_dollar_signs_as_text_not_mathtext(tmp_path):
    """Labels come from datasets and user YAML: a `$...$` pair must not be parsed as mathtext."""
    import pandas as pd

    from preference_dissect.analyse.plots import plot_group_scores, plot_text

    rows = pd.DataFrame(
        {
            "group": ["g", "g"],
            "judge": ["human", "human"],
            "attribute": ["price", "clear"],
            "label": ["price $\\frac{$ total", "clear"],
            "score": [55.0, 48.0],
            "score_low": [50.0, 44.0],
            "score_high": [60.0, 52.0],
        }
    )
    files = plot_group_scores(rows, "g", ["human"], tmp_path / "scores")
    assert [f.suffix for f in files] == [".png", ".svg"] and all(f.stat().st_size for f in files)
    assert plot_text("a $b$", 4) == "a \\$…"


def test_score_figure_is_a_forest_up_to_six_judges_then_a_heatmap():
    """One builder serves the analysis files and the report: series per judge, or a heatmap."""
    import pandas as pd

    from preference_dissect.analyse.plots import (
        MAX_FOREST_JUDGES,
        figure_data_uri,
        scores_figure,
    )

    def rows(n_judges):
        return pd.DataFrame(
            [
                {"judge": f"j{j}", "attribute": a, "score": 50 + j, "score_low": 45 + j,
                 "score_high": 55 + j}
                for j in range(n_judges)
                for a in ("clear", "harmless")
            ]
        )  # fmt: skip

    forest = scores_figure(rows(MAX_FOREST_JUDGES), ["clear", "harmless"], "g")
    ax = forest.axes[0]
    assert not ax.images and len(ax.get_legend().get_texts()) == MAX_FOREST_JUDGES
    assert [t.get_text() for t in ax.get_yticklabels()] == ["harmless", "clear"]
    heat = scores_figure(rows(MAX_FOREST_JUDGES + 1), ["clear", "harmless"], "g")
    assert heat.axes[0].images and len(heat.axes[0].get_yticklabels()) == MAX_FOREST_JUDGES + 1
    uri = figure_data_uri(heat)
    assert uri.startswith("data:image/png;base64,") and len(uri) > 1000
