"""What a fit says: :func:`scores`, :func:`similarity`, :func:`contrasts`, the figures
:func:`plot_scores` and :func:`plot_similarity`; judge audits (:func:`audit`) and the TRL
export (:func:`export_trl`)."""

from __future__ import annotations

import os
from typing import Any, Literal

import pandas as pd

from preference_dissect._api.data import _dataset
from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset

#: The probability mass of every interval the API reports (95% HDIs).
HDI_PROB = 0.95


def _idata(value: Any) -> Any:
    """``value`` as a fit: an InferenceData, or the path of a saved one."""
    if isinstance(value, str | os.PathLike):
        from preference_dissect.fit.idata import load_fit

        return load_fit(value)
    if not hasattr(value, "posterior"):
        raise InputError(
            f"must be an arviz.InferenceData (from fit) or its file, got {type(value).__name__}",
            field="idata",
        )
    return value


def scores(idata: Any, *, hdi_prob: float = HDI_PROB) -> pd.DataFrame:
    """Every fitted weight with its interval, and GAIR's preference score.

    Parameters
    ----------
    idata : arviz.InferenceData or path
        :func:`fit` output (or a saved ``fit.nc``).
    hdi_prob : float
        Mass of the highest-density intervals.

    Returns
    -------
    pandas.DataFrame
        One row per (judge, group, attribute): ``mean, sd, hdi_low, hdi_high`` of the weight,
        ``score = 100 * sigmoid(mean)`` (50: no effect) with ``score_low, score_high``, ``n``
        (pairs in the fit) and ``n_nonzero`` (pairs where the attribute differs: those that
        inform the weight). Attributes constant in a cell have no row; point estimates (one
        draw) have NaN intervals.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=120)
    >>> idata = pdx.fit(pdx.compare(pdx.annotate(pairs), pairs), draws=200, progress=False)
    >>> table = pdx.scores(idata)
    >>> bool((table["score_low"] <= table["score"]).all())
    True
    """
    from preference_dissect.analyse.scores import weight_summary

    return weight_summary(_idata(idata), hdi_prob)


def similarity(
    idata: Any,
    *,
    groups: list[str] | None = None,
    matrix: bool = False,
    hdi_prob: float = HDI_PROB,
    seed: int = 0,
) -> pd.DataFrame:
    """How alike two judges' preferences are: the mean over groups of the Pearson
    correlation of their weights, computed draw by draw (its posterior mean and HDI).

    Parameters
    ----------
    idata : arviz.InferenceData or path
    groups : list of str, optional
        Groups to average over (default: the scenario groups that have fits).
    matrix : bool
        Return the judge x judge matrix of posterior means instead of the long table.
    hdi_prob : float
    seed : int
        Seed of the posterior draws used.

    Returns
    -------
    pandas.DataFrame
        One row per pair of judges: ``judge_a, judge_b, similarity`` (posterior mean),
        ``hdi_low, hdi_high``, ``plugin`` (the correlation of posterior means: GAIR's
        number, higher because shrunk means look alike) and ``groups`` used; or, with
        ``matrix``, the judge x judge matrix.
    """
    from preference_dissect.analyse.similarity import judge_similarity

    result = judge_similarity(_idata(idata), groups, hdi_prob=hdi_prob, seed=seed)
    return result.matrix if matrix else result.pairs


def contrasts(idata: Any, reference: str, *, hdi_prob: float = HDI_PROB) -> pd.DataFrame:
    """Where each judge weighs an attribute differently from ``reference``.

    Returns
    -------
    pandas.DataFrame
        ``judge, reference, group, attribute, label, diff`` (weight difference) with its
        ``hdi_low, hdi_high`` and ``p_greater`` (posterior probability that ``diff > 0``).

    Raises
    ------
    InputError
        ``reference`` is not a judge of the fit (listing those that are).
    """
    from preference_dissect.analyse.similarity import judge_contrasts

    return judge_contrasts(_idata(idata), reference, hdi_prob)


