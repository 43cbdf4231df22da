"""Acting on a judge: :func:`manipulate`, :func:`counterfactual` and :func:`best_of_n` (each
= its ``prefdissect`` command, returning an
:class:`~preference_dissect.interventions.InterventionResult`); probing a model:
:func:`probe_sycophancy`."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from preference_dissect._api.data import _dataset
from preference_dissect.errors import InputError


def _config(value: Any, field: str) -> Any:
    """An LLMConfig from an LLMConfig or a dict of its settings."""
    from preference_dissect.llm import LLMConfig

    if isinstance(value, dict):
        value = LLMConfig(**value)
    if not isinstance(value, LLMConfig):
        raise InputError(
            f"must be an LLMConfig (or a dict of its settings), got {type(value).__name__}",
            field=field,
        )
    return value


def _engines(model: Any, judge: Any, annotator: Any, progress: bool) -> tuple[Any, Any, Any]:
    from preference_dissect.interventions._common import annotator_engine, make_engines

    judge_config = _config(judge, "judge")
    engine, judge_settings = make_engines(_config(model, "model"), judge_config, progress=progress)
    return engine, judge_settings, annotator_engine(annotator, judge_config, judge_settings)


def manipulate(
    pairs: Any,
    weights: Any,
    *,
    target_judge: str,
    group: str,
    model: Any,
    judge: Any,
    top_k: int = 3,
    arms: Sequence[str] | None = None,
    attribute_set: str | os.PathLike[str] = "gair29",
    annotator: str | os.PathLike[str] | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Any:
    """GAIR's manipulation experiment (= ``prefdissect manipulate``).

    Answers instructed to exhibit the target judge's top-``top_k`` attributes (or avoid its
    bottom ones) in ``group`` are compared by ``judge`` with normal answers, in both orders.

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
        The queries (each distinct prompt once).
    weights : InferenceData, str or path
        A fit, a folder of GAIR weight files or ``"bundled:gair-weights"``.
    target_judge, group : str
        Whose attribute ranking, in which group.
    model, judge : LLMConfig
        The generator and the judge (answer letters with log-probs at temperature 0).
    top_k : int
        Attributes at each end of the ranking.
    arms : sequence of str, optional
        Arms of ``interventions/manipulate/manipulate.yaml`` (default ``exhibit_top``,
        ``avoid_bottom``).
    attribute_set : str or path
        The attribute set defining the weights' attributes.
    annotator : str or path, optional
        Check that the targeted attributes moved (an LLM annotator asks the judge's model).
    limit : int, optional
        At most this many queries.
    progress : bool

    Returns
    -------
    InterventionResult
        ``tables["effects"]``: win rate of the manipulated answers and shift from 0.5 per
        arm (overall and per scenario) with 95% bootstrap intervals; ``summary``; ``plot()``.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> gen = pdx.LLMConfig(model="gpt-4o-mini")  # doctest: +SKIP
    >>> result = pdx.manipulate(pdx.load("bundled:alpaca-eval", limit=20),
    ...     "bundled:gair-weights", target_judge="gpt-4-1106-preview", group="all",
    ...     model=gen, judge=gen)  # doctest: +SKIP
    >>> result.tables["effects"]  # doctest: +SKIP
    """
    from preference_dissect.interventions import manipulate as run

    engine, judge_settings, annotating = _engines(model, judge, annotator, progress)
    return run(
        _dataset(pairs, "pairs"),
        weights,
        target_judge=target_judge,
        group=group,
        model=engine,
        judge=judge_settings,
        top_k=top_k,
        arms=arms,
        attribute_set=attribute_set,
        annotator=annotator,
        annotator_engine=annotating,
        limit=limit,
    )


def counterfactual(
    pairs: Any,
    *,
    attributes: Sequence[str],
    model: Any,
    judge: Any,
    attribute_set: str | os.PathLike[str] = "gair29",
    weights: Any = None,
    target_judge: str | None = None,
    group: str = "all",
    sides: Sequence[str] = ("a", "b"),
    directions: Sequence[str] | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Any:
    """Interventional attribute effects on a judge (= ``prefdissect counterfactual``).

    Each response is rewritten to add (remove) one attribute and rewritten back; the judge
    compares the two rewrites in both orders.

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
    attributes : sequence of str
        Names in ``attribute_set``.
    model, judge : LLMConfig
        The rewriter and the judge.
    attribute_set : str or path
    weights : InferenceData, str or path, optional
        A fit whose weights for ``target_judge`` / ``group`` are set beside the effects.
    target_judge : str, optional
    group : str
    sides : sequence of {"a", "b"}
    directions : sequence of {"add", "remove"}, optional
    limit : int, optional
        At most this many pairs.
    progress : bool

    Returns
    -------
    InterventionResult
        ``tables["effects"]``: per attribute the judge's preference for the version with it
        (``effect_p``, ``effect_logit`` with 95% bootstrap intervals), the fit's weight and a
        ``disagreement`` flag (``sign`` / ``magnitude``).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> llm = pdx.LLMConfig(model="gpt-4o-mini")  # doctest: +SKIP
    >>> result = pdx.counterfactual(pdx.load("bundled:hh-rlhf", limit=10),
    ...     attributes=["friendly"], model=llm, judge=llm)  # doctest: +SKIP
    """
    from preference_dissect.interventions import counterfactual as run

    engine, judge_settings, _ = _engines(model, judge, None, progress)
    return run(
        _dataset(pairs, "pairs"),
        attributes=attributes,
        model=engine,
        judge=judge_settings,
        attribute_set=attribute_set,
        weights=weights,
        target_judge=target_judge,
        group=group,
        sides=sides,
        directions=directions,
        limit=limit,
    )


def best_of_n(
    pairs: Any,
    *,
    n: int,
    model: Any,
    judge: Any,
    scorer: str = "pairwise",
    reference: str = "a",
    annotator: str | os.PathLike[str] = "rules",
    attributes: Sequence[str] | None = None,
    limit: int | None = None,
    progress: bool = True,
) -> Any:
    """Best-of-N against a judge (= ``prefdissect best-of-n``).

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
        The prompts and the pairwise scorer's reference responses.
    n : int
        Samples per prompt.
    model : LLMConfig
        The sampled model (``temperature`` above 0).
    judge : LLMConfig
        The judge or reward model.
    scorer : {"pairwise", "rating"}
    reference : {"a", "b"}
    annotator : str or path
        Annotator of the picks (``rules`` offline; an LLM annotator asks the judge's model).
    attributes : sequence of str, optional
    limit : int, optional
        At most this many prompts.
    progress : bool

    Returns
    -------
    InterventionResult
        ``tables["prevalence"]``: per attribute and N the picks' mean and its change from
        N = 1 with 95% bootstrap intervals (and the picks' ``judge_score``).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> policy = pdx.LLMConfig(model="gpt-4o-mini", temperature=1.0)  # doctest: +SKIP
    >>> result = pdx.best_of_n(pdx.load("bundled:hh-rlhf", limit=10), n=8,
    ...     model=policy, judge=policy.replace(temperature=0))  # doctest: +SKIP
    """
    from preference_dissect.interventions import best_of_n as run

    engine, judge_settings, annotating = _engines(model, judge, annotator, progress)
    return run(
        _dataset(pairs, "pairs"),
        n=n,
        model=engine,
        judge=judge_settings,
        scorer=scorer,
        reference=reference,
        annotator=annotator,
        annotator_engine=annotating,
        attributes=attributes,
        limit=limit,
    )


def probe_sycophancy(
    model: Any,
    *,
    judge: Any = None,
    answer: Any = None,
    are_you_sure: Any = None,
    feedback: Any = None,
    mimicry: Any = None,
    limit: int | None = None,
    progress: bool = True,
) -> Any:
    """Sharma et al.'s SycophancyEval probes on a model (= ``prefdissect probe sycophancy``).

    Parameters
    ----------
    model : LLMConfig
        The model probed.
    judge : LLMConfig, optional
        Compares feedback positivity (needed by ``feedback``) and reads admitted mistakes in
        ``are_you_sure`` (without it, a phrase rule does); it answers at temperature 0 and
        shares the model's spending cap.
    answer, are_you_sure, feedback, mimicry : path or list of SycophancyRecord, optional
        The released task files (``.jsonl``, ``.jsonl.gz``, ``hf:meg-tong/sycophancy-eval/
        FILE``) or their records; at least one.
    limit : int, optional
        The first ``limit`` items of each task.
    progress : bool

    Returns
    -------
    SycophancyResult
        ``metrics`` (per task, metric and template, with 95% intervals), ``responses`` (one
        row per call), ``summary``; ``plot()``, ``save(folder)``.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> result = pdx.probe_sycophancy(pdx.LLMConfig(model="gpt-4o-mini"),
    ...     answer="answer.jsonl", limit=50)  # doctest: +SKIP
    >>> result.metrics  # doctest: +SKIP
    """
    from preference_dissect.interventions._common import engines_on_one_ledger
    from preference_dissect.probes import probe_sycophancy as run

    judge_config = _config(judge, "judge").replace(temperature=0.0) if judge is not None else None
    engine, judging = engines_on_one_ledger(
        _config(model, "model"), judge_config, progress=progress
    )
    tasks = {"answer": answer, "are_you_sure": are_you_sure, "feedback": feedback}
    return run(engine, judge_engine=judging, limit=limit, mimicry=mimicry, **tasks)
