"""The public Python API (``import preference_dissect as pdx``) on bundled real data: the
chain load -> annotate -> compare -> fit gives the weights ``prefdissect run`` gives, the
results functions return labelled frames and figures, errors name parameters, and an LLM
judge through the loopback server gives the labels its scripted answers imply."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

import preference_dissect as pdx
from preference_dissect.testing.openai_server import OpenAIServer, Reply

LIMIT = 300


@pytest.fixture(scope="module")
def chain():
    """The API chain on the first 300 hh-rlhf pairs, classified like ``run`` classifies."""
    pairs = pdx.classify(pdx.load("bundled:hh-rlhf", limit=LIMIT))
    annotations = pdx.annotate(pairs, progress=False)
    features = pdx.compare(annotations, pairs)
    return pairs, annotations, features, pdx.fit(features, progress=False)


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory):
    """``prefdissect run`` with the same settings, given by a ``--config`` file."""
    from conftest import run_cli

    tmp = tmp_path_factory.mktemp("api_run")
    config = tmp / "run.yaml"
    config.write_text(f"source: bundled:hh-rlhf\nlimit: {LIMIT}\nreport: false\n")
    res = run_cli("run", "--config", config, "--out", tmp / "run")
    assert res.returncode == 0, res.stderr
    return pdx.open_run(tmp / "run")


def test_api_chain_gives_the_weights_of_prefdissect_run(chain, cli_run):
    pairs, _, features, idata = chain
    assert len(pairs.pairs) == len(cli_run.pairs.pairs) == LIMIT
    pd.testing.assert_frame_equal(
        features.reset_index(drop=True), cli_run.features.reset_index(drop=True)
    )
    api = idata.posterior["weight"]
    ran = cli_run.idata.posterior["weight"]
    assert api.dims == ran.dims == ("chain", "draw", "judge", "group", "attribute")
    assert list(api["group"].values) == list(ran["group"].values)
    assert len(api["group"]) > 1  # scenario groups, not only "all"
    np.testing.assert_array_equal(api.values, ran.values)  # same seed: the same draws
    pd.testing.assert_frame_equal(pdx.scores(idata), cli_run.scores())


def test_plain_chain_without_classify_matches_the_run_on_group_all(cli_run):
    pairs = pdx.load("bundled:hh-rlhf", limit=LIMIT)
    idata = pdx.fit(pdx.compare(pdx.annotate(pairs, progress=False), pairs), progress=False)
    assert list(idata.posterior["group"].values) == ["all"]
    np.testing.assert_array_equal(
        idata.posterior["weight"].sel(group="all").values,
        cli_run.idata.posterior["weight"].sel(group="all").values,
    )


def test_scores_table_is_consistent(chain):
    table = pdx.scores(chain[3])
    assert {"judge", "group", "attribute", "mean", "hdi_low", "hdi_high", "score"} <= set(table)
    assert (table["hdi_low"] <= table["mean"]).all() and (table["mean"] <= table["hdi_high"]).all()
    expected = 100 / (1 + np.exp(-table["mean"]))
    np.testing.assert_allclose(table["score"], expected)
    assert (table["n_nonzero"] <= table["n"]).all()


@pytest.fixture(scope="module")
def two_judges(chain):
    """The chain's pairs plus a judge who always disagrees with the humans."""
    pairs, annotations, _, _ = chain
    features = pdx.compare(annotations, _with_contrarian(pairs))
    return pdx.fit(features, draws=400, chains=2, progress=False)


def test_similarity_and_contrasts_of_mirrored_judges(two_judges):
    sim = pdx.similarity(two_judges)
    row = sim.set_index(["judge_a", "judge_b"]).loc[("human", "contrarian")]
    assert row["plugin"] < -0.9  # the mirrored verdicts give mirrored weights
    assert row["hdi_low"] <= row["similarity"] <= row["hdi_high"]
    assert row["similarity"] < 0  # attenuated by posterior noise, but still negative
    matrix = pdx.similarity(two_judges, matrix=True)
    assert list(matrix.index) == list(matrix.columns) == ["human", "contrarian"]
    assert matrix.loc["human", "contrarian"] == pytest.approx(row["similarity"])
    diff = pdx.contrasts(two_judges, "human")
    assert set(diff["judge"]) == {"contrarian"}
    scores = pdx.scores(two_judges).set_index(["judge", "group", "attribute"])["mean"]
    top = diff.loc[diff["diff"].abs().idxmax()]
    human_w = scores.loc[("human", top["group"], top["attribute"])]
    assert top["diff"] == pytest.approx(-2 * human_w, rel=0.25)
    assert isinstance(pdx.plot_similarity(two_judges), Figure)


