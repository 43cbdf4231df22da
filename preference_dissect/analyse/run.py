"""Run every analysis on a fit and write tables, plots and ``summary.json`` to a folder."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.analyse import plots
from preference_dissect.analyse.scores import (
    coords,
    error_sensitivity,
    prior_sensitivity,
    top_bottom,
    weight_summary,
)
from preference_dissect.analyse.similarity import (
    judge_contrasts,
    judge_similarity,
    size_group_similarity,
)
from preference_dissect.fit.idata import diagnostics_frame, spec_of, warnings_of
from preference_dissect.io import write_json, write_text

MAX_PLOT_JUDGES = 6


def write_csv(frame: pd.DataFrame, target: str | os.PathLike[str], index: bool = False) -> Path:
    """Write a table as CSV atomically."""
    return write_text(frame.to_csv(index=index), target)


def _finite(value: Any) -> Any:
    """A JSON-ready scalar: NaN and inf become None, numpy scalars Python ones."""
    if isinstance(value, float | np.floating):
        return float(value) if np.isfinite(value) else None
    if isinstance(value, np.bool_ | np.integer):
        return value.item()
    return value


def nested_top_bottom(table: pd.DataFrame) -> dict[str, dict[str, dict[str, list[dict[str, Any]]]]]:
    """``{judge: {group: {"top": [...], "bottom": [...]}}}`` from :func:`top_bottom` output."""
    out: dict[str, dict[str, dict[str, list[dict[str, Any]]]]] = {}
    for row in table.itertuples(index=False):
        cell = out.setdefault(row.judge, {}).setdefault(row.group, {"top": [], "bottom": []})
        cell[row.end].append(
            {
                "attribute": row.attribute,
                "label": row.label,
                "score": round(float(row.score), 4),
                "score_low": _finite(round(float(row.score_low), 4)),
                "score_high": _finite(round(float(row.score_high), 4)),
            }
        )
    return out


def _prior_summary(prior: pd.DataFrame) -> dict[str, Any]:
    """The wide prior and the flagged scores of :func:`~.scores.prior_sensitivity`."""
    if prior.empty:
        return {"prior": None, "flagged": []}
    columns = ["judge", "group", "attribute", "score", "score_wide", "shift"]
    flagged = prior.loc[prior["flagged"].astype(bool), columns]
    return {
        "prior": str(prior["prior"].iloc[0]),
        "flagged": [{k: _finite(v) for k, v in r.items()} for r in flagged.to_dict("records")],
    }


def _judge_comparisons(
    idata: Any,
    judges: list[str],
    out: Path,
    result: dict[str, Any],
    reference: str | None,
    sizes: dict[str, float] | None,
) -> list[Path]:
    """Similarity (+ size groups) and contrasts with the reference judge."""
    sim = judge_similarity(idata)
    matrix = sim.matrix.loc[judges, judges]
    files = [write_csv(matrix, out / "similarity.csv", index=True)]
    files.append(write_csv(sim.pairs, out / "similarity_pairs.csv"))
    files += plots.plot_similarity(matrix, out / "similarity", point_estimates=sim.point_estimates)
    sizes_result = size_group_similarity(sim, sizes)
    if sizes_result["small_judges"] or sizes_result["large_judges"]:
        result["size_similarity"] = sizes_result
    ref = reference or ("human" if "human" in judges else judges[0])
    files.append(write_csv(judge_contrasts(idata, ref), out / "contrasts.csv"))
    result["contrast_reference"] = ref
    return files


def _records(table: pd.DataFrame, limit: int = 20) -> list[dict[str, Any]]:
    return [{k: _finite(v) for k, v in r.items()} for r in table.head(limit).to_dict("records")]


def _collinearity(
    idata: Any, features: pd.DataFrame | None, out: Path, result: dict[str, Any]
) -> list[Path]:
    """Posterior weight correlations; with the features, their correlations, VIFs and the
    fit's PSIS-LOO (see :mod:`.collinearity`, :mod:`.loo`)."""
    from preference_dissect.analyse.collinearity import (
        feature_correlations,
        variance_inflation,
        weight_correlations,
    )

    posterior = weight_correlations(idata)
    files = [write_csv(posterior, out / "weight_correlation.csv")]
    flagged = posterior[posterior["flagged"]].sort_values("r")
    result["collinearity"] = {"weights_flagged": _records(flagged)}
    if features is None:
        return files
    corr, vif = feature_correlations(features), variance_inflation(features)
    files += [write_csv(corr, out / "collinearity.csv"), write_csv(vif, out / "vif.csv")]
    order = corr.loc[corr["flagged"]].reindex(
        corr.loc[corr["flagged"], "r"].abs().sort_values(ascending=False).index
    )
    result["collinearity"]["features_flagged"] = _records(order)
    result["collinearity"]["vif_flagged"] = _records(
        vif[vif["flagged"]].sort_values("vif", ascending=False)
    )
    result["loo"] = _loo_summary(idata, features)
    return files


