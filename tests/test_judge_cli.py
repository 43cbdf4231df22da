"""``prefdissect judge`` end to end against the loopback OpenAI-compatible server.

The server runs in this process (a real HTTP server on 127.0.0.1); the CLI runs in a
subprocess and talks to it with the real ``openai`` client. Responders script the answer
text and the per-token log-probs, so every expected number is computed here by hand.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from preference_dissect.cli.judge import calls_path_for
from preference_dissect.load import load_source
from preference_dissect.load.schema import LABEL_COLUMNS, read_dataset, write_dataset
from preference_dissect.testing.openai_server import ChatRequest, Fault, OpenAIServer, Reply

ANSWER_RE = re.compile(r"<<< Answer A >>>\n(.*?)\n<<< End of answer A >>>", re.DOTALL)


def slot_a_text(req: ChatRequest) -> str:
    """The response shown in slot A of a judge prompt."""
    return ANSWER_RE.search(req.last_user).group(1)


def lp_row(p_slot_a: float, other: float = 0.1) -> dict[str, float]:
    """First-token alternatives giving p(slot A) = ``p_slot_a`` among the letters.

    ``other`` is probability mass on a non-letter token, so the log-probs are not normalised
    over the two letters (the scorer must renormalise).
    """
    keep = 1.0 - other
    return {
        "A": math.log(keep * p_slot_a),
        "B": math.log(keep * (1 - p_slot_a)),
        "The": math.log(other),
    }


def run_judge(cli, pairs: Path, server: OpenAIServer, tmp_path: Path, *extra: str):
    out = tmp_path / "labels.parquet"
    res = cli(
        "judge",
        pairs,
        "--model",
        "loopback-judge",
        "--base-url",
        server.base_url,
        "--cache-dir",
        tmp_path / "cache",
        "--out",
        out,
        "--json",
        "--no-progress",
        *extra,
    )
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    return summary, out


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory) -> Path:
    """The first 4 real pairs of the bundled hh-rlhf harmless-base test split."""
    path = tmp_path_factory.mktemp("pairs") / "hh.parquet"
    write_dataset(load_source("bundled:hh-rlhf", limit=4), path)
    return path


@pytest.fixture
def chosen_first(pairs_path: Path) -> dict[str, str]:
    """Original response A text -> pair_id (to let a responder know which side is in slot A)."""
    pairs = read_dataset(pairs_path).pairs
    return dict(zip(pairs["response_a"], pairs["pair_id"], strict=True))


def test_soft_labels_from_scripted_logprobs_and_cached_rerun(
    cli, pairs_path, chosen_first, tmp_path
):
    """A judge that prefers the original A with p = 0.8 in both orders."""

    def responder(req: ChatRequest) -> Reply:
        orig_a_in_slot_a = slot_a_text(req) in chosen_first
        p_slot_a = 0.8 if orig_a_in_slot_a else 0.2
        row = lp_row(p_slot_a)
        return Reply("A" if p_slot_a > 0.5 else "B", logprobs=[row])

    n = len(chosen_first)
    with OpenAIServer(responder=responder) as server:
        summary, out = run_judge(cli, pairs_path, server, tmp_path)
        assert len(server.chat_requests()) == 2 * n
        body = server.chat_requests()[0]
        assert body["model"] == "loopback-judge"
        labels = pd.read_parquet(out)
        assert list(labels.columns[: len(LABEL_COLUMNS)]) == list(LABEL_COLUMNS)
        assert len(labels) == n and (labels["judge"] == "loopback-judge").all()
        assert labels["p_a"].to_numpy() == pytest.approx([0.8] * n)
        assert (labels["winner"] == "a").all() and (labels["rule"] == "sum_logprob").all()
        assert (labels["winner_ab"] == "a").all() and (labels["winner_ba"] == "a").all()
        assert (labels["p_source"] == "logprobs").all()
        assert summary["labels"] == n and summary["winner"] == {"a": n, "b": 0, "tie": 0, "na": 0}
        assert summary["consistency"] == 1.0 and summary["first_slot_rate"] == 0.5
        assert summary["requests"] == 2 * n and summary["cache_hits"] == 0
        calls = pd.read_parquet(summary["calls"])
        assert len(calls) == 2 * n and set(calls["order"]) == {"ab", "ba"}
        assert calls["p_slot_a"].to_numpy() == pytest.approx([0.8, 0.2] * n)

        # an immediate re-run is answered from the cache: zero requests
        again, out2 = run_judge(cli, pairs_path, server, tmp_path)
        assert again["requests"] == 0 and again["cache_hits"] == 2 * n
        assert len(server.chat_requests()) == 2 * n
        pd.testing.assert_frame_equal(pd.read_parquet(out2), labels)
        # --refresh asks again (and overwrites the cached answers)
        fresh, _ = run_judge(cli, pairs_path, server, tmp_path, "--refresh")
        assert fresh["requests"] == 2 * n and fresh["cache_hits"] == 0
        assert len(server.chat_requests()) == 4 * n


def test_position_biased_judge(cli, pairs_path, tmp_path):
    """Always slot A with p = 0.9: first-slot rate 1, consistency 0, every label a tie.

    The answers also run past the token limit (``finish_reason="length"``): a direct answer is
    still read from its first token, and nothing is re-asked.
    """

    def responder(req: ChatRequest) -> Reply:
        return Reply("A because", finish_reason="length", logprobs=[lp_row(0.9), {" because": 0.0}])

    with OpenAIServer(responder=responder) as server:
        summary, out = run_judge(cli, pairs_path, server, tmp_path)
    n = summary["pairs"]
    assert summary["requests"] == 2 * n
    assert summary["failures"] == {}
    assert summary["first_slot_rate"] == 1.0 and summary["consistency"] == 0.0
    labels = pd.read_parquet(out)
    assert (labels["winner_ab"] == "a").all() and (labels["winner_ba"] == "b").all()
    assert labels["p_a"].to_numpy() == pytest.approx([0.5] * n)
    assert (labels["winner"] == "tie").all()
    assert summary["winner"]["tie"] == n


class NoLogprobServer(OpenAIServer):
    """A server that ignores ``logprobs`` (like some OpenAI-compatible hosts)."""

    def _completion(self, req, reply):
        payload = super()._completion(req, reply)
        payload["choices"][0]["logprobs"] = None
        return payload


def test_missing_logprobs_fall_back_to_sampled_answer(cli, pairs_path, chosen_first, tmp_path):
    def responder(req: ChatRequest) -> Reply:
        return Reply("A" if slot_a_text(req) in chosen_first else "B")

    with NoLogprobServer(responder=responder) as server:
        summary, out = run_judge(cli, pairs_path, server, tmp_path)
        assert server.chat_requests()  # log-probs were asked for, none came back
    labels = pd.read_parquet(out)
    assert (labels["p_source"] == "sampled").all() and (labels["rule"] == "mean_p").all()
    assert (labels["p_a"] == 1.0).all() and (labels["winner"] == "a").all()
    calls = pd.read_parquet(summary["calls"])
    assert calls["lp_a"].isna().all() and set(calls["p_slot_a"]) == {0.0, 1.0}


def test_cot_verdict_logprobs_and_na_reason(cli, pairs_path, chosen_first, tmp_path):
    """CoT: the verdict token's log-probs give p; a verdict-less answer is NA with a reason."""
    pair_ids = list(chosen_first.values())
    silent = pair_ids[0]  # this pair's answers never reach a verdict
    tokens = ["Both", " answer", ".", " A", " is", " kinder", ".\n", "Verdict", ":", " "]

    def responder(req: ChatRequest) -> Reply:
        pair_id = next(
            (
                pid
                for text, pid in chosen_first.items()
                if f"<<< Answer A >>>\n{text}\n" in req.last_user
                or f"<<< Answer B >>>\n{text}\n" in req.last_user
            ),
            None,
        )
        if pair_id == silent:
            return Reply("I cannot choose between them.")
        letter = "A" if slot_a_text(req) in chosen_first else "B"
        other = "B" if letter == "A" else "A"
        tops = [{t: -0.01, "~": -7.0} for t in tokens]
        tops.append({letter: math.log(0.7), other: math.log(0.25), "C": math.log(0.05)})
        return Reply("".join(tokens) + letter, logprobs=tops)

    with OpenAIServer(responder=responder) as server:
        summary, out = run_judge(cli, pairs_path, server, tmp_path, "--cot")
        prompt = server.chat_requests()[0]["last_user"]
    assert "Verdict: X" in prompt
    n = len(pair_ids)
    labels = pd.read_parquet(out)
    assert summary["judge"] == "loopback-judge+cot"
    assert len(labels) == n - 1 and silent not in set(labels["pair_id"])
    assert labels["p_a"].to_numpy() == pytest.approx([0.7 / 0.95] * (n - 1))
    assert (labels["winner"] == "a").all() and (labels["p_source"] == "logprobs").all()
    assert summary["winner"]["na"] == 1 and summary["failures"] == {"no_verdict": 2}
    calls = pd.read_parquet(summary["calls"])
    na = calls[calls["pair_id"] == silent]
    assert list(na["na_reason"]) == ["no_verdict", "no_verdict"]
    assert na["text"].str.contains("cannot choose").all()


