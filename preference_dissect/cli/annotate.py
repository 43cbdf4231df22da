"""``prefdissect annotate``: measure attributes of both responses of every pair."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def add_engine_arguments(p: argparse.ArgumentParser, *, default_max_tokens: int = 1024) -> None:
    """The shared LLM flags (``--model`` optional: ``rules`` runs offline) plus ``--limit`` and
    ``--no-progress``, for ``annotate`` and ``classify``."""
    from preference_dissect.llm.cli_args import add_llm_arguments

    add_llm_arguments(p, model_required=False, default_max_tokens=default_max_tokens)
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N pairs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: Any) -> None:
    """Add the ``annotate`` sub-command."""
    p = subparsers.add_parser(
        "annotate",
        help="annotate attributes of both responses (rules offline, or an LLM)",
        description=(
            "Annotate every pair with an attribute set and write the long annotations table "
            "(pair_id, annotator, attribute, side, value, na_reason, raw). 'rules' runs offline; "
            "gair29, sharma24 and custom YAML sets call an OpenAI-compatible model (answers are "
            "cached, so a re-run costs nothing). A cost estimate is printed to stderr first."
        ),
    )
    p.add_argument(
        "pairs",
        metavar="PAIRS",
        help="pair dataset parquet (from 'prefdissect load') or a load source (bundled:NAME)",
    )
    p.add_argument(
        "--annotator",
        default="rules",
        metavar="NAME|FILE.yaml",
        help="rules (default, offline), gair29, sharma24, or an attribute-set YAML file",
    )
    add_engine_arguments(p)
    p.add_argument("--out", required=True, help="output annotations parquet")
    add_json_flag(p)
    p.set_defaults(func=run)


def check_engine_args(args: argparse.Namespace) -> None:
    """Reject impossible flag values with one-line errors (also on the offline path)."""
    from preference_dissect.errors import InputError
    from preference_dissect.llm.cli_args import check_llm_args

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    check_llm_args(args)


def build_engine(args: argparse.Namespace) -> Any:
    """An :class:`LLMEngine` from the shared flags (configs built by the engine's helper)."""
    from preference_dissect.llm import LLMEngine
    from preference_dissect.llm.cli_args import configs_from_args

    generate, cache = configs_from_args(args)
    return LLMEngine(generate, cache, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    """Annotate the pairs and write the annotations table."""
    check_engine_args(args)
    from preference_dissect.annotate.kinds import get_annotator
    from preference_dissect.annotate.runner import annotate_pairs, read_pairs
    from preference_dissect.errors import InputError
    from preference_dissect.io import check_output_file, write_parquet

    out = check_output_file(args.out)
    annotator = get_annotator(args.annotator)
    if annotator.needs_llm and not args.model:
        raise InputError(
            f"annotator {annotator.name!r} calls a model: give --model (and --base-url)"
        )
    dataset = read_pairs(args.pairs, args.limit)
    pairs = dataset.pairs

    engine = None
    note = " (later stages approximated)" if annotator.name == "gair29" else ""

    def announce(estimate: Any) -> None:
        print(f"estimate{note}: {estimate.describe()}", file=sys.stderr)

    if annotator.needs_llm:
        engine = build_engine(args)
    else:
        print(f"estimate: {len(pairs)} pairs, offline rules: 0 requests, $0", file=sys.stderr)

    table, summary = annotate_pairs(pairs, annotator, engine, announce=announce)
    write_parquet(table, out)
    summary["out"] = str(out)
    if args.json:
        emit_json(summary)
    else:
        _print_summary(summary)
    return 0


def detail_lines(details: dict[str, str]) -> list[str]:
    """``  REASON: what the server said`` for each NA reason with a message."""
    return [f"  {reason}: {text}" for reason, text in sorted(details.items())]


def _print_summary(summary: dict[str, Any]) -> None:
    na = ", ".join(f"{k} {v}" for k, v in sorted(summary["na"].items())) or "none"
    failures = ", ".join(f"{k} {v}" for k, v in sorted(summary["failures"].items())) or "none"
    lines = [
        f"{summary['annotator']} (version {summary['version']}): {summary['rows']} rows for "
        f"{summary['pairs']} pairs; NA: {na}",
        f"requests {summary['requests']}, cache hits {summary['cache_hits']}, failures {failures}, "
        f"tokens {summary['tokens']}, cost ${summary['cost_usd']:.4f}",
        *detail_lines(summary.get("failure_details") or {}),
        f"wrote {summary['out']}",
    ]
    print("\n".join(lines))
