"""Token prices (``models/prices/openai.yaml``) and cost arithmetic."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from preference_dissect.definitions import price_table


@dataclass(frozen=True)
class Price:
    """USD per 1M input and output tokens for one model (``known=False``: not in the table).

    ``context`` is the model's context window in tokens from the table's ``context`` column
    (``None`` when the table does not say).
    """

    model: str
    input_per_m: float
    output_per_m: float
    known: bool
    context: int | None = None

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float:
        """Dollars for this many tokens."""
        return (prompt_tokens * self.input_per_m + completion_tokens * self.output_per_m) / 1e6


def _table_row(model: str, models: dict[str, dict[str, float]]) -> dict[str, float] | None:
    """The row of ``model``: exact name, else the longest ``N`` with ``model`` = ``N-...``."""
    if model in models:
        return models[model]
    candidates = [n for n in models if model.startswith(n + "-")]
    return models[max(candidates, key=len)] if candidates else None


def lookup_price(
    model: str,
    override: tuple[float, float] | None = None,
    batch: bool = False,
    table: str = "openai",
) -> Price:
    """Return the price (and context window, when listed) of ``model``.

    Parameters
    ----------
    model : str
        Model name; matched exactly, or by the longest table name ``N`` with ``model`` starting
        with ``N-`` (dated snapshots).
    override : tuple of float, optional
        ``(input, output)`` USD per 1M tokens; wins over the table (the context window still
        comes from it).
    batch : bool
        Apply the table's Batch API discount.
    table : str
        Price table name or path (``models/prices/NAME.yaml``, or a YAML path).
    """
    data: dict[str, Any] = price_table(table)
    factor = float(data.get("batch_discount", 1.0)) if batch else 1.0
    row = _table_row(model, data.get("models", {}))
    context = int(row["context"]) if row is not None and row.get("context") else None
    if override is not None:
        return Price(model, override[0] * factor, override[1] * factor, True, context)
    if row is None:
        return Price(model, 0.0, 0.0, False)
    return Price(model, float(row["input"]) * factor, float(row["output"]) * factor, True, context)


#: ASCII characters (digits aside) per token, at least (see :func:`estimate_text_tokens`).
ASCII_CHARS_PER_TOKEN = 3
#: Chat framing per message (role markers, separators) and per request (the reply primer,
#: a chat template's default system prompt).
TOKENS_PER_MESSAGE = 6
TOKENS_PER_REQUEST = 24
_DIGITS = "0123456789"


def estimate_text_tokens(text: str) -> int:
    """A conservative (high) token count of ``text``, per script.

    - ASCII digits: 1 token each (SmolLM2, Llama 1/2, Mistral and Qwen split numbers into
      single digits);
    - other ASCII: 1 token per :data:`ASCII_CHARS_PER_TOKEN` (3) characters. English prose
      is ~4 characters per token on GPT-4o's and SmolLM2's tokenizers; 3 leaves room for
      code, markup and JSON (measured on the bundled arena and hh-rlhf texts with SmolLM2's
      tokenizer: median ~3.9, 2.4 at worst on indentation-heavy code, where the digits rule
      and the framing add the slack);
    - every other character: 1 token per UTF-8 byte, so 3 per CJK ideograph, kana or hangul
      syllable and 2 per Cyrillic, Greek or accented letter. A byte-level BPE (GPT-2, GPT-4o,
      Llama 3, Qwen, SmolLM2) never makes more tokens than bytes, and SentencePiece models
      fall back to bytes, so this is a ceiling, not a guess. ``characters / 4`` was ~4x low
      for CJK (SmolLM2 measured 1.6-2.4 tokens per Han character, up to 2.85 per hangul
      syllable; GPT-4o's tokenizer ~1).

    The result is an upper bound for typical text, not an exact count: it is meant for cost
    reservations, the pre-flight estimate and the context-window check.
    """
    ascii_chars = len(text.encode("ascii", "ignore"))
    other_bytes = len(text.encode("utf-8", "surrogatepass")) - ascii_chars
    digits = sum(map(text.count, _DIGITS))
    return math.ceil((ascii_chars - digits) / ASCII_CHARS_PER_TOKEN) + digits + other_bytes


def estimate_prompt_tokens(messages: list[dict[str, Any]]) -> int:
    """Conservative input tokens of chat messages: :func:`estimate_text_tokens` of each
    content plus :data:`TOKENS_PER_MESSAGE` per message and :data:`TOKENS_PER_REQUEST`."""
    text = sum(estimate_text_tokens(str(m.get("content") or "")) for m in messages)
    return text + TOKENS_PER_MESSAGE * len(messages) + TOKENS_PER_REQUEST


def estimate_body_tokens(body: dict[str, Any]) -> int:
    """Conservative input tokens of a chat-completion body: its messages plus its
    ``response_format`` (OpenAI counts a JSON schema as input)."""
    tokens = estimate_prompt_tokens(body.get("messages") or [])
    fmt = body.get("response_format")
    if fmt:
        tokens += estimate_text_tokens(json.dumps(fmt, ensure_ascii=False))
    return tokens
