"""The engine against the real llama.cpp server (SmolLM2-135M): protocol path, not quality."""

from __future__ import annotations

import pydantic
import pytest

from preference_dissect.llm import CacheConfig, LLMConfig, LLMEngine, LLMRequest

pytestmark = pytest.mark.llama


class Helpfulness(pydantic.BaseModel):
    helpful: bool
    score: int = pydantic.Field(ge=1, le=5)


def rating_requests(n: int) -> list[LLMRequest]:
    answers = ["Paris is the capital of France.", "I don't know.", "The capital is Paris."]
    return [
        LLMRequest(
            f"q{i}",
            [
                {"role": "system", "content": "You grade answers. Reply in JSON."},
                {
                    "role": "user",
                    "content": f"Question: capital of France?\nAnswer: {a}\n"
                    "Is the answer helpful? Give helpful (true/false) and a score from 1 to 5.",
                },
            ],
            Helpfulness,
            "llama-test-v1",
            max_tokens=32,
        )
        for i, a in enumerate(answers[:n])
    ]


def test_structured_requests_against_llama_cpp(llama_server, tmp_path):
    cfg = LLMConfig(
        model=llama_server.model, base_url=llama_server.base_url, concurrency=2, timeout_s=120
    )
    engine = LLMEngine(cfg, CacheConfig(cache_dir=tmp_path), progress=False)
    results = engine.run(rating_requests(2))
    for r in results:  # a schema-valid answer, or a recorded NA with its reason
        assert (isinstance(r.parsed, Helpfulness) and r.na_reason is None) or (
            r.parsed is None and r.na_reason in {"invalid_json", "schema_validation", "truncated"}
        )
    assert any(r.ok for r in results)
    # llama.cpp answers json_schema with HTTP 500; the engine fell back to json_object
    assert engine.structured_mode == "json_object"
    assert engine.stats.requests >= 3 and engine.stats.completion_tokens > 0
    again = engine.run(rating_requests(2))
    assert engine.stats.requests == 0 and all(r.cached for r in again)
    assert [r.parsed for r in again] == [r.parsed for r in results]


def test_first_token_logprobs_from_llama_cpp(llama_server, tmp_path):
    cfg = LLMConfig(
        model=llama_server.model,
        base_url=llama_server.base_url,
        logprobs=True,
        top_logprobs=3,
        max_tokens=2,
    )
    engine = LLMEngine(cfg, CacheConfig(cache_dir=tmp_path), progress=False)
    msg = [{"role": "user", "content": "Which is better, A or B? Answer with one letter."}]
    [result] = engine.run([LLMRequest("ab", msg, None, "lp-v1")])
    assert result.ok and engine.stats.requests == 1  # a cut-off free-text answer is fine
    assert result.top_logprobs and len(result.top_logprobs[0]) >= 2
    assert all(v <= 0 for v in result.top_logprobs[0].values())
