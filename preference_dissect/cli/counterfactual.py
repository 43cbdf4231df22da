"""``prefdissect counterfactual``: the judge's response to rewriting one attribute."""

from __future__ import annotations

import argparse
from typing import Any

SIDES = {"a": ("a",), "b": ("b",), "both": ("a", "b")}


def register(subparsers: Any) -> None:
    """Add the ``counterfactual`` sub-command."""
    from preference_dissect.cli._interventions import add_intervention_arguments

    p = subparsers.add_parser(
        "counterfactual",
        help="rewrite one attribute of each response and measure the judge's response",
        description=(
            "For each named attribute, ask --model to rewrite a response to add (or remove) "
            "it and to rewrite that rewrite back (RATE), let --judge-model compare the two "
            "rewrites in both orders, and report the preference for the version with the "
            "attribute (probability and log-odds, 95%% bootstrap intervals) beside the fit's "
            "weight (--weights), flagging disagreements. Writes rewrites.parquet, "
            "effects.parquet, summary.json and counterfactual.png into --out."
        ),
    )
    p.add_argument("pairs", metavar="PAIRS", help="pairs parquet or any SOURCE")
    p.add_argument("--attributes", required=True, help="comma-separated attribute names")
    p.add_argument("--attribute-set", default="gair29", help="the attributes' set (default gair29)")
    p.add_argument(
        "--weights",
        default=None,
        metavar="FIT.nc|FOLDER|bundled:gair-weights",
        help="the fit whose weights are shown beside the effects",
    )
    p.add_argument("--target-judge", default=None, help="the judge of --weights")
    p.add_argument("--group", default="all", help="the group of --weights (default all)")
    p.add_argument(
        "--sides", choices=tuple(SIDES), default="both", help="responses to rewrite (default both)"
    )
    p.add_argument(
        "--directions", default=None, help="add, remove or add,remove (default: both paths)"
    )
    add_intervention_arguments(p, judge_help="the judge comparing the two rewrites")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect counterfactual``."""
    from preference_dissect.cli._interventions import engines_from_args, finish
    from preference_dissect.interventions import counterfactual
    from preference_dissect.io import check_output_folder
    from preference_dissect.load import load_source

    model, judge = engines_from_args(args)
    check_output_folder(args.out)
    result = counterfactual(
        load_source(args.pairs, limit=args.limit),
        attributes=[a.strip() for a in args.attributes.split(",") if a.strip()],
        model=model,
        judge=judge,
        attribute_set=args.attribute_set,
        weights=args.weights,
        target_judge=args.target_judge,
        group=args.group,
        sides=SIDES[args.sides],
        directions=args.directions.split(",") if args.directions else None,
    )
    lines = []
    for r in result.summary["effects"]:
        flag = f" [{r['disagreement']} disagreement]" if r.get("disagreement") else ""
        lines.append(
            f"{r['attribute']}: p={r['effect_p']:.3f} [{r['p_low']:.3f}, {r['p_high']:.3f}] "
            f"log-odds {r['effect_logit']:.2f} (n={r['n']}){flag}"
        )
    return finish(args, result, lines)
