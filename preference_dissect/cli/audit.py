"""``prefdissect audit``: judge agreement, order consistency, first-slot bias, gold accuracy."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``audit`` sub-command."""
    p = subparsers.add_parser(
        "audit",
        help="audit judges: agreement with a reference, order consistency, first-slot bias",
        description=(
            "Per judge: agreement and Cohen's kappa with the reference (a judge such as human, "
            "or the pairs' gold answers), order consistency and first-slot rate (needs "
            "winner_ab/winner_ba), flip rate, tie rate, gold accuracy split by subset, length "
            "bias (share of verdicts for the longer response, next to the reference's) and "
            "self-preference (for a judge whose model family wrote one of the two responses); "
            "bootstrap 95% intervals."
        ),
    )
    p.add_argument(
        "source",
        help="pairs.parquet (+ labels sidecar), any loader SOURCE "
        "(e.g. bundled:gair), or a labels.parquet with --pairs",
    )
    p.add_argument("--pairs", help="the pair set, when SOURCE is a labels file")
    p.add_argument("--labels", help="extra judge labels (labels.parquet from 'prefdissect judge')")
    p.add_argument(
        "--reference",
        default="human",
        help="'gold', the reference judge's name, or 'none' (no agreement metrics; default: human)",
    )
    p.add_argument(
        "--judges",
        nargs="+",
        metavar="JUDGE",
        help="judges to audit (default: all but the reference)",
    )
    p.add_argument("--by", choices=("group",), help="also audit per group (scenario, query groups)")
    p.add_argument(
        "--bootstrap",
        type=int,
        default=1000,
        help="bootstrap resamples for 95%% intervals (0 = none; default 1000)",
    )
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--out", help="folder for audit.csv, audit.json and the plots")
    add_json_flag(p)
    p.set_defaults(func=run)


def _fmt(x: Any) -> str:
    return "-" if x is None else f"{x:.3f}"


def _print_table(summary: dict[str, Any]) -> None:
    import sys

    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    gold = any(e.get("gold_accuracy") is not None for e in summary["judges"].values())
    table = Table(
        title=f"judge audit (reference: {summary['reference']}, {summary['pairs']} pairs)"
    )
    cols = ["judge", "n", "agreement", "95% CI", "kappa", "consistency", "first slot", "ties"]
    cols += ["flips", "longer", "own family"]
    if gold:
        cols += ["gold acc.", "gold wrong"]
    for c in cols:
        table.add_column(c, justify="left" if c == "judge" else "right", no_wrap=True)
    for name, e in summary["judges"].items():
        ci = e.get("agreement_ci")
        row = [
            name,
            str(e["n"]),
            _fmt(e.get("agreement")),
            "-" if not ci or ci[0] is None else f"{ci[0]:.3f}-{ci[1]:.3f}",
            _fmt(e.get("kappa")),
            _fmt(e.get("consistency")),
            _fmt(e.get("first_slot_rate")),
            _fmt(e.get("tie_rate")),
            _fmt(e.get("flip_rate")),
            _fmt(e.get("length_bias")),
            _fmt(e.get("self_preference")),
        ]
        if gold:
            row += [_fmt(e.get("gold_accuracy")), _fmt(e.get("gold_wrong_rate"))]
        table.add_row(*row)
    console.print(table)
    for subset, judges in summary.get("gold_subsets", {}).items():
        accs = ", ".join(f"{j} {_fmt(e.get('gold_accuracy'))}" for j, e in judges.items())
        console.print(f"gold accuracy, {subset}: {accs}")


def run(args: argparse.Namespace) -> int:
    """Run the audit and print / write its results."""
    from preference_dissect.analyse.audit import audit_judges, write_audit
    from preference_dissect.compare.inputs import open_judged
    from preference_dissect.io import check_output_folder

    if args.out:
        check_output_folder(args.out)
    dataset = open_judged(args.source, pairs=args.pairs, labels=args.labels)
    result = audit_judges(
        dataset,
        reference=args.reference,
        judges=args.judges,
        by_group=args.by == "group",
        bootstrap=args.bootstrap,
        seed=args.seed,
    )
    summary = result.summary
    if args.out:
        files = write_audit(result, args.out)
        summary = {**summary, "files": [str(f) for f in files]}
    if args.json:
        emit_json(summary)
    else:
        _print_table(summary)
    return 0
