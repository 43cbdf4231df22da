"""How reliable an annotation is: Krippendorff's alpha per attribute between annotators (or
between two runs of one annotator) over the same pairs.

A unit is one value an annotator gave: (pair, side) of an attribute (``a`` / ``b`` for a
per-response rating or count, ``ab`` / ``ba`` for a pairwise verdict in one presentation
order, ``query`` for a query check). Missing values (NaN) are allowed; units with fewer than
two values do not count. The level of measurement is chosen per attribute unless given:
pairwise verdicts (-1 / 0 / +1) and per-response values with at most 11 distinct whole
numbers (0-3 ratings, flags, small counts) are ``ordinal``, other values ``interval``.
Intervals are percentile bootstrap 95% intervals over units. Nominal and ordinal alpha use
the ``krippendorff`` package; interval alpha (whose value domain is every distinct number, too
many for the package's value-by-value distance matrix) is computed from sums of squares,
``1 - D_o / D_e`` with the squared difference as the metric (tested against both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError

LEVELS = ("auto", "nominal", "ordinal", "interval")
#: Attributes with alpha below this are flagged as unreliable (Krippendorff's lowest
#: threshold for tentative conclusions is 0.667; 0.4 flags the clearly unusable).
UNRELIABLE = 0.4
#: At most this many distinct whole-number values make an attribute ordinal.
ORDINAL_MAX_VALUES = 11
COLUMNS = ["attribute", "level", "alpha", "alpha_low", "alpha_high", "units", "coders", "flagged"]


def _long(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The annotation tables stacked, one column per coder, indexed by (attribute, pair_id,
    side)."""
    parts = []
    for name, table in tables.items():
        missing = [c for c in ("pair_id", "attribute", "side", "value") if c not in table]
        if missing:
            raise InputError(f"{name}: not an annotations table", field=missing[0])
        part = table[["attribute", "pair_id", "side", "value"]].astype({"value": float})
        part = part.drop_duplicates(["attribute", "pair_id", "side"], keep="last")
        parts.append(part.set_index(["attribute", "pair_id", "side"])["value"].rename(name))
    return pd.concat(parts, axis=1).sort_index()


def _level(values: np.ndarray, pairwise: bool) -> str:
    finite = values[np.isfinite(values)]
    whole = bool(np.all(finite == np.round(finite)))
    if pairwise or (whole and len(np.unique(finite)) <= ORDINAL_MAX_VALUES):
        return "ordinal"
    return "interval"


def _alpha(counts: np.ndarray, domain: np.ndarray, level: str) -> float:
    import krippendorff

    if len(domain) < 2 or counts.shape[0] == 0:
        return float("nan")  # one value everywhere: agreement is not measurable
    with np.errstate(all="ignore"):
        return float(krippendorff.alpha(value_counts=counts, value_domain=domain,
                                         level_of_measurement=level))  # fmt: skip


def _pairable(matrix: np.ndarray) -> np.ndarray:
    """The units (columns) with at least two values: the only ones alpha counts."""
    return matrix[:, np.isfinite(matrix).sum(axis=0) >= 2]


