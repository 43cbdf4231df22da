"""``manipulate``, ``counterfactual`` and ``best-of-n`` against the loopback server.

One real HTTP server answers for both models (told apart by the request's ``model``): the
generator's answers carry markers, and the judge's answer-letter log-probs are scripted from
the markers it sees in the two slots, so every win rate, effect and prevalence below is known
exactly.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from preference_dissect.fit.idata import build_idata, save_fit
from preference_dissect.load import load_source
from preference_dissect.load.schema import write_dataset
from preference_dissect.testing.openai_server import ChatRequest, OpenAIServer, Reply

SLOT = re.compile(r"<<< Answer ([AB]) >>>\n(.*?)\n<<< End of answer \1 >>>", re.DOTALL)
GEN, JUDGE = "loop-gen", "loop-judge"


def letter_reply(p_slot_a: float) -> Reply:
    """A judge answer whose first-token log-probs give p(slot A) = ``p_slot_a``."""
    top = {"A": math.log(p_slot_a), "B": math.log(1 - p_slot_a)}
    return Reply(content="A" if p_slot_a >= 0.5 else "B", logprobs=[top])


def judge_by(strength: dict[str, float]):
    """A judge preferring the slot whose text has the stronger marker: p(slot A) =
    sigmoid(s_A - s_B) with s = ``strength[marker]`` (0 for a text without a marker)."""

    def score(text: str) -> float:
        return sum(v for k, v in strength.items() if k in text)

    def answer(req: ChatRequest) -> Reply:
        slots = dict(SLOT.findall(req.last_user))
        d = score(slots["A"]) - score(slots["B"])
        return letter_reply(1 / (1 + math.exp(-d)))

    return answer


def serve(generator, judge) -> OpenAIServer:
    def respond(req: ChatRequest):
        return judge(req) if req.body["model"] == JUDGE else generator(req)

    return OpenAIServer(responder=respond)


def loop_flags(server: OpenAIServer, tmp_path: Path, out: Path) -> tuple:
    """Both models on the loopback server, a cache of the test's own, ``--out``, ``--json``."""
    return (
        "--model", GEN, "--base-url", server.base_url, "--judge-model", JUDGE,
        "--cache-dir", tmp_path / "cache", "--out", out, "--json", "--no-progress",
    )  # fmt: skip


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory) -> Path:
    """Six real hh-rlhf pairs (distinct prompts)."""
    path = tmp_path_factory.mktemp("pairs") / "hh.parquet"
    write_dataset(load_source("bundled:hh-rlhf", limit=6), path)
    return path


@pytest.fixture(scope="module")
def rules_fit(tmp_path_factory) -> Path:
    """A one-judge fit on four ``rules`` attributes with planted weights (top: words,
    exclamations; bottom: apologies, questions_to_user)."""
    names = ["words", "exclamations", "questions_to_user", "apologies"]
    w = np.array([0.9, 0.5, -0.4, -0.8])
    cell = SimpleNamespace(
        weight=w.reshape(1, 1, -1),
        intercept=None,
        sigma=None,
        n=100,
        rhat_max=math.nan,
        ess_bulk_min=math.nan,
        divergences=0,
        pareto_k=math.nan,
        accuracy=math.nan,
        method="external",
        ppc_p_share=math.nan,
        ppc_p_agree=np.full(4, np.nan),
        seconds=math.nan,
    )
    idata = build_idata(["j"], ["all"], names, 1, 1, {("j", "all"): cell}, attrs={"warnings": []})
    return save_fit(idata, tmp_path_factory.mktemp("fit") / "fit.nc")


def manipulated_generator(req: ChatRequest) -> str:
    system = next((m["content"] for m in req.messages if m["role"] == "system"), "")
    if "clearly shows" in system:
        return "EXHIBIT " + "a long and careful answer with many more words " * 3 + "!"
    if "shows none" in system:
        return "AVOID a plain answer."
    return "NORMAL Sorry, a plain answer?"


def run_manipulate(cli, pairs, fit, server, tmp_path, *extra):
    out = tmp_path / "manip"
    res = cli(
        "manipulate",
        pairs,
        "--weights",
        fit,
        "--target-judge",
        "j",
        "--group",
        "all",
        "--top-k",
        "2",
        "--attribute-set",
        "rules",
        *loop_flags(server, tmp_path, out),
        *extra,
    )
    return res, out


