"""``prefdissect discover`` against the loopback server, on real hh-rlhf pairs with a planted
attribute.

Each pair's responses get a marker: ``ZEBRA`` on one side (the planted attribute: the judge
picks that side in 90% of the pairs) and ``QUOKKA`` on a side drawn independently of the
judge (noise). The scripted proposer proposes a zebra attribute, a near-duplicate of it and a
quokka attribute; the scripted merger merges the duplicates; the scripted annotator says
which response carries the marker an attribute's definition names. The real fit must keep
the zebra attribute and drop the quokka one.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest
import yaml

from preference_dissect.discover import explained_by_fit
from preference_dissect.load import load_source
from preference_dissect.load.schema import PairDataset, make_pair_id, write_dataset
from preference_dissect.testing.openai_server import ChatRequest, OpenAIServer

N_PAIRS = 160
RUBRIC = {"plus": "A mentions it and B does not", "zero": "both or neither do",
          "minus": "B mentions it and A does not"}  # fmt: skip
PROPOSALS = [
    {"name": "Zebra Mention", "definition": "Mentions the animal ZEBRA.", "rubric": RUBRIC},
    {"name": "zebra_reference", "definition": "Refers to a ZEBRA.", "rubric": RUBRIC},
    {"name": "quokka_mention", "definition": "Mentions the animal QUOKKA.", "rubric": RUBRIC},
]
MERGED = [
    {"name": "zebra_mention", "definition": "Mentions the animal ZEBRA.", "rubric": RUBRIC,
     "merged_from": ["zebra_mention", "zebra_reference"]},
    {"name": "quokka_mention", "definition": "Mentions the animal QUOKKA.", "rubric": RUBRIC,
     "merged_from": ["quokka_mention"]},
]  # fmt: skip
RESPONSE = re.compile(r"\[Response ([AB])\]\n(.*?)\n\[End of Response \1\]", re.DOTALL)
FEATURE = re.compile(r'^- "(\w+)": .*?\b(ZEBRA|QUOKKA)\b', re.MULTILINE)


def responder(req: ChatRequest) -> str:
    text = req.last_user
    if "Propose up to" in text:
        return json.dumps({"attributes": PROPOSALS})
    if "Merge attributes" in text:
        return json.dumps({"attributes": MERGED})
    shown = dict(RESPONSE.findall(text))
    answer = {}
    for name, marker in FEATURE.findall(text):
        a, b = marker in shown["A"], marker in shown["B"]
        answer[name] = "A" if a and not b else "B" if b and not a else "similar"
    return json.dumps(answer)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """160 real hh-rlhf pairs with the markers and the planted judge's labels."""
    rng = np.random.default_rng(7)
    pairs = load_source("bundled:hh-rlhf", limit=N_PAIRS).pairs.copy()
    zebra = rng.integers(0, 2, N_PAIRS)  # 0: side a
    quokka = rng.integers(0, 2, N_PAIRS)
    follows = rng.random(N_PAIRS) < 0.9
    winners = []
    for i in range(N_PAIRS):
        for side, marker in ((zebra[i], "ZEBRA"), (quokka[i], "QUOKKA")):
            col = "response_a" if side == 0 else "response_b"
            pairs.loc[i, col] = f"{pairs.loc[i, col]} {marker}"
        z = "a" if zebra[i] == 0 else "b"
        winners.append(z if follows[i] else ("b" if z == "a" else "a"))
    pairs["pair_id"] = [
        make_pair_id(p, a, b, list(c))
        for p, a, b, c in zip(pairs["prompt"], pairs["response_a"], pairs["response_b"],
                              pairs["conversation"], strict=True)
    ]  # fmt: skip
    labels = pd.DataFrame({"pair_id": pairs["pair_id"], "judge": "planted", "winner": winners})
    path = tmp_path_factory.mktemp("planted") / "planted.parquet"
    write_dataset(PairDataset(pairs=pairs, labels=labels), path)
    return path


def run_discover(cli, planted, server, tmp_path, *extra):
    out = tmp_path / "disc"
    res = cli(
        "discover", planted, "--judge", "planted", "--sample", "8", "--model", "proposer",
        "--base-url", server.base_url, "--cache-dir", tmp_path / "cache", "--out", out,
        "--json", "--no-progress", *extra,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout), out


