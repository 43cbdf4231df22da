"""``prefdissect features``: annotations + judge labels -> features table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``features`` sub-command."""
    p = subparsers.add_parser(
        "features",
        help="turn annotations and judge labels into the +1/0/-1 features table",
        description=(
            "Compare the two responses of every pair attribute by attribute (the compare rule "
            "of the attribute set), attach each judge's verdict (y = 1 when A is preferred) and "
            "repeat every row for group 'all', the pair's scenario and its query groups."
        ),
    )
    p.add_argument("annotations", help="annotations.parquet (or .csv) from 'prefdissect annotate'")
    p.add_argument(
        "--pairs",
        required=True,
        help="pairs.parquet from 'prefdissect load' (labels from its sidecar) or a SOURCE",
    )
    p.add_argument("--labels", help="extra judge labels (labels.parquet from 'prefdissect judge')")
    p.add_argument(
        "--attribute-set",
        action="append",
        dest="attribute_sets",
        metavar="NAME",
        help="attribute set name or YAML path (repeatable; default: the annotators "
        "named in the annotations)",
    )
    p.add_argument("--judges", nargs="+", metavar="JUDGE", help="judges to keep (default: all)")
    p.add_argument(
        "--na",
        choices=("drop", "zero", "impute"),
        default="drop",
        help="missing feature values: drop the pair, or use 0 (default: drop; impute is the old "
        "name of zero)",
    )
    p.add_argument(
        "--ties",
        choices=("drop", "half"),
        default="drop",
        help="ties: exclude, or keep with y = 0.5 (default: drop)",
    )
    p.add_argument(
        "--disagree",
        choices=("zero", "drop"),
        default="zero",
        help="pairwise attributes whose two orders disagree: 0, or drop the pair (default: zero)",
    )
    p.add_argument(
        "--not-applicable",
        dest="not_applicable",
        choices=("zero", "drop"),
        default="zero",
        help="error checks answered 'not applicable': feature 0 (nothing to compare), or drop "
        "the pair as GAIR did (default: zero)",
    )
    p.add_argument(
        "--style",
        action="store_true",
        help="add continuous Arena style covariates style_length/header/list/bold",
    )
    p.add_argument(
        "--controls",
        default=None,
        metavar="A,B",
        help="attributes the fit adjusts for with a wide prior, reported apart: column names, "
        "length (style_length) or markdown (style_header/list/bold)",
    )
    p.add_argument("--out", required=True, help="features.parquet (or .csv) to write")
    add_json_flag(p)
    p.set_defaults(func=run)


def print_pair_flow(flow: list[dict[str, Any]], console: Any) -> None:
    """Print the comparison's pair accounting (pairs kept per step and why others left)."""
    from rich.table import Table

    table = Table(title="pairs kept at each step")
    for name, justify in (("step", "left"), ("pairs", "right"), ("dropped", "right")):
        table.add_column(name, justify=justify)
    table.add_column("why", overflow="fold")
    for row in flow:
        table.add_row(row["step"], str(row["pairs"]), str(row["dropped"] or ""), row["why"])
    console.print(table)


def _print_summary(report: dict[str, Any], out: str) -> None:
    from rich.console import Console

    console = Console(stderr=False)
    console.print(
        f"[bold]{report['rows']}[/] rows from {report['pairs_used']} of "
        f"{report['pairs_annotated']} annotated pairs -> {out}"
    )
    print_pair_flow(report["pair_flow"], console)
    for attr, n in report["not_applicable"].items():
        policy = report["not_applicable_policy"]
        what = "set to 0 (nothing to compare)" if policy == "zero" else "dropped"
        console.print(f"{attr}: error check not applicable on {n} pairs: {what}")
    for attr, d in report["disagreement"].items():
        if d["rate"] is not None:
            console.print(
                f"{attr}: orders disagree on {d['disagree']}/{d['pairs_both_orders']} pairs"
            )
    for j, d in report["judges"].items():
        console.print(
            f"judge {j}: {d['rows_all']} pairs in 'all', share A preferred {d['y_mean_all']:.3f}"
        )


def run(args: argparse.Namespace) -> int:
    """Build and write the features table."""
    from pathlib import Path

    from preference_dissect.compare import add_labels, build_features, read_annotations
    from preference_dissect.compare.controls import split_names
    from preference_dissect.compare.inputs import open_dataset
    from preference_dissect.errors import InputError
    from preference_dissect.io import atomic_path, check_output_file, read_table

    out = Path(args.out)
    if out.suffix.lower() not in (".parquet", ".csv"):
        raise InputError("output must end in .parquet or .csv", file=out)
    check_output_file(out)
    annotations = read_annotations(args.annotations)
    dataset = open_dataset(args.pairs)
    if args.labels:
        dataset = add_labels(dataset, read_table(args.labels), file=args.labels)
    table, report = build_features(
        annotations,
        dataset,
        args.attribute_sets,
        judges=args.judges,
        na=args.na,
        ties=args.ties,
        on_disagree=args.disagree,
        not_applicable=args.not_applicable,
        style=args.style,
        controls=split_names(args.controls),
        annotations_file=args.annotations,
    )
    for name in report["attributes_without_annotations"]:
        print(
            f"prefdissect features: warning: attribute {name!r} has no annotations; left out",
            file=sys.stderr,
        )
    with atomic_path(out) as tmp:
        if out.suffix.lower() == ".csv":
            table.to_csv(tmp, index=False)
        else:
            table.to_parquet(tmp, index=False)
    report["out"] = str(out)
    if args.json:
        emit_json(report)
    else:
        _print_summary(report, str(out))
    return 0
