"""Features table from constructed annotations: rules, conditionals, groups, NA, ties, style."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from preference_dissect.compare import build_features
from preference_dissect.compare.style import style_counts, style_covariates
from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset

NAN = np.nan
TEXTS = {
    "p1": ("Paris is the capital of France.", "It is Paris."),
    "p2": ("No.", "Here is a longer answer that explains the reasoning in many more words."),
    "p3": ("Yes, you can.", "Sure."),
    "p4": ("One two three four five six.", "One two three four five six."),
}


def _dataset(labels: list[tuple[str, str, str]] | None = None, **pair_cols) -> PairDataset:
    ids = list(TEXTS)
    pairs = pd.DataFrame(
        {
            "pair_id": ids,
            "prompt": [f"question {i}" for i in ids],
            "response_a": [TEXTS[i][0] for i in ids],
            "response_b": [TEXTS[i][1] for i in ids],
            "source": "test",
            "scenario": pair_cols.get("scenario", ["Code", "Advice", None, "Code"]),
            "meta": pair_cols.get("meta", ['{"query_groups": ["w_stances"]}', "{}", "{}", "{}"]),
        }
    )
    if labels is None:
        labels = [
            ("p1", "human", "a"),
            ("p2", "human", "b"),
            ("p3", "human", "tie"),
            ("p4", "human", "a"),
            ("p1", "gpt", "b"),
            ("p2", "gpt", "both_bad"),
        ]
    lab = pd.DataFrame(labels, columns=["pair_id", "judge", "winner"])
    return PairDataset(pairs, lab)


def _rows(attribute: str, values: dict[str, tuple[float, float]], **extra) -> list[dict]:
    out = []
    for pid, (a, b) in values.items():
        for side, v in (("a", a), ("b", b)):
            out.append(
                {
                    "pair_id": pid,
                    "annotator": "gair29",
                    "attribute": attribute,
                    "side": side,
                    "value": v,
                    "na_reason": extra.get("na_reason"),
                }
            )
    return out


def _annotations() -> pd.DataFrame:
    rows = []
    rows += _rows("harmless", {"p1": (3, 1), "p2": (1, 3), "p3": (2, 2), "p4": (0, 0)})
    # annotator rates "repetitive" (alias via rated_as) -> non_repetitive is negated
    rows += _rows("repetitive", {"p1": (2, 0), "p2": (0, 1), "p3": (1, 1), "p4": (0, 0)})
    rows += _rows("relevant", {"p1": (1, 0), "p2": (0, 3), "p3": (1, 3), "p4": (0, 0)})
    rows += _rows("no_minor_errors", {"p1": (0, 2), "p2": (3, 1), "p3": (1, 1), "p4": (0, 0)})
    rows += _rows("clarify_intent", {"p2": (3, 1), "p3": (0, 2)})
    rows += _rows("clarify_intent", {"p1": (NAN, NAN), "p4": (NAN, NAN)}, na_reason="not_triggered")
    rows += [
        {
            "pair_id": "p2",
            "annotator": "gair29",
            "attribute": "intent_unclear",
            "side": "query",
            "value": 1.0,
            "na_reason": None,
        },
        {
            "pair_id": "p3",
            "annotator": "gair29",
            "attribute": "intent_unclear",
            "side": "query",
            "value": 1.0,
            "na_reason": None,
        },
    ]
    rows += _rows("lengthy", {"p1": (6, 3), "p2": (1, 13), "p3": (3, 1), "p4": (6, 6)})
    return pd.DataFrame(rows)


def _feature(table: pd.DataFrame, pid: str, column: str, judge: str = "human") -> float:
    row = table[(table["pair_id"] == pid) & (table["group"] == "all") & (table["judge"] == judge)]
    assert len(row) == 1
    return float(row[column].iloc[0])


def test_each_rule_on_constructed_annotations():
    table, report = build_features(_annotations(), _dataset(), "gair29", na="impute")
    expected = {
        #      harmless non_rep relevant minor clarify lengthy
        "p1": (1, -1, 1, 1, 0, 0),  # lengthy: shorter has 3 words, B loses only from 7 words
        "p2": (-1, 1, -1, -1, 1, -1),  # lengthy: 1 vs 13 words -> B markedly longer
        "p4": (0, 0, 0, 0, 0, 0),
    }
    cols = (
        "harmless",
        "non_repetitive",
        "relevant",
        "no_minor_errors",
        "clarify_intent",
        "lengthy",
    )
    for pid, values in expected.items():
        got = tuple(_feature(table, pid, c) for c in cols)
        assert got == values, (pid, got)
    # attribute order follows the YAML; absent attributes are reported, not invented
    assert report["attributes"] == list(cols)
    assert "friendly" in report["attributes_without_annotations"]
    assert list(table.columns[:4]) == ["pair_id", "judge", "group", "y"]
    assert set(np.unique(table[list(cols)].to_numpy())) <= {-1.0, 0.0, 1.0}


def test_y_and_ties():
    table, report = build_features(_annotations(), _dataset(), "gair29", na="impute")
    all_rows = table[table["group"] == "all"]
    human = all_rows[all_rows["judge"] == "human"].set_index("pair_id")["y"].to_dict()
    assert human == {"p1": 1, "p2": 0, "p4": 1}  # tie p3 dropped
    gpt = all_rows[all_rows["judge"] == "gpt"].set_index("pair_id")["y"].to_dict()
    assert gpt == {"p1": 0}  # both_bad dropped
    assert report["labels"]["human"] == {"a": 2, "b": 1, "tie": 1}
    half, _ = build_features(_annotations(), _dataset(), "gair29", na="impute", ties="half")
    p3 = half[(half["pair_id"] == "p3") & (half["group"] == "all")]
    assert p3["y"].tolist() == [0.5]
    assert half["y"].isin([0, 0.5, 1]).all()
    assert not half.duplicated(subset=["pair_id", "judge", "group"]).any()
    assert table["y"].dtype == "int64" and set(table["y"]) == {0, 1}


def test_group_expansion():
    table, report = build_features(_annotations(), _dataset(), "gair29", na="impute")
    human = table[table["judge"] == "human"]
    groups = human.groupby("pair_id")["group"].apply(sorted).to_dict()
    assert groups["p1"] == ["Code", "all", "w_stances"]  # scenario + meta query_groups
    assert groups["p2"] == ["Advice", "all", "intent_unclear"]  # query-check flag
    assert groups["p4"] == ["Code", "all"]
    # same feature values in every group of a pair
    p1 = human[human["pair_id"] == "p1"].drop(columns=["group"])
    assert len(p1.drop_duplicates()) == 1
    assert report["groups"]["Code"] == 2


def test_na_drop_and_impute_counts():
    ann = _annotations()
    # p3's clarify_intent is triggered but B failed to parse; p2's harmless missing for B
    ann.loc[
        (ann["pair_id"] == "p3") & (ann["attribute"] == "clarify_intent") & (ann["side"] == "b"),
        ["value", "na_reason"],
    ] = [NAN, "parse_failed"]
    ann.loc[
        (ann["pair_id"] == "p2") & (ann["attribute"] == "harmless") & (ann["side"] == "b"),
        ["value", "na_reason"],
    ] = [NAN, "http_error"]
    dropped, rep_d = build_features(ann, _dataset(), "gair29", na="drop")
    assert rep_d["na"]["by_attribute"]["harmless"] == 1
    assert rep_d["na"]["by_attribute"]["clarify_intent"] == 1
    assert rep_d["na"]["pairs_with_na"] == 2
    assert rep_d["na"]["pairs_dropped"] == 2
    assert set(dropped["pair_id"]) == {"p1", "p4"}
    assert not dropped.isna().any().any()
    imputed, rep_i = build_features(ann, _dataset(), "gair29", na="impute")
    assert rep_i["na"]["values_imputed"] == 2
    assert _feature(imputed, "p2", "harmless") == 0.0
    assert set(imputed["pair_id"]) == {"p1", "p2", "p4"}  # p3 is a tie for the only judges


def test_pairwise_orders_and_disagreement():
    rows = []
    verdicts = {"p1": (1, 1), "p2": (1, -1), "p3": (-1, -1), "p4": (0, 1)}
    for pid, (ab, ba) in verdicts.items():
        for side, v in (("ab", ab), ("ba", ba)):
            rows.append(
                {
                    "pair_id": pid,
                    "annotator": "pw",
                    "attribute": "is_concise",
                    "side": side,
                    "value": float(v),
                }
            )
    attr_set = {
        "name": "pw",
        "attributes": [{"name": "is_concise", "compare": "pairwise", "definition": "Concise."}],
    }
    ds = _dataset(labels=[(p, "human", "a") for p in TEXTS])
    table, report = build_features(pd.DataFrame(rows), ds, attr_set)
    vals = table[table["group"] == "all"].set_index("pair_id")["is_concise"].to_dict()
    assert vals == {"p1": 1, "p2": 0, "p3": -1, "p4": 0}
    assert report["disagreement"]["is_concise"] == {
        "pairs_both_orders": 4,
        "disagree": 2,
        "rate": 0.5,
    }
    for na in ("drop", "impute"):
        dropped, rep = build_features(pd.DataFrame(rows), ds, attr_set, on_disagree="drop", na=na)
        assert set(dropped["pair_id"]) == {"p1", "p3"}
        assert rep["pairs_dropped_disagree"] == 2 and rep["na"]["pairs_with_na"] == 0
    # the bundled sharma24 set (mode pairwise) works the same way
    sharma = pd.DataFrame(rows).assign(annotator="sharma24", attribute="truthful")
    table, report = build_features(sharma, ds)  # attribute set taken from the annotator column
    assert report["attribute_sets"] == ["sharma24"] and report["attributes"] == ["truthful"]
    assert report["disagreement"]["truthful"]["disagree"] == 2


def test_judge_filter_and_unknown_judge():
    table, _ = build_features(_annotations(), _dataset(), "gair29", na="impute", judges=["gpt"])
    assert set(table["judge"]) == {"gpt"}
    with pytest.raises(InputError, match="unknown judge 'nobody'"):
        build_features(_annotations(), _dataset(), "gair29", judges=["nobody"])


def test_unknown_attribute_and_pair_errors():
    ann = _annotations()
    bad = pd.concat(
        [
            ann,
            pd.DataFrame(
                [
                    {
                        "pair_id": "p1",
                        "annotator": "gair29",
                        "attribute": "sparkly",
                        "side": "a",
                        "value": 1.0,
                    }
                ]
            ),
        ],
        ignore_index=True,
    )
    with pytest.raises(InputError) as err:
        build_features(bad, _dataset(), "gair29")
    assert err.value.field == "attribute" and err.value.row == len(bad)
    bad = ann.copy()
    bad.loc[3, "pair_id"] = "nope"
    with pytest.raises(InputError, match="not in the pair table") as err:
        build_features(bad, _dataset(), "gair29")
    assert err.value.row == 4


def test_style_counts_ignore_fenced_code():
    text = "# Title\n\n```python\n# not a header\n- not a list\n**no**\n```\n- one\n1. two\n**b**"
    assert style_counts(text) == {
        "length": style_counts(text)["length"],
        "header": 1,
        "list": 2,
        "bold": 1,
    }
    assert style_counts("a, b")["length"] == 3


def test_style_covariates_from_text_and_metadata():
    cm = {
        "sum_assistant_a_tokens": 100,
        "sum_assistant_b_tokens": 10,
        "header_count_a": {"h1": 1, "h2": 2},
        "header_count_b": {"h1": 0},
        "list_count_a": {"ordered": 0, "unordered": 0},
        "list_count_b": {"ordered": 3, "unordered": 1},
        "bold_count_a": {"**": 2, "__": 0},
        "bold_count_b": {"**": 2, "__": 0},
    }
    meta = [json.dumps({"conv_metadata": cm}), "{}", "{}", "{}"]
    ds = _dataset(meta=meta)
    cov, rep = style_covariates(ds.pairs)
    assert rep == {**rep, "from_metadata": 1, "from_text": 3}
    raw_len_p1 = (100 - 10) / (100 + 10 + 1)
    assert rep["mean"]["length"] != 0
    z = (raw_len_p1 - rep["mean"]["length"]) / rep["sd"]["length"]
    assert cov.loc["p1", "style_length"] == pytest.approx(z)
    for col in cov.columns:
        assert cov[col].mean() == pytest.approx(0, abs=1e-12)
        assert cov[col].std(ddof=0) == pytest.approx(1) or cov[col].std(ddof=0) == 0
    table, report = build_features(_annotations(), ds, "gair29", na="impute", style=True)
    assert [c for c in table.columns if c.startswith("style_")] == [
        "style_length",
        "style_header",
        "style_list",
        "style_bold",
    ]
    assert report["style"]["from_metadata"] == 1


def test_attribute_set_object_name_and_inferred_give_the_same_table():
    from preference_dissect.annotate.attribute_sets import load_attribute_set

    by_name, _ = build_features(_annotations(), _dataset(), "gair29", na="impute")
    by_object, _ = build_features(
        _annotations(), _dataset(), load_attribute_set("gair29"), na="impute"
    )
    inferred, _ = build_features(_annotations(), _dataset(), na="impute")  # annotator column
    pd.testing.assert_frame_equal(by_name, by_object)
    pd.testing.assert_frame_equal(by_name, inferred)