def test_manipulate_win_rates_checks_and_resume(cli, pairs_path, rules_fit, tmp_path):
    # EXHIBIT beats NORMAL with p = sigmoid(1.2) in both orders; AVOID loses, sigmoid(-0.4)
    judge = judge_by({"EXHIBIT": 1.2, "AVOID": -0.4})
    with serve(manipulated_generator, judge) as server:
        res, out = run_manipulate(
            cli, pairs_path, rules_fit, server, tmp_path, "--annotator", "rules"
        )
        assert res.returncode == 0, res.stderr
        sent = len(server.chat_requests())
        again, _ = run_manipulate(
            cli, pairs_path, rules_fit, server, tmp_path, "--annotator", "rules"
        )
        assert again.returncode == 0, again.stderr
        assert len(server.chat_requests()) == sent  # resumed from the cache: nothing re-paid
    summary = json.loads(res.stdout)
    # 6 queries x (normal + 2 arms) answers, 6 x 2 arms x 2 orders judge calls
    assert sent == 6 * 3 + 6 * 2 * 2
    assert summary["targets"] == {
        "top": ["words", "exclamations"],
        "bottom": ["apologies", "questions_to_user"],
    }
    rates = {r["arm"]: r for r in summary["win_rate"]}
    assert rates["exhibit_top"]["win_rate"] == pytest.approx(1 / (1 + math.exp(-1.2)))
    assert rates["avoid_bottom"]["win_rate"] == pytest.approx(1 / (1 + math.exp(0.4)))
    assert rates["exhibit_top"]["n"] == 6
    assert rates["exhibit_top"]["low"] == pytest.approx(rates["exhibit_top"]["high"])
    assert json.loads(again.stdout)["win_rate"] == summary["win_rate"]
    checks = pd.read_parquet(out / "checks.parquet").set_index(["arm", "attribute"])
    # EXHIBIT adds 27 words and one "!"; AVOID drops the apology and the question
    assert checks.loc[("exhibit_top", "words"), "change"] == 28 - 5
    assert checks.loc[("exhibit_top", "exclamations"), "change"] == 1
    assert checks.loc[("avoid_bottom", "apologies"), "change"] == -1
    assert checks.loc[("avoid_bottom", "questions_to_user"), "change"] == -1
    assert checks["moved_as_asked"].all()
    answers = pd.read_parquet(out / "answers.parquet")
    assert len(answers) == 12 and answers["judge_na"].isna().all()
    assert {"effects.parquet", "targets.parquet", "summary.json", "manipulate.png"} <= {
        p.name for p in out.iterdir()
    }
    # the report of a run directory shows intervention folders kept in RUN/interventions/
    run_dir = tmp_path / "run"
    (run_dir / "interventions").mkdir(parents=True)
    out.rename(run_dir / "interventions" / "manipulate")
    res = cli("report", run_dir)
    assert res.returncode == 0, res.stderr
    html = (run_dir / "report.html").read_text()
    section = html[html.index("<h2>Interventions and probes</h2>") :]
    assert "interventions/manipulate" in section and "exhibit_top" in section
    assert "data:image/png;base64," in section and "target_judge: <code>j</code>" in section


def test_manipulate_bad_input_one_line(cli, pairs_path, rules_fit, tmp_path):
    with serve(manipulated_generator, judge_by({})) as server:
        res, _ = run_manipulate(cli, pairs_path, rules_fit, server, tmp_path, "--arms", "nope")
        assert res.returncode == 2
        assert "unknown arm(s) nope" in res.stderr and "--arms" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        out = tmp_path / "m2"
        res = cli(
            "manipulate",
            pairs_path,
            "--weights",
            rules_fit,
            "--target-judge",
            "zz",
            "--group",
            "all",
            "--model",
            GEN,
            "--base-url",
            server.base_url,
            "--judge-model",
            JUDGE,
            "--out",
            out,
        )
        assert res.returncode == 2 and "known: j" in res.stderr
        assert server.chat_requests() == []
        assert not out.exists()


RESPONSE = re.compile(r"<<< Response >>>\n(.*?)\n<<< End of response >>>", re.DOTALL)
QUALITY = re.compile(r"^Quality: (.*?): ", re.MULTILINE)
LABELS = {"lengthy (words)": "words", "exclamation marks": "exclamations", "apologies": "apologies"}
MARKERS = re.compile(r" HAS_\w+")


def rewriter(req: ChatRequest) -> str:
    """Adds the marker ``HAS_<attr>`` (``HAS_words_even`` / ``_odd`` by the text's length
    parity for words) or strips it; every rewrite leaves a ``~`` artefact."""
    text = RESPONSE.search(req.last_user).group(1)
    name = LABELS[QUALITY.search(req.last_user).group(1)]
    plain = MARKERS.sub("", text) + "~"
    if "clearly HAS" not in req.last_user:
        return plain
    if name == "words":
        name += "_even" if len(text) % 2 == 0 else "_odd"
    return f"{plain} HAS_{name}"


