"""``prefdissect manipulate``: GAIR's manipulation experiment against a judge."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``manipulate`` sub-command."""
    from preference_dissect.cli._interventions import add_intervention_arguments

    p = subparsers.add_parser(
        "manipulate",
        help="answer with the judge's favourite attributes and measure its preference shift",
        description=(
            "GAIR's manipulation experiment: take the target judge's top-k and bottom-k "
            "attributes in a group from a fit (or GAIR's released weights), ask --model to "
            "answer each query normally and with an instruction to exhibit (or avoid) them, "
            "and let --judge-model compare manipulated and normal answers in both orders. "
            "Writes answers.parquet, effects.parquet (win rate and shift per arm, overall and "
            "per scenario, 95%% bootstrap intervals), targets.parquet, checks.parquet (with "
            "--annotator), summary.json and manipulate.png into --out."
        ),
    )
    p.add_argument("pairs", metavar="PAIRS", help="pairs parquet or any SOURCE (the queries)")
    p.add_argument(
        "--weights",
        required=True,
        metavar="FIT.nc|FOLDER|bundled:gair-weights",
        help="a fit, a folder of GAIR weight files, or GAIR's released weights",
    )
    p.add_argument("--target-judge", required=True, help="the judge whose ranking is used")
    p.add_argument("--group", required=True, help="the group of the fit (e.g. all, Advice)")
    p.add_argument("--top-k", type=int, default=3, help="attributes at each end (default 3)")
    p.add_argument(
        "--arms",
        default=None,
        help="comma-separated arms of interventions/manipulate/manipulate.yaml "
        "(default: exhibit_top,avoid_bottom)",
    )
    p.add_argument(
        "--attribute-set",
        default="gair29",
        help="where the attribute definitions come from (default gair29)",
    )
    p.add_argument(
        "--annotator",
        default=None,
        help="annotate normal and manipulated answers to check the targets moved "
        "(rules offline; an LLM annotator asks --judge-model)",
    )
    add_intervention_arguments(p, judge_help="the judge comparing manipulated and normal answers")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect manipulate``."""
    from preference_dissect.cli._interventions import annotator_engine, engines_from_args, finish
    from preference_dissect.interventions import manipulate
    from preference_dissect.io import check_output_folder
    from preference_dissect.load import load_source

    model, judge = engines_from_args(args)
    check_output_folder(args.out)
    pairs = load_source(args.pairs)
    result = manipulate(
        pairs,
        args.weights,
        target_judge=args.target_judge,
        group=args.group,
        model=model,
        judge=judge,
        top_k=args.top_k,
        arms=args.arms.split(",") if args.arms else None,
        attribute_set=args.attribute_set,
        annotator=args.annotator,
        annotator_engine=annotator_engine(args, args.annotator, judge),
        limit=args.limit,
    )
    lines = [
        f"{r['arm']}: win rate {r['win_rate']:.3f} [{r['low']:.3f}, {r['high']:.3f}] (n={r['n']})"
        for r in result.summary["win_rate"]
    ]
    return finish(args, result, lines)
