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
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
import warnings
warnings.filterwarnings("ignore", category=FutureWarning)
import tempfile
from pathlib import Path

import pandas as pd
from IPython.display import Image, display

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

This notebook runs the whole pipeline on a small subset of the bundled Anthropic HH-RLHF
*harmless* test split, offline and in about a minute:

1. **load** the pairs (the human-preferred response is put on side A or B at random, so that
   position carries no signal),
2. **annotate** both responses with the offline `rules` annotator (length, markdown, refusals,
   apologies, ...),
3. turn the annotations into **+1/0/-1 comparison features**,
4. **fit** a Bayesian logistic regression of the human choice on the features,
5. **analyse** the weights as preference scores (100·sigmoid(w), 50 = no effect),
6. write the self-contained **HTML report**.

The same steps are `prefdissect load / annotate / features / fit / analyze / report` on the
command line.
"""),
    SETUP,
    md("""\
## 1. Load 200 pairs
"""),
    code("""\
from preference_dissect.load import load_source

dataset = load_source("bundled:hh-rlhf", limit=200, seed=0)
summary = dataset.summary()
print(summary)
first = dataset.pairs.iloc[0]
print("PROMPT:", first["prompt"][:300])
print("A:", first["response_a"][:300])
print("B:", first["response_b"][:300])
"""),
    md("""\
## 2. Annotate with the offline rules

The annotations table is long: one row per pair, attribute and side.
"""),
    code("""\
from preference_dissect.annotate.runner import annotate_pairs

annotations, info = annotate_pairs(dataset.pairs, "rules")
print(len(annotations), "annotation rows;", annotations["attribute"].nunique(), "attributes")
annotations.head()
"""),
    md("""\
## 3. Comparison features

+1 when response A has more of an attribute than B, -1 when less, 0 when equal.
"""),
    code("""\
from preference_dissect.compare import build_features

features, feature_info = build_features(annotations, dataset)
print(features.shape, "rows x columns; groups:", sorted(features["group"].unique()))
features.head()
"""),
    md("""\
## 4. Fit

One Bayesian logistic regression per (judge, group) with a Laplace(0, 0.1) prior on each weight
(GAIR's setting). The default engine, a Laplace approximation refined by Pareto-smoothed
importance sampling (PyMC NUTS where that is not reliable), takes seconds; the diagnostics
table says which engine each fit used and how well it converged.
"""),
    code("""\
from preference_dissect.fit.features import validate_features
from preference_dissect.fit.cells import fit_table
from preference_dissect.fit.idata import build_idata, diagnostics_frame, save_fit
from preference_dissect.fit.spec import FitSpec

table = validate_features(features)
spec = FitSpec(seed=0)
cells = fit_table(table, spec)
idata = build_idata(table.judges, table.groups, table.attributes, spec.chains, spec.draws,
                    cells, attrs={"spec": spec.to_json(),
                                  "warnings": [n for c in cells.values() for n in c.notes]})
diagnostics_frame(idata)
"""),
    md("""\
## 5. Preference scores
"""),
    code("""\
from preference_dissect.analyse.run import analyse_fit

analysis = analyse_fit(idata, WORK / "run" / "analysis")
scores = pd.read_csv(WORK / "run" / "analysis" / "scores.csv")
ranked = scores.sort_values("score", ascending=False)
cols = ["attribute", "score", "score_low", "score_high"]
print("most preferred:")
print(ranked[cols].head(3).round(1).to_string(index=False))
print("least preferred:")
print(ranked[cols].tail(3).round(1).to_string(index=False))
display(Image(filename=str(WORK / "run" / "analysis" / "scores_all.png")))
"""),
    md("""\
A score interval that includes 50 means these 200 pairs cannot tell the attribute's effect from
no effect; more pairs (or `prefdissect run`) narrow them.
"""),
    md("""\
## 6. The HTML report

The report reads the run directory: pairs, annotations, features, fit, analysis and the run
manifest (input hash, versions, timings; never API keys).
"""),
    code("""\
from preference_dissect.io import write_parquet
from preference_dissect.load.schema import write_dataset
from preference_dissect.manifest import Manifest
from preference_dissect.bundled import bundled_path
from preference_dissect.report import build_report

run = WORK / "run"
manifest = Manifest(run, argv=['notebook', '01_quick_start'])
manifest.set_input([bundled_path("hh-rlhf")], source="bundled:hh-rlhf", limit=200)
manifest.set_seed("sides", 0)
write_dataset(dataset, run / "pairs.parquet")
write_parquet(annotations, run / "annotations.parquet")
write_parquet(features, run / "features.parquet")
save_fit(idata, run / "fit.nc")
manifest.write()
report = build_report(run)
print("report:", report.name, report.stat().st_size // 1024, "KiB")
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
from preference_dissect.analyse.scores import weight_summary
from preference_dissect.bundled import bundled_path
from preference_dissect.fit.external import read_gair_weights

scores = weight_summary(read_gair_weights(bundled_path("gair-weights")))
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
png = [p for p in result["plot"] if p.endswith(".png")][0]
display(Image(filename=png))
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
from preference_dissect.analyse.audit import audit_judges
from preference_dissect.load import load_source

gair = load_source("bundled:gair")
print(len(gair.pairs), "pairs;", len(gair.judges), "judges")
audit = audit_judges(gair, reference="human", bootstrap=200, seed=0)
table = audit.table().set_index("judge")
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
from preference_dissect.analyse.audit_plot import plot_audit

files = plot_audit(audit.table(), WORK / "audit", "human")
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
from preference_dissect.annotate.runner import annotate_pairs
from preference_dissect.load.schema import PairDataset

llmbar = load_source("bundled:llmbar")
ann, _ = annotate_pairs(llmbar.pairs, "rules")
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
audited = PairDataset(llmbar.pairs, labels)
gold_audit = audit_judges(audited, reference="gold", bootstrap=200, seed=0)

def with_decisive(frame):
    # gold_accuracy counts a tie as a miss; among decisive verdicts only:
    frame["decisive_accuracy"] = frame["gold_accuracy"] / (
        frame["gold_accuracy"] + frame["gold_wrong_rate"])
    return frame

overall = with_decisive(gold_audit.table().set_index("judge"))
overall[["n", "gold_accuracy", "gold_wrong_rate", "tie_rate", "decisive_accuracy"]].round(3)
"""),
    code("""\
subsets = with_decisive(gold_audit.gold_subset_table())
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
    """Write the three notebooks."""
    for name, cells in (
        ("01_quick_start.ipynb", QUICK_START),
        ("02_gair_reproduction.ipynb", GAIR_REPRODUCTION),
        ("03_judge_audit.ipynb", JUDGE_AUDIT),
    ):
        print(write(name, cells))


if __name__ == "__main__":
    main()
