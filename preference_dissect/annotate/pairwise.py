"""Pairwise attribute sets (``mode: pairwise``, e.g. ``sharma24``): "which response has more X?".

Each feature is asked in BOTH presentation orders: ``ab`` shows the original A first,
``ba`` shows the original B first. Answers are mapped back to original terms
(+1 = original A has more, -1 = original B has more, 0 = similar) and written with
``side = "ab"`` / ``"ba"``; disagreements between the orders stay in the table (the
comparator decides what to do with them).

Batching: features are asked ``batch_size`` at a time (set's ``batch_size``, default 8) in
one JSON answer ``{feature: "A" | "B" | "similar"}``, so a 24-feature set costs
3 calls x 2 orders = 6 calls per pair instead of 48. A failed call makes only its batch NA.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

from preference_dissect.annotate.attribute_sets import AttributeSet
from preference_dissect.annotate.base import (
    Annotator,
    RowBuffer,
    pair_records,
    result_value,
)
from preference_dissect.annotate.kinds import ANNOTATOR_KINDS
from preference_dissect.annotate.schemas import chunks, pairwise_schema

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine, LLMRequest

ORDERS = ("ab", "ba")
#: Verdict in presentation terms -> value in original terms, per order.
VERDICT_VALUE = {
    "ab": {"A": 1.0, "B": -1.0, "similar": 0.0},
    "ba": {"A": -1.0, "B": 1.0, "similar": 0.0},
}


@ANNOTATOR_KINDS.register("pairwise")
class PairwiseAnnotator(Annotator):
    """A / B / similar per feature, both orders, features batched per call."""

    needs_llm = True
    templates = ("conversation", "pairwise")

    def __init__(self, attribute_set: AttributeSet) -> None:
        super().__init__(attribute_set)
        size = attribute_set.batch_size
        # Features that see the query and those that do not are never mixed in one call.
        self.batches: list[tuple[bool, tuple[str, ...]]] = []
        for shown in (True, False):
            names = [
                a.name for a in attribute_set.attributes if attribute_set.shows_query(a) == shown
            ]
            self.batches.extend((shown, batch) for batch in chunks(names, size))

    def requests(self, pairs: pd.DataFrame) -> list[LLMRequest]:
        """All calls: pairs x orders x feature batches."""
        from preference_dissect.llm import LLMRequest

        out = []
        for r in pair_records(pairs):
            for order in ORDERS:
                first, second = (
                    ("response_a", "response_b") if order == "ab" else ("response_b", "response_a")
                )
                shown_pair = {"response_a": r[first], "response_b": r[second]}
                for i, (shown, names) in enumerate(self.batches):
                    attrs = [
                        {"name": n, "definition": self.attribute_set.get(n).definition}
                        for n in names
                    ]
                    out.append(
                        LLMRequest(
                            key=f"{r['pair_id']}:{order}:{i}",
                            messages=self.prompts.messages(
                                "pairwise",
                                attributes=attrs,
                                show_query=shown,
                                history=r["history"],
                                query=r["query"],
                                **shown_pair,
                            ),
                            schema=pairwise_schema(f"Pairwise{len(names)}", names),
                            version=self.request_version,
                        )
                    )
        return out

    planned_requests = requests

    def annotate(self, pairs: pd.DataFrame, engine: LLMEngine | None = None) -> pd.DataFrame:
        """Ask every batch in both orders and return the annotations table."""
        by_key = self._results_by_key(
            engine, lambda: self.requests(pairs), f"{self.name} (both orders)"
        )
        buf = RowBuffer()
        for pid in pairs["pair_id"].tolist():
            for order in ORDERS:
                for i, (_, names) in enumerate(self.batches):
                    res = by_key[f"{pid}:{order}:{i}"]
                    parsed, reason = result_value(res)
                    for name in names:
                        if parsed is None:
                            buf.add_failed(pid, name, order, reason, res.na_reason, res.detail)
                        else:
                            verdict = getattr(parsed, name)
                            buf.add(
                                pid, name, order, VERDICT_VALUE[order][verdict], raw=_raw(verdict)
                            )
        return buf.frame(self.name)


def _raw(verdict: Any) -> dict[str, Any]:
    return {"verdict": verdict}
