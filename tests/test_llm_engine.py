"""The LLM engine against the real loopback HTTP server, through the real openai client."""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import logging
import sqlite3
import time
from pathlib import Path

import pydantic
import pytest

from preference_dissect.errors import InputError
from preference_dissect.llm import (
    CacheConfig,
    LLMConfig,
    LLMEngine,
    LLMRequest,
)
from preference_dissect.llm.cache import CACHE_FILE
from preference_dissect.llm.calls import estimate_request_tokens
from preference_dissect.llm.config import HTTP_BACKENDS
from preference_dissect.testing.openai_server import Fault, OpenAIServer, Reply


class Rating(pydantic.BaseModel):
    score: int = pydantic.Field(ge=1, le=10)
    verdict: str = pydantic.Field(pattern="^(a|b|tie)$")
    rationale: str


@pytest.fixture
def server():
    with OpenAIServer() as srv:
        yield srv


def make_requests(n: int, schema=Rating, version: str = "v1", prefix: str = "item"):
    return [
        LLMRequest(
            key=f"{prefix}-{i}",
            messages=[
                {"role": "system", "content": "You rate responses."},
                {"role": "user", "content": f"Rate {prefix} {i}."},
            ],
            schema=schema,
            version=version,
        )
        for i in range(n)
    ]


def engine_for(server, tmp_path: Path, cache: CacheConfig | None = None, **kw) -> LLMEngine:
    kw.setdefault("concurrency", 8)
    cfg = LLMConfig(model="loopback-model", base_url=server.base_url, **kw)
    return LLMEngine(cfg, cache or CacheConfig(cache_dir=tmp_path / "cache"), progress=False)


def test_answers_are_validated_and_in_request_order(server, tmp_path):
    engine = engine_for(server, tmp_path)
    reqs = make_requests(30)
    results = engine.run(reqs)
    assert [r.key for r in results] == [r.key for r in reqs]
    assert all(isinstance(r.parsed, Rating) and r.na_reason is None for r in results)
    assert engine.stats.requests == 30
    assert engine.stats.failures == {}
    assert all(r.usage["prompt_tokens"] > 0 and r.usage["completion_tokens"] > 0 for r in results)
    # the server got the schema through response_format json_schema
    assert {e["format_type"] for e in server.chat_requests()} == {"json_schema"}


def test_empty_request_list(server, tmp_path):
    engine = engine_for(server, tmp_path)
    assert engine.run([]) == [] and engine.stats.requests == 0
    assert engine.estimate([]).calls == 0


def test_concurrency_is_bounded(tmp_path):
    with OpenAIServer(latency_s=0.1) as srv:
        engine = engine_for(srv, tmp_path, concurrency=4)
        engine.run(make_requests(24))
        assert srv.max_inflight == 4


def test_rate_limit_retry_after_is_honoured(server, tmp_path):
    server.faults.append(Fault("status", status=429, retry_after="1", times=2))
    engine = engine_for(server, tmp_path, concurrency=1)
    t0 = time.perf_counter()
    [result] = engine.run(make_requests(1))
    elapsed = time.perf_counter() - t0
    assert result.parsed is not None
    assert elapsed >= 2.0  # two waits of Retry-After: 1
    assert engine.stats.requests == 3 and engine.stats.retries == 2
    starts = [e["t_start"] for e in server.chat_requests()]
    assert all(b - a >= 0.95 for a, b in itertools.pairwise(starts))


def test_server_errors_are_retried_with_backoff(server, tmp_path):
    server.faults.append(Fault("status", status=500, times=2))
    server.faults.append(Fault("status", status=503, times=1))
    engine = engine_for(server, tmp_path, concurrency=1)
    [result] = engine.run(make_requests(1))
    assert result.ok
    assert engine.stats.retries == 3
    assert server.counters["status_500"] == 2 and server.counters["status_503"] == 1


