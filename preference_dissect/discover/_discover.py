"""``discover``: propose the attributes that explain a judge, and keep those that survive.

1. Split the judge's decided pairs into train and validation (seeded).
2. Show the proposer ``sample`` train pairs (at random, or those the current fit explains
   worst) with the judge's choice, a few per call, and ask for candidate attributes with a
   definition and a +1 / 0 / -1 rubric (``annotators/discover/prompts/propose.jinja``).
3. Merge near-duplicates in one LLM call (``merge.jinja``; when it fails, the distinct
   names, most proposed first) down to ``max_candidates``.
4. Write them as a pairwise attribute set and annotate every split pair with it (both
   orders, the project's ``annotate``), compare, and fit the judge's ``all`` cell on the
   train split (the model specification's Bayesian logistic regression).
5. Keep a candidate when its weight's 95% HDI excludes 0 and dropping it from the model of
   the other such candidates lowers the validation mean log predictive density.

Every LLM call is cached (a second run re-pays nothing); the fits are recomputed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.discover import _propose as propose
from preference_dissect.discover import _select as select
from preference_dissect.errors import InputError
from preference_dissect.interventions.result import InterventionResult
from preference_dissect.llm import LLMEngine

COMMAND = "discover"


def _judge_pairs(pairs: Any, judge: str | None) -> tuple[Any, str, pd.DataFrame]:
    """The dataset, the judge and its decided labels (``winner`` a or b)."""
    labels = pairs.labels_with_gold() if hasattr(pairs, "labels_with_gold") else pairs.labels
    judges = sorted(labels["judge"].unique()) if len(labels) else []
    if judge is None:
        if len(judges) != 1:
            raise InputError(
                f"name the judge (known: {', '.join(judges) or 'none'})", field="judge"
            )
        judge = judges[0]
    if judge not in judges:
        raise InputError(f"unknown judge {judge!r} (known: {', '.join(judges)})", field="judge")
    decided = labels[(labels["judge"] == judge) & labels["winner"].isin(["a", "b"])]
    return pairs, judge, decided.drop_duplicates("pair_id")


def _shown(
    frame: pd.DataFrame,
    decided: pd.DataFrame,
    train: set[str],
    size: int,
    seed: int,
    explained: pd.Series | None,
) -> pd.DataFrame:
    """The train pairs shown to the proposer: the worst explained (``explained`` = the
    current fit's probability of the judge's choice) or a seeded random sample."""
    winners = decided.set_index("pair_id")["winner"]
    pool = frame[frame["pair_id"].isin(train & set(winners.index))].copy()
    pool["preferred"] = pool["pair_id"].map(winners).str.upper()
    pool["p_explained"] = pool["pair_id"].map(explained) if explained is not None else np.nan
    if explained is not None and pool["p_explained"].notna().any():
        pool = pool.sort_values("p_explained", kind="stable", na_position="last")
        return pool.head(size).reset_index(drop=True)
    rng = np.random.default_rng(seed)
    take = np.sort(rng.permutation(len(pool))[:size])
    return pool.iloc[take].reset_index(drop=True)


def explained_by_fit(fit: Any, features: pd.DataFrame, judge: str) -> pd.Series:
    """The current fit's probability of the judge's actual choice, per pair (its ``all``
    cell): low values are the pairs it explains worst."""
    rows = features[(features["judge"] == judge) & (features["group"] == select.GROUP)]
    return np.exp(select.observed_density(fit, rows))


def _placeholder_set(max_candidates: int) -> pd.DataFrame:
    """Stand-in candidates for the annotation part of the pre-flight estimate."""
    words = " ".join(["word"] * 40)
    return pd.DataFrame(
        {
            "name": [f"candidate_{i}" for i in range(max_candidates)],
            "definition": words,
            "plus": words,
            "zero": words,
            "minus": words,
        }
    )


def _annotator_requests(candidates: pd.DataFrame, pairs: pd.DataFrame, folder: Path) -> list:
    from preference_dissect.annotate import get_annotator

    path = folder / "plan.yaml"
    path.write_text(propose.attribute_set_yaml(candidates, "plan", "plan"), encoding="utf-8")
    return get_annotator(path).planned_requests(pairs)


def _preflight(engine: LLMEngine, requests: list, split: pd.DataFrame, cfg: dict, tmp: Path):
    """One gate over the proposer, the merge and the annotation calls (the last two planned
    with stand-ins: definitions of 40 words, ``max_candidates`` of them)."""
    from preference_dissect.llm.preflight import preflight_engines

    merge_plan = propose.merge_request(
        pd.DataFrame(
            {
                "name": [f"c{i}" for i in range(len(requests) * cfg["proposals_per_call"])],
                "definition": " ".join(["word"] * 40),
            }
        ),
        cfg["max_candidates"],
    )
    annotate_plan = _annotator_requests(_placeholder_set(cfg["max_candidates"]), split, tmp)
    return preflight_engines({"model": (engine, [*requests, merge_plan, *annotate_plan])})


def _options(given: dict[str, Any]) -> dict[str, Any]:
    cfg = {**propose.settings(), **{k: v for k, v in given.items() if v is not None}}
    for key in ("sample", "pairs_per_call", "proposals_per_call", "max_candidates"):
        if int(cfg[key]) < 1:
            raise InputError("must be at least 1", field=key)
    return cfg


def _annotate_and_compare(
    ds: Any,
    engine: LLMEngine,
    split: pd.DataFrame,
    candidates: pd.DataFrame,
    judge: str,
    folder: Path,
) -> tuple[pd.DataFrame, str]:
    """Annotate the split pairs with the candidates; their comparison features for the judge
    (group ``all``); and the candidates' attribute-set YAML."""
    from preference_dissect._api.modeling import compare
    from preference_dissect.annotate.runner import annotate_pairs
    from preference_dissect.load.schema import PairDataset

    text = propose.attribute_set_yaml(
        candidates, "candidates", f"candidate attributes proposed for {judge}"
    )
    path = folder / "candidates.yaml"
    path.write_text(text, encoding="utf-8")
    annotations, _ = annotate_pairs(split, path, engine)
    labels = ds.labels[ds.labels["pair_id"].isin(split["pair_id"])]
    features = compare(
        annotations, PairDataset(pairs=split, labels=labels), attribute_set=path, judges=[judge]
    )
    return features[features["group"] == select.GROUP].reset_index(drop=True), text


