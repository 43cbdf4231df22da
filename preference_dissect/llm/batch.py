"""OpenAI Batch API mode: upload a JSONL of requests, poll, download, validate, cache.

A submitted batch is recorded in the cache database before polling starts, so a run that is
killed while waiting resumes by polling the same batch instead of paying for a new one.
Answers that fail validation are re-asked live (``max_invalid`` times), like live mode.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from preference_dissect.llm.calls import EngineCalls, Prepared, RunState
from preference_dissect.llm.config import LLMResult
from preference_dissect.llm.retry import backoff_delay, is_retryable_status

ENDPOINT = "/v1/chat/completions"
TERMINAL = ("completed", "failed", "expired", "cancelled")
MAX_LINES = 50_000  # OpenAI's limit of requests per batch
T = TypeVar("T")


async def _retrying(engine: EngineCalls, call: Callable[[], Awaitable[T]]) -> T:
    """Run one control-plane call (upload, create, poll, download) with transport retries."""
    import openai

    for attempt in range(engine.config.max_retries + 1):
        try:
            return await call()
        except (openai.APITimeoutError, openai.APIConnectionError):
            if attempt == engine.config.max_retries:
                raise
        except openai.APIStatusError as exc:
            if not is_retryable_status(exc.status_code) or attempt == engine.config.max_retries:
                raise
        await asyncio.sleep(backoff_delay(attempt))
    raise AssertionError("unreachable")


def batch_mode(engine: EngineCalls) -> str:
    """The structured mode used in batch lines (``json_schema`` under ``auto``)."""
    return "json_schema" if engine.config.structured == "auto" else engine.config.structured


async def _submit(
    engine: EngineCalls, client: Any, todo: list[Prepared], state: RunState
) -> list[tuple[str, list[str]]]:
    mode = batch_mode(engine)
    jobs = []
    for start in range(0, len(todo), MAX_LINES):
        chunk = todo[start : start + MAX_LINES]
        lines = []
        for p in chunk:
            body = engine.request_body(p, p.messages, mode)
            lines.append(
                json.dumps({"custom_id": p.key, "method": "POST", "url": ENDPOINT, "body": body})
            )
        data = ("\n".join(lines) + "\n").encode("utf-8")
        upload = await _retrying(
            engine, lambda d=data: client.files.create(file=("requests.jsonl", d), purpose="batch")
        )
        batch = await _retrying(
            engine,
            lambda fid=upload.id: client.batches.create(
                input_file_id=fid,
                endpoint=ENDPOINT,
                completion_window="24h",
                metadata={"tool": "preference-dissect"},
            ),
        )
        keys = [p.key for p in chunk]
        if state.cache is not None:
            state.cache.add_batch_job(batch.id, engine.host, engine.config.model, keys)
        engine.stats.requests += len(chunk)
        jobs.append((batch.id, keys))
    return jobs


async def _wait(engine: EngineCalls, client: Any, batch_id: str) -> Any:
    deadline = time.monotonic() + engine.config.batch_timeout_s
    while True:
        batch = await _retrying(engine, lambda: client.batches.retrieve(batch_id))
        if batch.status in TERMINAL or time.monotonic() > deadline:
            return batch
        await asyncio.sleep(engine.config.batch_poll_s)


async def _download(engine: EngineCalls, client: Any, file_id: str | None) -> list[dict[str, Any]]:
    if not file_id:
        return []
    content = await _retrying(engine, lambda: client.files.content(file_id))
    return [json.loads(line) for line in content.text.splitlines() if line.strip()]


def _admit(
    engine: EngineCalls,
    remaining: list[Prepared],
    state: RunState,
    reserved: dict[str, float],
    finish: Callable[[Prepared, LLMResult], None],
) -> list[Prepared]:
    """The requests to submit: those that fit the context window and whose worst case can be
    reserved now (recorded in ``reserved``); the others are finished as NA at once."""
    affordable = []
    for p in remaining:
        too_long = engine.context_detail(p.est_prompt_tokens, p)
        if too_long is not None:
            finish(p, LLMResult(p.request.key, None, None, "context_overflow", detail=too_long))
            continue
        worst = state.budget.worst_case(p.est_prompt_tokens, p.max_tokens)
        if state.budget.reserve(worst):
            reserved[p.key] = worst
            affordable.append(p)
        else:
            finish(p, LLMResult(p.request.key, None, None, "cost_cap"))
    return affordable


async def run_batch(
    engine: EngineCalls,
    client: Any,
    todo: list[Prepared],
    state: RunState,
    groups: dict[str, list[int]],
) -> dict[str, LLMResult]:
    """Answer ``todo`` through the Batch API; return ``{cache key: result}``."""
    by_key = {p.key: p for p in todo}
    results: dict[str, LLMResult] = {}

    reserved: dict[str, float] = {}

    def finish(p: Prepared, result: LLMResult) -> None:
        if p.key in reserved:
            state.budget.release(reserved.pop(p.key))
        engine.store(state, p, result)
        engine.count_failure(result, len(groups[p.key]))
        results[p.key] = result
        state.progress.advance(len(groups[p.key]))

    remaining = list(todo)
    jobs: list[tuple[str, list[str]]] = []
    if state.cache is not None:
        wanted = set(by_key)
        for batch_id, keys in state.cache.pending_batch_jobs(engine.host, engine.config.model):
            if wanted.intersection(keys):
                jobs.append((batch_id, keys))
                wanted.difference_update(keys)
        remaining = [p for p in todo if p.key in wanted]
    affordable = _admit(engine, remaining, state, reserved, finish)
    if affordable:
        jobs += await _submit(engine, client, affordable, state)

    async def collect(batch_id: str, keys: list[str]) -> None:
        batch = await _wait(engine, client, batch_id)
        mine = [by_key[k] for k in keys if k in by_key and k not in results]
        if batch.status != "completed":
            reason = f"batch_{batch.status}" if batch.status in TERMINAL else "batch_timeout"
            for p in mine:
                finish(p, LLMResult(p.request.key, None, None, reason))
            if batch.status in TERMINAL and state.cache is not None:
                state.cache.finish_batch_job(batch_id, batch.status)
            return
        lines = await _download(engine, client, batch.output_file_id)
        lines += await _download(engine, client, batch.error_file_id)
        seen = set()
        replies = []
        for line in lines:  # account for every answer of the batch first: its cost is spent
            p = by_key.get(line.get("custom_id"))
            if p is None or p.key in results or p.key in seen:
                continue
            seen.add(p.key)
            response = line.get("response") or {}
            status = int(response.get("status_code") or 0)
            if status != 200:
                finish(p, LLMResult(p.request.key, None, None, f"http_{status or 'error'}"))
                continue
            body = response.get("body") or {}
            replies.append((p, engine.accept(body, p, state, p.est_prompt_tokens)))
            if p.key in reserved:
                state.budget.release(reserved.pop(p.key))
        for p, reply in replies:  # then validate, re-asking live (reservations released above)
            finish(p, await engine.answer(client, p, state, first=reply))
        for p in mine:
            if p.key not in seen and p.key not in results:
                finish(p, LLMResult(p.request.key, None, None, "batch_missing"))
        if state.cache is not None:
            state.cache.finish_batch_job(batch_id, "completed")

    await asyncio.gather(*(collect(b, k) for b, k in jobs))
    return results
