"""Preference scores, top/bottom attributes and error sensitivity from a fit.

The preference score of an attribute is ``100 * sigmoid(w)``: the probability that the judge
prefers response A when A beats B on that attribute alone (50 = neutral). Point scores use
the posterior-mean weight (as GAIR); intervals are the 95% HDI of the weight
(``arviz.hdi``) mapped through the same sigmoid.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.compare.groups import scenario_groups

ERROR_ATTRIBUTES = ("no_minor_errors", "no_moderate_errors", "no_severe_errors")
HDI_PROB = 0.95


def score(weight: np.ndarray | float) -> np.ndarray | float:
    """Preference score ``100 * sigmoid(weight)``."""
    return 100.0 / (1.0 + np.exp(-np.asarray(weight, dtype=float)))


def has_draws(idata: Any) -> bool:
    """Whether a fit has posterior draws (more than one per cell), i.e. intervals exist.

    GAIR's released weights are point estimates: one draw, no intervals, no probabilities.
    """
    post = idata.posterior
    return int(post.sizes.get("chain", 1)) * int(post.sizes.get("draw", 1)) > 1


def hdi(draws: np.ndarray, hdi_prob: float = HDI_PROB) -> np.ndarray:
    """HDI over the first two axes (chain, draw) with ``arviz.hdi``; shape ``(..., 2)``.

    A single draw (a point estimate) has no interval: NaN.
    """
    import arviz as az

    draws = np.asarray(draws, dtype=float)
    if draws.shape[0] * draws.shape[1] == 1:
        return np.full((*draws.shape[2:], 2), np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.asarray(az.hdi(draws, hdi_prob=hdi_prob))


def weight_draws(idata: Any) -> np.ndarray:
    """Posterior weights (as stored, float32), shape (chain, draw, judge, group, attribute)."""
    return idata.posterior["weight"].to_numpy()


def coords(idata: Any) -> tuple[list[str], list[str], list[str], list[str]]:
    """Judges, groups, attributes and attribute labels of a fit."""
    post = idata.posterior
    attributes = [str(a) for a in post["attribute"].to_numpy()]
    labels = (
        [str(x) for x in post["attribute_label"].to_numpy()]
        if "attribute_label" in post.coords
        else attributes
    )
    return (
        [str(j) for j in post["judge"].to_numpy()],
        [str(g) for g in post["group"].to_numpy()],
        attributes,
        labels,
    )


def fitted_mask(w: np.ndarray) -> np.ndarray:
    """(judge, group) cells that have a fit (not all NaN)."""
    return ~np.all(np.isnan(w), axis=(0, 1, 4))


def cell_counts(idata: Any) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Rows per fit (judge, group) and informative rows per (judge, group, attribute) (the
    pairs where the comparison is not 0), from ``fit_diagnostics``; None when not recorded."""
    diag = getattr(idata, "fit_diagnostics", None)
    if diag is None:
        return None, None
    n = diag["n"].to_numpy() if "n" in diag else None
    nz = diag["n_nonzero"].to_numpy().astype(float) if "n_nonzero" in diag else None
    if nz is not None:
        nz[nz < 0] = np.nan
    return n, nz


