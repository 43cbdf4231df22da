"""A real OpenAI-compatible HTTP server on 127.0.0.1, for tests and benchmarks.

It speaks HTTP/1.1 (keep-alive) on a bare :mod:`asyncio` server (no dependency), so one
process sustains hundreds of requests per second at any simulated latency. Endpoints:

- ``POST /v1/chat/completions`` (``response_format`` json_schema / json_object-with-schema /
  text, ``logprobs`` + ``top_logprobs``, ``usage``);
- ``GET /v1/models``;
- ``POST /v1/embeddings`` when an ``embedder`` is given;
- the Batch API: ``POST /v1/files`` (multipart upload), ``GET /v1/files/{id}``,
  ``GET /v1/files/{id}/content``, ``POST /v1/batches``, ``GET /v1/batches/{id}``,
  ``POST /v1/batches/{id}/cancel``.

What it answers is scriptable: a *responder* maps a :class:`ChatRequest` to a
:class:`Reply` (or a string). The default responder returns a JSON object valid under the
request's schema (taken from ``response_format``, or from a JSON schema embedded in the
messages in a fenced ``json`` block), with in-range values drawn from a generator seeded by the
request content. :class:`Fault` rules inject failures: HTTP errors with ``Retry-After``,
hangs, malformed JSON, missing keys, out-of-range values, truncation
(``finish_reason="length"``), and llama.cpp's HTTP 500 on ``json_schema``.

Use it in-process::

    with OpenAIServer(latency_s=0.2) as server:
        client = AsyncOpenAI(base_url=server.base_url, api_key="x")
        ...
        server.requests      # the request log (list of dicts)

or as a program (prints ``listening on http://127.0.0.1:PORT/v1``)::

    python -m preference_dissect.testing.openai_server --port 0 --latency-ms 200
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import random
import re
import signal
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from preference_dissect.testing.schema_fill import break_schema_value, fill_schema

FAULT_KINDS = (
    "status",  # answer HTTP `status` (with `retry_after` header when given)
    "hang",  # wait `hang_s` before answering (longer than the client timeout)
    "malformed_json",  # content that is not JSON
    "missing_keys",  # JSON without the schema's required keys
    "out_of_range",  # JSON with a value outside the schema's bounds / enum
    "truncated",  # content cut in the middle, finish_reason="length"
    "reject_json_schema",  # HTTP 500 when response_format.type == "json_schema" (llama.cpp)
    "reject_response_format",  # HTTP 400 for any response_format (forces plain text)
    "refusal",  # a refusal message instead of content
)
_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    408: "Request Timeout",
    409: "Conflict",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_SCHEMA_IN_TEXT = re.compile(r"```json\s*(\{.*?\})\s*```", re.DOTALL)
#: CJK ideographs, kana, hangul and full-width forms: one token per character or more.
_CJK = re.compile(
    "[\u1100-\u11ff\u3040-\u30ff\u3130-\u318f\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
)


def count_tokens(text: str, cjk_tokens_per_char: float = 1.0) -> int:
    """The server's token count of a text: ``cjk_tokens_per_char`` per CJK character (one by
    default, like GPT-4o's tokenizer), one per 4 other characters."""
    cjk = len(_CJK.findall(text))
    return math.ceil(cjk * cjk_tokens_per_char) + (len(text) - cjk) // 4


@dataclass
class ChatRequest:
    """A parsed ``/v1/chat/completions`` request as the responder sees it.

    Attributes
    ----------
    body : dict
        The JSON body.
    messages : list of dict
        ``body["messages"]``.
    schema : dict or None
        The answer's JSON schema, from ``response_format`` or embedded in the messages.
    format_type : str or None
        ``response_format.type`` (``json_schema``, ``json_object``) or ``None``.
    serial : int
        1-based number of this chat call on the server.
    """

    body: dict[str, Any]
    messages: list[dict[str, Any]]
    schema: dict[str, Any] | None
    format_type: str | None
    serial: int

    @property
    def last_user(self) -> str:
        """Content of the last user message."""
        for m in reversed(self.messages):
            if m.get("role") == "user":
                return str(m.get("content"))
        return ""

    def seed(self) -> int:
        """A stable seed from the messages (same request, same answer)."""
        text = json.dumps(self.messages, sort_keys=True, ensure_ascii=False)
        return int(hashlib.sha256(text.encode()).hexdigest()[:12], 16)


