"""Rating attribute sets (``mode: rating``, e.g. a user's custom YAML).

One call per pair and per group of attributes that share query visibility and scale: both
responses are shown and each is rated on every attribute of the group. Values are written
with ``side = "a"`` / ``"b"``; the comparator applies each attribute's ``compare`` rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from preference_dissect.annotate.attribute_sets import AttributeSet
from preference_dissect.annotate.base import (
    Annotator,
    RowBuffer,
    pair_records,
    result_value,
)
from preference_dissect.annotate.kinds import ANNOTATOR_KINDS
from preference_dissect.annotate.schemas import chunks, pair_ratings_schema

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine, LLMRequest


def _is_int(x: float) -> bool:
    return float(x).is_integer()


@ANNOTATOR_KINDS.register("rating")
class RatingAnnotator(Annotator):
    """Per-response ratings on each attribute's scale, grouped into few calls per pair."""

    needs_llm = True
    templates = ("conversation", "ratings")

    def __init__(self, attribute_set: AttributeSet) -> None:
        super().__init__(attribute_set)
        groups: dict[tuple[bool, tuple[float, float]], list[str]] = {}
        for a in attribute_set.attributes:
            key = (attribute_set.shows_query(a), tuple(attribute_set.scale_of(a)))
            groups.setdefault(key, []).append(a.name)
        self.calls: list[tuple[bool, tuple[float, float], tuple[str, ...]]] = []
        for (shown, scale), names in groups.items():
            for batch in chunks(names, attribute_set.batch_size):
                self.calls.append((shown, scale, batch))

    def _schema(self, i: int) -> type:
        _, (low, high), names = self.calls[i]
        integer = _is_int(low) and _is_int(high)
        lo, hi = (int(low), int(high)) if integer else (low, high)
        return pair_ratings_schema(f"Ratings{i}", names, lo, hi, integer)

    def requests(self, pairs: pd.DataFrame) -> list[LLMRequest]:
        """One request per pair and attribute group."""
        from preference_dissect.llm import LLMRequest

        out = []
        for r in pair_records(pairs):
            for i, (shown, (low, high), names) in enumerate(self.calls):
                fmt = (lambda x: int(x)) if _is_int(low) and _is_int(high) else (lambda x: x)
                attrs = [
                    {
                        "name": n,
                        "definition": self.attribute_set.get(n).definition,
                        "low": fmt(low),
                        "high": fmt(high),
                    }
                    for n in names
                ]
                out.append(
                    LLMRequest(
                        key=f"{r['pair_id']}:ratings:{i}",
                        messages=self.prompts.messages(
                            "ratings", attributes=attrs, show_query=shown, **r
                        ),
                        schema=self._schema(i),
                        version=self.request_version,
                    )
                )
        return out

    planned_requests = requests

    def annotate(self, pairs: pd.DataFrame, engine: LLMEngine | None = None) -> pd.DataFrame:
        """Rate both responses of every pair on every attribute."""
        by_key = self._results_by_key(engine, lambda: self.requests(pairs), f"{self.name} ratings")
        buf = RowBuffer()
        for pid in pairs["pair_id"].tolist():
            for i, (_, _, names) in enumerate(self.calls):
                res = by_key[f"{pid}:ratings:{i}"]
                parsed, reason = result_value(res)
                for name in names:
                    for side in ("a", "b"):
                        if parsed is None:
                            buf.add_failed(pid, name, side, reason, res.na_reason, res.detail)
                        else:
                            buf.add(
                                pid, name, side, getattr(getattr(parsed, f"response_{side}"), name)
                            )
        return buf.frame(self.name)
