"""Judge audit metrics on constructed labels: agreement, kappa, consistency, first slot, gold."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from preference_dissect.analyse.audit import audit_judges
from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset, write_dataset

REF = list("aaaabbbbab")
JUDGE = list("aaabbbabaa")
AB = list("aaaaaaaaab")  # single-order verdicts in original terms
BA = list("abababbbab")


def _dataset(gold: list[str | None] | None = None, scenario=None) -> PairDataset:
    n = len(REF)
    pairs = pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(n)],
            "prompt": "q",
            "response_a": "x",
            "response_b": "y",
            "source": "t",
            "gold": gold if gold is not None else [None] * n,
            "scenario": scenario if scenario is not None else ["S1"] * 5 + ["S2"] * 5,
        }
    )
    human = pd.DataFrame({"pair_id": pairs["pair_id"], "judge": "human", "winner": REF})
    judge = pd.DataFrame(
        {
            "pair_id": pairs["pair_id"],
            "judge": "j",
            "winner": JUDGE,
            "winner_ab": AB,
            "winner_ba": BA,
        }
    )
    tied = judge.assign(judge="t", winner=["tie"] * 2 + JUDGE[2:])
    return PairDataset(pairs, pd.concat([human, judge, tied], ignore_index=True))


def test_agreement_kappa_consistency_first_slot():
    res = audit_judges(_dataset(), bootstrap=0)
    j = res.summary["judges"]["j"]
    assert j["agreement"] == pytest.approx(0.7)
    # p_o 0.7; judge says a 6/10, reference 5/10 -> p_e 0.5 -> kappa 0.4
    assert j["kappa"] == pytest.approx(0.4)
    # share of pairs whose two single-order verdicts pick the same response
    same = sum(a == b for a, b in zip(AB, BA, strict=True))
    assert j["consistency"] == pytest.approx(same / 10)
    first = sum(a == "a" for a in AB) + sum(b == "b" for b in BA)
    assert j["first_slot_rate"] == pytest.approx(first / 20)
    assert j["tie_rate"] == 0 and j["n"] == 10 and j["n_agreement"] == 10
    t = res.summary["judges"]["t"]
    assert t["tie_rate"] == pytest.approx(0.2)
    assert t["n_agreement"] == 8  # ties leave the agreement denominator
    assert set(res.summary["judges"]) == {"j", "t"}  # reference excluded
    assert j["gold_accuracy"] is None


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate():
    a = audit_judges(_dataset(), bootstrap=500, seed=3).summary["judges"]["j"]
    b = audit_judges(_dataset(), bootstrap=500, seed=3).summary["judges"]["j"]
    c = audit_judges(_dataset(), bootstrap=500, seed=4).summary["judges"]["j"]
    assert a == b
    assert a != c  # another seed resamples other pairs
    for metric in ("agreement", "kappa", "consistency", "first_slot_rate"):
        lo, hi = a[f"{metric}_ci"]
        assert lo <= a[metric] <= hi
        assert hi - lo > 0


def test_by_group_and_gold_subsets():
    gold = list("aaaaaaaaaa")
    scen = ["Natural"] * 4 + ["Adversarial/GPTInst"] * 3 + ["Adversarial/Manual"] * 3
    res = audit_judges(
        _dataset(gold=gold, scenario=scen), reference="gold", bootstrap=100, by_group=True
    )
    j = res.summary["judges"]["j"]
    assert j["gold_accuracy"] == pytest.approx(0.6)  # judge says a 6 of 10
    assert j["gold_wrong_rate"] == pytest.approx(0.4)
    subsets = res.summary["gold_subsets"]
    assert list(subsets)[:2] == ["Natural", "Adversarial"]
    assert subsets["Natural"]["j"]["gold_accuracy"] == pytest.approx(0.75)  # a a a b
    assert subsets["Adversarial"]["j"]["gold_accuracy"] == pytest.approx(0.5)  # b b a b a a
    assert subsets["Adversarial/GPTInst"]["j"]["n_gold"] == 3
    # tie labels count in neither accuracy nor wrong rate
    t = res.summary["judges"]["t"]
    assert t["gold_accuracy"] + t["gold_wrong_rate"] == pytest.approx(0.8)
    groups = res.summary["groups"]
    assert set(groups) == {"all", "Natural", "Adversarial/GPTInst", "Adversarial/Manual"}
    assert groups["Natural"]["j"]["n"] == 4
    assert len(res.group_table()) == 12 and len(res.gold_subset_table()) == 12  # 3 judges


def test_audit_errors():
    with pytest.raises(InputError, match="no gold answers"):
        audit_judges(_dataset(), reference="gold")
    with pytest.raises(InputError, match="unknown reference 'crowd'"):
        audit_judges(_dataset(), reference="crowd")
    with pytest.raises(InputError, match="unknown judge 'x'"):
        audit_judges(_dataset(), judges=["x"])


def test_audit_cli_out_folder(cli, tmp_path):
    path = tmp_path / "pairs.parquet"
    write_dataset(_dataset(), path)
    out = tmp_path / "audit"
    res = cli("audit", path, "--bootstrap", "200", "--out", out, "--json")
    assert res.returncode == 0, res.stderr
    summary = json.loads(res.stdout)
    assert summary["judges"]["j"]["agreement"] == pytest.approx(0.7)
    for name in (
        "audit.csv",
        "audit.json",
        "audit_agreement.png",
        "audit_agreement.svg",
        "audit_position.png",
        "audit_position.svg",
    ):
        assert (out / name).stat().st_size > 0, name
    table = pd.read_csv(out / "audit.csv")
    assert set(table["judge"]) == {"j", "t"}
    assert np.isclose(table.set_index("judge").loc["j", "kappa"], 0.4)
    labels = tmp_path / "new.labels.parquet"
    pd.DataFrame(
        {"pair_id": [f"p{i}" for i in range(10)], "judge": "new", "winner": JUDGE}
    ).to_parquet(labels, index=False)
    res = cli("audit", labels, "--pairs", path, "--judges", "new", "--bootstrap", "0", "--json")
    assert res.returncode == 0, res.stderr
    new = json.loads(res.stdout)["judges"]["new"]
    assert new["agreement"] == pytest.approx(0.7) and new["consistency"] is None
    res = cli("audit", labels, "--bootstrap", "0")
    assert res.returncode == 2 and "--pairs" in res.stderr
    res = cli("audit", path, "--bootstrap", "0")
    assert res.returncode == 0 and "agreement" in res.stdout
    res = cli("audit", path, "--reference", "gold", "--out", tmp_path / "nope")
    assert res.returncode == 2 and "no gold answers" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nope").exists()


def _biased_dataset() -> PairDataset:
    """Six pairs: a GPT-4 judge, a human reference, response lengths and models chosen so
    that every bias metric has a value countable by hand."""
    pairs = pd.DataFrame(
        {
            "pair_id": [f"p{i}" for i in range(6)],
            "prompt": "q",
            # longer: a, a, b, b, same, b
            "response_a": ["one two three", "a b", "x", "x", "same len", "y"],
            "response_b": ["one", "c", "x y z", "x y", "two words", "y z"],
            "model_a": ["gpt-4-0613", "gpt-4", "llama-2-70b", "claude-2", "gpt-4", "gpt-4"],
            "model_b": ["llama-2-70b", "claude-2", "gpt-3.5-turbo", "llama-2", "gpt-4", "vicuna"],
            "source": "t",
        }
    )
    labels = pd.DataFrame(
        {
            "pair_id": list(pairs["pair_id"]) * 2,
            "judge": ["gpt-4-judge"] * 6 + ["human"] * 6,
            "winner": list("abbaab") + list("bbaaab"),
            "winner_ab": list("aabba") + [None] + [None] * 6,
            "winner_ba": list("abbaa") + [None] + [None] * 6,
        }
    )
    return PairDataset(pairs, labels)


def test_length_bias_self_preference_and_flip_rate_take_hand_counted_values():
    res = audit_judges(_biased_dataset(), judges=["gpt-4-judge"], bootstrap=200)
    j = res.summary["judges"]["gpt-4-judge"]
    # the longer response: a, a, b, b, (same), b; the judge picks it in p0, p2, p5 (3 of 5),
    # the human only in p5 (1 of 5: a "pick the longer" baseline agrees with it 1/5)
    assert (j["n_length"], j["length_bias"], j["reference_longer_rate"]) == (5, 0.6, 0.2)
    # openai (the judge's family) wrote exactly one response in p0 (a), p1 (a), p2 (b,
    # gpt-3.5), p5 (a); p4 has two, p3 none. The judge picks it in p0 and p2 (2 of 4), the
    # human in none of them
    assert (j["n_self"], j["self_preference"], j["reference_self_rate"]) == (4, 0.5, 0.0)
    # both orders decided in p0-p4; they differ in p1 and p3
    assert (j["n_flip"], j["flip_rate"]) == (5, 0.4)
    low, high = j["length_bias_ci"]
    assert 0 <= low <= 0.6 <= high <= 1
    none = audit_judges(_biased_dataset(), reference="none", bootstrap=0).summary["judges"]
    assert set(none) == {"gpt-4-judge", "human"}
    assert none["gpt-4-judge"]["length_bias"] == 0.6 and "agreement" not in none["gpt-4-judge"]
    assert none["human"]["self_preference"] is None  # a human has no model family


def test_alpaca_eval_gpt4_judge_length_and_self_preference_match_a_direct_count():
    import preference_dissect as pdx

    data = pdx.load("bundled:alpaca-eval")
    j = audit_judges(data, reference="none", bootstrap=0).summary["judges"]["alpaca_eval_gpt4"]
    pairs = data.pairs.set_index("pair_id")
    labels = data.labels.set_index("pair_id")["winner"].reindex(pairs.index)
    words_a = pairs["response_a"].str.split().str.len()
    words_b = pairs["response_b"].str.split().str.len()
    longer = np.where(words_a > words_b, "a", np.where(words_b > words_a, "b", ""))
    decided = labels.isin(["a", "b"]).to_numpy()
    differ = decided & (longer != "")
    assert j["n_length"] == differ.sum()
    assert j["length_bias"] == pytest.approx((labels.to_numpy() == longer)[differ].mean(), abs=1e-6)
    # the judge is GPT-4 (openai); model_a is text-davinci-003 (openai), model_b alpaca-7b
    assert j["self_preference"] == pytest.approx((labels[decided] == "a").mean(), abs=1e-6)
    assert j["self_preference"] > 0.7 and j["length_bias"] > 0.6