@dataclass
class Reply:
    """What the server answers to a chat call.

    Attributes
    ----------
    content : str
        The message content.
    finish_reason : str
        ``stop`` or ``length``.
    logprobs : list of dict or None
        Per generated token, ``{token: logprob}`` alternatives; the highest is the token
        emitted. Used only when the request asks for log-probs.
    refusal : str or None
        A refusal message (content is then null).
    """

    content: str
    finish_reason: str = "stop"
    logprobs: list[dict[str, float]] | None = None
    refusal: str | None = None


@dataclass
class Fault:
    """A fault-injection rule.

    Attributes
    ----------
    kind : str
        One of :data:`FAULT_KINDS`.
    times : int or None
        How many matching chat calls it hits (``None``: every one).
    match : callable or None
        ``ChatRequest -> bool``; the rule only applies where it is true.
    status : int
        HTTP status for ``kind="status"``.
    retry_after : str or None
        ``Retry-After`` header value for ``kind="status"`` (seconds or an HTTP date).
    hang_s : float
        Delay for ``kind="hang"``.
    code : str or None
        ``error.code`` in the error body for ``kind="status"`` (e.g. ``insufficient_quota``).
    """

    kind: str
    times: int | None = 1
    match: Callable[[ChatRequest], bool] | None = None
    status: int = 500
    retry_after: str | None = None
    hang_s: float = 30.0
    code: str | None = None
    hits: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r} (known: {FAULT_KINDS})")

    def applies(self, req: ChatRequest) -> bool:
        """Whether the rule fires for ``req`` (does not count a hit)."""
        if self.times is not None and self.hits >= self.times:
            return False
        if self.kind == "reject_json_schema" and req.format_type != "json_schema":
            return False
        if self.kind == "reject_response_format" and req.format_type is None:
            return False
        return self.match is None or bool(self.match(req))


def default_responder(req: ChatRequest) -> Reply:
    """Answer a JSON object valid under the request's schema, or a short text."""
    rng = random.Random(req.seed())
    if req.schema is None:
        if req.format_type == "json_object":
            return Reply(json.dumps({"answer": "ok"}))
        return Reply(f"Answer {rng.randint(1, 9)}: ok.")
    value = fill_schema(req.schema, rng)
    text = json.dumps(value, ensure_ascii=False)
    if req.format_type is None:  # plain text mode: wrap in prose and a fence, like real models
        text = f"Here is my assessment.\n```json\n{text}\n```\nDone."
    return Reply(text)


