"""The engine: cache look-up, bounded concurrent calls, retries, validation, re-asks, cost."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import math
import os
import random
import time
from collections.abc import Sequence
from typing import Any

import pydantic

from preference_dissect.errors import CostCapError, InputError
from preference_dissect.llm.cache import AnswerCache, CachedAnswer, cache_key
from preference_dissect.llm.calls import (
    DOWNGRADED,
    FINAL_NA,
    UNCACHED_FINAL,
    Budget,
    Failure,
    Prepared,
    Reply,
    RunState,
    SpendLedger,
    context_overflow_detail,
    convert_logprobs,
    estimate_request_tokens,
    timeout_reason,
)
from preference_dissect.llm.client import (
    CONNECTIONS_PER_CLIENT,
    DUMMY_LOCAL_KEY,
    clean_api_key,
    http_response_class,
    is_local,
    server_host,
)
from preference_dissect.llm.config import (
    CacheConfig,
    CostEstimate,
    LLMConfig,
    LLMRequest,
    LLMResult,
    RunStats,
    as_messages,
)
from preference_dissect.llm.prices import (
    Price,
    estimate_body_tokens,
    lookup_price,
)
from preference_dissect.llm.progress import RunProgress
from preference_dissect.llm.retry import (
    backoff_delay,
    is_retryable_status,
    parse_retry_after,
)
from preference_dissect.llm.structured import (
    MODES,
    Verdict,
    corrective_message,
    response_format,
    validate_answer,
    with_instruction,
)
from preference_dissect.urls import split_userinfo

#: Words in an HTTP error that mean the server rejected the response format.
FORMAT_WORDS = ("response_format", "json_schema", "schema")


def run_coroutine(coro: Any) -> Any:
    """Run ``coro`` to completion on its own event loop (in a worker thread when called from
    a running loop, e.g. in Jupyter)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class LLMEngine:
    """Answer many :class:`LLMRequest` with one model (see the package docstring).

    Parameters
    ----------
    config : LLMConfig
        Model, server, decoding and retry settings.
    cache : CacheConfig, optional
        Cache location and switches (default: the config's ``cache_dir``, ``cache``,
        ``refresh``).
    progress : bool
        Print the pre-flight estimate and a live progress bar on stderr.
    ledger : SpendLedger, optional
        Dollars spent so far against ``max_cost_usd``; engines that share one (the annotator
        and the judge of one run) share the cap. Default: the engine's own. The cap holds
        over every :meth:`run` of the engine (gair29's two stages together), not per run.
    """

    def __init__(
        self,
        config: LLMConfig,
        cache: CacheConfig | None = None,
        progress: bool = True,
        ledger: SpendLedger | None = None,
    ) -> None:
        self.config = config
        self.ledger = ledger if ledger is not None else SpendLedger()
        self.cache_config = cache if cache is not None else config.cache_config
        self.progress = progress
        self.host = server_host(config.base_url)
        self._url = split_userinfo(config.base_url or "")
        self.price: Price = lookup_price(config.model, config.prices, batch=config.batch)
        #: The context window checked before sending (``None``: not checked).
        self.max_context: int | None = config.max_context or self.price.context
        self._stats = RunStats()
        self.total_stats = RunStats()
        self._mode: dict[tuple[str, str], str] = {}
        self._confirmed: set[tuple[str, str]] = set()
        self._rng = random.Random()

    # ------------------------------------------------------------------ public API
    @property
    def stats(self) -> RunStats:
        """Counters of the last :meth:`run` (``total_stats`` sums every run)."""
        return self._stats

    def describe(self) -> dict[str, Any]:
        """Facts for a run manifest: model, server host, settings, usage (never the key)."""
        cfg = self.config
        return {
            "model": cfg.model,
            "server_host": self.host,
            "structured_mode": self.structured_mode,
            "temperature": cfg.temperature,
            "max_tokens": cfg.max_tokens,
            "concurrency": cfg.concurrency,
            "batch": cfg.batch,
            "http_backend": cfg.http_backend,
            "logprobs": cfg.logprobs,
            "top_logprobs": cfg.top_logprobs,
            "max_cost_usd": cfg.max_cost_usd,
            "allow_partial": cfg.allow_partial,
            "max_context": self.max_context,
            "price_per_m_tokens": {
                "input": self.price.input_per_m,
                "output": self.price.output_per_m,
                "known": self.price.known,
            },
            "usage": self.total_stats.as_dict(),
        }

    @property
    def structured_mode(self) -> str:
        """The structured-output mode in use for this server and model."""
        return self._current_mode()

    def prepare(self, requests: Sequence[LLMRequest]) -> list[Prepared]:
        """Render requests and compute their cache keys."""
        cfg = self.config
        out = []
        schema_cache: dict[type, Any] = {}
        for req in requests:
            messages = as_messages(req.messages)
            schema_js = None
            if req.schema is not None:
                if req.schema not in schema_cache:
                    schema_cache[req.schema] = req.schema.model_json_schema()
                schema_js = schema_cache[req.schema]
            max_tokens = int(req.max_tokens or cfg.max_tokens)
            params = {
                "temperature": cfg.temperature,
                "max_tokens": max_tokens,
                "logprobs": cfg.logprobs,
                "top_logprobs": cfg.top_logprobs,
            }
            key = cache_key(
                model=cfg.model,
                host=self.host,
                messages=messages,
                params=params,
                schema=schema_js,
                version=req.version,
            )
            out.append(
                Prepared(
                    req,
                    messages,
                    req.schema,
                    max_tokens,
                    key,
                    estimate_request_tokens(messages, req.schema),
                )
            )
        return out

    def estimate(self, requests: Sequence[LLMRequest]) -> CostEstimate:
        """Pre-flight estimate: calls to send, cache hits, tokens and worst-case dollars."""
        prepared = self.prepare(requests)
        return self._estimate(prepared, self._cache_hits(prepared))

    def cached(self, requests: Sequence[LLMRequest]) -> list[bool]:
        """Which requests the cache already answers (nothing is sent; all ``False`` with the
        cache off or ``refresh``)."""
        prepared = self.prepare(requests)
        hits = self._cache_hits(prepared)
        return [p.key in hits for p in prepared]

    def _cache_hits(self, prepared: Sequence[Prepared]) -> dict[str, CachedAnswer]:
        if not prepared or not self.cache_config.enabled or self.cache_config.refresh:
            return {}
        cache = AnswerCache.open_in(self.cache_config.cache_dir)
        try:
            return cache.get_many(p.key for p in prepared)
        finally:
            cache.close()

    def preflight(self, requests: Sequence[LLMRequest]) -> CostEstimate:
        """The pre-flight estimate, and the budget gate: call it before spending anything.

        Returns :meth:`estimate`. Raises :class:`~preference_dissect.errors.CostCapError`
        when the worst-case dollars are above ``max_cost_usd`` and ``allow_partial`` is off.
        Library entry points (``annotate_pairs``, ``classify_pairs``, ``judge_pairs``) call it
        with every request they plan, later stages approximated.
        """
        est = self.estimate(requests)
        cap = self.remaining_cap()
        if cap is not None and est.usd > cap + 1e-12 and not self.config.allow_partial:
            spent = f" (${self.ledger.spent:.4f} of it already spent)" if self.ledger.spent else ""
            raise CostCapError(
                f"the pre-flight estimate is up to ${est.usd:.4f} for {est.calls} call(s) "
                f"({est.cache_hits} cached), above --max-cost ${self.config.max_cost_usd:.4f}"
                f"{spent} (max_cost_usd): "
                "raise --max-cost, lower --max-tokens or --limit, or pass --allow-partial "
                "(allow_partial=True) to spend up to the cap and leave the rest NA 'cost_cap'"
            )
        return est

    def remaining_cap(self) -> float | None:
        """Dollars left under ``max_cost_usd`` after what the ledger has spent (None: no cap)."""
        cap = self.config.max_cost_usd
        return None if cap is None else max(0.0, cap - self.ledger.spent)

    def run(
        self, requests: Sequence[LLMRequest], description: str = "annotating"
    ) -> list[LLMResult]:
        """Answer every request; results in request order.

        Runs its own event loop (in a worker thread when called from a running loop, e.g. in
        Jupyter). Raises :class:`~preference_dissect.errors.InputError` when the server refuses
        the API key or does not know the model.
        """
        return run_coroutine(self.arun(requests, description))

    async def arun(
        self, requests: Sequence[LLMRequest], description: str = "annotating"
    ) -> list[LLMResult]:
        """The async form of :meth:`run`."""
        t0 = time.perf_counter()
        self._stats = RunStats()
        prepared = self.prepare(requests)
        groups: dict[str, list[int]] = {}
        for i, p in enumerate(prepared):
            groups.setdefault(p.key, []).append(i)
        results: list[LLMResult | None] = [None] * len(prepared)
        cache = (
            AnswerCache.open_in(self.cache_config.cache_dir) if self.cache_config.enabled else None
        )
        try:
            hits: dict[str, CachedAnswer] = {}
            if cache is not None and not self.cache_config.refresh:
                hits = cache.get_many(groups)
            for key, cached in hits.items():
                result = self._from_cache(cached, prepared[groups[key][0]])
                self.count_failure(result, len(groups[key]))
                for i in groups[key]:
                    results[i] = self._copy_for(result, prepared[i])
                    self._stats.cache_hits += 1
            todo = [prepared[idx[0]] for key, idx in groups.items() if key not in hits]
            progress = RunProgress(self.progress, len(prepared), description, self._stats)
            progress.print(self._estimate(prepared, hits).describe())
            state = RunState(cache, Budget(self.remaining_cap(), self.price), progress)
            with progress:
                progress.advance(len(prepared) - sum(len(groups[p.key]) for p in todo))
                if todo:
                    answers = await self._answer_all(todo, state, groups)
                    if all(answers[p.key].na_reason == "connection" for p in todo):
                        raise InputError(
                            f"cannot reach {self.host}: all {len(todo)} call(s) failed to "
                            "connect; check --base-url and that the server is running"
                        )
                    for p in todo:
                        for i in groups[p.key]:
                            results[i] = self._copy_for(answers[p.key], prepared[i])
        finally:
            if cache is not None:
                cache.close()
            self._stats.seconds = time.perf_counter() - t0
            self.total_stats.add(self._stats)
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ plumbing
    def _estimate(self, prepared: list[Prepared], hits: dict[str, Any]) -> CostEstimate:
        todo: dict[str, Prepared] = {p.key: p for p in prepared if p.key not in hits}
        sent = [p for p in todo.values() if self.context_detail(p.est_prompt_tokens, p) is None]
        cached = sum(1 for p in prepared if p.key in hits)
        prompt = sum(p.est_prompt_tokens for p in sent)
        completion = sum(p.max_tokens for p in sent)
        return CostEstimate(
            len(prepared),
            cached,
            len(sent),
            prompt,
            completion,
            self.price.cost(prompt, completion),
            self.price.known,
            self.config.model,
            over_context=len(todo) - len(sent),
            max_context=self.max_context,
        )

    def context_detail(self, est_prompt_tokens: int, p: Prepared) -> str | None:
        """Why a request does not fit :attr:`max_context` (``None`` when it fits or unchecked).

        The prompt estimate is conservative (high), so a request refused here may fit in
        reality: lower ``max_tokens`` or raise ``max_context`` if the window is bigger.
        """
        if self.max_context is None or est_prompt_tokens + p.max_tokens <= self.max_context:
            return None
        return (
            f"prompt ~{est_prompt_tokens} tokens (conservative estimate) + max_tokens "
            f"{p.max_tokens} > max_context {self.max_context}; not sent (lower --max-tokens, "
            "shorten the inputs, or raise --max-context if the model's window is larger)"
        )

    def count_failure(self, result: LLMResult, n: int) -> None:
        if result.na_reason is not None:
            fails = self._stats.failures
            fails[result.na_reason] = fails.get(result.na_reason, 0) + n
            if result.detail:
                self._stats.details.setdefault(result.na_reason, result.detail)

    @staticmethod
    def _copy_for(result: LLMResult, p: Prepared) -> LLMResult:
        return LLMResult(
            key=p.request.key,
            parsed=result.parsed,
            text=result.text,
            na_reason=result.na_reason,
            usage=dict(result.usage),
            cached=result.cached,
            top_logprobs=result.top_logprobs,
            detail=result.detail,
        )

    def _from_cache(self, cached: CachedAnswer, p: Prepared) -> LLMResult:
        parsed = None
        na = cached.na_reason
        if na is None and p.schema is not None:
            try:
                parsed = p.schema.model_validate_json(cached.parsed or cached.text or "")
            except pydantic.ValidationError:
                na = "schema_validation"
        return LLMResult(
            p.request.key,
            parsed,
            cached.text,
            na,
            {"prompt_tokens": cached.prompt_tokens, "completion_tokens": cached.completion_tokens},
            True,
            cached.top_logprobs,
        )

    def store(self, state: RunState, p: Prepared, result: LLMResult) -> None:
        if state.cache is None:
            return
        reason = result.na_reason
        if reason is not None and (reason not in FINAL_NA or reason in UNCACHED_FINAL):
            return
        state.cache.put(
            p.key,
            request_key=p.request.key,
            model=self.config.model,
            host=self.host,
            version=p.request.version,
            text=result.text,
            parsed=result.parsed.model_dump_json() if result.parsed is not None else None,
            na_reason=result.na_reason,
            prompt_tokens=result.usage["prompt_tokens"],
            completion_tokens=result.usage["completion_tokens"],
            top_logprobs=result.top_logprobs,
        )

    def _api_key(self) -> str:
        key = clean_api_key(self.config.api_key_env, os.environ.get(self.config.api_key_env))
        if key:
            return key
        if is_local(self.config.base_url) or self._url.has_credentials:
            return DUMMY_LOCAL_KEY  # (with user info in the URL, basic auth replaces the key)
        raise InputError(
            f"no API key: set the environment variable {self.config.api_key_env} "
            f"(needed for {self.host})"
        )

    def make_client(self) -> Any:
        """A fresh ``openai.AsyncOpenAI`` (SDK retries off: the engine retries).

        With ``http_backend="aiohttp"`` its transport is the SDK's ``DefaultAioHttpClient``.
        User info in ``base_url`` (``http://user:pw@host/v1``) is taken out of the URL and sent
        as an ``Authorization: Basic`` header instead of the bearer key (what httpx and curl do
        with such a URL; aiohttp refuses credentials in a URL next to an Authorization header).
        """
        import openai

        http_client = None
        if self.config.http_backend == "aiohttp":
            http_client = openai.DefaultAioHttpClient()
        basic = self._url.basic_auth()
        return openai.AsyncOpenAI(
            base_url=self._url.url if self.config.base_url else None,
            api_key=self._api_key(),
            max_retries=0,
            timeout=self.config.timeout_s,
            http_client=http_client,
            default_headers={"Authorization": basic} if basic else None,
        )

    def _client_count(self) -> int:
        """How many SDK clients share the concurrency.

        httpx's connection pool scans every connection on each request; several small clients
        (at most ``CONNECTIONS_PER_CLIENT`` requests in flight each) keep that scan short.
        aiohttp's pool has no such cost: one client.
        """
        if self.config.http_backend == "aiohttp":
            return 1
        return max(1, math.ceil(self.config.concurrency / CONNECTIONS_PER_CLIENT))

    async def _answer_all(
        self, todo: list[Prepared], state: RunState, groups: dict[str, list[int]]
    ) -> dict[str, LLMResult]:
        n_clients = self._client_count()
        clients = [self.make_client() for _ in range(n_clients)]
        answers: dict[str, LLMResult] = {}
        try:
            if self.config.batch:
                from preference_dissect.llm.batch import run_batch

                return await run_batch(self, clients[0], todo, state, groups)
            pending = iter(todo)  # shared by the workers; next() never awaits, so no races

            async def worker(client: Any) -> None:
                # A fixed pool of `concurrency` workers, each sending its next request as soon
                # as it has handled an answer: tasks, memory and scheduling stay in proportion
                # to the concurrency, not to the number of requests (no task per request).
                for p in pending:
                    result = await self.answer(client, p, state)
                    self.store(state, p, result)
                    self.count_failure(result, len(groups[p.key]))
                    answers[p.key] = result
                    state.progress.advance(len(groups[p.key]))

            n_workers = min(self.config.concurrency, len(todo))
            tasks = [asyncio.create_task(worker(clients[i % n_clients])) for i in range(n_workers)]
            try:
                await asyncio.gather(*tasks)
            except BaseException:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
                raise
            return answers
        finally:
            for client in clients:
                await client.close()

    async def answer(
        self, client: Any, p: Prepared, state: RunState, first: Reply | None = None
    ) -> LLMResult:
        """Ask one request: validate, re-ask on invalid answers, return the result.

        A re-ask sends the original messages plus one short corrective user message (see
        :func:`~preference_dissect.llm.structured.corrective_message`), not the
        conversation so far. ``first`` is an answer already obtained (a batch output line) to
        validate first.
        """
        messages = list(p.messages)
        usage = {"prompt_tokens": 0, "completion_tokens": 0}
        verdict = Verdict(None, None)
        reply: Reply | Failure | None = None
        for round_ in range(self.config.max_invalid + 1):
            if round_ == 0 and first is not None:
                reply = first
            else:
                reply = await self._call(client, p, messages, state)
            if isinstance(reply, Failure):
                return LLMResult(
                    p.request.key, None, None, reply.reason, usage, detail=reply.detail
                )
            usage["prompt_tokens"] += reply.prompt_tokens
            usage["completion_tokens"] += reply.completion_tokens
            verdict = validate_answer(reply.text, reply.finish_reason, reply.refusal, p.schema)
            if verdict.reason is None:
                return LLMResult(
                    p.request.key,
                    verdict.parsed,
                    reply.text,
                    None,
                    usage,
                    False,
                    reply.top_logprobs,
                )
            if verdict.reason == "refused" or round_ == self.config.max_invalid:
                break
            self._stats.reasks += 1
            # the original messages plus one short correction (quoting a cut excerpt of the
            # invalid answer): every attempt is the size of the first, never growing
            messages = [
                *p.messages,
                {"role": "user", "content": corrective_message(verdict, reply.text)},
            ]
        assert isinstance(reply, Reply)
        return LLMResult(
            p.request.key, None, reply.text, verdict.reason, usage, False, reply.top_logprobs
        )

    # ------------------------------------------------------------------ one HTTP call
    def _current_mode(self) -> str:
        if self.config.structured != "auto":
            return self.config.structured
        return self._mode.get((self.host, self.config.model), MODES[0])

    def _downgrade(self, mode: str) -> bool:
        skey = (self.host, self.config.model)
        if self.config.structured != "auto" or skey in self._confirmed or mode == MODES[-1]:
            return False
        nxt = MODES[MODES.index(mode) + 1]
        if MODES.index(self._mode.get(skey, MODES[0])) < MODES.index(nxt):
            self._mode[skey] = nxt
        return True

    def request_body(
        self, p: Prepared, messages: list[dict[str, Any]], mode: str
    ) -> dict[str, Any]:
        """Keyword arguments of ``chat.completions.create`` for one attempt."""
        cfg = self.config
        kwargs: dict[str, Any] = {
            "model": cfg.model,
            "temperature": cfg.temperature,
            "max_tokens": p.max_tokens,
        }
        if p.schema is not None and mode != "json_schema":
            messages = with_instruction(messages, p.schema)
        kwargs["messages"] = messages
        if p.schema is not None:
            fmt = response_format(mode, p.schema)
            if fmt is not None:
                kwargs["response_format"] = fmt
        if cfg.logprobs:
            kwargs["logprobs"] = True
            if cfg.top_logprobs is not None:
                kwargs["top_logprobs"] = cfg.top_logprobs
        return kwargs

    @staticmethod
    async def _send(client: Any, body: dict[str, Any]) -> Any:
        """POST one chat completion through the SDK's generic ``post``; return the JSON dict.

        This is the SDK's documented way to send a body as it is: ``chat.completions.create``
        would first run its recursive TypedDict transform over the messages and schema and then
        build SDK model objects from the answer, about 1 ms of CPU per call that buys nothing
        here (the body is already plain JSON and the answer is read as a dict). Auth, headers,
        timeouts and the SDK's error classes are the same.
        """
        raw = await client.post("/chat/completions", cast_to=http_response_class(), body=body)
        try:
            return json.loads(raw.content)
        except ValueError:
            return {}

    async def _call(
        self, client: Any, p: Prepared, messages: list[dict[str, Any]], state: RunState
    ) -> Reply | Failure:
        skey = (self.host, self.config.model)
        if (
            self.config.structured == "auto"
            and p.schema is not None
            and skey not in self._confirmed
        ):
            async with state.probe_lock:  # one call finds the working mode; the rest wait
                if skey not in self._confirmed:
                    return await self._call_with_retries(client, p, messages, state)
        return await self._call_with_retries(client, p, messages, state)

    async def _call_with_retries(
        self, client: Any, p: Prepared, messages: list[dict[str, Any]], state: RunState
    ) -> Reply | Failure:
        import openai

        attempt = 0
        reason = "unknown"
        while True:
            mode = self._current_mode()
            body = self.request_body(p, messages, mode)
            est = estimate_body_tokens(body)
            too_long = self.context_detail(est, p)
            if too_long is not None:
                return Failure("context_overflow", too_long)
            worst = state.budget.worst_case(est, p.max_tokens)
            if not await state.budget.acquire(worst):
                return Failure("cost_cap")
            delay: float | None = None
            try:
                self._stats.requests += 1
                state.progress.refresh()
                resp = await self._send(client, body)
            except openai.APITimeoutError as exc:
                reason = timeout_reason(exc)
            except openai.APIConnectionError:
                reason = "connection"
            except openai.APIStatusError as exc:
                reason = f"http_{exc.status_code}"
                final = self._status_failure(exc, p, mode)
                if final is DOWNGRADED:
                    continue  # the server rejected the response format: try the next mode
                if final is not None:
                    return final
                delay = parse_retry_after(exc.response.headers)
            else:
                return self.accept(resp, p, state, est)
            finally:
                state.budget.release(worst)
            if attempt >= self.config.max_retries:
                return Failure(reason)
            if delay is None:
                delay = backoff_delay(attempt, self._rng)
            attempt += 1
            self._stats.retries += 1
            await asyncio.sleep(delay)

    def _status_failure(self, exc: Any, p: Prepared, mode: str) -> Failure | None:
        """Read an HTTP error: ``None`` when worth retrying, a final :class:`Failure`
        (``context_overflow`` with the server's message, ``http_NNN``), or ``DOWNGRADED``
        after a rejected response format. A refused key, an unknown model or an exhausted
        quota raise :class:`~preference_dissect.errors.InputError`.
        """
        status = exc.status_code
        overflow = context_overflow_detail(exc) if status not in (401, 403, 404, 429) else None
        if overflow is not None:
            return Failure("context_overflow", overflow)
        message = str(getattr(exc, "message", "") or exc).lower()
        if (
            p.schema is not None
            and status in (400, 422, 500)
            and any(w in message for w in FORMAT_WORDS)
            and self._downgrade(mode)
        ):
            return DOWNGRADED
        if status in (401, 403):
            raise InputError(
                f"{self.host} refused the API key (HTTP {status}); check ${self.config.api_key_env}"
            ) from None
        if status == 404:
            raise InputError(
                f"{self.host} answered HTTP 404 for model "
                f"{self.config.model!r}: check the model name and base URL"
            ) from None
        if status == 429 and "insufficient_quota" in json.dumps(exc.body, default=str):
            raise InputError(
                f"{self.host} says the account has no quota left (HTTP 429 "
                "insufficient_quota); retrying will not help"
            ) from None
        return None if is_retryable_status(status) else Failure(f"http_{status}")

    def accept(
        self, resp: dict[str, Any], p: Prepared, state: RunState, est_prompt_tokens: int = 0
    ) -> Reply:
        """Account for one chat-completion JSON body and return its answer.

        ``est_prompt_tokens`` is the estimate its reservation was made with (see
        :meth:`~preference_dissect.llm.calls.Budget.observe`).
        """
        if p.schema is not None:  # this response format works here: keep it for the run
            self._confirmed.add((self.host, self.config.model))
        usage = resp.get("usage") or {}
        pt = int(usage.get("prompt_tokens") or 0)
        ct = int(usage.get("completion_tokens") or 0)
        cost = self.price.cost(pt, ct)
        state.budget.spent += cost
        self.ledger.spent += cost
        state.budget.observe(est_prompt_tokens, pt)
        self._stats.prompt_tokens += pt
        self._stats.completion_tokens += ct
        self._stats.cost_usd += cost
        choices = resp.get("choices") or []
        if not choices:
            return Reply(None, None, None, pt, ct, None)
        msg = choices[0].get("message") or {}
        return Reply(
            msg.get("content"),
            choices[0].get("finish_reason"),
            msg.get("refusal"),
            pt,
            ct,
            convert_logprobs(choices[0]),
        )