def test_retries_exhausted_give_na_that_is_not_cached(server, tmp_path):
    server.faults.append(Fault("status", status=502, times=None))
    engine = engine_for(server, tmp_path, max_retries=2)
    [result] = engine.run(make_requests(1))
    assert result.na_reason == "http_502" and result.parsed is None
    assert engine.stats.requests == 3
    server.reset()
    [again] = engine.run(make_requests(1))  # a transient failure is asked again next time
    assert again.ok and engine.stats.requests == 1


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_timeout_is_retried(server, tmp_path, backend):
    server.faults.append(Fault("hang", hang_s=5, times=1))
    engine = engine_for(server, tmp_path, timeout_s=0.5, http_backend=backend)
    [result] = engine.run(make_requests(1))
    assert result.ok and engine.stats.retries == 1


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_timeouts_exhausted(server, tmp_path, backend):
    server.faults.append(Fault("hang", hang_s=5, times=None))
    engine = engine_for(server, tmp_path, timeout_s=0.3, max_retries=1, http_backend=backend)
    [result] = engine.run(make_requests(1))
    assert result.na_reason == "timeout"


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_both_http_backends_answer_retry_and_report(server, tmp_path, backend):
    server.faults.append(Fault("status", status=503, retry_after="0", times=2))
    engine = engine_for(server, tmp_path, http_backend=backend)
    results = engine.run(make_requests(20))
    assert all(r.ok for r in results) and engine.stats.retries == 2
    assert len(server.chat_requests()) == 22
    assert engine.describe()["http_backend"] == backend


@pytest.mark.parametrize("backend", HTTP_BACKENDS)
def test_unreachable_server_is_retried_then_an_input_error(tmp_path, backend):
    with OpenAIServer() as srv:
        url = srv.base_url  # the server is gone: connections are refused
    engine = LLMEngine(
        LLMConfig(model="m", base_url=url, max_retries=1, http_backend=backend),
        CacheConfig(cache_dir=tmp_path / "cache"),
        progress=False,
    )
    with pytest.raises(InputError, match=r"cannot reach 127\.0\.0\.1:.*all 3 call"):
        engine.run(make_requests(3))
    assert engine.stats.retries == 3 and engine.stats.failures == {"connection": 3}
    with sqlite3.connect(tmp_path / "cache" / CACHE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 0


def test_unknown_http_backend_is_rejected():
    with pytest.raises(InputError) as err:
        LLMConfig(model="m", http_backend="requests")
    assert err.value.one_line() == (
        "field 'http_backend': must be one of 'aiohttp' or 'httpx', got 'requests'"
    )


def test_bad_request_is_not_retried(server, tmp_path):
    server.faults.append(Fault("status", status=400, times=None))
    engine = engine_for(server, tmp_path)
    [result] = engine.run(make_requests(1))
    assert result.na_reason == "http_400" and engine.stats.requests == 1


def test_rejected_api_key_is_an_input_error(server, tmp_path):
    server.faults.append(Fault("status", status=401, times=None))
    engine = engine_for(server, tmp_path)
    with pytest.raises(InputError, match="refused the API key"):
        engine.run(make_requests(5))


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("malformed_json", "invalid_json"),
        ("missing_keys", "schema_validation"),
        ("out_of_range", "schema_validation"),
        ("truncated", "truncated"),
    ],
)
def test_invalid_answer_is_reasked_once_then_accepted(server, tmp_path, kind, reason):
    server.faults.append(Fault(kind, times=1))
    engine = engine_for(server, tmp_path)
    [result] = engine.run(make_requests(1))
    assert result.ok and isinstance(result.parsed, Rating)
    assert engine.stats.reasks == 1 and engine.stats.requests == 2
    second = server.chat_requests()[1]
    assert second["n_messages"] == 3  # the original two + one corrective message
    assert "Reply again" in second["last_user"]


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("malformed_json", "invalid_json"),
        ("missing_keys", "schema_validation"),
        ("out_of_range", "schema_validation"),
        ("truncated", "truncated"),
        ("refusal", "refused"),
    ],
)
def test_persistently_invalid_answer_becomes_na_and_is_cached(server, tmp_path, kind, reason):
    server.faults.append(Fault(kind, times=None))
    engine = engine_for(server, tmp_path, max_invalid=2)
    [result] = engine.run(make_requests(1))
    assert result.na_reason == reason and result.parsed is None
    expected = 1 if kind == "refusal" else 3  # refusals are not re-asked
    assert engine.stats.requests == expected
    assert engine.stats.failures == {reason: 1}
    [again] = engine.run(make_requests(1))  # final NAs are cached: no second payment
    assert again.cached and again.na_reason == reason and engine.stats.requests == 0
    refresh = engine_for(server, tmp_path, cache=CacheConfig(tmp_path / "cache", refresh=True))
    server.faults.clear()
    [fresh] = refresh.run(make_requests(1))  # --refresh asks again
    assert fresh.ok and refresh.stats.requests == 1


