"""Reproduce GAIR's published numbers from their released fitted weights.

Judge names in the released files: ``human``, ``gpt-4-1106-preview`` (GPT-4-Turbo),
``gpt-3.5-turbo-1106``, ``qwen-72b-chat``, ``llama-2-70b-chat`` and 28 other open models.
Size groups: open judges of 6B-14B (20) and 34B-72B (10, with ``8x7b`` counted as 56B);
judges without a size in their name (human, GPT) are left out.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from preference_dissect.analyse import plots
from preference_dissect.analyse.run import nested_top_bottom
from preference_dissect.analyse.scores import (
    error_sensitivity,
    scenario_groups,
    top_bottom,
    weight_summary,
)
from preference_dissect.analyse.similarity import judge_similarity, size_group_similarity
from preference_dissect.bundled import bundled_path
from preference_dissect.fit.external import read_gair_weights

GPT4_TURBO = "gpt-4-1106-preview"
SEVERE_JUDGES = ("human", GPT4_TURBO, "qwen-72b-chat")
TOP_BOTTOM_JUDGES = ("human", GPT4_TURBO)
PLOT_GROUP = "Communication"
PLOT_JUDGES = ("human", GPT4_TURBO, "llama-2-70b-chat")
DISPLAY = {
    "human": "Human",
    GPT4_TURBO: "GPT-4-Turbo",
    "llama-2-70b-chat": "LLaMA-2-70B-Chat",
    "qwen-72b-chat": "Qwen-72B-Chat",
}


def reproduce_gair(
    out_dir: str | os.PathLike[str] | None = None,
    weights_dir: str | os.PathLike[str] | None = None,
    *,
    top_k: int = 3,
) -> dict[str, Any]:
    """Compute GAIR's headline numbers from the bundled released weights.

    Returns
    -------
    dict
        ``similarity`` {small, large, between, small_judges, large_judges},
        ``severe_error_score`` {judge: score}, ``top_bottom`` {judge: {group: {top, bottom}}},
        ``plot`` (written files, when ``out_dir`` is given), ``scenario_groups``.
    """
    idata = read_gair_weights(weights_dir or bundled_path("gair-weights"))
    groups = [str(g) for g in idata.posterior["group"].to_numpy()]
    scenarios = scenario_groups(groups)
    similarity = size_group_similarity(judge_similarity(idata, scenarios, n_draws=1))
    sensitivity = error_sensitivity(idata, scenarios)
    severe = sensitivity[sensitivity["attribute"] == "no_severe_errors"].set_index("judge")["score"]
    summary = weight_summary(idata)
    chosen = summary[summary["judge"].isin(TOP_BOTTOM_JUDGES)]
    result: dict[str, Any] = {
        "similarity": similarity,
        "severe_error_score": {j: float(severe[j]) for j in SEVERE_JUDGES if j in severe.index},
        "mean_severe_error_score_all": {str(j): float(v) for j, v in severe.items()},
        "top_bottom": nested_top_bottom(top_bottom(chosen, top_k)),
        "scenario_groups": scenarios,
        "weights": str(weights_dir or bundled_path("gair-weights")),
    }
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        renamed = summary.replace({"judge": DISPLAY})
        files = plots.plot_group_scores(
            renamed,
            PLOT_GROUP,
            [DISPLAY.get(j, j) for j in PLOT_JUDGES],
            out / f"gair_{PLOT_GROUP.lower()}",
            title=f"{PLOT_GROUP}: preference scores from GAIR's released weights",
        )
        result["plot"] = [str(p) for p in files]
    return result
