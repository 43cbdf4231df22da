"""From annotations to weights: :func:`compare` (the features table) and :func:`fit`
(the per-(judge, group) Bayesian regressions)."""

from __future__ import annotations

import os
from typing import Any, Literal

import pandas as pd

from preference_dissect._api.data import _dataset
from preference_dissect.load.schema import PairDataset


def compare(
    annotations: pd.DataFrame,
    pairs: PairDataset,
    *,
    attribute_set: str | os.PathLike[str] | None = None,
    labels: pd.DataFrame | None = None,
    judges: list[str] | None = None,
    na: Literal["drop", "zero"] = "drop",
    not_applicable: Literal["zero", "drop"] = "zero",
    ties: Literal["drop", "half"] = "drop",
    on_disagree: Literal["zero", "drop"] = "zero",
    style: bool = False,
    controls: str | list[str] | None = None,
) -> pd.DataFrame:
    """Compare each pair's two responses attribute by attribute and attach the verdicts.

    Parameters
    ----------
    annotations : pandas.DataFrame
        :func:`annotate` output.
    pairs : PairDataset
        The pairs and their judges' labels.
    attribute_set : str or path, optional
        The attribute set whose compare rules apply (default: the one :func:`annotate` used,
        else the bundled set named in the annotations' ``annotator`` column).
    labels : pandas.DataFrame, optional
        More judge labels (:func:`judge` output), added to ``pairs`` first.
    judges : list of str, optional
        Judges to keep (default: all, plus ``gold`` where pairs have gold answers).
    na : {"drop", "zero"}
        A missing annotation: drop the pair, or count no difference (0).
    not_applicable : {"zero", "drop"}
        An error check answered "not applicable": no difference (0), or drop the pair as
        GAIR did.
    ties : {"drop", "half"}
        Tied verdicts: left out, or kept as ``y = 0.5``.
    on_disagree : {"zero", "drop"}
        A pairwise attribute whose two orders disagree: 0, or drop the pair.
    style : bool
        Add Arena's z-scored style covariates (``style_length``...).
    controls : str or list of str, optional
        Attributes the fit adjusts for with a wide prior and reports apart (``"length"``,
        ``"markdown"``, or column names; ``"length,markdown"`` works too); recorded in
        ``attrs["report"]["controls"]``, so :func:`fit` picks them up.

    Returns
    -------
    pandas.DataFrame
        ``pair_id, judge, group, y`` and one -1/0/+1 column per attribute, one row per
        (pair, judge, group); ``attrs["report"]`` says how many pairs were kept and why the
        others were dropped (``attrs["report"]["pair_flow"]``).

    Raises
    ------
    InputError
        A bad table or policy (listing the valid values), an unknown judge, nothing left.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=40)
    >>> features = pdx.compare(pdx.annotate(pairs), pairs)
    >>> list(features.columns[:4])
    ['pair_id', 'judge', 'group', 'y']
    """
    from preference_dissect._api.annotation import add_labels
    from preference_dissect.annotate.runner import resolve_annotator
    from preference_dissect.compare import build_features
    from preference_dissect.compare.controls import split_names

    dataset = _dataset(pairs, "pairs")
    if labels is not None:
        dataset = add_labels(dataset, labels)
    if attribute_set is None:  # the set annotate() used, a user's YAML included
        attribute_set = (annotations.attrs.get("annotator") or {}).get("file")
    aset = resolve_annotator(attribute_set).attribute_set if attribute_set is not None else None
    features, _ = build_features(
        annotations,
        dataset,
        aset,
        judges=judges,
        na=na,
        ties=ties,
        on_disagree=on_disagree,
        not_applicable=not_applicable,
        style=style,
        controls=split_names(controls),
    )
    return features