def _shrinkage(idata: Any, out: Path, result: dict[str, Any]) -> list[Path]:
    """A pooled fit's shrinkage table, spreads and plot (see :mod:`.shrinkage`), and in the
    summary, per pool, the cells, the median sd ratio and the largest shift, and the largest
    spreads."""
    from preference_dissect.analyse.shrinkage import pool_spreads, shrinkage
    from preference_dissect.fit.pooled_idata import POOLING_GROUP

    pooling = getattr(idata, POOLING_GROUP, None)
    if pooling is None:
        return []
    table, spreads = shrinkage(idata), pool_spreads(idata)
    files = [write_csv(table, out / "shrinkage.csv"), write_csv(spreads, out / "spreads.csv")]
    structure = pooling.attrs["structure"]
    files += plots.save_figure(
        plots.shrinkage_figure(table, f"pooling {structure}: shrinkage"), out / "shrinkage"
    )
    pools = []
    for pool, part in table.groupby("pool", sort=False):
        biggest = part.loc[part["shift"].abs().idxmax()]
        keys = ("judge", "group", "attribute", "unpooled_mean", "pooled_mean")
        pools.append({
            "pool": str(pool), "cells": len(part[["judge", "group"]].drop_duplicates()),
            "median_sd_ratio": float(part["sd_ratio"].median()),
            "largest_shift": {k: _finite(biggest[k]) for k in keys},
        })  # fmt: skip
    largest = _records(spreads.sort_values("mean", ascending=False), limit=10)
    result["pooling"] = {"structure": structure, "pools": pools, "largest_spreads": largest}
    return files


def _controls(idata: Any, out: Path, result: dict[str, Any]) -> list[Path]:
    """A fit's control weights and every attribute's change with the controls (see
    :mod:`.controls`)."""
    from preference_dissect.analyse.controls import control_effects, control_weights, controls_of

    if not controls_of(idata):
        return []
    weights, effects = control_weights(idata), control_effects(idata)
    result["controls"] = {
        "controls": controls_of(idata),
        "weights": _records(
            weights[["judge", "group", "attribute", "mean", "hdi_low", "hdi_high"]]
        ),
        "largest_changes": _records(effects),
    }
    return [
        write_csv(weights, out / "controls.csv"),
        write_csv(effects, out / "control_effects.csv"),
    ]


def _loo_summary(idata: Any, features: pd.DataFrame) -> dict[str, Any] | None:
    """The fit's PSIS-LOO (None for point estimates, or a likelihood without pointwise
    log-likelihoods)."""
    from preference_dissect.analyse.loo import loo
    from preference_dissect.analyse.scores import has_draws

    if not has_draws(idata):
        return None
    try:
        row = loo(idata, features).to_dict("records")[0]
    except NotImplementedError:
        return None
    return {k: _finite(v) for k, v in row.items()}


def analyse_fit(
    idata: Any,
    out_dir: str | os.PathLike[str],
    *,
    top_k: int = 3,
    plot_judges: list[str] | None = None,
    reference: str | None = None,
    sizes: dict[str, float] | None = None,
    progress: Callable[[str], None] | None = None,
    features: pd.DataFrame | None = None,
) -> dict[str, Any]:
    """Write the analysis of ``idata`` to ``out_dir`` and return the summary.

    Files: ``scores.csv``, ``top_bottom.csv``, ``diagnostics.csv``, ``sensitivity.csv`` (when
    error attributes exist), ``similarity.csv`` + ``similarity_pairs.csv`` and
    ``contrasts.csv`` (more than one judge), ``weight_correlation.csv`` (posterior draws),
    ``scores_<group>.{png,svg}``, ``similarity.{png,svg}``, ``sensitivity.{png,svg}``,
    ``summary.json``; with the fit's ``features``, also ``collinearity.csv``, ``vif.csv``
    and the PSIS-LOO of the fit (in ``summary.json``); for a pooled fit ``shrinkage.csv``,
    ``spreads.csv`` and ``shrinkage.{png,svg}``; with controls ``controls.csv`` (their
    weights) and ``control_effects.csv`` (every attribute with and without them).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    step = progress or (lambda _msg: None)
    judges, groups, attributes, _ = coords(idata)
    files: list[Path] = []
    step("scores")
    summary_table = weight_summary(idata)
    files.append(write_csv(summary_table, out / "scores.csv"))
    from preference_dissect.analyse.controls import controls_of

    # controls are adjusted for, not dissected: not among the top and bottom attributes
    tb = top_bottom(summary_table[~summary_table["attribute"].isin(controls_of(idata))], top_k)
    files.append(write_csv(tb, out / "top_bottom.csv"))
    diag = diagnostics_frame(idata)
    files.append(write_csv(diag, out / "diagnostics.csv"))
    prior = prior_sensitivity(idata)
    if not prior.empty:
        files.append(write_csv(prior, out / "prior_sensitivity.csv"))
    step("sensitivity")
    sens = error_sensitivity(idata)
    if not sens.empty:
        files.append(write_csv(sens, out / "sensitivity.csv"))
        files += plots.plot_sensitivity(sens, out / "sensitivity")
    result: dict[str, Any] = {
        "judges": judges,
        "groups": groups,
        "attributes": attributes,
        "fits": len(diag),
        "spec": spec_of(idata),
        "warnings": warnings_of(idata),
        "top_bottom": nested_top_bottom(tb),
        "error_sensitivity": {},
        "prior_sensitivity": _prior_summary(prior),
    }
    for r in sens.itertuples(index=False):
        result["error_sensitivity"].setdefault(r.judge, {})[r.attribute] = {
            "score": float(r.score),
            "score_low": float(r.score_low),
            "score_high": float(r.score_high),
        }
    fitted_judges = list(dict.fromkeys(summary_table["judge"].tolist()))
    if len(fitted_judges) > 1:
        step("similarity")
        files += _judge_comparisons(idata, fitted_judges, out, result, reference, sizes)
    step("collinearity")
    files += _collinearity(idata, features, out, result)
    files += _shrinkage(idata, out, result)
    files += _controls(idata, out, result)
    step("plots")
    chosen = plot_judges or fitted_judges[:MAX_PLOT_JUDGES]
    for group in groups:
        files += plots.plot_group_scores(
            summary_table, group, chosen, out / f"scores_{plots.safe_name(group)}"
        )
    result["files"] = sorted({str(p.relative_to(out)) for p in files} | {"summary.json"})
    write_json(result, out / "summary.json")
    return result
