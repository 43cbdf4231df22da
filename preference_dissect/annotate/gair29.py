"""The ``gair29`` annotator: GAIR's annotation protocol with our own prompts.

Per pair (method notes section 1), in two stages through :meth:`LLMEngine.run`:

stage 1
    ``reference`` (free-text reference answer) and ``query_check`` (clear intent? feelings?
    constraints / stances / mistakes lists).
stage 2
    ``ratings`` (the query-hidden 0-3 ratings of both responses in one call; ``repetitive``
    is rated and the feature negated later), ``relevance`` (relevant + novel, query shown),
    ``errors`` (error lists per response against the reference, severities
    minor/moderate/severe; the counts per severity are the ``no_*_errors`` values) and, only
    when the query check triggered something, ``conditional``.

Every attribute of every pair gets a row; failures are NaN with a reason, never dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from preference_dissect.annotate.attribute_sets import AttributeSet, load_attribute_set
from preference_dissect.annotate.base import (
    Annotator,
    RowBuffer,
    pair_records,
    result_value,
)
from preference_dissect.annotate.kinds import ANNOTATOR_KINDS
from preference_dissect.annotate.rules import word_count
from preference_dissect.annotate.schemas import (
    ErrorCheck,
    QueryCheck,
    conditional_schema,
    pair_ratings_schema,
)
from preference_dissect.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine, LLMRequest, LLMResult

SIDES = ("a", "b")
QUERY_FLAGS = ("intent_unclear", "express_feeling", "w_constraints", "w_stances", "w_mistakes")


def query_flags(check: QueryCheck) -> dict[str, Any]:
    """The five query-specific flags (0/1) and their item lists from a query check."""
    return {
        "intent_unclear": int(not check.clear_intent),
        "express_feeling": int(check.expresses_feelings),
        "w_constraints": int(len(check.constraints) > 0),
        "w_stances": int(len(check.stances) > 0),
        "w_mistakes": int(len(check.mistakes) > 0),
    }


#: What each ``kind`` of a ``mode: gair`` attribute needs in the YAML.
GAIR_KINDS = ("rating", "errors", "conditional", "rule")
PER_ITEM_LISTS = ("constraints", "stances", "mistakes")


def check_gair_set(aset: AttributeSet) -> None:
    """Reject a ``mode: gair`` attribute the GAIR protocol would never annotate.

    Every attribute needs a ``kind`` of :data:`GAIR_KINDS`; ``errors`` a ``severity``;
    ``conditional`` a ``trigger`` among the query-check flags and, for per-item ratings, a
    ``per_item`` list of the query check; ``rule`` the ``length_rule`` comparison.
    """
    for row, attr in enumerate(aset.attributes, start=1):
        problem = None
        if attr.kind not in GAIR_KINDS:
            problem = ("kind", f"must be one of {', '.join(GAIR_KINDS)} in a gair set")
        elif attr.kind == "errors" and attr.severity is None:
            problem = ("severity", "an errors attribute needs minor, moderate or severe")
        elif attr.kind == "conditional" and attr.trigger not in QUERY_FLAGS:
            problem = ("trigger", f"a conditional attribute needs one of {', '.join(QUERY_FLAGS)}")
        elif attr.kind == "conditional" and attr.per_item not in (None, *PER_ITEM_LISTS):
            problem = ("per_item", f"must be one of {', '.join(PER_ITEM_LISTS)}")
        elif attr.kind == "rule" and attr.compare != "length_rule":
            problem = ("compare", "the gair protocol computes rule attributes by length_rule")
        if problem:
            raise InputError(problem[1], file=aset.file, row=row, field=problem[0])


@ANNOTATOR_KINDS.register("gair")
class Gair29Annotator(Annotator):
    """GAIR's 29 attributes by LLM (six calls per pair at most; see the module docstring)."""

    needs_llm = True
    templates = (
        "conversation",
        "reference",
        "query_check",
        "ratings",
        "relevance",
        "errors",
        "conditional",
    )
    default_prompts = ("gair29",)

    def __init__(self, attribute_set: AttributeSet | None = None) -> None:
        super().__init__(attribute_set or load_attribute_set("gair29"))
        check_gair_set(self.attribute_set)
        attrs = self.attribute_set.attributes
        self.hidden = [a for a in attrs if a.kind == "rating" and not a.query_shown]
        self.shown = [a for a in attrs if a.kind == "rating" and a.query_shown]
        self.errors = [a for a in attrs if a.kind == "errors"]
        self.conditional = [a for a in attrs if a.kind == "conditional"]
        self.rule = [a for a in attrs if a.kind == "rule"]
        self.hidden_schema = pair_ratings_schema(
            "HiddenRatings", tuple(self._rated_name(a) for a in self.hidden), 0, 3
        )
        self.shown_schema = pair_ratings_schema(
            "ShownRatings", tuple(a.name for a in self.shown), 0, 3
        )

    @staticmethod
    def _rated_name(attr: Any) -> str:
        return attr.rated_as or attr.name

    def _prompt_attrs(self, attrs: list[Any]) -> list[dict[str, str]]:
        return [{"name": self._rated_name(a), "definition": a.definition} for a in attrs]

    # -- requests -------------------------------------------------------------------------
    def _request(
        self, pid: str, call: str, schema: Any, template: str, **context: Any
    ) -> LLMRequest:
        """The ``{pid}:{call}`` request: ``template`` rendered with ``context``."""
        from preference_dissect.llm import LLMRequest

        return LLMRequest(
            key=f"{pid}:{call}",
            messages=self.prompts.messages(template, **context),
            schema=schema,
            version=self.request_version,
        )

    def stage1_requests(self, records: list[dict[str, Any]]) -> list[LLMRequest]:
        """Reference answer and query check for every pair."""

        out = []
        for r in records:
            pid = r["pair_id"]
            out.append(self._request(pid, "reference", None, "reference", **r))
            out.append(self._request(pid, "query_check", QueryCheck, "query_check", **r))
        return out

    def stage2_requests(
        self,
        records: list[dict[str, Any]],
        references: dict[str, str | None],
        checks: dict[str, QueryCheck | None],
    ) -> list[LLMRequest]:
        """Ratings, relevance, errors and (when triggered) conditional calls."""

        out = []
        hidden = self._prompt_attrs(self.hidden)
        shown = self._prompt_attrs(self.shown)
        for r in records:
            pid = r["pair_id"]
            out.append(
                self._request(pid, "ratings", self.hidden_schema, "ratings", attributes=hidden, **r)
            )
            out.append(
                self._request(
                    pid, "relevance", self.shown_schema, "relevance", attributes=shown, **r
                )
            )
            out.append(
                self._request(
                    pid, "errors", ErrorCheck, "errors", reference=references.get(pid), **r
                )
            )
            check = checks.get(pid)
            asks = self._asks(check) if check is not None else ()
            if asks:
                out.append(
                    self._request(
                        pid,
                        "conditional",
                        conditional_schema(asks),
                        "conditional",
                        asks=[a[0] for a in asks],
                        constraints=check.constraints,
                        stances=check.stances,
                        mistakes=check.mistakes,
                        **r,
                    )
                )
        return out

    def _asks(self, check: QueryCheck) -> tuple[tuple[str, int, int, int, bool], ...]:
        """The triggered conditional attributes: name, item count, scale, per item or not
        (trigger, ``per_item`` and ``scale`` come from the attribute set's YAML)."""
        flags = query_flags(check)
        asks = []
        for attr in self.conditional:
            if flags.get(attr.trigger or ""):
                items = getattr(check, attr.per_item) if attr.per_item else []
                low, high = self.attribute_set.scale_of(attr)
                asks.append((attr.name, len(items), int(low), int(high), bool(attr.per_item)))
        return tuple(asks)

    def planned_requests(self, pairs: pd.DataFrame) -> list[LLMRequest]:
        """Stage 1 exactly; stage 2 approximated (no reference text, nothing triggered)."""
        records = pair_records(pairs)
        return self.stage1_requests(records) + self.stage2_requests(records, {}, {})

    # -- run ------------------------------------------------------------------------------
    def annotate(self, pairs: pd.DataFrame, engine: LLMEngine | None = None) -> pd.DataFrame:
        """Run both stages and return the annotations table."""
        if engine is None:
            raise ValueError("gair29 needs an LLM engine")
        records = pair_records(pairs)
        stage1 = engine.run(self.stage1_requests(records), description="gair29 stage 1/2")
        by_key = {res.key: res for res in stage1}
        references: dict[str, str | None] = {}
        checks: dict[str, QueryCheck | None] = {}
        for r in records:
            pid = r["pair_id"]
            ref = by_key[f"{pid}:reference"]
            # a reference cut at max_tokens is still a useful reference
            usable = ref.na_reason in (None, "truncated") and bool(ref.text)
            references[pid] = ref.text if usable else None
            parsed, _ = result_value(by_key[f"{pid}:query_check"])
            checks[pid] = parsed
        stage2 = engine.run(
            self.stage2_requests(records, references, checks), description="gair29 stage 2/2"
        )
        by_key.update({res.key: res for res in stage2})
        buf = RowBuffer()
        for r in records:
            self._rows(buf, r, by_key, references)
        return buf.frame(self.name)

    # -- rows -----------------------------------------------------------------------------
    def _rows(
        self,
        buf: RowBuffer,
        r: dict[str, Any],
        by_key: dict[str, LLMResult],
        references: dict[str, str | None],
    ) -> None:
        pid = r["pair_id"]
        self._rating_rows(buf, pid, by_key[f"{pid}:ratings"], self.hidden)
        self._rating_rows(buf, pid, by_key[f"{pid}:relevance"], self.shown)
        self._error_rows(buf, pid, by_key[f"{pid}:errors"], references.get(pid) is not None)
        check_result = by_key[f"{pid}:query_check"]
        check, reason = result_value(check_result)
        self._query_rows(buf, pid, check, reason, check_result)
        self._conditional_rows(buf, pid, check, reason, by_key.get(f"{pid}:conditional"))
        for attr in self.rule:
            for side in SIDES:
                buf.add(
                    pid, attr.name, side, word_count(r[f"response_{side}"]), raw={"unit": "words"}
                )

    def _rating_rows(self, buf: RowBuffer, pid: str, result: LLMResult, attrs: list[Any]) -> None:
        parsed, reason = result_value(result)
        for attr in attrs:
            rated = self._rated_name(attr)
            for side in SIDES:
                if parsed is None:
                    buf.add_failed(pid, attr.name, side, reason, result.na_reason, result.detail)
                else:
                    value = getattr(getattr(parsed, f"response_{side}"), rated)
                    raw = {"rated_as": rated} if rated != attr.name else None
                    buf.add(pid, attr.name, side, value, raw=raw)

    def _error_rows(self, buf: RowBuffer, pid: str, result: LLMResult, has_reference: bool) -> None:
        parsed, reason = result_value(result)
        for side in SIDES:
            if parsed is None:
                for attr in self.errors:
                    buf.add_failed(pid, attr.name, side, reason, result.na_reason, result.detail)
                continue
            check = getattr(parsed, f"response_{side}")
            raw = {
                "applicable": check.applicable,
                "errors": [e.model_dump() for e in check.errors],
                "reference": has_reference,
            }
            for attr in self.errors:
                if not check.applicable:
                    buf.add(pid, attr.name, side, None, "not_applicable", raw=raw)
                else:
                    count = sum(1 for e in check.errors if e.severity == attr.severity)
                    buf.add(pid, attr.name, side, count, raw=raw)

    def _query_rows(
        self,
        buf: RowBuffer,
        pid: str,
        check: QueryCheck | None,
        reason: str | None,
        result: LLMResult,
    ) -> None:
        if check is None:
            for flag in QUERY_FLAGS:
                buf.add_failed(pid, flag, "query", reason, result.na_reason, result.detail)
            return
        flags = query_flags(check)
        lists = {
            "w_constraints": check.constraints,
            "w_stances": check.stances,
            "w_mistakes": check.mistakes,
        }
        for flag in QUERY_FLAGS:
            raw = {"items": lists[flag]} if flag in lists else None
            buf.add(pid, flag, "query", flags[flag], raw=raw)

    def _conditional_rows(
        self,
        buf: RowBuffer,
        pid: str,
        check: QueryCheck | None,
        check_reason: str | None,
        result: LLMResult | None,
    ) -> None:
        flags = query_flags(check) if check is not None else {}
        parsed, reason = result_value(result) if result is not None else (None, None)
        for attr in self.conditional:
            for side in SIDES:
                if check is None:
                    buf.add(
                        pid, attr.name, side, None, check_reason, raw={"upstream": "query_check"}
                    )
                elif not flags.get(attr.trigger or ""):
                    buf.add(pid, attr.name, side, None, "not_triggered")
                elif parsed is None:
                    engine_reason = result.na_reason if result is not None else None
                    detail = result.detail if result is not None else None
                    buf.add_failed(pid, attr.name, side, reason, engine_reason, detail)
                else:
                    answer = getattr(parsed, attr.name)
                    if attr.per_item:
                        items = getattr(check, attr.per_item)
                        ratings = [getattr(x, f"response_{side}") for x in answer]
                        value = float(np.mean(ratings)) if ratings else None
                        raw = {"items": items, "ratings": ratings}
                        buf.add(
                            pid,
                            attr.name,
                            side,
                            value,
                            None if ratings else "not_triggered",
                            raw=raw,
                        )
                    else:
                        buf.add(pid, attr.name, side, getattr(answer, f"response_{side}"))
