"""Context windows: re-asks stay the size of the first attempt, a server's context overflow is
its own NA reason with the server's message, and --max-context stops oversized requests before
they are sent. Real HTTP to the loopback server (and the real llama.cpp server)."""

from __future__ import annotations

import json

import pandas as pd
import pydantic
import pytest

from preference_dissect.annotate.base import engine_na_reason
from preference_dissect.llm import CacheConfig, LLMConfig, LLMEngine, LLMRequest
from preference_dissect.testing.openai_server import OpenAIServer, Reply

LLAMA_MESSAGE = "This model's maximum context length is {} tokens."


class Score(pydantic.BaseModel):
    score: int = pydantic.Field(ge=1, le=10)


def request(key: str, chars: int, schema=Score) -> LLMRequest:
    text = (f"{key}: " + "Rate this response for helpfulness. " * (chars // 36 + 1))[:chars]
    return LLMRequest(key, [{"role": "user", "content": text}], schema, "ctx-v1")


def engine_for(server, tmp_path, **kw) -> LLMEngine:
    kw.setdefault("model", "loopback-model")
    cfg = LLMConfig(base_url=server.base_url, **kw)
    return LLMEngine(cfg, CacheConfig(cache_dir=tmp_path / "cache"), progress=False)


def test_engine_na_reason_keeps_context_overflow_apart_from_http_errors():
    assert engine_na_reason("context_overflow") == "context_overflow"
    assert engine_na_reason("http_400") == "http_error"


def test_reasks_stay_the_size_of_the_first_attempt(tmp_path):
    """A long invalid answer is not appended to the prompt: each re-ask is the original
    messages plus one short correction, so a 400-token window is never exceeded."""
    bad = "I think the score is high. " * 80  # ~2,000 characters, no JSON
    with OpenAIServer(responder=lambda req: Reply(bad), context_tokens=400) as server:
        engine = engine_for(server, tmp_path, max_invalid=2, structured="text", max_tokens=50)
        [result] = engine.run([request("r", 600)])
        sizes = [e["prompt_tokens"] for e in server.chat_requests()]
        statuses = [e["status"] for e in server.chat_requests()]
    assert result.na_reason == "invalid_json" and engine.stats.reasks == 2
    assert statuses == [200, 200, 200] and len(sizes) == 3
    assert sizes[1] == sizes[2] and sizes[1] - sizes[0] <= 120  # one short corrective message
    last = server.chat_requests()[-1]
    assert last["n_messages"] == 2 and "Your previous answer began" in last["last_user"]


def test_server_context_overflow_is_its_own_na_with_the_servers_message(tmp_path):
    with OpenAIServer(context_tokens=300) as server:
        engine = engine_for(server, tmp_path, max_tokens=64)
        short, long_ = engine.run([request("short", 200), request("long", 2000)])
        assert short.ok and long_.na_reason == "context_overflow"
        assert long_.detail.startswith(LLAMA_MESSAGE.format(300))
        assert "in the messages, 64 in the completion" in long_.detail
        assert engine.stats.requests == 2  # not retried
        assert engine.stats.failures == {"context_overflow": 1}
        assert engine.stats.details["context_overflow"] == long_.detail
        # not cached: a server restarted with a bigger context answers the same request
        server.context_tokens = None
        again = engine.run([request("long", 2000)])
        assert again[0].ok and engine.stats.requests == 1


def test_max_context_stops_oversized_requests_before_sending(tmp_path):
    with OpenAIServer() as server:
        engine = engine_for(server, tmp_path, max_tokens=100, max_context=600)
        reqs = [request(f"s{i}", 200) for i in range(3)] + [request("big", 3000)]
        est = engine.estimate(reqs)
        assert (est.calls, est.over_context) == (3, 1)
        assert "3 to send, 1 over the 600-token context (not sent)" in est.describe()
        results = engine.run(reqs)
        assert [r.na_reason for r in results] == [None, None, None, "context_overflow"]
        assert len(server.chat_requests()) == 3 == engine.stats.requests
        assert "+ max_tokens 100 > max_context 600; not sent" in results[3].detail
        # a larger window sends it (nothing was cached for it)
        wider = engine_for(server, tmp_path, max_tokens=100, max_context=4000)
        assert wider.run(reqs)[3].ok and wider.stats.requests == 1


def test_the_price_table_context_is_the_default_and_the_flag_overrides_it(tmp_path):
    with OpenAIServer() as server:
        huge = [request("huge", 40_000, schema=None)]  # ~13k tokens estimated > gpt-4's 8,192
        engine = engine_for(server, tmp_path, model="gpt-4", max_tokens=10)
        assert engine.max_context == 8192
        [result] = engine.run(huge)
        assert result.na_reason == "context_overflow" and not server.chat_requests()
        wider = engine_for(server, tmp_path, model="gpt-4", max_tokens=10, max_context=32_000)
        assert wider.run(huge)[0].ok and len(server.chat_requests()) == 1


def annotate_cli(cli, server, tmp_path, *extra):
    return cli(
        "annotate", "bundled:hh-rlhf", "--limit", "2", "--annotator", "sharma24",
        *server.cli_flags(tmp_path / "cache"), "--max-tokens", "64", "--max-retries", "0",
        "--out", tmp_path / "a.parquet", "--no-progress", *extra,
    )  # fmt: skip


def test_cli_rows_and_summary_carry_the_servers_message(cli, tmp_path):
    with OpenAIServer() as server:
        probe = annotate_cli(cli, server, tmp_path / "probe", "--no-cache")
        assert probe.returncode == 0, probe.stderr
        sizes = sorted(e["prompt_tokens"] for e in server.chat_requests())
        server.reset()
        server.context_tokens = sizes[len(sizes) // 2] + 1  # the larger half overflows
        res = annotate_cli(cli, server, tmp_path)
    assert res.returncode == 0, res.stderr
    table = pd.read_parquet(tmp_path / "a.parquet")
    over = table[table["na_reason"] == "context_overflow"]
    assert len(over) > 0 and not (table["na_reason"] == "http_error").any()
    raw = json.loads(over["raw"].iloc[0])
    assert raw["engine_reason"] == "context_overflow"
    assert raw["detail"].startswith(LLAMA_MESSAGE.format(server.context_tokens))
    assert f"  context_overflow: {LLAMA_MESSAGE.format(server.context_tokens)}" in res.stdout


def test_max_context_flag_is_checked(cli, tmp_path):
    args = ("annotate", "bundled:hh-rlhf", "--limit", "1", "--annotator", "sharma24",
            "--model", "m", "--out", tmp_path / "x.parquet")  # fmt: skip
    for flags, words in (
        (("--max-context", "0"), "field '--max-context': must be >= 1, got 0"),
        (("--max-context", "64", "--max-tokens", "64"), "must be larger than max_tokens"),
    ):
        res = cli(*args, *flags)
        assert res.returncode == 2 and words in res.stderr and "Traceback" not in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1


# ---------------------------------------------------------------------- the real llama.cpp
@pytest.mark.llama
def test_llama_cpp_context_overflow_is_read_as_such(llama_server, tmp_path):
    """llama-cpp-python answers a prompt longer than its 2,048-token context with HTTP 400
    ``context_length_exceeded``: a ``context_overflow`` NA with its message, sent once."""
    cfg = LLMConfig(
        model=llama_server.model, base_url=llama_server.base_url, max_tokens=8, timeout_s=120
    )
    engine = LLMEngine(cfg, CacheConfig(cache_dir=tmp_path), progress=False)
    [result] = engine.run([request("long", 12_000, schema=None)])
    assert result.na_reason == "context_overflow" and engine.stats.requests == 1
    assert result.detail.startswith(LLAMA_MESSAGE.format(2048))


@pytest.mark.llama
def test_llama_cpp_reasks_and_max_context(llama_server, tmp_path):
    """With --max-context 2048 a request that cannot fit is not sent; the others are answered
    or re-asked at a constant size, so no attempt ends in an HTTP error."""
    cfg = LLMConfig(
        model=llama_server.model,
        base_url=llama_server.base_url,
        max_tokens=48,
        max_invalid=2,
        max_context=2048,
        timeout_s=300,
    )
    engine = LLMEngine(cfg, CacheConfig(cache_dir=tmp_path), progress=False)
    reqs = [request("fits", 400), request("too-long", 9000)]
    fits, too_long = engine.run(reqs)
    assert too_long.na_reason == "context_overflow" and "max_context 2048" in too_long.detail
    assert fits.na_reason in {None, "invalid_json", "schema_validation", "truncated"}
    assert engine.stats.requests == 1 + engine.stats.reasks + 1  # + the json_schema probe
    assert not any(r.startswith("http") for r in engine.stats.failures)


@pytest.mark.llama
@pytest.mark.slow
def test_gair29_reasks_on_llama_cpp_end_without_http_errors(cli, llama_server, tmp_path):
    """The reported case: gair29 on llama.cpp's 2,048-token context with 400-token answers.
    Re-asks used to append each invalid answer until HTTP 400 (36 of 63 rows http_error on
    this pair); now every attempt is the size of the first."""
    from preference_dissect.load import load_source
    from preference_dissect.load.schema import PairDataset, write_dataset

    ds = load_source("bundled:hh-rlhf", limit=60)
    p = ds.pairs
    size = p["prompt"].str.len() + p["response_a"].str.len() + p["response_b"].str.len()
    keep = p.loc[size.nsmallest(1).index, "pair_id"]
    one = tmp_path / "one.parquet"
    write_dataset(
        PairDataset(p[p["pair_id"].isin(keep)], ds.labels[ds.labels["pair_id"].isin(keep)]), one
    )
    res = cli(
        "annotate", one, "--annotator", "gair29", "--model", llama_server.model,
        "--base-url", llama_server.base_url, "--max-tokens", "400", "--no-cache",
        "--out", tmp_path / "g.parquet", "--json", "--no-progress", timeout=1500,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert not any(r.startswith("http") for r in summary["failures"]), summary["failures"]
    table = pd.read_parquet(tmp_path / "g.parquet")
    assert len(table) == 29 * 2 + 5 and not (table["na_reason"] == "http_error").any()
