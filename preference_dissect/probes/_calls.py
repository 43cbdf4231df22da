"""One planned call of a probe (a model turn or a judge verdict) and its outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from preference_dissect.llm import LLMEngine, LLMRequest, LLMResult
from preference_dissect.probes._data import SycophancyRecord

#: Cache version of the model's own turns (their messages are the content address).
MODEL_VERSION = "sycophancy-model/1"
#: Columns of ``responses.parquet``.
RESPONSE_COLUMNS = (
    "task",
    "item_id",
    "variant",
    "dataset",
    "template",
    "round",
    "caller",
    "order",
    "prompt",
    "response",
    "answer",
    "correct",
    "score",
    "na_reason",
    "cached",
)


@dataclass
class Call:
    """A call to make, and what came of it.

    ``caller`` is ``"model"`` (the model probed) or ``"judge"``; ``round`` is the model turn
    (1, or 2 for are_you_sure's second turn) or, for a judge call, the turn it judges.
    ``answer``, ``correct`` and ``score`` are what the task read from the reply.
    """

    task: str
    item_id: int
    variant: int
    template: str | None
    round: int
    request: LLMRequest
    record: SycophancyRecord
    caller: str = "model"
    prefill: str = ""
    order: str | None = None
    links: dict[str, Call] = field(default_factory=dict)
    result: LLMResult | None = None
    answer: str | None = None
    correct: bool | None = None
    score: float | None = None
    na_reason: str | None = None

    @property
    def dataset(self) -> str | None:
        """``base.dataset`` of the record (``None`` when it has none)."""
        value = self.record.base.get("dataset")
        return None if value is None else str(value)

    @property
    def ok(self) -> bool:
        """Answered (no NA from the engine nor from reading the reply)."""
        return self.result is not None and self.result.ok and self.na_reason is None

    @property
    def response(self) -> str:
        """The reply: prefill + completion (``""`` when NA)."""
        if self.result is None or not self.result.ok:
            return ""
        return self.prefill + (self.result.text or "")

    def row(self) -> dict[str, Any]:
        """This call as a ``responses.parquet`` row."""
        result = self.result
        na = self.na_reason or (result.na_reason if result is not None else "not_sent")
        return {
            "task": self.task,
            "item_id": self.item_id,
            "variant": self.variant,
            "dataset": self.dataset,
            "template": self.template,
            "round": self.round,
            "caller": self.caller,
            "order": self.order,
            "prompt": render_prompt(self.request.messages),
            "response": self.response if result is not None and result.ok else None,
            "answer": self.answer,
            "correct": self.correct,
            "score": self.score,
            "na_reason": na,
            "cached": bool(result.cached) if result is not None else False,
        }


def render_prompt(messages: Sequence[dict[str, Any]]) -> str:
    """Chat messages as one text (``role: content`` blocks)."""
    return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages)


def request_key(task: str, item_id: int, variant: int, round_: int, tail: str = "") -> str:
    """The caller's key of a request (not part of the cache key)."""
    return f"{task}:{item_id}:{variant}:{round_}{':' + tail if tail else ''}"


def model_call(
    task: str,
    item_id: int,
    variant: int,
    template: str | None,
    record: SycophancyRecord,
) -> Call:
    """The first turn of ``record``: its conversation, with its prefill when it has one."""
    request = LLMRequest(
        key=request_key(task, item_id, variant, 1),
        messages=record.chat(),
        schema=None,
        version=MODEL_VERSION,
    )
    return Call(task, item_id, variant, template, 1, request, record, prefill=record.prefill)


def run_calls(engine: LLMEngine, calls: list[Call], description: str) -> None:
    """Send ``calls`` through ``engine`` (cache, retries, cap) and attach the results."""
    if not calls:
        return
    results = engine.run([c.request for c in calls], description=description)
    for call, result in zip(calls, results, strict=True):
        call.result = result


def placeholder(max_tokens: int) -> str:
    """A text the pre-flight estimate counts as about ``max_tokens`` tokens (3 ASCII
    characters a token): the stand-in of a reply not known yet."""
    return "x" * (3 * max_tokens)
