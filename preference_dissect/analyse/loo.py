"""Model comparison by PSIS-LOO: how well a fit predicts each verdict it did not see.

:func:`observation_log_likelihood` evaluates, for every row of the fitted cells of a features
table and every posterior draw, the log-likelihood of the judge's verdict; Pareto-smoothed
importance sampling (ArviZ ``loo``) turns it into the expected log predictive density
(``elpd_loo``) with its standard error, the effective number of parameters (``p_loo``) and a
Pareto k per observation (k > 0.7: that observation's estimate is unreliable).

Draws of different cells are independent, so draw ``s`` of every cell together is a draw of
the joint posterior and the observations of all cells form one model. A pair that sits in
several groups (``all`` and its scenario) is an observation of each cell it is fitted in.
Fits are comparable (:func:`compare_models`) when they model the same rows with the same
kind of outcome: a logistic and a linear fit are not (a probability of the verdict against a
density of ``y - 0.5``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError

#: Pareto k above which an observation's leave-one-out estimate is unreliable.
PARETO_K_BAD = 0.7
#: Largest draws x observations matrix evaluated at once (float64); more thins the draws.
MAX_CELLS = 40_000_000


def _likelihood(idata: Any) -> Any:
    from preference_dissect.fit.families import LIKELIHOODS
    from preference_dissect.fit.idata import spec_of

    return LIKELIHOODS.get(spec_of(idata).get("likelihood") or "logistic")


def _check_attributes(idata: Any, table: Any) -> tuple[list[str], list[str]]:
    from preference_dissect.analyse.scores import coords

    judges, groups, attributes, _ = coords(idata)
    if list(attributes) != list(table.attributes):
        raise InputError(
            "the features' attribute columns are not the fit's "
            f"({', '.join(table.attributes[:6])}... vs {', '.join(attributes[:6])}...)",
            field="features",
        )
    return judges, groups


def observation_log_likelihood(idata: Any, features: pd.DataFrame) -> tuple[np.ndarray, Any]:
    """The log-likelihood of every fitted row under every draw.

    Returns
    -------
    (loglik, rows)
        ``loglik`` with shape (chain, draw, observation); ``rows`` the observations'
        ``pair_id, judge, group`` (cells that were not fitted are left out). Draws are thinned
        when the matrix would exceed :data:`MAX_CELLS` values (``loglik`` then has one chain).

    Raises
    ------
    InputError
        The features do not match the fit (other attributes, judges or groups).
    """
    from preference_dissect.fit.features import validate_features

    table = validate_features(features)
    judges, groups = _check_attributes(idata, table)
    likelihood = _likelihood(idata)
    post = idata.posterior
    w = post["weight"].to_numpy().astype(float)
    chains, draws = w.shape[:2]
    step = max(1, int(np.ceil(chains * draws * len(table.frame) / MAX_CELLS)))
    flat = w.reshape(chains * draws, *w.shape[2:])[::step]
    extra = {
        k: post[k].to_numpy().reshape(chains * draws, *post[k].shape[2:])[::step]
        for k in ("intercept", "sigma")
        if k in post
    }
    parts, keys = [], []
    frame = table.frame
    for (judge, group), index in frame.groupby(["judge", "group"], sort=False).indices.items():
        if judge not in judges or group not in groups:
            raise InputError(f"the fit has no cell {judge} / {group}", field="features")
        j, g = judges.index(judge), groups.index(group)
        cell = flat[:, j, g, :]
        if not np.isfinite(cell).any():
            continue  # a skipped cell models none of its rows
        x = frame[table.attributes].to_numpy(dtype=float)[index]
        eta = x @ np.nan_to_num(cell).T  # left-out attributes contribute nothing
        if "intercept" in extra:
            eta = eta + extra["intercept"][None, :, j, g]
        sigma = extra["sigma"][:, j, g] if "sigma" in extra else None
        y = likelihood.target(frame["y"].to_numpy(dtype=float)[index])
        parts.append(likelihood.pointwise(eta, y, sigma))
        keys.append(frame.iloc[index][["pair_id", "judge", "group"]])
    if not parts:
        raise InputError("the fit has no fitted cell for these features", field="features")
    loglik = np.concatenate(parts, axis=0).T  # (draws, observations)
    shape = (chains, draws) if step == 1 else (1, loglik.shape[0])
    return loglik.reshape(*shape, -1), pd.concat(keys, ignore_index=True)


def _elpd(loglik: np.ndarray) -> Any:
    import arviz as az
    import xarray as xr

    data = az.InferenceData(
        log_likelihood=xr.Dataset({"y": (("chain", "draw", "observation"), loglik)})
    )
    with warnings.catch_warnings():  # the k > 0.7 warning: counted and reported instead
        warnings.simplefilter("ignore")
        return az.loo(data, pointwise=True, reff=1.0)


def loo(idata: Any, features: pd.DataFrame) -> pd.DataFrame:
    """PSIS-LOO of one fit on its features: one row with ``elpd_loo``, ``se``, ``p_loo``,
    ``observations``, ``draws``, ``k_max`` and ``k_bad`` (observations with k > 0.7)."""
    loglik, _ = observation_log_likelihood(idata, features)
    return pd.DataFrame([_row(_elpd(loglik), loglik)])


def _pareto_k(result: Any, loglik: np.ndarray) -> np.ndarray:
    """Pareto k per observation; 0 where the log-likelihood does not depend on the draw (a
    pair with no attribute difference: its leave-one-out value is exact, but ArviZ's tail
    fit of constant ratios says inf)."""
    k = np.asarray(result.pareto_k, dtype=float).copy()
    flat = loglik.reshape(-1, loglik.shape[-1])
    k[np.ptp(flat, axis=0) == 0] = 0.0
    return k


def _row(result: Any, loglik: np.ndarray) -> dict[str, Any]:
    k = _pareto_k(result, loglik)
    return {
        "elpd_loo": float(result.elpd_loo),
        "se": float(result.se),
        "p_loo": float(result.p_loo),
        "observations": int(loglik.shape[-1]),
        "draws": int(loglik.shape[0] * loglik.shape[1]),
        "k_max": float(np.nanmax(k)),
        "k_bad": int((k > PARETO_K_BAD).sum()),
    }


def compare_models(fits: dict[str, Any], features: pd.DataFrame) -> pd.DataFrame:
    """Rank fits of the same features by PSIS-LOO (ArviZ ``compare``: stacking weights).

    Parameters
    ----------
    fits : dict
        ``{name: InferenceData}``, two or more fits of ``features``.
    features : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        Indexed by name, best first: ``rank, elpd_loo, p_loo, elpd_diff`` (to the best),
        ``weight``, ``se``, ``dse`` (standard error of the difference), ``k_bad``.

    Raises
    ------
    InputError
        Fewer than two fits, fits of different outcomes (logistic vs linear), or fits that
        model different rows (e.g. another minimum group size).
    """
    import arviz as az

    if len(fits) < 2:
        raise InputError("compare at least two fits", field="fits")
    outcomes = {name: _likelihood(idata).outcome for name, idata in fits.items()}
    if len(set(outcomes.values())) > 1:
        listed = ", ".join(f"{n}: {o}" for n, o in outcomes.items())
        raise InputError(
            f"LOO compares fits of the same outcome; these differ ({listed})", field="fits"
        )
    results, first_rows, k_bad = {}, None, {}
    for name, idata in fits.items():
        loglik, rows = observation_log_likelihood(idata, features)
        if first_rows is None:
            first_rows = rows
        elif not rows.equals(first_rows):
            raise InputError(
                f"{name!r} models other rows than {next(iter(fits))!r} ({len(rows)} vs "
                f"{len(first_rows)}: another minimum group size or other judges?)",
                field="fits",
            )
        results[name] = _elpd(loglik)
        k_bad[name] = _row(results[name], loglik)["k_bad"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        table = az.compare(results, ic="loo")
    table["k_bad"] = pd.Series(k_bad)
    keep = ["rank", "elpd_loo", "p_loo", "elpd_diff", "weight", "se", "dse", "k_bad"]
    return table[keep]