CF_STRENGTH = {
    "HAS_words_even": 3.0,
    "HAS_words_odd": -1.0,
    "HAS_exclamations": 0.2,
    "HAS_apologies": 0.7,
}


def expected_words_p(pairs: pd.DataFrame) -> float:
    """The mean p(with words) the scripted rewriter and judge imply, both paths."""
    p = []
    for text in [*pairs["response_a"], *pairs["response_b"]]:
        for added_to in (text, MARKERS.sub("", text) + "~"):  # add path, remove path
            s = CF_STRENGTH["HAS_words_even" if len(added_to) % 2 == 0 else "HAS_words_odd"]
            p.append(1 / (1 + math.exp(-s)))
    return float(np.mean(p))


def test_counterfactual_effects_beside_weights(cli, pairs_path, rules_fit, tmp_path):
    out = tmp_path / "cf"
    with serve(rewriter, judge_by(CF_STRENGTH)) as server:
        res = cli(
            "counterfactual",
            pairs_path,
            "--attributes",
            "words,exclamations,apologies",
            "--attribute-set",
            "rules",
            "--weights",
            rules_fit,
            "--target-judge",
            "j",
            *loop_flags(server, tmp_path, out),
        )
        assert res.returncode == 0, res.stderr
        # 6 pairs x 2 sides x 3 attributes x 2 paths x (2 rewrites + 2 judge orders)
        assert len(server.chat_requests()) == 6 * 2 * 3 * 2 * 4
    summary = json.loads(res.stdout)
    effects = {r["attribute"]: r for r in summary["effects"]}
    pairs = load_source(str(pairs_path)).pairs
    assert effects["words"]["effect_p"] == pytest.approx(expected_words_p(pairs))
    assert effects["exclamations"]["effect_logit"] == pytest.approx(0.2)
    assert effects["apologies"]["effect_logit"] == pytest.approx(0.7)
    assert effects["apologies"]["weight"] == pytest.approx(-0.8)
    assert effects["words"]["n"] == 24 and effects["words"]["changed_share"] == 1.0
    # planted: words' interval covers its weight 0.9; exclamations 0.2 < 0.5; apologies' sign
    assert effects["words"]["logit_low"] < 0.9 < effects["words"]["logit_high"]
    assert {d["attribute"]: d["disagreement"] for d in summary["disagreements"]} == {
        "exclamations": "magnitude",
        "apologies": "sign",
    }
    rewrites = pd.read_parquet(out / "rewrites.parquet")
    row = rewrites[(rewrites["attribute"] == "apologies") & (rewrites["direction"] == "remove")]
    first = row.iloc[0]
    assert first["baseline"] == first["original"] + "~"  # removed (nothing to remove)
    assert first["variant"] == first["original"] + "~~ HAS_apologies"  # added back
    assert (out / "counterfactual.png").stat().st_size > 0


def test_cost_cap_over_both_models_stops_before_spending(cli, pairs_path, tmp_path):
    """The pre-flight estimate sums the rewriter's and the judge's calls (both priced)."""
    out = tmp_path / "capped"
    with serve(rewriter, judge_by({})) as server:
        res = cli(
            "counterfactual",
            pairs_path,
            "--attributes",
            "words",
            "--attribute-set",
            "rules",
            "--model",
            "gpt-4o",
            "--base-url",
            server.base_url,
            "--judge-model",
            "gpt-4o-mini",
            "--max-cost",
            "0.01",
            "--no-cache",
            "--out",
            out,
            "--no-progress",
        )
        assert res.returncode == 2, res.stderr
        assert "over 2 model(s), above --max-cost $0.0100" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert server.chat_requests() == [] and not out.exists()


#: The k-th answer to a prompt; strengths make the pairwise judge prefer S3 > S1 > S0 > S2,
#: the ratings S2 > S1 > S0 > S3.
SAMPLES = [
    "S0 plain.",
    "S1 " + "word " * 10,
    "S2 " + "word " * 3,
    "S3 absolutely right! " + "word " * 20,
]
BON_STRENGTH = {"S1 ": 1.0, "S2 ": -1.0, "S3 ": 2.0}
RATINGS = {"S0": 3, "S1": 5, "S2": 9, "S3": 1}


def sampler():
    """Answers each prompt's k-th call with ``SAMPLES[k]`` (calls arrive in sample order
    with --concurrency 1)."""
    seen: dict[str, int] = {}

    def answer(req: ChatRequest) -> str:
        k = seen.get(req.last_user, 0)
        seen[req.last_user] = k + 1
        return SAMPLES[k % len(SAMPLES)].strip()

    return answer