def test_json_schema_rejection_falls_back_to_json_object_and_is_remembered(server, tmp_path):
    server.faults.append(Fault("reject_json_schema", times=None))
    engine = engine_for(server, tmp_path)
    results = engine.run(make_requests(20))
    assert all(r.ok for r in results)
    formats = [e["format_type"] for e in server.chat_requests()]
    assert formats.count("json_schema") == 1  # only the probe
    assert formats.count("json_object") == 20
    assert engine.structured_mode == "json_object"
    engine.run(make_requests(5, prefix="more"))  # remembered for the rest of the run
    assert [e["format_type"] for e in server.chat_requests()][-5:] == ["json_object"] * 5


def test_falls_back_to_text_with_json_extraction(server, tmp_path):
    server.faults.append(Fault("reject_json_schema", times=None))
    server.faults.append(Fault("reject_response_format", times=None))
    engine = engine_for(server, tmp_path)
    results = engine.run(make_requests(6))
    assert all(isinstance(r.parsed, Rating) for r in results)
    assert engine.structured_mode == "text"
    assert "```json" in results[0].text and results[0].text.startswith("Here is")
    last = server.chat_requests()[-1]
    assert last["format_type"] is None and "JSON schema" in last["last_user"]


def test_free_text_request_and_logprobs(tmp_path):
    def responder(req):
        return Reply("A", logprobs=[{"A": -0.1, "B": -2.5, "tie": -4.0}])

    with OpenAIServer(responder=responder) as srv:
        engine = engine_for(srv, tmp_path, logprobs=True, top_logprobs=3)
        reqs = make_requests(3, schema=None)
        results = engine.run(reqs)
        assert [r.text for r in results] == ["A"] * 3
        assert results[0].parsed is None and results[0].na_reason is None
        assert results[0].top_logprobs == [{"A": -0.1, "B": -2.5, "tie": -4.0}]
        again = engine.run(reqs)
        assert again[0].cached and again[0].top_logprobs == results[0].top_logprobs


def test_cache_hit_refresh_no_cache_and_key_parts(server, tmp_path):
    reqs = make_requests(12)
    engine = engine_for(server, tmp_path)
    first = engine.run(reqs)
    assert engine.stats.requests == 12 and (tmp_path / "cache" / CACHE_FILE).exists()
    second = engine.run(reqs)
    assert engine.stats.requests == 0 and engine.stats.cache_hits == 12
    assert all(r.cached for r in second)
    assert [r.parsed for r in second] == [r.parsed for r in first]
    # the version, the model and the decoding params are part of the key
    assert engine.run(make_requests(12, version="v2")) and engine.stats.requests == 12
    other = engine_for(server, tmp_path, temperature=0.7)
    other.run(reqs)
    assert other.stats.requests == 12
    # --refresh re-asks everything and overwrites
    refresh = engine_for(server, tmp_path, cache=CacheConfig(tmp_path / "cache", refresh=True))
    refresh.run(reqs)
    assert refresh.stats.requests == 12 and refresh.stats.cache_hits == 0
    # --no-cache neither reads nor writes
    nocache = engine_for(server, tmp_path, cache=CacheConfig(tmp_path / "none", enabled=False))
    nocache.run(reqs)
    nocache.run(reqs)
    assert nocache.stats.requests == 12 and not (tmp_path / "none").exists()


def test_identical_requests_are_sent_once(server, tmp_path):
    reqs = make_requests(3)
    twice = [*reqs, LLMRequest("dup", reqs[0].messages, Rating, "v1")]
    engine = engine_for(server, tmp_path)
    results = engine.run(twice)
    assert engine.stats.requests == 3
    assert results[3].key == "dup" and results[3].parsed == results[0].parsed


