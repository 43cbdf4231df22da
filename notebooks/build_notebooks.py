"""Write the example notebooks (without outputs) with nbformat.

Edit a cell here, then run ``python notebooks/build_notebooks.py``;
``tests/test_notebooks.py`` executes the written notebooks with nbclient.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent
SETUP_SOURCE = """\
import os
import tempfile
from pathlib import Path

import pandas as pd

pd.set_option("display.width", 140)
pd.set_option("display.max_columns", 20)
# scratch space for the files the notebook writes (set PREFDISSECT_NOTEBOOK_DIR to keep them)
WORK = Path(os.environ.get("PREFDISSECT_NOTEBOOK_DIR") or tempfile.mkdtemp(prefix="prefdissect-"))
WORK.mkdir(parents=True, exist_ok=True)
print("scratch folder:", WORK)
"""


def md(text: str):
    """A markdown cell."""
    return new_markdown_cell(text.strip("\n"))


def code(text: str):
    """A code cell."""
    return new_code_cell(text.strip("\n"))


SETUP = code(SETUP_SOURCE)

QUICK_START = [
    md("""\
# Quick start: why do people prefer one answer over another?

The bundled Anthropic HH-RLHF *harmless* test split (2,312 real pairs, the human-preferred
response put on side A or B at random), dissected offline in seconds:

1. **load** the pairs and **classify** each prompt into GAIR's scenarios (offline keyword
   classifier),
2. **annotate** both responses with the offline `rules` annotator (length, markdown, refusals,
   apologies, ...),
3. **compare** them attribute by attribute (+1 when A has more, -1 when less, 0 when equal),
4. **fit** one Bayesian logistic regression of the human choice per scenario group,
5. read the weights as **preference scores** (100·sigmoid(w), 50 = no effect) with 95% HDIs.
"""),
    SETUP,
    code("""\
import preference_dissect as pdx

pairs = pdx.classify(pdx.load("bundled:hh-rlhf"))
annotations = pdx.annotate(pairs)
features = pdx.compare(annotations, pairs)
idata = pdx.fit(features)
pdx.plot_scores(idata, "all")
"""),
    md("""\
## What the regression says

`pdx.scores` is one row per (judge, group, attribute): the weight's posterior mean and 95% HDI,
the preference score, `n` pairs in the fit and `n_nonzero`, the pairs where the attribute
differs (the ones that inform the weight).
"""),
    code("""\
scores = pdx.scores(idata)
overall = scores[scores["group"] == "all"].sort_values("score", ascending=False)
cols = ["attribute", "score", "score_low", "score_high", "n_nonzero"]
print(len(pairs.pairs), "pairs;", annotations["attribute"].nunique(), "attributes")
print("most preferred:")
print(overall[cols].head(3).round(1).to_string(index=False))
print("least preferred:")
print(overall[cols].tail(3).round(1).to_string(index=False))
"""),
    md("""\
A score interval that includes 50 means the pairs cannot tell the attribute's effect from no
effect. Every pair is accounted for: `features.attrs["report"]["pair_flow"]` says how many
pairs each step kept and why it dropped the others.
"""),
    code("""\
pd.DataFrame(features.attrs["report"]["pair_flow"])
"""),
    md("""\
## By scenario

Groups with fewer pairs than the model's minimum (30) are not fitted; the fit's diagnostics say
so and why.
"""),
    code("""\
by_group = scores.pivot_table(index="label", columns="group", values="score").round(1)
by_group[["all", "Knowledge-aware", "Communication", "Advice", "Unsafe Queries"]]
"""),
    md("""\
## The whole method into a run directory

`pdx.run` (= `prefdissect run`) writes every artifact, a manifest (input hashes, versions,
settings, never API keys) and a self-contained HTML report; a re-run reuses what is done.
"""),
    code("""\
