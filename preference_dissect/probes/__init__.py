"""Probes: measure a model's behaviour with fixed test sets.

``probe_sycophancy`` runs the four SycophancyEval probes of Sharma et al. (2023, "Towards
Understanding Sycophancy in Language Models"): feedback positivity when the user likes or
wrote the text, capitulation when challenged ("Are you sure?"), answers swayed by the user's
suggestion, and mimicry of a wrong attribution. Its rules and texts are data in
``interventions/sycophancy/`` (``probe.yaml``, ``prompts/*.jinja``).
"""

from preference_dissect.probes._data import SycophancyRecord, read_sycophancy_file
from preference_dissect.probes._sycophancy import SycophancyResult, probe_sycophancy

__all__ = [
    "SycophancyRecord",
    "SycophancyResult",
    "probe_sycophancy",
    "read_sycophancy_file",
]