def test_na_reasons_single_order_fallback_and_retries(cli, pairs_path, chosen_first, tmp_path):
    """HTTP 400 on one order -> that pair is labelled from the other order; 503 is retried."""
    pair_ids = list(chosen_first.values())
    texts = list(chosen_first)
    broken = texts[1]  # original A of the second pair: its 'ab' call gets HTTP 400

    def responder(req: ChatRequest) -> Reply:
        return Reply("B", logprobs=[lp_row(0.3)])

    faults = [
        Fault("status", status=400, times=None, match=lambda r: slot_a_text(r) == broken),
        Fault("status", status=503, times=1, retry_after="0"),
    ]
    with OpenAIServer(responder=responder, faults=faults) as server:
        summary, out = run_judge(cli, pairs_path, server, tmp_path, "--concurrency", "1")
    labels = pd.read_parquet(out).set_index("pair_id")
    row = labels.loc[pair_ids[1]]
    assert row["rule"] == "ba_only" and row["na_reason"].startswith("ab:")
    assert pd.isna(row["winner_ab"]) and row["winner_ba"] == "a"
    assert row["p_a"] == pytest.approx(0.7)
    others = labels.drop(index=pair_ids[1])
    assert (others["rule"] == "sum_logprob").all() and (others["winner"] == "tie").all()
    assert summary["failures"] == {"http_400": 1} and summary["retries"] >= 1
    assert summary["requests"] > 2 * len(pair_ids)  # the 503 and the 400 were retried or sent


