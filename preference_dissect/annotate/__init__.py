"""Stage: annotators. Turn a pair table into the long annotations table.

Annotators (see :func:`get_annotator`):

``rules``
    offline text heuristics (no model): length, markdown structure, refusals, apologies,
    register, repetition, lexical complexity.
``gair29``
    GAIR's 29 attributes by the GAIR protocol (reference answer, query check, ratings,
    relevance, errors, conditional ratings).
``sharma24``
    the sycophancy-study pairwise features, asked as A / B / similar in both orders.
a YAML path
    a custom attribute set (``mode: rating`` or ``pairwise``).

The scenario classifier lives in :mod:`preference_dissect.annotate.scenario`; the LLM
engine in :mod:`preference_dissect.llm`.
"""

from preference_dissect.annotate.attribute_sets import (
    AttributeSet,
    AttributeSpec,
    load_attribute_set,
    parse_attribute_set,
)
from preference_dissect.annotate.base import ANNOTATION_COLUMNS, Annotator, empty_annotations
from preference_dissect.annotate.kinds import annotator_names, get_annotator

__all__ = [
    "ANNOTATION_COLUMNS",
    "Annotator",
    "AttributeSet",
    "AttributeSpec",
    "annotator_names",
    "empty_annotations",
    "get_annotator",
    "load_attribute_set",
    "parse_attribute_set",
]
