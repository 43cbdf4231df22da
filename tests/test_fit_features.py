"""Features-table validation and fitting features written by other tools."""

from __future__ import annotations

import csv
import json

import numpy as np
import pandas as pd
import pytest

from preference_dissect.errors import InputError
from preference_dissect.fit.features import read_features, validate_features
from preference_dissect.fit.simulate import simulate_features

ATTRS = ["friendly", "lengthy", "no_severe_errors"]


@pytest.fixture
def features_frame() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    weights = {(j, "Advice"): rng.laplace(0, 0.5, len(ATTRS)) for j in ("human", "judge-b")}
    return simulate_features(weights, {"Advice": 200}, ATTRS, seed=4)


def test_valid_table_keeps_attribute_order(features_frame):
    table = validate_features(features_frame)
    assert table.attributes == ATTRS
    assert table.judges == ["human", "judge-b"]
    cells = table.cells()
    xmat, y = cells[("human", "Advice")]
    assert xmat.shape == (200, 3) and set(np.unique(xmat)) <= {-1.0, 0.0, 1.0}
    assert set(np.unique(y)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    ("mutate", "field", "row"),
    [
        (lambda f: f.drop(columns=["y"]), "y", None),
        (lambda f: f.assign(y=f["y"].where(f.index != 4, 2)), "y", 5),
        (lambda f: f.assign(lengthy=f["lengthy"].where(f.index != 7, 3)), "lengthy", 8),
        (
            lambda f: f.assign(friendly=f["friendly"].astype(object).where(f.index != 2, "yes")),
            "friendly",
            3,
        ),
        (lambda f: f.assign(friendly=f["friendly"].where(f.index != 9, np.nan)), "friendly", 10),
        (lambda f: f.assign(judge=f["judge"].where(f.index != 0, "")), "judge", 1),
    ],
)
def test_bad_values_name_row_and_column(features_frame, mutate, field, row):
    with pytest.raises(InputError) as info:
        validate_features(mutate(features_frame.copy()), file="f.csv")
    assert info.value.field == field
    assert info.value.row == row
    assert "\n" not in info.value.one_line()


def test_duplicate_rows_are_rejected(features_frame):
    dup = pd.concat([features_frame, features_frame.iloc[[3]]], ignore_index=True)
    with pytest.raises(InputError, match="duplicate"):
        validate_features(dup)


def test_na_policies(features_frame):
    frame = features_frame.copy()
    frame.loc[[1, 5], "lengthy"] = np.nan
    dropped = validate_features(frame, na="drop")
    assert len(dropped.frame) == len(frame) - 2 and dropped.dropped_rows == 2
    zeroed = validate_features(frame, na="zero")
    assert len(zeroed.frame) == len(frame)
    assert zeroed.frame.loc[[1, 5], "lengthy"].tolist() == [0.0, 0.0]


def test_both_models_accept_soft_targets_in_the_unit_interval(features_frame):
    frame = features_frame.assign(y=np.linspace(0, 1, len(features_frame)))
    # logistic takes a fractional y as a fractional Bernoulli outcome, linear as it is
    assert validate_features(frame).frame["y"].between(0, 1).all()
    with pytest.raises(InputError, match=r"y must lie in \[0, 1\], got 1.5"):
        validate_features(frame.assign(y=1.5))


def test_csv_errors_count_the_header_as_row_1(tmp_path, features_frame):
    """Everywhere else a CSV's header is row 1; fit counted records from 1 (off by one)."""
    from preference_dissect.fit.features import read_features

    frame = features_frame.astype({"friendly": object})
    frame.loc[2, "friendly"] = "high"
    path = tmp_path / "features.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InputError) as err:
        read_features(path)
    assert err.value.row == 4 and err.value.field == "friendly"  # header 1, records 2, 3, 4
    frame.astype({"friendly": str}).to_parquet(tmp_path / "features.parquet")
    with pytest.raises(InputError) as err:
        read_features(tmp_path / "features.parquet")
    assert err.value.row == 3