def weight_summary(idata: Any, hdi_prob: float = HDI_PROB) -> pd.DataFrame:
    """One row per fitted (judge, group, attribute) with an estimate.

    Columns: judge, group, attribute, label, mean, sd, hdi_low, hdi_high, score, score_low,
    score_high (the score interval is the weight HDI through the sigmoid), n (pairs in the
    fit), n_nonzero (pairs where the attribute comparison is not 0, i.e. the pairs that
    inform this weight; NaN when unknown). Attributes left out of a fit because they are
    constant there have no row. For point estimates (one draw) sd and intervals are NaN.
    """
    w = weight_draws(idata)
    judges, groups, attributes, labels = coords(idata)
    n_rows, n_nonzero = cell_counts(idata)
    mask = fitted_mask(w)
    parts = []
    for j, judge in enumerate(judges):  # judge by judge: bounded memory for large fits
        gi = np.flatnonzero(mask[j])
        if len(gi) == 0:
            continue
        sub = w[:, :, j][:, :, gi].astype(float)  # (chain, draw, groups, attribute)
        single = sub.shape[0] * sub.shape[1] == 1
        interval = hdi(sub, hdi_prob)
        p = len(attributes)
        parts.append(
            pd.DataFrame(
                {
                    "judge": judge,
                    "group": np.repeat([groups[i] for i in gi], p),
                    "attribute": np.tile(attributes, len(gi)),
                    "label": np.tile(labels, len(gi)),
                    "mean": sub.mean(axis=(0, 1)).reshape(-1),
                    "sd": (
                        np.full(sub.shape[2:], np.nan) if single else sub.std(axis=(0, 1), ddof=1)
                    ).reshape(-1),
                    "hdi_low": interval[..., 0].reshape(-1),
                    "hdi_high": interval[..., 1].reshape(-1),
                    "n": (
                        np.repeat(n_rows[j, gi], p)
                        if n_rows is not None
                        else np.full(len(gi) * p, np.nan)
                    ),
                    "n_nonzero": (
                        n_nonzero[j, gi].reshape(-1)
                        if n_nonzero is not None
                        else np.full(len(gi) * p, np.nan)
                    ),
                }
            )
        )
    columns = ["judge", "group", "attribute", "label", "mean", "sd", "hdi_low", "hdi_high"]
    columns += ["n", "n_nonzero"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    frame = frame[frame["mean"].notna()].reset_index(drop=True)
    frame["score"] = score(frame["mean"])
    frame["score_low"] = score(frame["hdi_low"])
    frame["score_high"] = score(frame["hdi_high"])
    return frame


def top_bottom(summary: pd.DataFrame, k: int = 3) -> pd.DataFrame:
    """The ``k`` highest and lowest scored attributes per (judge, group).

    Columns: judge, group, end (``top``/``bottom``), rank (1 = most extreme), attribute,
    label, score, score_low, score_high.
    """
    parts = []
    for (judge, group), frame in summary.groupby(["judge", "group"], sort=False):
        ordered = frame.sort_values("score", ascending=False, kind="stable")
        for end, chosen in (("top", ordered.head(k)), ("bottom", ordered.tail(k).iloc[::-1])):
            part = chosen[["attribute", "label", "score", "score_low", "score_high"]].copy()
            part.insert(0, "rank", np.arange(1, len(part) + 1))
            part.insert(0, "end", end)
            part.insert(0, "group", group)
            part.insert(0, "judge", judge)
            parts.append(part)
    if not parts:
        return pd.DataFrame(
            columns=["judge", "group", "end", "rank", "attribute", "label", "score"]
        )
    return pd.concat(parts, ignore_index=True)


def averaged_groups(idata: Any) -> list[str]:
    """The groups judge-level summaries average over: the scenario groups
    (:func:`~preference_dissect.compare.groups.scenario_groups`) of the groups that have at
    least one fit (skipped cells do not count)."""
    _, groups, _, _ = coords(idata)
    fitted = fitted_mask(weight_draws(idata)).any(axis=0)
    present = [g for g, ok in zip(groups, fitted, strict=True) if ok]
    return scenario_groups(present or groups)


def error_sensitivity(
    idata: Any, groups: list[str] | None = None, hdi_prob: float = HDI_PROB
) -> pd.DataFrame:
    """Mean score of the error attributes over the scenario groups, per judge.

    For each judge and each of ``no_minor_errors``, ``no_moderate_errors`` and
    ``no_severe_errors`` present in the fit: the mean over groups of the score of the
    posterior-mean weight (GAIR's number), and the HDI of the per-draw mean score.

    Columns: judge, attribute, label, score, score_low, score_high, groups (count).
    """
    w = weight_draws(idata)
    judges, all_groups, attributes, labels = coords(idata)
    use = groups or averaged_groups(idata)
    gidx = [all_groups.index(g) for g in use if g in all_groups]
    rows = []
    for attr in ERROR_ATTRIBUTES:
        if attr not in attributes:
            continue
        a = attributes.index(attr)
        for j, judge in enumerate(judges):
            cell = w[:, :, j, gidx, a]  # (chain, draw, groups)
            fitted = ~np.all(np.isnan(cell), axis=(0, 1))
            if not fitted.any():
                continue
            cell = cell[:, :, fitted]
            point = float(np.mean(score(cell.mean(axis=(0, 1)))))
            per_draw = np.mean(score(cell), axis=2)[..., None]
            low, high = hdi(per_draw, hdi_prob)[0]
            rows.append(
                {
                    "judge": judge,
                    "attribute": attr,
                    "label": labels[a],
                    "score": point,
                    "score_low": float(low),
                    "score_high": float(high),
                    "groups": int(fitted.sum()),
                }
            )
    return pd.DataFrame(
        rows, columns=["judge", "attribute", "label", "score", "score_low", "score_high", "groups"]
    )


#: Score points a weight may move under the wide prior before it is flagged as prior-driven.
PRIOR_SHIFT_FLAG = 5.0


def prior_sensitivity(idata: Any, threshold: float = PRIOR_SHIFT_FLAG) -> pd.DataFrame:
    """How much each score moves when the default prior is replaced by a wide one.

    The fit also finds, for every cell, the posterior mean under a wide prior (the
    ``prior_sensitivity`` group; default ``normal:1``). A score that moves by more than
    ``threshold`` points is set more by the prior than by the data: read it with care.

    Returns
    -------
    pandas.DataFrame
        judge, group, attribute, label, score (default prior), score_wide, shift
        (``score_wide - score``), flagged (``|shift| > threshold``), prior (the wide prior);
        empty when the fit did not run the check.
    """
    columns = ["judge", "group", "attribute", "label", "score", "score_wide", "shift"]
    columns += ["flagged", "prior"]
    group = getattr(idata, "prior_sensitivity", None)
    if group is None or "weight_mean" not in group:
        return pd.DataFrame(columns=columns)
    summary = weight_summary(idata)
    if summary.empty:
        return pd.DataFrame(columns=columns)
    wide = group["weight_mean"].to_dataframe().reset_index()
    table = summary.merge(wide, on=["judge", "group", "attribute"], how="inner")
    table = table[table["weight_mean"].notna()].copy()
    table["score_wide"] = score(table["weight_mean"])
    table["shift"] = table["score_wide"] - table["score"]
    table["flagged"] = table["shift"].abs() > threshold
    table["prior"] = str(group.attrs.get("prior", ""))
    return table[columns].reset_index(drop=True)