def test_pd_cache_dir_environment(server, tmp_path, monkeypatch):
    monkeypatch.setenv("PD_CACHE_DIR", str(tmp_path / "envcache"))
    engine = engine_for(server, tmp_path, cache=CacheConfig())
    engine.run(make_requests(2))
    with sqlite3.connect(tmp_path / "envcache" / CACHE_FILE) as db:
        assert db.execute("SELECT COUNT(*) FROM answers").fetchone()[0] == 2
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_cost_estimate(server, tmp_path):
    engine = engine_for(server, tmp_path, prices=(1.0, 2.0), max_tokens=100)
    reqs = make_requests(10)
    est = engine.estimate(reqs)
    assert est.calls == 10 and est.cache_hits == 0 and est.priced
    # conservative per-script counts of the messages plus the schema instruction, with framing
    # (the formula's own numbers are tested in test_llm_budget.py)
    assert est.prompt_tokens == sum(estimate_request_tokens(list(r.messages), Rating) for r in reqs)
    assert est.max_completion_tokens == 1000
    assert est.usd == pytest.approx((est.prompt_tokens * 1.0 + 1000 * 2.0) / 1e6)
    engine.run(reqs[:4])
    est2 = engine.estimate(reqs)
    assert est2.cache_hits == 4 and est2.calls == 6
    assert engine.stats.cost_usd == pytest.approx(
        (engine.stats.prompt_tokens * 1.0 + engine.stats.completion_tokens * 2.0) / 1e6
    )
    unknown = engine_for(server, tmp_path).estimate(reqs)
    assert not unknown.priced and unknown.usd == 0 and "no price known" in unknown.describe()


def test_cost_cap_stops_before_crossing(server, tmp_path):
    # worst case per request ~ (~190 prompt tokens, schema included, + 1000 output tokens) *
    # $10/M ~ $0.012, actual ~ 40 tokens = $0.0004: a request starts only if spent + worst
    # case stays under the cap
    priced = {"prices": (10.0, 10.0), "max_tokens": 1000}
    cap = engine_for(server, tmp_path, **priced).estimate(make_requests(1)).usd + 0.001
    engine = engine_for(server, tmp_path, **priced, concurrency=1, max_cost_usd=cap)
    results = engine.run(make_requests(10))
    sent = [r for r in results if r.na_reason != "cost_cap"]
    capped = [r for r in results if r.na_reason == "cost_cap"]
    assert sent and capped
    assert engine.stats.cost_usd <= cap
    assert engine.stats.requests == len(sent)
    assert engine.stats.failures == {"cost_cap": len(capped)}
    # cost-capped requests are not cached: a run with a larger cap pays only for them
    bigger = engine_for(server, tmp_path, prices=(10.0, 10.0), max_tokens=1000, max_cost_usd=1.0)
    again = bigger.run(make_requests(10))
    assert all(r.ok for r in again) and bigger.stats.requests == len(capped)


