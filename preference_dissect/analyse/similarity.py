"""Judge similarity (GAIR): Pearson correlation of two judges' weights per scenario group,
averaged over groups; size-group similarity; judge contrasts.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.analyse.scores import (
    HDI_PROB,
    averaged_groups,
    coords,
    hdi,
    weight_draws,
)

SIMILARITY_DRAWS = 200
SMALL_RANGE = (6.0, 14.0)
LARGE_RANGE = (34.0, 72.0)
_MOE = re.compile(r"(?<![\d.])(\d+)x(\d+(?:\.\d+)?)b(?![a-z])", re.IGNORECASE)
_SIZE = re.compile(r"(?<![\d.x])(\d+(?:\.\d+)?)b(?![a-z])", re.IGNORECASE)


def parse_size(name: str) -> float | None:
    """Parameter count in billions from a model name (``7b``, ``13b``, ``8x7b`` -> 56), or None."""
    m = _MOE.search(name)
    if m:
        return float(m.group(1)) * float(m.group(2))
    m = _SIZE.search(name)
    return float(m.group(1)) if m else None


MIN_COMMON_ATTRIBUTES = 3


def _group_correlations(w: np.ndarray) -> np.ndarray:
    """Pearson correlation between judges for each leading index; ``w`` (..., judge, attr).

    NaN weights (attributes not estimable in a fit) are left out pairwise: two judges are
    correlated over the attributes both have, and the correlation is NaN when they share
    fewer than :data:`MIN_COMMON_ATTRIBUTES` or either is constant there.
    """
    mask = np.isfinite(w).astype(float)
    x = np.where(mask > 0, w, 0.0)

    def pair(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return np.einsum("...ia,...ja->...ij", a, b)

    n = pair(mask, mask)
    sx, sy = pair(x, mask), pair(mask, x)
    with np.errstate(all="ignore"):
        cov = pair(x, x) - sx * sy / n
        var_x = pair(x * x, mask) - sx**2 / n
        var_y = pair(mask, x * x) - sy**2 / n
        r = cov / np.sqrt(var_x * var_y)
    ok = (n >= MIN_COMMON_ATTRIBUTES) & (var_x > 1e-24) & (var_y > 1e-24)
    return np.where(ok, np.clip(r, -1.0, 1.0), np.nan)


def _mean_similarity(w_groups: np.ndarray) -> np.ndarray:
    """(groups, judge, attr) -> (judge, judge) mean over groups where both judges have fits."""
    corr = _group_correlations(w_groups)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return np.nanmean(corr, axis=0)


@dataclass
class Similarity:
    """Judge similarity of a fit (:func:`judge_similarity`).

    Attributes
    ----------
    matrix : pandas.DataFrame
        judge x judge: the posterior mean of the similarity (mean over groups of the Pearson
        r of two judges' weights, computed draw by draw). With point estimates only (one
        draw, e.g. GAIR's released weights) it equals ``plugin``.
    plugin : pandas.DataFrame
        judge x judge: the same statistic on the posterior-mean weights (GAIR's number). It
        has no interval; with wide posteriors it is higher than the posterior mean, because
        posterior noise attenuates correlations draw by draw while shrunk means look alike.
    pairs : pandas.DataFrame
        One row per pair of judges: ``judge_a``, ``judge_b``, ``similarity`` (posterior
        mean), ``hdi_low``, ``hdi_high`` (its 95% HDI; NaN for point estimates), ``plugin``,
        ``groups`` (groups where both judges have a fit).
    draws : numpy.ndarray
        Per-draw matrices, shape (draws, judge, judge).
    point_estimates : bool
        True when the fit has one draw per cell: no intervals.
    """

    matrix: pd.DataFrame
    plugin: pd.DataFrame
    pairs: pd.DataFrame
    draws: np.ndarray
    point_estimates: bool


def judge_similarity(
    idata: Any,
    groups: list[str] | None = None,
    *,
    n_draws: int = SIMILARITY_DRAWS,
    hdi_prob: float = HDI_PROB,
    seed: int = 0,
) -> Similarity:
    """Similarity of every pair of judges, with the posterior of the reported statistic.

    Parameters
    ----------
    idata : arviz.InferenceData
        A fit (``weight`` with dims chain, draw, judge, group, attribute).
    groups : list of str, optional
        Groups to average over (default: the scenario groups with fits,
        :func:`~preference_dissect.compare.groups.scenario_groups`).
    n_draws : int
        Posterior draws used (a random subset, pairing draw i of every fit).
    hdi_prob : float
    seed : int

    Returns
    -------
    Similarity
        ``matrix`` (posterior mean), ``plugin`` (GAIR's correlation of posterior means),
        ``pairs`` with HDIs of the same statistic as ``matrix``; the posterior mean lies
        inside its interval.
    """
    w = weight_draws(idata)
    judges, all_groups, _, _ = coords(idata)
    use = groups or averaged_groups(idata)
    gidx = [all_groups.index(g) for g in use if g in all_groups]
    w = w[:, :, :, gidx, :]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plugin = _mean_similarity(np.moveaxis(np.nanmean(w, axis=(0, 1), dtype=float), 1, 0))
    flat = w.reshape(-1, *w.shape[2:])
    rng = np.random.default_rng(seed)
    pick = rng.choice(flat.shape[0], size=min(n_draws, flat.shape[0]), replace=False)
    per_draw = np.stack([_mean_similarity(np.moveaxis(flat[i], 1, 0)) for i in pick])
    point_only = flat.shape[0] == 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mean = plugin if point_only else np.nanmean(per_draw, axis=0)
    interval = hdi(per_draw[None], hdi_prob)
    fitted = np.isfinite(w).any(axis=(0, 1, 4))  # (judge, group)
    rows = []
    for a in range(len(judges)):
        for b in range(a + 1, len(judges)):
            rows.append(
                {
                    "judge_a": judges[a],
                    "judge_b": judges[b],
                    "similarity": mean[a, b],
                    "hdi_low": interval[a, b, 0],
                    "hdi_high": interval[a, b, 1],
                    "plugin": plugin[a, b],
                    "groups": int((fitted[a] & fitted[b]).sum()),
                }
            )
    columns = ["judge_a", "judge_b", "similarity", "hdi_low", "hdi_high", "plugin", "groups"]
    return Similarity(
        matrix=pd.DataFrame(mean, index=judges, columns=judges),
        plugin=pd.DataFrame(plugin, index=judges, columns=judges),
        pairs=pd.DataFrame(rows, columns=columns),
        draws=per_draw,
        point_estimates=point_only,
    )


def size_groups(
    judges: list[str],
    sizes: dict[str, float] | None = None,
    small: tuple[float, float] = SMALL_RANGE,
    large: tuple[float, float] = LARGE_RANGE,
) -> tuple[list[str], list[str]]:
    """Judges in the small and large size ranges (inclusive); judges without a size (e.g.
    closed models or ``human``) are left out. ``sizes`` overrides names parsed by
    :func:`parse_size`."""
    known = {j: (sizes or {}).get(j, parse_size(j)) for j in judges}
    small_j = [j for j, s in known.items() if s is not None and small[0] <= s <= small[1]]
    large_j = [j for j, s in known.items() if s is not None and large[0] <= s <= large[1]]
    return small_j, large_j


def size_group_similarity(
    similarity: Similarity | pd.DataFrame,
    sizes: dict[str, float] | None = None,
    small: tuple[float, float] = SMALL_RANGE,
    large: tuple[float, float] = LARGE_RANGE,
    hdi_prob: float = HDI_PROB,
) -> dict[str, Any]:
    """Mean similarity within the small judges, within the large ones, and between them.

    Means are over ordered pairs of distinct judges (GAIR). Given a :class:`Similarity` with
    posterior draws, each mean is the posterior mean of that statistic and ``<name>_hdi`` its
    95% HDI (computed draw by draw); with point estimates (or a plain matrix) there is no
    interval (``None``).

    Returns
    -------
    dict
        ``{"small", "large", "between", "small_hdi", "large_hdi", "between_hdi",
        "small_judges", "large_judges", "point_estimates"}``; a mean is None when a set has no
        pair of distinct judges.
    """
    if isinstance(similarity, Similarity):
        matrix, draws = similarity.matrix, similarity.draws
        point_only = similarity.point_estimates
    else:
        matrix, draws, point_only = similarity, similarity.to_numpy(float)[None], True
    names = list(matrix.index)
    small_j, large_j = size_groups(names, sizes, small, large)

    def cells(a: list[str], b: list[str]) -> tuple[list[int], list[int]]:
        pairs = [(names.index(x), names.index(y)) for x in a for y in b if x != y]
        return [i for i, _ in pairs], [j for _, j in pairs]

    out: dict[str, Any] = {}
    for key, (a, b) in {
        "small": (small_j, small_j),
        "large": (large_j, large_j),
        "between": (small_j, large_j),
    }.items():
        rows, cols = cells(a, b)
        values = matrix.to_numpy(float)[rows, cols] if rows else np.array([])
        values = values[np.isfinite(values)]
        out[key] = float(np.mean(values)) if len(values) else None
        out[f"{key}_hdi"] = None
        if rows and not point_only:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                per_draw = np.nanmean(draws[:, rows, cols], axis=1)
            low, high = hdi(per_draw[None, :, None], hdi_prob)[0]
            if np.isfinite(low):
                out[f"{key}_hdi"] = [float(low), float(high)]
    out.update(small_judges=small_j, large_judges=large_j, point_estimates=point_only)
    return out


def judge_contrasts(idata: Any, reference: str, hdi_prob: float = HDI_PROB) -> pd.DataFrame:
    """Weight differences ``judge - reference`` per group and attribute.

    Draws of different fits are independent, so the difference's draws pair draw i of one
    fit with draw i of the other. Columns: judge, reference, group, attribute, label, diff,
    hdi_low, hdi_high, p_greater (posterior probability that diff > 0). With point estimates
    only (one draw per fit, e.g. GAIR's released weights) there is no posterior: the interval
    and ``p_greater`` are NaN, never a probability of 0 or 1 from a single number.
    """
    w = weight_draws(idata)
    judges, groups, attributes, labels = coords(idata)
    if reference not in judges:
        from preference_dissect.errors import InputError

        raise InputError(
            f"unknown reference judge {reference!r} (known: {', '.join(judges)})",
            field="reference",
        )
    point_only = w.shape[0] * w.shape[1] == 1
    r = judges.index(reference)
    frames = []
    for j, judge in enumerate(judges):
        if j == r:
            continue
        diff = w[:, :, j] - w[:, :, r]  # (chain, draw, group, attribute)
        ok = ~np.all(np.isnan(diff), axis=(0, 1, 3))
        if not ok.any():
            continue
        diff = diff[:, :, ok]
        interval = hdi(diff, hdi_prob)
        n_groups = int(ok.sum())
        with np.errstate(invalid="ignore"):
            p_greater = (diff > 0).mean(axis=(0, 1)).astype(float)
        p_greater[np.isnan(diff).all(axis=(0, 1)) | point_only] = np.nan
        frames.append(
            pd.DataFrame(
                {
                    "judge": judge,
                    "reference": reference,
                    "group": np.repeat(
                        [g for g, k in zip(groups, ok, strict=True) if k], len(attributes)
                    ),
                    "attribute": np.tile(attributes, n_groups),
                    "label": np.tile(labels, n_groups),
                    "diff": diff.mean(axis=(0, 1)).reshape(-1),
                    "hdi_low": interval[..., 0].reshape(-1),
                    "hdi_high": interval[..., 1].reshape(-1),
                    "p_greater": p_greater.reshape(-1),
                }
            )
        )
    columns = ["judge", "reference", "group", "attribute", "label", "diff"]
    columns += ["hdi_low", "hdi_high", "p_greater"]
    if not frames:
        return pd.DataFrame(columns=columns)
    table = pd.concat(frames, ignore_index=True)
    return table[table["diff"].notna()].reset_index(drop=True)
