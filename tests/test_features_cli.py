"""``prefdissect features`` through the real CLI: output, --json report, bad inputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from test_features import _annotations, _dataset

from preference_dissect.load.schema import PairDataset, write_dataset


@pytest.fixture
def inputs(tmp_path):
    pairs = tmp_path / "pairs.parquet"
    write_dataset(_dataset(), pairs)
    ann = tmp_path / "annotations.parquet"
    _annotations().to_parquet(ann, index=False)
    return tmp_path, pairs, ann


def test_features_cli_writes_table_and_json(cli, inputs):
    tmp, pairs, ann = inputs
    out = tmp / "features.parquet"
    res = cli(
        "features", ann, "--pairs", pairs, "--na", "impute", "--style", "--out", out, "--json"
    )
    assert res.returncode == 0, res.stderr
    report = json.loads(res.stdout)
    table = pd.read_parquet(out)
    assert report["rows"] == len(table) == 11  # human 3+3+2 group rows, gpt 3
    assert report["na"]["policy"] == "zero"  # "impute" is the old name of "zero"
    assert report["na"]["values_imputed"] == sum(report["na"]["by_attribute"].values())
    assert {"style_length", "style_bold"} <= set(table.columns)
    assert set(table["judge"]) == {"human", "gpt"}
    assert not list(tmp.glob(".*.tmp"))


def test_features_cli_labels_file_and_csv(cli, inputs):
    tmp, pairs, ann = inputs
    labels = pd.DataFrame(
        {
            "pair_id": ["p1", "p2", "p4"],
            "judge": "my-judge",
            "winner": ["b", "b", "a"],
            "p_a": [0.2, 0.1, 0.9],
        }
    )
    lab_path = tmp / "judge.parquet"
    labels.to_parquet(lab_path, index=False)
    out = tmp / "features.csv"
    res = cli(
        "features",
        ann,
        "--pairs",
        pairs,
        "--labels",
        lab_path,
        "--judges",
        "my-judge",
        "--na",
        "impute",
        "--out",
        out,
    )
    assert res.returncode == 0, res.stderr
    table = pd.read_csv(out)
    all_rows = table[table["group"] == "all"].set_index("pair_id")["y"].to_dict()
    assert all_rows == {"p1": 0, "p2": 0, "p4": 1}


def _expect_one_line_error(res, *needles):
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1, res.stderr
    assert "Traceback" not in res.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_features_cli_bad_inputs(cli, inputs):
    tmp, pairs, ann = inputs
    good = _annotations()
    out = tmp / "features.parquet"

    missing = tmp / "missing_col.parquet"
    good.drop(columns=["side"]).to_parquet(missing, index=False)
    res = cli("features", missing, "--pairs", pairs, "--out", out)
    _expect_one_line_error(res, "missing_col.parquet", "field 'side'", "missing")

    unknown = tmp / "unknown_attr.parquet"
    bad = good.copy()
    bad.loc[5, "attribute"] = "sparkly"
    bad.to_parquet(unknown, index=False)
    res = cli("features", unknown, "--pairs", pairs, "--out", out)
    _expect_one_line_error(res, "unknown_attr.parquet", "row 6", "field 'attribute'", "sparkly")

    stray = tmp / "stray_pair.parquet"
    bad = good.copy()
    bad.loc[0, "pair_id"] = "zzz"
    bad.to_parquet(stray, index=False)
    res = cli("features", stray, "--pairs", pairs, "--out", out)
    _expect_one_line_error(res, "stray_pair.parquet", "row 1", "field 'pair_id'", "zzz")

    res = cli("features", ann, "--pairs", pairs, "--judges", "ghost", "--out", out)
    _expect_one_line_error(res, "ghost")

    res = cli("features", tmp / "nope.parquet", "--pairs", pairs, "--out", out)
    _expect_one_line_error(res, "nope.parquet", "not found")

    bad_labels = tmp / "bad_labels.parquet"
    pd.DataFrame({"pair_id": ["p1"], "judge": ["j"], "winner": ["maybe"]}).to_parquet(bad_labels)
    res = cli("features", ann, "--pairs", pairs, "--labels", bad_labels, "--out", out)
    _expect_one_line_error(res, "bad_labels.parquet", "row 1", "field 'winner'")

    assert not out.exists()
    assert not list(tmp.glob(".*.tmp"))


def test_features_without_labels_is_an_error(tmp_path, cli):
    ds = _dataset()
    pairs = tmp_path / "pairs.parquet"
    write_dataset(PairDataset(ds.pairs), pairs)
    ann = tmp_path / "ann.parquet"
    _annotations().to_parquet(ann, index=False)
    res = cli("features", ann, "--pairs", pairs, "--out", tmp_path / "f.parquet")
    _expect_one_line_error(res, "no judge labels")
