"""What one engine run works with: prepared requests, answers, failures, the spending budget,
the run state, and the rules that classify a failed call (NA reasons, context overflows).

Shared by :mod:`.engine` (live calls) and :mod:`.batch` (the Batch API), so neither imports
the other's internals.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydantic

from preference_dissect.llm.cache import AnswerCache
from preference_dissect.llm.config import LLMRequest
from preference_dissect.llm.prices import Price, estimate_prompt_tokens
from preference_dissect.llm.progress import RunProgress
from preference_dissect.llm.structured import with_instruction

#: NA reasons that are final (the same request would fail again): cached so re-runs don't
#: pay again. Transport failures, the cost cap and batch failures are not cached.
FINAL_NA = frozenset(
    {
        "invalid_json",
        "schema_validation",
        "truncated",
        "refused",
        "empty",
        "http_400",
        "http_413",
        "http_422",
        "context_overflow",
    }
)
#: Final NA reasons that are still not cached: the fix is a setting outside the cache key (the
#: server's context size, ``--max-context``), and asking again costs nothing billed.
UNCACHED_FINAL = frozenset({"context_overflow"})
#: ``error.code`` / ``error.type`` of a request too long for the model: OpenAI, vLLM and
#: llama-cpp-python say ``context_length_exceeded``; llama.cpp's own server
#: ``exceed_context_size_error``.
CONTEXT_CODES = frozenset({"context_length_exceeded", "exceed_context_size_error"})
#: The same in words: "This model's maximum context length is 2048 tokens. However, you
#: requested ..." (OpenAI, vLLM, llama-cpp-python), "the request exceeds the available context
#: size" (llama.cpp), "... exceeds the context window" (others).
_CONTEXT_WORDS = re.compile(
    r"maximum context length|context[ _]length[ _]exceeded|exceeds? (?:the )?(?:available )?"
    r"context (?:size|window|length)|context window exceeded",
    re.IGNORECASE,
)
DETAIL_CHARS = 300


def retryable_failures(
    failures: dict[str, int], before: dict[str, int] | None = None
) -> dict[str, int]:
    """NA counts (since ``before``) whose reason may pass on a re-run: not in :data:`FINAL_NA`.

    Timeouts, connection errors, retryable HTTP statuses, the cost cap and batch failures are
    never cached, so re-running the same requests re-asks exactly those.
    """
    before = before or {}
    out = {r: n - before.get(r, 0) for r, n in failures.items() if r not in FINAL_NA}
    return {r: n for r, n in out.items() if n > 0}


def estimate_request_tokens(
    messages: list[dict[str, Any]], schema: type[pydantic.BaseModel] | None
) -> int:
    """Conservative input tokens of a request in its largest form: with a schema, the messages
    plus the schema instruction (``json_object`` / ``text`` modes; ``json_schema`` sends the
    same schema as ``response_format``)."""
    return estimate_prompt_tokens(with_instruction(messages, schema) if schema else messages)


@dataclass
class Prepared:
    """A request rendered for sending: messages, schema, limits and its cache key."""

    request: LLMRequest
    messages: list[dict[str, Any]]
    schema: type[pydantic.BaseModel] | None
    max_tokens: int
    key: str
    est_prompt_tokens: int


@dataclass
class Reply:
    """One successful HTTP answer."""

    text: str | None
    finish_reason: str | None
    refusal: str | None
    prompt_tokens: int
    completion_tokens: int
    top_logprobs: list[dict[str, float]] | None


@dataclass
class Failure:
    """A call that produced no answer, with the NA reason (and what the server said)."""

    reason: str
    detail: str | None = None


#: Sentinel of a status failure: the response format was downgraded (try the next mode).
DOWNGRADED = Failure("format_downgraded")


@dataclass
class Budget:
    """The spending cap during a run: real spend plus in-flight reservations stay within it.

    A call reserves its worst case (conservative prompt estimate + ``max_tokens``) before it
    is sent and releases the reservation when it ends; its real cost then counts as spent.
    When a server reports more prompt tokens than estimated, ``prompt_scale`` grows to the
    observed ratio so later reservations are big enough.
    """

    cap: float | None
    price: Price
    spent: float = 0.0
    reserved: float = 0.0
    prompt_scale: float = 1.0
    in_flight: int = 0
    _released: asyncio.Event | None = field(default=None, repr=False)

    def worst_case(self, est_prompt_tokens: int, max_tokens: int) -> float:
        """Dollars one call may cost at most."""
        return self.price.cost(math.ceil(est_prompt_tokens * self.prompt_scale), max_tokens)

    def reserve(self, worst: float) -> bool:
        """Reserve ``worst`` dollars if spent + reserved + worst stays within the cap."""
        if self.cap is not None and self.spent + self.reserved + worst > self.cap + 1e-12:
            return False
        self.reserved += worst
        self.in_flight += 1
        return True

    async def acquire(self, worst: float) -> bool:
        """Reserve ``worst``, waiting while calls in flight may still free room.

        Returns ``False`` (the call is NA ``cost_cap``) only when nothing is in flight and the
        real spend plus ``worst`` would still pass the cap.
        """
        while not self.reserve(worst):
            if self.in_flight == 0:
                return False
            if self._released is None:
                self._released = asyncio.Event()
            self._released.clear()
            await self._released.wait()
        return True

    def release(self, worst: float) -> None:
        """End a reservation (its real cost, if any, is in ``spent`` already)."""
        self.reserved -= worst
        self.in_flight -= 1
        if self._released is not None:
            self._released.set()

    def observe(self, est_prompt_tokens: int, prompt_tokens: int) -> None:
        """Scale later reservations up when a call used more prompt tokens than estimated."""
        if est_prompt_tokens > 0 and prompt_tokens > est_prompt_tokens * self.prompt_scale:
            self.prompt_scale = prompt_tokens / est_prompt_tokens


@dataclass
class SpendLedger:
    """Dollars spent by one or more engines (see :class:`LLMEngine`'s ``ledger``)."""

    spent: float = 0.0


@dataclass
class RunState:
    cache: AnswerCache | None
    budget: Budget
    progress: RunProgress
    probe_lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def timeout_reason(exc: BaseException) -> str:
    """``"connection"`` when a reported timeout is really a refused/unresolvable connection.

    The SDK's aiohttp transport maps every aiohttp connection error to ``ConnectTimeout``
    (openai-python PR #3594 review), so a refused connection arrives as ``APITimeoutError``;
    the OS error in its cause chain tells them apart. Anything else is ``"timeout"``.
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, ConnectionError | socket.gaierror):
            return "connection"
        cur = cur.__cause__ or cur.__context__
    return "timeout"


def context_overflow_detail(exc: Any) -> str | None:
    """The server's message when an HTTP error says the request does not fit the model's
    context window (see :data:`CONTEXT_CODES`), else ``None``.

    ``exc`` is an ``openai.APIStatusError``: its ``body`` is the ``error`` object of the JSON
    answer (or the whole answer), ``code`` / ``type`` come from it.
    """
    body = getattr(exc, "body", None)
    error = body.get("error", body) if isinstance(body, dict) else {}
    error = error if isinstance(error, dict) else {"message": str(error)}
    labels = {str(getattr(exc, "code", None) or ""), str(error.get("code") or "")}
    labels |= {str(getattr(exc, "type", None) or ""), str(error.get("type") or "")}
    message = str(error.get("message") or getattr(exc, "message", "") or exc)
    if labels & CONTEXT_CODES or _CONTEXT_WORDS.search(message):
        return " ".join(message.split())[:DETAIL_CHARS]
    return None


def convert_logprobs(choice: dict[str, Any]) -> list[dict[str, float]] | None:
    """Per generated token ``{token: logprob}`` from a chat-completion choice (JSON dict)."""
    content = (choice.get("logprobs") or {}).get("content")
    if not content:
        return None
    out = []
    for tok in content:
        row = {t["token"]: float(t["logprob"]) for t in (tok.get("top_logprobs") or [])}
        row.setdefault(tok["token"], float(tok["logprob"]))
        out.append(row)
    return out


class EngineCalls(Protocol):
    """What the Batch API mode (:mod:`.batch`) uses of the engine that drives it."""

    config: Any
    host: str

    @property
    def stats(self) -> Any: ...

    def request_body(self, p: Prepared, messages: list[dict[str, Any]], mode: str) -> dict: ...

    def context_detail(self, est_prompt_tokens: int, p: Prepared) -> str | None: ...

    def store(self, state: RunState, p: Prepared, result: Any) -> None: ...

    def count_failure(self, result: Any, n: int) -> None: ...

    def accept(
        self, resp: dict[str, Any], p: Prepared, state: RunState, est_prompt_tokens: int = 0
    ) -> Reply: ...

    async def answer(
        self, client: Any, p: Prepared, state: RunState, first: Reply | None = None
    ) -> Any: ...
