"""Best-of-N against a judge (Sharma et al. 2023, section 4.3): sample N answers per prompt,
keep the one the judge scores highest, and watch what the picks look like as N grows.

Scorers:

``pairwise``
    The judge compares each sample with the pair's reference response (``response_a`` by
    default) in both orders; the score is its probability of preferring the sample (RLAIF's
    soft label).
``rating``
    The judge rates each sample alone from 1 to 10 (``interventions/best_of_n/prompts/
    rating.jinja``, a JSON answer): an LLM as a pointwise reward model, or a reward model
    served behind an OpenAI-compatible endpoint that answers in that format.

The pick at ``N`` is the best-scored of the first ``N`` samples (the earliest on ties), so the
picks at 1, 2, 4, ... are nested and one set of ``N`` samples serves every ``N``. The picks
are annotated (``rules`` by default: length, markdown, apologies, exclamations...); for each
``N`` the table gives each attribute's mean over prompts and its change from ``N = 1``
(paired by prompt), with percentile-bootstrap 95% intervals, and the picks' mean judge score.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from preference_dissect.errors import InputError
from preference_dissect.interventions import _common as common
from preference_dissect.interventions.result import InterventionResult
from preference_dissect.llm import LLMEngine, LLMRequest
from preference_dissect.llm.preflight import preflight_engines

NAME = "best_of_n"
COMMAND = "best-of-n"
SCORERS = ("pairwise", "rating")
#: Attribute name of the picks' judge score in the prevalence table.
SCORE_ROW = "judge_score"


class Rating(BaseModel):
    """The ``rating`` scorer's answer."""

    score: int = Field(ge=1, le=10)


def sample_sizes(n: int) -> list[int]:
    """``1, 2, 4, ...`` up to ``n``, and ``n`` itself.

    Examples
    --------
    >>> sample_sizes(6)
    [1, 2, 4, 6]
    """
    if n < 1:
        raise InputError("must be at least 1", field="n")
    sizes = [2**i for i in range(n.bit_length()) if 2**i <= n]
    return sizes + ([n] if sizes[-1] != n else [])


def _sample_requests(items: pd.DataFrame, n: int) -> list[LLMRequest]:
    """N answer requests per prompt; the sample index is in the version, so each is its own
    cache entry."""
    return [
        common.free_text_request(
            f"{item['item_id']}:s{i}", common.answer_messages(item, None), f"{NAME}/sample={i}"
        )
        for item in items.to_dict("records")
        for i in range(n)
    ]


def _samples(items: pd.DataFrame, n: int, texts: dict[str, str | None]) -> pd.DataFrame:
    rows = [
        {
            "item_id": item["item_id"],
            "sample": i,
            "prompt": item["prompt"],
            "conversation": item["conversation"],
            "baseline": item["reference"],
            "variant": texts.get(f"{item['item_id']}:s{i}"),
        }
        for item in items.to_dict("records")
        for i in range(n)
    ]
    frame = pd.DataFrame(rows)
    frame["row"] = range(len(frame))
    return frame


def rating_engine(judge: common.JudgeSettings) -> LLMEngine:
    """The judge's model and server set up for JSON ratings (same spending ledger)."""
    config = judge.engine.config.replace(
        structured="auto", logprobs=False, top_logprobs=None, max_tokens=64, max_invalid=2
    )
    return LLMEngine(
        config,
        judge.engine.cache_config,
        progress=judge.engine.progress,
        ledger=judge.engine.ledger,
    )


def _rating_requests(samples: pd.DataFrame) -> list[LLMRequest]:
    prompts = common.prompts_of(NAME)
    version = f"{NAME}/rating/{prompts.fingerprint(['rating'])[:12]}"
    requests = []
    for row in samples[samples["variant"].notna()].to_dict("records"):
        content = prompts.render(
            "rating",
            history=common.history(row["conversation"]),
            prompt=row["prompt"],
            response=row["variant"],
        )
        requests.append(
            LLMRequest(
                key=f"{row['item_id']}:r{row['sample']}",
                messages=[{"role": "user", "content": content}],
                schema=Rating,
                version=version,
            )
        )
    return requests


