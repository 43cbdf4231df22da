"""Annotator reliability beyond two files: ``annotate --repeats`` (run-to-run agreement over
a loopback server), the comparison features' alpha, human ratings as annotations, and the
report's unreliable-attribute marks. Every alpha asserted here is computed by hand in the
comments (Krippendorff 2011's coincidence-matrix formulas)."""

from __future__ import annotations

import json
import textwrap
from collections import Counter

import pandas as pd
import pytest

import preference_dissect as pdx
from preference_dissect.load import load_source
from preference_dissect.load.schema import write_dataset
from preference_dissect.testing.openai_server import OpenAIServer

STEADY = """
name: steady
scale: [1, 5]
attributes:
  - name: clear
    definition: Easy to follow.
    query_shown: false
"""
#: (a, b) ratings of ``clear`` the scripted model gives the four pairs: run 0 at temperature
#: 0, then each later time a pair is asked above temperature 0.
RUNS = [
    [(1, 2), (2, 2), (3, 1), (4, 5)],
    [(1, 3), (2, 2), (3, 2), (5, 4)],
    [(2, 2), (2, 3), (3, 3), (4, 4)],
]


@pytest.fixture(scope="module")
def four(tmp_path_factory):
    folder = tmp_path_factory.mktemp("repeats")
    dataset = load_source("bundled:hh-rlhf", limit=4)
    write_dataset(dataset, folder / "pairs.parquet")
    (folder / "steady.yaml").write_text(textwrap.dedent(STEADY), encoding="utf-8")
    return folder, dataset.pairs


def _scripted(pairs: pd.DataFrame):
    """A responder: the pair is found by its response A in the prompt; run 0 answers at
    temperature 0, and the n-th sampled answer of a pair is ``RUNS[n]``."""
    texts = list(pairs["response_a"])
    assert all(t not in u for t in texts for u in texts if u != t)  # each pair found once
    sampled: Counter[int] = Counter()
    temperatures: list[float] = []

    def respond(req) -> str:
        prompt = "\n".join(str(m.get("content")) for m in req.messages)
        (i,) = [k for k, t in enumerate(texts) if t in prompt]
        temperature = float(req.body.get("temperature") or 0)
        temperatures.append(temperature)
        run = 0
        if temperature > 0:
            sampled[i] += 1
            run = sampled[i]
        a, b = RUNS[run][i]
        return json.dumps({"response_a": {"clear": a}, "response_b": {"clear": b}})

    respond.temperatures = temperatures
    return respond


