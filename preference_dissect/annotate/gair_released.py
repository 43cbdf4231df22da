"""The ``gair_released`` annotator: GAIR's own annotations, read from the pairs, no model.

GAIR's table (HF ``GAIR/preference-dissection``) carries the GPT-4 annotations GAIR fitted
its judges on. The ``gair`` loader checks them and keeps them per pair in
``meta["gair_annotations"]`` (:mod:`preference_dissect.load.gair_annotations`); this
annotator turns them into the long annotations table of the 29 gair29 attributes, by GAIR's
rules (``annotation_codes/resolve_collected_data.py`` of GAIR-NLP/Preference-Dissection):

* ratings: GAIR's 0-3 value of the property named by the attribute's ``rated_as`` (a missing
  one is NA ``not_rated``); ``non_repetitive`` carries the ``repetitive`` rating and its
  ``negated_sign`` rule negates the comparison, ``relevant`` is compared zero against
  non-zero (``irrelevance``), as GAIR does;
* errors: the number of errors of the attribute's severity; a response whose error check
  GAIR marked not applicable has NA ``not_applicable`` (GAIR drops the whole pair from its
  fits: ``--not-applicable drop``; the default compares nothing, feature 0);
* conditional: only where GAIR asked it (a value in ``query-specific_response_*``), else NA
  ``not_triggered`` (feature 0, GAIR's default); per-item values are averaged, stance labels
  scored :data:`STANCE_SCORES`, mistake labels :data:`CORRECTION_SCORES`;
* ``lengthy``: GAIR's word count ``num_words`` (our own count of the text when missing);
* the query check's flags (``intent_unclear``...) as ``side = "query"`` rows.

Every comparison rule is the attribute set's (``annotators/gair_released/annotator.yaml``,
the same as gair29's), so the features come out of the ordinary compare step.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from preference_dissect.annotate.attribute_sets import AttributeSet, AttributeSpec
from preference_dissect.annotate.base import Annotator, RowBuffer
from preference_dissect.annotate.kinds import ANNOTATOR_KINDS
from preference_dissect.annotate.rules import word_count
from preference_dissect.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine

SIDES = ("a", "b")
#: GAIR's scores of its stance labels (``supporting explicit subjective stances``).
STANCE_SCORES = {
    "strongly supported": 2,
    "weakly supported": 1,
    "neutral": 0,
    "weakly opposed": -1,
    "strongly opposed": -2,
}
#: GAIR's scores of its labels for the query's mistakes or biases.
CORRECTION_SCORES = {
    "pointed out and corrected": 3,
    "corrected without being pointed out": 2,
    "pointed out but not corrected": 1,
    "neither pointed out nor corrected": 0,
}
#: GAIR's query-specific fields whose items are labels -> the scores of the labels (the
#: items of the others are 0-3 ratings already).
LABEL_SCORES: dict[str, dict[str, int]] = {
    "supporting explicit subjective stances": STANCE_SCORES,
    "correcting explicit mistakes or biases": CORRECTION_SCORES,
}
KINDS = ("rating", "errors", "conditional", "rule")


def released_record(pair_id: str, meta_text: Any) -> dict[str, Any]:
    """The released annotations the loader kept in a pair's ``meta``.

    Raises
    ------
    InputError
        The pair has none (a table without GAIR's annotation columns, or another source).
    """
    try:
        meta = json.loads(meta_text) if isinstance(meta_text, str) else {}
    except ValueError:
        meta = {}
    record = meta.get("gair_annotations") if isinstance(meta, dict) else None
    if not isinstance(record, dict):
        raise InputError(
            f"pair {pair_id!r} carries no released GAIR annotations: gair_released reads the "
            "annotation columns of GAIR's table (basic_response_1, errors_response_1, "
            "query-specific_response_1, ... of hf:GAIR/preference-dissection); annotate other "
            "pairs with an LLM annotator (gair29 --model M) or rules",
            field="annotator",
        )
    return record


def item_mean(values: list[Any], scores: dict[str, int] | None = None) -> float | None:
    """The mean of per-item values, labels scored by ``scores``; ``None`` for no item.

    Examples
    --------
    >>> item_mean(["strongly supported", "weakly opposed"], STANCE_SCORES)
    0.5
    >>> item_mean([3, 2])
    2.5
    """
    if not values:
        return None
    numbers = [scores[v] if isinstance(v, str) and scores is not None else v for v in values]
    return float(np.mean(numbers))


@ANNOTATOR_KINDS.register("gair_released")
class GairReleasedAnnotator(Annotator):
    """GAIR's released annotations as the annotations table (see the module docstring)."""

    needs_llm = False

    def __init__(self, attribute_set: AttributeSet) -> None:
        super().__init__(attribute_set)
        for row, attr in enumerate(attribute_set.attributes, start=1):
            if attr.kind not in KINDS:
                raise InputError(
                    f"must be one of {', '.join(KINDS)} in a gair_released set",
                    file=attribute_set.file,
                    row=row,
                    field="kind",
                )
            if attr.kind in ("rating", "conditional") and not attr.rated_as:
                raise InputError(
                    "needs rated_as: GAIR's name of the property in the table",
                    file=attribute_set.file,
                    row=row,
                    field="rated_as",
                )

    def annotate(self, pairs: pd.DataFrame, engine: LLMEngine | None = None) -> pd.DataFrame:
        """Return the annotations table of ``pairs`` (no model; ``engine`` is not used)."""
        buf = RowBuffer()
        columns = ["pair_id", "meta", "response_a", "response_b"]
        for pid, meta, text_a, text_b in pairs[columns].itertuples(index=False):
            record = released_record(pid, meta)
            for side, text in (("a", text_a), ("b", text_b)):
                for attr in self.attribute_set.attributes:
                    self._add(buf, pid, attr, side, record[side], text)
            for flag, value in (record.get("flags") or {}).items():
                buf.add(pid, flag, "query", value)
        return buf.frame(self.name)

    def _add(
        self,
        buf: RowBuffer,
        pid: str,
        attr: AttributeSpec,
        side: str,
        part: dict[str, Any],
        text: str,
    ) -> None:
        """One attribute of one response (see the module docstring for the rules)."""
        if attr.kind == "rating":
            value = part["ratings"].get(attr.rated_as)
            raw = {"rated_as": attr.rated_as}
            buf.add(pid, attr.name, side, value, None if value is not None else "not_rated", raw)
        elif attr.kind == "errors":
            check = part["errors"]
            raw = {"applicable": check["applicable"], "errors": check["errors"]}
            if not check["applicable"]:
                buf.add(pid, attr.name, side, None, "not_applicable", raw=raw)
            else:
                count = sum(1 for e in check["errors"] if e["severity"] == attr.severity)
                buf.add(pid, attr.name, side, count, raw=raw)
        elif attr.kind == "conditional":
            value = part["query_specific"].get(attr.rated_as)
            if isinstance(value, list):
                raw = {"items": value}
                value = item_mean(value, LABEL_SCORES.get(attr.rated_as or ""))
            else:
                raw = None
            reason = None if value is not None else "not_triggered"
            buf.add(pid, attr.name, side, value, reason, raw)
        else:
            words = part.get("words")
            counted = "num_words" if words is not None else "text"
            value = words if words is not None else word_count(text)
            buf.add(pid, attr.name, side, value, raw={"unit": "words", "counted": counted})
