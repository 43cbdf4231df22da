"""``prefdissect best-of-n``: optimise against a judge by best-of-N and watch the picks."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``best-of-n`` sub-command."""
    from preference_dissect.cli._interventions import add_intervention_arguments
    from preference_dissect.interventions.best_of_n import SCORERS

    p = subparsers.add_parser(
        "best-of-n",
        help="sample N answers, keep the judge's favourite, and see how the picks change",
        description=(
            "Sample --n answers per prompt from --model (at --temperature, default 1), score "
            "them with --judge-model (pairwise against the pair's reference response, or a "
            "1-10 rating), pick the best of the first N for N = 1, 2, 4, ... --n, annotate "
            "the picks (--annotator, default rules) and report each attribute's mean and its "
            "change from N = 1 with 95%% bootstrap intervals. Writes samples.parquet, "
            "picks.parquet, prevalence.parquet, summary.json and best-of-n.png into --out."
        ),
    )
    p.add_argument("pairs", metavar="PAIRS", help="pairs parquet or any SOURCE (the prompts)")
    p.add_argument("--n", type=int, required=True, help="answers sampled per prompt")
    p.add_argument("--scorer", choices=SCORERS, default="pairwise", help="default pairwise")
    p.add_argument(
        "--reference", choices=("a", "b"), default="a", help="pairwise reference (default a)"
    )
    p.add_argument(
        "--annotator",
        default="rules",
        help="annotator of the picks (default rules, offline; an LLM annotator asks --judge-model)",
    )
    p.add_argument("--attributes", default=None, help="comma-separated attributes to report")
    add_intervention_arguments(p, judge_help="the judge (or reward model) scoring the samples")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect best-of-n``."""
    from preference_dissect.cli._interventions import annotator_engine, engines_from_args, finish
    from preference_dissect.interventions import best_of_n
    from preference_dissect.interventions._common import settings_of
    from preference_dissect.io import check_output_folder
    from preference_dissect.load import load_source

    if args.temperature is None:
        args.temperature = settings_of("best_of_n")["temperature"]
    model, judge = engines_from_args(args)
    check_output_folder(args.out)
    result = best_of_n(
        load_source(args.pairs),
        n=args.n,
        model=model,
        judge=judge,
        scorer=args.scorer,
        reference=args.reference,
        annotator=args.annotator,
        annotator_engine=annotator_engine(args, args.annotator, judge),
        attributes=args.attributes.split(",") if args.attributes else None,
        limit=args.limit,
    )
    table = result.tables["prevalence"]
    top = table[table["n_samples"] == table["n_samples"].max()]
    lines = [
        f"{r.attribute}: {r.mean:.3g} at N={r.n_samples} ({r.change:+.3g} from N=1, "
        f"[{r.change_low:+.3g}, {r.change_high:+.3g}])"
        for r in top.itertuples()
    ]
    return finish(args, result, lines)
