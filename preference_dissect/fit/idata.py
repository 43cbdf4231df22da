"""All fits of a run in one ArviZ ``InferenceData`` (``fit.nc``).

``posterior``
    ``weight`` (chain, draw, judge, group, attribute), NaN where a (judge, group) has no
    fit; ``intercept`` / ``sigma`` (chain, draw, judge, group) when the model has them. The
    ``attribute`` dimension carries an ``attribute_label`` coordinate (plot labels).
``fit_diagnostics`` (dims judge, group)
    ``n``, ``rhat_max``, ``ess_bulk_min``, ``divergences``, ``pareto_k``, ``accuracy``,
    ``method`` (``is``, ``nuts``, ``external``, ``skipped`` or ``none``), ``ppc_p_share``,
    ``seconds``, ``reason`` (why a skipped cell was not fitted); and, with dims (judge, group,
    attribute), ``ppc_p_agree`` and ``n_nonzero`` (rows where the attribute comparison is not
    0: the pairs that inform the weight; -1 where unknown).
``prior_sensitivity`` (dims judge, group, attribute; when the fit ran the check)
    ``weight_mean``: the posterior mean of each weight under the wide prior named in the
    group's ``prior`` attribute (Laplace approximation).
attributes (on ``posterior``)
    ``spec`` (JSON of the :class:`~preference_dissect.fit.spec.FitSpec`), ``warnings``
    (JSON list), ``source``, ``seconds``.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.io import atomic_path

DIAGNOSTICS_GROUP = "fit_diagnostics"
#: Group holding the posterior means under the wide sensitivity prior (``weight_mean``).
SENSITIVITY_GROUP = "prior_sensitivity"
DIAGNOSTIC_FIELDS = (
    "n",
    "rhat_max",
    "ess_bulk_min",
    "divergences",
    "pareto_k",
    "accuracy",
    "method",
    "ppc_p_share",
    "seconds",
    "reason",
)


def attribute_labels(attributes: list[str]) -> list[str]:
    """Plot labels for attribute names, looked up in the bundled attribute sets."""
    from preference_dissect.annotate.attribute_sets import attribute_labels as bundled_labels

    known = bundled_labels()
    return [known.get(a, a.replace("_", " ")) for a in attributes]


def build_idata(
    judges: list[str],
    groups: list[str],
    attributes: list[str],
    chains: int,
    draws: int,
    cells: dict[tuple[str, str], Any],
    *,
    attrs: dict[str, Any] | None = None,
    labels: list[str] | None = None,
    extra_groups: dict[str, Any] | None = None,
) -> Any:
    """Assemble per-fit results into one ``InferenceData``.

    Parameters
    ----------
    judges, groups, attributes : list of str
        Coordinates.
    chains, draws : int
        Posterior shape of every fit.
    cells : dict
        ``{(judge, group): CellFit}`` (any object with the :class:`CellFit` fields).
    attrs : dict, optional
        Extra attributes for the posterior group (JSON-encoded when not scalar).
    labels : list of str, optional
        Attribute labels (default: :func:`attribute_labels`).
    extra_groups : dict, optional
        More groups (``xarray.Dataset``), e.g. a pooled fit's ``pooling`` group.
    """
    import arviz as az
    import xarray as xr

    nj, ng, p = len(judges), len(groups), len(attributes)
    weight = np.full((chains, draws, nj, ng, p), np.nan, dtype=np.float32)
    any_cell = next(iter(cells.values()), None)
    has_intercept = any_cell is not None and any_cell.intercept is not None
    has_sigma = any_cell is not None and any_cell.sigma is not None
    intercept = np.full((chains, draws, nj, ng), np.nan, dtype=np.float32)
    sigma = np.full((chains, draws, nj, ng), np.nan, dtype=np.float32)
    diag: dict[str, np.ndarray] = {
        "n": np.zeros((nj, ng), dtype=np.int64),
        "rhat_max": np.full((nj, ng), np.nan),
        "ess_bulk_min": np.full((nj, ng), np.nan),
        "divergences": np.zeros((nj, ng), dtype=np.int64),
        "pareto_k": np.full((nj, ng), np.nan),
        "accuracy": np.full((nj, ng), np.nan),
        "method": np.full((nj, ng), "none", dtype=object),
        "ppc_p_share": np.full((nj, ng), np.nan),
        "seconds": np.full((nj, ng), np.nan),
        "reason": np.full((nj, ng), "", dtype=object),
    }
    p_agree = np.full((nj, ng, p), np.nan)
    n_nonzero = np.full((nj, ng, p), -1, dtype=np.int64)
    ji = {j: i for i, j in enumerate(judges)}
    gi = {g: i for i, g in enumerate(groups)}
    for (judge, group), cell in cells.items():
        a, b = ji[judge], gi[group]
        weight[:, :, a, b, :] = cell.weight
        if has_intercept:
            intercept[:, :, a, b] = cell.intercept
        if has_sigma:
            sigma[:, :, a, b] = cell.sigma
        for name in DIAGNOSTIC_FIELDS:
            diag[name][a, b] = getattr(cell, name, "")
        p_agree[a, b] = cell.ppc_p_agree
        if getattr(cell, "n_nonzero", None) is not None and len(cell.n_nonzero) == p:
            n_nonzero[a, b] = cell.n_nonzero
    coords = {
        "chain": np.arange(chains),
        "draw": np.arange(draws),
        "judge": list(judges),
        "group": list(groups),
        "attribute": list(attributes),
    }
    dims5 = ("chain", "draw", "judge", "group", "attribute")
    data_vars = {"weight": (dims5, weight)}
    if has_intercept:
        data_vars["intercept"] = (dims5[:4], intercept)
    if has_sigma:
        data_vars["sigma"] = (dims5[:4], sigma)
    posterior = xr.Dataset(data_vars, coords=coords)
    posterior = posterior.assign_coords(
        attribute_label=("attribute", labels or attribute_labels(list(attributes)))
    )
    encoded = {
        k: v if isinstance(v, int | float | str) else json.dumps(v)
        for k, v in (attrs or {}).items()
    }
    posterior.attrs.update(encoded)
    text = ("method", "reason")
    diag_vars = {
        k: (("judge", "group"), v.astype(str) if k in text else v) for k, v in diag.items()
    }
    diag_vars["ppc_p_agree"] = (("judge", "group", "attribute"), p_agree)
    diag_vars["n_nonzero"] = (("judge", "group", "attribute"), n_nonzero)
    cell_coords = {"judge": list(judges), "group": list(groups), "attribute": list(attributes)}
    groups_out = {DIAGNOSTICS_GROUP: xr.Dataset(diag_vars, coords=cell_coords)}
    wide = _wide_means(cells, ji, gi, (nj, ng, p))
    if wide is not None:
        spec = json.loads(encoded.get("spec", "{}")) if "spec" in encoded else {}
        groups_out[SENSITIVITY_GROUP] = xr.Dataset(
            {"weight_mean": (("judge", "group", "attribute"), wide)},
            coords=cell_coords,
            attrs={"prior": str(spec.get("sensitivity_prior") or ""), "method": "laplace"},
        )
    groups_out.update(extra_groups or {})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return az.InferenceData(posterior=posterior, **groups_out)


def _wide_means(
    cells: dict[tuple[str, str], Any], ji: dict[str, int], gi: dict[str, int], shape: tuple
) -> np.ndarray | None:
    """Posterior means under the sensitivity prior, (judge, group, attribute); None if absent."""
    out = np.full(shape, np.nan)
    found = False
    for (judge, group), cell in cells.items():
        wide = getattr(cell, "wide_mean", None)
        if wide is not None and len(wide) == shape[2]:
            out[ji[judge], gi[group]] = wide
            found = True
    return out if found else None


def save_fit(idata: Any, path: str | os.PathLike[str]) -> Path:
    """Write ``idata`` to NetCDF atomically and return the path."""
    path = Path(path)
    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        idata.to_netcdf(str(tmp))
    return path


def load_fit(path: str | os.PathLike[str]) -> Any:
    """Read a ``fit.nc`` written by :func:`save_fit`; raise :class:`InputError` if unusable."""
    import arviz as az

    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            idata = az.from_netcdf(str(path))
    except Exception as exc:  # h5py/xarray raise many types for a non-NetCDF file
        raise InputError(f"not a readable fit file ({type(exc).__name__})", file=path) from None
    if "posterior" not in idata.groups() or "weight" not in idata.posterior:
        raise InputError(
            "no posterior 'weight' variable (not written by prefdissect fit?)", file=path
        )
    dims = tuple(idata.posterior["weight"].dims)
    if dims != ("chain", "draw", "judge", "group", "attribute"):
        raise InputError(
            f"posterior 'weight' has dims {dims}, expected (chain, draw, judge, group, attribute)",
            file=path,
        )
    return idata


def diagnostics_frame(idata: Any) -> pd.DataFrame:
    """Per-fit diagnostics as a long table: one row per (judge, group) cell that was fitted
    or skipped (``method == "skipped"``, ``reason`` says why); cells without data are left
    out."""
    diag = getattr(idata, DIAGNOSTICS_GROUP, None)
    if diag is None:
        return pd.DataFrame(columns=["judge", "group", *DIAGNOSTIC_FIELDS])
    frame = diag[[v for v in DIAGNOSTIC_FIELDS if v in diag]].to_dataframe().reset_index()
    frame = frame[frame["method"].astype(str) != "none"]
    return frame.reset_index(drop=True)


def spec_of(idata: Any) -> dict[str, Any]:
    """The fit spec stored in ``idata`` (empty for external weights)."""
    text = idata.posterior.attrs.get("spec")
    return json.loads(text) if text else {}


def warnings_of(idata: Any) -> list[str]:
    """The warnings stored in ``idata``."""
    text = idata.posterior.attrs.get("warnings")
    return list(json.loads(text)) if text else []
