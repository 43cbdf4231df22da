"""Interventions on a judge: act on what the regression found and watch the judge respond.

- :func:`manipulate` (GAIR's experiment): answers instructed to exhibit the judge's most
  preferred attributes (or avoid its least preferred) against normal answers;
- :func:`counterfactual`: rewrite one attribute of a response (and rewrite it back, RATE
  style), judge the two rewrites, and set the effect beside the fit's weight;
- :func:`best_of_n`: sample N answers, keep the judge's favourite, and watch attributes
  change with N (Sharma et al. 2023).

Each runs on two LLM engines (a generating or rewriting model and a judge, sharing one
spending cap), returns an :class:`InterventionResult` and is a ``prefdissect`` command. The
prompts and settings are data: ``interventions/<command>/``.
"""

from preference_dissect.interventions._common import JudgeSettings, bootstrap_mean, open_weights
from preference_dissect.interventions.best_of_n import best_of_n
from preference_dissect.interventions.counterfactual import counterfactual
from preference_dissect.interventions.manipulate import arm_definitions, manipulate
from preference_dissect.interventions.result import InterventionResult

__all__ = [
    "InterventionResult",
    "JudgeSettings",
    "arm_definitions",
    "best_of_n",
    "bootstrap_mean",
    "counterfactual",
    "manipulate",
    "open_weights",
]
