"""gair29 and sharma24 end to end through the real CLI against a real HTTP server.

The loopback server (``preference_dissect.testing.openai_server``) answers schema-valid JSON
by default and injects faults on request; the llama.cpp test uses the real SmolLM2 model.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

from preference_dissect.annotate import load_attribute_set
from preference_dissect.annotate.rules import word_count
from preference_dissect.load import load_source
from preference_dissect.load.schema import PairDataset, write_dataset
from preference_dissect.testing.openai_server import Fault, OpenAIServer, Reply

N_PAIRS = 3
QUERY_FLAGS = {"intent_unclear", "express_feeling", "w_constraints", "w_stances", "w_mistakes"}
CONDITIONAL = [
    "clarify_intent",
    "show_empathetic",
    "satisfy_constraints",
    "support_stances",
    "correct_mistakes",
]
TRIGGER = dict(
    zip(
        CONDITIONAL,
        ["intent_unclear", "express_feeling", "w_constraints", "w_stances", "w_mistakes"],
        strict=True,
    )
)


@pytest.fixture(scope="module")
def dataset():
    return load_source("bundled:hh-rlhf", limit=N_PAIRS)


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory, dataset):
    path = tmp_path_factory.mktemp("llm") / "pairs.parquet"
    write_dataset(dataset, path)
    return path


def annotate(cli, pairs_path, server, tmp_path, annotator, *extra):
    out = tmp_path / f"{annotator}.parquet"
    res = cli(
        "annotate",
        pairs_path,
        "--annotator",
        annotator,
        *server.cli_flags(tmp_path / "cache"),
        "--out",
        out,
        "--json",
        "--no-progress",
        *extra,
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), pd.read_parquet(out), res.stderr


def test_gair29_end_to_end_and_cached_rerun(cli, tmp_path, pairs_path, dataset):
    with OpenAIServer() as server:
        summary, table, stderr = annotate(cli, pairs_path, server, tmp_path, "gair29")
        assert "estimate" in stderr
        names = load_attribute_set("gair29").names
        assert len(table) == N_PAIRS * (len(names) * 2 + len(QUERY_FLAGS))
        assert set(table["attribute"]) == set(names) | QUERY_FLAGS
        assert set(table.loc[table["side"] == "query", "attribute"]) == QUERY_FLAGS
        # every NaN has a reason; every value has none
        assert table.loc[table["value"].isna(), "na_reason"].notna().all()
        assert table.loc[table["value"].notna(), "na_reason"].isna().all()
        # six calls per pair, plus one conditional call per pair whose query check triggered
        flags = table[table["side"] == "query"].pivot(
            index="pair_id", columns="attribute", values="value"
        )
        triggered = int((flags.sum(axis=1) > 0).sum())
        assert summary["requests"] == N_PAIRS * 5 + triggered == len(server.chat_requests())
        for _, row in table[table["attribute"].isin(CONDITIONAL)].iterrows():
            flag = flags.loc[row["pair_id"], TRIGGER[row["attribute"]]]
            assert (row["na_reason"] == "not_triggered") == (flag == 0)
        # error counts equal the severities listed in raw (or NA not_applicable)
        for _, row in table[table["attribute"].str.endswith("_errors")].iterrows():
            raw = json.loads(row["raw"])
            if not raw["applicable"]:
                assert row["na_reason"] == "not_applicable"
            else:
                severity = row["attribute"].split("_")[1]
                assert row["value"] == sum(e["severity"] == severity for e in raw["errors"])
        ratings = table[table["attribute"].isin(["harmless", "non_repetitive", "relevant"])]
        assert ratings["value"].between(0, 3).all()
        lengthy = table[table["attribute"] == "lengthy"].set_index(["pair_id", "side"])["value"]
        first = dataset.pairs.iloc[0]
        assert lengthy[(first["pair_id"], "b")] == word_count(first["response_b"])

        again, table2, _ = annotate(cli, pairs_path, server, tmp_path, "gair29")
        assert again["requests"] == 0 and again["cache_hits"] == summary["requests"]
        assert len(server.chat_requests()) == summary["requests"]
        pd.testing.assert_frame_equal(table, table2)


def _asked(req, text):
    return any(text in str(m.get("content")) for m in req.messages)


def test_gair29_garbage_answers_become_na_with_reasons(cli, tmp_path, pairs_path):
    faults = [  # every attempt, re-asks included, gets garbage
        Fault(
            "malformed_json", times=None, match=lambda r: _asked(r, "Rate each response on every")
        ),
        Fault(
            "out_of_range", times=None, match=lambda r: _asked(r, "Study the user's last message")
        ),
    ]
    with OpenAIServer(faults=faults) as server:
        summary, table, _ = annotate(cli, pairs_path, server, tmp_path, "gair29")
        sent = server.chat_requests()
    hidden = [
        a.name
        for a in load_attribute_set("gair29").attributes
        if a.kind == "rating" and not a.query_shown
    ]
    ratings = table[table["attribute"].isin(hidden)]
    assert len(ratings) == N_PAIRS * len(hidden) * 2
    assert ratings["value"].isna().all() and (ratings["na_reason"] == "parse_failed").all()
    flags = table[table["side"] == "query"]
    assert flags["value"].isna().all() and (flags["na_reason"] == "parse_failed").all()
    cond = table[table["attribute"].isin(CONDITIONAL)]
    assert (cond["na_reason"] == "parse_failed").all()  # upstream query check failed
    # pairs are never dropped: relevance and error rows still have values
    assert table.loc[table["attribute"] == "relevant", "value"].notna().all()
    assert table.loc[table["attribute"] == "lengthy", "value"].notna().all()
    assert summary["failures"].get("invalid_json") == N_PAIRS
    assert summary["failures"].get("schema_validation") == N_PAIRS
    assert not any("Rate both responses on each question" in r["last_user"] for r in sent)


def _shown_responses(text: str) -> tuple[str, str]:
    a = re.search(r"\[Response A\]\n(.*?)\n\[End of Response A\]", text, re.S).group(1)
    b = re.search(r"\[Response B\]\n(.*?)\n\[End of Response B\]", text, re.S).group(1)
    return a, b


def _longer_wins(req):
    a, b = _shown_responses(req.last_user)
    verdict = "A" if len(a) > len(b) else "B" if len(b) > len(a) else "similar"
    return Reply(json.dumps({k: verdict for k in req.schema["properties"]}))


def _always_a(req):
    return Reply(json.dumps({k: "A" for k in req.schema["properties"]}))


def test_sharma24_both_orders_map_back_to_original_terms(cli, tmp_path, pairs_path, dataset):
    names = load_attribute_set("sharma24").names
    with OpenAIServer(responder=_longer_wins) as server:
        summary, table, _ = annotate(cli, pairs_path, server, tmp_path, "sharma24")
        assert summary["requests"] == N_PAIRS * 2 * 3  # 24 features in batches of 8, two orders
        again, _, _ = annotate(cli, pairs_path, server, tmp_path, "sharma24")
        assert again["requests"] == 0
    assert len(table) == N_PAIRS * len(names) * 2 and set(table["side"]) == {"ab", "ba"}
    expected = {
        pid: float(np.sign(len(r["response_a"]) - len(r["response_b"])))
        for pid, r in dataset.pairs.set_index("pair_id").iterrows()
    }
    assert (table["value"] == table["pair_id"].map(expected)).all()  # same verdict both orders

    with OpenAIServer(responder=_always_a) as server:
        _, biased, _ = annotate(cli, pairs_path, server, tmp_path / "biased", "sharma24")
    wide = biased.pivot_table(index=["pair_id", "attribute"], columns="side", values="value")
    assert (wide["ab"] == 1).all() and (wide["ba"] == -1).all()  # disagreement kept
    assert set(json.loads(biased["raw"].iloc[0])) == {"verdict"}


def test_sharma24_failed_batch_is_na_only_for_its_features(cli, tmp_path, pairs_path):
    fault = Fault("status", status=400, times=None, match=lambda r: '"truthful"' in r.last_user)
    with OpenAIServer(faults=[fault]) as server:
        summary, table, _ = annotate(cli, pairs_path, server, tmp_path, "sharma24")
    first_batch = load_attribute_set("sharma24").names[:8]
    na = table[table["value"].isna()]
    assert set(na["attribute"]) == set(first_batch)
    assert (na["na_reason"] == "http_error").all()
    assert len(na) == N_PAIRS * 8 * 2 and summary["failures"] == {"http_400": N_PAIRS * 2}


@pytest.fixture(scope="module")
def llama_4k():
    """The real llama.cpp server for annotation: a 4k context (gair29's rating prompt plus
    its schema does not fit the 2k default), both CPU cores, and without ``--logits_all``
    (log-probs are not needed here and computing them for every prompt token doubles the
    time)."""
    from preference_dissect.testing.llama import LlamaServer, llama_available

    class AnnotationLlama(LlamaServer):
        def command(self) -> list[str]:
            cmd = super().command()
            if "--logits_all" in cmd:
                i = cmd.index("--logits_all")
                del cmd[i : i + 2]
            return cmd

    reason = llama_available()
    if reason:
        pytest.skip(reason)
    with AnnotationLlama(n_ctx=4096, n_threads=2) as server:
        yield server


def _short_pairs(n):
    ds = load_source("bundled:hh-rlhf", limit=60)
    p = ds.pairs
    history = p["conversation"].map(lambda c: sum(len(t["content"]) for t in c))
    size = p["prompt"].str.len() + p["response_a"].str.len() + p["response_b"].str.len() + history
    keep = p.loc[size.nsmallest(n).index, "pair_id"]
    return PairDataset(p[p["pair_id"].isin(keep)], ds.labels[ds.labels["pair_id"].isin(keep)])


@pytest.mark.llama
@pytest.mark.slow
def test_gair29_against_real_llama_cpp(cli, tmp_path, llama_4k):
    pairs = tmp_path / "two.parquet"
    write_dataset(_short_pairs(2), pairs)
    args = ("annotate", pairs, "--annotator", "gair29", "--model", llama_4k.model,
            "--base-url", llama_4k.base_url, "--max-tokens", "160", "--max-invalid", "1",
            "--cache-dir", tmp_path / "cache", "--out", tmp_path / "g.parquet", "--json",
            "--no-progress")  # fmt: skip
    res = cli(*args, timeout=1800)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["requests"] >= 2 * 5
    table = pd.read_parquet(tmp_path / "g.parquet")
    assert len(table) == 2 * (29 * 2 + 5)
    assert table.loc[table["value"].isna(), "na_reason"].notna().all()
    assert table.loc[table["attribute"] == "lengthy", "value"].notna().all()
    # model answers came back, not only the rule-based lengths
    assert table.loc[table["attribute"] != "lengthy", "value"].notna().sum() >= 10
    again = json.loads(cli(*args, timeout=600).stdout)
    # every answer of the first run (values and final NAs) comes from the cache
    assert again["requests"] == 0 and again["cache_hits"] >= 2 * 5
