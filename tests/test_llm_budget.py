"""Money: the spending cap is never crossed (conservative per-script token estimates, in-flight
reservations, scaling on observed usage). Real HTTP to the loopback server."""

from __future__ import annotations

import json
import math

import pytest

from preference_dissect.llm import CacheConfig, LLMConfig, LLMEngine, LLMRequest
from preference_dissect.llm.prices import (
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
    kw.setdefault("model", "loopback-model")
    cfg = LLMConfig(base_url=server.base_url, **kw)
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


# ---------------------------------------------------------------------- the budget gate
@pytest.fixture(scope="module")
def plain():
    """A loopback server with the default responder (schema-valid JSON answers)."""
    with OpenAIServer() as srv:
        yield srv


def cli_args(server, tmp_path, command="annotate", *extra, annotator="sharma24"):
    ann = ("--annotator", annotator) if command != "classify" else ()
    return (
        command, "bundled:hh-rlhf", "--limit", "2", *ann,
        *server.cli_flags(tmp_path / "cache", model="gpt-4o-mini"), "--max-tokens", "100",
        "--out", tmp_path / "out.parquet", "--no-progress", *extra,
    )  # fmt: skip


@pytest.mark.parametrize("command", ["annotate", "classify"])
def test_estimate_above_the_cap_stops_before_spending(cli, plain, tmp_path, command):
    plain.reset()
    res = cli(*cli_args(plain, tmp_path, command, "--max-cost", "0.0001"))
    assert res.returncode == 2, res.stderr
    [line] = [x for x in res.stderr.splitlines() if "error" in x]
    assert line.startswith(f"prefdissect {command}: error: the pre-flight estimate is up to $")
    assert "above --max-cost $0.0001" in line
    for words in ("raise --max-cost", "lower --max-tokens or --limit", "--allow-partial"):
        assert words in line
    assert "Traceback" not in res.stderr
    assert not plain.chat_requests() and not (tmp_path / "out.parquet").exists()


def test_library_entry_points_gate_like_the_cli(plain, tmp_path):
    from preference_dissect.annotate.runner import annotate_pairs
    from preference_dissect.errors import CostCapError
    from preference_dissect.load import load_source

    plain.reset()
    pairs = load_source("bundled:hh-rlhf", limit=2).pairs
    engine = engine_for(plain, tmp_path, model="gpt-4o-mini", max_cost_usd=0.0001)
    with pytest.raises(CostCapError, match=r"above --max-cost \$0\.0001 \(max_cost_usd\)"):
        annotate_pairs(pairs, "sharma24", engine)
    assert not plain.chat_requests() and engine.total_stats.requests == 0


def test_allow_partial_spends_up_to_the_cap_and_a_rerun_pays_only_the_rest(cli, plain, tmp_path):
    plain.reset()
    cap = 0.0006  # sharma24 on 2 pairs: 12 calls of ~$0.0002 at most each, ~$0.0001 real
    res = cli(*cli_args(plain, tmp_path, "annotate", "--max-cost", str(cap),
                        "--allow-partial", "--concurrency", "1", "--json"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    first = json.loads(res.stdout)
    sent = first["requests"]
    assert 0 < sent < 12 and first["failures"] == {"cost_cap": 12 - sent}
    assert sent == len(plain.chat_requests()) and first["cost_usd"] <= cap
    res = cli(*cli_args(plain, tmp_path, "annotate", "--max-cost", "1", "--json"))
    again = json.loads(res.stdout)
    assert again["requests"] == 12 - sent and again["cache_hits"] == sent
    assert len(plain.chat_requests()) == 12


@pytest.mark.parametrize("annotator", ["sharma24", "gair29"])
def test_annotate_with_every_value_na_exits_1_and_writes_nothing(cli, tmp_path, annotator):
    from preference_dissect.testing.openai_server import Fault

    with OpenAIServer(faults=[Fault("status", status=400, times=None)]) as srv:
        res = cli(*cli_args(srv, tmp_path, "annotate", annotator=annotator))
        sent = len(srv.chat_requests())
    assert res.returncode == 1, res.stderr
    line = res.stderr.strip().splitlines()[-1]
    n_values = {"sharma24": 2 * 24 * 2, "gair29": 2 * 28 * 2}[annotator]  # not gair29's lengthy
    assert line.startswith(
        f"prefdissect annotate: error: no usable output: {annotator}: all {n_values} "
        "model-measured values are NA ("
    )
    assert "http_error" in line and "nothing written" in line and "Traceback" not in res.stderr
    assert sent > 0 and not (tmp_path / "out.parquet").exists()


def test_annotate_with_a_zero_cap_and_allow_partial_exits_1(cli, plain, tmp_path):
    plain.reset()
    res = cli(*cli_args(plain, tmp_path, "annotate", "--max-cost", "0", "--allow-partial"))
    assert res.returncode == 1 and not plain.chat_requests()
    assert res.stderr.strip().splitlines()[-1] == (
        "prefdissect annotate: error: no usable output: sharma24: all 96 model-measured values "
        "are NA (cost_cap 96); nothing written (answers already obtained are cached: a re-run "
        "pays nothing twice)"
    )


def test_run_gates_before_spending(cli, plain, tmp_path):
    plain.reset()
    out = tmp_path / "run"
    res = cli(
        "run", "bundled:arena", "--limit", "12", "--annotator", "sharma24", "--classify",
        "never", *plain.cli_flags(tmp_path / "cache", model="gpt-4o-mini"),
        "--max-cost", "0.0001", "--no-report", "--out", out,
    )  # fmt: skip
    assert res.returncode == 2, res.stderr
    assert (
        res.stderr.strip()
        .splitlines()[-1]
        .startswith("prefdissect run: error: the pre-flight estimate is up to $")
    )
    assert not plain.chat_requests() and not (out / "annotations.parquet").exists()


def test_cap_holds_over_every_run_of_an_engine_and_a_shared_ledger(server, tmp_path):
    """gair29 runs the engine twice (two stages); each run used to start a fresh budget, so
    the two stages together could spend up to twice the cap. A ledger shared by two engines
    (the annotator and the judge of one `prefdissect run`) caps them together."""
    from preference_dissect.llm.calls import SpendLedger

    text = "Which of the two answers is more helpful, and why? " * 20

    def asks(start: int, n: int) -> list[LLMRequest]:
        return [
            LLMRequest(f"en-{i}", [{"role": "user", "content": f"{text}{i}"}], None, "en")
            for i in range(start, start + n)
        ]

    prices = (1000.0, 0.0)  # input tokens only: a call costs what the server counts
    probe = engine_for(server, tmp_path / "probe", prices=prices, max_tokens=1)
    probe.run(asks(0, 1))
    actual = probe.ledger.spent
    worst = probe.estimate(asks(100, 1)).usd
    assert 1.2 * actual < worst < 1.5 * actual  # ASCII: 3 characters a token vs the server's 4
    cap = 2 * actual + 0.9 * worst  # room for two calls, and not for a third worst case

    def engine(folder: str) -> LLMEngine:
        kw = {"prices": prices, "max_tokens": 1, "max_cost_usd": cap, "allow_partial": True}
        return engine_for(server, tmp_path / folder, **kw)

    single = engine("one")
    assert all(r.ok for r in single.run(asks(1, 2)))
    second = single.run(asks(3, 2))  # a fresh budget would have paid for both
    assert [r.na_reason for r in second] == ["cost_cap", "cost_cap"]
    assert single.ledger.spent <= cap
    ledger = SpendLedger()
    a, b = engine("a"), engine("b")
    a.ledger = b.ledger = ledger
    assert all(r.ok for r in a.run(asks(5, 2)))
    assert [r.na_reason for r in b.run(asks(7, 2))] == ["cost_cap", "cost_cap"]
    assert ledger.spent == pytest.approx(2 * actual, rel=0.01) and ledger.spent <= cap
