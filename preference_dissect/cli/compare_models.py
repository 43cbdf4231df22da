"""``prefdissect compare-models``: rank fits of the same features by PSIS-LOO."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json, named_files


def register(subparsers: Any) -> None:
    """Add the ``compare-models`` sub-command."""
    p = subparsers.add_parser(
        "compare-models",
        help="rank fits of the same features by PSIS-LOO (elpd, p_loo, stacking weights)",
        description=(
            "Compare two or more fit.nc files of one features table (another prior, "
            "likelihood or set of attributes) by their expected log predictive density "
            "(Pareto-smoothed importance-sampling leave-one-out, ArviZ loo/compare). Fits "
            "must model the same rows and the same outcome (not logistic vs linear)."
        ),
    )
    p.add_argument("fits", nargs="+", metavar="FIT", help="fit.nc files (NAME=FILE to name one)")
    p.add_argument("--features", required=True, help="the features table the fits were fitted on")
    p.add_argument("--out", help="also write the table as CSV")
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect compare-models``."""
    from preference_dissect.analyse.loo import compare_models
    from preference_dissect.fit.idata import load_fit
    from preference_dissect.io import check_output_file, read_table, write_text

    if args.out:
        check_output_file(args.out)
    fits = {name: load_fit(path) for name, path in named_files(args.fits, "fits").items()}
    table = compare_models(fits, read_table(args.features))
    if args.out:
        write_text(table.to_csv(index_label="model"), args.out)
    if args.json:
        emit_json({"models": table.reset_index(names="model").to_dict("records")})
    else:
        print(table.round(3).to_string())
    return 0
