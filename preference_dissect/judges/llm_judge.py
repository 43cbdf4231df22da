"""Label pairs with an LLM judge: build the calls, run them on the LLM engine, combine orders.

The engine (:mod:`preference_dissect.llm`) supplies caching, retries, the cost cap
and progress; this module only decides what to ask and how to read the answers.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import NoUsableOutputError
from preference_dissect.judges.combine import ORDERS, combine_orders, original_p_a, single_winner
from preference_dissect.judges.prompt import build_messages, prompt_version
from preference_dissect.judges.scoring import SlotVerdict, score_cot, score_direct
from preference_dissect.llm import LLMConfig, LLMEngine, LLMRequest, LLMResult
from preference_dissect.load.schema import LABEL_COLUMNS, validate_labels

#: Extra label columns written by the judge (besides :data:`LABEL_COLUMNS`).
EXTRA_LABEL_COLUMNS = ("rule", "p_source", "na_reason")
#: Columns of the per-call table (one row per pair and order).
CALL_COLUMNS = (
    "pair_id",
    "judge",
    "order",
    "p_slot_a",
    "p_a",
    "lp_a",
    "lp_b",
    "bounded",
    "position",
    "p_source",
    "winner",
    "na_reason",
    "cached",
    "text",
)
DIRECT_MAX_TOKENS = 8
COT_MAX_TOKENS = 1024


@dataclass(frozen=True)
class JudgeOptions:
    """What to ask the judge.

    Attributes
    ----------
    judge_name : str
        Name written in the labels' ``judge`` column.
    orders : tuple of str
        Presentation orders to ask: ``("ab",)``, ``("ba",)`` or ``("ab", "ba")``.
    cot : bool
        Chain-of-thought prompt (reason, then ``Verdict: A|B``).
    max_tokens : int or None
        Completion limit per call; default 8 (direct) or 1024 (CoT).
    """

    judge_name: str
    orders: tuple[str, ...] = ORDERS
    cot: bool = False
    max_tokens: int | None = None

    def __post_init__(self) -> None:
        if not self.orders or any(o not in ORDERS for o in self.orders):
            raise ValueError(f"orders must be a non-empty subset of {ORDERS}, got {self.orders!r}")
        if not self.judge_name:
            raise ValueError("judge_name must not be empty")

    @property
    def completion_limit(self) -> int:
        """The completion-token limit per call."""
        if self.max_tokens is not None:
            return self.max_tokens
        return COT_MAX_TOKENS if self.cot else DIRECT_MAX_TOKENS

    @property
    def version(self) -> str:
        """Prompt version (part of the cache key)."""
        return prompt_version(cot=self.cot)


@dataclass
class JudgeRun:
    """The outcome of :func:`judge_pairs`.

    Attributes
    ----------
    labels : pandas.DataFrame
        One row per pair with a verdict: :data:`LABEL_COLUMNS` + :data:`EXTRA_LABEL_COLUMNS`.
    calls : pandas.DataFrame
        One row per (pair, order) call, NA calls included (:data:`CALL_COLUMNS`).
    summary : dict
        Counts and audit numbers (see :func:`summarise`).
    """

    labels: pd.DataFrame
    calls: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def judge_config_fields(options: JudgeOptions, top_logprobs: int | None = 20) -> dict[str, Any]:
    """The :class:`~preference_dissect.llm.LLMConfig` fields a judge fixes.

    Free-text answers, log-probs with ``top_logprobs`` alternatives (``None`` or 0: none),
    the judge's completion limit, and no re-asks: a judge answer has no schema to fail, and
    a direct answer cut at the token limit is still read (only its first tokens matter).
    """
    return {
        "max_tokens": options.completion_limit,
        "logprobs": bool(top_logprobs),
        "top_logprobs": top_logprobs or None,
        "structured": "text",
        "max_invalid": 0,
    }


def generate_config(
    options: JudgeOptions, model: str, *, top_logprobs: int | None = 20, **kwargs: Any
) -> LLMConfig:
    """The engine configuration for judge calls (see :func:`judge_config_fields`).

    Parameters
    ----------
    options : JudgeOptions
    model : str
        Model name sent to the server.
    top_logprobs : int or None
        Alternatives per token (OpenAI allows up to 20).
    **kwargs
        Other :class:`~preference_dissect.llm.LLMConfig` fields (``base_url``,
        ``concurrency``, ``max_cost_usd``, ``temperature``...).
    """
    return LLMConfig(model=model, **judge_config_fields(options, top_logprobs), **kwargs)


def request_key(pair_id: str, order: str) -> str:
    """The engine request key of one call."""
    return f"{pair_id}:judge:{order}"


def build_requests(pairs: pd.DataFrame, options: JudgeOptions) -> list[LLMRequest]:
    """One free-text request per pair and order, in pair order then order order."""
    version = options.version
    requests = []
    for row in pairs.to_dict("records"):
        for order in options.orders:
            requests.append(
                LLMRequest(
                    key=request_key(row["pair_id"], order),
                    messages=build_messages(row, order, cot=options.cot),
                    schema=None,
                    version=version,
                    max_tokens=options.completion_limit,
                )
            )
    return requests


def read_result(result: LLMResult, *, cot: bool) -> SlotVerdict:
    """Score one engine result (a truncated direct answer is still read: only its start matters)."""
    usable = result.na_reason is None or (
        result.na_reason == "truncated" and (result.text or result.top_logprobs)
    )
    if not usable:
        return SlotVerdict.na(result.na_reason or "no_answer")
    scorer = score_cot if cot else score_direct
    return scorer(result.text, result.top_logprobs)


def _call_row(
    pair_id: str, judge: str, order: str, verdict: SlotVerdict, result: LLMResult
) -> dict:
    p_a = original_p_a(order, verdict) if verdict.ok else math.nan
    return {
        "pair_id": pair_id,
        "judge": judge,
        "order": order,
        "p_slot_a": verdict.p_slot_a,
        "p_a": p_a,
        "lp_a": verdict.lp_a,
        "lp_b": verdict.lp_b,
        "bounded": verdict.bounded,
        "position": verdict.position,
        "p_source": verdict.source,
        "winner": single_winner(p_a),
        "na_reason": verdict.na_reason,
        "cached": result.cached,
        "text": result.text,
    }


def assemble(
    pair_ids: Sequence[str],
    results: Sequence[LLMResult],
    options: JudgeOptions,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Turn engine results (in :func:`build_requests` order) into the label and call tables."""
    by_key = {r.key: r for r in results}
    label_rows, call_rows = [], []
    for pair_id in pair_ids:
        verdicts = {}
        for order in options.orders:
            result = by_key[request_key(pair_id, order)]
            verdicts[order] = read_result(result, cot=options.cot)
            call_rows.append(_call_row(pair_id, options.judge_name, order, verdicts[order], result))
        label = combine_orders(verdicts)
        label_rows.append(
            {
                "pair_id": pair_id,
                "judge": options.judge_name,
                "winner": label.winner,
                "p_a": label.p_a,
                "winner_ab": label.winner_ab,
                "winner_ba": label.winner_ba,
                "rule": label.rule,
                "p_source": label.p_source,
                "na_reason": label.na_reason,
            }
        )
    labels = pd.DataFrame(label_rows, columns=[*LABEL_COLUMNS, *EXTRA_LABEL_COLUMNS])
    labels = labels[labels["winner"].notna()].reset_index(drop=True)
    labels["p_a"] = labels["p_a"].astype("float64")
    calls = pd.DataFrame(call_rows, columns=list(CALL_COLUMNS))
    calls["position"] = calls["position"].astype("Int64")
    return labels, calls


