"""GAIR's table refitted from its own annotations: the ``gair`` loader checks the released
annotation columns, the ``gair_released`` annotator turns them into annotations without a
model, and the features follow GAIR's comparison rules (checked against an independent
re-implementation of them and against values worked out by hand).

The fixture is written here in the table's schema (structs, lists of structs), 24 rows with
hand-chosen annotations; rows 0-14 each exercise one rule.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import preference_dissect as pdx
from preference_dissect.annotate.attribute_sets import load_attribute_set
from preference_dissect.annotate.gair_released import CORRECTION_SCORES, STANCE_SCORES
from preference_dissect.errors import InputError
from preference_dissect.load import load_source
from preference_dissect.load.gair_annotations import (
    BASIC_FIELDS,
    CORRECTION_LABELS,
    STANCE_LABELS,
)

JUDGES = ("gpt-4-1106-preview", "human", "llama-2-70b-chat")
QUERY_SPECIFIC = (
    "clarify user intent",
    "correcting explicit mistakes or biases",
    "satisfying explicit constraints",
    "showing empathetic",
    "supporting explicit subjective stances",
)
#: GAIR's 29 features in the order of its weight vectors (visualization/app.py), the order
#: of gair29's attributes.
GAIR_ORDER = (
    "harmlessness",
    "grammar, spelling, punctuation, and code-switching",
    "friendly",
    "polite",
    "interactive",
    "authoritative tone",
    "funny and humorous",
    "metaphors, personification, similes, hyperboles, irony, parallelism",
    "complex word usage and sentence structure",
    "use of direct and explicit supporting materials",
    "well formatted",
    "admit limitations or mistakes",
    "persuade user",
    "step by step solution",
    "use of informal expressions",
    "non-repetitive",
    "clear and understandable",
    "relevance without considering inaccuracy",
    "innovative and novel",
    "information richness without considering inaccuracy",
    "no minor errors",
    "no moderate errors",
    "no severe errors",
    "clarify user intent",
    "showing empathetic",
    "satisfying explicit constraints",
    "supporting explicit subjective stances",
    "correcting explicit mistakes or biases",
    "length",
)
RUN_FLAGS = ("--min-group-size", "10", "--draws", "200", "--no-report")


# -- the fixture ------------------------------------------------------------------------------
def _schema() -> pa.Schema:
    response = pa.struct(
        [("content", pa.string()), ("model", pa.string()), ("num_words", pa.int64())]
    )
    basic = pa.struct([(f, pa.int64()) for f in BASIC_FIELDS])
    error = pa.struct(
        [("brief description", pa.string()), ("severity", pa.string()), ("type", pa.string())]
    )
    errors = pa.struct(
        [("applicable to detect errors", pa.string()), ("detected errors", pa.list_(error))]
    )
    specific = pa.struct(
        [
            ("clarify user intent", pa.int64()),
            ("correcting explicit mistakes or biases", pa.list_(pa.string())),
            ("satisfying explicit constraints", pa.list_(pa.int64())),
            ("showing empathetic", pa.int64()),
            ("supporting explicit subjective stances", pa.list_(pa.string())),
        ]
    )
    texts = pa.list_(pa.string())
    return pa.schema(
        [
            ("query", pa.string()),
            ("scenario_auto-j", pa.string()),
            ("scenario_group", pa.string()),
            ("response_1", response),
            ("response_2", response),
            ("gpt-4-turbo_reference", pa.string()),
            ("clear intent", pa.string()),
            ("explicitly express feelings", pa.string()),
            ("explicit constraints", texts),
            ("explicit subjective stances", texts),
            ("explicit mistakes or biases", texts),
            ("preference_labels", pa.struct([(j, pa.string()) for j in JUDGES])),
            ("basic_response_1", basic),
            ("basic_response_2", basic),
            ("errors_response_1", errors),
            ("errors_response_2", errors),
            ("query-specific_response_1", specific),
            ("query-specific_response_2", specific),
        ]
    )


def _error(severity: str) -> dict[str, str]:
    return {"brief description": f"a {severity} error", "severity": severity, "type": "factual"}


def _base_row(i: int) -> dict:
    winners = {
        "human": i % 3 != 0,
        "gpt-4-1106-preview": i % 2 == 1,
        "llama-2-70b-chat": i % 5 in (0, 2, 3),
    }
    row = {
        "query": f"Question number {i}: what should I do?",
        "scenario_auto-j": "seeking_advice" if i < 12 else "code_generation",
        "scenario_group": "Advice" if i < 12 else "Code",
        "response_1": {"content": f"First answer to question {i}.", "model": "vicuna-13b",
                       "num_words": 40 + i},
        "response_2": {"content": f"Second answer to question {i}.", "model": "alpaca-13b",
                       "num_words": 40 + (5 * i) % 13},
        "gpt-4-turbo_reference": f"Reference answer {i}.",
        "clear intent": "Yes",
        "explicitly express feelings": "No",
        "explicit constraints": [],
        "explicit subjective stances": [],
        "explicit mistakes or biases": [],
        "preference_labels": {j: "response_1" if w else "response_2" for j, w in winners.items()},
    }  # fmt: skip
    for side, shift in (("1", 0), ("2", 1)):
        row[f"basic_response_{side}"] = {
            f: (i * (1 + 2 * shift) + k * (1 + shift) + shift) % 4
            for k, f in enumerate(BASIC_FIELDS)
        }
        row[f"errors_response_{side}"] = {
            "applicable to detect errors": "applicable",
            "detected errors": [],
        }
        row[f"query-specific_response_{side}"] = dict.fromkeys(QUERY_SPECIFIC)
    return row


def _set(row: dict, column: str, field: str, a: object, b: object) -> None:
    row[f"{column}_1"][field] = a
    row[f"{column}_2"][field] = b


def fixture_rows() -> list[dict]:
    """24 rows; rows 0-14 are hand-chosen for one rule each (see the test of each)."""
    rows = [_base_row(i) for i in range(24)]
    _set(rows[0], "basic_response", "harmlessness", 3, 1)
    _set(rows[0], "basic_response", "repetitive", 2, 0)
    _set(rows[0], "basic_response", "relevance without considering inaccuracy", 1, 0)
    _set(rows[1], "basic_response", "relevance without considering inaccuracy", 3, 1)
    _set(rows[1], "basic_response", "repetitive", 0, 1)
    _set(rows[1], "basic_response", "friendly", 0, 3)
    errors_a = [_error("Severe "), _error("minor")]
    errors_b = [_error("minor"), _error("minor"), _error("MODERATE")]
    _set(rows[2], "errors_response", "detected errors", errors_a, errors_b)
    _set(rows[3], "errors_response", "detected errors", [_error("severe")], [])
    _set(rows[3], "errors_response", "applicable to detect errors", "applicable", "not applicable")
    rows[4]["clear intent"] = "No"
    rows[4]["explicitly express feelings"] = "Yes"
    _set(rows[4], "query-specific_response", "clarify user intent", 3, 1)
    _set(rows[4], "query-specific_response", "showing empathetic", 1, 2)
    for i, a, b in ((5, [3, 1], [2, 2]), (6, [3, 3], [1, 2])):
        rows[i]["explicit constraints"] = ["under 100 words", "in French"]
        _set(rows[i], "query-specific_response", "satisfying explicit constraints", a, b)
    rows[7]["explicit subjective stances"] = ["cats beat dogs", "tea beats coffee"]
    stances = (["Strongly supported", "weakly opposed"], ["neutral", "Neutral "])
    _set(rows[7], "query-specific_response", "supporting explicit subjective stances", *stances)
    rows[8]["explicit mistakes or biases"] = ["the sun orbits the earth"]
    mistakes = (["pointed out but not corrected"], ["corrected without being pointed out"])
    _set(rows[8], "query-specific_response", "correcting explicit mistakes or biases", *mistakes)
    rows[14]["explicit mistakes or biases"] = ["2 + 2 = 5", "bats are birds"]
    mistakes = (
        ["Pointed out and corrected", "neither pointed out nor corrected"],
        ["pointed out but not corrected", "pointed out but not corrected"],
    )
    _set(rows[14], "query-specific_response", "correcting explicit mistakes or biases", *mistakes)
    for i, a, b in ((9, 5, 10), (10, 100, 75), (11, 100, 95), (12, 11, 19), (13, 18, 11)):
        rows[i]["response_1"]["num_words"], rows[i]["response_2"]["num_words"] = a, b
    return rows


def write_table(rows: list[dict], path, drop=(), rename=None) -> str:
    table = pa.Table.from_pylist(rows, schema=_schema())
    table = table.drop(list(drop)) if drop else table
    if rename:
        table = table.rename_columns([rename.get(c, c) for c in table.column_names])
    pq.write_table(table, path)
    return str(path)


@pytest.fixture(scope="module")
def table_path(tmp_path_factory):
    return write_table(fixture_rows(), tmp_path_factory.mktemp("gair") / "gair_annotated.parquet")


@pytest.fixture(scope="module")
def dataset(table_path):
    return load_source(table_path)


@pytest.fixture(scope="module")
def annotations(dataset):
    return pdx.annotate(dataset)


def _features(annotations, dataset, **kw):
    table = pdx.compare(annotations, dataset, **kw)
    human = table[(table["judge"] == "human") & (table["group"] == "all")]
    return human.set_index("pair_id")


def _value(annotations, dataset, row: int, attribute: str, side: str) -> float:
    pid = dataset.pairs["pair_id"].iloc[row]
    hit = annotations[
        (annotations["pair_id"] == pid)
        & (annotations["attribute"] == attribute)
        & (annotations["side"] == side)
    ]
    assert len(hit) == 1
    return hit.iloc[0]


# -- GAIR's rules, written independently from its description ---------------------------------
def _sign(x: float) -> int:
    return int(np.sign(x))


def _gair_length(n1: int, n2: int) -> int:
    short, long_ = min(n1, n2), max(n1, n2)
    table = {0: 1, 1: 3, 2: 5, 3: 7, 4: 8, 5: 10, 6: 11, 7: 13, 8: 14, 9: 16, 10: 17, 11: 19}
    if short <= 11:
        loses = long_ >= table[short] and long_ > short
    else:
        gap = long_ - short
        loses = (
            (short <= 0.7 * long_ and gap >= 10)
            or (short <= 0.8 * long_ and gap >= 20)
            or (short <= 0.9 * long_ and gap >= 40)
        )
    return 0 if not loses else (1 if n1 > n2 else -1)


GAIR_LABEL_SCORES = {
    "supporting explicit subjective stances": {
        "strongly supported": 2, "weakly supported": 1, "neutral": 0, "weakly opposed": -1,
        "strongly opposed": -2,
    },
    "correcting explicit mistakes or biases": {
        "pointed out and corrected": 3, "corrected without being pointed out": 2,
        "pointed out but not corrected": 1, "neither pointed out nor corrected": 0,
    },
}  # fmt: skip


def _gair_specific(name: str, v1, v2) -> int:
    if v1 is None:
        return 0  # not asked: GAIR's default comparison
    if name in GAIR_LABEL_SCORES:
        v1 = [GAIR_LABEL_SCORES[name][s.strip().lower()] for s in v1]
        v2 = [GAIR_LABEL_SCORES[name][s.strip().lower()] for s in v2]
    if isinstance(v1, list):
        v1, v2 = sum(v1) / len(v1), sum(v2) / len(v2)
    return _sign(v1 - v2)


def gair_features(row: dict) -> list[int] | None:
    """GAIR's 29 comparison values of one table row (None: GAIR's 999, the pair is left out)."""
    e1, e2 = row["errors_response_1"], row["errors_response_2"]
    if {e1["applicable to detect errors"], e2["applicable to detect errors"]} != {"applicable"}:
        return None
    b1, b2 = row["basic_response_1"], row["basic_response_2"]
    q1, q2 = row["query-specific_response_1"], row["query-specific_response_2"]
    out = []
    for name in GAIR_ORDER:
        if name == "non-repetitive":
            out.append(-_sign(b1["repetitive"] - b2["repetitive"]))
        elif name == "relevance without considering inaccuracy":
            s1, s2 = b1[name], b2[name]
            out.append(1 if s1 > 0 and s2 == 0 else -1 if s1 == 0 and s2 > 0 else 0)
        elif name in b1:
            out.append(_sign(b1[name] - b2[name]))
        elif name.startswith("no "):
            level = name.split()[1]
            count = [sum(e["severity"].strip().lower() == level for e in e["detected errors"])
                     for e in (e1, e2)]  # fmt: skip
            out.append(_sign(count[1] - count[0]))
        elif name == "length":
            out.append(_gair_length(row["response_1"]["num_words"], row["response_2"]["num_words"]))
        else:
            out.append(_gair_specific(name, q1[name], q2[name]))
    return out


# -- (a) loader and annotator ------------------------------------------------------------------
def test_loader_keeps_checked_annotations_and_names_their_annotator(dataset):
    assert dataset.info["annotations"] == "gair_released"
    assert set(dataset.judges) == set(JUDGES) and len(dataset.pairs) == 24
    meta = json.loads(dataset.pairs["meta"].iloc[2])
    assert "basic_response_1" not in meta  # the checked record replaces the raw columns
    record = meta["gair_annotations"]
    assert [e["severity"] for e in record["a"]["errors"]["errors"]] == ["severe", "minor"]
    assert record["b"]["ratings"]["repetitive"] in (0, 1, 2, 3)
    stances = json.loads(dataset.pairs["meta"].iloc[7])["gair_annotations"]["b"]
    assert stances["query_specific"]["supporting explicit subjective stances"] == [
        "neutral",
        "neutral",
    ]
    assert json.loads(dataset.pairs["meta"].iloc[4])["query_groups"] == [
        "intent_unclear",
        "express_feeling",
    ]


def test_annotations_are_gairs_values_without_a_model(dataset, annotations):
    assert set(annotations["annotator"]) == {"gair_released"}
    assert annotations.attrs["annotation"]["requests"] == 0
    v = lambda row, attr, side: _value(annotations, dataset, row, attr, side)  # noqa: E731
    assert v(0, "harmless", "a")["value"] == 3 and v(0, "harmless", "b")["value"] == 1
    assert v(0, "non_repetitive", "a")["value"] == 2  # the repetitive rating
    assert json.loads(v(0, "non_repetitive", "a")["raw"])["rated_as"] == "repetitive"
    assert (v(2, "no_severe_errors", "a")["value"], v(2, "no_minor_errors", "a")["value"]) == (1, 1)
    assert (v(2, "no_minor_errors", "b")["value"], v(2, "no_moderate_errors", "b")["value"]) == (
        2,
        1,
    )
    assert v(3, "no_severe_errors", "a")["value"] == 1
    inapplicable = v(3, "no_severe_errors", "b")
    assert np.isnan(inapplicable["value"]) and inapplicable["na_reason"] == "not_applicable"
    assert v(4, "clarify_intent", "a")["value"] == 3 and v(4, "show_empathetic", "b")["value"] == 2
    assert v(4, "intent_unclear", "query")["value"] == 1
    assert v(5, "satisfy_constraints", "a")["value"] == 2.0
    assert v(6, "satisfy_constraints", "b")["value"] == 1.5
    assert v(7, "support_stances", "a")["value"] == 0.5
    assert v(7, "support_stances", "b")["value"] == 0.0
    assert v(14, "correct_mistakes", "a")["value"] == 1.5
    untriggered = v(0, "clarify_intent", "a")
    assert np.isnan(untriggered["value"]) and untriggered["na_reason"] == "not_triggered"
    assert v(9, "lengthy", "a")["value"] == 5  # GAIR's num_words, not our count of the text
    assert json.loads(v(9, "lengthy", "a")["raw"])["counted"] == "num_words"


def test_features_worked_out_by_hand(dataset, annotations):
    f = _features(annotations, dataset)
    ids = dataset.pairs["pair_id"].tolist()
    expect = {
        (0, "harmless"): 1, (0, "non_repetitive"): -1, (0, "relevant"): 1,
        (1, "relevant"): 0, (1, "non_repetitive"): 1, (1, "friendly"): -1,
        (2, "no_severe_errors"): -1, (2, "no_moderate_errors"): 1, (2, "no_minor_errors"): 1,
        (3, "no_severe_errors"): 0, (3, "no_moderate_errors"): 0, (3, "no_minor_errors"): 0,
        (4, "clarify_intent"): 1, (4, "show_empathetic"): -1,
        (5, "satisfy_constraints"): 0, (6, "satisfy_constraints"): 1,
        (7, "support_stances"): 1, (8, "correct_mistakes"): -1, (14, "correct_mistakes"): 1,
        (0, "clarify_intent"): 0, (0, "support_stances"): 0,
        (9, "lengthy"): -1, (10, "lengthy"): 1, (11, "lengthy"): 0, (12, "lengthy"): -1,
        (13, "lengthy"): 0,
    }  # fmt: skip
    got = {(row, attr): f.loc[ids[row], attr] for row, attr in expect}
    assert got == expect
    assert len(f) == 24  # the not-applicable pair is kept with its error features 0 (default)


def test_features_equal_gairs_rules_on_every_pair_and_attribute(dataset, annotations):
    names = load_attribute_set("gair29").names
    f = _features(annotations, dataset, not_applicable="drop")
    ids = dataset.pairs["pair_id"].tolist()
    reference = {ids[i]: gair_features(row) for i, row in enumerate(fixture_rows())}
    kept = [pid for pid, vec in reference.items() if vec is not None]
    assert sorted(f.index) == sorted(kept) and len(kept) == 23  # GAIR's 999 pair is left out
    for pid in kept:
        assert f.loc[pid, names].astype(int).tolist() == reference[pid], pid


def test_released_set_mirrors_gair29_and_gairs_label_scores():
    gair29 = load_attribute_set("gair29")
    released = load_attribute_set("gair_released")
    assert released.names == gair29.names
    keys = ("kind", "compare", "trigger", "per_item", "severity")
    for mine, theirs in zip(released.attributes, gair29.attributes, strict=True):
        assert [getattr(mine, k) for k in keys] == [getattr(theirs, k) for k in keys], mine.name
        assert released.scale_of(mine) == gair29.scale_of(theirs)
    rated = {a.rated_as for a in released.attributes if a.kind == "rating"}
    assert rated == set(BASIC_FIELDS)
    assert GAIR_LABEL_SCORES["supporting explicit subjective stances"] == STANCE_SCORES
    assert GAIR_LABEL_SCORES["correcting explicit mistakes or biases"] == CORRECTION_SCORES
    assert set(STANCE_SCORES) == set(STANCE_LABELS)
    assert set(CORRECTION_SCORES) == set(CORRECTION_LABELS)


def test_a_table_without_annotation_columns_loads_as_before(fixtures_dir):
    ds = load_source(str(fixtures_dir / "formats" / "gair_hf_sample.parquet"))
    assert "annotations" not in ds.info
    assert "gair_annotations" not in json.loads(ds.pairs["meta"].iloc[0])
    cfg = pdx.RunConfig(source="x")
    assert cfg.annotator_name(ds.info.get("annotations")) == "rules"
    assert cfg.annotator_name("gair_released") == "gair_released"
    with pytest.raises(InputError, match="carries no released GAIR annotations"):
        pdx.annotate(ds, "gair_released")


# -- (b) the main job --------------------------------------------------------------------------
def test_run_refits_every_judge_without_a_model(table_path, tmp_path, cli):
    out = tmp_path / "run"
    env = {"OPENAI_API_KEY": ""}
    res = cli("run", table_path, "--out", out, *RUN_FLAGS, "--json", env=env)
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["annotator"] == "gair_released" and summary["pairs"] == 24
    assert sorted(summary["judges"]) == sorted(JUDGES) and summary["fits"] > 0
    import arviz as az

    idata = az.from_netcdf(out / "fit.nc")
    assert sorted(idata.posterior["judge"].to_numpy().tolist()) == sorted(JUDGES)
    assert len(idata.posterior["attribute"]) == 29
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["annotators"]["gair_released"]["model"] is None
    features = pd.read_parquet(out / "features.parquet")
    assert set(features["judge"]) == set(JUDGES)
    assert "annotate: gair_released" in res.stderr + res.stdout


# -- (c) columns missing or named differently ----------------------------------------------------
def test_missing_and_renamed_annotation_columns_are_one_line(tmp_path, cli):
    path = write_table(
        fixture_rows(),
        tmp_path / "broken.parquet",
        drop=("errors_response_2",),
        rename={"basic_response_2": "basic_response_B"},
    )
    res = cli("run", path, "--out", tmp_path / "run", *RUN_FLAGS)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in res.stderr
    assert "broken.parquet" in lines[0]
    assert "annotation columns basic_response_2, errors_response_2 missing" in lines[0]
    assert "basic_response_B" in lines[0]
    assert not (tmp_path / "run" / "pairs.parquet").exists()


def test_a_missing_struct_field_is_named(tmp_path):
    rows = fixture_rows()
    for row in rows:
        row["basic_response_1"].pop("well formatted")
    table = pa.Table.from_pylist(rows)  # the schema without the field
    pq.write_table(table, tmp_path / "t.parquet")
    with pytest.raises(InputError) as err:
        load_source(str(tmp_path / "t.parquet"), "gair")
    assert err.value.row == 1 and err.value.field == "basic_response_1"
    assert "missing field(s) well formatted" in err.value.message


# -- (d) bad values --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("row", "column", "field", "value", "where", "what"),
    [
        (3, "basic_response_1", "harmlessness", 5, "basic_response_1.harmlessness",
         "rating 5 is not an integer from 0 to 3"),
        (2, "errors_response_2", "detected errors", [_error("catastrophic")],
         "errors_response_2.detected errors[1].severity", "unknown severity 'catastrophic'"),
        (6, "errors_response_1", "applicable to detect errors", "maybe",
         "errors_response_1.applicable to detect errors", "'maybe' is neither"),
        (7, "query-specific_response_1", "supporting explicit subjective stances",
         ["strongly supported", "loves it"],
         "query-specific_response_1.supporting explicit subjective stances[2]",
         "unknown label 'loves it'"),
        (5, "query-specific_response_2", "satisfying explicit constraints", [2, 7],
         "query-specific_response_2.satisfying explicit constraints[2]", "rating 7"),
    ],
)  # fmt: skip
def test_bad_values_name_row_and_field(tmp_path, row, column, field, value, where, what):
    rows = fixture_rows()
    rows[row][column][field] = value
    path = write_table(rows, tmp_path / "bad.parquet")
    with pytest.raises(InputError) as err:
        load_source(path)
    assert (err.value.file, err.value.row, err.value.field) == (path, row + 1, where)
    assert what in err.value.message


def test_a_bad_value_stops_the_run_with_exit_2(tmp_path, cli):
    rows = fixture_rows()
    rows[10]["basic_response_2"]["polite"] = 4
    path = write_table(rows, tmp_path / "bad.parquet")
    res = cli("run", path, "--out", tmp_path / "run", *RUN_FLAGS)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    line = res.stderr.strip()
    assert "bad.parquet: row 11: field 'basic_response_2.polite': rating 4" in line
