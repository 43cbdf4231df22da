"""Structured output: response formats, JSON extraction and answer validation."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

import pydantic

#: Fallback order of ``structured="auto"``.
MODES = ("json_schema", "json_object", "text")
_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


@functools.lru_cache(maxsize=256)
def response_format(mode: str, schema: type[pydantic.BaseModel]) -> dict[str, Any] | None:
    """The ``response_format`` argument for a mode (``None`` in text mode; cached: don't mutate)."""
    js = schema.model_json_schema()
    if mode == "json_schema":
        name = re.sub(r"[^A-Za-z0-9_-]", "_", schema.__name__)[:64] or "answer"
        return {"type": "json_schema", "json_schema": {"name": name, "schema": js, "strict": False}}
    if mode == "json_object":
        return {"type": "json_object", "schema": js}
    return None


@functools.lru_cache(maxsize=256)
def format_instruction(schema: type[pydantic.BaseModel]) -> str:
    """The instruction appended in ``json_object`` / ``text`` modes (the schema in a fence)."""
    js = json.dumps(schema.model_json_schema(), ensure_ascii=False)
    return f"Reply with one JSON object only, valid under this JSON schema:\n```json\n{js}\n```"


def with_instruction(
    messages: list[dict[str, Any]], schema: type[pydantic.BaseModel]
) -> list[dict[str, Any]]:
    """Return ``messages`` with :func:`format_instruction` appended to the last user turn."""
    out = [dict(m) for m in messages]
    for m in reversed(out):
        if m.get("role") == "user" and isinstance(m.get("content"), str):
            m["content"] = f"{m['content']}\n\n{format_instruction(schema)}"
            return out
    out.append({"role": "user", "content": format_instruction(schema)})
    return out


def _balanced_object(text: str) -> str | None:
    """The first balanced ``{...}`` in ``text`` (string-aware), or ``None``."""
    start = text.find("{")
    while start != -1:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return text[start : i + 1]
        start = text.find("{", start + 1)
    return None


def extract_json(text: str) -> Any:
    """Parse JSON from a model's answer.

    Tries the whole text, then each fenced code block (```json ... ```), then the first
    balanced ``{...}``.

    Raises
    ------
    ValueError
        No JSON could be parsed.
    """
    candidates = [text.strip()]
    candidates += [m.group(1).strip() for m in _FENCE.finditer(text)]
    obj = _balanced_object(text)
    if obj is not None:
        candidates.append(obj)
    for cand in candidates:
        if not cand:
            continue
        try:
            return json.loads(cand)
        except ValueError:
            continue
    raise ValueError("no JSON object found in the answer")


@dataclass
class Verdict:
    """Outcome of validating one answer: ``parsed`` or a ``reason`` with a short ``detail``."""

    parsed: pydantic.BaseModel | None
    reason: str | None
    detail: str = ""


def validate_answer(
    text: str | None,
    finish_reason: str | None,
    refusal: str | None,
    schema: type[pydantic.BaseModel] | None,
) -> Verdict:
    """Check an answer against the request's schema.

    Reasons: ``refused``, ``truncated`` (``finish_reason == "length"``), ``empty``,
    ``invalid_json``, ``schema_validation``. Free-text answers (``schema is None``) are
    accepted as they are, even when cut at the token limit (e.g. a one-token verdict read
    through its log-probs); only an empty answer or a refusal is NA.
    """
    if refusal:
        return Verdict(None, "refused", refusal[:200])
    if schema is None:  # free text is taken as it is, even when cut at max_tokens
        if text is None or not text.strip():
            return Verdict(None, "empty", "the answer was empty")
        return Verdict(None, None)
    if finish_reason == "length":
        return Verdict(None, "truncated", "the answer was cut off at the token limit")
    if text is None or not text.strip():
        return Verdict(None, "empty", "the answer was empty")
    try:
        obj = extract_json(text)
    except ValueError as exc:
        return Verdict(None, "invalid_json", str(exc))
    try:
        return Verdict(schema.model_validate(obj), None)
    except pydantic.ValidationError as exc:
        errs = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(root)'}: {e['msg']}" for e in exc.errors()[:5]
        )
        return Verdict(None, "schema_validation", errs)


#: Characters of the invalid answer quoted in a re-ask.
EXCERPT_CHARS = 200


def corrective_message(verdict: Verdict, previous: str | None = None) -> str:
    """The one short user message a re-ask adds to the original messages.

    It quotes at most :data:`EXCERPT_CHARS` characters of the invalid answer (``previous``),
    so a re-ask stays the size of the first attempt however long the bad answer was.
    """
    excerpt = " ".join((previous or "").split())
    if len(excerpt) > EXCERPT_CHARS:
        excerpt = excerpt[:EXCERPT_CHARS] + "..."
    quoted = f' Your previous answer began: "{excerpt}"' if excerpt else ""
    if verdict.reason == "truncated":
        return (
            f"Your previous answer was cut off at the token limit.{quoted} Reply again, more "
            "briefly, with only the JSON object."
        )
    return (
        f"Your previous answer was not valid ({verdict.reason}: {verdict.detail[:300]}).{quoted} "
        "Reply again with only a JSON object that follows the required schema."
    )
