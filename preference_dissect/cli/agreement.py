"""``prefdissect agreement``: Krippendorff's alpha per attribute between annotation files."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json, named_files


def register(subparsers: Any) -> None:
    """Add the ``agreement`` sub-command."""
    p = subparsers.add_parser(
        "agreement",
        help="how reliable an annotation is: Krippendorff's alpha per attribute",
        description=(
            "Krippendorff's alpha per attribute between two or more annotations.parquet files "
            "of the same pairs (two annotators, two runs of one, or human ratings and an "
            "annotator), with bootstrap 95% intervals over the annotated values; attributes "
            "below alpha 0.4 are flagged. feature_alpha is the alpha of the -1/0/+1 comparison "
            "features 'compare' derives from each file (per pair). A file with a 'repeat' "
            "column (annotate --repeats' OUT.repeats.parquet) counts one coder per repeat; a "
            "ratings table (pair_id and <attribute>_a / <attribute>_b columns; CSV, parquet or "
            "JSON lines) is read as annotator 'human'. Write the table to "
            "RUN/audit/agreement.csv (--out) and the report marks attributes below 0.4 in "
            "its weights section."
        ),
    )
    p.add_argument(
        "annotations",
        nargs="+",
        metavar="ANNOTATIONS",
        help="annotation, repeats or ratings files ([NAME=]FILE)",
    )
    p.add_argument(
        "--level",
        choices=("auto", "nominal", "ordinal", "interval"),
        default="auto",
        help="level of measurement (default auto: ordinal for verdicts, ratings and small "
        "counts, else interval)",
    )
    p.add_argument("--bootstrap", type=int, default=500, help="resamples (default 500)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-features", action="store_true",
                   help="skip the comparison features' alpha")  # fmt: skip
    p.add_argument("--out", help="also write the table as CSV (RUN/audit/agreement.csv)")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect agreement``."""
    from preference_dissect.analyse.agreement import annotation_agreement
    from preference_dissect.compare.inputs import read_annotations
    from preference_dissect.io import check_output_file, write_text

    if args.out:
        check_output_file(args.out)
    files = named_files(args.annotations, "annotations")
    tables = {name: read_annotations(path) for name, path in files.items()}
    table = annotation_agreement(tables, level=args.level, bootstrap=args.bootstrap,
                                 seed=args.seed, features=not args.no_features)  # fmt: skip
    if args.out:
        write_text(table.to_csv(index=False), args.out)
    if args.json:
        emit_json({"annotations": list(files), "attributes": table.to_dict("records")})
    else:
        print(table.round(3).to_string(index=False))
    return 0