def test_discover_keeps_the_planted_attribute_and_drops_the_noise(cli, planted, tmp_path):
    with OpenAIServer(responder=responder) as server:
        summary, out = run_discover(cli, planted, server, tmp_path)
        sent = len(server.chat_requests())
        again, _ = run_discover(cli, planted, server, tmp_path)
        assert len(server.chat_requests()) == sent  # every call came from the cache
    # 8 shown pairs / 4 per call = 2 proposer calls, 1 merge, 160 pairs x 2 orders annotated
    assert sent == 2 + 1 + N_PAIRS * 2
    assert summary["candidates"] == ["zebra_mention", "quokka_mention"]
    assert summary["merge"] == "llm"
    assert summary["kept"] == ["zebra_mention"] and summary["dropped"] == ["quokka_mention"]
    assert again["kept"] == summary["kept"]
    rows = {r["attribute"]: r for r in summary["selection"]}
    zebra, quokka = rows["zebra_mention"], rows["quokka_mention"]
    assert zebra["hdi_low"] > 0 and zebra["gain_lpd"] > 0 and zebra["coverage"] == 1.0
    assert quokka["hdi_low"] < 0 < quokka["hdi_high"] and quokka["kept"] is False
    held = summary["heldout"]
    assert held["train_pairs"] + held["validation_pairs"] == N_PAIRS
    assert held["validation_pairs"] == 48
    assert held["kept_model"]["accuracy"] > 0.8 > held["baseline"]["accuracy"] == 0.5
    # the kept attribute set is one `annotate --annotator` reads as is
    kept = yaml.safe_load((out / "discovered.yaml").read_text())
    assert [a["name"] for a in kept["attributes"]] == ["zebra_mention"]
    assert kept["mode"] == "pairwise"
    selection = pd.read_parquet(out / "selection.parquet")
    assert selection.loc[0, "merged_from"] == "zebra_mention,zebra_reference"


def test_discovered_set_annotates_as_is(cli, planted, tmp_path):
    with OpenAIServer(responder=responder) as server:
        _, out = run_discover(cli, planted, server, tmp_path)
        ann = tmp_path / "ann.parquet"
        res = cli(
            "annotate", planted, "--annotator", out / "discovered.yaml", "--limit", "5",
            *server.cli_flags(tmp_path / "cache", model="proposer"), "--out", ann,
            "--no-progress",
        )  # fmt: skip
        assert res.returncode == 0, res.stderr
    table = pd.read_parquet(ann)
    assert set(table["attribute"]) == {"zebra_mention"} and table["value"].notna().all()


def test_discover_errors_are_one_line(cli, planted, tmp_path):
    with OpenAIServer(responder=responder) as server:
        res = cli(
            "discover", planted, "--judge", "nobody", "--model", "proposer",
            "--base-url", server.base_url, "--out", tmp_path / "x",
        )  # fmt: skip
        assert res.returncode == 2 and "known: planted" in res.stderr
        assert len(res.stderr.strip().splitlines()) == 1
        assert server.chat_requests() == []


def test_api_shows_the_pairs_the_current_fit_explains_worst(planted, tmp_path):
    """With a fit (here: the offline rules attributes), the proposer sees the train pairs with
    the lowest fitted probability of the judge's choice."""
    import preference_dissect as pdx

    ds = pdx.load(str(planted))
    features = pdx.compare(pdx.annotate(ds), ds, judges=["planted"])
    fit = pdx.fit(features, draws=100, chains=2, progress=False)
    with OpenAIServer(responder=responder) as server:
        result = pdx.discover(
            ds,
            {"model": "proposer", "base_url": server.base_url, "cache_dir": tmp_path / "c"},
            judge="planted", sample=8, fit=fit, features=features, progress=False,
        )  # fmt: skip
    shown = result.tables["shown"]
    explained = explained_by_fit(fit, features, "planted")
    assert shown["p_explained"].is_monotonic_increasing and len(shown) == 8
    assert shown["p_explained"].to_numpy() == pytest.approx(explained[shown["pair_id"]].to_numpy())
    # no train pair outside the shown ones is explained worse than the best-explained shown
    from preference_dissect.discover._select import split_pairs

    train, _ = split_pairs(ds.labels["pair_id"], 0.3, 0)
    others = explained[[p for p in train if p not in set(shown["pair_id"])]]
    assert others.min() >= shown["p_explained"].max()
    assert result.summary["kept"] == ["zebra_mention"]


def marker_vector(text: str) -> list[float]:
    """Embeddings that put every proposal naming the same marker in one place."""
    return [float("ZEBRA" in text), float("QUOKKA" in text), 0.1]


@pytest.mark.parametrize("embedder", [marker_vector, None])
def test_embeddings_merge_duplicates_before_the_llm(cli, planted, tmp_path, embedder):
    with OpenAIServer(responder=responder, embedder=embedder) as server:
        summary, out = run_discover(
            cli, planted, server, tmp_path, "--embedding-model", "loop-embed"
        )
        merge = [r for r in server.chat_requests() if "Merge attributes" in json.dumps(r)]
        again, _ = run_discover(cli, planted, server, tmp_path, "--embedding-model", "loop-embed")
        embeds = [r for r in server.requests if r["path"] == "/v1/embeddings"]
    assert len(merge) == 1
    selection = pd.read_parquet(out / "selection.parquet").set_index("attribute")
    assert selection.loc["zebra_mention", "merged_from"] == "zebra_mention,zebra_reference"
    assert summary["kept"] == ["zebra_mention"]
    if embedder is None:  # the server has no /v1/embeddings: said, and the LLM merges alone
        assert summary["embeddings"] == "unavailable"
        assert "zebra_reference" in json.dumps(merge[0])
    else:  # the duplicate never reached the merge step; the second run re-embedded nothing
        assert summary["embeddings"] == "used" and again["embeddings"] == "used"
        assert "zebra_reference" not in json.dumps(merge[0])
        assert len(embeds) == 1
