"""Comparison rules: each +1/0/-1 rule, GAIR's length rule at its boundaries, order merging."""

from __future__ import annotations

import numpy as np
import pytest

from preference_dissect.compare.rules import (
    SHORT_LENGTH_THRESHOLDS,
    combine_orders,
    compare_fewer,
    compare_irrelevance,
    compare_length_rule,
    compare_negated_sign,
    compare_sign,
    shorter_loses,
)

NAN = np.nan


def _eq(x, expected):
    np.testing.assert_array_equal(np.asarray(x, float), np.asarray(expected, float))


def test_sign_family():
    a = np.array([3, 1, 2, NAN, 0])
    b = np.array([1, 3, 2, 1, NAN])
    _eq(compare_sign(a, b), [1, -1, 0, NAN, NAN])
    _eq(compare_negated_sign(a, b), [-1, 1, 0, NAN, NAN])  # e.g. rated "repetitive"
    _eq(compare_fewer(a, b), [-1, 1, 0, NAN, NAN])  # more errors loses


def test_irrelevance_only_totally_irrelevant_counts():
    a = np.array([1, 0, 3, 0, 2, NAN])
    b = np.array([0, 2, 1, 0, 3, 0])
    _eq(compare_irrelevance(a, b), [1, -1, 0, 0, 0, NAN])


@pytest.mark.parametrize("s", range(12))
def test_length_rule_short_table_boundaries(s):
    threshold = SHORT_LENGTH_THRESHOLDS[s]
    # exactly at the threshold the shorter response loses; one word less it does not
    assert shorter_loses(np.array([s]), np.array([threshold]))[0]
    if threshold - 1 > s:
        assert not shorter_loses(np.array([s]), np.array([threshold - 1]))[0]
    assert not shorter_loses(np.array([s]), np.array([s]))[0]


def test_length_rule_zero_words_loses_to_anything():
    _eq(compare_length_rule(np.array([0, 1, 0]), np.array([1, 0, 0])), [-1, 1, 0])


@pytest.mark.parametrize(
    ("s", "l", "loses"),
    [
        # s <= 0.7 l and l - s >= 10
        (12, 22, True),  # 12 <= 15.4, diff 10
        (12, 21, False),  # diff 9; 12 <= 16.8 but diff < 20; not 0.9-rule either
        (21, 30, False),  # 21 <= 21.0 but diff 9
        (21, 31, True),  # 21 <= 21.7, diff 10
        # s <= 0.8 l and l - s >= 20
        (80, 100, True),  # 80 <= 80, diff 20
        (81, 100, False),  # 81 > 80, diff 19 (< 40)
        (79, 98, False),  # 79 <= 78.4? no; diff 19
        # s <= 0.9 l and l - s >= 40
        (360, 400, True),  # 360 <= 360, diff 40
        (361, 400, False),  # 361 > 360
        (351, 390, False),  # 351 <= 351 but diff 39 (0.8 rule: 351 > 312)
        (12, 12, False),
    ],
)
def test_length_rule_long_boundaries(s, l, loses):  # noqa: E741
    assert bool(shorter_loses(np.array([s]), np.array([l]))[0]) is loses
    expected = -1.0 if loses else 0.0
    _eq(compare_length_rule(np.array([s]), np.array([l])), [expected])
    _eq(compare_length_rule(np.array([l]), np.array([s])), [-expected if loses else 0.0])


def test_length_rule_nan():
    _eq(compare_length_rule(np.array([NAN, 5]), np.array([3, NAN])), [NAN, NAN])


def test_combine_orders():
    ab = np.array([1, 1, -1, 0, NAN, 1, NAN])
    ba = np.array([1, -1, -1, 0, -1, NAN, NAN])
    _eq(combine_orders(ab, ba), [1, 0, -1, 0, -1, 1, NAN])
    _eq(combine_orders(ab, ba, on_disagree="drop"), [1, NAN, -1, 0, -1, 1, NAN])


def test_ratio_rule_is_arenas_normalised_difference(tmp_path):
    """``compare: ratio`` in a user's copy of the rules set: the feature is (a - b) / (a + b)
    of the two counts, checked against the annotated values by hand."""
    import preference_dissect as pdx
    from preference_dissect.compare.rules import compare_ratio

    assert compare_ratio(np.array([2.0, 0.0, np.nan]), np.array([6.0, 0.0, 1.0])).tolist()[:2] == [
        -0.5,
        0.0,
    ]
    path = tmp_path / "counts.yaml"
    path.write_text(
        "name: counts\nmode: rules\nattributes:\n"
        "  - {name: tokens, kind: count, compare: ratio, definition: tokens}\n"
        "  - {name: list_items, kind: count, compare: sign, definition: list items}\n"
    )
    ds = pdx.load("bundled:hh-rlhf", limit=40)
    ann = pdx.annotate(ds, path)
    features = pdx.compare(ann, ds, attribute_set=path)
    wide = ann.pivot_table(index=["pair_id", "attribute"], columns="side", values="value")
    tok = wide.xs("tokens", level="attribute")
    expected = (tok["a"] - tok["b"]) / (tok["a"] + tok["b"])
    got = features[features["group"] == "all"].set_index("pair_id")["tokens"]
    assert got.to_numpy() == pytest.approx(expected.reindex(got.index).to_numpy())
    assert got.abs().max() < 1 and not set(got.unique()) <= {-1.0, 0.0, 1.0}
