"""Control covariates in the fit (``FitSpec.controls``; chosen at compare time, see
:mod:`preference_dissect.compare.controls`).

A control gets the spec's prior family with the wide scale ``FitSpec.control_scale`` instead
of the sparsity scale: it is adjusted for, not penalised into competing with the attributes
being dissected. A location-scale prior on ``w`` with scale ``b_c`` is the same model as the
prior with scale ``b`` on ``w' = w b / b_c`` with the column multiplied by ``b_c / b``, so the
engine fits the rescaled columns and scales the draws back: exact, for every engine.

Every fitted cell is also approximated (Laplace/EP, milliseconds) with and without the
control columns: the ``controls`` group of the fit holds both means, and the analysis
reports each attribute's weight with and without the controls and the change.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from preference_dissect.errors import InputError
from preference_dissect.fit.spec import FitSpec

#: The InferenceData group of a fit with controls.
CONTROLS_GROUP = "controls"


def with_table_controls(spec: FitSpec, attributes: list[str], recorded: list[str]) -> FitSpec:
    """``spec`` with its controls: its own, else those the features table recorded; every
    one must be an attribute of the table (an :class:`InputError` naming ``controls``)."""
    controls = list(spec.controls) or list(recorded)
    unknown = [c for c in controls if c not in attributes]
    if unknown:
        raise InputError(
            f"control {unknown[0]!r} is not an attribute of the features table "
            f"(attributes: {', '.join(attributes[:30])})",
            field="controls",
        )
    if tuple(controls) == tuple(spec.controls):
        return spec
    return FitSpec.model_validate({**spec.model_dump(), "controls": tuple(controls)})


def control_factors(spec: FitSpec, attributes: list[str]) -> np.ndarray | None:
    """Per column, the factor that turns the control scale into the spec's scale (1 for
    the other attributes); ``None`` without controls."""
    if not spec.controls:
        return None
    ratio = spec.control_scale / spec.prior.scale
    return np.array([ratio if a in spec.controls else 1.0 for a in attributes])


def rescale_cell(cell: Any, factors: np.ndarray) -> Any:
    """Map a cell fitted on rescaled columns back to the original weights."""
    cell.weight = cell.weight * factors
    if len(cell.wide_mean) == len(factors):
        cell.wide_mean = cell.wide_mean * factors
    return cell


def _approx_mean(xmat: np.ndarray, y: np.ndarray, spec: FitSpec, columns: np.ndarray):
    """The Laplace/EP posterior mean of the weights of ``columns`` (NaN elsewhere)."""
    from preference_dissect.fit.laplace import gaussian_approximation
    from preference_dissect.fit.posterior import Posterior

    out = np.full(xmat.shape[1], np.nan)
    if not columns.any():
        return out
    with np.errstate(all="ignore"):
        approx = gaussian_approximation(Posterior(xmat[:, columns], y, spec))
    out[columns] = approx.mean[: int(columns.sum())]
    return out


def controls_dataset(table: Any, cells: dict, spec: FitSpec) -> Any:
    """The ``controls`` group: per fitted cell, the approximate posterior mean of every
    weight with the controls (``with_controls``) and without them (``without_controls``;
    NaN for the controls themselves)."""
    import xarray as xr

    attributes = list(table.attributes)
    factors = control_factors(spec, attributes)
    is_control = np.array([a in spec.controls for a in attributes])
    shape = (len(table.judges), len(table.groups), len(attributes))
    with_c, without_c = np.full(shape, np.nan), np.full(shape, np.nan)
    for (judge, group), (xmat, y) in table.cells().items():
        if cells[(judge, group)].method == "skipped":
            continue
        varying = np.ptp(xmat, axis=0) > 0
        a, b = table.judges.index(judge), table.groups.index(group)
        with_c[a, b] = _approx_mean(xmat * factors, y, spec, varying) * factors
        without_c[a, b] = _approx_mean(xmat, y, spec, varying & ~is_control)
    dims = ("judge", "group", "attribute")
    coords = {"judge": list(table.judges), "group": list(table.groups), "attribute": attributes}
    return xr.Dataset(
        {"with_controls": (dims, with_c), "without_controls": (dims, without_c)},
        coords=coords,
        attrs={
            "controls": ",".join(spec.controls),
            "control_scale": spec.control_scale,
            "method": "laplace",
        },
    )
