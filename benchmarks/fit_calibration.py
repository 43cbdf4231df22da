"""Benchmark: calibration of the default fit on planted weights (long version of the test).

Cells: draw true weights from the prior (Laplace(0, b), 29 attributes), simulate a group of n
pairs, fit with the default engine, record whether the 50/80/95% HDIs cover the truth and the
z-scores (posterior mean - truth) / posterior sd. With weights drawn from the prior, a
calibrated posterior covers at the nominal rates and z has mean 0 and sd 1.

Pooled (``--pooled-reps``): draw a hierarchy from the pooled model's priors (top mean
Laplace(0, b), one half-normal spread per attribute), a judge's scenario groups of
``--pooled-sizes`` pairs around it, fit with ``pooling="groups"`` and unpooled, and record
the pooled 95% HDIs' coverage of the planted cell weights and the mean squared error of both
fits' posterior means, by group size.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/fit_calibration.py [--reps 40] [--sizes 121 400 1418]
        [--prior-scale 0.1] [--pooled-reps 96] [--pooled-sizes 800 400 150 100 60]
        [--out benchmarks/results/fit_calibration.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

from preference_dissect.io import write_json

REPO = Path(__file__).resolve().parent.parent
LEVELS = (0.5, 0.8, 0.95)
P = 29


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[121, 400, 1418])
    parser.add_argument("--prior-scale", type=float, default=0.1)
    parser.add_argument("--pooled-reps", type=int, default=96)
    parser.add_argument("--pooled-sizes", type=int, nargs="+", default=[800, 400, 150, 100, 60])
    parser.add_argument("--pooled-attributes", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "fit_calibration.json")
    )
    args = parser.parse_args()
    start = time.perf_counter()
    report = _cells(args) if args.reps else {}
    if args.pooled_reps:
        report["pooled"] = _pooled(args)
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(write_json(report, args.out).read_text(), end="")
    return 0


def _cells(args: argparse.Namespace) -> dict:
    """Calibration of single cells fitted alone."""
    import arviz as az

    from preference_dissect.fit.cells import fit_cell
    from preference_dissect.fit.spec import FitSpec, Prior

    spec = FitSpec(prior=Prior(kind="laplace", scale=args.prior_scale))
    report: dict = {
        "prior": spec.prior.describe(),
        "reps": args.reps,
        "attributes": P,
        "by_size": {},
    }
    for n in args.sizes:
        covered = {level: [] for level in LEVELS}
        z_scores, methods, ks = [], [], []
        for rep in range(args.reps):
            rng = np.random.default_rng([args.seed, n, rep])
            truth = rng.laplace(0, args.prior_scale, P)
            xmat = rng.choice([-1.0, 0.0, 1.0], size=(n, P), p=[0.225, 0.55, 0.225])
            y = (rng.random(n) < 1 / (1 + np.exp(-xmat @ truth))).astype(float)
            cell = fit_cell(xmat, y, spec, seed=rep)
            methods.append(cell.method)
            ks.append(cell.pareto_k)
            for level in LEVELS:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    interval = np.asarray(az.hdi(cell.weight, hdi_prob=level))
                covered[level].append((interval[:, 0] <= truth) & (truth <= interval[:, 1]))
            mean = cell.weight.mean(axis=(0, 1))
            z_scores.append((mean - truth) / cell.weight.std(axis=(0, 1)))
        z = np.concatenate(z_scores)
        report["by_size"][str(n)] = {
            "coverage": {str(level): float(np.mean(covered[level])) for level in LEVELS},
            "z_mean": float(z.mean()),
            "z_sd": float(z.std()),
            "methods": {m: methods.count(m) for m in set(methods)},
            "pareto_k_max": float(np.nanmax(ks)),
        }
        print(json.dumps({n: report["by_size"][str(n)]}), file=sys.stderr)
    return report


def _pooled(args: argparse.Namespace) -> dict:
    """Coverage and error of pooled fits on hierarchies drawn from the pooled model's priors,
    against the same cells fitted alone."""
    import pandas as pd

    import preference_dissect as pdx
    from preference_dissect.analyse.scores import hdi
    from preference_dissect.testing.simulate import hierarchical_features

    spec = pdx.FitSpec(pooling="groups")
    rows = []
    for rep in range(args.pooled_reps):
        rng = np.random.default_rng([args.seed, 99, rep])
        spread = np.abs(rng.normal(0.0, spec.pooling_scale, args.pooled_attributes))
        sim = hierarchical_features(
            int(rng.integers(2**31)), args.pooled_sizes, attributes=args.pooled_attributes,
            top_scale=args.prior_scale, spread=spread,
        )  # fmt: skip
        opts = {"min_group_size": min(args.pooled_sizes), "seed": rep, "progress": False}
        pooled = pdx.fit(sim.features, pooling="groups", **opts)
        alone = pdx.fit(sim.features, **opts)
        for g, size in enumerate(args.pooled_sizes):
            truth = sim.weights[sim.weights["group"] == f"g{g}"]["weight"].to_numpy()
            draws = pooled.posterior["weight"].sel(judge="judge0", group=f"g{g}").to_numpy()
            interval = hdi(draws.astype(float))
            single = alone.posterior["weight"].sel(judge="judge0", group=f"g{g}").to_numpy()
            rows.append({
                "rep": rep, "size": size,
                "covered_95": float(np.mean((interval[:, 0] <= truth) & (truth <= interval[:, 1]))),
                "mse_pooled": float(np.mean((draws.mean(axis=(0, 1)) - truth) ** 2)),
                "mse_unpooled": float(np.mean((single.mean(axis=(0, 1)) - truth) ** 2)),
            })  # fmt: skip
        print(json.dumps(rows[-1]), file=sys.stderr)
    table = pd.DataFrame(rows)
    by_size = table.groupby("size")[["covered_95", "mse_pooled", "mse_unpooled"]].mean()
    return {
        "reps": args.pooled_reps, "attributes": args.pooled_attributes,
        "sizes": args.pooled_sizes, "coverage_95": float(table["covered_95"].mean()),
        "by_size": {str(k): {c: float(v) for c, v in r.items()}
                    for k, r in by_size.to_dict("index").items()},
    }  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
