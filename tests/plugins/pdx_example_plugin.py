"""An example plug-in of every kind, from outside the package (docs/extending.md shows it).

It is found through the ``preference_dissect.plugins`` entry point of a distribution that
tests/test_plugins.py writes into a temporary folder on ``PYTHONPATH``:

* the loader ``tsv-pairs`` (tab-separated ``prompt, response_a, response_b, winner``), with a
  sniffer that claims ``.tsv`` files;
* the prior ``logistic`` (``w ~ Logistic(0, scale)``) and the likelihood ``probit``;
* the annotator kind ``long-words`` (an attribute set with ``mode: long-words``);
* the report section ``long_words`` and the stage ``word_stats`` (after ``features``), which
  writes the artifact ``word_stats.json``.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from preference_dissect.io import write_json
from preference_dissect.plugins import (
    Annotator,
    ArtifactSpec,
    Likelihood,
    LoadRequest,
    PairDataset,
    PriorFamily,
    RowBuffer,
    RunContext,
    Stage,
    Target,
    content_ids,
    register_annotator_kind,
    register_artifact,
    register_likelihood,
    register_loader,
    register_prior,
    register_report_section,
    register_stage,
)

# ---------------------------------------------------------------------------- loader


def _claims_tsv(target: Target) -> int:
    """Score 50 for a ``.tsv`` file (the generic loader scores 1 for any file)."""
    return 50 if target.path is not None and target.path.suffix == ".tsv" else 0


@register_loader("tsv-pairs", description="tab-separated pairs with a winner", sniff=_claims_tsv)
def read_tsv_pairs(request: LoadRequest) -> PairDataset:
    frame = pd.read_csv(request.where, sep="\t", dtype=str, nrows=request.limit)
    pairs = frame[["prompt", "response_a", "response_b"]].assign(source="tsv-pairs")
    pairs.insert(0, "pair_id", content_ids(pairs))
    labels = pd.DataFrame(
        {"pair_id": pairs["pair_id"], "judge": "human", "winner": frame["winner"]}
    )
    return PairDataset(pairs, labels, {"format": "tsv-pairs"})


# ---------------------------------------------------------------------------- prior


@register_prior("logistic")
class LogisticPrior(PriorFamily):
    """``w ~ Logistic(0, scale)``: heavier tails than a normal, smooth at 0."""

    default_scale = 0.2

    def variance(self, scale: float) -> float:
        return np.pi**2 / 3 * scale**2

    def log_density(self, w: np.ndarray, scale: float) -> np.ndarray:
        z = w / scale
        return -(np.logaddexp(0, z) + np.logaddexp(0, -z) + np.log(scale)).sum(axis=-1)

    def smooth(self, w: np.ndarray, scale: float, eps: float | None = None):
        z = w / scale
        value = float((np.logaddexp(0, z) + np.logaddexp(0, -z) + np.log(scale)).sum())
        t = np.tanh(z / 2)
        return value, t / scale, (1 - t**2) / (2 * scale**2)

    def pymc(self, scale: float, p: int, n: int, likelihood: Likelihood) -> Any:
        import pymc as pm

        return pm.Logistic("weight", mu=0.0, s=scale, dims="attribute")

    def draw(self, rng: np.random.Generator, scale: float, size: Any) -> np.ndarray:
        return rng.logistic(0.0, scale, size)


# ---------------------------------------------------------------------------- likelihood


@register_likelihood("probit")
class ProbitLikelihood(Likelihood):
    """``P(A preferred) = Phi(X w)``."""

    def eta_terms(self, eta: np.ndarray, target: np.ndarray):
        log_p, log_q = special.log_ndtr(eta), special.log_ndtr(-eta)
        log_phi = -0.5 * eta**2 - 0.5 * np.log(2 * np.pi)
        r_p, r_q = np.exp(log_phi - log_p), np.exp(log_phi - log_q)
        value = -float(target @ log_p + (1 - target) @ log_q)
        grad = -target * r_p + (1 - target) * r_q
        hess = target * r_p * (eta + r_p) + (1 - target) * r_q * (r_q - eta)
        return value, grad, hess

    def log_density(self, eta: np.ndarray, target: np.ndarray, extra: Any) -> np.ndarray:
        return target @ special.log_ndtr(eta) + (1 - target) @ special.log_ndtr(-eta)

    def pymc_observed(self, eta: Any, y: np.ndarray) -> None:
        import pymc as pm

        pm.Bernoulli("y", p=pm.math.invprobit(eta), observed=y)

    def replicate(self, eta: np.ndarray, sigma: Any, rng: np.random.Generator) -> np.ndarray:
        return (rng.random(eta.shape) < special.ndtr(eta)).astype(float)


# ---------------------------------------------------------------------------- annotator kind


@register_annotator_kind("long-words")
class LongWordsAnnotator(Annotator):
    """Counts words of at least ``N`` letters, one attribute per ``long_words_N`` name."""

    needs_llm = False

    def annotate(self, pairs: pd.DataFrame, engine: Any = None) -> pd.DataFrame:
        rows = RowBuffer()
        ids = pairs["pair_id"].tolist()
        for name in self.attribute_set.names:
            least = int(name.rsplit("_", 1)[1])
            for side in ("a", "b"):
                words = pairs[f"response_{side}"].str.split()
                counts = [sum(len(w) >= least for w in ws) for ws in words]
                rows.add_many(ids, name, side, counts)
        return rows.frame(self.name)


# ---------------------------------------------------------------------------- stage + section

register_artifact(ArtifactSpec("word_stats", "word_stats.json", "word_stats", "words per side"))


@register_stage("word_stats")
class WordStatsStage(Stage):
    """Mean words per response side of the pairs that reached the features table."""

    name = "word_stats"
    order = 45
    outputs = ("word_stats",)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        kept = set(ctx.values["features"]["pair_id"])
        pairs = ctx.values["pairs"].pairs
        pairs = pairs[pairs["pair_id"].isin(kept)]
        stats = {s: float(pairs[f"response_{s}"].str.split().str.len().mean()) for s in "ab"}
        write_json(stats, ctx.artifact("word_stats"))  # atomic: no half-written file
        return {"pairs": len(pairs)}


@register_report_section(
    "long_words",
    order=55,
    nav="Words",
    source='<h2>Words per response</h2><p id="plugin-words">A {{ long_words.a | num }}, '
    "B {{ long_words.b | num }} &lt;{{ long_words.note }}&gt;</p>",
)
def long_words_section(run: Any, built: dict[str, Any]) -> dict[str, Any] | None:
    path = run.run_dir / "word_stats.json"
    if not path.exists():
        return None
    return {**json.loads(path.read_text(encoding="utf-8")), "note": "<plug-in>"}
