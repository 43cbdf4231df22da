"""Features from LLM annotator output: gair29 and sharma24 tables made by the real
``prefdissect annotate`` against the loopback OpenAI-compatible server, then ``features``."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from test_annotators_llm import annotate

from preference_dissect.annotate import load_attribute_set
from preference_dissect.compare.rules import RULES
from preference_dissect.load import load_source
from preference_dissect.load.schema import write_dataset
from preference_dissect.testing.openai_server import OpenAIServer, Reply

N_PAIRS = 4


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("llm_features") / "pairs.parquet"
    write_dataset(load_source("bundled:hh-rlhf", limit=N_PAIRS), path)
    return path


def _annotate(cli, pairs_path, server, tmp_path, annotator):
    annotate(cli, pairs_path, server, tmp_path, annotator)
    return tmp_path / f"{annotator}.parquet"


def _features(cli, ann, pairs_path, out, *extra):
    res = cli("features", ann, "--pairs", pairs_path, "--out", out, "--json", *extra)
    return res, (pd.read_parquet(out) if res.returncode == 0 else None)


def test_gair29_annotations_to_features(cli, tmp_path, pairs_path):
    with OpenAIServer() as server:  # schema-valid answers with seeded random values
        ann_path = _annotate(cli, pairs_path, server, tmp_path, "gair29")
    ann = pd.read_parquet(ann_path)
    res, table = _features(cli, ann_path, pairs_path, tmp_path / "f.parquet", "--na", "impute")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    spec = {a.name: a for a in load_attribute_set("gair29").attributes}
    assert report["attributes"] == list(spec)  # all 29, in the published order
    all_rows = table[table["group"] == "all"].set_index("pair_id")
    assert len(all_rows) == N_PAIRS
    assert set(np.unique(all_rows[list(spec)].to_numpy())) <= {-1.0, 0.0, 1.0}
    wide = ann[ann["side"].isin(["a", "b"])].pivot(
        index=["pair_id", "attribute"], columns="side", values="value"
    )
    na_reason = ann.set_index(["pair_id", "attribute", "side"])["na_reason"]
    for (pid, attr), row in wide.iterrows():
        got = all_rows.loc[pid, attr]
        if na_reason.get((pid, attr, "a")) == "not_triggered":
            assert got == 0, (pid, attr)
        elif np.isnan(row["a"]) or np.isnan(row["b"]):
            assert got == 0, (pid, attr)  # imputed
        else:
            rule = RULES[spec[attr].compare]
            assert got == rule(np.array([row["a"]]), np.array([row["b"]]))[0], (pid, attr)
    # query-check flags that fired add query-specific groups
    flags = ann[(ann["side"] == "query") & (ann["value"] == 1)]
    for pid, flag in zip(flags["pair_id"], flags["attribute"], strict=True):
        assert ((table["pair_id"] == pid) & (table["group"] == flag)).sum() == 1
    n_groups = table.groupby("pair_id")["group"].nunique()
    assert (
        n_groups == 1 + flags.groupby("pair_id").size().reindex(n_groups.index, fill_value=0)
    ).all()


def _always_a(req):
    return Reply(json.dumps({k: "A" for k in req.schema["properties"]}))


def test_sharma24_position_biased_annotator_disagrees_everywhere(cli, tmp_path, pairs_path):
    with OpenAIServer(responder=_always_a) as server:
        ann_path = _annotate(cli, pairs_path, server, tmp_path, "sharma24")
    res, table = _features(cli, ann_path, pairs_path, tmp_path / "f.parquet")
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    n_attrs = len(load_attribute_set("sharma24").attributes)
    assert len(report["disagreement"]) == n_attrs
    assert all(d["rate"] == 1.0 for d in report["disagreement"].values())
    assert (table[report["attributes"]] == 0).all().all()  # disagreement -> no difference
    res, _ = _features(cli, ann_path, pairs_path, tmp_path / "g.parquet", "--disagree", "drop")
    assert res.returncode == 2 and "no rows left" in res.stderr
    assert not (tmp_path / "g.parquet").exists()