def test_orders_single_and_cost_cap(cli, pairs_path, tmp_path):
    with OpenAIServer(responder=lambda req: Reply("A", logprobs=[lp_row(0.6)])) as server:
        summary, out = run_judge(cli, pairs_path, server, tmp_path, "--orders", "ab")
        assert len(server.chat_requests()) == summary["pairs"]
        labels = pd.read_parquet(out)
        assert (labels["rule"] == "ab_only").all() and labels["winner_ba"].isna().all()
        assert labels["p_a"].to_numpy() == pytest.approx([0.6] * len(labels))
        assert summary["consistency"] is None and summary["first_slot_rate"] == 1.0

        server.reset()
        # a loader SOURCE works as PAIRS too; a priced model with a $0 cap sends nothing: the
        # pre-flight gate stops it (exit 2); with --allow-partial it runs, every call is NA
        # cost_cap, and zero labels is no usable output (exit 1); nothing is written
        capped = tmp_path / "capped.parquet"
        args = ("judge", "bundled:hh-rlhf", "--limit", "3", "--model", "gpt-4o",
                "--base-url", server.base_url, "--max-cost", "0", "--no-cache",
                "--out", capped)  # fmt: skip
        res = cli(*args)
        assert res.returncode == 2, res.stderr
        assert "above --max-cost $0.0000" in res.stderr and "--allow-partial" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1 and not server.chat_requests()
        res = cli(*args, "--allow-partial", "--no-progress")
        assert res.returncode == 1 and not server.chat_requests()
        assert res.stderr.strip() == (
            "prefdissect judge: error: no usable output: judge: 0 labels for 3 pairs "
            "(cost_cap 6); nothing written (answers already obtained are cached: a re-run "
            "pays nothing twice)"
        )
        assert not capped.exists() and not calls_path_for(capped).exists()


def test_bad_input_is_one_line_exit_2(cli, pairs_path, tmp_path):
    out = tmp_path / "o.parquet"
    res = cli("judge", tmp_path / "missing.parquet", "--model", "m", "--out", out)
    assert res.returncode == 2 and "not found" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("judge", pairs_path, "--model", "m", "--limit", "0", "--out", tmp_path / "o.parquet")
    assert res.returncode == 2 and "--limit" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "o.parquet").exists()
    for flag in (["--timeout", "0"], ["--max-retries", "-1"], ["--temperature", "-1"]):
        res = cli("judge", pairs_path, "--model", "m", *flag, "--out", out)
        assert res.returncode == 2 and flag[0] in res.stderr and "Traceback" not in res.stderr
    res = cli("judge", pairs_path, "--model", "m", "--structured", "text", "--out", out)
    assert res.returncode == 2 and "unrecognized arguments: --structured" in res.stderr
    with OpenAIServer() as gone:
        dead = gone.base_url  # nothing listens there any more
    res = cli("judge", pairs_path, "--model", "m", "--base-url", dead, "--max-retries", "0",
              "--no-cache", "--limit", "2", "--out", out)  # fmt: skip
    assert res.returncode == 2 and "cannot reach 127.0.0.1:" in res.stderr
    assert "Traceback" not in res.stderr and not out.exists()