def rater(req: ChatRequest) -> str:
    text = req.last_user.split("<<< Answer >>>\n", 1)[1]
    return json.dumps({"score": RATINGS[text[:2]]})


def run_best_of_n(cli, pairs, server, tmp_path, scorer):
    out = tmp_path / scorer
    res = cli(
        "best-of-n",
        pairs,
        "--n",
        "4",
        "--scorer",
        scorer,
        "--limit",
        "3",
        "--concurrency",
        "1",
        *loop_flags(server, tmp_path, out),
    )
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), out


def by_attribute(summary) -> dict[tuple[str, int], dict]:
    return {(r["attribute"], r["n_samples"]): r for r in summary["prevalence"]}


@pytest.mark.parametrize(
    ("scorer", "picked"),
    [("pairwise", {1: 0, 2: 1, 4: 3}), ("rating", {1: 0, 2: 1, 4: 2})],
)
def test_best_of_n_picks_and_prevalence(cli, pairs_path, tmp_path, scorer, picked):
    judge = judge_by(BON_STRENGTH) if scorer == "pairwise" else rater
    with serve(sampler(), judge) as server:
        summary, out = run_best_of_n(cli, pairs_path, server, tmp_path, scorer)
        # 3 prompts x 4 samples; pairwise: x 2 orders vs the reference, rating: one each
        assert len(server.chat_requests()) == 12 + (24 if scorer == "pairwise" else 12)
    assert summary["sizes"] == [1, 2, 4]
    chosen = pd.read_parquet(out / "picks.parquet")
    assert dict(zip(chosen["n_samples"], chosen["sample"], strict=True)) == picked
    assert len(chosen) == 9
    rows = by_attribute(summary)
    words = {1: 2, 2: 11, 4: 23 if scorer == "pairwise" else 4}
    for size, count in words.items():
        assert rows[("words", size)]["mean"] == count
        assert rows[("words", size)]["change"] == count - 2
    assert rows[("exclamations", 4)]["mean"] == (1 if scorer == "pairwise" else 0)
    if scorer == "pairwise":
        sig = [1 / (1 + math.exp(-s)) for s in (0.0, 1.0, 2.0)]
        assert [rows[("judge_score", k)]["mean"] for k in (1, 2, 4)] == pytest.approx(sig)
    else:
        assert [rows[("judge_score", k)]["mean"] for k in (1, 2, 4)] == [3, 5, 9]
    assert (out / "best-of-n.png").stat().st_size > 0


def test_best_of_n_needs_sampling(cli, pairs_path, tmp_path):
    with serve(sampler(), judge_by({})) as server:
        res = cli(
            "best-of-n",
            pairs_path,
            "--n",
            "4",
            "--temperature",
            "0",
            "--model",
            GEN,
            "--base-url",
            server.base_url,
            "--judge-model",
            JUDGE,
            "--out",
            tmp_path / "o",
        )
        assert res.returncode == 2
        assert "--temperature" in res.stderr and "above 0" in res.stderr
        assert server.chat_requests() == []


def test_api_manipulate_on_gairs_released_weights(tmp_path):
    """pdx.manipulate with GAIR's own weights: the targets are the top and bottom of the
    released vector for GPT-4 in Advice, read here from the file itself."""
    import preference_dissect as pdx
    from preference_dissect.bundled import bundled_path
    from preference_dissect.fit.external import gair_attributes

    path = bundled_path("gair-weights") / "model_Advice_fitted_paras.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    w = np.array(next(r["parameters"] for r in rows if r["model_name"] == "gpt-4-1106-preview"))
    names, _ = gair_attributes()
    order = np.argsort(-w, kind="stable")
    with serve(manipulated_generator, judge_by({"EXHIBIT": 0.5})) as server:
        cfg = {"base_url": server.base_url, "cache_dir": tmp_path / "cache"}
        result = pdx.manipulate(
            pdx.load("bundled:hh-rlhf", limit=2),
            "bundled:gair-weights",
            target_judge="gpt-4-1106-preview",
            group="Advice",
            model={"model": GEN, **cfg},
            judge=pdx.LLMConfig(model=JUDGE, **cfg),
            top_k=2,
            arms=["both"],
            progress=False,
        )
    assert result.summary["targets"] == {
        "top": [names[i] for i in order[:2]],
        "bottom": [names[i] for i in order[::-1][:2]],
    }
    [row] = result.summary["win_rate"]
    assert row["arm"] == "both" and row["win_rate"] == pytest.approx(1 / (1 + math.exp(-0.5)))
    saved = result.save(tmp_path / "out")
    assert json.loads(saved["summary"].read_text())["command"] == "manipulate"
