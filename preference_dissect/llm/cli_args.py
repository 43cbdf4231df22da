"""Command-line flags shared by every command that calls an LLM (annotate, classify, run).

Use::

    def register(subparsers):
        parser = subparsers.add_parser("judge", ...)
        add_llm_arguments(parser, default_model="gpt-4o-mini")

    def run(args):
        generate, cache = configs_from_args(args)
        engine = LLMEngine(generate, cache, progress=not args.json)
"""

from __future__ import annotations

import argparse
from collections.abc import Collection
from pathlib import Path

from preference_dissect.errors import InputError
from preference_dissect.llm.config import (
    HTTP_BACKENDS,
    STRUCTURED_MODES,
    CacheConfig,
    GenerateConfig,
)

#: Flags a command may leave out (``exclude``): ``judge`` forces free text, never re-asks and
#: does not batch.
OPTIONAL_FLAGS = ("--structured", "--max-invalid", "--batch")
#: Parsed flag name -> :class:`GenerateConfig` field.
_CONFIG_FIELDS = {
    "model": "model",
    "base_url": "base_url",
    "api_key_env": "api_key_env",
    "temperature": "temperature",
    "max_tokens": "max_tokens",
    "concurrency": "concurrency",
    "max_retries": "max_retries",
    "max_invalid": "max_invalid",
    "timeout": "timeout_s",
    "structured": "structured",
    "max_cost": "max_cost_usd",
    "batch": "batch",
    "http_backend": "http_backend",
    "max_context": "max_context",
    "allow_partial": "allow_partial",
}


def add_llm_arguments(
    parser: argparse.ArgumentParser,
    default_model: str | None = None,
    *,
    model_required: bool = True,
    default_max_tokens: int | None = 1024,
    max_tokens_help: str = "completion limit per call (default: %(default)s)",
    exclude: Collection[str] = (),
) -> None:
    """Add the LLM flags (model, server, decoding, retries, cost, cache, batch) to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
    default_model : str, optional
        Default of ``--model``; with none, ``--model`` is required unless ``model_required``
        is False (commands that also run offline).
    model_required : bool
        See ``default_model``.
    default_max_tokens : int or None
        Default completion limit of this command (``None``: the command decides).
    max_tokens_help : str
        Help text of ``--max-tokens``.
    exclude : collection of str
        Flags of :data:`OPTIONAL_FLAGS` this command does not offer.
    """
    unknown = set(exclude) - set(OPTIONAL_FLAGS)
    if unknown:
        raise ValueError(f"only {OPTIONAL_FLAGS} can be excluded, not {sorted(unknown)}")
    g = parser.add_argument_group("LLM")
    g.add_argument(
        "--model",
        default=default_model,
        required=model_required and default_model is None,
        help="model name (default: %(default)s)",
    )
    g.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (default: OpenAI)",
    )
    g.add_argument(
        "--api-key-env",
        default="OPENAI_API_KEY",
        help="environment variable holding the API key (default: %(default)s)",
    )
    g.add_argument("--temperature", type=float, default=0.0)
    g.add_argument(
        "--max-tokens",
        type=int,
        default=default_max_tokens,
        help=max_tokens_help,
    )
    g.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    g.add_argument("--max-retries", type=int, default=6, help="transport retries per call")
    if "--max-invalid" not in exclude:
        g.add_argument(
            "--max-invalid",
            type=int,
            default=2,
            help="re-asks after an answer that fails validation",
        )
    g.add_argument("--timeout", type=float, default=120.0, help="seconds per call")
    if "--structured" not in exclude:
        g.add_argument(
            "--structured",
            choices=STRUCTURED_MODES,
            default="auto",
            help="structured-output mode (auto falls back json_schema -> json_object -> text)",
        )
    _add_limit_arguments(g)
    if "--batch" not in exclude:
        g.add_argument(
            "--batch", action="store_true", help="use the OpenAI Batch API (50%% cheaper)"
        )
    g.add_argument(
        "--http-backend",
        choices=HTTP_BACKENDS,
        default="aiohttp",
        help="HTTP transport under the openai SDK (default: %(default)s)",
    )
    g.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="answer cache folder (default: $PD_CACHE_DIR or the user cache folder)",
    )
    g.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    g.add_argument(
        "--refresh",
        action="store_true",
        help="ignore cached answers and overwrite them with fresh ones",
    )


def _add_limit_arguments(g: argparse._ArgumentGroup) -> None:
    """``--max-cost``, ``--allow-partial`` and ``--max-context``: what a run may spend and send."""
    g.add_argument(
        "--max-cost",
        type=float,
        default=None,
        metavar="USD",
        help=(
            "spending cap in dollars: a run whose pre-flight estimate is above it stops before "
            "spending (see --allow-partial); calls are never sent past it"
        ),
    )
    g.add_argument(
        "--allow-partial",
        action="store_true",
        help=(
            "run even when the estimate is above --max-cost: stop sending at the cap and "
            "leave the rest NA 'cost_cap'"
        ),
    )
    g.add_argument(
        "--max-context",
        type=int,
        default=None,
        metavar="TOKENS",
        help=(
            "the model's context window; a request whose prompt estimate + --max-tokens "
            "exceeds it is NA 'context_overflow' without being sent (default: the price "
            "table's value for known models, else no check)"
        ),
    )


def check_llm_args(args: argparse.Namespace) -> None:
    """Reject impossible LLM flag values with one-line errors naming the flag."""
    checks = [
        (args.concurrency < 1, "--concurrency", "must be at least 1"),
        (args.max_tokens is not None and args.max_tokens < 1, "--max-tokens", "must be at least 1"),
        (args.max_cost is not None and args.max_cost < 0, "--max-cost", "must not be negative"),
        (args.model is not None and not args.model.strip(), "--model", "must not be empty"),
        (args.temperature < 0, "--temperature", "must not be negative"),
        (args.max_retries < 0, "--max-retries", "must not be negative"),
        (getattr(args, "max_invalid", 0) < 0, "--max-invalid", "must not be negative"),
        (args.timeout <= 0, "--timeout", "must be positive"),
        (args.max_context is not None and args.max_context < 1, "--max-context", "must be >= 1"),
        (
            args.max_context is not None
            and args.max_tokens is not None
            and args.max_tokens >= args.max_context,
            "--max-tokens",
            "must be smaller than --max-context (no prompt would fit)",
        ),
    ]
    for bad, flag, message in checks:
        if bad:
            raise InputError(f"{flag} {message}")


def configs_from_args(
    args: argparse.Namespace, **overrides: object
) -> tuple[GenerateConfig, CacheConfig]:
    """Build the engine configs from parsed flags (``overrides`` win, e.g. ``logprobs=True``).

    Flags a command left out, or left at ``None``, take the :class:`GenerateConfig` defaults.
    """
    values: dict[str, object] = {
        field: getattr(args, name)
        for name, field in _CONFIG_FIELDS.items()
        if hasattr(args, name) and getattr(args, name) is not None
    }
    values.update(overrides)
    try:
        generate = GenerateConfig(**values)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InputError(str(exc)) from None
    if args.no_cache and args.refresh:
        raise InputError("--no-cache and --refresh cannot be used together")
    cache = CacheConfig(cache_dir=args.cache_dir, enabled=not args.no_cache, refresh=args.refresh)
    return generate, cache
