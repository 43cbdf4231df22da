"""``manipulate``, ``counterfactual`` and ``best-of-n`` against the real llama.cpp server
(SmolLM2-135M as generator, rewriter and judge) on a few real hh-rlhf pairs.

It proves the protocol path (free-text generation, both-order judging with log-probs, the
cache on a second run), never quality: only facts that hold for any model are asserted.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from preference_dissect.load import load_source
from preference_dissect.load.schema import PairDataset, write_dataset

pytestmark = [pytest.mark.slow, pytest.mark.llama]


@pytest.fixture(scope="module")
def short_pairs(tmp_path_factory):
    """The 2 shortest single-turn pairs of the first 40 real hh-rlhf pairs."""
    ds = load_source("bundled:hh-rlhf", limit=40)
    pairs = ds.pairs[ds.pairs["conversation"].map(len) == 0]
    size = pairs["prompt"].str.len() + pairs["response_a"].str.len() + pairs["response_b"].str.len()
    keep = pairs.loc[size.nsmallest(2).index].reset_index(drop=True)
    path = tmp_path_factory.mktemp("llama-pairs") / "hh2.parquet"
    labels = ds.labels[ds.labels["pair_id"].isin(keep["pair_id"])]
    write_dataset(PairDataset(pairs=keep, labels=labels), path)
    return path


def llm_flags(llama, tmp_path):
    return (
        "--model", llama.model, "--base-url", llama.base_url, "--judge-model", llama.model,
        "--max-tokens", "24", "--concurrency", "1", "--cache-dir", tmp_path / "cache",
        "--no-progress", "--json",
    )  # fmt: skip


def run_twice(cli, args):
    """Run a command twice; the second run is served from the cache."""
    first = cli(*args)
    assert first.returncode == 0, first.stderr
    again = cli(*args)
    assert again.returncode == 0, again.stderr
    summary, rerun = json.loads(first.stdout), json.loads(again.stdout)
    for role in ("model", "judge"):
        assert rerun["usage"][role]["requests"] == 0, role
    return summary


def test_llama_interventions_end_to_end(cli, llama_server, short_pairs, tmp_path):
    flags = llm_flags(llama_server, tmp_path)
    manip = run_twice(cli, (
        "manipulate", short_pairs, "--weights", "bundled:gair-weights",
        "--target-judge", "gpt-4-1106-preview", "--group", "Advice", "--top-k", "2",
        "--arms", "exhibit_top", "--out", tmp_path / "m", *flags,
    ))  # fmt: skip
    [rate] = manip["win_rate"]
    assert rate["n"] + manip["answers_missing"] >= 1 and 0.0 <= rate["win_rate"] <= 1.0
    assert manip["usage"]["judge"]["requests"] == 2 * manip["judged"]

    cf = run_twice(cli, (
        "counterfactual", short_pairs, "--attributes", "friendly", "--sides", "a",
        "--directions", "add", "--out", tmp_path / "c", *flags,
    ))  # fmt: skip
    [effect] = cf["effects"]
    assert effect["n"] == cf["judged"] and 0.0 <= effect["effect_p"] <= 1.0
    assert cf["usage"]["model"]["requests"] == 4  # 2 responses x (rewrite + rewrite back)

    bon = run_twice(cli, (
        "best-of-n", short_pairs, "--n", "2", "--out", tmp_path / "b", *flags,
    ))  # fmt: skip
    assert bon["sizes"] == [1, 2] and bon["usage"]["model"]["requests"] == 4
    picks = pd.read_parquet(tmp_path / "b" / "picks.parquet")
    assert set(picks["n_samples"]) <= {1, 2} and picks["score"].between(0, 1).all()
    samples = pd.read_parquet(tmp_path / "b" / "samples.parquet")
    assert np.isfinite(samples["score"]).sum() >= 1
