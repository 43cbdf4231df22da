"""Benchmark: our default fit against GAIR's reference method, on the same simulated data.

GAIR ("Dissecting Human and LLM Preferences") fits each (judge, group) cell with PyMC NUTS,
4 chains x (500 warm-up + 2,000 draws), repeated on 10 random subsamples of 90% of the
cell's rows, and averages the posterior means. On the GAIR shape (33 judges x 16 groups,
29 attributes; :func:`fit_scale.build_features`, GAIR's released weights as the planted
weights) this benchmark, in one run,

1. times ``prefdissect fit`` (default engine) end to end on all 528 cells;
2. times the reference method on a fixed small sample of cells and extrapolates it to all
   528 (seconds per cell as a straight line in the cell's rows, fitted to the sample);
3. fits the sampled cells with long NUTS (4 chains x 2,000 draws, 1,000 warm-up, all rows);
4. reports the speed ratio and the accuracy of both methods against the planted weights
   and against long NUTS.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/vs_reference.py [--cells 3] [--subsamples 10]
        [--out benchmarks/results/vs_reference.json]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_scale import build_features

from preference_dissect.io import write_json

REPO = Path(__file__).resolve().parent.parent
#: GAIR's reference method: NUTS chains, warm-up, draws, subsamples and their share of rows
REFERENCE = {"chains": 4, "tune": 500, "draws": 2000, "subsamples": 10, "share": 0.9}
#: The sampled cells: (judge, group), a small, a typical and a large group
SAMPLE_CELLS = (
    ("human", "express_feeling"),
    ("gpt-4-1106-preview", "Advice"),
    ("llama-2-70b-chat", "Knowledge-aware"),
)
TARGET_RATIO = 100.0


def fit_ours(frame, seed: int, tmp: Path) -> tuple[Path, float]:
    """``prefdissect fit`` on the whole table in a subprocess; the fit file and wall time."""
    features = tmp / "features.parquet"
    frame.to_parquet(features, index=False)
    fit_path = tmp / "fit.nc"
    command = [sys.executable, "-m", "preference_dissect.cli.main", "fit", str(features)]
    command += ["--out", str(fit_path), "--seed", str(seed)]
    start = time.perf_counter()
    proc = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    )
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr)
    return fit_path, seconds


def reference_fit(xmat: np.ndarray, y: np.ndarray, seed: int, subsamples: int) -> dict:
    """GAIR's method on one cell: NUTS on ``subsamples`` random 90% subsamples, averaged."""
    import pymc as pm

    from preference_dissect.fit.nuts import build_model
    from preference_dissect.fit.spec import FitSpec

    logging.getLogger("pymc").setLevel(logging.ERROR)
    rng = np.random.default_rng(seed)
    size = int(REFERENCE["share"] * len(y))
    means, sds = [], []
    start = time.perf_counter()
    for i in range(subsamples):
        rows = np.sort(rng.choice(len(y), size=size, replace=False))
        with build_model(xmat[rows], y[rows], FitSpec()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = pm.sample(
                draws=REFERENCE["draws"],
                tune=REFERENCE["tune"],
                chains=REFERENCE["chains"],
                cores=min(REFERENCE["chains"], os.cpu_count() or 1),
                random_seed=seed + i,
                progressbar=False,
                compute_convergence_checks=False,
            )
        print(f"reference subsample {i + 1}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
        w = idata.posterior["weight"].to_numpy().reshape(-1, xmat.shape[1])
        means.append(w.mean(0))
        sds.append(w.std(0))
    return {
        "seconds": time.perf_counter() - start,
        "mean": np.mean(means, axis=0),
        "sd": np.mean(sds, axis=0),
    }


def _errors(estimate: np.ndarray, truth: np.ndarray) -> dict:
    diff = estimate - truth
    return {"rmse": float(np.sqrt(np.mean(diff**2))), "max_abs": float(np.max(np.abs(diff)))}


def compare_cell(cell: tuple[str, str], xmat, y, ours, truth, seed: int, subsamples: int):
    """Reference and long NUTS on one cell; both methods' errors against truth and NUTS."""
    from preference_dissect.fit.nuts import nuts_sample
    from preference_dissect.fit.spec import FitSpec

    ref = reference_fit(xmat, y, seed, subsamples)
    start = time.perf_counter()
    long = nuts_sample(xmat, y, FitSpec(), seed, draws=2000, tune=1000, chains=4, cores=2)
    long_seconds = time.perf_counter() - start
    lw = long["weight"].reshape(-1, xmat.shape[1])
    long_mean, long_sd = lw.mean(0), lw.std(0)
    row = {"judge": cell[0], "group": cell[1], "n": len(y)}
    row["reference_seconds"] = round(ref["seconds"], 2)
    row["long_nuts_seconds"] = round(long_seconds, 2)
    row["long_nuts_rhat_max"] = long["rhat_max"]
    for name, mean, sd in (
        ("ours", ours.mean(0), ours.std(0)),
        ("reference", ref["mean"], ref["sd"]),
    ):
        row[name] = {
            "vs_truth": _errors(mean, truth),
            "vs_long_nuts_max_abs_mean_diff": float(np.max(np.abs(mean - long_mean))),
            "vs_long_nuts_sd_ratio": [float(np.min(sd / long_sd)), float(np.max(sd / long_sd))],
        }
    print(json.dumps(row), file=sys.stderr)
    return row


def extrapolate(rows: list[dict], sizes: list[int]) -> dict:
    """Reference seconds for cells of ``sizes`` rows: a least-squares line in the rows
    through the sampled cells (their mean when they all have one size)."""
    n = np.array([r["n"] for r in rows], dtype=float)
    sec = np.array([r["reference_seconds"] for r in rows], dtype=float)
    if len(set(n)) > 1:
        slope, icpt = np.polyfit(n, sec, 1)
        total = float(np.sum(np.maximum(icpt + slope * np.asarray(sizes), sec.min() * 0.5)))
    else:
        slope, icpt, total = 0.0, float(sec.mean()), float(sec.mean() * len(sizes))
    return {
        "per_cell_seconds": {"intercept": float(icpt), "per_row": float(slope)},
        "extrapolated_seconds_all": total,
        "mean_cell_times_all": float(sec.mean() * len(sizes)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cells", type=int, default=3, help="cells fitted the reference way")
    parser.add_argument("--subsamples", type=int, default=REFERENCE["subsamples"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "vs_reference.json"))
    args = parser.parse_args()

    from preference_dissect.fit.cells import constant_columns
    from preference_dissect.fit.features import validate_features
    from preference_dissect.fit.idata import load_fit

    frame, truth, sizes = build_features(args.seed)
    table = validate_features(frame).cells()
    with tempfile.TemporaryDirectory() as tmp:
        fit_path, ours_seconds = fit_ours(frame, args.seed, Path(tmp))
        idata = load_fit(fit_path)
        post = idata.posterior["weight"].load()
    print(json.dumps({"ours_seconds": round(ours_seconds, 2)}), file=sys.stderr)
    ours_all = ours_vs_truth(post, truth)
    rows = []
    for judge, group in SAMPLE_CELLS[: args.cells]:
        xmat, y = table[(judge, group)]
        keep = np.array([j not in constant_columns(xmat) for j in range(xmat.shape[1])])
        draws = post.sel(judge=judge, group=group).to_numpy().reshape(-1, xmat.shape[1])
        rows.append(
            compare_cell(
                (judge, group),
                xmat[:, keep],
                y,
                draws[:, keep].astype(float),
                truth[(judge, group)][keep],
                args.seed,
                args.subsamples,
            )
        )
    report = summarise(rows, ours_seconds, ours_all, [sizes[g] for _, g in table], args)
    print(write_json(report, args.out).read_text(), end="")
    return 0


def ours_vs_truth(post, truth: dict) -> dict:
    """Our posterior means against the planted weights over all cells (estimable weights)."""
    diffs = []
    for (judge, group), w in truth.items():
        mean = post.sel(judge=judge, group=group).mean(("chain", "draw")).to_numpy()
        ok = np.isfinite(mean)
        diffs.append(mean[ok] - np.asarray(w)[ok])
    d = np.concatenate(diffs)
    return {"cells": len(truth), "rmse": float(np.sqrt(np.mean(d**2)))}


def summarise(rows: list[dict], ours_seconds: float, ours_all: dict, sizes, args) -> dict:
    """The report: both times, their ratio, and both methods' accuracy."""
    ref = extrapolate(rows, sizes)
    ratio = ref["extrapolated_seconds_all"] / ours_seconds
    pooled = {}
    for name in ("ours", "reference"):
        pooled[name] = {
            "vs_truth_rmse_sampled_cells": float(
                np.sqrt(np.mean([r[name]["vs_truth"]["rmse"] ** 2 for r in rows]))
            ),
            "vs_long_nuts_max_abs_mean_diff": max(
                r[name]["vs_long_nuts_max_abs_mean_diff"] for r in rows
            ),
            "vs_long_nuts_sd_ratio": [
                min(r[name]["vs_long_nuts_sd_ratio"][0] for r in rows),
                max(r[name]["vs_long_nuts_sd_ratio"][1] for r in rows),
            ],
        }
    pooled["ours"]["vs_truth_rmse_all_cells"] = ours_all["rmse"]
    return {
        "shape": {"judges": 33, "groups": 16, "fits": len(sizes), "attributes": 29},
        "reference_method": {**REFERENCE, "subsamples": args.subsamples},
        "cpu_count": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "ours_seconds_all": round(ours_seconds, 2),
        "reference_seconds_sampled": [r["reference_seconds"] for r in rows],
        "reference": ref,
        "speed_ratio": round(ratio, 1),
        "target_ratio": TARGET_RATIO,
        "meets_target": ratio >= TARGET_RATIO,
        "accuracy": pooled,
        "cells": rows,
    }


if __name__ == "__main__":
    sys.exit(main())