def _extract_schema(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    fmt = body.get("response_format") or None
    ftype = fmt.get("type") if isinstance(fmt, dict) else None
    if ftype == "text":
        ftype = None
    schema = None
    if ftype == "json_schema":
        schema = (fmt.get("json_schema") or {}).get("schema")
    elif ftype == "json_object":
        schema = fmt.get("schema")
    if schema is None:
        for m in reversed(body.get("messages") or []):
            found = _SCHEMA_IN_TEXT.search(str(m.get("content") or ""))
            if found:
                with contextlib.suppress(ValueError):
                    schema = json.loads(found.group(1))
                    break
    return schema, ftype


def _token_logprobs(reply: Reply, top_n: int) -> list[dict[str, Any]]:
    if reply.logprobs is not None:
        rows = reply.logprobs
    else:  # default: each whitespace-separated piece of the content is one token
        pieces = re.findall(r"\S+|\s+", reply.content or "")[:64]
        rows = [{p: -0.05, f"{p}_alt": -3.2} for p in pieces]
    out = []
    for row in rows:
        ranked = sorted(row.items(), key=lambda kv: -kv[1])
        token, lp = ranked[0]
        out.append(
            {
                "token": token,
                "logprob": lp,
                "bytes": list(token.encode()),
                "top_logprobs": [
                    {"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in ranked[:top_n]
                ],
            }
        )
    return out


class _HTTPError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        headers: dict[str, str] | None = None,
        code: str | None = None,
        kind: str = "loopback_error",
        param: str | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}
        self.code = code
        self.kind = kind
        self.param = param


class OpenAIServer:
    """The loopback server (see the module docstring).

    Parameters
    ----------
    latency_s : float
        Delay before every chat answer.
    latency_jitter_s : float
        Spread of that delay: each answer waits ``latency_s`` plus a uniform draw in
        ``[-latency_jitter_s, +latency_jitter_s]`` (seeded; the mean stays ``latency_s``). Real
        servers' latencies vary; a constant delay keeps bursts of answers in lock-step.
    responder : callable, optional
        ``ChatRequest -> Reply | str``; default :func:`default_responder`.
    faults : list of Fault, optional
        Fault rules, tried in order; the first that applies fires.
    port : int
        TCP port (0 picks a free one).
    batch_delay_s : float
        How long a batch stays ``in_progress`` before it completes.
    log_file : str, optional
        Also append every request-log entry as a JSON line to this file.
    cjk_tokens_per_char : float
        Prompt tokens the server counts (and reports in ``usage``) per CJK character; other
        text counts one token per 4 characters (:func:`count_tokens`).
    context_tokens : int, optional
        A context window, enforced like llama-cpp-python's server: a chat call whose prompt
        (as counted here) has ``context_tokens`` tokens or more gets HTTP 400 with code
        ``context_length_exceeded`` and llama-cpp-python's message; a shorter one is answered
        (the completion is clipped to the room left, which the default replies never need).
    embedder : callable, optional
        ``text -> vector``: answers ``POST /v1/embeddings``; without it that route is HTTP
        404 (a server with no embeddings endpoint).
    """

    def __init__(
        self,
        latency_s: float = 0.0,
        latency_jitter_s: float = 0.0,
        responder: Callable[[ChatRequest], Any] | None = None,
        faults: list[Fault] | None = None,
        port: int = 0,
        batch_delay_s: float = 0.2,
        log_file: str | None = None,
        cjk_tokens_per_char: float = 1.0,
        context_tokens: int | None = None,
        embedder: Callable[[str], list[float]] | None = None,
    ) -> None:
        if not 0 <= latency_jitter_s <= latency_s:
            raise ValueError("latency_jitter_s must be between 0 and latency_s")
        self.latency_s = latency_s
        self.latency_jitter_s = latency_jitter_s
        self._jitter_rng = random.Random(0)
        self.responder = responder or default_responder
        self.faults: list[Fault] = list(faults or [])
        self.port = port
        self.batch_delay_s = batch_delay_s
        self.log_file = log_file
        self.cjk_tokens_per_char = cjk_tokens_per_char
        self.context_tokens = context_tokens
        self.embedder = embedder
        self.requests: list[dict[str, Any]] = []
        self.counters: Counter[str] = Counter()
        self.files: dict[str, dict[str, Any]] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self.inflight = 0
        self.max_inflight = 0
        self._lock = threading.Lock()
        self._serial = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._log_handle = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/v1``."""
        return f"http://127.0.0.1:{self.port}/v1"

    def cli_flags(self, cache_dir: Any, model: str = "test-model") -> tuple[Any, ...]:
        """``--model``, ``--base-url`` and ``--cache-dir`` flags pointing a CLI run here."""
        return ("--model", model, "--base-url", self.base_url, "--cache-dir", cache_dir)

    async def start_async(self) -> None:
        """Start listening on the running event loop."""
        self._loop = asyncio.get_running_loop()
        if self.log_file:
            self._log_handle = open(self.log_file, "a", encoding="utf-8")  # noqa: SIM115
        self._server = await asyncio.start_server(
            self._handle, "127.0.0.1", self.port, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop_async(self) -> None:
        """Stop listening and close open connections."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                self._server.close_clients()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 2)
        if self._log_handle is not None:
            self._log_handle.close()
            self._log_handle = None

    def start(self) -> OpenAIServer:
        """Serve from a background thread; return when it accepts connections."""

        def serve() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            loop.run_until_complete(self.start_async())
            self._ready.set()
            loop.run_forever()
            loop.run_until_complete(self.stop_async())
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=serve, name="openai-loopback", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("loopback server did not start")
        return self

    def stop(self) -> None:
        """Stop the background server."""
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ------------------------------------------------------------------ helpers for tests
    def chat_requests(self) -> list[dict[str, Any]]:
        """Request-log entries of chat calls."""
        with self._lock:
            return [r for r in self.requests if r["path"] == "/v1/chat/completions"]

    def reset(self) -> None:
        """Clear the request log, counters and fault rules."""
        with self._lock:
            self.requests.clear()
            self.counters.clear()
            self.faults.clear()
            self.max_inflight = 0

    def _log(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)
            parts = entry["path"].split("/")
            self.counters[parts[2] if len(parts) > 2 else entry["path"]] += 1
            self.counters[f"status_{entry['status']}"] += 1
        if self._log_handle is not None:
            self._log_handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
            self._log_handle.flush()

    # ------------------------------------------------------------------ HTTP plumbing
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
                    return
                lines = head.decode("latin-1").split("\r\n")
                method, target, _version = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await self._read_body(reader, headers)
                status, payload, extra, ctype = await self._dispatch(method, target, headers, body)
                data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                head_out = [
                    f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}",
                    f"Content-Type: {ctype}",
                    f"Content-Length: {len(data)}",
                    f"x-request-id: req_{uuid.uuid4().hex[:12]}",
                ]
                head_out += [f"{k}: {v}" for k, v in extra.items()]
                close = headers.get("connection", "").lower() == "close"
                if close:
                    head_out.append("Connection: close")
                writer.write(("\r\n".join(head_out) + "\r\n\r\n").encode() + data)
                await writer.drain()
                if close:
                    return
        except (ConnectionError, asyncio.CancelledError):
            return
        finally:
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_body(self, reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
        if headers.get("transfer-encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int((await reader.readline()).strip().split(b";")[0], 16)
                if size == 0:
                    await reader.readline()
                    return b"".join(chunks)
                chunks.append(await reader.readexactly(size))
                await reader.readline()
        n = int(headers.get("content-length", "0") or 0)
        return await reader.readexactly(n) if n else b""

    async def _dispatch(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str], str]:
        path = target.split("?", 1)[0].rstrip("/")
        started = time.time()
        entry: dict[str, Any] = {"path": path, "method": method, "t_start": started}
        auth = headers.get("authorization", "")
        if auth:  # a digest only: the key itself is never kept
            entry["auth_sha256"] = hashlib.sha256(auth.removeprefix("Bearer ").encode()).hexdigest()
        try:
            if method == "POST" and path == "/v1/chat/completions":
                self.inflight += 1
                self.max_inflight = max(self.max_inflight, self.inflight)
                try:
                    status, payload, extra = await self._chat(json.loads(body or b"{}"), entry)
                finally:
                    self.inflight -= 1
            elif method == "POST" and path == "/v1/embeddings" and self.embedder is not None:
                status, payload, extra = 200, self._embeddings(json.loads(body or b"{}")), {}
            elif method == "GET" and path == "/v1/models":
                status, payload, extra = (
                    200,
                    {
                        "object": "list",
                        "data": [
                            {"id": "loopback", "object": "model", "created": 0, "owned_by": "test"}
                        ],
                    },
                    {},
                )
            elif path.startswith("/v1/files") or path.startswith("/v1/batches"):
                status, payload, extra = self._batch_api(method, path, headers, body)
                if isinstance(payload, bytes):
                    entry.update(status=status, t_end=time.time())
                    self._log(entry)
                    return status, payload, extra, "application/octet-stream"
            else:
                raise _HTTPError(404, f"no route {method} {path}")
        except _HTTPError as exc:
            status, extra = exc.status, exc.headers
            payload = {
                "error": {
                    "message": exc.message,
                    "type": exc.kind,
                    "param": exc.param,
                    "code": exc.code or status,
                }
            }
        except (ValueError, KeyError, TypeError) as exc:
            status, extra = 400, {}
            payload = {"error": {"message": f"bad request: {exc}", "type": "invalid_request_error"}}
        entry.update(status=status, t_end=time.time())
        self._log(entry)
        return status, payload, extra, "application/json"

    def _embeddings(self, body: dict[str, Any]) -> dict[str, Any]:
        texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
        assert self.embedder is not None
        data = [
            {"object": "embedding", "index": i, "embedding": list(self.embedder(str(t)))}
            for i, t in enumerate(texts)
        ]
        tokens = sum(count_tokens(str(t), self.cjk_tokens_per_char) for t in texts)
        return {
            "object": "list",
            "data": data,
            "model": body.get("model", "loopback"),
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }

    # ------------------------------------------------------------------ chat
    def _next_serial(self) -> int:
        with self._lock:
            self._serial += 1
            return self._serial

    def _pick_fault(self, req: ChatRequest) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.applies(req):
                    fault.hits += 1
                    return fault
        return None

    async def _chat(
        self, body: dict[str, Any], entry: dict[str, Any]
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        status, payload, extra, _ = await self.complete(body, entry)
        return status, payload, extra

    async def complete(
        self, body: dict[str, Any], entry: dict[str, Any] | None = None, sleep: bool = True
    ) -> tuple[int, dict[str, Any], dict[str, str], ChatRequest]:
        """Answer one chat-completion body: ``(status, payload, headers, parsed request)``."""
        entry = entry if entry is not None else {}
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            raise _HTTPError(400, "messages must be a non-empty list")
        schema, ftype = _extract_schema(body)
        req = ChatRequest(body, messages, schema, ftype, self._next_serial())
        entry.update(
            serial=req.serial,
            model=body.get("model"),
            format_type=ftype,
            last_user=req.last_user,
            n_messages=len(messages),
        )
        entry["prompt_tokens"] = self.prompt_tokens(messages)
        self._check_context(entry["prompt_tokens"], body)
        fault = self._pick_fault(req)
        entry["fault"] = fault.kind if fault else None
        if sleep and self.latency_s:
            jitter = self.latency_jitter_s
            await asyncio.sleep(self.latency_s + self._jitter_rng.uniform(-jitter, jitter))
        if fault is not None:
            if fault.kind == "status":
                headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
                raise _HTTPError(fault.status, f"injected HTTP {fault.status}", headers, fault.code)
            if fault.kind == "reject_json_schema":
                raise _HTTPError(500, "response_format json_schema is not supported")
            if fault.kind == "reject_response_format":
                raise _HTTPError(400, "response_format is not supported")
            if fault.kind == "hang" and sleep:
                await asyncio.sleep(fault.hang_s)
        reply = self.responder(req)
        if isinstance(reply, str):
            reply = Reply(reply)
        if fault is not None:
            reply = self._apply_content_fault(fault.kind, req, reply)
        return 200, self._completion(req, reply), {}, req

    def prompt_tokens(self, messages: list[dict[str, Any]]) -> int:
        """The prompt tokens this server counts (and reports) for ``messages``."""
        text = "".join(str(m.get("content") or "") for m in messages)
        return max(1, count_tokens(text, self.cjk_tokens_per_char))

    def _check_context(self, prompt_tokens: int, body: dict[str, Any]) -> None:
        """HTTP 400 like llama-cpp-python's server when the prompt fills the context window."""
        if self.context_tokens is None or prompt_tokens < self.context_tokens:
            return
        completion = int(body.get("max_tokens") or 0)
        raise _HTTPError(
            400,
            f"This model's maximum context length is {self.context_tokens} tokens. However, "
            f"you requested {prompt_tokens + completion} tokens ({prompt_tokens} in the "
            f"messages, {completion} in the completion). Please reduce the length of the "
            "messages or completion.",
            code="context_length_exceeded",
            kind="invalid_request_error",
            param="messages",
        )

    def _apply_content_fault(self, kind: str, req: ChatRequest, reply: Reply) -> Reply:
        if kind == "malformed_json":
            return Reply('{"this is": not valid json,, ', logprobs=reply.logprobs)
        if kind == "refusal":
            return Reply("", refusal="I can't help with that.")
        if kind == "truncated":
            cut = max(1, len(reply.content) // 2)
            return Reply(reply.content[:cut], finish_reason="length")
        if kind in ("missing_keys", "out_of_range"):
            try:
                value = json.loads(reply.content)
            except ValueError:
                value = {}
            broken = break_schema_value(req.schema or {}, value, kind)
            return Reply(json.dumps(broken))
        return reply

    def _completion(self, req: ChatRequest, reply: Reply) -> dict[str, Any]:
        message: dict[str, Any] = {
            "role": "assistant",
            "content": None if reply.refusal else reply.content,
        }
        if reply.refusal:
            message["refusal"] = reply.refusal
        choice: dict[str, Any] = {
            "index": 0,
            "message": message,
            "finish_reason": reply.finish_reason,
            "logprobs": None,
        }
        if req.body.get("logprobs"):
            top_n = int(req.body.get("top_logprobs") or 1)
            choice["logprobs"] = {"content": _token_logprobs(reply, top_n), "refusal": None}
        completion_tokens = max(1, len(reply.content or "") // 4)
        prompt_tokens = self.prompt_tokens(req.messages)
        return {
            "id": f"chatcmpl-{req.serial}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": req.body.get("model", "loopback"),
            "choices": [choice],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    # ------------------------------------------------------------------ batch API
    def _file_object(self, fid: str) -> dict[str, Any]:
        f = self.files[fid]
        return {
            "id": fid,
            "object": "file",
            "bytes": len(f["data"]),
            "created_at": f["created_at"],
            "filename": f["filename"],
            "purpose": f["purpose"],
            "status": "processed",
        }

    def _batch_api(
        self, method: str, path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any, dict[str, str]]:
        parts = path.split("/")[2:]  # files | files/ID | files/ID/content | batches...
        if parts == ["files"] and method == "POST":
            fields = _parse_multipart(headers.get("content-type", ""), body)
            fid = f"file-{uuid.uuid4().hex[:20]}"
            name, data = fields.get("file", ("upload.jsonl", b""))
            self.files[fid] = {
                "data": data,
                "filename": name or "upload.jsonl",
                "purpose": fields.get("purpose", (None, b"batch"))[1].decode(),
                "created_at": int(time.time()),
            }
            return 200, self._file_object(fid), {}
        if parts[0] == "files" and len(parts) >= 2:
            if parts[1] not in self.files:
                raise _HTTPError(404, f"no file {parts[1]}")
            if len(parts) == 3 and parts[2] == "content":
                return 200, self.files[parts[1]]["data"], {}
            return 200, self._file_object(parts[1]), {}
        if parts == ["batches"] and method == "POST":
            spec = json.loads(body)
            if spec.get("input_file_id") not in self.files:
                raise _HTTPError(400, "unknown input_file_id")
            bid = f"batch_{uuid.uuid4().hex[:20]}"
            now = int(time.time())
            self.batches[bid] = {
                "id": bid,
                "object": "batch",
                "endpoint": spec.get("endpoint"),
                "input_file_id": spec["input_file_id"],
                "completion_window": "24h",
                "status": "in_progress",
                "created_at": now,
                "in_progress_at": now,
                "metadata": spec.get("metadata"),
                "output_file_id": None,
                "error_file_id": None,
                "request_counts": {"total": 0, "completed": 0, "failed": 0},
            }
            assert self._loop is not None
            self._loop.create_task(self._run_batch(bid))
            return 200, self.batches[bid], {}
        if parts[0] == "batches" and len(parts) >= 2:
            if parts[1] not in self.batches:
                raise _HTTPError(404, f"no batch {parts[1]}")
            batch = self.batches[parts[1]]
            if len(parts) == 3 and parts[2] == "cancel" and batch["status"] == "in_progress":
                batch["status"] = "cancelled"
                batch["cancelled_at"] = int(time.time())
            return 200, batch, {}
        raise _HTTPError(404, f"no route {method} {path}")

    async def _run_batch(self, bid: str) -> None:
        batch = self.batches[bid]
        lines = self.files[batch["input_file_id"]]["data"].decode().splitlines()
        await asyncio.sleep(self.batch_delay_s)
        out, err = [], []
        for line in filter(None, (x.strip() for x in lines)):
            item = json.loads(line)
            entry: dict[str, Any] = {
                "path": "/v1/chat/completions",
                "method": "POST",
                "t_start": time.time(),
                "batch": bid,
                "custom_id": item.get("custom_id"),
            }
            try:
                status, payload, _, _ = await self.complete(item["body"], entry, sleep=False)
            except _HTTPError as exc:
                status = exc.status
                payload = {"error": {"message": exc.message, "code": status}}
            entry.update(status=status, t_end=time.time())
            self._log(entry)
            record = {
                "id": f"batch_req_{uuid.uuid4().hex[:16]}",
                "custom_id": item.get("custom_id"),
                "response": {
                    "status_code": status,
                    "request_id": uuid.uuid4().hex,
                    "body": payload,
                },
                "error": None,
            }
            (out if status == 200 else err).append(json.dumps(record))
        if batch["status"] == "cancelled":
            return
        now = int(time.time())
        for name, rows in (("output_file_id", out), ("error_file_id", err)):
            if rows:
                fid = f"file-{uuid.uuid4().hex[:20]}"
                self.files[fid] = {
                    "data": ("\n".join(rows) + "\n").encode(),
                    "filename": f"{bid}_{name}.jsonl",
                    "purpose": "batch_output",
                    "created_at": now,
                }
                batch[name] = fid
        batch["request_counts"] = {
            "total": len(out) + len(err),
            "completed": len(out),
            "failed": len(err),
        }
        batch.update(status="completed", completed_at=now, finalizing_at=now)


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str | None, bytes]]:
    """Parse ``multipart/form-data`` into ``{field: (filename, data)}``."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        raise _HTTPError(400, "expected multipart/form-data")
    sep = b"--" + m.group(1).encode()
    fields: dict[str, tuple[str | None, bytes]] = {}
    for part in body.split(sep)[1:]:
        if part.startswith(b"--"):
            break
        head, _, data = part.lstrip(b"\r\n").partition(b"\r\n\r\n")
        disp = head.decode("utf-8", "replace")
        name = re.search(r'name="([^"]*)"', disp)
        fname = re.search(r'filename="([^"]*)"', disp)
        if name:
            fields[name.group(1)] = (fname.group(1) if fname else None, data.removesuffix(b"\r\n"))
    return fields


def main(argv: list[str] | None = None) -> int:
    """Run the loopback server until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(description="OpenAI-compatible loopback test server")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--latency-jitter-ms", type=float, default=0.0, help="uniform +- spread of the latency"
    )
    parser.add_argument("--log", default=None, help="append the request log (JSON lines) here")
    args = parser.parse_args(argv)
    if not 0 <= args.latency_jitter_ms <= args.latency_ms:
        parser.error("--latency-jitter-ms must be between 0 and --latency-ms")
    server = OpenAIServer(
        latency_s=args.latency_ms / 1000,
        latency_jitter_s=args.latency_jitter_ms / 1000,
        port=args.port,
        log_file=args.log,
    )

    async def serve() -> None:
        await server.start_async()
        print(f"listening on {server.base_url}", flush=True)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        await server.stop_async()

    asyncio.run(serve())
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
