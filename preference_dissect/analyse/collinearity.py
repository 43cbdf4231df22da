"""Collinearity: which attribute comparisons move together, and how much that blurs weights.

Correlated attributes (a long answer is also a detailed one) share the credit for a verdict:
the regression can only tell them apart through the pairs where they disagree, so their
weights trade off and their intervals widen. Three views, per group:

* :func:`feature_correlations` - the Pearson correlation of two attributes' -1/0/+1
  comparisons over the group's pairs (each pair once, whichever judges labelled it);
* :func:`variance_inflation` - the variance inflation factor of each attribute,
  ``VIF_j = 1 / (1 - R_j^2)`` with ``R_j^2`` from regressing attribute j on the others (the
  diagonal of the inverse correlation matrix): 1 = independent, above 10 = its weight is
  largely unidentified;
* :func:`weight_correlations` - the posterior correlation of two weights in one fit
  (strongly negative: the data cannot say which of the two the judge rewards).

Pairs with ``|r|`` above the threshold (default 0.8) are flagged.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

#: |r| above which two attributes (or two weights) are flagged.
CORRELATION_FLAG = 0.8
#: VIF above which an attribute's weight is flagged as poorly identified.
VIF_FLAG = 10.0
KEYS = ("pair_id", "judge", "group", "y")


def _attributes(features: pd.DataFrame) -> list[str]:
    return [c for c in features.columns if c not in KEYS]


def group_matrix(features: pd.DataFrame, group: str) -> pd.DataFrame:
    """One group's comparisons, one row per pair (the first judge's row of each pair)."""
    rows = features[features["group"] == group].drop_duplicates("pair_id")
    return rows[_attributes(features)].astype(float)


def correlation_matrix(values: pd.DataFrame) -> pd.DataFrame:
    """Pearson correlations; NaN where an attribute is constant (it has no variance)."""
    with warnings.catch_warnings(), np.errstate(invalid="ignore", divide="ignore"):
        warnings.simplefilter("ignore")
        return values.corr()


def _groups(features: pd.DataFrame, min_pairs: int | None) -> list[str]:
    """Groups with at least ``min_pairs`` pairs (default: the model's minimum group size, the
    groups that get fits: a correlation over 4 pairs says nothing)."""
    if min_pairs is None:
        from preference_dissect.fit.spec import FitSpec

        min_pairs = FitSpec().min_group_size
    sizes = features.drop_duplicates(["group", "pair_id"]).groupby("group", sort=False).size()
    return [g for g in dict.fromkeys(features["group"]) if sizes[g] >= min_pairs]


def feature_correlations(
    features: pd.DataFrame, *, threshold: float = CORRELATION_FLAG, min_pairs: int | None = None
) -> pd.DataFrame:
    """Every pair of attributes per group: ``group, attribute_a, attribute_b, r, n`` (pairs
    in the group) and ``flagged`` (``|r| > threshold``); constant attributes have no rows, and
    groups under ``min_pairs`` pairs are left out (default: the model's minimum group size)."""
    rows = []
    for group in _groups(features, min_pairs):
        values = group_matrix(features, group)
        corr = correlation_matrix(values).to_numpy()
        names = list(values.columns)
        for i in range(len(names)):
            for j in range(i + 1, len(names)):
                if np.isfinite(corr[i, j]):
                    rows.append((group, names[i], names[j], float(corr[i, j]), len(values)))
    table = pd.DataFrame(rows, columns=["group", "attribute_a", "attribute_b", "r", "n"])
    table["flagged"] = table["r"].abs() > threshold
    return table


def variance_inflation(
    features: pd.DataFrame, *, threshold: float = VIF_FLAG, min_pairs: int | None = None
) -> pd.DataFrame:
    """``group, attribute, vif, flagged`` for the attributes that vary in each group of
    ``min_pairs`` pairs or more; an attribute that is an exact combination of others has
    ``vif = inf``."""
    rows = []
    for group in _groups(features, min_pairs):
        values = group_matrix(features, group)
        # exactly constant columns (a z-scored style covariate can have std 1e-17) have no
        # correlation: leave them out, as feature_correlations does
        varying = values.loc[:, values.max() > values.min()]
        finite = np.isfinite(correlation_matrix(varying).to_numpy()).all(axis=0)
        varying = varying.loc[:, finite]
        if varying.shape[1] == 0:
            continue
        corr = correlation_matrix(varying).to_numpy()
        vif = _vif_from_correlation(corr)
        rows += [(group, name, float(v)) for name, v in zip(varying.columns, vif, strict=True)]
    table = pd.DataFrame(rows, columns=["group", "attribute", "vif"])
    table["flagged"] = table["vif"] > threshold
    return table


def _vif_from_correlation(corr: np.ndarray) -> np.ndarray:
    """The diagonal of the inverse correlation matrix; inf for the attributes that are an
    exact linear combination of others (the support of the matrix's null space)."""
    eigen, vectors = np.linalg.eigh(corr)
    null = vectors[:, eigen < 1e-10 * max(float(eigen.max()), 1.0)]
    if null.shape[1] == 0:
        return np.diag(np.linalg.inv(corr))
    vif = np.diag(np.linalg.pinv(corr)).copy()
    vif[(np.abs(null) > 1e-8).any(axis=1)] = np.inf
    return vif


def weight_correlations(idata: Any, *, threshold: float = CORRELATION_FLAG) -> pd.DataFrame:
    """The posterior correlation of every two weights of each fit: ``judge, group,
    attribute_a, attribute_b, r, flagged``; empty for point estimates (one draw)."""
    from preference_dissect.analyse.scores import coords, weight_draws

    w = weight_draws(idata)
    judges, groups, attributes, _ = coords(idata)
    columns = ["judge", "group", "attribute_a", "attribute_b", "r"]
    if w.shape[0] * w.shape[1] < 3:
        return pd.DataFrame(columns=[*columns, "flagged"])
    flat = w.reshape(-1, *w.shape[2:]).astype(float)  # (draws, judge, group, attribute)
    rows = []
    for j, judge in enumerate(judges):
        for g, group in enumerate(groups):
            draws = flat[:, j, g, :]
            keep = np.flatnonzero(np.isfinite(draws).all(axis=0) & (draws.std(axis=0) > 0))
            if len(keep) < 2:
                continue
            corr = np.corrcoef(draws[:, keep], rowvar=False)
            for a in range(len(keep)):
                for b in range(a + 1, len(keep)):
                    rows.append(
                        (judge, group, attributes[keep[a]], attributes[keep[b]], corr[a, b])
                    )
    table = pd.DataFrame(rows, columns=columns)
    table["r"] = table["r"].astype(float)
    table["flagged"] = table["r"].abs() > threshold
    return table
