"""Typed configuration and result records of the LLM engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import Field, model_validator

from preference_dissect.urls import strip_userinfo
from preference_dissect.validation import Validated

STRUCTURED_MODES = ("auto", "json_schema", "json_object", "text")  # LLMConfig.structured
#: HTTP transports under the ``openai`` SDK: ``aiohttp`` (the SDK's ``DefaultAioHttpClient``,
#: about half the client CPU per call) or the SDK's default ``httpx``.
HTTP_BACKENDS = ("aiohttp", "httpx")


class LLMConfig(Validated):
    """How to call a model (one config per engine): every LLM setting, validated, with its
    default declared once here; the CLI flags, the Python API and a run's config file fill it.

    Attributes
    ----------
    model : str
        Model name sent to the server.
    base_url : str or None
        OpenAI-compatible base URL (``http://127.0.0.1:8080/v1``); ``None`` is OpenAI. User
        info in it (``http://user:pw@host/v1``) is sent as basic auth and recorded nowhere.
    api_key_env : str
        Name of the environment variable holding the API key. The key is never logged or
        stored. For a local server (``base_url`` on localhost) a dummy key is used when unset.
    temperature : float
        Sampling temperature.
    max_tokens : int
        Completion token limit per call (a request may override it).
    concurrency : int
        Requests in flight at once.
    max_retries : int
        Transport retries per call (timeouts, connection errors, 408/409/429/5xx) with
        exponential backoff and full jitter; ``Retry-After`` is honoured (capped).
    max_invalid : int
        Re-asks (with a short corrective message) when an answer fails schema validation.
    timeout_s : float
        Per-call timeout in seconds.
    logprobs : bool
        Ask for log-probabilities of the generated tokens.
    top_logprobs : int or None
        How many alternatives per token (needs ``logprobs``).
    structured : str
        ``auto`` (try ``json_schema``, fall back to ``json_object`` with schema, then plain
        text with JSON extraction; the working mode is remembered per server and model),
        or one of ``json_schema``, ``json_object``, ``text`` to force a mode.
    max_cost_usd : float or None
        Spending cap over every call of the engine (and of engines sharing its ledger): a run
        whose pre-flight estimate is above it stops before spending (unless
        ``allow_partial``), and no call is sent past it (NA ``cost_cap``).
    batch : bool
        Use the OpenAI Batch API instead of live calls.
    prices : tuple of float or None
        ``(input, output)`` USD per 1M tokens; overrides the price table
        (``models/prices/openai.yaml``).
    batch_poll_s : float
        Seconds between batch status polls.
    batch_timeout_s : float
        Give up waiting for a batch after this long (its requests become NA
        ``batch_timeout``; a later run picks the batch up again).
    http_backend : str
        HTTP transport under the SDK: ``aiohttp`` (default; the SDK's documented faster
        transport for concurrent calls) or ``httpx`` (the SDK's own default). Proxies from the
        environment work with both.
    max_context : int or None
        The model's context window in tokens (prompt + completion). A request whose
        conservative prompt estimate plus ``max_tokens`` exceeds it is NA ``context_overflow``
        without being sent. ``None``: the price table's ``context`` column for known models,
        else no check (the server's own HTTP 400 is still read as ``context_overflow``).
    allow_partial : bool
        Run even when the pre-flight estimate (:meth:`LLMEngine.preflight`) is above
        ``max_cost_usd``: calls stop at the cap and the rest are NA ``cost_cap``. Without it
        such a run stops before spending anything.
    cache_dir : Path or None
        Answer cache folder; else ``$PD_CACHE_DIR``; else the platformdirs user cache folder.
    cache : bool
        ``False`` neither reads nor writes the cache.
    refresh : bool
        Ignore cached answers and overwrite them with fresh ones.

    Examples
    --------
    >>> cfg = LLMConfig(model="gpt-4o-mini", max_cost_usd=2.0)
    >>> cfg.concurrency, cfg.replace(concurrency=16).concurrency
    (8, 16)
    """

    model: str = Field(min_length=1)
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    temperature: float = Field(default=0.0, ge=0)
    max_tokens: int = Field(default=1024, ge=1)
    concurrency: int = Field(default=8, ge=1)
    max_retries: int = Field(default=6, ge=0)
    max_invalid: int = Field(default=2, ge=0)
    timeout_s: float = Field(default=120.0, gt=0)
    logprobs: bool = False
    top_logprobs: int | None = Field(default=None, ge=0, le=20)
    structured: Literal["auto", "json_schema", "json_object", "text"] = "auto"
    max_cost_usd: float | None = Field(default=None, ge=0)
    batch: bool = False
    prices: tuple[float, float] | None = None
    batch_poll_s: float = Field(default=30.0, gt=0)
    batch_timeout_s: float = Field(default=24 * 3600.0, gt=0)
    http_backend: Literal["aiohttp", "httpx"] = "aiohttp"
    max_context: int | None = Field(default=None, ge=1)
    allow_partial: bool = False
    cache_dir: Path | None = None
    cache: bool = True
    refresh: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> LLMConfig:
        if self.max_context is not None and self.max_context <= self.max_tokens:
            raise ValueError(
                f"max_context ({self.max_context}) must be larger than max_tokens "
                f"({self.max_tokens}): no prompt would fit"
            )
        if self.refresh and not self.cache:
            raise ValueError(
                "refresh (--refresh) and cache=False (--no-cache) cannot be used together"
            )
        return self

    @property
    def cache_config(self) -> CacheConfig:
        """Where and whether answers are cached (the engine's view of the cache settings)."""
        return CacheConfig(cache_dir=self.cache_dir, enabled=self.cache, refresh=self.refresh)

    def answer_settings(self) -> dict[str, Any]:
        """The settings that change what the model answers (for run-stage fingerprints).

        Model, server, decoding and structured-output mode; not concurrency, retries,
        timeouts, the cost cap (nor ``allow_partial``), batch mode or the HTTP transport, which
        change only how (or
        whether) an answer is fetched. The base URL is recorded without user info;
        ``max_context`` only when set (it decides which requests are sent at all).
        """
        extra = {"max_context": self.max_context} if self.max_context is not None else {}
        return {
            **extra,
            "model": self.model,
            "base_url": strip_userinfo(self.base_url),
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "structured": self.structured,
            "logprobs": self.logprobs,
            "top_logprobs": self.top_logprobs,
        }


@dataclass(frozen=True)
class CacheConfig:
    """Where and whether answers are cached.

    Attributes
    ----------
    cache_dir : Path or None
        Cache folder; else ``$PD_CACHE_DIR``; else the platformdirs user cache folder.
    enabled : bool
        ``False`` disables reading and writing the cache (``--no-cache``).
    refresh : bool
        Ignore existing entries and overwrite them with fresh answers (``--refresh``).
    """

    cache_dir: Path | None = None
    enabled: bool = True
    refresh: bool = False


@dataclass(frozen=True)
class LLMRequest:
    """One question to the model.

    Attributes
    ----------
    key : str
        The caller's id (e.g. ``"pairid:step"``); not part of the cache key.
    messages : sequence of dict
        Chat messages (``{"role", "content"}``).
    schema : type[pydantic.BaseModel] or None
        The answer's schema; ``None`` asks for free text.
    version : str
        Annotator / prompt version (part of the cache key).
    max_tokens : int or None
        Overrides :attr:`LLMConfig.max_tokens` for this request.
    """

    key: str
    messages: tuple[dict, ...] | list[dict]
    schema: type[pydantic.BaseModel] | None
    version: str
    max_tokens: int | None = None


@dataclass
class LLMResult:
    """The answer to one :class:`LLMRequest`.

    Attributes
    ----------
    key : str
        The request's key.
    parsed : pydantic.BaseModel or None
        The validated answer; ``None`` when NA (or when the request had no schema).
    text : str or None
        The raw answer text of the last attempt.
    na_reason : str or None
        Why there is no valid answer (``invalid_json``, ``schema_validation``,
        ``truncated``, ``http_400``, ``timeout``, ``connection``, ``cost_cap``,
        ``context_overflow``...).
    usage : dict
        ``prompt_tokens`` and ``completion_tokens`` summed over every attempt.
    cached : bool
        The answer came from the cache (nothing was sent).
    top_logprobs : list of dict or None
        Per generated token, ``{token: logprob}`` of the top alternatives (first token first).
    detail : str or None
        What the server (or the pre-flight check) said about an NA, e.g. the context-window
        message of a ``context_overflow``.
    """

    key: str
    parsed: pydantic.BaseModel | None
    text: str | None
    na_reason: str | None
    usage: dict = field(default_factory=lambda: {"prompt_tokens": 0, "completion_tokens": 0})
    cached: bool = False
    top_logprobs: list[dict[str, float]] | None = None
    detail: str | None = None

    @property
    def ok(self) -> bool:
        """``True`` when there is an answer (``na_reason`` is ``None``)."""
        return self.na_reason is None


@dataclass
class CostEstimate:
    """Pre-flight estimate for a set of requests.

    Attributes
    ----------
    requests : int
        Requests asked for.
    cache_hits : int
        Requests already answered in the cache.
    calls : int
        Requests that would be sent.
    prompt_tokens, max_completion_tokens : int
        Estimated input tokens (conservative, per script: see
        :func:`~preference_dissect.llm.prices.estimate_text_tokens`) and the
        completion-token ceiling of the calls.
    usd : float
        Worst-case dollars (``None`` price means unknown: counted as 0).
    priced : bool
        Whether the model is in the price table.
    model : str
        The model priced.
    over_context : int
        Requests not sent because they exceed ``max_context`` (NA ``context_overflow``; not
        counted in ``calls`` or ``usd``).
    max_context : int or None
        The context window checked.
    """

    requests: int
    cache_hits: int
    calls: int
    prompt_tokens: int
    max_completion_tokens: int
    usd: float
    priced: bool
    model: str
    over_context: int = 0
    max_context: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict."""
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "calls": self.calls,
            "prompt_tokens": self.prompt_tokens,
            "max_completion_tokens": self.max_completion_tokens,
            "usd": round(self.usd, 6),
            "priced": self.priced,
            "model": self.model,
            "over_context": self.over_context,
        }

    def describe(self) -> str:
        """One human-readable line."""
        money = (
            f"~${self.usd:.4f} at most"
            if self.priced
            else f"$0 (no price known for {self.model!r})"
        )
        over = (
            f", {self.over_context} over the {self.max_context:,}-token context (not sent)"
            if self.over_context
            else ""
        )
        return (
            f"{self.requests} requests: {self.cache_hits} cached, {self.calls} to send{over}; "
            f"~{self.prompt_tokens:,} input tokens, "
            f"<= {self.max_completion_tokens:,} output tokens; "
            f"{money}"
        )


@dataclass
class RunStats:
    """Counters of one :meth:`LLMEngine.run` (accumulated over runs of the same engine).

    Attributes
    ----------
    requests : int
        HTTP requests actually sent (every attempt, retries and re-asks included).
    cache_hits : int
        Requests answered from the cache.
    failures : dict
        NA results by reason.
    details : dict
        The first detail message by NA reason (e.g. the server's ``context_overflow`` text).
    retries : int
        Transport retries.
    reasks : int
        Re-asks after an invalid answer.
    prompt_tokens, completion_tokens : int
        Token usage reported by the server.
    cost_usd : float
        Dollars spent (0 for unpriced models).
    seconds : float
        Wall time.
    """

    requests: int = 0
    cache_hits: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    details: dict[str, str] = field(default_factory=dict)
    retries: int = 0
    reasks: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0

    def add(self, other: RunStats) -> None:
        """Add ``other``'s counters to these (failures merged by reason)."""
        for f in fields(self):
            if f.name == "failures":
                for reason, n in other.failures.items():
                    self.failures[reason] = self.failures.get(reason, 0) + n
            elif f.name == "details":
                for reason, text in other.details.items():
                    self.details.setdefault(reason, text)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    @property
    def tokens(self) -> dict[str, int]:
        """``{"prompt_tokens": n, "completion_tokens": m}``."""
        return {"prompt_tokens": self.prompt_tokens, "completion_tokens": self.completion_tokens}

    def as_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (for manifests)."""
        return {
            "requests": self.requests,
            "cache_hits": self.cache_hits,
            "failures": dict(self.failures),
            "details": dict(self.details),
            "retries": self.retries,
            "reasks": self.reasks,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cost_usd": round(self.cost_usd, 6),
            "seconds": round(self.seconds, 3),
        }


def as_messages(messages: Sequence[dict]) -> list[dict]:
    """Return plain ``{"role", "content"}`` dicts (copies)."""
    return [{"role": str(m["role"]), "content": m["content"]} for m in messages]
