"""``prefdissect run``: the main job, from a source to a report, in one run directory."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``run`` sub-command."""
    p = subparsers.add_parser(
        "run",
        help="run the whole pipeline (load, annotate, features, fit, analyze, audit, report)",
        description=(
            "Run load -> classify -> annotate -> features -> fit -> analyze -> audit -> report "
            "into one run directory. Without SOURCE it dissects the bundled hh-rlhf harmless "
            "test set offline with the `rules` annotator. With --model it annotates with "
            "gair29 (or --annotator) through an OpenAI-compatible server. Re-running with the "
            "same settings reuses finished stages."
        ),
    )
    p.add_argument(
        "source",
        nargs="?",
        default=None,
        metavar="SOURCE",
        help="path, bundled:NAME or hf:ORG/NAME (default: bundled:hh-rlhf)",
    )
    p.add_argument(
        "--out", type=Path, default=Path("runs/latest"), help="run directory (default: %(default)s)"
    )
    p.add_argument("--format", dest="fmt", default=None, help="loader format override")
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs")
    p.add_argument("--seed", type=int, default=0, help="seed for A/B sides and sampling")
    p.add_argument(
        "--annotator",
        default=None,
        help="rules | gair29 | sharma24 | FILE.yaml (default: gair29 with --model, else rules)",
    )
    p.add_argument(
        "--classify",
        choices=("auto", "always", "never"),
        default="auto",
        help="assign GAIR scenario groups (auto: when the source has none)",
    )
    p.add_argument("--judges", nargs="+", default=None, help="judges to fit (default: all)")
    p.add_argument(
        "--prior",
        default="laplace:0.1",
        help="laplace:B | normal:S | horseshoe (default: %(default)s)",
    )
    p.add_argument(
        "--model-type",
        dest="model_type",
        choices=("logistic", "linear"),
        default="logistic",
        help="regression likelihood (default: %(default)s)",
    )
    p.add_argument(
        "--sampler",
        choices=("auto", "nuts"),
        default="auto",
        help="auto: Laplace + importance sampling with NUTS fallback",
    )
    p.add_argument("--draws", type=int, default=500, help="posterior draws per chain")
    p.add_argument(
        "--na",
        choices=("drop", "impute"),
        default="drop",
        help="missing features: drop the pair or impute 0",
    )
    p.add_argument(
        "--not-applicable",
        dest="not_applicable",
        choices=("zero", "drop"),
        default="zero",
        help="error checks answered 'not applicable': feature 0, or drop the pair as GAIR did",
    )
    p.add_argument(
        "--labels",
        action="append",
        default=[],
        metavar="FILE",
        help="extra judge labels (labels.parquet from 'prefdissect judge'); repeatable",
    )
    p.add_argument(
        "--min-group-size",
        type=int,
        default=30,
        help="do not fit (judge, group) cells with fewer pairs (default: %(default)s)",
    )
    p.add_argument("--no-report", action="store_true", help="skip report.html")
    p.add_argument(
        "--fresh",
        action="store_true",
        help="redo every stage even if an earlier run left its artifacts",
    )
    from preference_dissect.llm import add_llm_arguments

    add_llm_arguments(p, model_required=False)
    j = p.add_argument_group("LLM judge (labels the pairs; its flags default to the LLM ones)")
    j.add_argument(
        "--judge-model",
        default=None,
        help="add an LLM judge stage: label every pair with this model (both orders)",
    )
    j.add_argument(
        "--judge-base-url", default=None, help="the judge's server (default: --base-url)"
    )
    j.add_argument(
        "--judge-api-key-env",
        default=None,
        help="the judge's API key variable (default: --api-key-env)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def judge_config(args: argparse.Namespace) -> Any:
    """The judge's engine config: the LLM flags with the judge's model, server and key."""
    from preference_dissect.judges.llm_judge import JudgeOptions, judge_config_fields
    from preference_dissect.llm import configs_from_args

    fields = judge_config_fields(JudgeOptions(judge_name=args.judge_model))
    overrides: dict[str, Any] = {"model": args.judge_model, **fields}
    if args.judge_base_url:
        overrides["base_url"] = args.judge_base_url
    if args.judge_api_key_env:
        overrides["api_key_env"] = args.judge_api_key_env
    generate, _ = configs_from_args(args, **overrides)
    return generate


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect run``."""
    import sys

    from preference_dissect.io import check_output_folder
    from preference_dissect.llm import CacheConfig, configs_from_args
    from preference_dissect.pipeline import DEFAULT_SOURCE, RunConfig, run_pipeline

    check_output_folder(args.out)
    generate, cache = configs_from_args(args) if args.model else (None, CacheConfig())
    judge = judge_config(args) if args.judge_model else None
    if judge is not None and generate is None:
        _, cache = configs_from_args(args, model=args.judge_model)
    cfg = RunConfig(
        source=args.source or DEFAULT_SOURCE,
        out=args.out,
        fmt=args.fmt,
        limit=args.limit,
        seed=args.seed,
        annotator=args.annotator,
        classify=args.classify,
        judges=tuple(args.judges) if args.judges else None,
        prior=args.prior,
        model=args.model_type,
        sampler=args.sampler,
        draws=args.draws,
        na=args.na,
        not_applicable=args.not_applicable,
        labels=tuple(args.labels),
        min_group_size=args.min_group_size,
        report=not args.no_report,
        resume=not args.fresh,
        generate=generate,
        judge=judge,
        cache=cache,
    )
    say = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    summary = run_pipeline(cfg, say=say)
    if args.json:
        emit_json(summary)
    else:
        print(f"done: {summary['out']}")
    return 0
