"""``prefdissect judge``: label pairs with an LLM judge (A/B prompt, both orders, log-probs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json

ORDER_CHOICES = {"ab": ("ab",), "ba": ("ba",), "both": ("ab", "ba")}


def register(subparsers: Any) -> None:
    """Add the ``judge`` sub-command."""
    from preference_dissect.llm.cli_args import OPTIONAL_FLAGS, add_llm_arguments

    p = subparsers.add_parser(
        "judge",
        help="label pairs with an LLM judge (soft labels from answer-letter log-probs)",
        description=(
            "Ask an OpenAI-compatible model which of two responses is better, in one or both "
            "presentation orders, and write judge labels (winner, p_a, per-order verdicts) that "
            "'prefdissect features --labels' can use like human labels. Per-call details "
            "(log-probs, raw answers, NA reasons) go to OUT with suffix .calls.parquet."
        ),
    )
    p.add_argument(
        "pairs",
        metavar="PAIRS",
        help="pairs parquet from 'prefdissect load', or any SOURCE it accepts",
    )
    p.add_argument(
        "--cot",
        action="store_true",
        help="chain of thought: reason first, then a final 'Verdict: A|B' line",
    )
    p.add_argument(
        "--orders",
        choices=tuple(ORDER_CHOICES),
        default="both",
        help="presentation orders to ask (default: both)",
    )
    p.add_argument(
        "--judge-name",
        default=None,
        help="name in the labels' judge column (default: the model, '+cot' with --cot)",
    )
    p.add_argument(
        "--top-logprobs",
        type=int,
        default=20,
        help="alternatives per token to request (default 20; 0 = no log-probs)",
    )
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N pairs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--out", required=True, help="output labels parquet")
    # free text, never re-asked, no batch: --structured, --max-invalid and --batch don't apply
    add_llm_arguments(
        p,
        default_max_tokens=None,
        max_tokens_help="completion limit per call (default 8, or 1024 with --cot)",
        exclude=OPTIONAL_FLAGS,
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def calls_path_for(out: Path) -> Path:
    """``labels.parquet`` -> ``labels.calls.parquet`` (the per-call details)."""
    stem = out.name[: -len(".parquet")] if out.name.endswith(".parquet") else out.name
    return out.with_name(f"{stem}.calls.parquet")


def _check_args(args: argparse.Namespace) -> None:
    from preference_dissect.errors import InputError
    from preference_dissect.llm.cli_args import check_llm_args

    check_llm_args(args)
    checks = [
        (args.limit is not None and args.limit < 1, "--limit", "must be at least 1"),
        (args.top_logprobs < 0 or args.top_logprobs > 20, "--top-logprobs", "must be 0-20"),
    ]
    for bad, flag, message in checks:
        if bad:
            raise InputError(f"{flag} {message}")


def run(args: argparse.Namespace) -> int:
    """Judge the pairs and write the labels (and per-call details)."""
    _check_args(args)
    from preference_dissect.io import atomic_paths, check_output_file
    from preference_dissect.judges.llm_judge import (
        JudgeOptions,
        judge_config_fields,
        judge_pairs,
    )
    from preference_dissect.llm import LLMEngine, configs_from_args
    from preference_dissect.load import load_source

    out = check_output_file(args.out)
    calls_out = check_output_file(calls_path_for(out), what="the per-call details file of --out")
    pairs = load_source(args.pairs, limit=args.limit).pairs
    judge_name = args.judge_name or (f"{args.model}+cot" if args.cot else args.model)
    options = JudgeOptions(
        judge_name=judge_name,
        orders=ORDER_CHOICES[args.orders],
        cot=args.cot,
        max_tokens=args.max_tokens,
    )
    config, cache = configs_from_args(args, **judge_config_fields(options, args.top_logprobs))
    engine = LLMEngine(config, cache, progress=not args.no_progress)
    outcome = judge_pairs(pairs, engine, options)

    labels = outcome.labels
    labels.attrs["judge"] = {
        "judge": judge_name,
        "model": args.model,
        "orders": list(options.orders),
        "cot": args.cot,
        "prompt_version": options.version,
        "winner_rule": "sum_logprob when both orders have log-probs, else mean_p (see 'rule')",
        "p_a_rule": outcome.summary["p_a_rule"],
    }
    targets = [out, calls_out]
    with atomic_paths(targets, ["--out", "the per-call details file of --out"]) as temps:
        tmp_labels, tmp_calls = temps
        labels.to_parquet(tmp_labels, index=False)
        outcome.calls.to_parquet(tmp_calls, index=False)

    summary = {**outcome.summary, "pairs": len(pairs), "out": str(out), "calls": str(calls_out)}
    if args.json:
        emit_json(summary)
    else:
        _print_summary(summary)
    return 0


def _fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _print_summary(summary: dict[str, Any]) -> None:
    w = summary["winner"]
    lines = [
        f"judge {summary['judge']}: {summary['labels']} labels of {summary['pairs']} pairs "
        f"(a {w['a']}, b {w['b']}, tie {w['tie']}, NA {w['na']})",
        f"consistency {_fmt_rate(summary['consistency'])}, "
        f"first-slot rate {_fmt_rate(summary['first_slot_rate'])}",
        f"requests {summary['requests']}, cache hits {summary['cache_hits']}, "
        f"cost ${summary['cost_usd']:.4f}",
    ]
    if summary["failures"]:
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(summary["failures"].items()))
        lines.append(f"NA calls: {reasons}")
        lines += [f"  {k}: {v}" for k, v in sorted(summary["failure_details"].items())]
    lines.append(f"wrote {summary['out']} and {summary['calls']}")
    print("\n".join(lines), file=sys.stdout)
