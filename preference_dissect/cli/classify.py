"""``prefdissect classify``: assign GAIR scenario groups to the pairs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from preference_dissect.cli.annotate import add_engine_arguments, build_engine, check_engine_args
from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``classify`` sub-command."""
    p = subparsers.add_parser(
        "classify",
        help="assign GAIR scenario groups (LLM, or offline keyword rules)",
        description=(
            "Label each pair's query with an Auto-J fine scenario and set the 'scenario' column "
            "to its GAIR group (11 groups). With --model an LLM picks the label (one call per "
            "query, cached); without it, offline keyword rules do (heuristic). The fine label "
            "goes to meta.scenario_fine, the method to meta.scenario_method."
        ),
    )
    p.add_argument(
        "pairs",
        metavar="PAIRS",
        help="pair dataset parquet (from 'prefdissect load') or a load source (bundled:NAME)",
    )
    add_engine_arguments(p, default_max_tokens=32)
    p.add_argument(
        "--out", required=True, help="output pair dataset parquet (labels copied alongside)"
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Classify and write the updated dataset."""
    check_engine_args(args)
    from preference_dissect.annotate.runner import engine_stats, read_pairs
    from preference_dissect.annotate.scenario import classify_pairs, scenario_requests
    from preference_dissect.load.schema import PairDataset, check_dataset_target, write_dataset

    check_dataset_target(args.out)
    dataset = read_pairs(args.pairs, args.limit)
    pairs = dataset.pairs
    engine = None
    if args.model:
        engine = build_engine(args)
        if args.no_progress:  # else the engine prints it above its progress bar
            estimate = engine.estimate(scenario_requests(pairs)).describe()
            print(f"estimate: {estimate}", file=sys.stderr)
    else:
        print(f"estimate: {len(pairs)} queries, offline rules: 0 requests, $0", file=sys.stderr)
    classified, summary = classify_pairs(pairs, engine)
    keep = set(classified["pair_id"])
    labels = dataset.labels[dataset.labels["pair_id"].isin(keep)]
    out = Path(args.out)
    write_dataset(PairDataset(classified, labels, dict(dataset.info)), out)
    summary.update(engine_stats(engine))
    summary["out"] = str(out)
    if args.json:
        emit_json(summary)
    else:
        groups = ", ".join(f"{k} {v}" for k, v in summary["groups"].items())
        print(f"classified {summary['pairs']} pairs by {summary['method']}: {groups}\nwrote {out}")
    return 0
