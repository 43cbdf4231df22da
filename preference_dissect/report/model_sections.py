"""Report sections on the fit as a model, from what the analysis folder holds: collinearity of
the attributes (``collinearity.csv``, ``vif.csv``, ``weight_correlation.csv``; see
:mod:`preference_dissect.analyse.collinearity`) and the fit's PSIS-LOO (``summary.json``;
see :mod:`preference_dissect.analyse.loo`)."""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from preference_dissect.report.artifacts import Artifact, read_any_table

#: Rows of each flagged table.
ROWS = 15


def _table(analysis: Artifact, name: str) -> pd.DataFrame | None:
    path = analysis.path / name
    return read_any_table(path) if path.is_file() else None


def _records(table: pd.DataFrame) -> list[dict[str, Any]]:
    return table.head(ROWS).to_dict("records")


def _matrix(corr: pd.DataFrame, group: str) -> pd.DataFrame:
    """The correlation matrix of one group from the long pairs table."""
    part = corr[corr["group"] == group]
    names = list(dict.fromkeys([*part["attribute_a"], *part["attribute_b"]]))
    matrix = pd.DataFrame(float("nan"), index=names, columns=names)
    for r in part.itertuples(index=False):
        matrix.loc[r.attribute_a, r.attribute_b] = matrix.loc[r.attribute_b, r.attribute_a] = r.r
    for name in names:
        matrix.loc[name, name] = 1.0
    return matrix


def collinearity_section(analysis: Artifact) -> dict[str, Any] | None:
    """The ``all`` group's correlation heatmap of the attribute comparisons, the attribute
    pairs with ``|r| > 0.8``, the VIFs above 10 and the strongly correlated weights."""
    if not analysis.ok:
        return None
    from preference_dissect.analyse.collinearity import CORRELATION_FLAG, VIF_FLAG
    from preference_dissect.analyse.plots import correlation_figure, figure_data_uri

    corr, vif = _table(analysis, "collinearity.csv"), _table(analysis, "vif.csv")
    weights = _table(analysis, "weight_correlation.csv")
    if corr is None and weights is None:
        return None
    out: dict[str, Any] = {
        "threshold": CORRELATION_FLAG,
        "vif_threshold": VIF_FLAG,
        **dict.fromkeys(("plot", "group", "flagged", "vif", "weights")),
    }
    if corr is not None and vif is not None:
        flagged = corr[corr["flagged"].astype(bool)]
        order = flagged["r"].abs().sort_values(ascending=False).index
        out.update(
            flagged=_records(flagged.loc[order]),
            n_flagged=len(flagged),
            vif=_records(vif[vif["flagged"].astype(bool)].sort_values("vif", ascending=False)),
            n_vif=int(vif["flagged"].astype(bool).sum()),
        )
        groups = list(dict.fromkeys(corr["group"]))
        if groups:
            out["group"] = "all" if "all" in groups else groups[0]
            title = f"{out['group']}: correlation of attribute comparisons"
            out["plot"] = figure_data_uri(correlation_figure(_matrix(corr, out["group"]), title))
    if weights is not None:
        strong = weights[weights["flagged"].astype(bool)].sort_values("r")
        out.update(weights=_records(strong), n_weights=len(strong))
    return out


def pooling_section(analysis: Artifact) -> dict[str, Any] | None:
    """A pooled fit's shrinkage (plot, the largest moves) and learned spreads, from
    ``shrinkage.csv`` and ``spreads.csv``; ``{"pooled": False}`` for an unpooled fit."""
    if not analysis.ok:
        return None
    table, spreads = _table(analysis, "shrinkage.csv"), _table(analysis, "spreads.csv")
    if table is None or spreads is None or table.empty:
        return {"pooled": False}
    from preference_dissect.report.sections import file_to_data_uri

    summary = json.loads((analysis.path / "summary.json").read_text(encoding="utf-8"))
    pooling = summary.get("pooling") or {}
    moved = table.reindex(table["shift"].abs().sort_values(ascending=False).index)
    plot = analysis.path / "shrinkage.png"  # the analysis drew it: embedded, not redrawn
    return {
        "pooled": True,
        "structure": pooling.get("structure"),
        "pools": pooling.get("pools", []),
        "plot": file_to_data_uri(plot) if plot.is_file() else None,
        "moved": _records(moved),
        "spreads": _records(spreads.sort_values("mean", ascending=False)),
        "median_sd_ratio": float(table["sd_ratio"].median()),
    }


def controls_section(analysis: Artifact) -> dict[str, Any] | None:
    """The controls' weights and the attributes they moved most, from ``controls.csv`` and
    ``control_effects.csv``; ``{"controlled": False}`` for a fit without controls."""
    if not analysis.ok:
        return None
    weights, effects = _table(analysis, "controls.csv"), _table(analysis, "control_effects.csv")
    if weights is None or effects is None:
        return {"controlled": False}
    return {
        "controlled": True,
        "controls": list(dict.fromkeys(weights["attribute"])),
        "weights": _records(weights),
        "effects": _records(effects),
    }


def model_fit_section(analysis: Artifact) -> dict[str, Any] | None:
    """PSIS-LOO of the run's fit (elpd, p_loo, Pareto k), as the analysis computed it."""
    if not analysis.ok:
        return None
    from preference_dissect.analyse.loo import PARETO_K_BAD

    path = analysis.path / "summary.json"
    loo = json.loads(path.read_text(encoding="utf-8")).get("loo") if path.is_file() else None
    if not loo:
        return None
    return {**loo, "k_threshold": PARETO_K_BAD}