def plot_scores(
    idata: Any, group: str = "all", *, judges: list[str] | None = None, title: str | None = None
) -> Any:
    """One group's preference scores with 95% HDIs: a row per attribute, a series per judge.

    Parameters
    ----------
    idata : arviz.InferenceData or path
    group : str
        ``all``, a scenario or a query group that has fits.
    judges : list of str, optional
        Series and their order (default: every judge of the fit).
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    InputError
        No judge has a fit in ``group`` (listing the groups that have).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=120)
    >>> idata = pdx.fit(pdx.compare(pdx.annotate(pairs), pairs), draws=200, progress=False)
    >>> fig = pdx.plot_scores(idata, "all")
    >>> fig.savefig("scores.png")  # doctest: +SKIP
    """
    from preference_dissect.analyse.plots import group_scores_figure
    from preference_dissect.analyse.scores import weight_summary

    summary = weight_summary(_idata(idata))
    names = judges or list(dict.fromkeys(summary["judge"]))
    fig = group_scores_figure(summary, group, names, title=title)
    if fig is None:
        fitted = ", ".join(dict.fromkeys(summary["group"])) or "none"
        raise InputError(f"no fit in group {group!r} (groups with fits: {fitted})", field="group")
    return fig


def plot_similarity(idata: Any, *, groups: list[str] | None = None, seed: int = 0) -> Any:
    """Heatmap of :func:`similarity` (``matrix=True``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from preference_dissect.analyse.plots import (
        SIMILARITY_POINT_TITLE,
        SIMILARITY_TITLE,
        similarity_figure,
    )
    from preference_dissect.analyse.similarity import judge_similarity

    result = judge_similarity(_idata(idata), groups, seed=seed)
    title = SIMILARITY_POINT_TITLE if result.point_estimates else SIMILARITY_TITLE
    return similarity_figure(result.matrix, title)


def audit(
    pairs: PairDataset,
    reference: str = "human",
    *,
    judges: list[str] | None = None,
    by: Literal["judge", "group", "subset"] = "judge",
    bootstrap: int = 1000,
    seed: int = 0,
) -> pd.DataFrame:
    """How well each judge agrees with a reference judge (or the gold answers), with
    bootstrap intervals, and its position, length and self-preference biases.

    Parameters
    ----------
    pairs : PairDataset
        Pairs with several judges' labels (or gold answers).
    reference : str
        A judge name, ``gold``, or ``none`` (only the metrics that need no reference:
        consistency, flip rate, first-slot rate, ties, length bias, self-preference).
    judges : list of str, optional
        Judges to audit (default: all but the reference).
    by : {"judge", "group", "subset"}
        One row per judge, per (group, judge) (``all``, scenarios, query groups), or per
        (gold subset, judge) (LLMBar's Natural / Adversarial-* subsets).
    bootstrap : int
        Resamples for the 95% intervals (0: none).
    seed : int

    Returns
    -------
    pandas.DataFrame
        Per judge: ``agreement`` (and ``_low``/``_high``), Cohen's ``kappa``, ``consistency``
        across the two orders, ``flip_rate``, ``first_slot_rate``, tie rates,
        ``length_bias`` (verdicts for the longer response) with ``reference_longer_rate``,
        ``self_preference`` (for the judge's own model family) with
        ``reference_self_rate``, and pair counts.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> table = pdx.audit(pdx.load("bundled:pandalm"), reference="majority", bootstrap=0)
    >>> table["judge"].tolist()
    ['annotator1', 'annotator2', 'annotator3']
    """
    from preference_dissect.analyse.audit import audit_judges

    tables = {"judge": "table", "group": "group_table", "subset": "gold_subset_table"}
    if by not in tables:
        raise InputError(f"must be one of {', '.join(tables)}, got {by!r}", field="by")
    result = audit_judges(
        _dataset(pairs, "pairs"),
        reference=reference,
        judges=judges,
        by_group=by == "group",
        bootstrap=bootstrap,
        seed=seed,
    )
    return getattr(result, tables[by])()


def export_trl(
    pairs: PairDataset,
    out: str | os.PathLike[str] | None = None,
    *,
    judge: str | None = None,
    min_confidence: float | None = None,
    consistent_only: bool = False,
) -> pd.DataFrame:
    """A judge's verdicts as TRL conversational preference rows (``prompt, chosen,
    rejected``, each a list of chat messages) for DPO / reward-model training.

    Parameters
    ----------
    pairs : PairDataset
    out : path, optional
        Also write them as JSONL (atomically).
    judge : str, optional
        Whose verdicts (default: the only judge, else an error listing them).
    min_confidence : float, optional
        Keep pairs with ``max(p_a, 1 - p_a) >= min_confidence``.
    consistent_only : bool
        Keep pairs whose two presentation orders agree.

    Returns
    -------
    pandas.DataFrame
        One row per exported pair; ``attrs["export"]`` counts what was kept and skipped.

    Raises
    ------
    InputError
        An unknown judge (listing them), a bad threshold, or no pair left.
    """
    from preference_dissect.judges.export import export_rows, write_jsonl

    rows, report = export_rows(
        _dataset(pairs, "pairs"),
        judge=judge,
        min_confidence=min_confidence,
        consistent_only=consistent_only,
    )
    if out is not None:
        write_jsonl(rows, out)
    frame = pd.DataFrame(rows)
    frame.attrs["export"] = report
    return frame


def collinearity(
    features: pd.DataFrame, *, threshold: float = 0.8, min_pairs: int | None = None
) -> pd.DataFrame:
    """How strongly two attributes' comparisons move together, per group.

    Correlated attributes share the credit for a verdict: the fit tells them apart only
    through the pairs where they disagree, so their weights trade off (see
    :func:`weight_correlations`) and their intervals widen.

    Parameters
    ----------
    features : pandas.DataFrame
        :func:`compare` output.
    threshold : float
        ``|r|`` above which a pair of attributes is ``flagged``.
    min_pairs : int, optional
        Groups with fewer pairs are left out (default: the model's minimum group size).

    Returns
    -------
    pandas.DataFrame
        ``group, attribute_a, attribute_b, r, n, flagged`` (each pair of a group counted once).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=300)
    >>> table = pdx.collinearity(pdx.compare(pdx.annotate(pairs), pairs))
    >>> row = table.set_index(["attribute_a", "attribute_b"]).loc[("words", "tokens")]
    >>> bool(row["flagged"]), round(float(row["r"]), 2)
    (True, 0.85)
    """
    from preference_dissect.analyse.collinearity import feature_correlations

    return feature_correlations(_features(features), threshold=threshold, min_pairs=min_pairs)


def vif(
    features: pd.DataFrame, *, threshold: float = 10.0, min_pairs: int | None = None
) -> pd.DataFrame:
    """Variance inflation factor of every attribute per group, ``1 / (1 - R^2)`` of the
    attribute regressed on the others: 1 = independent, above 10 = its weight is poorly
    identified, ``inf`` = an exact combination of other attributes.

    Returns
    -------
    pandas.DataFrame
        ``group, attribute, vif, flagged``.
    """
    from preference_dissect.analyse.collinearity import variance_inflation

    return variance_inflation(_features(features), threshold=threshold, min_pairs=min_pairs)


def weight_correlations(idata: Any, *, threshold: float = 0.8) -> pd.DataFrame:
    """The posterior correlation of every two weights of each fit (strongly negative: the
    data cannot say which of the two attributes the judge rewards).

    Returns
    -------
    pandas.DataFrame
        ``judge, group, attribute_a, attribute_b, r, flagged``; empty for point estimates.
    """
    from preference_dissect.analyse.collinearity import weight_correlations as correlations

    return correlations(_idata(idata), threshold=threshold)


def loo(idata: Any, features: pd.DataFrame) -> pd.DataFrame:
    """PSIS-LOO of a fit: its expected log predictive density on verdicts it did not see.

    Parameters
    ----------
    idata : arviz.InferenceData or path
    features : pandas.DataFrame
        The features the fit was fitted on.

    Returns
    -------
    pandas.DataFrame
        One row: ``elpd_loo``, ``se``, ``p_loo`` (effective number of parameters),
        ``observations``, ``draws``, ``k_max`` and ``k_bad`` (observations whose Pareto
        k > 0.7, an unreliable estimate).
    """
    from preference_dissect.analyse.loo import loo as psis_loo

    return psis_loo(_idata(idata), _features(features))


def compare_models(fits: dict[str, Any], features: pd.DataFrame) -> pd.DataFrame:
    """Rank fits of the same features by PSIS-LOO (``elpd_diff`` with its standard error
    ``dse``, stacking ``weight``).

    Parameters
    ----------
    fits : dict
        ``{name: InferenceData or path}``: fits of ``features`` with another prior,
        likelihood of the same outcome, or attribute set.
    features : pandas.DataFrame

    Returns
    -------
    pandas.DataFrame
        Indexed by name, best first.

    Raises
    ------
    InputError
        Fewer than two fits, different outcomes (logistic vs linear) or different rows.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=300)
    >>> features = pdx.compare(pdx.annotate(pairs), pairs)
    >>> fits = {p: pdx.fit(features, prior=p, draws=300, progress=False)
    ...         for p in ("laplace:0.1", "normal:1")}
    >>> list(pdx.compare_models(fits, features).columns[:4])
    ['rank', 'elpd_loo', 'p_loo', 'elpd_diff']
    """
    from preference_dissect.analyse.loo import compare_models as psis_compare

    if not isinstance(fits, dict):
        raise InputError(f"must be a dict of name -> fit, got {type(fits).__name__}", field="fits")
    return psis_compare({k: _idata(v) for k, v in fits.items()}, _features(features))


def shrinkage(idata: Any) -> pd.DataFrame:
    """How much partial pooling moved each cell: a pooled fit's weights against the same
    cells fitted alone.

    Parameters
    ----------
    idata : arviz.InferenceData or path
        A pooled fit (:func:`fit` with ``pooling=``).

    Returns
    -------
    pandas.DataFrame
        One row per pooled (judge, group, attribute): ``pool``, ``n`` (pairs),
        ``unpooled_mean``, ``unpooled_sd``, ``pooled_mean``, ``pooled_sd``, ``pool_mean``
        (the posterior mean the cell is pooled towards: its judge's mean for ``groups`` and
        ``both``, its group's mean over judges for ``judges``), ``shift`` (pooled - unpooled)
        and ``sd_ratio`` (pooled / unpooled sd; below 1: the cell borrowed strength; above
        1 where the unpooled prior, Laplace(0, 0.1) by default, held a weight near 0 that the
        other groups say is not).

    Raises
    ------
    InputError
        The fit is not pooled.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> from preference_dissect.testing.simulate import hierarchical_features
    >>> sim = hierarchical_features(0, [300, 200, 40], attributes=3)
    >>> pooled = pdx.fit(sim.features, pooling="groups", min_group_size=20, draws=200,
    ...                  chains=2, tune=200, progress=False)
    >>> table = pdx.shrinkage(pooled)
    >>> table[["group", "attribute", "pool"]].head(2).values.tolist()
    [['g0', 'a0', 'judge0'], ['g0', 'a1', 'judge0']]
    """
    from preference_dissect.analyse.shrinkage import shrinkage as table

    return table(_idata(idata))


def pool_spreads(idata: Any, *, hdi_prob: float = HDI_PROB) -> pd.DataFrame:
    """The spreads a pooled fit learned: how much each attribute's weight really varies
    across the pooled cells.

    Returns
    -------
    pandas.DataFrame
        One row per (pool, level, attribute): ``mean``, ``hdi_low``, ``hdi_high`` of the
        spread (a standard deviation on the weight scale). ``level`` is ``cells`` (a
        judge's groups around the judge's mean for ``groups``; a group's judges around
        the group's mean for ``judges``) or ``judges`` (``both``: the judges' means around
        the population mean).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> from preference_dissect.testing.simulate import hierarchical_features
    >>> sim = hierarchical_features(0, [300, 200, 40], judges=2, attributes=3)
    >>> pooled = pdx.fit(sim.features, pooling="both", min_group_size=20, draws=200,
    ...                  chains=2, tune=200, progress=False)
    >>> sorted(set(pdx.pool_spreads(pooled)["level"]))
    ['cells', 'judges']
    """
    from preference_dissect.analyse.shrinkage import pool_spreads as spreads

    return spreads(_idata(idata), hdi_prob=hdi_prob)


def plot_shrinkage(idata: Any, *, judge: str | None = None) -> Any:
    """Scatter of a pooled fit's weights against the cells fitted alone (see
    :func:`shrinkage`), sized by the cell's pairs; ``judge`` keeps one judge's cells.

    Returns
    -------
    matplotlib.figure.Figure
    """
    from preference_dissect.analyse.plots import shrinkage_figure
    from preference_dissect.analyse.shrinkage import shrinkage as table

    rows = table(_idata(idata))
    if judge is not None:
        judges = sorted(set(rows["judge"]))
        if judge not in judges:
            raise InputError(
                f"no pooled cell of judge {judge!r} (pooled: {', '.join(judges)})", field="judge"
            )
        rows = rows[rows["judge"] == judge]
    structure = _idata(idata).pooling.attrs["structure"]
    return shrinkage_figure(rows, f"pooling {structure}{f', {judge}' if judge else ''}: shrinkage")


def agreement(
    annotations: dict[str, Any] | list[Any],
    *,
    level: Literal["auto", "nominal", "ordinal", "interval"] = "auto",
    bootstrap: int = 500,
    seed: int = 0,
    features: bool = True,
) -> pd.DataFrame:
    """How reliable an annotation is: Krippendorff's alpha per attribute between two or more
    annotation tables of the same pairs (two annotators, two runs of one, or human raters and
    an annotator), of the annotated values and of the comparison features ``compare``
    derives from them.

    Parameters
    ----------
    annotations : dict or list of pandas.DataFrame or path
        :func:`annotate` outputs, or files: an annotations parquet / CSV, or a ratings table
        (``pair_id`` and ``<attribute>_a`` / ``<attribute>_b`` columns, CSV, parquet or JSON
        lines; read as annotator ``human``). A list is named ``0``, ``1``...; a table with
        a ``repeat`` column (``annotate(..., repeats=K)``'s repeats) is one coder per repeat.
    level : {"auto", "nominal", "ordinal", "interval"}
        Level of measurement; ``auto``: ordinal for pairwise verdicts, ratings, flags and
        small counts, interval for other values (and ordinal for the comparison features).
    bootstrap : int
        Resamples of the annotated values (and of the pairs, for the features) for the 95%
        intervals (0: none).
    seed : int
    features : bool
        Also the alpha of the -1 / 0 / +1 comparison features, per pair.

    Returns
    -------
    pandas.DataFrame
        ``attribute, level, alpha, alpha_low, alpha_high, units, coders, flagged`` (alpha
        below 0.4; NaN where every value is the same), then ``feature_alpha,
        feature_alpha_low, feature_alpha_high, feature_units`` (the comparison features).

    Raises
    ------
    InputError
        Fewer than two coders, an unknown level, a negative bootstrap, tables that share no
        attribute, or a file that cannot be read (naming it, and the row and column of a bad
        rating).

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=50)
    >>> once, again = pdx.annotate(pairs), pdx.annotate(pairs)
    >>> table = pdx.agreement([once, again], bootstrap=0).set_index("attribute")
    >>> float(table.loc["words", "alpha"])  # the rules annotator is deterministic
    1.0
    >>> float(table.loc["words", "feature_alpha"])
    1.0
    """
    from preference_dissect.analyse.agreement import annotation_agreement
    from preference_dissect.compare.inputs import read_annotations

    if isinstance(annotations, list | tuple):
        annotations = {str(i): table for i, table in enumerate(annotations)}
    if not isinstance(annotations, dict):
        raise InputError("must be a dict or list of annotation tables", field="annotations")
    tables = {
        str(name): read_annotations(t) if isinstance(t, str | os.PathLike) else t
        for name, t in annotations.items()
    }
    return annotation_agreement(tables, level=level, bootstrap=bootstrap, seed=seed,
                                features=features)  # fmt: skip


def control_effects(idata: Any) -> pd.DataFrame:
    """Every attribute's weight with and without the fit's control covariates.

    Controls (``compare(..., controls=["length", "markdown"])`` or ``fit(...,
    controls=[...])``) are adjusted for with a wide prior; this says how much adjusting
    moved each other weight: per fitted (judge, group, attribute), ``with_controls``,
    ``without_controls`` (both the Laplace/EP posterior mean of the same cell, with and
    without the control columns) and ``change``, largest first. The controls' own weights
    are rows of :func:`scores`.

    Returns
    -------
    pandas.DataFrame
        ``judge, group, attribute, with_controls, without_controls, change``.

    Raises
    ------
    InputError
        The fit has no controls.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=300)
    >>> features = pdx.compare(pdx.annotate(pairs), pairs, controls="length")
    >>> features.attrs["report"]["controls"]
    ['style_length']
    >>> fit = pdx.fit(features, draws=200, chains=2, progress=False)
    >>> list(pdx.control_effects(fit).columns[3:])
    ['with_controls', 'without_controls', 'change']
    """
    from preference_dissect.analyse.controls import control_effects as effects

    return effects(_idata(idata))


def _features(value: Any) -> pd.DataFrame:
    from preference_dissect._api.modeling import _features as checked

    return checked(value)
