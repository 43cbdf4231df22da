"""``prefdissect export``: judged pairs -> preference-training data (TRL JSONL)."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``export`` sub-command."""
    p = subparsers.add_parser(
        "export",
        help="export judged pairs as TRL preference data (prompt/chosen/rejected JSONL)",
        description=(
            "Write one JSON line per pair in TRL's conversational preference format: prompt "
            "(earlier turns + the user turn), chosen and rejected (the judge's preferred and "
            "other response). Ties and both_bad are skipped."
        ),
    )
    p.add_argument(
        "source",
        metavar="LABELS_OR_PAIRS",
        help="pairs.parquet (+ labels sidecar), a loader SOURCE, or a labels.parquet "
        "from 'prefdissect judge' together with --pairs",
    )
    p.add_argument("--pairs", help="the pair set, when LABELS_OR_PAIRS is a labels file")
    p.add_argument("--labels", help="extra judge labels to merge into the pair set")
    p.add_argument(
        "--format", dest="fmt", choices=("trl",), default="trl", help="output format (default: trl)"
    )
    p.add_argument("--judge", help="judge whose verdicts pick chosen (needed with several judges)")
    p.add_argument(
        "--min-confidence",
        type=float,
        metavar="P",
        help="keep pairs with max(p_a, 1-p_a) >= P (0.5-1)",
    )
    p.add_argument(
        "--consistent-only",
        action="store_true",
        help="keep pairs whose two presentation orders agree (winner_ab == winner_ba)",
    )
    p.add_argument("--out", required=True, help="output .jsonl")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Export the pairs and report the counts."""
    from preference_dissect.compare.inputs import open_judged
    from preference_dissect.errors import InputError
    from preference_dissect.io import check_output_file
    from preference_dissect.judges.export import export_pairs

    if not args.out.endswith(".jsonl"):
        raise InputError("output must end in .jsonl", file=args.out)
    check_output_file(args.out)
    dataset = open_judged(args.source, pairs=args.pairs, labels=args.labels)
    judge = args.judge
    from_file = dataset.info.get("labels_file_judges", [])
    if judge is None and len(from_file) == 1:
        judge = from_file[0]  # a labels file of one judge: export that judge
    report = export_pairs(
        dataset,
        args.out,
        fmt=args.fmt,
        judge=judge,
        min_confidence=args.min_confidence,
        consistent_only=args.consistent_only,
    )
    if args.json:
        emit_json(report)
    else:
        skipped = ", ".join(f"{k}: {v}" for k, v in report["skipped"].items()) or "none"
        print(
            f"exported {report['kept']} of {report['pairs']} pairs (judge {report['judge']}) "
            f"-> {report['out']}; skipped {skipped}"
        )
    return 0
