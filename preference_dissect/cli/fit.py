"""``prefdissect fit``: Bayesian attribute weights per (judge, group) -> ``fit.nc``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_fit_arguments, add_json_flag, emit_json, fit_settings


def _names(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [n.strip() for v in values for n in v.split(",") if n.strip()]


def register(subparsers: Any) -> None:
    """Add the ``fit`` sub-command."""
    p = subparsers.add_parser(
        "fit",
        help="fit Bayesian attribute weights per (judge, group)",
        description=(
            "Fit a Bayesian regression of the judge's choice on the attribute comparisons, one "
            "per (judge, group). Default engine: Laplace+EP approximation refined by Pareto-"
            "smoothed importance sampling, with PyMC NUTS where the Pareto k is above 0.7."
        ),
    )
    p.add_argument(
        "features", help="features table (parquet or CSV): pair_id, judge, group, y, attributes"
    )
    p.add_argument("--out", required=True, help="output NetCDF file (e.g. fit.nc)")
    p.add_argument(
        "--judges", nargs="+", help="judges to fit (space or comma separated; default all)"
    )
    p.add_argument("--groups", nargs="+", help="groups to fit (default all)")
    add_fit_arguments(p, likelihood_alias="--model")
    p.add_argument("--seed", type=int, default=None, help="base seed (default: the spec's, 0)")
    p.add_argument(
        "--na",
        choices=("error", "drop", "zero"),
        default="error",
        help="missing attribute values: error (default), drop the row, or use 0",
    )
    p.add_argument(
        "--no-resume",
        action="store_true",
        help="ignore fits saved by an interrupted earlier run (OUT.partial/)",
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def fit_json(idata: Any, seconds: float) -> dict[str, Any]:
    """The ``--json`` object: seconds and one entry per fit with attribute summaries."""
    import numpy as np

    from preference_dissect.analyse.scores import weight_summary
    from preference_dissect.fit.idata import diagnostics_frame

    def num(x: Any) -> Any:
        x = float(x)
        return x if np.isfinite(x) else None

    summary = weight_summary(idata)
    by_cell = {k: g for k, g in summary.groupby(["judge", "group"], sort=False)}
    fits, skipped = [], []
    for row in diagnostics_frame(idata).itertuples(index=False):
        if row.method == "skipped" or (row.judge, row.group) not in by_cell:
            skipped.append(
                {"judge": row.judge, "group": row.group, "n": int(row.n), "reason": row.reason}
            )
            continue
        cell = by_cell[(row.judge, row.group)]
        fits.append(
            {
                "judge": row.judge,
                "group": row.group,
                "n": int(row.n),
                "method": str(row.method),
                "rhat_max": num(row.rhat_max),
                "ess_bulk_min": num(row.ess_bulk_min),
                "divergences": int(row.divergences),
                "pareto_k": num(row.pareto_k),
                "accuracy": num(row.accuracy),
                "ppc_p_share": num(row.ppc_p_share),
                "attributes": {
                    r.attribute: {
                        "mean": float(r.mean),
                        "sd": float(r.sd),
                        "hdi_low": float(r.hdi_low),
                        "hdi_high": float(r.hdi_high),
                        "score": float(r.score),
                        "n_nonzero": num(r.n_nonzero),
                    }
                    for r in cell.itertuples(index=False)
                },
            }
        )
    return {"seconds": seconds, "fits": fits, "skipped": skipped}


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect fit``."""
    import time

    from preference_dissect.fit.features import read_features
    from preference_dissect.fit.runner import fit_features
    from preference_dissect.fit.spec import FitSpec
    from preference_dissect.io import check_output_file, check_output_folder

    check_output_file(args.out)
    check_output_folder(f"{args.out}.partial", what="the checkpoint folder of --out")
    start = time.perf_counter()
    settings = fit_settings(args, "--model")
    if args.seed is not None:
        settings["seed"] = args.seed
    spec = FitSpec(**settings)
    table = read_features(args.features, na=args.na)
    table = table.select(_names(args.judges), _names(args.groups))
    outcome = fit_features(
        table, spec, args.out, source=str(args.features), resume=not args.no_resume
    )
    if args.json:
        emit_json(fit_json(outcome.idata, round(time.perf_counter() - start, 3)))
    else:
        methods = {k: v for k, v in outcome.methods.items() if k != "skipped"}
        how = ", ".join(f"{v} by {k}" for k, v in methods.items())
        skipped = outcome.methods.get("skipped", 0)
        print(
            f"fitted {sum(methods.values())} (judge, group) regressions ({how}) in "
            f"{outcome.seconds:.1f} s -> {args.out}"
            + (f"; {skipped} cell(s) not fitted (see the warnings)" if skipped else "")
        )
        if outcome.notes:
            print(
                f"{len(outcome.notes)} warning(s); see stderr and the fit file's 'warnings'"
                " attribute",
                file=sys.stderr,
            )
    return 0
