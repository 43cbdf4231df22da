"""The LLM engine: one way to ask an OpenAI-compatible model many structured questions.

Use it like this::

    from preference_dissect.llm import LLMConfig, LLMEngine, LLMRequest

    engine = LLMEngine(LLMConfig(model="gpt-4o-mini", concurrency=16))
    print(engine.preflight(requests).describe())  # raises CostCapError above the cap
    results = engine.run(requests)          # list[LLMResult], in request order
    engine.stats.as_dict()                  # requests sent, cache hits, failures, tokens, $

What it does for you:

- bounded concurrency (a fixed pool of ``concurrency`` workers) on the official ``openai``
  async client, over the SDK's aiohttp transport by default, with its own retry loop
  (timeouts, connection errors, 408/409/429/5xx; exponential backoff with full jitter;
  ``Retry-After`` honoured);
- structured output: ``json_schema`` response format, falling back to ``json_object`` with a
  schema (llama.cpp) and then to plain text with JSON extraction; every answer is validated
  with the request's pydantic schema and re-asked up to ``max_invalid`` times, then recorded
  as NA with a reason;
- a durable SQLite cache (content-addressed, written as each answer arrives) so a killed run
  resumes without losing or re-paying finished answers;
- token/cost accounting from a price table, a pre-flight estimate and budget gate
  (``engine.preflight(requests)`` raises ``CostCapError`` above ``max_cost_usd`` unless
  ``allow_partial``), a spending cap that is never crossed (conservative per-script token
  estimates, in-flight reservations) and a live progress bar;
- context windows: ``max_context`` (or the price table's) stops requests that cannot fit
  before they are sent, and a server's "context length exceeded" is NA
  ``context_overflow`` with its message; re-asks never grow the prompt;
- OpenAI Batch API mode (``LLMConfig(batch=True)``).

The API key is read from the environment variable named by ``api_key_env`` (surrounding
whitespace stripped, with a warning) and is never logged or written anywhere; user info in
``base_url`` is sent as basic auth and stripped from everything recorded.
"""

from preference_dissect.llm.cli_args import add_llm_arguments, configs_from_args
from preference_dissect.llm.config import (
    CacheConfig,
    CostEstimate,
    LLMConfig,
    LLMRequest,
    LLMResult,
    RunStats,
)
from preference_dissect.llm.engine import LLMEngine

__all__ = [
    "CacheConfig",
    "CostEstimate",
    "LLMConfig",
    "LLMEngine",
    "LLMRequest",
    "LLMResult",
    "RunStats",
    "add_llm_arguments",
    "configs_from_args",
]
