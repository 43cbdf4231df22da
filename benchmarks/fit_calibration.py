"""Benchmark: calibration of the default fit on planted weights (long version of the test).

Repeats: draw true weights from the prior (Laplace(0, b), 29 attributes), simulate a group
of n pairs, fit with the default engine, record whether the 50/80/95% HDIs cover the truth
and the z-scores (posterior mean - truth) / posterior sd. With weights drawn from the prior,
a calibrated posterior covers at the nominal rates and z has mean 0 and sd 1.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/fit_calibration.py [--reps 40] [--sizes 121 400 1418]
        [--prior-scale 0.1] [--out benchmarks/results/fit_calibration.json]
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
    import arviz as az

    from preference_dissect.fit.cells import fit_cell
    from preference_dissect.fit.spec import FitSpec, Prior

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument("--sizes", type=int, nargs="+", default=[121, 400, 1418])
    parser.add_argument("--prior-scale", type=float, default=0.1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out", default=str(REPO / "benchmarks" / "results" / "fit_calibration.json")
    )
    args = parser.parse_args()

    spec = FitSpec(prior=Prior(kind="laplace", scale=args.prior_scale))
    report: dict = {
        "prior": spec.prior.describe(),
        "reps": args.reps,
        "attributes": P,
        "by_size": {},
    }
    start = time.perf_counter()
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
    report["seconds"] = round(time.perf_counter() - start, 1)
    print(write_json(report, args.out).read_text(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