def fit(
    features: pd.DataFrame,
    *,
    model_spec: str | os.PathLike[str] | None = None,
    likelihood: str | None = None,
    prior: str | None = None,
    sampler: Literal["auto", "nuts"] | None = None,
    draws: int | None = None,
    chains: int | None = None,
    min_group_size: int | None = None,
    pooling: Literal["none", "groups", "judges", "both"] | None = None,
    seed: int = 0,
    progress: bool = True,
    **settings: Any,
) -> Any:
    """Fit one Bayesian regression per (judge, group): how each attribute moves the verdict.

    Unset settings come from the model specification (``models/logistic.yaml``: logistic
    likelihood, Laplace(0, 0.1) prior as in GAIR, 4 chains x 500 draws, cells of 30 pairs
    or more); ``prefdissect run`` with the same settings gives the same weights.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`compare` output (or a features table read from a file).
    model_spec : str or path, optional
        A bundled specification name (``logistic``, ``linear``) or a user's YAML copy.
    likelihood : str, optional
        A registered likelihood (``logistic``, ``linear``, or a plug-in's).
    prior : str, optional
        ``FAMILY:SCALE`` (``laplace:0.1``, ``normal:1``, ``horseshoe:1``, or a plug-in's).
    sampler : {"auto", "nuts"}, optional
        ``auto``: Laplace/EP + Pareto-smoothed importance sampling, NUTS where that fails;
        ``nuts``: PyMC's NUTS for every cell.
    draws, chains : int, optional
        Posterior draws per chain, and chains.
    min_group_size : int, optional
        Cells with fewer pairs are not fitted (their reason is in the diagnostics).
    pooling : {"none", "groups", "judges", "both"}, optional
        Partial pooling of the scenario groups (a hierarchical model): ``groups`` lets a
        judge's scenario groups share a judge-level mean, ``judges`` a group's judges a
        group-level mean, ``both`` nests judges in a population; the spreads are learned
        per attribute (``pooling_scale``: their half-normal prior scale). The result gains a
        ``pooling`` group (pool means, spreads, the unpooled means and sds); see
        :func:`shrinkage`.
    seed : int
        Every cell's seed derives from it: same seed, same weights.
    progress : bool
        Show a progress bar.
    **settings
        Other :class:`FitSpec` fields (``tune``, ``intercept``, ``folds``,
        ``target_accept``, ``sensitivity_prior``, ``pooling_scale``, ``controls``...;
        ``controls`` default to those the features table recorded, see :func:`compare`).

    Returns
    -------
    arviz.InferenceData
        ``posterior.weight`` with dims (chain, draw, judge, group, attribute), the
        diagnostics per cell (``fit_diagnostics``), the spec as JSON in
        ``posterior.attrs["spec"]``; save it with ``idata.to_netcdf``.

    Raises
    ------
    InputError
        A bad table, an unknown prior or likelihood (listing the valid ones), or no cell
        with ``min_group_size`` pairs.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=120)
    >>> features = pdx.compare(pdx.annotate(pairs), pairs)
    >>> idata = pdx.fit(features, draws=200, chains=2, progress=False)
    >>> idata.posterior["weight"].dims
    ('chain', 'draw', 'judge', 'group', 'attribute')
    """
    from preference_dissect.fit.features import validate_features
    from preference_dissect.fit.runner import fit_table_idata
    from preference_dissect.fit.spec import FitSpec

    given = {
        "model_spec": model_spec,
        "likelihood": likelihood,
        "prior": prior,
        "sampler": sampler,
        "draws": draws,
        "chains": chains,
        "min_group_size": min_group_size,
        "pooling": pooling,
    }
    spec = FitSpec(seed=seed, **{k: v for k, v in given.items() if v is not None}, **settings)
    table = validate_features(_features(features))
    return fit_table_idata(table, spec, source="features", progress=progress).idata


def _features(value: Any) -> pd.DataFrame:
    if isinstance(value, pd.DataFrame):
        return value
    from preference_dissect.errors import InputError

    raise InputError(
        f"must be a features DataFrame (from compare), got {type(value).__name__}",
        field="features",
    )
