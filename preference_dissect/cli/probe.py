"""``prefdissect probe``: measure a model's behaviour with fixed test sets.

``prefdissect probe sycophancy`` runs the SycophancyEval probes (Sharma et al. 2023).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json

TASK_FLAGS = (
    ("--answer", "answer", "answer.jsonl: questions under 4 suggestion templates"),
    ("--are-you-sure", "are_you_sure", "are_you_sure.jsonl: questions, then a challenge"),
    ("--feedback", "feedback", "feedback.jsonl: texts to comment on (needs --judge-model)"),
    ("--mimicry", "mimicry", "mimicry.jsonl: poems attributed to the wrong poet"),
)


def register(subparsers: Any) -> None:
    """Add the ``probe`` command and its ``sycophancy`` sub-command."""
    p = subparsers.add_parser(
        "probe",
        help="probe a model's behaviour with fixed test sets (sycophancy)",
        description="Probe a model's behaviour with fixed test sets.",
    )
    p.set_defaults(func=lambda args: _no_probe(p))
    probes = p.add_subparsers(dest="probe", metavar="PROBE")
    _register_sycophancy(probes)


def _no_probe(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _register_sycophancy(probes: Any) -> None:
    from preference_dissect.llm.cli_args import (
        OPTIONAL_FLAGS,
        add_judge_llm_arguments,
        add_llm_arguments,
    )

    s = probes.add_parser(
        "sycophancy",
        help="SycophancyEval (Sharma et al. 2023): feedback, are-you-sure, answer, mimicry",
        description=(
            "Run the SycophancyEval probes of Sharma et al. (2023) against an OpenAI-compatible "
            "model: feedback positivity when the user likes / wrote the text, capitulation when "
            "challenged, answers swayed by the user's suggestion, mimicry of a wrong "
            "attribution. FILE is a .jsonl / .jsonl.gz path or hf:OWNER/NAME/FILE, e.g. "
            "hf:meg-tong/sycophancy-eval/answer.jsonl. Writes responses.parquet, "
            "metrics.parquet, summary.json and sycophancy.png into --out."
        ),
    )
    g = s.add_argument_group("tasks (at least one)")
    for flag, dest, text in TASK_FLAGS:
        g.add_argument(flag, dest=dest, metavar="FILE", default=None, help=text)
    s.add_argument("--out", required=True, metavar="DIR", help="output folder")
    s.add_argument(
        "--limit", type=int, default=None, metavar="N", help="only the first N items per task"
    )
    s.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_llm_arguments(s, default_max_tokens=512, exclude=OPTIONAL_FLAGS)
    add_judge_llm_arguments(
        s,
        help_model="judge model: compares feedback positivity (needed by --feedback) and "
        "decides whether an are-you-sure reply admits a mistake (else a phrase rule)",
    )
    add_json_flag(s)
    s.set_defaults(func=run_sycophancy)


def _check_args(args: argparse.Namespace) -> None:
    from preference_dissect.errors import InputError
    from preference_dissect.llm.cli_args import check_llm_args

    check_llm_args(args)
    if all(getattr(args, dest) is None for _, dest, _ in TASK_FLAGS):
        raise InputError(
            "give at least one task file: --answer, --are-you-sure, --feedback or --mimicry"
        )
    if args.limit is not None and args.limit < 1:
        raise InputError("must be at least 1", field="--limit")
    if args.feedback is not None and not args.judge_model:
        raise InputError(
            "--feedback needs a judge to compare feedback positivity", field="--judge-model"
        )


def _engines(args: argparse.Namespace) -> tuple[Any, Any]:
    """The model's engine and the judge's (or ``None``), sharing one spending ledger."""
    from preference_dissect.interventions._common import engines_on_one_ledger
    from preference_dissect.llm import LLMConfig
    from preference_dissect.llm.cli_args import judge_llm_settings, llm_settings

    settings = llm_settings(args)
    judge = LLMConfig(**judge_llm_settings(args, settings)) if args.judge_model else None
    return engines_on_one_ledger(LLMConfig(**settings), judge, progress=not args.no_progress)


def run_sycophancy(args: argparse.Namespace) -> int:
    """Run the probes and write their outputs."""
    _check_args(args)
    from preference_dissect.io import check_output_folder
    from preference_dissect.probes import probe_sycophancy

    out = check_output_folder(args.out)
    model, judge = _engines(args)
    files = {dest: getattr(args, dest) for _, dest, _ in TASK_FLAGS}
    result = probe_sycophancy(model, judge_engine=judge, limit=args.limit, **files)
    written = result.save(out)
    summary = {**result.summary, "out": str(out), "files": [str(p) for p in written]}
    if args.json:
        emit_json(summary)
    else:
        _print_summary(summary)
    return 0


def _fmt(value: Any) -> str:
    return "n/a" if value is None or value != value else f"{value:.3f}"


def _print_summary(summary: dict[str, Any]) -> None:
    lines = []
    for task, facts in summary["tasks"].items():
        na = ", ".join(f"{k} {v}" for k, v in sorted(facts["na"].items()))
        lines.append(
            f"{task}: {facts['items']} items, {facts['calls']} calls"
            f" ({facts['cached']} cached{'; NA ' + na if na else ''})"
        )
        for m in summary["metrics"]:
            if m["task"] != task or m["dataset"] != "all":
                continue
            template = f" [{m['template']}]" if isinstance(m["template"], str) else ""
            lines.append(
                f"  {m['metric']}{template}: {_fmt(m['value'])} "
                f"(95% {_fmt(m['low'])}-{_fmt(m['high'])}, n={m['n']})"
            )
    if summary["admission_rule"]:
        lines.append(f"are_you_sure admissions read by: {summary['admission_rule']}")
    lines.append(
        f"requests {summary['requests']}, cache hits {summary['cache_hits']}, "
        f"cost ${summary['cost_usd']:.4f}"
    )
    lines.append(f"wrote {', '.join(summary['files'])}")
    print("\n".join(lines), file=sys.stdout)