def score_samples(samples: pd.DataFrame, judge: common.JudgeSettings, scorer: str) -> pd.DataFrame:
    """``samples`` with a ``score`` column (NaN when the sample or its score is missing)."""
    if scorer == "pairwise":
        judged = common.judge_versus(samples, judge)
        return judged.assign(score=judged["p_variant"])
    engine = rating_engine(judge)
    results = engine.run(_rating_requests(samples), description="rating")
    scores = {r.key: float(r.parsed.score) if r.parsed is not None else np.nan for r in results}
    keys = samples["item_id"] + ":r" + samples["sample"].astype(str)
    return samples.assign(score=[scores.get(k, np.nan) for k in keys])


def picks(scored: pd.DataFrame, sizes: Sequence[int]) -> pd.DataFrame:
    """The pick of each prompt at each N: the best score among samples ``0..N-1`` (the
    earliest on ties; samples without a score never win)."""
    rows = []
    for item_id, part in scored.sort_values("sample").groupby("item_id", sort=False):
        score = part["score"].to_numpy(dtype=float)
        for size in sizes:
            window = score[:size]
            if not np.isfinite(window).any():
                continue
            best = int(np.nanargmax(window))
            rows.append(
                {
                    "item_id": item_id,
                    "n_samples": size,
                    "sample": best,
                    "score": float(window[best]),
                    "text": part["variant"].iloc[best],
                }
            )
    return pd.DataFrame(rows, columns=["item_id", "n_samples", "sample", "score", "text"])


def prevalence(
    chosen: pd.DataFrame, annotated: pd.DataFrame, comparisons: pd.DataFrame
) -> pd.DataFrame:
    """Per attribute and N: the picks' mean (and interval) and the paired change from N = 1."""
    merged = annotated.merge(comparisons[["row", "n_samples"]], on="row")
    score = comparisons.merge(chosen, on=["item_id", "n_samples"])[["row", "n_samples", "score"]]
    first = score.merge(comparisons[["row", "item_id"]], on="row")
    base = first[first["n_samples"] == 1].set_index("item_id")["score"]
    score = score.assign(
        attribute=SCORE_ROW,
        variant=score["score"],
        change=score["score"] - first["item_id"].map(base).to_numpy(),
    )
    rows = []
    for (attr, size), part in pd.concat([merged, score], ignore_index=True).groupby(
        ["attribute", "n_samples"], sort=False
    ):
        mean, low, high, n = common.bootstrap_mean(part["variant"].to_numpy())
        change, c_low, c_high, _ = common.bootstrap_mean(part["change"].to_numpy())
        rows.append(
            {
                "attribute": attr,
                "n_samples": int(size),
                "mean": mean,
                "low": low,
                "high": high,
                "change": change,
                "change_low": c_low,
                "change_high": c_high,
                "n": n,
            }
        )
    return pd.DataFrame(rows).sort_values(["attribute", "n_samples"], kind="stable")


