"""Money: the spending cap is never crossed (conservative per-script token estimates, in-flight
reservations, scaling on observed usage). Real HTTP to the loopback server."""

from __future__ import annotations

import math

import pytest

from preference_dissect.annotators.llm import CacheConfig, GenerateConfig, LLMEngine, LLMRequest
from preference_dissect.annotators.llm.prices import (
    TOKENS_PER_MESSAGE,
    TOKENS_PER_REQUEST,
    estimate_prompt_tokens,
    estimate_text_tokens,
    lookup_price,
)
from preference_dissect.testing.openai_server import OpenAIServer, Reply, count_tokens

#: 200 CJK characters of a typical Chinese query (no ASCII).
CHINESE = (
    "请评价下面两个回答中哪一个更有帮助并说明理由第一个回答详细地解释了问题的原因而第二个回答只给出了简短的结论"
    * 4
)
REPLY = "回答一更好"


def chinese_requests(n: int) -> list[LLMRequest]:
    return [
        LLMRequest(
            f"zh-{i}",
            [{"role": "user", "content": f"{CHINESE}{'一二三四五六七八九十'[i]}"}],
            None,
            "zh",
        )
        for i in range(n)
    ]


@pytest.fixture(scope="module")
def server():
    with OpenAIServer(responder=lambda req: Reply(REPLY)) as srv:
        yield srv


def engine_for(server, tmp_path, **kw) -> LLMEngine:
    cfg = GenerateConfig(model="loopback-model", base_url=server.base_url, **kw)
    return LLMEngine(cfg, CacheConfig(cache_dir=tmp_path / "cache"), progress=False)


def real_cost(prices: tuple[float, float], cjk_tokens_per_char: float = 1.0) -> float:
    """What the loopback server bills for one of :func:`chinese_requests`."""
    prompt = count_tokens(CHINESE + "一", cjk_tokens_per_char)
    return (prompt * prices[0] + max(1, len(REPLY) // 4) * prices[1]) / 1e6


def test_token_estimate_per_script():
    assert estimate_text_tokens("") == 0
    assert estimate_text_tokens("abcdefghi") == 3  # ASCII: 3 characters per token
    assert estimate_text_tokens("2024-07-18") == 8 + 1  # digits: one token each
    assert estimate_text_tokens("请评价") == 9  # CJK: 3 (its UTF-8 bytes) per character
    assert estimate_text_tokens("한국어") == 9 and estimate_text_tokens("かな") == 6
    assert estimate_text_tokens("Привет") == 12  # other non-ASCII: one per UTF-8 byte
    messages = [{"role": "system", "content": "abc"}, {"role": "user", "content": "请"}]
    assert estimate_prompt_tokens(messages) == 1 + 3 + 2 * TOKENS_PER_MESSAGE + TOKENS_PER_REQUEST
    # an upper bound of what the (CJK-aware) server counts, and of chars / 4 English
    assert estimate_text_tokens(CHINESE) >= 3 * count_tokens(CHINESE)
    english = "The quick brown fox jumps over the lazy dog. " * 20
    assert estimate_text_tokens(english) >= count_tokens(english) * 4 / 3


def test_price_table_knows_context_windows():
    assert lookup_price("gpt-4o-mini-2024-07-18").context == 128000
    assert lookup_price("gpt-4", override=(1.0, 1.0)).context == 8192  # override keeps it
    assert lookup_price("local-model").context is None


def test_chinese_pairs_never_cross_a_small_cap(server, tmp_path):
    """10 Chinese requests, a $0.002 cap: a worst case is over half the cap, so calls go one
    at a time while real spend + one worst case fits: 3 calls, the rest NA cost_cap."""
    server.reset()
    prices = (1.0, 4.0)
    cap = 0.002
    engine = engine_for(server, tmp_path, prices=prices, max_tokens=200, max_cost_usd=cap)
    est = engine.estimate(chinese_requests(10))
    worst = est.usd / 10
    assert worst > cap / 2 and est.usd > 10 * real_cost(prices)  # the estimate is high, not low
    results = engine.run(chinese_requests(10))
    assert math.floor((cap - worst) / real_cost(prices)) + 1 == 3
    assert engine.stats.requests == 3 == len(server.chat_requests())
    assert engine.stats.cost_usd == pytest.approx(3 * real_cost(prices), abs=1e-12)
    assert engine.stats.cost_usd <= cap
    assert engine.stats.failures == {"cost_cap": 7}
    assert sorted(r.na_reason or "ok" for r in results) == ["cost_cap"] * 7 + ["ok"] * 3


def test_concurrent_calls_wait_for_room_instead_of_crossing(server, tmp_path):
    """Eight workers: reservations of calls in flight count against the cap, and a call that
    does not fit waits for them rather than giving up while room may come back."""
    server.reset()
    prices = (1.0, 1.0)
    per_call = real_cost(prices)
    engine = engine_for(server, tmp_path, prices=prices, max_tokens=50, concurrency=8)
    worst = engine.estimate(chinese_requests(1)).usd
    cap = worst + 4 * per_call + per_call / 2  # room for 5 calls, one at a time at the end
    capped = engine_for(
        server, tmp_path, prices=prices, max_tokens=50, concurrency=8, max_cost_usd=cap
    )
    capped.run(chinese_requests(10))
    assert capped.stats.requests == 5 and capped.stats.failures == {"cost_cap": 5}
    assert capped.stats.cost_usd == pytest.approx(5 * per_call, abs=1e-12)
    assert capped.stats.cost_usd <= cap


def test_reservations_scale_up_when_the_server_counts_more_tokens(tmp_path):
    """A tokenizer that makes 4 tokens per CJK character (more than the estimate's 3): after
    the first answer the reservations grow by the observed ratio, so the second call, which
    an unscaled reservation would let through, is not sent and the cap holds."""
    prices = (1.0, 0.0)
    with OpenAIServer(responder=lambda req: Reply(REPLY), cjk_tokens_per_char=4) as srv:
        probe = engine_for(srv, tmp_path, prices=prices, max_tokens=50)
        est_worst = probe.estimate(chinese_requests(1)).usd
        actual = real_cost(prices, cjk_tokens_per_char=4)
        assert est_worst < actual  # the estimate is low for this (unusual) tokenizer
        cap = actual + (est_worst + actual) / 2  # fits one real call plus one estimated one
        engine = engine_for(
            srv, tmp_path, prices=prices, max_tokens=50, max_cost_usd=cap, concurrency=1
        )
        engine.run(chinese_requests(3))
        assert engine.stats.requests == 1 and engine.stats.failures == {"cost_cap": 2}
        assert engine.stats.cost_usd == pytest.approx(actual, abs=1e-12)
        assert engine.stats.cost_usd <= cap