def _value_counts(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(units, values) counts of each value per unit, and the value domain."""
    domain = np.unique(values[np.isfinite(values)])
    counts = (
        np.stack([(values == v).sum(axis=0) for v in domain], axis=1)
        if len(domain)
        else (np.zeros((values.shape[1], 0)))
    )
    return counts, domain


def interval_alpha(matrix: np.ndarray) -> float:
    """Krippendorff's interval alpha of a (coders, units) matrix with NaN for missing:
    ``1 - D_o / D_e``; ``D_o`` sums each unit's squared differences over ``m_u - 1``, ``D_e``
    all pairable values' squared differences over ``n - 1`` (:func:`_interval_sums`)."""
    return _interval_from_sums(*_interval_sums(_pairable(matrix)))


def _interval_sums(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per unit: values ``m``, their sum, their sum of squares, and within-unit squared
    differences (ordered pairs) over ``m - 1``."""
    finite = np.isfinite(values)
    m = finite.sum(axis=0).astype(float)
    v = np.where(finite, values, 0.0)
    total, squares = v.sum(axis=0), (v**2).sum(axis=0)
    within = 2 * (m * squares - total**2) / np.maximum(m - 1, 1)
    return m, total, squares, within


def _interval_from_sums(m, total, squares, within) -> float:
    n = m.sum()
    if n < 2:
        return float("nan")
    expected = 2 * (n * squares.sum() - total.sum() ** 2) / (n - 1)
    return float("nan") if expected <= 0 else float(1 - within.sum() / expected)


def _alpha_of_units(values: np.ndarray, level: str) -> Callable[[np.ndarray | None], float]:
    """Alpha of the pairable units ``values`` (coders, units), or of a resample of them (an
    index array): sums of squares for ``interval``, value counts for the other levels."""
    if level == "interval":
        sums = _interval_sums(values)
        return lambda idx=None: _interval_from_sums(*(s if idx is None else s[idx] for s in sums))
    counts, domain = _value_counts(values)
    return lambda idx=None: _alpha(counts if idx is None else counts[idx], domain, level)


def _attribute_row(name, block: pd.DataFrame, level: str, bootstrap: int, rng) -> dict[str, Any]:
    matrix = block.to_numpy(dtype=float).T  # (coders, units)
    pairwise = block.index.get_level_values("side").isin(["ab", "ba"]).all()
    chosen = _level(matrix, pairwise) if level == "auto" else level
    values = _pairable(matrix)
    alpha_of = _alpha_of_units(values, chosen)
    alpha, units = alpha_of(None), values.shape[1]
    low = high = float("nan")
    if bootstrap and np.isfinite(alpha):
        draws = np.array([alpha_of(rng.integers(0, units, units)) for _ in range(bootstrap)])
        finite = draws[np.isfinite(draws)]
        if len(finite):
            low, high = (float(v) for v in np.percentile(finite, [2.5, 97.5]))
    return {"attribute": name, "level": chosen, "alpha": alpha, "alpha_low": low,
            "alpha_high": high, "units": units, "coders": matrix.shape[0],
            "flagged": bool(np.isfinite(alpha) and alpha < UNRELIABLE)}  # fmt: skip


def annotation_agreement(
    tables: dict[str, pd.DataFrame], *, level: str = "auto", bootstrap: int = 500, seed: int = 0
) -> pd.DataFrame:
    """Krippendorff's alpha per attribute between two or more annotation tables.

    Parameters
    ----------
    tables : dict
        ``{name: annotations DataFrame}`` (long format: ``pair_id``, ``attribute``,
        ``side``, ``value``), two or more.
    level : {"auto", "nominal", "ordinal", "interval"}
        The level of measurement (``auto``: per attribute, see the module docstring).
    bootstrap : int
        Resamples of the units for the 95% interval (0: none).
    seed : int

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per attribute the tables share; ``flagged`` marks
        alpha below :data:`UNRELIABLE`; alpha is NaN where every value is the same.
    """
    if len(tables) < 2:
        raise InputError("agreement needs two or more annotation tables", field="annotations")
    if level not in LEVELS:
        raise InputError(f"unknown level {level!r} (valid: {', '.join(LEVELS)})", field="level")
    if bootstrap < 0:
        raise InputError("must be 0 or more", field="bootstrap")
    wide = _long(tables)
    shared = [a for a, block in wide.groupby(level="attribute", sort=False)
              if block.notna().any().all()]  # fmt: skip
    if not shared:
        raise InputError("the annotation tables share no attribute", field="annotations")
    rng = np.random.default_rng(seed)
    rows = [_attribute_row(a, wide.loc[a], level, bootstrap, rng) for a in shared]
    return pd.DataFrame(rows, columns=COLUMNS)