def test_api_key_is_never_stored_or_logged(server, tmp_path, monkeypatch, caplog, capsys):
    secret = "sk-test-SECRET-9f3b1c7d2e"
    monkeypatch.setenv("PD_TEST_KEY", secret)
    caplog.set_level(logging.DEBUG)
    for name in ("openai", "httpx", "httpx2", "httpcore", "httpcore2"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    cfg = LLMConfig(model="loopback-model", base_url=server.base_url, api_key_env="PD_TEST_KEY")
    engine = LLMEngine(cfg, CacheConfig(cache_dir=tmp_path / "cache"), progress=True)
    server.faults.append(Fault("status", status=429, retry_after="0", times=1))
    server.faults.append(Fault("malformed_json", times=1))
    engine.run(make_requests(5))
    engine.run(make_requests(5))
    # the key really was sent to the server ...
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert {e.get("auth_sha256") for e in server.chat_requests()} == {digest}
    # ... and appears in no file of the cache, no log record and no console output
    for f in (tmp_path / "cache").iterdir():
        assert secret.encode() not in f.read_bytes(), f
    assert secret not in caplog.text
    out = capsys.readouterr()
    assert secret not in out.out + out.err
    assert "requests" in out.err  # the pre-flight estimate was printed
    assert secret not in json.dumps(engine.stats.as_dict())


def test_missing_key_for_remote_server_is_an_input_error(tmp_path, monkeypatch):
    monkeypatch.delenv("PD_NO_SUCH_KEY", raising=False)
    cfg = LLMConfig(
        model="gpt-4o-mini", base_url="https://api.example.com/v1", api_key_env="PD_NO_SUCH_KEY"
    )
    engine = LLMEngine(cfg, CacheConfig(cache_dir=tmp_path), progress=False)
    with pytest.raises(InputError, match="PD_NO_SUCH_KEY"):
        engine.run(make_requests(1))


def test_run_works_inside_a_running_event_loop(server, tmp_path):
    engine = engine_for(server, tmp_path)

    async def notebook_cell():
        return engine.run(make_requests(3))

    results = asyncio.run(notebook_cell())
    assert len(results) == 3 and all(r.ok for r in results)


def test_rate_limit_exhausted_and_quota_exhausted(server, tmp_path):
    server.faults.append(Fault("status", status=429, times=None))
    engine = engine_for(server, tmp_path, max_retries=1)
    [result] = engine.run(make_requests(1))
    assert result.na_reason == "http_429" and engine.stats.retries == 1
    server.reset()
    server.faults.append(Fault("status", status=429, times=None, code="insufficient_quota"))
    with pytest.raises(InputError, match="no quota left"):
        engine.run(make_requests(1))
    assert len(server.chat_requests()) == 1  # not retried


def test_cli_flags_build_configs_and_manifest_facts(server, tmp_path):
    import argparse

    from preference_dissect.llm import add_llm_arguments, configs_from_args

    parser = argparse.ArgumentParser()
    add_llm_arguments(parser, default_model="gpt-4o-mini")
    args = parser.parse_args(
        [
            "--base-url",
            server.base_url,
            "--concurrency",
            "3",
            "--no-cache",
            "--max-cost",
            "0.5",
            "--structured",
            "json_object",
        ]
    )
    generate, cache = configs_from_args(args, logprobs=True)
    assert generate.concurrency == 3 and generate.max_cost_usd == 0.5 and generate.logprobs
    assert not cache.enabled
    with pytest.raises(InputError, match="together"):
        configs_from_args(parser.parse_args(["--no-cache", "--refresh"]))
    with pytest.raises(InputError, match="max_tokens"):
        configs_from_args(parser.parse_args(["--max-tokens", "0"]))
    engine = LLMEngine(generate, cache, progress=False)
    engine.run(make_requests(2))
    facts = engine.describe()
    host = server.base_url.split("//")[1].split("/")[0]
    assert facts["server_host"] == host and facts["structured_mode"] == "json_object"
    assert facts["usage"]["requests"] == 2 and facts["price_per_m_tokens"]["known"]
    assert {e["format_type"] for e in server.chat_requests()} == {"json_object"}


def test_commands_can_leave_out_optional_llm_flags():
    import argparse

    from preference_dissect.llm import add_llm_arguments, configs_from_args
    from preference_dissect.llm.cli_args import OPTIONAL_FLAGS

    parser = argparse.ArgumentParser(exit_on_error=False)
    add_llm_arguments(parser, default_model="m", default_max_tokens=None, exclude=OPTIONAL_FLAGS)
    args = parser.parse_args(["--http-backend", "httpx", "--timeout", "5"])
    assert not hasattr(args, "structured") and not hasattr(args, "batch")
    generate, _ = configs_from_args(args, structured="text")
    assert generate.http_backend == "httpx" and generate.timeout_s == 5
    assert generate.max_tokens == LLMConfig(model="m").max_tokens  # None: the default
    with pytest.raises(argparse.ArgumentError):
        parser.parse_args(["--http-backend", "requests"])
    with pytest.raises(SystemExit):
        parser.parse_args(["--structured", "text"])
    with pytest.raises(ValueError, match="excluded"):
        add_llm_arguments(argparse.ArgumentParser(), exclude=["--model"])


def test_total_stats_add_up_every_run(server, tmp_path):
    server.faults.append(Fault("status", status=400, times=1))
    engine = engine_for(server, tmp_path, max_retries=0)
    engine.run(make_requests(2, prefix="one"))
    first = engine.stats.as_dict()
    engine.run(make_requests(3, prefix="two") + make_requests(1, prefix="one"))
    total = engine.total_stats
    assert total.requests == first["requests"] + engine.stats.requests == 5
    assert total.cache_hits == 1 and total.failures == {"http_400": 2}  # cached NA counts again
    assert total.seconds == pytest.approx(first["seconds"] + engine.stats.seconds, abs=0.01)