def test_plot_scores_returns_a_figure_and_names_a_bad_group(chain):
    fig = pdx.plot_scores(chain[3], "all")
    assert isinstance(fig, Figure)
    assert fig._repr_png_().startswith(b"\x89PNG")  # Jupyter shows it inline, no pyplot
    fitted = pdx.scores(chain[3]).query("group == 'all'")["attribute"]
    assert len(fig.axes[0].get_yticklabels()) == len(fitted)  # a row per fitted attribute
    with pytest.raises(pdx.InputError) as err:
        pdx.plot_scores(chain[3], "no-such-group")
    assert err.value.field == "group" and "groups with fits: all" in err.value.message


def test_run_returns_a_run_directory(tmp_path):
    result = pdx.run("bundled:llmbar", tmp_path / "run", limit=60, min_group_size=5, say=print)
    assert isinstance(result, pdx.Run)
    assert result.report_path == tmp_path / "run" / "report.html"
    assert result.report_path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert set(result.pairs.dissectable_judges) == {"gold"}
    assert list(result.idata.posterior["judge"].values) == ["gold"]
    assert len(result.features) == result.summary["features"]
    assert result.manifest["stages"]["fit"]["fits"] == result.summary["fits"]
    assert pdx.report(result) == result.report_path
    with pytest.raises(pdx.InputError, match=r"the run has no judge_labels\.parquet"):
        result._read("judge_labels")


def _with_contrarian(pairs):
    human = pairs.labels[pairs.labels["judge"] == "human"]
    flipped = human.assign(judge="contrarian", winner=human["winner"].map({"a": "b", "b": "a"}))
    return pdx.add_labels(pairs, flipped[["pair_id", "judge", "winner"]])


def test_audit_and_trl_export(tmp_path):
    pairs = _with_contrarian(pdx.load("bundled:hh-rlhf", limit=40))
    table = pdx.audit(pairs, reference="human", bootstrap=0).set_index("judge")
    assert table.loc["contrarian", "agreement"] == 0.0
    assert table.loc["contrarian", "n"] == 40
    share_a = (pairs.labels.query("judge == 'human'")["winner"] == "a").mean()
    chance = 2 * share_a * (1 - share_a)  # expected agreement of the two marginals
    assert table.loc["contrarian", "kappa"] == pytest.approx(-chance / (1 - chance))
    with pytest.raises(pdx.InputError, match="no judge to audit besides the reference"):
        pdx.audit(pdx.load("bundled:llmbar", limit=20), reference="gold")
    by_group = pdx.audit(pairs, reference="human", by="group", bootstrap=0)
    assert set(by_group["group"]) == {"all"} and (by_group["agreement"] == 0).all()
    with pytest.raises(pdx.InputError) as err:
        pdx.audit(pairs, by="scenario")
    assert err.value.field == "by" and "judge, group, subset" in err.value.message
    human = pdx.load("bundled:hh-rlhf", limit=5)
    rows = pdx.export_trl(human, tmp_path / "trl.jsonl")
    assert len(rows) == 5 and set(rows.columns) >= {"prompt", "chosen", "rejected"}
    written = pd.read_json(tmp_path / "trl.jsonl", lines=True)
    assert len(written) == 5
    assert rows.attrs["export"]["judge"] == "human"


def test_from_frame_builds_pairs_and_names_the_bad_row():
    df = pd.DataFrame(
        {"q": ["Hi?", "2+2?", "Capital of France?"], "good": ["Hello!", "4", "Paris"]}
    )
    df["bad"] = ["Go away.", "5", "Lyon"]
    df = df.astype(object)
    ds = pdx.from_frame(df, {"prompt": "q", "chosen": "good", "rejected": "bad"}, seed=1)
    assert len(ds.pairs) == 3 and ds.judges == ["human"]
    chosen = [
        row.response_a if lab.winner == "a" else row.response_b
        for row, lab in zip(ds.pairs.itertuples(), ds.labels.itertuples(), strict=True)
    ]
    assert chosen == ["Hello!", "4", "Paris"]
    df.loc[1, "good"] = 7
    with pytest.raises(pdx.InputError) as err:
        pdx.from_frame(df, {"prompt": "q", "chosen": "good", "rejected": "bad"})
    assert err.value.file == "frame" and err.value.row == 2 and err.value.field == "good"


