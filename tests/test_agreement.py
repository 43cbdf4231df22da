"""Annotator agreement (Krippendorff's alpha): the published worked example, the automatic
level of measurement, intervals, the CLI and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import preference_dissect as pdx

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the worked example with
# missing values: 4 observers, 12 units; alpha = 0.743 (nominal), 0.815 (ordinal), 0.849
# (interval).
EXAMPLE = [
    [1, 2, 3, 3, 2, 1, 4, 1, 2, None, None, None],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, None, 3],
    [None, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, None],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, None],
]


def _table(values: list, attribute: str = "rating", side: str = "a") -> pd.DataFrame:
    return pd.DataFrame({
        "pair_id": [f"p{i}" for i in range(len(values))], "annotator": "x",
        "attribute": attribute, "side": side,
        "value": [np.nan if v is None else float(v) for v in values],
    })  # fmt: skip


@pytest.mark.parametrize(("level", "expected"), [("nominal", 0.743), ("interval", 0.849)])
def test_the_published_worked_example(level, expected):
    tables = {f"observer{i}": _table(row) for i, row in enumerate(EXAMPLE)}
    row = pdx.agreement(tables, level=level, bootstrap=0).iloc[0]
    assert row["alpha"] == pytest.approx(expected, abs=5e-4)
    assert (row["units"], row["coders"], row["level"]) == (11, 4, level)  # unit 12 has one value


def test_levels_intervals_and_flags():
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 4, 200)
    noisy = np.where(rng.random(200) < 0.3, rng.integers(0, 4, 200), truth)
    verdict = rng.choice([-1, 0, 1], 200)
    lengths = rng.normal(100, 20, 200)
    first = pd.concat(
        [
            _table(list(truth)),
            _table(list(verdict), "better", "ab"),
            _table(list(lengths), "words"),
            _table(list(truth), "noise"),
        ]
    )
    second = pd.concat([_table(list(noisy)), _table(list(-verdict), "better", "ab"),
                        _table(list(lengths + 1), "words"),
                        _table(list(rng.integers(0, 4, 200)), "noise")])  # fmt: skip
    table = pdx.agreement({"one": first, "two": second}, bootstrap=200).set_index("attribute")
    assert dict(table["level"]) == {"better": "ordinal", "noise": "ordinal",
                                    "rating": "ordinal", "words": "interval"}  # fmt: skip
    assert table.loc["better", "alpha"] < 0 and table.loc["better", "flagged"]  # reversed
    assert abs(table.loc["noise", "alpha"]) < 0.2 and table.loc["noise", "flagged"]
    assert table.loc["words", "alpha"] > 0.99 and not table.loc["words", "flagged"]
    rating = table.loc["rating"]
    assert 0.4 < rating["alpha_low"] < rating["alpha"] < rating["alpha_high"] < 1


def test_agreement_cli(cli, tmp_path):
    pairs = pdx.load("bundled:hh-rlhf", limit=60)
    once = pdx.annotate(pairs)
    changed = once.copy()
    changed.loc[changed["attribute"] == "words", "value"] *= -1  # disagree on one attribute
    once.to_parquet(tmp_path / "one.parquet")
    changed.to_parquet(tmp_path / "two.parquet")
    res = cli("agreement", f"first={tmp_path / 'one.parquet'}", str(tmp_path / "two.parquet"),
              "--bootstrap", "50", "--json", "--out", str(tmp_path / "alpha.csv"))  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["annotations"] == ["first", "two"]
    rows = {r["attribute"]: r for r in out["attributes"]}
    assert rows["tokens"]["alpha"] == 1.0 and rows["words"]["flagged"]
    # the comparison features: the same for tokens; GAIR's length rule on negated word
    # counts agrees with the real counts' by chance only
    assert rows["tokens"]["feature_alpha"] == 1.0 and rows["tokens"]["feature_units"] == 60
    assert abs(rows["words"]["feature_alpha"]) < 0.1
    assert pd.read_csv(tmp_path / "alpha.csv")["attribute"].tolist() == list(rows)
    one = cli("agreement", str(tmp_path / "one.parquet"))
    assert one.returncode == 2 and "two or more" in one.stderr
    assert len(one.stderr.strip().splitlines()) == 1
    with pytest.raises(pdx.InputError, match="valid: auto, nominal") as err:
        pdx.agreement([once, changed], level="ratio")
    assert err.value.field == "level"


def test_interval_alpha_from_sums_equals_the_reference_implementation():
    import krippendorff

    from preference_dissect.analyse.agreement import interval_alpha

    rng = np.random.default_rng(1)
    matrix = rng.normal(size=(3, 40)) + rng.normal(size=40)
    matrix[rng.random((3, 40)) < 0.2] = np.nan
    reference = krippendorff.alpha(reliability_data=matrix, level_of_measurement="interval")
    assert interval_alpha(matrix) == pytest.approx(reference, abs=1e-12)


def test_json_output_has_null_for_an_attribute_without_variation(cli, tmp_path):
    """JSON has no NaN: an alpha that cannot be measured is null, and the output parses
    strictly."""
    pairs = pdx.load("bundled:hh-rlhf", limit=30)
    table = pdx.annotate(pairs)
    table.to_parquet(tmp_path / "a.parquet")
    res = cli("agreement", str(tmp_path / "a.parquet"), f"b={tmp_path / 'a.parquet'}",
              "--bootstrap", "0", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr

    def refuse(token: str) -> None:
        raise ValueError(token)

    out = json.loads(res.stdout, parse_constant=refuse)
    constant = [r for r in out["attributes"] if r["alpha"] is None]
    assert constant and all(r["alpha_low"] is None for r in constant)
