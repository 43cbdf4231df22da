"""Judge labels flow into a pair dataset like human labels (library API, loopback server)."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from preference_dissect.errors import InputError
from preference_dissect.judges import merge_labels, read_labels
from preference_dissect.judges.llm_judge import JudgeOptions, generate_config, judge_pairs
from preference_dissect.llm import CacheConfig, LLMEngine
from preference_dissect.load import load_source
from preference_dissect.load.schema import read_dataset, write_dataset
from preference_dissect.testing.openai_server import OpenAIServer, Reply


@pytest.fixture(scope="module")
def hh():
    return load_source("bundled:hh-rlhf", limit=5)


@pytest.fixture(scope="module")
def judge_labels(hh, tmp_path_factory):
    """Labels from a loopback judge that always prefers slot B with p = 0.75."""
    row = {"A": math.log(0.25), "B": math.log(0.75)}
    options = JudgeOptions(judge_name="loopback")
    with OpenAIServer(responder=lambda req: Reply("B", logprobs=[row])) as server:
        config = generate_config(options, "loopback", base_url=server.base_url)
        cache = CacheConfig(cache_dir=tmp_path_factory.mktemp("cache"))
        run = judge_pairs(hh.pairs, LLMEngine(config, cache, progress=False), options)
        assert len(server.chat_requests()) == 10
    assert run.summary["requests"] == 10 and run.summary["first_slot_rate"] == 0.0
    return run.labels


def test_merge_keeps_human_labels_and_adds_judge(hh, judge_labels, tmp_path):
    merged = merge_labels(hh, judge_labels)
    assert merged.judges == ["human", "loopback"]
    assert len(merged.labels) == 2 * len(hh.pairs)
    judge = merged.labels[merged.labels["judge"] == "loopback"]
    assert (judge["winner"] == "tie").all() and judge["p_a"].to_numpy() == pytest.approx([0.5] * 5)
    assert set(judge["rule"]) == {"sum_logprob"}
    # the merged dataset round-trips through the canonical writer and reader
    path = tmp_path / "merged.parquet"
    write_dataset(merged, path)
    back = read_dataset(path)
    assert back.judges == ["human", "loopback"] and "p_source" in back.labels.columns
    assert back.summary()["judges"]["loopback"]["tie"] == 5


def test_merge_replaces_a_rerun_judge(hh, judge_labels):
    once = merge_labels(hh, judge_labels)
    flipped = judge_labels.assign(winner="a", p_a=0.9)
    twice = merge_labels(once, flipped)
    assert len(twice.labels) == len(once.labels)
    judge = twice.labels[twice.labels["judge"] == "loopback"]
    assert (judge["winner"] == "a").all()
    assert (
        twice.labels[twice.labels["judge"] == "human"]["winner"].tolist()
        == hh.labels["winner"].tolist()
    )


def test_merge_rejects_unknown_pairs_and_bad_rows(hh, judge_labels, tmp_path):
    stray = judge_labels.copy()
    stray.loc[2, "pair_id"] = "0000000000000000"
    with pytest.raises(InputError) as err:
        merge_labels(hh, stray, file="labels.parquet")
    assert err.value.row == 3 and err.value.field == "pair_id"
    assert "not in the pair table" in err.value.message

    csv = tmp_path / "labels.csv"
    bad = judge_labels.copy()
    bad.loc[1, "winner"] = "maybe"
    bad.to_csv(csv, index=False)
    with pytest.raises(InputError) as err:
        read_labels(csv)
    # spreadsheet numbering: header is row 1, so the second record is row 3
    assert err.value.row == 3 and err.value.field == "winner" and err.value.file == str(csv)


def test_read_labels_round_trip(judge_labels, tmp_path):
    path = tmp_path / "labels.parquet"
    judge_labels.to_parquet(path, index=False)
    back = read_labels(path)
    pd.testing.assert_frame_equal(back, judge_labels, check_dtype=False)