run = pdx.run("bundled:hh-rlhf", WORK / "run")
print("report:", run.report_path.name, run.report_path.stat().st_size // 1024, "KiB")
print("same weights as above:", run.idata.posterior["weight"].equals(idata.posterior["weight"]))
"""),
]

GAIR_REPRODUCTION = [
    md("""\
# Reproducing GAIR's findings from their released weights

Li et al. (2024), *Dissecting Human and LLM Preferences*, fitted one Bayesian logistic
regression per judge (human + 32 LLMs) and scenario group on 29 attributes, and released the
fitted weights. They are bundled here (`data/gair-preference-dissection/fitted_weights`). This
notebook recomputes three of the paper's findings from them:

* judges of similar size have similar preferences,
* humans are much less sensitive to severe errors than GPT-4-Turbo,
* in the *Communication* scenario humans like long, friendly answers and dislike answers that
  admit limits.
"""),
    SETUP,
    code("""\
import preference_dissect as pdx
from preference_dissect.analyse.gair import reproduce_gair

result = reproduce_gair(out_dir=WORK / "gair")
print("scenario groups:", ", ".join(result["scenario_groups"]))
"""),
    md("""\
## Judge similarity by size

Pearson correlation of two judges' 29 weights within a scenario group, averaged over the 11
groups, then over judge pairs within 6-14B, within 34-72B and between.
"""),
    code("""\
sim = result["similarity"]
similarity = pd.DataFrame({
    "published": {"6-14B": 0.828, "34-72B": 0.883, "between": 0.737},
    "recomputed": {"6-14B": sim["small"], "34-72B": sim["large"], "between": sim["between"]},
}).round(3)
print(len(sim["small_judges"]), "small and", len(sim["large_judges"]), "large judges")
similarity
"""),
    md("""\
## Sensitivity to severe errors

Mean over the scenario groups of the preference score of *no severe errors*.
"""),
    code("""\
severe = result["severe_error_score"]
errors = pd.DataFrame({
    "published": {"human": 62.86, "gpt-4-1106-preview": 76.19, "qwen-72b-chat": 65.27},
    "recomputed": severe,
}).round(2)
errors
"""),
    md("""\
## Communication: what humans and GPT-4-Turbo reward
"""),
    code("""\
from preference_dissect.bundled import bundled_path
from preference_dissect.fit.external import read_gair_weights

gair_weights = read_gair_weights(bundled_path("gair-weights"))  # an InferenceData, one draw
scores = pdx.scores(gair_weights)
comm = scores[scores["group"] == "Communication"].pivot_table(
    index="label", columns="judge", values="score")
checks = pd.DataFrame({
    "published": [61.9, 58.8, 38.7, 78.3],
    "recomputed": [comm.at["lengthy", "human"], comm.at["friendly", "human"],
                   comm.at["admit limits", "human"],
                   comm.at["no severe errors", "gpt-4-1106-preview"]],
}, index=["human: lengthy", "human: friendly", "human: admit limits",
          "GPT-4-Turbo: no severe errors"]).round(1)
checks
"""),
    code("""\
pdx.plot_scores(gair_weights, "Communication", judges=["human", "gpt-4-1106-preview"])
"""),
]

JUDGE_AUDIT = [
    md("""\
# Auditing judges

Two audits that need no model calls:

1. **GAIR's open LLM judges vs the human labels.** For 30 open models GAIR recorded the
   log-probability of answering *A* or *B*, with the responses in both orders. A judge's label
   sums the two orders; agreement with the Chatbot Arena human label, Cohen's kappa, position
   consistency (same answer in both orders) and first-slot rate follow.
2. **LLMBar gold.** LLMBar pairs have an objectively better output; its *Adversarial* subsets
   are built so the worse output looks better. We audit two superficial heuristic judges (prefer
   the longer answer, prefer the more formatted answer) against the gold labels, per subset.
"""),
    SETUP,
    md("""\
## 1. GAIR log-prob judges vs humans
"""),
    code("""\
import preference_dissect as pdx

gair = pdx.load("bundled:gair")
print(len(gair.pairs), "pairs;", len(gair.judges), "judges")
audit = pdx.audit(gair, reference="human", bootstrap=200, seed=0)
table = audit.set_index("judge")
cols = ["agreement", "agreement_low", "agreement_high", "kappa", "consistency",
        "first_slot_rate"]
table[cols].sort_values("agreement", ascending=False).round(3).head(10)
"""),
    code("""\
published = pd.Series({"qwen-72b": 0.780, "llama-2-70b": 0.741,
                       "qwen-7b-chat": 0.663, "llama-2-7b-chat": 0.647})
pd.DataFrame({"published": published,
              "recomputed": table.loc[published.index, "agreement"]}).round(3)
"""),
    code("""\
from IPython.display import Image, display
from preference_dissect.analyse.audit_plot import plot_audit

files = plot_audit(audit, WORK / "audit", "human")
for f in files:
    if str(f).endswith(".png"):
        display(Image(filename=str(f)))
"""),
    md("""\
## 2. Heuristic judges vs LLMBar gold

`longer` picks the response with more words, `formatted` the one with more markdown structure
(headers, list items, bold), both measured by the `rules` annotator; ties are left as ties.
"""),
    code("""\
import numpy as np

llmbar = pdx.load("bundled:llmbar")
ann = pdx.annotate(llmbar)
wide = ann.pivot_table(index="pair_id", columns=["attribute", "side"], values="value")

def verdicts(diff):
    return np.where(diff > 0, "a", np.where(diff < 0, "b", "tie"))

structure = sum(wide[(a, s)] * (1 if s == "a" else -1)
                for a in ("headers", "list_items", "bold") for s in ("a", "b"))
length = wide[("words", "a")] - wide[("words", "b")]
labels = pd.concat([
    pd.DataFrame({"pair_id": wide.index, "judge": "longer", "winner": verdicts(length)}),
    pd.DataFrame({"pair_id": wide.index, "judge": "formatted", "winner": verdicts(structure)}),
], ignore_index=True)
audited = pdx.add_labels(llmbar, labels)

def with_decisive(frame):
    # gold_accuracy counts a tie as a miss; among decisive verdicts only:
    frame["decisive_accuracy"] = frame["gold_accuracy"] / (
        frame["gold_accuracy"] + frame["gold_wrong_rate"])
    return frame

overall = with_decisive(pdx.audit(audited, reference="gold", bootstrap=200, seed=0)
                        .set_index("judge"))
overall[["n", "gold_accuracy", "gold_wrong_rate", "tie_rate", "decisive_accuracy"]].round(3)
"""),
    code("""\
subsets = with_decisive(pdx.audit(audited, reference="gold", by="subset", bootstrap=200))
by_subset = subsets.pivot_table(index="subset", columns="judge",
                                values=["decisive_accuracy", "tie_rate"])
by_subset.round(3)
"""),
    md("""\
On the *Adversarial* subsets, built so that the output that looks more substantial is the
wrong one, both heuristics fall well below chance; on *Natural* and MT-Bench they do better. A
judge whose preferences lean on length or formatting inherits this weakness; the regression in
the quick-start notebook measures how much a judge leans on them.
"""),
]


INTERVENTIONS = [
    md("""\
# Interventions: GAIR's manipulation experiment against a judge

The regression says which attributes *go with* a judge's choices; `pdx.manipulate` acts on it
(GAIR, section 5): take the judge's most preferred attributes in a group from a fit (here
GAIR's released weights for GPT-4 in *Advice*), ask a generator to answer each query normally
and again with an instruction to exhibit them, and let the judge compare the two answers in
both orders. The win rate of the manipulated answers (0.5 = no effect) comes with a bootstrap
95% interval.

This notebook runs offline against the toolkit's **loopback OpenAI-compatible server** with
scripted answers, so it shows the protocol and the outputs, not a real model's behaviour: the
scripted judge prefers answers that carry the manipulation marker with probability
sigmoid(0.8) = 0.690 and dislikes answers that avoid the bottom attributes (sigmoid(-0.3) =
0.43), and the numbers below are exactly those. Point `base_url` at a real server (vLLM,
llama.cpp, OpenAI) to run the experiment for real.
"""),
    SETUP,
    code("""\
import math
import re

from preference_dissect.testing.openai_server import OpenAIServer, Reply

SLOT = re.compile(r"<<< Answer ([AB]) >>>\\n(.*?)\\n<<< End of answer \\1 >>>", re.DOTALL)
STRENGTH = {"[shows]": 0.8, "[avoids]": -0.3}


def respond(req):
    if req.body["model"] == "scripted-judge":  # p(slot A) = sigmoid(strength A - strength B)
        slots = dict(SLOT.findall(req.last_user))
        s = [sum(v for k, v in STRENGTH.items() if k in slots[x]) for x in "AB"]
        p = 1 / (1 + math.exp(s[1] - s[0]))
        return Reply("A" if p >= 0.5 else "B", logprobs=[{"A": math.log(p), "B": math.log(1 - p)}])
    system = next((m["content"] for m in req.messages if m["role"] == "system"), "")
    tag = "[shows]" if "clearly shows" in system else "[avoids]" if "shows none" in system else ""
    return f"{tag} An answer to: {req.last_user[:40]}"


server = OpenAIServer(responder=respond).start()
print(server.base_url)
"""),
    code("""\
import preference_dissect as pdx

llm = {"base_url": server.base_url, "cache_dir": WORK / "cache"}
result = pdx.manipulate(
    pdx.load("bundled:hh-rlhf", limit=12),
    "bundled:gair-weights",
    target_judge="gpt-4-1106-preview",
    group="Advice",
    top_k=3,
    model={"model": "scripted-generator", **llm},
    judge={"model": "scripted-judge", **llm},
    progress=False,
)
print("targets:", result.summary["targets"])
result.tables["effects"][["arm", "scenario", "win_rate", "low", "high", "shift", "n"]]
"""),
    code("""\
result.plot()
"""),
    md("""\
`result.save(folder)` writes `effects.parquet`, `answers.parquet` (both answers and the
judge's per-order verdicts), `targets.parquet`, `summary.json` and `manipulate.png`; kept in
`RUN/interventions/manipulate/` of a run directory they get a section in the run's report.
The same experiment from the shell:

```
prefdissect manipulate bundled:alpaca-eval --weights bundled:gair-weights \\
    --target-judge gpt-4-1106-preview --group Advice --top-k 3 \\
    --model gpt-4o-mini --judge-model gpt-4o --out manip/ --max-cost 2
```
"""),
    code("""\
saved = result.save(WORK / "manipulate")
print(sorted(p.name for p in saved.values()))
server.stop()
"""),
]


def write(name: str, cells: list) -> Path:
    """Write one notebook with the venv's ``python3`` kernel and no outputs."""
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    path = HERE / name
    nbformat.write(nb, str(path))
    return path


def main() -> None:
    """Write the four notebooks."""
    for name, cells in (
        ("01_quick_start.ipynb", QUICK_START),
        ("02_gair_reproduction.ipynb", GAIR_REPRODUCTION),
        ("03_judge_audit.ipynb", JUDGE_AUDIT),
        ("04_interventions.ipynb", INTERVENTIONS),
    ):
        print(write(name, cells))


if __name__ == "__main__":
    main()
