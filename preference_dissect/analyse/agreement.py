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

Comparison features: besides the annotated values, each attribute's ``feature_alpha`` is the
alpha of the -1 / 0 / +1 comparison feature that ``compare`` derives from each coder's
annotations of a pair (the comparator's own code, :mod:`preference_dissect.compare.features`,
with the attribute's rule from its bundled attribute set, named by the ``annotator`` column;
an attribute of no bundled set uses ``sign``, or the two presentation orders for ``ab`` /
``ba`` verdicts). A unit is a pair; the level is ordinal for -1 / 0 / +1 features (interval
for a continuous rule such as ``ratio``; or ``level`` when given), the interval a bootstrap
over pairs. It answers whether the coders would give the fit the same
data, which can differ from the values' agreement (two raters who disagree on a scale's
offset agree on every comparison).

Repeats: a table with a ``repeat`` column (``annotate --repeats``' ``OUT.repeats.parquet``)
is split into one coder per repeat, named ``NAME:repeatR``.
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
COLUMNS = ["attribute", "level", "alpha", "alpha_low", "alpha_high", "units", "coders", "flagged",
           "feature_alpha", "feature_alpha_low", "feature_alpha_high", "feature_units"]  # fmt: skip
#: The column of a repeated annotation's table that numbers the repeats.
REPEAT = "repeat"


def split_repeats(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Each table with a :data:`REPEAT` column as one coder per repeat (``NAME:repeatR``);
    other tables as they are.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"pair_id": ["p", "p"], "attribute": "x", "side": "a",
    ...                      "value": [1.0, 2.0], "repeat": [1, 2]})
    >>> list(split_repeats({"run": rows.iloc[:0].drop(columns="repeat"), "more": rows}))
    ['run', 'more:repeat1', 'more:repeat2']
    """
    out: dict[str, pd.DataFrame] = {}
    for name, table in tables.items():
        if REPEAT not in table.columns:
            out[name] = table
            continue
        for r, part in table.groupby(REPEAT, sort=True):
            out[f"{name}:repeat{int(r)}"] = part.drop(columns=REPEAT)
    return out


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


def _with_interval(matrix: np.ndarray, level: str, bootstrap: int, rng) -> tuple:
    """(alpha, 2.5%, 97.5%, units) of a (coders, units) matrix: the percentile bootstrap over
    its pairable units."""
    values = _pairable(matrix)
    alpha_of = _alpha_of_units(values, level)
    alpha, units = alpha_of(None), values.shape[1]
    low = high = float("nan")
    if bootstrap and np.isfinite(alpha):
        draws = np.array([alpha_of(rng.integers(0, units, units)) for _ in range(bootstrap)])
        finite = draws[np.isfinite(draws)]
        if len(finite):
            low, high = (float(v) for v in np.percentile(finite, [2.5, 97.5]))
    return alpha, low, high, units


def _attribute_row(name, block: pd.DataFrame, level: str, bootstrap: int, rng) -> dict[str, Any]:
    matrix = block.to_numpy(dtype=float).T  # (coders, units)
    pairwise = block.index.get_level_values("side").isin(["ab", "ba"]).all()
    chosen = _level(matrix, pairwise) if level == "auto" else level
    alpha, low, high, units = _with_interval(matrix, chosen, bootstrap, rng)
    return {"attribute": name, "level": chosen, "alpha": alpha, "alpha_low": low,
            "alpha_high": high, "units": units, "coders": matrix.shape[0],
            "flagged": bool(np.isfinite(alpha) and alpha < UNRELIABLE)}  # fmt: skip


def _feature_specs(tables: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Attribute -> its :class:`~preference_dissect.compare.attributes.Compared` from the
    bundled attribute sets the tables' ``annotator`` columns name (the first set wins)."""
    from preference_dissect.annotate.attribute_sets import attribute_set_names
    from preference_dissect.compare.attributes import compared_attributes

    names = [str(n) for t in tables.values() if "annotator" in t
             for n in t["annotator"].dropna().unique()]  # fmt: skip
    bundled = set(attribute_set_names())
    specs: dict[str, Any] = {}
    for name in dict.fromkeys(n for n in names if n in bundled):
        for spec in compared_attributes(name):
            for alias in (spec.name, *spec.aliases):
                specs.setdefault(alias, spec)
    return specs


def _fallback_spec(attribute: str) -> Any:
    from preference_dissect.annotate.attribute_sets import AttributeSpec
    from preference_dissect.compare.attributes import Compared

    return Compared("", AttributeSpec(name=attribute, definition=attribute, compare="sign"))


