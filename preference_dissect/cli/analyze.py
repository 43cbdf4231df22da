"""``prefdissect analyze``: scores, top/bottom attributes, sensitivity, similarity, plots."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``analyze`` sub-command."""
    p = subparsers.add_parser(
        "analyze",
        help="analyse a fit: scores with HDIs, top/bottom attributes, similarity, plots",
        description=(
            "Write CSV tables, PNG+SVG plots and summary.json for a fit.nc (or a folder of "
            "GAIR-style model_<group>_fitted_paras.jsonl weight files)."
        ),
    )
    p.add_argument(
        "fit", help="fit.nc written by 'prefdissect fit', or a folder of GAIR weight files"
    )
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument(
        "--top-k", type=int, default=3, help="attributes at each end per group (default 3)"
    )
    p.add_argument(
        "--plot-judges", nargs="+", help="judges drawn in the per-group plots (default: first 6)"
    )
    p.add_argument(
        "--reference", help="reference judge of the contrasts (default: human, else the first)"
    )
    p.add_argument(
        "--features",
        default=None,
        metavar="FILE",
        help="the fit's features table: adds attribute correlations, VIFs and the PSIS-LOO",
    )
    p.add_argument(
        "--size",
        action="append",
        default=[],
        metavar="JUDGE=B",
        help="judge size in billions for size-group similarity (default: parsed from names)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def _sizes(values: list[str]) -> dict[str, float]:
    from preference_dissect.errors import InputError

    out = {}
    for v in values:
        name, _, size = v.rpartition("=")
        try:
            out[name] = float(size.lower().rstrip("b"))
        except ValueError:
            raise InputError(f"bad --size {v!r} (use JUDGE=7 or JUDGE=7b)", field="size") from None
        if not name:
            raise InputError(f"bad --size {v!r} (use JUDGE=7)", field="size")
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect analyze``."""
    from pathlib import Path

    from rich.console import Console

    from preference_dissect.analyse.run import analyse_fit
    from preference_dissect.errors import InputError
    from preference_dissect.fit.external import read_gair_weights
    from preference_dissect.fit.idata import load_fit
    from preference_dissect.io import check_output_folder, read_table

    if args.top_k < 1:
        raise InputError("--top-k must be at least 1", field="top-k")
    check_output_folder(args.out)
    sizes = _sizes(args.size)
    source = Path(args.fit)
    idata = read_gair_weights(source) if source.is_dir() else load_fit(source)
    judges = [str(j) for j in idata.posterior["judge"].to_numpy()]
    for j in (args.plot_judges or []) + ([args.reference] if args.reference else []):
        if j not in judges:
            raise InputError(f"unknown judge {j!r}", field="judge")
    features = read_table(args.features) if args.features else None
    console = Console(stderr=True)
    with console.status("analysing") as status:
        result = analyse_fit(
            idata,
            args.out,
            top_k=args.top_k,
            plot_judges=args.plot_judges,
            reference=args.reference,
            sizes=sizes,
            progress=lambda msg: status.update(f"analysing: {msg}"),
            features=features,
        )
    if args.json:
        emit_json({"out": str(args.out), **result})
    else:
        print(
            f"analysed {result['fits']} fits ({len(result['judges'])} judges x "
            f"{len(result['groups'])} groups) -> {args.out} ({len(result['files'])} files)"
        )
    return 0
