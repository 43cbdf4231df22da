"""Batch API mode against the loopback server's real /v1/files and /v1/batches endpoints."""

from __future__ import annotations

import pydantic
import pytest

from preference_dissect.llm import CacheConfig, LLMConfig, LLMEngine, LLMRequest
from preference_dissect.testing.openai_server import Fault, OpenAIServer


class Judgement(pydantic.BaseModel):
    winner: str = pydantic.Field(pattern="^(a|b)$")
    confidence: float = pydantic.Field(ge=0, le=1)


def requests(n: int) -> list[LLMRequest]:
    return [
        LLMRequest(
            f"pair-{i}",
            [{"role": "user", "content": f"Which is better in pair {i}?"}],
            Judgement,
            "judge-v1",
        )
        for i in range(n)
    ]


def batch_engine(server: OpenAIServer, tmp_path, **kw) -> LLMEngine:
    kw.setdefault("batch_poll_s", 0.05)
    cfg = LLMConfig(model="gpt-4o-mini", base_url=server.base_url, batch=True, **kw)
    return LLMEngine(cfg, CacheConfig(cache_dir=tmp_path / "cache"), progress=False)


def test_batch_round_trip_and_cache(tmp_path):
    with OpenAIServer(batch_delay_s=0.1) as server:
        engine = batch_engine(server, tmp_path)
        est = engine.estimate(requests(15))
        live = LLMEngine(
            LLMConfig(model="gpt-4o-mini"), CacheConfig(tmp_path / "c"), progress=False
        ).estimate(requests(15))
        assert est.usd == pytest.approx(live.usd / 2, rel=1e-9)  # the batch discount
        results = engine.run(requests(15))
        assert all(isinstance(r.parsed, Judgement) for r in results)
        assert [r.key for r in results] == [f"pair-{i}" for i in range(15)]
        chats = server.chat_requests()
        assert len(chats) == 15 and all(e.get("batch") for e in chats)
        assert {e["custom_id"] for e in chats} == {r.key for r in engine.prepare(requests(15))}
        assert server.counters["files"] >= 2 and server.counters["batches"] >= 2
        assert engine.stats.requests == 15 and engine.stats.cost_usd > 0
        uploads = server.counters["files"]
        again = engine.run(requests(15))
        assert all(r.cached for r in again) and engine.stats.requests == 0
        assert server.counters["files"] == uploads  # nothing new uploaded


def test_batch_invalid_lines_are_reasked_live_and_errors_recorded(tmp_path):
    faults = [
        Fault("status", status=400, times=1, match=lambda r: "pair 0?" in r.last_user),
        Fault("out_of_range", times=2, match=lambda r: "pair 0?" not in r.last_user),
    ]
    with OpenAIServer(faults=faults) as server:
        engine = batch_engine(server, tmp_path)
        results = engine.run(requests(6))
        assert results[0].na_reason == "http_400"
        assert all(r.ok for r in results[1:])
        live = [e for e in server.chat_requests() if not e.get("batch")]
        assert len(live) == 2 and engine.stats.reasks == 2


def test_unfinished_batch_is_resumed_not_resubmitted(tmp_path):
    with OpenAIServer(batch_delay_s=1.5) as server:
        impatient = batch_engine(server, tmp_path, batch_timeout_s=0.2)
        first = impatient.run(requests(5))
        assert {r.na_reason for r in first} == {"batch_timeout"}
        assert server.counters["files"] == 1  # one upload
        patient = batch_engine(server, tmp_path)
        second = patient.run(requests(5))
        assert all(r.ok for r in second)
        assert server.counters["files"] == 2  # + the output download, no new upload
        assert len(server.batches) == 1
        assert len(server.chat_requests()) == 5
