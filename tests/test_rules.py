"""The offline ``rules`` annotator on constructed texts and on the real bundled hh-rlhf pairs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from preference_dissect.annotate import ANNOTATION_COLUMNS, get_annotator, load_attribute_set
from preference_dissect.annotate.rules import measure, repetition_share, word_count
from preference_dissect.load import load_source
from preference_dissect.load.schema import PairDataset, write_dataset

FORMATTED = """# Plan

Here is what to do:

1. Buy **flour** and eggs.
2. Mix them.
- Bake for __20 minutes__.

## Notes

| step | time |
|------|------|
| mix  | 5    |

See https://example.com and [the guide](https://example.org/guide) [1].

```python
# not a header
- not a list item
print("**not bold**")
```
Any questions? Is that clear?
"""


@pytest.fixture(scope="module")
def hh() -> PairDataset:
    return load_source("bundled:hh-rlhf")


def test_constructed_markdown_counts_exactly():
    v, _ = measure(FORMATTED)
    assert v["headers"] == 2
    assert v["list_items"] == 3
    assert v["bold"] == 2
    assert v["code_blocks"] == 1
    assert v["tables"] == 1
    assert v["links"] == 3  # bare URL, markdown link, [1]
    assert v["questions_to_user"] == 2


def test_phrases_register_and_ratios():
    v, phrases = measure(
        "I'm sorry, but I can't help with that. As an AI, I don't know your location. "
        "lol that's sooo cool 😀 :)"
    )
    assert v["refusal"] == 1 and v["apologies"] == 1
    assert v["limitations"] == 2  # "As an AI", "I don't know"
    assert v["emoji"] == 2
    assert v["informal"] >= 3  # lol, sooo, cool
    assert phrases["refusal"] == ["I can't help"]
    plain, _ = measure("The mitochondria produces energy for the cell through respiration.")
    assert plain["refusal"] == plain["apologies"] == plain["emoji"] == plain["informal"] == 0
    assert plain["mean_word_length"] > v["mean_word_length"]


def test_words_tokens_and_repetition():
    assert word_count("Hello, world -- it's 2024!") == 4  # "--" has no letter or digit
    v, _ = measure("Hello, world!")
    assert v["words"] == 2 and v["tokens"] == 4  # Hello , world !
    assert repetition_share(["a", "b", "c", "a", "b", "c"]) == pytest.approx(1 / 4)
    assert repetition_share(["a", "b"]) == 0.0
    rep, _ = measure("the cat sat the cat sat the cat sat")
    uniq, _ = measure("the cat sat on a warm mat today")
    assert rep["repetition"] > 0.5 and uniq["repetition"] == 0.0
    assert rep["type_token_ratio"] < uniq["type_token_ratio"]


def test_rules_yaml_matches_code():
    aset = load_attribute_set("rules")
    assert set(aset.names) == set(measure("")[0])
    assert aset.get("words").compare == "length_rule"
    assert aset.get("repetition").compare == "negated_sign"


def test_rules_on_real_hh_rlhf(hh):
    pairs = hh.pairs
    table = get_annotator("rules").annotate(pairs)
    assert list(table.columns) == list(ANNOTATION_COLUMNS)
    n_attrs = len(load_attribute_set("rules").attributes)
    assert len(table) == len(pairs) * n_attrs * 2
    assert table["value"].notna().all() and table["na_reason"].isna().all()
    wide = table.pivot_table(index=["pair_id", "side"], columns="attribute", values="value")
    # words of one real response, recomputed independently
    first = pairs.iloc[0]
    expected = len([w for w in first["response_a"].split() if any(c.isalnum() for c in w)])
    assert wide.loc[(first["pair_id"], "a"), "words"] == expected
    # real refusals exist in the harmless split, and the raw column shows the phrase
    refusals = table[(table["attribute"] == "refusal") & (table["value"] > 0)]
    assert len(refusals) > 20
    some = json.loads(refusals["raw"].iloc[0])["matches"][0]
    pid, side = refusals[["pair_id", "side"]].iloc[0]
    text = pairs.set_index("pair_id").loc[pid, f"response_{side}"].replace("\u2019", "'")
    assert some in text
    # humans preferred the more refusing/apologising response more often than not (harmless split)
    labels = hh.labels.set_index("pair_id")["winner"]
    ref = wide["refusal"].unstack("side")
    diff = ref["a"] - ref["b"]
    winners = labels.loc[diff.index]
    decided = diff[diff != 0]
    refusing_wins = np.mean(
        [
            (d > 0) == (winners[pid] == "a")
            for pid, d in decided.items()
            if winners[pid] in ("a", "b")
        ]
    )
    assert refusing_wins > 0.5


def test_rules_cli_on_bundled_pairs(cli, tmp_path, hh):
    pairs_path = tmp_path / "hh.parquet"
    small = PairDataset(
        hh.pairs.head(50), hh.labels[hh.labels["pair_id"].isin(hh.pairs["pair_id"].head(50))]
    )
    write_dataset(small, pairs_path)
    out = tmp_path / "ann.parquet"
    res = cli("annotate", pairs_path, "--out", out, "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["requests"] == 0 and summary["cost_usd"] == 0 and summary["tokens"] == 0
    assert summary["pairs"] == 50 and "estimate" in res.stderr
    table = pd.read_parquet(out)
    assert set(table["pair_id"]) == set(small.pairs["pair_id"])
    assert set(table["side"]) == {"a", "b"} and set(table["annotator"]) == {"rules"}


def test_annotate_bad_inputs_write_nothing(cli, tmp_path):
    out = tmp_path / "ann.parquet"
    res = cli("annotate", tmp_path / "missing.parquet", "--out", out)
    assert res.returncode == 2 and "file not found" in res.stderr
    assert "Traceback" not in res.stderr and len(res.stderr.strip().splitlines()) == 1
    res = cli("annotate", tmp_path / "missing.parquet", "--annotator", "nope", "--out", out)
    assert res.returncode == 2 and "unknown annotator 'nope'" in res.stderr
    res = cli("annotate", tmp_path / "x.parquet", "--annotator", "gair29", "--out", out)
    assert res.returncode == 2 and "--model" in res.stderr
    res = cli("annotate", tmp_path / "x.parquet", "--limit", "0", "--out", out)
    assert res.returncode == 2 and "--limit" in res.stderr
    assert not out.exists()