def coder_features(table: pd.DataFrame, specs: dict[str, Any]) -> pd.DataFrame:
    """The -1 / 0 / +1 comparison features of one coder's annotations, one column per
    attribute, indexed by ``pair_id`` (NaN: missing), by the comparator's own rule
    (:func:`preference_dissect.compare.features.feature_frame`, ``not_applicable="zero"``,
    order disagreements 0). An attribute the comparator refuses is left out."""
    from preference_dissect.compare.features import feature_frame

    ann = table.assign(na_reason=table.get("na_reason"))
    ann = ann.astype({"value": float})
    pairs = pd.DataFrame({"pair_id": list(dict.fromkeys(ann["pair_id"]))})
    pairs["response_a"] = pairs["response_b"] = ""
    columns = {}
    for attribute in dict.fromkeys(ann.loc[ann["side"] != "query", "attribute"]):
        spec = specs.get(attribute) or _fallback_spec(attribute)
        report: dict[str, Any] = {
            "disagreement": {},
            "not_applicable": {},
            "computed_from_text": [],
            "attributes_without_annotations": [],
        }
        rows = ann.assign(attribute=ann["attribute"].replace({attribute: spec.name}))
        try:
            frame, _ = feature_frame(rows, [spec], pairs, report, "zero")
        except InputError:
            continue  # e.g. a pairwise attribute rated per response: no comparison
        columns[attribute] = frame[spec.name]
    return pd.DataFrame(columns, index=pd.Index(pairs["pair_id"], name="pair_id"))


def _feature_rows(tables, level: str, bootstrap: int, seed: int) -> dict[str, dict[str, Any]]:
    """Attribute -> the ``feature_*`` columns: alpha of the comparison features over pairs."""
    specs = _feature_specs(tables)
    features = {name: coder_features(t, specs) for name, t in tables.items()}
    rng = np.random.default_rng([seed, 1])  # its own stream: the value intervals stay as they are
    out = {}
    shared = [a for a in dict.fromkeys(c for f in features.values() for c in f.columns)
              if all(a in f.columns for f in features.values())]  # fmt: skip
    for attribute in shared:
        matrix = pd.concat([f[attribute].rename(n) for n, f in features.items()], axis=1)
        matrix = matrix.to_numpy(float).T
        chosen = _level(matrix, pairwise=False) if level == "auto" else level
        alpha, low, high, units = _with_interval(matrix, chosen, bootstrap, rng)
        out[attribute] = {"feature_alpha": alpha, "feature_alpha_low": low,
                          "feature_alpha_high": high, "feature_units": units}  # fmt: skip
    return out


def annotation_agreement(
    tables: dict[str, pd.DataFrame],
    *,
    level: str = "auto",
    bootstrap: int = 500,
    seed: int = 0,
    features: bool = True,
) -> pd.DataFrame:
    """Krippendorff's alpha per attribute between two or more annotation tables.

    Parameters
    ----------
    tables : dict
        ``{name: annotations DataFrame}`` (long format: ``pair_id``, ``attribute``,
        ``side``, ``value``); a table with a ``repeat`` column counts as one coder per
        repeat (:func:`split_repeats`). Two or more coders.
    level : {"auto", "nominal", "ordinal", "interval"}
        The level of measurement (``auto``: per attribute, see the module docstring; the
        comparison features are ordinal unless a level is given).
    bootstrap : int
        Resamples of the units for the 95% interval (0: none).
    seed : int
    features : bool
        Also the alpha of the comparison features (``feature_*`` columns; NaN when off).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`, one row per attribute the tables share; ``flagged`` marks
        alpha below :data:`UNRELIABLE`; alpha is NaN where every value is the same;
        ``feature_alpha`` (with ``feature_alpha_low``, ``feature_alpha_high`` and the pairs
        counted, ``feature_units``) is the alpha of the -1 / 0 / +1 comparison features
        (NaN for a query check, which is no comparison).

    Examples
    --------
    >>> import pandas as pd
    >>> def rated(a, b):
    ...     return pd.DataFrame({"pair_id": ["p1", "p2", "p3"] * 2, "attribute": "clear",
    ...                          "side": ["a"] * 3 + ["b"] * 3, "value": a + b})
    >>> table = annotation_agreement({"one": rated([1, 2, 3], [2, 2, 1]),
    ...                               "two": rated([2, 3, 3], [3, 3, 2])}, bootstrap=0)
    >>> float(table.loc[0, "feature_alpha"])  # the same three comparisons: -1, 0, +1
    1.0
    """
    if isinstance(tables, dict):
        tables = split_repeats(tables)
    if not isinstance(tables, dict) or len(tables) < 2:
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
    feature = _feature_rows(tables, level, bootstrap, seed) if features else {}
    empty = {"feature_alpha": np.nan, "feature_alpha_low": np.nan, "feature_alpha_high": np.nan,
             "feature_units": 0}  # fmt: skip
    rows = [{**row, **feature.get(row["attribute"], empty)} for row in rows]
    return pd.DataFrame(rows, columns=COLUMNS)
