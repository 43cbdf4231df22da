"""Testing candidate attributes (the statistical half of ``discover``): a train/validation
split, the Bayesian fit on train, and each attribute's held-out gain."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError

GROUP = "all"


def split_pairs(pair_ids: Sequence[str], share: float, seed: int) -> tuple[set[str], set[str]]:
    """A seeded random split of the labelled pairs: (train, validation)."""
    if not 0.0 < share < 1.0:
        raise InputError(f"must be between 0 and 1, got {share}", field="validation_share")
    ids = sorted(set(pair_ids))
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(ids))
    n_val = max(1, round(share * len(ids)))
    val = {ids[i] for i in order[:n_val]}
    return set(ids) - val, val


def observed_density(idata: Any, features: pd.DataFrame) -> pd.Series:
    """Each row's posterior predictive log density of its observed outcome, by pair id:
    ``log mean_s p(y | draw s)`` from the fit's own likelihood (intercept, sigma and
    left-out attributes as the fit has them), over the fit's attribute columns."""
    from preference_dissect.analyse.loo import observation_log_likelihood
    from preference_dissect.analyse.scores import coords

    columns = ["pair_id", "judge", "group", "y", *coords(idata)[2]]
    frame = features[columns].reset_index(drop=True)
    frame.attrs = {}
    loglik, rows = observation_log_likelihood(idata, frame)
    flat = loglik.reshape(-1, loglik.shape[-1])
    top = flat.max(axis=0)
    lpd = top + np.log(np.exp(flat - top).mean(axis=0))
    return pd.Series(lpd, index=rows["pair_id"].to_numpy())


def fit_columns(train: pd.DataFrame, columns: Sequence[str], judge: str, spec: Any) -> Any:
    """The Bayesian fit (the model specification's, as ``pdx.fit``) of the judge's ``all``
    cell on ``columns`` (``None`` for no columns: the model that says 0.5)."""
    if not columns:
        return None
    from preference_dissect.fit.features import validate_features
    from preference_dissect.fit.runner import fit_table_idata

    rows = train[(train["judge"] == judge) & (train["group"] == GROUP)]
    frame = rows[["pair_id", "judge", "group", "y", *columns]].reset_index(drop=True)
    frame.attrs = {}
    table = validate_features(frame)
    return fit_table_idata(table, spec, source="discover", progress=False).idata


def evaluate(idata: Any, val: pd.DataFrame) -> dict[str, float]:
    """Held-out mean log predictive density and accuracy of a fit (the 0.5 model when
    ``idata`` is None): a row is right when the predictive probability of its outcome is
    above 0.5, half right at exactly 0.5 or for a tie (y = 0.5)."""
    y = val["y"].to_numpy(float)
    if idata is None:
        lpd = np.full(len(val), np.log(0.5))
    else:
        lpd = observed_density(idata, val).reindex(val["pair_id"]).to_numpy()
    q = np.exp(lpd)
    right = np.where((y == 0.5) | (q == 0.5), 0.5, (q > 0.5).astype(float))
    return {"lpd": float(lpd.mean()), "accuracy": float(right.mean())}


def screen(idata: Any, judge: str, names: Sequence[str]) -> pd.DataFrame:
    """Weight, 95% HDI and whether the HDI excludes 0, per candidate."""
    from preference_dissect.analyse.scores import weight_summary

    rows = weight_summary(idata)
    rows = rows[(rows["judge"] == judge) & (rows["group"] == GROUP)].set_index("attribute")
    out = pd.DataFrame({"attribute": list(names)})
    out["weight"] = [rows["mean"].get(n, math.nan) for n in names]
    out["hdi_low"] = [rows["hdi_low"].get(n, math.nan) for n in names]
    out["hdi_high"] = [rows["hdi_high"].get(n, math.nan) for n in names]
    out["excludes_zero"] = (out["hdi_low"] > 0) | (out["hdi_high"] < 0)
    return out


def gains(
    train: pd.DataFrame,
    val: pd.DataFrame,
    names: Sequence[str],
    judge: str,
    spec: Any,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Drop-one held-out gains: for each of ``names``, the validation lpd and accuracy of
    the model on all ``names`` minus those of the model without it; and the full model's
    numbers."""
    full = evaluate(fit_columns(train, names, judge, spec), val)
    rows = []
    for name in names:
        rest = [n for n in names if n != name]
        without = evaluate(fit_columns(train, rest, judge, spec), val)
        rows.append(
            {
                "attribute": name,
                "gain_lpd": full["lpd"] - without["lpd"],
                "gain_accuracy": full["accuracy"] - without["accuracy"],
            }
        )
    return pd.DataFrame(rows, columns=["attribute", "gain_lpd", "gain_accuracy"]), full


def coverage(features: pd.DataFrame, names: Sequence[str]) -> dict[str, float]:
    """Share of the judge's compared pairs where each attribute's comparison is not 0."""
    return {
        n: float((features[n].fillna(0) != 0).mean()) if len(features) else math.nan for n in names
    }