def _selection(
    features: pd.DataFrame,
    candidates: pd.DataFrame,
    train: set[str],
    judge: str,
    cfg: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Screen on train, drop-one gains on validation, the kept set and its held-out numbers."""
    from preference_dissect.fit.spec import FitSpec

    spec = FitSpec(seed=int(cfg["seed"]))
    names = [n for n in candidates["name"] if n in features.columns]
    tr = features[features["pair_id"].isin(train)]
    va = features[~features["pair_id"].isin(train)]
    table = select.screen(select.fit_columns(tr, names, judge, spec), judge, names)
    passing = table.loc[table["excludes_zero"], "attribute"].tolist()
    gain, full = select.gains(tr, va, passing, judge, spec)
    table = table.merge(gain, on="attribute", how="left")
    table["coverage"] = table["attribute"].map(select.coverage(features, names))
    table["kept"] = table["excludes_zero"] & (table["gain_lpd"] > float(cfg["min_gain"]))
    info = candidates.set_index("name")
    table["definition"] = table["attribute"].map(info["definition"])
    table["merged_from"] = table["attribute"].map(info["merged_from"])
    kept = table.loc[table["kept"], "attribute"].tolist()
    final = select.evaluate(select.fit_columns(tr, kept, judge, spec), va)
    heldout = {
        "train_pairs": int(tr["pair_id"].nunique()),
        "validation_pairs": int(va["pair_id"].nunique()),
        "passing_model": full if passing else None,
        "kept_model": final,
        "baseline": select.evaluate(None, va),
    }
    return table, heldout


def discover(
    pairs: Any,
    *,
    engine: LLMEngine,
    judge: str | None = None,
    max_candidates: int | None = None,
    sample: int | None = None,
    pairs_per_call: int | None = None,
    validation_share: float | None = None,
    seed: int | None = None,
    explained: pd.Series | None = None,
    name: str = "discovered",
    embedding_model: str | None = None,
) -> InterventionResult:
    """Discover the attributes that explain a judge (see the module docstring).

    Parameters
    ----------
    pairs : PairDataset
        Pairs with the judge's labels.
    engine : LLMEngine
        The proposer, merger and annotator model.
    judge : str, optional
        The judge to explain (default: the only judge of the labels).
    max_candidates, sample, pairs_per_call, validation_share, seed : optional
        Override ``annotators/discover/discover.yaml``.
    explained : pandas.Series, optional
        The current fit's probability of the judge's choice per pair id
        (:func:`explained_by_fit`): the proposer sees the worst explained train pairs.
    name : str
        Name of the written attribute set (``NAME.yaml``).
    embedding_model : str, optional
        Merge proposals whose embeddings (the server's ``/v1/embeddings``) have a cosine
        similarity of ``embedding_threshold`` or more before the LLM merge step (skipped,
        and said so in the summary, when the server has no such endpoint).

    Returns
    -------
    InterventionResult
        Tables ``selection`` (per candidate: weight, 95% HDI, coverage, held-out gains,
        ``kept``), ``proposals``, ``shown``; ``texts`` holds ``NAME.yaml`` (the kept
        attributes, an attribute set ``annotate --annotator`` reads) and
        ``candidates.yaml``.

    Examples
    --------
    >>> from preference_dissect.discover._propose import clean_name
    >>> clean_name("Admits Limits!")
    'admits_limits'
    """
    if propose.clean_name(name) != name:
        raise InputError("must be a snake_case name", field="name")
    cfg = _options(
        {"max_candidates": max_candidates, "sample": sample, "pairs_per_call": pairs_per_call,
         "validation_share": validation_share, "seed": seed, "embedding_model": embedding_model}
    )  # fmt: skip
    ds, judge, decided = _judge_pairs(pairs, judge)
    frame = ds.pairs[ds.pairs["pair_id"].isin(decided["pair_id"])].reset_index(drop=True)
    train, _ = select.split_pairs(frame["pair_id"], float(cfg["validation_share"]), cfg["seed"])
    shown = _shown(frame, decided, train, int(cfg["sample"]), int(cfg["seed"]), explained)
    requests = propose.proposal_requests(
        shown, int(cfg["pairs_per_call"]), int(cfg["proposals_per_call"])
    )
    with tempfile.TemporaryDirectory(prefix="prefdissect-discover-") as tmp:
        estimate = _preflight(engine, requests, frame, cfg, Path(tmp))
        results = engine.run(requests, description="proposing")
        proposals = propose.proposals_table(results)
        if proposals.empty:
            raise InputError(
                f"the proposer gave no usable attribute in {len(requests)} call(s) "
                f"({_reasons(results)})",
                field="model",
            )
        candidates, how = _merge(engine, proposals, cfg)
        features, cand_yaml = _annotate_and_compare(ds, engine, frame, candidates, judge, Path(tmp))
    table, heldout = _selection(features, candidates, train, judge, cfg)
    return _result(table, proposals, shown, candidates, cand_yaml, heldout, how, judge, name,
                   estimate, engine, cfg)  # fmt: skip


def _merge(
    engine: LLMEngine, proposals: pd.DataFrame, cfg: dict[str, Any]
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Near-duplicates merged: by embeddings first (``embedding_model``, when the server has
    ``/v1/embeddings``), then by the LLM merge step; how it went."""
    how: dict[str, Any] = {"embedding_model": cfg.get("embedding_model"), "embeddings": None}
    members: dict[str, list[str]] = {}
    if cfg.get("embedding_model"):
        from preference_dissect.llm.embeddings import duplicate_groups, embed

        distinct = proposals.drop_duplicates("name")
        texts = [f"{n}: {d}" for n, d in zip(distinct["name"], distinct["definition"], strict=True)]
        vectors = embed(engine, texts, str(cfg["embedding_model"]))
        how["embeddings"] = "unavailable" if vectors is None else "used"
        if vectors is not None:
            names = distinct["name"].tolist()
            heads = [names[g] for g in duplicate_groups(vectors, float(cfg["embedding_threshold"]))]
            for name, head in zip(names, heads, strict=True):
                members.setdefault(head, []).append(name)
            proposals = proposals.assign(
                name=proposals["name"].map(dict(zip(names, heads, strict=True)))
            )
            how["collapsed"] = len(names) - len(members)
    [merge] = engine.run(
        [propose.merge_request(proposals, int(cfg["max_candidates"]))], description="merging"
    )
    candidates, how["merge"] = propose.merged_candidates(
        proposals, merge.parsed, int(cfg["max_candidates"])
    )
    candidates["merged_from"] = [
        sorted({m for n in sources for m in members.get(n, [n])})
        for sources in candidates["merged_from"]
    ]
    return candidates, how


def _reasons(results: list) -> str:
    reasons = pd.Series([r.na_reason or "no valid name" for r in results]).value_counts()
    return ", ".join(f"{k}: {v}" for k, v in reasons.items())


def _result(
    table, proposals, shown, candidates, cand_yaml, heldout, how, judge, name, estimate, engine,
    cfg,
) -> InterventionResult:  # fmt: skip
    from preference_dissect.interventions._common import records, usage

    kept = candidates[candidates["name"].isin(table.loc[table["kept"], "attribute"])]
    kept_yaml = propose.attribute_set_yaml(
        kept, name, f"attributes discovered for {judge} (kept: HDI excludes 0, held-out gain)"
    )
    columns = ["attribute", "kept", "weight", "hdi_low", "hdi_high", "excludes_zero",
               "coverage", "gain_lpd", "gain_accuracy", "definition", "merged_from"]  # fmt: skip
    selection = table[columns].sort_values(["kept", "weight"], ascending=False, kind="stable")
    selection["merged_from"] = selection["merged_from"].map(lambda v: ",".join(v or []))
    summary = {
        "command": COMMAND,
        "judge": judge,
        "shown": len(shown),
        "proposals": len(proposals),
        "candidates": candidates["name"].tolist(),
        "merge": how["merge"],
        "embeddings": how["embeddings"],
        "kept": kept["name"].tolist(),
        "dropped": [n for n in candidates["name"] if n not in set(kept["name"])],
        "attribute_set": f"{name}.yaml",
        "heldout": heldout,
        "selection": records(selection.drop(columns=["definition", "merged_from"])),
        "settings": {k: cfg[k] for k in sorted(cfg)},
        "preflight": estimate,
        "usage": usage(engine),
    }
    tables = {
        "selection": selection.reset_index(drop=True),
        "proposals": proposals,
        "shown": shown[["pair_id", "preferred", "p_explained"]],
    }
    texts = {f"{name}.yaml": kept_yaml, "candidates.yaml": cand_yaml}
    return InterventionResult(COMMAND, tables, summary, texts)