def test_repeats_are_their_own_cache_entries_and_measure_run_to_run_agreement(cli, four):
    folder, pairs = four
    out, cache = folder / "ann.parquet", folder / "cache"
    respond = _scripted(pairs)
    with OpenAIServer(responder=respond) as server:
        args = ("annotate", folder / "pairs.parquet", "--annotator", folder / "steady.yaml",
                *server.cli_flags(cache, model="m"), "--out", out, "--repeats", "2",
                "--repeat-sample", "4", "--json", "--no-progress")  # fmt: skip
        res = cli(*args)
        assert res.returncode == 0, res.stderr
        first = json.loads(res.stdout)
        assert first["requests"] == 4 and first["repeats"]["requests"] == 4
        assert sorted(respond.temperatures) == [0.0] * 4 + [0.7] * 4
        again = json.loads(cli(*args).stdout)  # a re-run pays for nothing
        assert again["requests"] == 0 and again["repeats"]["requests"] == 0
        assert again["repeats"]["cache_hits"] == 4 and len(server.chat_requests()) == 8
    # Units (pair, side) run 0 / repeat: (1,1) (2,3) (2,2) (2,2) (3,3) (1,2) (4,5) (5,4);
    # n = 16 with counts 1:3 2:6 3:3 4:2 5:2. Ordinal metric d(c,k) = (sum n_g for g in
    # c..k - (n_c + n_k)/2)^2: d(1,2) = d(2,3) = 20.25, d(4,5) = 4; observed 2*20.25 +
    # 2*20.25 + 4*4 = 97; expected sum_{c!=k} n_c n_k d = 10160; alpha = 1 - 15*97/10160.
    assert first["repeat_agreement"] == {"clear": pytest.approx(1 - 15 * 97 / 10160)}
    repeats = pd.read_parquet(folder / "ann.repeats.parquet")
    assert repeats["repeat"].tolist() == [1] * 8
    assert set(repeats.columns) == {*pd.read_parquet(out).columns, "repeat"}
    res = cli("agreement", out, folder / "ann.repeats.parquet", "--level", "interval",
              "--bootstrap", "0", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(res.stdout)["attributes"]
    # interval: within-unit 2 * (0+1+0+0+0+1+1+1) = 8; sum 42, sum of squares 136:
    # expected 2 * (16*136 - 42^2) / 15 = 824/15, alpha = 1 - 8*15/824 = 88/103.
    assert row["alpha"] == pytest.approx(88 / 103) and row["coders"] == 2
    # features sign(a - b): run 0 -1, 0, +1, -1; repeat -1, 0, +1, +1 (4 pairs, n = 8).
    # Interval: within 2 * 2^2 = 8 (the unit (-1, +1)); sum 0, sum of squares 6: expected
    # 2 * 8 * 6 / 7 = 96/7; alpha = 1 - 8*7/96 = 5/12 (their ordinal alpha is 5/12 too).
    assert row["feature_alpha"] == pytest.approx(5 / 12) and row["feature_units"] == 4


def test_three_runs_on_a_sample_and_the_repeats_file_alone(cli, four, tmp_path):
    folder, pairs = four
    out = tmp_path / "ann.parquet"
    with OpenAIServer(responder=_scripted(pairs)) as server:
        res = cli("annotate", folder / "pairs.parquet", "--annotator", folder / "steady.yaml",
                  *server.cli_flags(tmp_path / "cache", model="m"), "--out", out,
                  "--repeats", "3", "--repeat-sample", "2", "--repeat-temperature", "1.1",
                  "--no-progress")  # fmt: skip
        assert res.returncode == 0, res.stderr
        assert len(server.chat_requests()) == 4 + 2 * 2
    assert "repeats: 2 more run(s) of 2 pairs at temperature 1.1" in res.stdout
    repeats = pd.read_parquet(tmp_path / "ann.repeats.parquet")
    from preference_dissect.annotate.runner import repeat_sample

    chosen = repeat_sample(pairs, 2, 0)["pair_id"].tolist()  # the documented seeded sample
    assert sorted(repeats["pair_id"].unique()) == sorted(chosen)
    assert Counter(repeats["repeat"]) == {1: 4, 2: 4}
    res = cli("agreement", tmp_path / "ann.repeats.parquet", "--bootstrap", "0", "--json")
    assert res.returncode == 0, res.stderr  # one file, two repeats: two coders
    (row,) = json.loads(res.stdout)["attributes"]
    assert row["coders"] == 2 and row["units"] == 4


def test_repeat_settings_are_refused_in_one_line(cli, four, tmp_path):
    folder, _ = four
    out = tmp_path / "ann.parquet"
    res = cli("annotate", folder / "pairs.parquet", "--out", out, "--repeats", "2")
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1
    assert "'--repeats'" in res.stderr and "deterministic" in res.stderr and not out.exists()
    bad = [
        (("--repeats", "1"), "--repeats"),
        (("--repeats", "2", "--repeat-temperature", "0"), "--repeat-temperature"),
        (("--repeats", "2", "--repeat-sample", "0"), "--repeat-sample"),
    ]
    for flags, field in bad:
        res = cli("annotate", folder / "pairs.parquet", "--annotator", folder / "steady.yaml",
                  "--model", "m", "--out", out, *flags)  # fmt: skip
        assert res.returncode == 2 and f"'{field}'" in res.stderr, (flags, res.stderr)
        assert len(res.stderr.strip().splitlines()) == 1 and not out.exists()
    pairs = pdx.load("bundled:hh-rlhf", limit=3)
    with pytest.raises(pdx.InputError, match="deterministic") as err:
        pdx.annotate(pairs, repeats=2)
    assert err.value.field == "repeats"


def test_api_repeats_with_the_default_responder(four, tmp_path):
    folder, pairs = four
    with OpenAIServer() as server:
        llm = pdx.LLMConfig(model="m", base_url=server.base_url, cache_dir=tmp_path)
        table, again = pdx.annotate(pairs, folder / "steady.yaml", llm=llm, repeats=3,
                                    repeat_sample=3, progress=False)  # fmt: skip
        assert len(server.chat_requests()) == 4 + 2 * 3  # no repeat is another's cached answer
    summary = table.attrs["annotation"]
    assert summary["repeats"]["pairs"] == 3 and summary["repeats"]["temperature"] == 0.7
    # the default responder seeds its answer by the messages alone: every run says the same
    assert summary["repeat_agreement"] == {"clear": 1.0}
    assert sorted(again["repeat"].unique()) == [1, 2] and len(again) == 2 * 3 * 2
    with pytest.raises(pdx.InputError) as err:
        pdx.annotate(pairs, folder / "steady.yaml", llm=llm, repeats=2, repeat_temperature=0)
    assert err.value.field == "repeat_temperature"


# ------------------------------------------------------------------ comparison features


def _rows(coder: str, spec: dict[str, list]) -> pd.DataFrame:
    """Long rows from ``{attribute: [(pair, side, value), ...]}``."""
    rows = [(p, coder, attr, side, float(v)) for attr, cells in spec.items()
            for p, side, v in cells]  # fmt: skip
    return pd.DataFrame(rows, columns=["pair_id", "annotator", "attribute", "side", "value"])


def _per_response(values: list[tuple[int, int]]) -> list[tuple[str, str, int]]:
    return [cell for i, (a, b) in enumerate(values) for cell in ((f"p{i}", "a", a),
                                                                  (f"p{i}", "b", b))]  # fmt: skip


def test_feature_alpha_uses_the_comparators_rules():
    x = _rows("gair29", {
        "no_minor_errors": _per_response([(0, 2), (1, 1), (3, 0), (0, 1)]),  # fewer wins
        "relevant": _per_response([(3, 0), (2, 1), (0, 2), (1, 1)]),  # irrelevance rule
        "clarify_intent": _per_response([(3, 1), (0, 3)]),  # triggered by intent_unclear
        "intent_unclear": [("p0", "query", 1), ("p1", "query", 0)],
        "concise": [("p0", "ab", 1), ("p0", "ba", 1), ("p1", "ab", 1), ("p1", "ba", -1)],
    })  # fmt: skip
    y = _rows("gair29", {
        "no_minor_errors": _per_response([(1, 3), (2, 2), (2, 0), (1, 0)]),
        "relevant": _per_response([(1, 0), (3, 3), (0, 3), (2, 3)]),
        "clarify_intent": _per_response([(2, 1), (3, 0)]),
        "intent_unclear": [("p0", "query", 1), ("p1", "query", 0)],
        "concise": [("p0", "ab", 1), ("p0", "ba", 1), ("p1", "ab", 0), ("p1", "ba", 0)],
    })  # fmt: skip
    table = pdx.agreement({"x": x, "y": y}, level="nominal", bootstrap=0).set_index("attribute")
    # fewer = sign(b - a): x +1, 0, -1, +1; y +1, 0, -1, -1. Nominal: n = 8, counts 3/2/3,
    # observed disagreement 2 (one unit, both orders), expected 8^2 - 9 - 4 - 9 = 42:
    # alpha = 1 - 7 * 2 / 42 = 2/3.
    assert table.loc["no_minor_errors", "feature_alpha"] == pytest.approx(2 / 3)
    assert table.loc["no_minor_errors", "feature_units"] == 4
    # irrelevance: only a response rated 0 loses: x and y both +1, 0, -1, 0 (sign would not)
    assert table.loc["relevant", "feature_alpha"] == 1.0 and table.loc["relevant", "alpha"] < 1
    # untriggered (intent_unclear 0) is 0 for both coders; p0 +1 for both
    assert table.loc["clarify_intent", "feature_alpha"] == 1.0
    assert table.loc["clarify_intent", "feature_units"] == 2
    # an attribute of no bundled set with ab/ba verdicts: orders combined, a disagreement 0
    assert table.loc["concise", "feature_alpha"] == 1.0 and table.loc["concise", "alpha"] < 1
    assert pd.isna(table.loc["intent_unclear", "feature_alpha"])  # a query check: no feature
    plain = pdx.agreement({"x": x, "y": y}, bootstrap=0, features=False)
    assert plain["feature_alpha"].isna().all() and (plain["feature_units"] == 0).all()


def test_feature_intervals_bracket_the_estimate():
    import numpy as np

    rng = np.random.default_rng(4)
    a, b = rng.integers(0, 4, 150), rng.integers(0, 4, 150)
    flip = rng.random(150) < 0.2
    x = _rows("x", {"clear": _per_response(list(zip(a, b, strict=True)))})
    y = _rows("y", {"clear": _per_response(list(zip(np.where(flip, b, a), b, strict=True)))})
    row = pdx.agreement({"x": x, "y": y}, bootstrap=200).iloc[0]
    assert row["feature_alpha_low"] < row["feature_alpha"] < row["feature_alpha_high"] <= 1
    assert row["feature_units"] == 150


# ------------------------------------------------------------------ human ratings


def _ratings(path, text: str):
    path.write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return path


def test_human_ratings_against_an_annotator(cli, tmp_path):
    ann = _rows("gair29", {"clear": _per_response([(3, 1), (2, 2), (0, 3), (1, 2)])})
    ann.to_parquet(tmp_path / "llm.parquet")
    ratings = _ratings(tmp_path / "ratings.csv", """
        pair_id,clear_a,clear_b,response_a,notes
        p0,3,0,"x, y",fine
        p1,2,2,z,
        p2,1,3,w,
        p3,,2,v,not rated
    """)  # fmt: skip
    res = cli("agreement", f"human={ratings}", f"llm={tmp_path / 'llm.parquet'}",
              "--level", "interval", "--bootstrap", "0", "--json")  # fmt: skip
    assert res.returncode == 0, res.stderr
    (row,) = json.loads(res.stdout)["attributes"]
    # values (human, llm): (3,3) (0,1) (2,2) (2,2) (1,0) (3,3) (-,1) (2,2): 7 pairable units,
    # n = 14, sum 26, sum of squares 62; within 2 * (0+1+0+0+1+0+0) = 4; expected
    # 2 * (14*62 - 26^2) / 13 = 384/13: alpha = 1 - 4*13/384.
    assert row["alpha"] == pytest.approx(1 - 4 * 13 / 384) and row["units"] == 7
    # features: +1, 0, -1 for both (p3 missing for the human): alpha 1
    assert row["feature_alpha"] == 1.0 and row["feature_units"] == 3
    jsonl = tmp_path / "ratings.jsonl"
    jsonl.write_text('{"pair_id": "p0", "clear_a": 3, "clear_b": 1}\n'
                     '{"pair_id": "p1", "clear_a": 2, "clear_b": 2}\n')  # fmt: skip
    table = pdx.agreement({"human": jsonl, "llm": ann}, bootstrap=0)
    assert table.loc[0, "alpha"] == 1.0 and table.loc[0, "coders"] == 2


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("id,clear_a,clear_b\np0,1,2\n", "field 'pair_id'"),
        ("pair_id,clear_a,clear_b\np0,1,2\n,2,3\n", "row 2: field 'pair_id'"),
        ("pair_id,clear_a,clear_b\np0,1,2\np1,good,3\n", "row 2: field 'clear_a'"),
        ("pair_id,clear_a,clear_b\np0,1,2\np0,2,3\n", "row 2: field 'pair_id'"),
        ("pair_id,clear_a,kind_a\np0,1,2\n", "field 'clear_b'"),
    ],
)
def test_bad_ratings_name_file_row_and_field(cli, tmp_path, text, where):
    ratings = tmp_path / "ratings.csv"
    ratings.write_text(text, encoding="utf-8")
    other = _rows("x", {"clear": _per_response([(1, 2)])})
    other.to_parquet(tmp_path / "llm.parquet")
    res = cli("agreement", f"human={ratings}", str(tmp_path / "llm.parquet"))
    assert res.returncode == 2 and len(res.stderr.strip().splitlines()) == 1, res.stderr
    assert str(ratings) in res.stderr and where in res.stderr and "Traceback" not in res.stderr


def test_features_read_human_ratings_with_an_attribute_set(cli, tmp_path):
    dataset = load_source("bundled:hh-rlhf", limit=6)
    write_dataset(dataset, tmp_path / "pairs.parquet")
    ids = dataset.pairs["pair_id"].tolist()
    rated = {"pair_id": ids, "clear_a": [3, 1, 2, 2, 1, 3], "clear_b": [1, 1, 3, 1, 2, 2]}
    pd.DataFrame(rated).to_parquet(tmp_path / "ratings.parquet")
    aset = tmp_path / "human.yaml"
    aset.write_text(STEADY.replace("name: steady", "name: human"), encoding="utf-8")
    out = tmp_path / "features.parquet"
    res = cli("features", tmp_path / "ratings.parquet", "--pairs", tmp_path / "pairs.parquet",
              "--attribute-set", aset, "--out", out)  # fmt: skip
    assert res.returncode == 0, res.stderr
    feats = pd.read_parquet(out).drop_duplicates("pair_id").set_index("pair_id")
    assert feats.loc[ids, "clear"].tolist() == [1, 0, -1, 1, -1, 1]
