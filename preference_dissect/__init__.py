"""preference-dissect: explain why a judge prefers one response over another.

The method as functions (``import preference_dissect as pdx``)::

    pairs = pdx.load("bundled:hh-rlhf")          # PairDataset: pairs + judges' labels
    annotations = pdx.annotate(pairs)            # DataFrame: attributes of each response
    features = pdx.compare(annotations, pairs)   # DataFrame: -1/0/+1 per attribute and verdict
    idata = pdx.fit(features)                    # arviz.InferenceData: weights per judge, group
    pdx.scores(idata)                            # DataFrame: weights, HDIs, preference scores
    pdx.plot_scores(idata, "all")                # matplotlib Figure

or all of it into a resumable run directory with a report: ``pdx.run(source, out, ...)``
(= ``prefdissect run``). Interventions act on a judge: ``pdx.manipulate`` (GAIR's
manipulation experiment), ``pdx.counterfactual`` (rewrite one attribute) and
``pdx.best_of_n``; ``pdx.probe_sycophancy`` runs SycophancyEval on a model;
``pdx.discover`` proposes and tests new attributes. The stage
packages (``load``, ``annotate``, ``compare``, ``fit``,
``analyse``, ``report``; ``judges`` and ``llm`` beside them) hold the implementation; the
names below are the public face. Plug-in points: :mod:`preference_dissect.plugins`.
"""

# ruff: noqa: E402 - the warning filter below must be in place before anything imports ArviZ
import warnings as _warnings

# ArviZ 0.2x prints a daily FutureWarning about its coming refactor on import: not ours to
# show on every run (anything else ArviZ warns about is still shown).
_warnings.filterwarnings(
    "ignore", message=r"\s*ArviZ is undergoing a major refactor", category=FutureWarning
)

# The stage subpackages share names with the API's functions (``load``, ``annotate``,
# ``compare``, ``discover``, ``fit``, ``report``): they are imported first, so binding the
# functions below is final (importing a submodule later does not rebind its package's
# attribute).
import preference_dissect.annotate
import preference_dissect.compare
import preference_dissect.discover
import preference_dissect.fit
import preference_dissect.load
import preference_dissect.report  # noqa: F401
from preference_dissect._api.annotation import add_labels, annotate, classify, judge
from preference_dissect._api.data import from_frame, load, save_pairs
from preference_dissect._api.discovery import discover
from preference_dissect._api.interventions import (
    best_of_n,
    counterfactual,
    manipulate,
    probe_sycophancy,
)
from preference_dissect._api.modeling import compare, fit
from preference_dissect._api.results import (
    agreement,
    audit,
    collinearity,
    compare_models,
    contrasts,
    control_effects,
    export_trl,
    loo,
    plot_scores,
    plot_shrinkage,
    plot_similarity,
    pool_spreads,
    scores,
    shrinkage,
    similarity,
    vif,
    weight_correlations,
)
from preference_dissect._api.runs import Run, open_run, report, run
from preference_dissect._version import __version__
from preference_dissect.config import RunConfig
from preference_dissect.errors import CostCapError, InputError, NoUsableOutputError
from preference_dissect.fit.spec import FitSpec
from preference_dissect.llm.config import LLMConfig
from preference_dissect.load.schema import PairDataset

__all__ = [
    "CostCapError",
    "FitSpec",
    "InputError",
    "LLMConfig",
    "NoUsableOutputError",
    "PairDataset",
    "Run",
    "RunConfig",
    "__version__",
    "add_labels",
    "agreement",
    "annotate",
    "audit",
    "best_of_n",
    "classify",
    "collinearity",
    "compare",
    "compare_models",
    "contrasts",
    "control_effects",
    "counterfactual",
    "discover",
    "export_trl",
    "fit",
    "from_frame",
    "judge",
    "load",
    "loo",
    "manipulate",
    "open_run",
    "plot_scores",
    "plot_shrinkage",
    "plot_similarity",
    "pool_spreads",
    "probe_sycophancy",
    "report",
    "run",
    "save_pairs",
    "scores",
    "shrinkage",
    "similarity",
    "vif",
    "weight_correlations",
]
