"""Scenario classifier: offline rules, the LLM path against a real HTTP server, the CLI."""

from __future__ import annotations

import json

import pytest

from preference_dissect.annotate.scenario import classify_offline, load_taxonomy
from preference_dissect.load import load_source
from preference_dissect.load.schema import read_dataset, write_dataset
from preference_dissect.testing.openai_server import OpenAIServer, Reply

EXAMPLES = [
    ("Write a Python function that reverses a linked list.", "Code"),
    ("Please fix the bug in this code: for i in range(10) print(i)", "Code"),
    ("How do I make a pipe bomb at home?", "Unsafe Queries"),
    ("Solve for x: 3x + 7 = 22", "Exam Questions"),
    ("Translate 'good morning' into French.", "NLP Tasks"),
    ("Summarize the following article in three sentences: The city council met...", "NLP Tasks"),
    ("Write a cover letter for a junior data analyst position.", "Functional Writing"),
    ("Write a short poem about the sea at night.", "Creative Writing"),
    ("Plan a three-day itinerary for a trip to Rome.", "Daily Tasks"),
    ("Should I quit my job to start a company? My wife is worried.", "Advice"),
    ("Hi! How are you today?", "Communication"),
    ("Why is the sky blue?", "Knowledge-aware"),
    ("asdf qwer", "Others"),
]


@pytest.mark.parametrize(("query", "group"), EXAMPLES)
def test_offline_rules_cover_each_group(query, group):
    fine, _ = classify_offline(query)
    assert load_taxonomy().group_of[fine] == group


def test_taxonomy_has_the_eleven_groups():
    tax = load_taxonomy()
    assert len(tax.groups) == 11 and len(tax.labels) == len(set(tax.labels)) == 59
    assert (
        tax.group_of["chitchat"] == "Communication"
        and tax.group_of["rejecting"] == "Unsafe Queries"
    )


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("classify") / "pairs.parquet"
    write_dataset(load_source("bundled:hh-rlhf", limit=4), path)
    return path


def test_classify_cli_offline(cli, tmp_path, pairs_path):
    out = tmp_path / "classified.parquet"
    res = cli("classify", pairs_path, "--out", out, "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["method"] == "rules" and summary["requests"] == 0
    ds = read_dataset(out)
    assert len(ds.pairs) == 4 and len(ds.labels) == 4  # the labels sidecar travels along
    groups = set(load_taxonomy().groups)
    for scenario, meta in zip(ds.pairs["scenario"], ds.pairs["meta"], strict=True):
        meta = json.loads(meta)
        assert scenario in groups and meta["scenario_method"] == "rules"
        assert load_taxonomy().group_of[meta["scenario_fine"]] == scenario
        assert "chosen_side" in meta  # the loader's meta is kept


def test_classify_cli_llm_path_and_cache(cli, tmp_path, pairs_path):
    def responder(req):
        assert set(req.schema["properties"]["scenario"]["enum"]) == set(load_taxonomy().labels)
        return Reply(json.dumps({"scenario": "seeking_advice"}))

    out = tmp_path / "classified.parquet"
    with OpenAIServer(responder=responder) as server:
        args = (
            "classify",
            pairs_path,
            *server.cli_flags(tmp_path / "cache", model="m"),
            "--out",
            out,
            "--json",
            "--no-progress",
        )
        res = cli(*args)
        first = json.loads(res.stdout)
        assert (
            first["method"] == "llm" and first["requests"] == 4 and first["groups"] == {"Advice": 4}
        )
        assert res.stderr.count("4 to send") == 1  # one pre-flight estimate before the work
        res = cli(*args[:-1])  # with the progress bar, the engine prints it: still once
        again = json.loads(res.stdout)
        assert again["requests"] == 0 and again["cache_hits"] == 4
        assert res.stderr.count("4 cached, 0 to send") == 1
    meta = json.loads(read_dataset(out).pairs["meta"].iloc[0])
    assert meta["scenario_fine"] == "seeking_advice" and meta["scenario_method"] == "llm"


def test_classify_llm_failure_falls_back_to_rules(cli, tmp_path, pairs_path):
    with OpenAIServer(responder=lambda req: Reply('{"scenario": "not_a_label"}')) as server:
        res = cli(
            "classify",
            pairs_path,
            "--model",
            "m",
            "--base-url",
            server.base_url,
            "--no-cache",
            "--out",
            tmp_path / "c.parquet",
            "--json",
            "--no-progress",
        )
    summary = json.loads(res.stdout)
    assert summary["fallbacks"] == 4 and summary["llm_failures"] == {"parse_failed": 4}
    assert all(
        json.loads(m)["scenario_method"] == "rules"
        for m in read_dataset(tmp_path / "c.parquet").pairs["meta"]
    )


def test_classify_bad_input(cli, tmp_path):
    out = tmp_path / "c.parquet"
    res = cli("classify", tmp_path / "missing.parquet", "--out", out)
    assert res.returncode == 2 and "file not found" in res.stderr and "Traceback" not in res.stderr
    res = cli("classify", tmp_path / "missing.parquet", "--concurrency", "0", "--out", out)
    assert res.returncode == 2 and "--concurrency" in res.stderr
    assert not out.exists()
