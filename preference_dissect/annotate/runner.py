"""Run an annotator over a dataset: the library entry point behind ``prefdissect annotate``.

Use::

    from preference_dissect.annotate.runner import annotate_pairs
    table, summary = annotate_pairs(pairs, "rules")                       # offline
    table, summary = annotate_pairs(pairs, "gair29", engine=LLMEngine(...))
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pandas as pd

from preference_dissect.annotate.base import Annotator
from preference_dissect.annotate.kinds import get_annotator
from preference_dissect.errors import InputError, NoUsableOutputError

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import CostEstimate, LLMEngine
    from preference_dissect.load.schema import PairDataset

#: NA reasons of rows the model did answer (the attribute does not apply to the pair).
ANSWERED_NA = frozenset({"not_applicable", "not_triggered"})
ZERO_STATS = {
    "requests": 0,
    "cache_hits": 0,
    "failures": {},
    "failure_details": {},
    "tokens": 0,
    "cost_usd": 0.0,
}


def read_pairs(source: str | os.PathLike[str], limit: int | None = None) -> PairDataset:
    """Read a pair dataset: a ``.parquet`` from ``prefdissect load``, else any loader source.

    ``limit`` keeps the first N pairs (passed to the loader, so big sources stop early).
    """
    from preference_dissect.load import load_source
    from preference_dissect.load.schema import read_dataset

    text = str(source)
    ds = read_dataset(text) if text.endswith(".parquet") else load_source(text, limit=limit)
    return ds if limit is None or len(ds.pairs) <= limit else ds.head(limit)


def engine_stats(engine: LLMEngine | None) -> dict[str, Any]:
    """The ``--json`` usage block: requests sent, cache hits, failures (with the first server
    message per reason, e.g. of a ``context_overflow``), tokens, dollars."""
    if engine is None:
        return dict(ZERO_STATS, failures={}, failure_details={})
    s = getattr(engine, "total_stats", None) or engine.stats  # every run, not just the last
    return {
        "requests": s.requests,
        "cache_hits": s.cache_hits,
        "failures": dict(s.failures),
        "failure_details": dict(s.details),
        "tokens": s.prompt_tokens + s.completion_tokens,
        "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens,
        "cost_usd": round(s.cost_usd, 6),
    }


def resolve_annotator(annotator: str | os.PathLike[str] | Annotator) -> Annotator:
    """An :class:`Annotator` from a name, a YAML path or an instance."""
    return annotator if isinstance(annotator, Annotator) else get_annotator(annotator)


def require_usable(table: pd.DataFrame, ann: Annotator) -> None:
    """Raise :class:`~preference_dissect.errors.NoUsableOutputError` when an LLM annotator got no
    answer at all: every model-measured value is NA for a failure (offline ``rule``
    attributes such as gair29's ``lengthy`` do not count)."""
    if not ann.needs_llm or table.empty:
        return
    llm_attrs = {a.name for a in ann.attribute_set.attributes if a.kind != "rule"}
    rows = table[table["attribute"].isin(llm_attrs)]
    answered = rows["value"].notna() | rows["na_reason"].isin(ANSWERED_NA)
    if len(rows) and not answered.any():
        reasons = rows["na_reason"].fillna("parse_failed").value_counts()
        raise NoUsableOutputError(
            f"{ann.name}: all {len(rows)} model-measured values are NA",
            {str(k): int(v) for k, v in reasons.items()},
            output=table,
        )


def annotate_pairs(
    pairs: pd.DataFrame,
    annotator: str | os.PathLike[str] | Annotator,
    engine: LLMEngine | None = None,
    announce: Callable[[CostEstimate], None] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Annotate a canonical pair table.

    Parameters
    ----------
    pairs : pandas.DataFrame
        The pair table (``PairDataset.pairs``).
    annotator : str, PathLike or Annotator
        ``rules``, ``gair29``, ``sharma24``, an attribute-set YAML path, or an instance.
    engine : LLMEngine, optional
        Needed by every annotator except ``rules``.
    announce : callable, optional
        Receives the pre-flight estimate (:meth:`LLMEngine.preflight` of the annotator's
        ``planned_requests``) before anything is sent.

    Returns
    -------
    (table, summary)
        The annotations table (with ``attrs`` naming the annotator and its version) and a
        summary: rows, NA counts by reason, engine usage, seconds.

    Raises
    ------
    CostCapError
        The estimate is above ``max_cost_usd`` (without ``allow_partial``); nothing was sent.
    NoUsableOutputError
        Every model-measured value is NA (see :func:`require_usable`).
    """
    ann = resolve_annotator(annotator)
    if ann.needs_llm and engine is None:
        raise InputError(
            f"annotator {ann.name!r} asks an LLM: give the model (and its server) to ask",
            field="model",
        )
    start = time.perf_counter()
    if ann.needs_llm and engine is not None:
        estimate = engine.preflight(ann.planned_requests(pairs))
        if announce is not None:
            announce(estimate)
    table = ann.annotate(pairs, engine if ann.needs_llm else None)
    require_usable(table, ann)
    table.attrs["annotator"] = {
        "name": ann.name,
        "version": ann.version,
        "prompt_hashes": ann.prompt_hashes(),
        "file": str(ann.attribute_set.file) if ann.attribute_set.file else None,
    }
    na = table.loc[table["value"].isna(), "na_reason"].value_counts()
    summary = {
        "annotator": ann.name,
        "version": ann.version,
        "pairs": len(pairs),
        "rows": len(table),
        "na": {str(k): int(v) for k, v in na.items()},
        **engine_stats(engine if ann.needs_llm else None),
        "seconds": round(time.perf_counter() - start, 3),
    }
    return table, summary


#: ``annotate --repeats`` defaults: pairs re-asked, their temperature, the sample's seed.
REPEAT_SAMPLE = 50
REPEAT_TEMPERATURE = 0.7
REPEAT_SEED = 0


def repeat_sample(pairs: pd.DataFrame, n: int, seed: int = REPEAT_SEED) -> pd.DataFrame:
    """The pairs a repeated annotation re-asks: all of them when there are at most ``n``,
    else ``n`` drawn without replacement with ``seed`` (in their original order).

    Examples
    --------
    >>> import pandas as pd
    >>> pairs = pd.DataFrame({"pair_id": [f"p{i}" for i in range(10)]})
    >>> repeat_sample(pairs, 3)["pair_id"].tolist()
    ['p2', 'p4', 'p8']
    """
    if len(pairs) <= n:
        return pairs
    return pairs.sample(n=n, random_state=seed).sort_index()


def check_repeats(ann: Annotator, repeats: int, sample: int, temperature: float) -> None:
    """Refuse repeat settings that cannot measure run-to-run agreement, naming the parameter.

    Raises
    ------
    InputError
        ``repeats`` below 2, ``sample`` below 1, ``temperature`` not above 0 (a greedy
        repeat is the same answer), or an annotator that asks no model (``rules`` is
        deterministic).
    """
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 2:
        raise InputError(f"must be a whole number of runs, 2 or more, got {repeats!r}",
                         field="repeats")  # fmt: skip
    if not ann.needs_llm:
        raise InputError(
            f"annotator {ann.name!r} is deterministic (no model is asked): repeats would "
            "repeat the same values; use an LLM annotator",
            field="repeats",
        )
    if isinstance(sample, bool) or not isinstance(sample, int) or sample < 1:
        raise InputError(f"must be 1 or more pairs, got {sample!r}", field="repeat_sample")
    if not temperature > 0:
        raise InputError(
            f"must be above 0 (a greedy repeat is the same answer), got {temperature!r}",
            field="repeat_temperature",
        )


def annotate_repeats(
    pairs: pd.DataFrame,
    annotator: str | os.PathLike[str] | Annotator,
    engine: LLMEngine,
    *,
    repeats: int,
    sample: int = REPEAT_SAMPLE,
    temperature: float = REPEAT_TEMPERATURE,
    seed: int = REPEAT_SEED,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Re-ask an LLM annotator on a sample of pairs ``repeats - 1`` more times.

    Run 0 is the main annotation (:func:`annotate_pairs`); repeat ``r`` (1 .. ``repeats -
    1``) asks the same prompts of :func:`repeat_sample` at ``temperature``, each repeat with
    its own request version (:attr:`Annotator.request_version`), so each is its own cache
    entry: a re-run costs nothing and two repeats are never one cached answer. The repeat
    engine shares ``engine``'s server, cache and cost cap.

    Parameters
    ----------
    pairs : pandas.DataFrame
        The pair table (the one run 0 annotated).
    annotator : str, PathLike or Annotator
    engine : LLMEngine
        Run 0's engine.
    repeats : int
        Runs in all, run 0 included (2 or more).
    sample : int
        Pairs re-asked (default 50).
    temperature : float
        The repeats' sampling temperature (above 0; default 0.7).
    seed : int
        Seed of the sample.

    Returns
    -------
    (table, summary)
        The annotations table of the repeats with a ``repeat`` column (1 .. ``repeats -
        1``), and a summary: pairs, repeats, temperature, seed, NA counts, engine usage.

    Raises
    ------
    InputError
        Bad settings (see :func:`check_repeats`).
    """
    from preference_dissect.llm import LLMEngine

    ann = resolve_annotator(annotator)
    check_repeats(ann, repeats, sample, temperature)
    chosen = repeat_sample(pairs, sample, seed)
    config = engine.config.replace(temperature=float(temperature))
    twin = LLMEngine(config, engine.cache_config, progress=engine.progress, ledger=engine.ledger)
    parts = []
    for r in range(1, repeats):
        part = ann.for_repeat(r).annotate(chosen, twin)
        parts.append(part.assign(repeat=r))
    table = pd.concat(parts, ignore_index=True)
    na = table.loc[table["value"].isna(), "na_reason"].value_counts()
    summary = {
        "pairs": len(chosen),
        "repeats": repeats,
        "temperature": float(temperature),
        "seed": seed,
        "rows": len(table),
        "na": {str(k): int(v) for k, v in na.items()},
        **engine_stats(twin),
    }
    return table, summary


def repeat_agreement(table: pd.DataFrame, repeats: pd.DataFrame) -> dict[str, float]:
    """Krippendorff's alpha per attribute between run 0 (``table``) and the repeats (one
    coder each), no intervals (:func:`~preference_dissect.analyse.agreement.
    annotation_agreement`); ``{}`` when they share no attribute with an answer.

    Examples
    --------
    >>> import pandas as pd
    >>> run0 = pd.DataFrame({"pair_id": ["p1", "p2"], "attribute": "x", "side": "a",
    ...                      "value": [1.0, 3.0]})
    >>> repeat_agreement(run0, run0.assign(repeat=1))
    {'x': 1.0}
    """
    from preference_dissect.analyse.agreement import annotation_agreement

    try:
        rows = annotation_agreement({"run": table, "repeats": repeats}, bootstrap=0,
                                    features=False)  # fmt: skip
    except InputError:
        return {}
    return {str(r.attribute): float(r.alpha) for r in rows.itertuples()}
