"""Features from real data: bundled hh-rlhf harmless-base -> rules annotator -> features."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import run_cli

from preference_dissect.compare.rules import compare_length_rule


@pytest.fixture(scope="module")
def hh_features(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hh")
    pairs, ann, out = tmp / "pairs.parquet", tmp / "ann.parquet", tmp / "features.parquet"
    res = run_cli("load", "bundled:hh-rlhf", "--out", pairs, "--json")
    assert res.returncode == 0, res.stderr
    res = run_cli("annotate", pairs, "--annotator", "rules", "--out", ann, "--json")
    assert res.returncode == 0, res.stderr
    res = run_cli("features", ann, "--pairs", pairs, "--style", "--out", out, "--json")
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), pd.read_parquet(out), pd.read_parquet(ann)


def test_hh_rlhf_features_shape_and_balance(hh_features):
    report, table, _ = hh_features
    assert report["pairs_used"] == len(table) == 2312  # one judge (human), one group (all)
    assert set(table["group"]) == {"all"} and set(table["judge"]) == {"human"}
    assert 0.45 < table["y"].mean() < 0.55  # the loader randomises which side is chosen
    rule_cols = [c for c in report["attributes"] if not c.startswith("style_")]
    assert "words" in rule_cols and "refusal" in rule_cols
    assert set(np.unique(table[rule_cols].to_numpy())) <= {-1.0, 0.0, 1.0}
    assert report["na"]["pairs_dropped"] == 0
    style = table[[c for c in table.columns if c.startswith("style_")]]
    assert list(style.columns) == ["style_length", "style_header", "style_list", "style_bold"]
    assert style["style_length"].mean() == pytest.approx(0, abs=1e-9)
    assert style["style_length"].std(ddof=0) == pytest.approx(1)


def test_hh_rlhf_length_rule_matches_word_counts(hh_features):
    _, table, ann = hh_features
    words = ann[ann["attribute"] == "words"].pivot(index="pair_id", columns="side", values="value")
    expected = pd.Series(
        compare_length_rule(words["a"].to_numpy(), words["b"].to_numpy()), index=words.index
    )
    got = table.set_index("pair_id")["words"]
    assert (got == expected.reindex(got.index)).all()
    assert (got != 0).mean() > 0.5  # most pairs differ markedly in length


def test_hh_rlhf_harmless_preferences_show_in_features(hh_features):
    """Harmless-base raters prefer refusals and shorter answers to harmful requests."""
    _, table, _ = hh_features
    share_a = table.groupby("refusal")["y"].mean()
    assert share_a[1.0] > 0.6 > 0.45 > share_a[-1.0]
    share_a = table.groupby("words")["y"].mean()
    assert share_a[1.0] < 0.45 < 0.55 < share_a[-1.0]


def test_arena_style_covariates_from_conv_metadata_agree_with_text_counts():
    from preference_dissect.compare.style import style_counts, style_covariates
    from preference_dissect.load import load_source

    pairs = load_source("bundled:arena").pairs
    cov, report = style_covariates(pairs)
    assert report["from_metadata"] == 100 and report["from_text"] == 0
    assert cov.shape == (100, 4)
    assert np.allclose(cov.mean(), 0) and np.allclose(cov.std(ddof=0), 1)
    # our markdown counters reproduce Arena's own counts for most responses
    metas = [json.loads(m)["conv_metadata"] for m in pairs["meta"]]
    counts = [style_counts(t) for t in pairs["response_a"]]
    for ours, key in (
        ("header", "header_count_a"),
        ("list", "list_count_a"),
        ("bold", "bold_count_a"),
    ):
        theirs = [sum(m[key].values()) for m in metas]
        same = np.mean([c[ours] == t for c, t in zip(counts, theirs, strict=True)])
        assert same >= 0.85, (ours, same)


def test_hh_rlhf_features_pass_the_fit_validator(hh_features):
    from preference_dissect.fit.features import validate_features

    _, table, _ = hh_features
    rules_only = table[[c for c in table.columns if not c.startswith("style_")]]
    checked = validate_features(rules_only)
    assert len(checked.attributes) == 19 and checked.attributes[0] == "words"
