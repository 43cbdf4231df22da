"""Discovering the attributes that explain a judge: :func:`discover`
(= ``prefdissect discover``)."""

from __future__ import annotations

from typing import Any

from preference_dissect._api.data import _dataset


def discover(
    pairs: Any,
    model: Any,
    *,
    judge: str | None = None,
    max_candidates: int | None = None,
    sample: int | None = None,
    pairs_per_call: int | None = None,
    validation_share: float | None = None,
    seed: int | None = None,
    fit: Any = None,
    features: Any = None,
    name: str = "discovered",
    embedding_model: str | None = None,
    progress: bool = True,
) -> Any:
    """Let an LLM propose attributes that explain a judge; keep those that hold up.

    The judge's decided pairs are split into train and validation; ``model`` sees ``sample``
    train pairs with the judge's choice (the ones ``fit`` explains worst, when given), proposes
    attributes with a +1/0/-1 rubric and merges near-duplicates; every pair is annotated with
    the candidates (both orders) and the judge fitted on train. A candidate is kept when its
    weight's 95% HDI excludes 0 and dropping it lowers the validation log predictive density.

    Parameters
    ----------
    pairs : PairDataset
        Pairs with the judge's labels.
    model : LLMConfig
        The proposer, merger and annotator.
    judge : str, optional
        The judge to explain (default: the only one).
    max_candidates, sample, pairs_per_call, validation_share, seed : optional
        Override ``annotators/discover/discover.yaml``.
    fit, features : optional
        A fit (``InferenceData`` or ``fit.nc``) and its features table: show the proposer
        the pairs the fit explains worst.
    name : str
        Name of the kept attribute set (``texts[NAME + ".yaml"]``).
    embedding_model : str, optional
        Merge near-duplicate proposals by their embeddings (the server's ``/v1/embeddings``)
        before the LLM merge step.
    progress : bool

    Returns
    -------
    InterventionResult
        ``tables["selection"]`` (weight, HDI, coverage, held-out gains, ``kept``), ``texts``
        (the kept and the candidate attribute sets as YAML); ``save(folder)`` writes them.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> result = pdx.discover(pdx.load("bundled:hh-rlhf", limit=400),
    ...     pdx.LLMConfig(model="gpt-4o-mini"), judge="human")  # doctest: +SKIP
    >>> result.summary["kept"]  # doctest: +SKIP
    """
    from preference_dissect._api.interventions import _config
    from preference_dissect.discover import discover as run
    from preference_dissect.discover import explained_by_fit
    from preference_dissect.errors import InputError
    from preference_dissect.llm import LLMEngine

    explained = None
    if (fit is None) != (features is None):
        raise InputError("fit and features go together", field="fit")
    if fit is not None:
        from preference_dissect.interventions._common import open_weights
        from preference_dissect.io import read_table

        table = read_table(features) if not hasattr(features, "columns") else features
        if judge is None:
            raise InputError("is needed with a fit", field="judge")
        explained = explained_by_fit(open_weights(fit), table, judge)
    return run(
        _dataset(pairs, "pairs"),
        engine=LLMEngine(_config(model, "model"), progress=progress),
        judge=judge,
        max_candidates=max_candidates,
        sample=sample,
        pairs_per_call=pairs_per_call,
        validation_share=validation_share,
        seed=seed,
        explained=explained,
        name=name,
        embedding_model=embedding_model,
    )