def consistency(calls: pd.DataFrame) -> float | None:
    """Share of pairs whose two orders pick the same response (``None`` if none qualify)."""
    decided = calls[calls["winner"].isin(["a", "b"])]
    wide = decided.pivot_table(index="pair_id", columns="order", values="winner", aggfunc="first")
    if not {"ab", "ba"} <= set(wide.columns):
        return None
    both = wide.dropna(subset=["ab", "ba"])
    if both.empty:
        return None
    return float((both["ab"] == both["ba"]).mean())


def first_slot_rate(calls: pd.DataFrame) -> float | None:
    """Share of single-order calls (with an A/B verdict) that pick the first slot."""
    decided = calls[calls["winner"].isin(["a", "b"])]
    if decided.empty:
        return None
    first = np.where(decided["order"] == "ab", "a", "b")
    return float((decided["winner"].to_numpy() == first).mean())


def summarise(
    labels: pd.DataFrame, calls: pd.DataFrame, n_pairs: int, options: JudgeOptions
) -> dict:
    """The ``prefdissect judge --json`` summary, without the engine's counters."""
    winners = Counter(labels["winner"].tolist())
    na_pairs = n_pairs - len(labels)
    na_reasons = Counter(r for r in calls["na_reason"].tolist() if isinstance(r, str))
    return {
        "labels": len(labels),
        "judge": options.judge_name,
        "orders": list(options.orders),
        "cot": options.cot,
        "prompt_version": options.version,
        "winner": {"a": winners["a"], "b": winners["b"], "tie": winners["tie"], "na": na_pairs},
        "rule": dict(Counter(labels["rule"].tolist())),
        "p_a_rule": "mean over answered orders of p(original A)",
        "p_source": dict(Counter(labels["p_source"].tolist())),
        "failures": dict(na_reasons),
        "consistency": consistency(calls),
        "first_slot_rate": first_slot_rate(calls),
    }


def judge_pairs(
    pairs: pd.DataFrame,
    engine: LLMEngine,
    options: JudgeOptions,
) -> JudgeRun:
    """Ask the judge about every pair in every requested order and combine the answers.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Canonical pair table (:mod:`preference_dissect.load.schema`).
    engine : LLMEngine
        Engine configured with ``logprobs=True`` (and ``top_logprobs``) for soft labels; without
        log-probs the sampled letters give hard labels.
    options : JudgeOptions

    Returns
    -------
    JudgeRun
        Labels (validated against ``pairs``), per-call details and the summary, engine
        counters included.

    Raises
    ------
    CostCapError
        The pre-flight estimate is above ``max_cost_usd`` (without ``allow_partial``).
    NoUsableOutputError
        Not one pair got a label (the run is in the exception's ``output``).
    """
    requests = build_requests(pairs, options)
    engine.preflight(requests)
    results = engine.run(requests, description=f"judging ({options.judge_name})")
    pair_ids = pairs["pair_id"].tolist()
    labels, calls = assemble(pair_ids, results, options)
    validate_labels(labels, pairs)
    summary = summarise(labels, calls, len(pair_ids), options)
    stats = engine.stats
    summary.update(
        {
            "requests": stats.requests,
            "cache_hits": stats.cache_hits,
            "retries": stats.retries,
            "failure_details": dict(stats.details),
            "tokens": stats.tokens,
            "cost_usd": round(stats.cost_usd, 6),
        }
    )
    outcome = JudgeRun(labels=labels, calls=calls, summary=summary)
    if len(pair_ids) and labels.empty:
        raise NoUsableOutputError(
            f"judge: 0 labels for {len(pair_ids)} pairs", summary["failures"], output=outcome
        )
    return outcome