@pytest.mark.parametrize(
    ("call", "field", "listed"),
    [
        (lambda f, p: pdx.fit(f, prior="cauchy:1"), "prior", "laplace, normal, horseshoe"),
        (lambda f, p: pdx.fit(f, likelihood="probit"), "likelihood", "logistic, linear"),
        (lambda f, p: pdx.compare(f, p, na="maybe"), "na", "drop, zero"),
        (lambda f, p: pdx.load("bundled:hh-rlhf", format="tsv"), "format", "hh-rlhf"),
        (lambda f, p: pdx.annotate(p, "nope"), None, "gair29"),
        (lambda f, p: pdx.run("bundled:hh-rlhf", "x", priors="normal:1"), "priors", "limit, seed"),
        (lambda f, p: pdx.run("bundled:hh-rlhf", "x", classify="sometimes"), "classify", "auto"),
        (lambda f, p: pdx.fit(p), "features", "DataFrame"),
        (lambda f, p: pdx.annotate(p, "gair29"), "llm", "LLMConfig"),
    ],
)
def test_errors_name_the_parameter_and_list_valid_choices(call, field, listed):
    pairs = pdx.load("bundled:hh-rlhf", limit=10)
    features = pdx.annotate(pairs, progress=False) if field == "na" else pd.DataFrame()
    with pytest.raises(pdx.InputError) as err:
        call(features, pairs)
    if field is not None:
        assert err.value.field == field
    assert listed in err.value.message
    assert "--" not in err.value.message  # parameters, not CLI flags


def _always_slot_a(req):
    """Every judge call answers ``A`` with p(A) = 0.8 among the letters (0.1 elsewhere)."""
    lp = {"A": math.log(0.9 * 0.8), "B": math.log(0.9 * 0.2), "The": math.log(0.1)}
    return Reply("A", logprobs=[lp])


def test_judge_through_the_loopback_server(tmp_path):
    pairs = pdx.load("bundled:hh-rlhf", limit=6)
    with OpenAIServer(responder=_always_slot_a) as server:
        llm = pdx.LLMConfig(model="loopback", base_url=server.base_url, cache_dir=tmp_path)
        one = pdx.judge(pairs, llm, orders="ab", progress=False)
        both = pdx.judge(pairs, llm, orders="both", name="swap", progress=False)
        sent = len(server.chat_requests())
    assert sent == 6 + 6  # the ab calls of the second judge come from the cache
    assert (one["judge"] == "loopback").all() and (one["winner"] == "a").all()
    np.testing.assert_allclose(one["p_a"], 0.8)
    assert both["judge"].eq("swap").all()
    np.testing.assert_allclose(both["p_a"], 0.5)  # 0.8 for slot A in ab, 0.2 in ba
    assert both.attrs["judge"]["first_slot_rate"] == 1.0
    with pytest.raises(pdx.InputError) as err:
        pdx.judge(pairs, llm, orders="twice")
    assert err.value.field == "orders" and "both, ab, ba" in err.value.message
    judged = pdx.add_labels(pairs, one)
    assert judged.judges == ["human", "loopback"]


def test_public_names_are_curated_and_documented():
    for name in pdx.__all__:
        obj = getattr(pdx, name)
        assert obj is not None, name
        if callable(obj) and not isinstance(obj, type) and name != "__version__":
            doc = obj.__doc__ or ""
            assert "Returns" in doc, name
    for name in ("load", "annotate", "compare", "fit", "report"):
        assert callable(getattr(pdx, name)) and not isinstance(getattr(pdx, name), type(sys))


def test_importing_stage_submodules_later_keeps_the_functions():
    code = textwrap.dedent(
        """
        import preference_dissect as pdx
        import preference_dissect.load.hh_rlhf, preference_dissect.fit.nuts
        import preference_dissect.report.sections, preference_dissect.compare.style
        import preference_dissect.annotate.gair29
        from preference_dissect import fit, load
        print(all(callable(f) for f in (pdx.load, pdx.fit, pdx.report, pdx.compare, fit, load)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "True", out.stderr


def test_arviz_refactor_notice_is_not_shown(tmp_path):
    env = {"XDG_CACHE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    plain = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import arviz"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert "ArviZ is undergoing a major refactor" in plain.stderr  # the notice exists
    (tmp_path / "arviz").mkdir(exist_ok=True)
    (tmp_path / "arviz" / "daily_warning").unlink(missing_ok=True)
    ours = subprocess.run(
        [sys.executable, "-W", "always", "-c", "import preference_dissect, arviz"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert ours.returncode == 0 and "ArviZ" not in ours.stderr, ours.stderr


DOCTESTED = (
    "preference_dissect._api.data",
    "preference_dissect._api.annotation",
    "preference_dissect._api.modeling",
    "preference_dissect._api.results",
    "preference_dissect._api.runs",
    "preference_dissect.plugins",
    "preference_dissect.config",
    "preference_dissect.registry",
)


def test_docstring_examples_run(tmp_path):
    """The Examples of the public API run as written (in a fresh process: some register
    plug-ins)."""
    code = textwrap.dedent(
        """
        import doctest, importlib, sys
        failed = tried = 0
        for name in sys.argv[1:]:
            result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
            failed, tried = failed + result.failed, tried + result.attempted
        print(tried)
        sys.exit(1 if failed else 0)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code, *DOCTESTED], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert int(out.stdout.split()[-1]) >= 30  # examples were found and run
