"""The report's built-in sections, registered in page order (see :mod:`.registry`).

Each adapter takes the run's artifacts and returns what its template shows; the numbers come
from :mod:`.sections` (and through it from :mod:`preference_dissect.analyse`).
"""

from __future__ import annotations

from typing import Any

from preference_dissect.report import intervention_sections, model_sections, sections
from preference_dissect.report.registry import register_report_section


@register_report_section("overview", order=0, needs=("data", "weights", "convergence", "prior"))
def overview(run: Any, built: dict[str, Any]) -> dict[str, Any]:
    """The headline facts (the template also reads the other sections' data) and the status
    of every artifact of the run directory."""
    artifacts = [
        {"name": a.name, "path": a.path.name, "status": a.status, "detail": a.detail}
        for a in run.all()
    ]
    return {"artifacts": artifacts}


@register_report_section("data", order=10, nav="Data")
def data(run: Any, built: dict[str, Any]) -> Any:
    """Pairs, judges, scenarios and the comparison's pair accounting."""
    return sections.data_section(run.pairs, run.features)


@register_report_section("annotations", order=20, nav="Annotation quality")
def annotations(run: Any, built: dict[str, Any]) -> Any:
    """NA and parse-failure rates; tokens and cost."""
    return sections.annotation_section(run.annotations, run.manifest)


@register_report_section("weights", order=30, nav="Attribute weights")
def weights(run: Any, built: dict[str, Any]) -> Any:
    """Per-group score plots and tables."""
    return sections.weights_section(run.fit)


@register_report_section("errors", order=40, nav="Error sensitivity")
def errors(run: Any, built: dict[str, Any]) -> Any:
    """Mean score of the error attributes per judge."""
    return sections.error_sensitivity_section(run.fit)


@register_report_section("prior", order=50, nav="Prior sensitivity")
def prior(run: Any, built: dict[str, Any]) -> Any:
    """Scores that move under a wide prior."""
    return sections.prior_section(run.fit)


@register_report_section("collinearity", order=55, nav="Collinearity")
def collinearity(run: Any, built: dict[str, Any]) -> Any:
    """Correlated attributes, variance inflation and correlated weights."""
    return model_sections.collinearity_section(run.analysis)


@register_report_section("pooling", order=57, nav="Pooling")
def pooling(run: Any, built: dict[str, Any]) -> Any:
    """A pooled fit's shrinkage and spreads."""
    return model_sections.pooling_section(run.analysis)


@register_report_section("controls", order=58, nav="Controls")
def controls(run: Any, built: dict[str, Any]) -> Any:
    """The control covariates' weights and what adjusting for them changed."""
    return model_sections.controls_section(run.analysis)


@register_report_section("similarity", order=60, nav="Similarity", needs=("weights",))
def similarity(run: Any, built: dict[str, Any]) -> Any:
    """Judge similarity with intervals."""
    weights_data = built.get("weights")
    return sections.similarity_section(run.fit, weights_data["scores"] if weights_data else None)


@register_report_section("audits", order=70, nav="Judge audits")
def audits(run: Any, built: dict[str, Any]) -> Any:
    """The audit folder's tables and plots."""
    return sections.folder_section(run.audits)


@register_report_section("interventions", order=75, nav="Interventions")
def interventions(run: Any, built: dict[str, Any]) -> Any:
    """Manipulation, counterfactual, best-of-N and probe outputs kept in the run."""
    return intervention_sections.interventions_section(run.run_dir)


@register_report_section("analysis", order=80, nav="Analysis files", needs=("weights", "pooling"))
def analysis(run: Any, built: dict[str, Any]) -> Any:
    """The analysis folder (plots the weights and pooling sections show are not repeated)."""
    skip = sections.REDRAWN_ANALYSIS_PLOTS if built.get("weights") else ()
    if (built.get("pooling") or {}).get("plot"):
        skip += ("shrinkage.",)
    return sections.folder_section(run.analysis, skip_images=skip)


@register_report_section("convergence", order=90, nav="Convergence")
def convergence(run: Any, built: dict[str, Any]) -> Any:
    """Per-fit diagnostics, flagged fits and cells not fitted."""
    return sections.convergence_section(run.fit)


@register_report_section("model_fit", order=95, nav="Model fit (LOO)")
def model_fit(run: Any, built: dict[str, Any]) -> Any:
    """PSIS-LOO of the fit."""
    return model_sections.model_fit_section(run.analysis)


@register_report_section("manifest", order=100, nav="Manifest")
def manifest(run: Any, built: dict[str, Any]) -> Any:
    """What went into the run."""
    return sections.manifest_section(run.manifest)


@register_report_section("examples", order=110, nav="Example pairs")
def examples(run: Any, built: dict[str, Any]) -> Any:
    """A few pairs, so readers see the data."""
    return sections.examples_section(run.pairs, run.features, n=built.get("_examples", 3))
