"""Plug-ins from outside the package, found through the ``preference_dissect.plugins`` entry
point: a loader, a prior, a likelihood, an annotator kind, a stage and a report section
(tests/plugins/pdx_example_plugin.py), used by the CLI and the Python API alike."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import run_cli

import preference_dissect as pdx
from preference_dissect.fit.idata import spec_of

PLUGIN_DIR = Path(__file__).resolve().parent / "plugins"
ATTRIBUTE_SET = """\
name: long_words
mode: long-words
attributes:
  - {name: long_words_7, kind: count, compare: sign, definition: "Words of 7+ letters."}
  - {name: long_words_10, kind: count, compare: sign, definition: "Words of 10+ letters."}
"""


def _distribution(root: Path, name: str, module: str) -> None:
    """An installed distribution (a dist-info folder) whose entry point names ``module``."""
    info = root / f"{name}-0.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(f"[preference_dissect.plugins]\n{name} = {module}\n")


@pytest.fixture(scope="module")
def plugged(tmp_path_factory):
    """An environment with the example plug-in installed, a TSV source and its YAML set."""
    tmp = tmp_path_factory.mktemp("plugins")
    _distribution(tmp / "site", "pdx_example", "pdx_example_plugin")
    env = {"PYTHONPATH": os.pathsep.join([str(PLUGIN_DIR), str(tmp / "site")])}
    ds = pdx.load("bundled:hh-rlhf", limit=80)
    winners = ds.labels.set_index("pair_id")["winner"]
    table = ds.pairs[["prompt", "response_a", "response_b"]].assign(
        winner=ds.pairs["pair_id"].map(winners).to_numpy()
    )
    table.to_csv(tmp / "pairs.tsv", sep="\t", index=False)
    (tmp / "long_words.yaml").write_text(ATTRIBUTE_SET)
    return tmp, env


def _python(code: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        cwd=cwd,
    )


@pytest.fixture(scope="module")
def plugged_run(plugged):
    """``prefdissect run`` on the TSV with the plug-in annotator, prior and likelihood."""
    tmp, env = plugged
    res = run_cli(
        "run",
        tmp / "pairs.tsv",
        "--annotator",
        tmp / "long_words.yaml",
        "--prior",
        "logistic:0.3",
        "--likelihood",
        "probit",
        "--min-group-size",
        "5",
        "--out",
        tmp / "run",
        env=env,
    )
    assert res.returncode == 0, res.stderr
    return tmp / "run"


def test_cli_uses_every_kind_of_plugin(plugged, plugged_run):
    tmp, env = plugged
    res = run_cli("load", tmp / "pairs.tsv", "--out", tmp / "loaded.parquet", "--json", env=env)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout)["pairs"] == 80
    assert pdx.load(str(tmp / "loaded.parquet")).info["origin"]["format"] == "tsv-pairs"
    manifest = json.loads((plugged_run / "manifest.json").read_text())
    assert manifest["stages"]["word_stats"]["pairs"] > 0
    stats = json.loads((plugged_run / "word_stats.json").read_text())
    assert stats["a"] > 10 and stats["b"] > 10
    run = pdx.open_run(plugged_run)
    assert set(run.annotations["attribute"]) == {"long_words_7", "long_words_10"}
    spec = spec_of(run.idata)
    assert spec["prior"] == "logistic:0.3" and spec["likelihood"] == "probit"
    html = run.report_path.read_text(encoding="utf-8")
    assert 'id="plugin-words"' in html and "&lt;plug-in&gt;" in html and "<plug-in>" not in html
    assert 'href="#long_words"' in html


def test_api_sees_the_same_plugins_and_gives_the_cli_weights(plugged, plugged_run):
    tmp, env = plugged
    code = f"""
        import numpy as np
        import preference_dissect as pdx
        pairs = pdx.load({str(tmp / "pairs.tsv")!r})
        assert pairs.info["format"] == "tsv-pairs", pairs.info
        annotations = pdx.annotate(pairs, {str(tmp / "long_words.yaml")!r}, progress=False)
        features = pdx.compare(annotations, pdx.classify(pairs))
        idata = pdx.fit(features, prior="logistic:0.3", likelihood="probit",
                        min_group_size=5, progress=False)
        ran = pdx.open_run({str(plugged_run)!r}).idata
        np.testing.assert_array_equal(idata.posterior["weight"].values,
                                      ran.posterior["weight"].values)
        w = pdx.scores(idata).query("group == 'all'").set_index("attribute")["mean"]
        print(w.round(3).to_dict())
        """
    out = _python(code, env, tmp)
    assert out.returncode == 0, out.stderr[-3000:]
    weights = eval(out.stdout.strip().splitlines()[-1])
    assert set(weights) == {"long_words_7", "long_words_10"}


def test_unknown_names_list_the_plugins_too(plugged):
    tmp, env = plugged
    code = """
        import preference_dissect as pdx
        for call in (lambda: pdx.FitSpec(prior="cauchy:1"),
                     lambda: pdx.FitSpec(likelihood="cloglog"),
                     lambda: pdx.load("pairs.tsv", format="xlsx")):
            try:
                call()
            except pdx.InputError as exc:
                print(exc.one_line())
        """
    out = _python(code, env, tmp)
    lines = out.stdout.strip().splitlines()
    assert out.returncode == 0 and len(lines) == 3, out.stderr
    assert "laplace, normal, horseshoe, logistic" in lines[0]
    assert "logistic, linear, probit" in lines[1]
    assert "tsv-pairs" in lines[2] and "hh-rlhf" in lines[2]


def test_a_broken_plugin_names_itself(tmp_path):
    _distribution(tmp_path, "broken_thing", "no_such_module_anywhere")
    res = run_cli("load", "bundled:hh-rlhf", "--format", "nope", env={"PYTHONPATH": str(tmp_path)})
    assert res.returncode == 2
    assert "plug-in 'broken_thing' (no_such_module_anywhere)" in res.stderr
    assert "ModuleNotFoundError" in res.stderr and "Traceback" not in res.stderr


def test_in_process_registration_is_seen_by_the_api():
    """A plug-in registered by a module imported in this process (no entry point)."""
    import numpy as np

    from preference_dissect.plugins import PRIORS, register_prior

    @register_prior("test_flat_normal")
    class Wide(type(PRIORS.get("normal"))):
        default_scale = 50.0

    try:
        pairs = pdx.load("bundled:hh-rlhf", limit=60)
        features = pdx.compare(pdx.annotate(pairs, progress=False), pairs)
        wide = pdx.fit(features, prior="test_flat_normal", draws=200, chains=2, progress=False)
        narrow = pdx.fit(features, prior="normal:0.01", draws=200, chains=2, progress=False)
    finally:
        PRIORS.remove("test_flat_normal")  # other tests list the valid priors
    assert spec_of(wide)["prior"] == "test_flat_normal:50"
    spread = lambda i: float(np.nanmean(np.abs(pdx.scores(i)["mean"])))  # noqa: E731
    assert spread(wide) > 5 * spread(narrow)
    assert "test_flat_normal" not in PRIORS


def test_documented_examples_parse_and_their_attribute_sets_validate(tmp_path):
    import ast
    import re

    from conftest import REPO

    from preference_dissect.annotate import load_attribute_set

    checked = 0
    for doc in ("README.md", "docs/python-api.md", "docs/extending.md", "docs/annotators.md"):
        text = (REPO / doc).read_text(encoding="utf-8")
        for lang, body in re.findall(r"```(\w+)\n(.*?)```", text, re.DOTALL):
            if lang == "python":
                ast.parse(body)
                checked += 1
            elif lang == "yaml" and "attributes:" in body:
                file = tmp_path / f"set{checked}.yaml"
                file.write_text(body, encoding="utf-8")
                assert load_attribute_set(file).attributes
                checked += 1
    assert checked >= 12
