"""Comparison rules: two per-response values -> one +1/0/-1 feature (+1 = response A wins).

Each rule is vectorised over numpy arrays; NaN in either input gives NaN (an explicit
missing value that the features step later drops or imputes). The rule of an attribute is
its ``compare`` field in the attribute-set YAML.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

#: GAIR's table for short responses: shorter count s (0..11) -> the smallest longer count l
#: at which the shorter response loses the ``lengthy`` attribute.
SHORT_LENGTH_THRESHOLDS = {
    0: 1,
    1: 3,
    2: 5,
    3: 7,
    4: 8,
    5: 10,
    6: 11,
    7: 13,
    8: 14,
    9: 16,
    10: 17,
    11: 19,
}


def _with_nan(result: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    out = result.astype(float)
    out[np.isnan(a) | np.isnan(b)] = np.nan
    return out


def compare_sign(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``sign(a - b)``: the higher value wins."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(invalid="ignore"):
        return _with_nan(np.sign(a - b), a, b)


def compare_negated_sign(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``-sign(a - b)``: the annotator rated the opposite quality (e.g. repetitive)."""
    return -compare_sign(a, b)


def compare_fewer(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return ``sign(b - a)``: the smaller count (fewer errors) wins."""
    return compare_sign(b, a)


def compare_irrelevance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return +1 if only B is totally irrelevant (a > 0, b == 0), -1 for the reverse, else 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    with np.errstate(invalid="ignore"):
        result = np.where((a > 0) & (b == 0), 1.0, np.where((b > 0) & (a == 0), -1.0, 0.0))
    return _with_nan(result, a, b)


def shorter_loses(shorter: np.ndarray, longer: np.ndarray) -> np.ndarray:
    """Return whether the longer response is *markedly* longer by GAIR's word-count rule.

    Parameters
    ----------
    shorter, longer : numpy.ndarray
        Word counts with ``shorter <= longer`` element-wise (no NaN).

    Returns
    -------
    numpy.ndarray of bool
        With s = shorter and l = longer: if s <= 11, True when l >= table[s] (s = 0: any
        l > 0); otherwise True if (s <= 0.7 l and l - s >= 10) or (s <= 0.8 l and
        l - s >= 20) or (s <= 0.9 l and l - s >= 40).
    """
    s = np.asarray(shorter, float)
    l_ = np.asarray(longer, float)
    table = np.array([SHORT_LENGTH_THRESHOLDS[i] for i in range(12)], float)
    small = s <= 11
    idx = np.clip(s, 0, 11).astype(int)
    small_rule = l_ >= table[idx]
    diff = l_ - s
    big_rule = (
        ((s <= 0.7 * l_) & (diff >= 10))
        | ((s <= 0.8 * l_) & (diff >= 20))
        | ((s <= 0.9 * l_) & (diff >= 40))
    )
    return np.where(small, small_rule, big_rule) & (l_ > s)


def compare_length_rule(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return +1 if A is markedly longer than B by GAIR's rule, -1 if B is, else 0."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    nan = np.isnan(a) | np.isnan(b)
    a0, b0 = np.where(nan, 0.0, a), np.where(nan, 0.0, b)
    shorter, longer = np.minimum(a0, b0), np.maximum(a0, b0)
    loses = shorter_loses(shorter, longer)
    result = np.where(loses, np.where(a0 > b0, 1.0, -1.0), 0.0)
    return _with_nan(result, a, b)


def compare_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Return Arena's normalised difference ``(a - b) / (a + b)`` of two non-negative counts
    (0 when both are 0): a value in [-1, 1] that keeps how much more, not only who has more.

    Examples
    --------
    >>> compare_ratio(np.array([3.0, 0.0, 1.0]), np.array([1.0, 0.0, 1.0])).tolist()
    [0.5, 0.0, 0.0]
    """
    a, b = np.asarray(a, float), np.asarray(b, float)
    total = a + b
    with np.errstate(invalid="ignore", divide="ignore"):
        result = np.where(total > 0, (a - b) / np.where(total > 0, total, 1.0), 0.0)
    return _with_nan(result, a, b)


#: ``compare`` field value -> rule.
RULES: dict[str, Callable[[np.ndarray, np.ndarray], np.ndarray]] = {
    "sign": compare_sign,
    "negated_sign": compare_negated_sign,
    "fewer": compare_fewer,
    "irrelevance": compare_irrelevance,
    "length_rule": compare_length_rule,
    "ratio": compare_ratio,
}

#: ``compare`` values of attributes whose annotations are pairwise verdicts (sides ab/ba).
PAIRWISE_RULES = ("pairwise",)


def combine_orders(ab: np.ndarray, ba: np.ndarray, *, on_disagree: str = "zero") -> np.ndarray:
    """Combine the two presentation orders of a pairwise verdict (already in original terms).

    Parameters
    ----------
    ab, ba : numpy.ndarray
        +1 (original A better), -1 (original B better), 0 (similar) or NaN (missing).
    on_disagree : {"zero", "drop"}
        What a disagreement becomes: 0 (no difference) or NaN (dropped later).

    Returns
    -------
    numpy.ndarray
        The agreed value; the one available value when the other order is missing; NaN when
        both are missing.
    """
    ab, ba = np.asarray(ab, float), np.asarray(ba, float)
    agree = ab == ba
    disagree_value = 0.0 if on_disagree == "zero" else np.nan
    both = ~np.isnan(ab) & ~np.isnan(ba)
    out = np.where(both, np.where(agree, ab, disagree_value), np.where(np.isnan(ab), ba, ab))
    return np.sign(out)
