"""What the control covariates of a fit did (:mod:`preference_dissect.fit.controls`): their
own weights, and every other attribute's weight with and without them."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.analyse.scores import weight_summary
from preference_dissect.errors import InputError
from preference_dissect.fit.controls import CONTROLS_GROUP

EFFECT_COLUMNS = ["judge", "group", "attribute", "with_controls", "without_controls", "change"]


def controls_of(idata: Any) -> list[str]:
    """The control covariates of a fit (empty without)."""
    group = getattr(idata, CONTROLS_GROUP, None)
    text = "" if group is None else str(group.attrs.get("controls", ""))
    return [c for c in text.split(",") if c]


def control_weights(idata: Any) -> pd.DataFrame:
    """The controls' rows of :func:`~.scores.weight_summary` (empty without controls)."""
    summary = weight_summary(idata)
    return summary[summary["attribute"].isin(controls_of(idata))].reset_index(drop=True)


def control_effects(idata: Any) -> pd.DataFrame:
    """Every other attribute's weight with and without the controls, per fitted cell
    (columns :data:`EFFECT_COLUMNS`; both from the same Laplace/EP approximation, so the
    change is the controls' doing, not the sampler's); largest changes first.

    Raises
    ------
    InputError
        The fit has no controls.
    """
    group = getattr(idata, CONTROLS_GROUP, None)
    if group is None:
        raise InputError(
            "this fit has no controls (compare with controls=['length', ...] or fit with "
            "controls=...)",
            field="idata",
        )
    controls = set(controls_of(idata))
    frame = group[["with_controls", "without_controls"]].to_dataframe().reset_index()
    frame = frame[~frame["attribute"].isin(controls)]
    frame = frame[np.isfinite(frame["with_controls"]) & np.isfinite(frame["without_controls"])]
    frame["change"] = frame["with_controls"] - frame["without_controls"]
    order = frame["change"].abs().sort_values(ascending=False).index
    return frame.loc[order, EFFECT_COLUMNS].reset_index(drop=True)
