"""``prefdissect reproduce gair``: GAIR's published numbers from their released weights."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json

TARGETS = ("gair",)


def register(subparsers: Any) -> None:
    """Add the ``reproduce`` sub-command."""
    p = subparsers.add_parser(
        "reproduce",
        help="reproduce published results from bundled data",
        description=(
            "gair: size-group similarity, mean 'no severe errors' score, per-group top/bottom "
            "attributes and the Communication plot from GAIR's released fitted weights."
        ),
    )
    p.add_argument("target", choices=TARGETS)
    p.add_argument(
        "--out", default="gair-reproduction", help="folder for the plot (default gair-reproduction)"
    )
    p.add_argument(
        "--weights", help="folder of model_<group>_fitted_paras.jsonl (default: bundled)"
    )
    p.add_argument("--top-k", type=int, default=3)
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect reproduce``."""
    from preference_dissect.analyse.gair import DISPLAY, GPT4_TURBO, reproduce_gair
    from preference_dissect.io import check_output_folder

    check_output_folder(args.out)
    result = reproduce_gair(args.out, args.weights, top_k=args.top_k)
    if args.json:
        emit_json(result)
        return 0
    sim = result["similarity"]
    print("GAIR preference dissection, from the released fitted weights")
    print(f"similarity (mean Pearson r over {len(result['scenario_groups'])} scenario groups):")
    print(f"  6-14B ({len(sim['small_judges'])} judges): {sim['small']:.3f}")
    print(f"  34-72B ({len(sim['large_judges'])} judges): {sim['large']:.3f}")
    print(f"  between: {sim['between']:.3f}")
    print("mean 'no severe errors' score over scenario groups:")
    for judge, value in result["severe_error_score"].items():
        print(f"  {DISPLAY.get(judge, judge)} ({judge}): {value:.2f}")
    for judge in ("human", GPT4_TURBO):
        print(f"top/bottom {args.top_k} attributes, {DISPLAY.get(judge, judge)}:")
        for group, ends in result["top_bottom"].get(judge, {}).items():
            top = ", ".join(f"{a['label']} {a['score']:.1f}" for a in ends["top"])
            bottom = ", ".join(f"{a['label']} {a['score']:.1f}" for a in ends["bottom"])
            print(f"  {group}: top {top} | bottom {bottom}")
    for path in result.get("plot", []):
        print(f"plot: {path}")
    return 0
