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
from typing import Any

from preference_dissect.llm.config import (
    HTTP_BACKENDS,
    STRUCTURED_MODES,
    CacheConfig,
    LLMConfig,
)

#: Flags a command may leave out (``exclude``): ``judge`` forces free text, never re-asks and
#: does not batch.
OPTIONAL_FLAGS = ("--structured", "--max-invalid", "--batch")


def _default(field: str) -> Any:
    return LLMConfig.model_fields[field].default


def add_llm_arguments(
    parser: argparse.ArgumentParser,
    default_model: str | None = None,
    *,
    model_required: bool = True,
    default_max_tokens: int | None = None,
    max_tokens_help: str | None = None,
    exclude: Collection[str] = (),
) -> None:
    """Add the LLM flags (model, server, decoding, retries, cost, cache, batch) to ``parser``.

    Every flag's dest is its :class:`LLMConfig` field and its default ``None``: an unset flag
    takes the config model's default (declared once, in :class:`LLMConfig`).

    Parameters
    ----------
    parser : argparse.ArgumentParser
    default_model : str, optional
        Default of ``--model``; with none, ``--model`` is required unless ``model_required``
        is False (commands that also run offline).
    model_required : bool
        See ``default_model``.
    default_max_tokens : int or None
        This command's completion limit when ``--max-tokens`` is not given (``None``: the
        config's default, or what the command decides).
    max_tokens_help : str, optional
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
        help=f"model name (default: {default_model})",
    )
    g.add_argument(
        "--base-url",
        default=None,
        help="OpenAI-compatible server, e.g. http://127.0.0.1:8080/v1 (default: OpenAI)",
    )
    g.add_argument(
        "--api-key-env",
        default=None,
        help=f"environment variable holding the API key (default: {_default('api_key_env')})",
    )
    _add_decoding_arguments(g, exclude, default_max_tokens, max_tokens_help)
    _add_limit_arguments(g)
    if "--batch" not in exclude:
        g.add_argument(
            "--batch",
            action="store_true",
            default=None,
            help="use the OpenAI Batch API (50%% cheaper)",
        )
    g.add_argument(
        "--http-backend",
        choices=HTTP_BACKENDS,
        default=None,
        help=f"HTTP transport under the openai SDK (default: {_default('http_backend')})",
    )
    _add_cache_arguments(g)
    parser.set_defaults(_default_max_tokens=default_max_tokens)


def _add_decoding_arguments(
    g: argparse._ArgumentGroup,
    exclude: Collection[str],
    default_max_tokens: int | None,
    max_tokens_help: str | None,
) -> None:
    """Sampling, completion limit, concurrency, retries, re-asks, timeout, structured mode."""
    g.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    limit = default_max_tokens or _default("max_tokens")
    g.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help=max_tokens_help or f"completion limit per call (default: {limit})",
    )
    g.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help=f"requests in flight at once (default: {_default('concurrency')})",
    )
    g.add_argument(
        "--max-retries",
        type=int,
        default=None,
        help=f"transport retries per call (default: {_default('max_retries')})",
    )
    if "--max-invalid" not in exclude:
        g.add_argument(
            "--max-invalid",
            type=int,
            default=None,
            help="re-asks after an answer that fails validation "
            f"(default: {_default('max_invalid')})",
        )
    g.add_argument(
        "--timeout",
        dest="timeout_s",
        type=float,
        default=None,
        metavar="TIMEOUT",
        help=f"seconds per call (default: {_default('timeout_s'):g})",
    )
    if "--structured" not in exclude:
        g.add_argument(
            "--structured",
            choices=STRUCTURED_MODES,
            default=None,
            help="structured-output mode (default auto: json_schema -> json_object -> text)",
        )


def _add_cache_arguments(g: argparse._ArgumentGroup) -> None:
    """``--cache-dir``, ``--no-cache``, ``--refresh``."""
    g.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="answer cache folder (default: $PD_CACHE_DIR or the user cache folder)",
    )
    g.add_argument(
        "--no-cache",
        dest="cache",
        action="store_false",
        default=None,
        help="neither read nor write the cache",
    )
    g.add_argument(
        "--refresh",
        action="store_true",
        default=None,
        help="ignore cached answers and overwrite them with fresh ones",
    )


def _add_limit_arguments(g: argparse._ArgumentGroup) -> None:
    """``--max-cost``, ``--allow-partial`` and ``--max-context``: what a run may spend and send."""
    g.add_argument(
        "--max-cost",
        dest="max_cost_usd",
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
        default=None,
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


def llm_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The :class:`LLMConfig` settings given on the command line (unset flags left out)."""
    values = {
        name: getattr(args, name)
        for name in LLMConfig.model_fields
        if getattr(args, name, None) is not None
    }
    default_tokens = getattr(args, "_default_max_tokens", None)
    if "max_tokens" not in values and default_tokens is not None:
        values["max_tokens"] = default_tokens
    return values


def add_judge_llm_arguments(
    parser: argparse.ArgumentParser, *, required: bool = False, help_model: str | None = None
) -> None:
    """Add ``--judge-model``, ``--judge-base-url`` and ``--judge-api-key-env``: a second model
    (the judge) beside ``--model``, on its own server; its other settings are the LLM flags'.

    Read them back with :func:`judge_llm_settings`.
    """
    j = parser.add_argument_group("LLM judge (its other settings are the LLM flags')")
    j.add_argument(
        "--judge-model",
        default=None,
        required=required,
        help=help_model or "the judge model",
    )
    j.add_argument(
        "--judge-base-url", default=None, help="the judge's server (default: --base-url)"
    )
    j.add_argument(
        "--judge-api-key-env",
        default=None,
        help="the judge's API key variable (default: --api-key-env)",
    )


def judge_llm_settings(
    args: argparse.Namespace, base: dict[str, Any], judge_model: str | None = None
) -> dict[str, Any]:
    """The judge's :class:`LLMConfig` settings: ``base`` (the generating model's settings)
    without its model, then the judge flags that were given (``judge_model`` when the flag
    was not)."""
    judge = {k: v for k, v in base.items() if k != "model"}
    for key, value in (
        ("model", args.judge_model or judge_model),
        ("base_url", args.judge_base_url),
        ("api_key_env", args.judge_api_key_env),
    ):
        if value:
            judge[key] = value
    return judge


def check_llm_args(args: argparse.Namespace) -> None:
    """Reject impossible LLM flag values before any work (one line naming the flag)."""
    settings = llm_settings(args)
    settings.setdefault("model", "-")  # the model may come later (offline commands)
    LLMConfig(**settings)


def configs_from_args(
    args: argparse.Namespace, **overrides: object
) -> tuple[LLMConfig, CacheConfig]:
    """The engine config from parsed flags (``overrides`` win, e.g. ``logprobs=True``), and
    its cache settings. Unset flags take the :class:`LLMConfig` defaults."""
    config = LLMConfig(**{**llm_settings(args), **overrides})
    return config, config.cache_config
