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
        choices=("drop", "impute"),
        default="drop",
        help="missing feature values: drop the pair, or impute 0 (default: drop)",
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
        "--style",
        action="store_true",
        help="add continuous Arena style covariates style_length/header/list/bold",
    )
    p.add_argument("--out", required=True, help="features.parquet (or .csv) to write")
    add_json_flag(p)
    p.set_defaults(func=run)


def _print_summary(report: dict[str, Any], out: str) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=False)
    console.print(
        f"[bold]{report['rows']}[/] rows from {report['pairs_used']} of "
        f"{report['pairs_annotated']} annotated pairs -> {out}"
    )
    na = report["na"]
    table = Table(title=f"missing values (policy: {na['policy']})")
    table.add_column("attribute")
    table.add_column("pairs with NA", justify="right")
    for attr, n in na["by_attribute"].items():
        if n:
            table.add_row(attr, str(n))
    if table.row_count:
        console.print(table)
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
        style=args.style,
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