def test_many_attributes_give_no_pandas_warning(tmp_path, cli):
    """200 attribute columns used to print 101 PerformanceWarning lines (column-by-column
    inserts) that buried the real warnings."""
    from preference_dissect.fit.simulate import simulate_features

    attrs = [f"attr_{i:03d}" for i in range(200)]
    rng = np.random.default_rng(0)
    frame = simulate_features({("human", "all"): rng.laplace(0, 0.05, 200)}, {"all": 60}, attrs)
    path = tmp_path / "wide.parquet"
    frame.to_parquet(path)
    res = cli("fit", path, "--out", tmp_path / "fit.nc", "--draws", "50", "--chains", "2")
    assert res.returncode == 0, res.stderr
    assert "Warning" not in res.stderr, res.stderr


def test_csv_from_another_tool_fits(tmp_path, cli, features_frame):
    """A CSV written with the csv module (strings everywhere, columns in another order)."""
    path = tmp_path / "other_tool.csv"
    columns = ["judge", "pair_id", "group", *ATTRS[::-1], "y"]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_ALL)
        writer.writerow(columns)
        for row in features_frame.itertuples(index=False):
            rec = row._asdict()
            writer.writerow([str(rec[c]) for c in columns])
    table = read_features(path)
    assert table.attributes == ATTRS[::-1]
    out = tmp_path / "fit.nc"
    res = cli("fit", path, "--out", out, "--json", "--draws", "200")
    assert res.returncode == 0, res.stderr
    payload = json.loads(res.stdout)
    assert {f["judge"] for f in payload["fits"]} == {"human", "judge-b"}
    assert out.exists()
    fit = payload["fits"][0]
    assert set(fit["attributes"]) == set(ATTRS)
    assert 0.0 <= fit["accuracy"] <= 1.0


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("pair_id,judge,group,friendly\np1,h,G,1\n", "field 'y'"),
        ("pair_id,judge,group,y,friendly\np1,h,G,1,5\n", "row 2: field 'friendly'"),
        (
            "pair_id,judge,group,y,friendly\np1,h,G,1,1\np2,h,G,0,\n",
            "row 3: field 'friendly': missing value",
        ),
        ("pair_id,judge,group,y\np1,h,G,1\n", "no attribute columns"),
        ("", "file is empty"),
    ],
)
def test_bad_features_file_cli(tmp_path, cli, content, needle):
    path = tmp_path / "bad.csv"
    path.write_text(content)
    out = tmp_path / "fit.nc"
    res = cli("fit", path, "--out", out)
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], res.stderr
    assert "Traceback" not in res.stderr
    assert not out.exists()
    assert list(tmp_path.iterdir()) == [path]


def test_unknown_judge_and_bad_prior(tmp_path, cli, features_frame):
    path = tmp_path / "f.parquet"
    features_frame.to_parquet(path)
    res = cli("fit", path, "--out", tmp_path / "fit.nc", "--judges", "nobody")
    assert res.returncode == 2 and "unknown judge 'nobody'" in res.stderr
    res = cli("fit", path, "--out", tmp_path / "fit.nc", "--prior", "cauchy:1")
    assert res.returncode == 2 and "unknown prior" in res.stderr
    assert not (tmp_path / "fit.nc").exists()


def test_continuous_style_covariates_are_accepted(features_frame):
    rng = np.random.default_rng(0)
    frame = features_frame.assign(style_length=rng.normal(size=len(features_frame)))
    table = validate_features(frame)
    assert table.attributes == [*ATTRS, "style_length"]
    bad = frame.assign(style_length=frame["style_length"].where(frame.index != 3, np.inf))
    with pytest.raises(InputError) as info:
        validate_features(bad)
    assert (info.value.row, info.value.field) == (4, "style_length")
    with pytest.raises(InputError, match="must be -1, 0 or 1"):
        validate_features(frame.rename(columns={"style_length": "length_z"}))
