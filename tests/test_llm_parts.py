"""Pieces of the LLM engine and the loopback server: retry policy, JSON extraction, prices,
schema filling, and the server run as a program."""

from __future__ import annotations

import email.utils
import json
import random
import subprocess
import sys
import time
import urllib.request

import pydantic
import pytest

from preference_dissect.llm.prices import lookup_price
from preference_dissect.llm.retry import backoff_delay, parse_retry_after
from preference_dissect.llm.structured import extract_json, validate_answer
from preference_dissect.testing.openai_server import OpenAIServer
from preference_dissect.testing.schema_fill import break_schema_value, fill_schema


class Nested(pydantic.BaseModel):
    label: str = pydantic.Field(pattern="^(yes|no)$")
    count: int = pydantic.Field(ge=0, le=3)


class Big(pydantic.BaseModel):
    rating: float = pydantic.Field(gt=0, lt=1)
    items: list[Nested] = pydantic.Field(min_length=1, max_length=2)
    note: str | None = None
    flag: bool
    kind: str = pydantic.Field(json_schema_extra={"enum": ["x", "y"]})


def test_retry_after_seconds_date_ms_and_cap():
    assert parse_retry_after({"Retry-After": "3"}) == 3.0
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    assert parse_retry_after({"Retry-After": "100000"}) == 120.0  # capped
    now = time.time()
    date = email.utils.formatdate(now + 5, usegmt=True)
    assert 3.5 <= parse_retry_after({"Retry-After": date}, now=now) <= 5.0
    assert parse_retry_after({"Retry-After": "soon"}) is None
    assert parse_retry_after({}) is None


def test_backoff_is_exponential_with_full_jitter():
    rng = random.Random(1)
    for attempt in range(8):
        delays = [backoff_delay(attempt, rng) for _ in range(200)]
        cap = min(30.0, 0.5 * 2**attempt)
        assert min(delays) >= 0 and max(delays) <= cap
        assert max(delays) > 0.8 * cap  # really spread over the whole range


def test_extract_json_from_fences_and_prose():
    assert extract_json('{"a": 1}') == {"a": 1}
    assert extract_json('Sure!\n```json\n{"a": [1, 2]}\n```\nBye') == {"a": [1, 2]}
    assert extract_json('Result: {"s": "a } brace", "n": {"k": 2}} trailing') == {
        "s": "a } brace",
        "n": {"k": 2},
    }
    with pytest.raises(ValueError):
        extract_json("no json here {oops")


def test_validate_answer_reasons():
    ok = validate_answer('{"label": "yes", "count": 2}', "stop", None, Nested)
    assert ok.reason is None and ok.parsed == Nested(label="yes", count=2)
    assert validate_answer('{"label": "yes", "count": 9}', "stop", None, Nested).reason == (
        "schema_validation"
    )
    assert validate_answer('{"label": "yes"', "stop", None, Nested).reason == "invalid_json"
    assert validate_answer('{"label": "yes", "count": 2}', "length", None, Nested).reason == (
        "truncated"
    )
    assert validate_answer(None, "stop", "no", Nested).reason == "refused"
    assert validate_answer("A", "length", None, None).reason is None  # free text: as it is
    assert validate_answer("", "stop", None, None).reason == "empty"


def test_price_table_lookup():
    p = lookup_price("gpt-4o-mini-2024-07-18")
    assert p.known and (p.input_per_m, p.output_per_m) == (0.15, 0.60)
    assert lookup_price("gpt-4o").input_per_m == 2.5
    assert lookup_price("gpt-4o", batch=True).input_per_m == 1.25
    local = lookup_price("smollm2-135m-instruct")
    assert not local.known and local.cost(10**6, 10**6) == 0
    assert lookup_price("anything", override=(1.0, 3.0)).cost(10**6, 10**6) == 4.0


def test_fill_schema_is_valid_and_break_makes_it_invalid():
    schema = Big.model_json_schema()
    for seed in range(30):
        value = fill_schema(schema, random.Random(seed))
        Big.model_validate(value)
        for mode in ("missing_keys", "out_of_range"):
            with pytest.raises(pydantic.ValidationError):
                Big.model_validate(break_schema_value(schema, value, mode))


def test_server_latency_jitter_spreads_around_the_mean():
    with OpenAIServer(latency_s=0.06, latency_jitter_s=0.05) as srv:
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        took = []
        for _ in range(12):
            req = urllib.request.Request(
                f"{srv.base_url}/chat/completions", body.encode(), {"Content-Type": "x"}
            )
            t0 = time.perf_counter()
            with urllib.request.urlopen(req, timeout=10) as resp:
                assert resp.status == 200
            took.append(time.perf_counter() - t0)
    assert min(took) >= 0.01 and max(took) < 0.2
    assert max(took) - min(took) > 0.03  # a constant 60 ms would vary by a few ms only
    with pytest.raises(ValueError, match="jitter"):
        OpenAIServer(latency_s=0.01, latency_jitter_s=0.02)


def test_server_runs_as_a_program():
    proc = subprocess.Popen(
        [sys.executable, "-m", "preference_dissect.testing.openai_server", "--port", "0",
         "--latency-ms", "50"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on http://127.0.0.1:")
        base = line.split()[-1]
        body = json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
        req = urllib.request.Request(
            f"{base}/chat/completions", body.encode(), {"Content-Type": "application/json"}
        )
        t0 = time.perf_counter()
        with urllib.request.urlopen(req, timeout=10) as resp:
            answer = json.loads(resp.read())
        assert time.perf_counter() - t0 >= 0.05
        assert answer["choices"][0]["message"]["content"]
        assert answer["usage"]["prompt_tokens"] >= 1
    finally:
        proc.terminate()
        assert proc.wait(10) == 0
