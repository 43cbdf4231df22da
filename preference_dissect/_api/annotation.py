"""Measuring the pairs: :func:`annotate` (attributes), :func:`classify` (scenarios) and
:func:`judge` (an LLM judge's verdicts)."""

from __future__ import annotations

import os
from typing import Any, Literal

import pandas as pd

from preference_dissect._api.data import _dataset
from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset

#: ``judge(orders=...)`` values.
ORDER_CHOICES = {"both": ("ab", "ba"), "ab": ("ab",), "ba": ("ba",)}


def _engine(llm: Any, *, progress: bool, required: str | None = None) -> Any:
    """An engine for ``llm`` (an LLMConfig, a mapping of its settings, or an engine)."""
    from preference_dissect.llm import LLMConfig, LLMEngine

    if llm is None:
        if required:
            raise InputError(f"{required} asks an LLM: pass llm=LLMConfig(...)", field="llm")
        return None
    if isinstance(llm, LLMEngine):
        return llm
    if isinstance(llm, dict):
        llm = LLMConfig(**llm)
    if not isinstance(llm, LLMConfig):
        raise InputError(
            f"must be an LLMConfig (or a dict of its settings), got {type(llm).__name__}",
            field="llm",
        )
    return LLMEngine(llm, progress=progress)


def annotate(
    pairs: PairDataset | pd.DataFrame,
    annotator: str | os.PathLike[str] | None = None,
    *,
    llm: Any = None,
    progress: bool = True,
    repeats: int | None = None,
    repeat_sample: int = 50,
    repeat_temperature: float = 0.7,
    repeat_seed: int = 0,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Annotate every pair with an annotator's attributes.

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
        The pairs (:func:`load`).
    annotator : str or path, optional
        ``rules`` (offline heuristics), ``gair29`` (GAIR's 29 attributes), ``sharma24``
        (Sharma et al.'s pairwise features), an annotator folder (a copy of
        ``annotators/gair29`` with edited prompts) or an attribute-set YAML. Default:
        ``gair29`` with ``llm``, else the pairs' own annotations when the source carries them
        (GAIR's annotated table: ``gair_released``, no model), else ``rules``.
    llm : LLMConfig, optional
        The model every annotator but ``rules`` asks.
    progress : bool
        Show a progress bar while asking the model.
    repeats : int, optional
        Runs in all (2 or more; default: one run): re-ask a sample of the pairs
        ``repeats - 1`` more times at ``repeat_temperature`` to measure run-to-run
        agreement (each repeat is its own cache entry). Needs an LLM annotator.
    repeat_sample : int
        Pairs re-asked: a random sample of this many (seeded by ``repeat_seed``; all pairs
        when there are fewer).
    repeat_temperature : float
        The repeats' sampling temperature (above 0).
    repeat_seed : int

    Returns
    -------
    pandas.DataFrame or (pandas.DataFrame, pandas.DataFrame)
        The long annotations table (``pair_id, annotator, attribute, side, value,
        na_reason, raw``); ``attrs["annotation"]`` holds the summary (rows, NAs by reason,
        model usage). With ``repeats``: the table and the repeats' table (the same columns
        and ``repeat``, 1 .. ``repeats - 1``), and the summary has ``repeats`` (their usage)
        and ``repeat_agreement`` (alpha per attribute between run 0 and the repeats;
        :func:`agreement` of the two tables gives intervals and the features' alpha).

    Raises
    ------
    InputError
        Unknown annotator (listing the valid ones), an invalid attribute-set file, an
        annotator that asks an LLM without ``llm``, or bad repeat settings (``repeats``
        with the deterministic ``rules`` annotator, below 2, a temperature of 0), naming
        the parameter.
    CostCapError
        The pre-flight estimate is above ``llm.max_cost_usd`` (nothing was sent).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=20)
    >>> table = pdx.annotate(pairs)
    >>> sorted(table["side"].unique())
    ['a', 'b']
    >>> llm = pdx.LLMConfig(model="gpt-4o-mini")  # doctest: +SKIP
    >>> table, again = pdx.annotate(pairs, "gair29", llm=llm, repeats=3)  # doctest: +SKIP
    >>> pdx.agreement({"run": table, "again": again})  # doctest: +SKIP
    """
    from preference_dissect.annotate.runner import (
        annotate_pairs,
        annotate_repeats,
        check_repeats,
        repeat_agreement,
        resolve_annotator,
    )
    from preference_dissect.config import default_annotator

    dataset = _dataset(pairs, "pairs")
    name = default_annotator(annotator, llm is not None, dataset.info.get("annotations"))
    ann = resolve_annotator(name)
    if repeats is not None:
        check_repeats(ann, repeats, repeat_sample, repeat_temperature)
    required = f"annotator {ann.name!r}" if ann.needs_llm else None
    engine = _engine(llm, progress=progress, required=required) if ann.needs_llm else None
    chosen = dataset.pairs
    table, summary = annotate_pairs(chosen, ann, engine)
    table.attrs["annotation"] = summary
    if repeats is None:
        return table
    again, facts = annotate_repeats(chosen, ann, engine, repeats=repeats, sample=repeat_sample,
                                    temperature=repeat_temperature, seed=repeat_seed)  # fmt: skip
    summary["repeats"] = facts
    summary["repeat_agreement"] = repeat_agreement(table, again)
    return table, again


def classify(
    pairs: PairDataset | pd.DataFrame, *, llm: Any = None, progress: bool = True
) -> PairDataset:
    """Assign every pair a scenario (GAIR's taxonomy): with ``llm`` by asking the model,
    else by the offline keyword classifier.

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
    llm : LLMConfig, optional
        The classifying model; none: the offline classifier (a coarse stand-in, see
        ``docs/method.md``).
    progress : bool

    Returns
    -------
    PairDataset
        A copy with the ``scenario`` column filled (and how each was assigned in ``meta``);
        ``info["classify"]`` holds the counts.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> classified = pdx.classify(pdx.load("bundled:hh-rlhf", limit=30))
    >>> bool(classified.pairs["scenario"].notna().all())
    True
    """
    from preference_dissect.annotate.scenario import classify_pairs

    dataset = _dataset(pairs, "pairs")
    table, facts = classify_pairs(dataset.pairs.copy(), _engine(llm, progress=progress))
    return PairDataset(table, dataset.labels, {**dataset.info, "classify": facts})


def judge(
    pairs: PairDataset | pd.DataFrame,
    llm: Any,
    *,
    orders: Literal["both", "ab", "ba"] = "both",
    cot: bool = False,
    name: str | None = None,
    top_logprobs: int | None = 20,
    progress: bool = True,
) -> pd.DataFrame:
    """Ask an LLM judge which response of each pair is better.

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
    llm : LLMConfig
        The judge model. Log-probs of the answer letters give soft labels (``p_a``).
    orders : {"both", "ab", "ba"}
        Presentation orders: ``both`` asks A-then-B and B-then-A (position swap) and
        averages them.
    cot : bool
        Reason first, then answer ``Verdict: A|B``.
    name : str, optional
        The judge's name in the labels (default: the model name).
    top_logprobs : int or None
        Alternatives per token to read the letters' probabilities from (``None``: hard
        labels from the sampled letter).
    progress : bool

    Returns
    -------
    pandas.DataFrame
        One row per labelled pair (``pair_id, judge, winner, p_a`` and per-order verdicts);
        add it to the pairs with :func:`add_labels` (or ``compare(..., labels=...)``).

    Raises
    ------
    InputError
        A bad ``orders`` value (listing the valid ones) or LLM setting.
    NoUsableOutputError
        Not one pair got a verdict.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> llm = pdx.LLMConfig(model="gpt-4o-mini")  # doctest: +SKIP
    >>> labels = pdx.judge(pdx.load("bundled:llmbar"), llm)  # doctest: +SKIP
    """
    from preference_dissect.judges.llm_judge import (
        JudgeOptions,
        judge_config_fields,
        judge_pairs,
    )
    from preference_dissect.llm import LLMConfig

    if orders not in ORDER_CHOICES:
        valid = ", ".join(ORDER_CHOICES)
        raise InputError(f"must be one of {valid}, got {orders!r}", field="orders")
    config = LLMConfig(**llm) if isinstance(llm, dict) else llm
    if not isinstance(config, LLMConfig):
        raise InputError(f"must be an LLMConfig, got {type(llm).__name__}", field="llm")
    options = JudgeOptions(judge_name=name or config.model, orders=ORDER_CHOICES[orders], cot=cot)
    config = config.replace(**judge_config_fields(options, top_logprobs))
    engine = _engine(config, progress=progress)
    outcome = judge_pairs(_dataset(pairs, "pairs").pairs, engine, options)
    outcome.labels.attrs["judge"] = outcome.summary
    return outcome.labels


def add_labels(pairs: PairDataset, labels: pd.DataFrame) -> PairDataset:
    """The pairs with more judge labels (``judge`` output or a table with ``pair_id, judge,
    winner[, p_a]``); the labels of a judge already in ``pairs`` replace its old ones.

    Returns
    -------
    PairDataset
        A new dataset; ``pairs`` is unchanged.

    Raises
    ------
    InputError
        A missing column, or a ``pair_id`` that is not in ``pairs``.

    Examples
    --------
    >>> import pandas as pd
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=2)
    >>> ids = pairs.pairs["pair_id"]
    >>> more = pd.DataFrame({"pair_id": ids, "judge": "me", "winner": ["a", "b"]})
    >>> pdx.add_labels(pairs, more).judges
    ['human', 'me']
    """
    from preference_dissect.compare.inputs import add_labels as join_labels

    return join_labels(_dataset(pairs, "pairs"), labels, file="labels")