def best_of_n(
    pairs: Any,
    *,
    n: int,
    model: LLMEngine,
    judge: common.JudgeSettings,
    scorer: str = "pairwise",
    reference: str = "a",
    annotator: str | Path = "rules",
    annotator_engine: LLMEngine | None = None,
    attributes: Sequence[str] | None = None,
    limit: int | None = None,
) -> InterventionResult:
    """Run best-of-N against the judge (see the module docstring).

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
        Where the prompts (each distinct one once) and the reference responses come from.
    n : int
        Samples per prompt (the largest N).
    model : LLMEngine
        The sampled model (its temperature must be above 0 when ``n > 1``).
    judge : JudgeSettings
        The judge (or reward model) that scores the samples.
    scorer : {"pairwise", "rating"}
        How the judge scores a sample.
    reference : {"a", "b"}
        The pairwise scorer's reference response of each pair.
    annotator : str or path
        What the picks are annotated with (``rules`` runs offline).
    annotator_engine : LLMEngine, optional
        The annotator's model (not needed by ``rules``).
    attributes : sequence of str, optional
        Report only these attributes.
    limit : int, optional
        At most this many prompts.

    Returns
    -------
    InterventionResult
        Tables ``samples`` (every sample and its score), ``picks`` (per prompt and N) and
        ``prevalence`` (per attribute and N, plus the picks' ``judge_score``).

    Examples
    --------
    >>> from preference_dissect.interventions.best_of_n import sample_sizes
    >>> sample_sizes(8)
    [1, 2, 4, 8]
    """
    sizes = sample_sizes(n)
    if scorer not in SCORERS:
        raise InputError(f"unknown scorer {scorer!r} (known: {', '.join(SCORERS)})", field="scorer")
    if reference not in ("a", "b"):
        raise InputError("must be a or b", field="reference")
    if n > 1 and model.config.temperature == 0:
        raise InputError("sampling N > 1 answers needs a temperature above 0", field="temperature")
    items = common.item_table(pairs, limit).assign(reference=lambda f: f[f"response_{reference}"])
    requests = _sample_requests(items, n)
    estimate = preflight_engines(
        {"model": (model, requests), "judge": _score_plan(items, n, judge, scorer, model)}
    )
    texts = {
        k: common.answer_text(r) for k, r in common.generate(model, requests, "sampling").items()
    }
    scored = score_samples(_samples(items, n, texts), judge, scorer)
    chosen = picks(scored, sizes)
    comparisons = _pick_comparisons(chosen, items)
    annotated = common.annotate_versus(comparisons, annotator, annotator_engine, attributes)
    table = prevalence(chosen, annotated, comparisons)
    keep = ["item_id", "sample", "variant", "score"] + (
        ["judge_na"] if "judge_na" in scored else []
    )
    tables = {
        "prevalence": table.reset_index(drop=True),
        "picks": chosen,
        "samples": scored[keep].rename(columns={"variant": "text"}),
    }
    summary = {
        "command": COMMAND,
        "n": n,
        "sizes": sizes,
        "scorer": scorer,
        "annotator": str(annotator),
        "prompts": len(items),
        "samples_missing": int(sum(v is None for v in texts.values())),
        "prevalence": common.records(tables["prevalence"]),
        "preflight": estimate,
        "usage": common.usage(model, judge.engine, *filter(None, [annotator_engine])),
    }
    return InterventionResult(COMMAND, tables, summary)


def _score_plan(
    items: pd.DataFrame, n: int, judge: common.JudgeSettings, scorer: str, model: LLMEngine
) -> tuple[LLMEngine, list[LLMRequest]]:
    """The scorer's engine and calls for the pre-flight estimate (samples stood in for)."""
    filler = common.placeholder(model)
    planned = _samples(items, n, {})
    if scorer == "pairwise":
        return judge.engine, common.judge_plan(planned, judge, model)
    planned["variant"] = [f"{filler} {i}" for i in range(len(planned))]
    return rating_engine(judge), _rating_requests(planned)


def _pick_comparisons(chosen: pd.DataFrame, items: pd.DataFrame) -> pd.DataFrame:
    """One row per prompt and N: the pick at N = 1 (baseline) and at N (variant)."""
    first = chosen[chosen["n_samples"] == 1].set_index("item_id")["text"]
    frame = chosen.merge(items[["item_id", "prompt", "conversation"]], on="item_id")
    frame = frame.assign(baseline=frame["item_id"].map(first), variant=frame["text"])
    frame["row"] = range(len(frame))
    return frame[["row", "item_id", "n_samples", "prompt", "conversation", "baseline", "variant"]]
