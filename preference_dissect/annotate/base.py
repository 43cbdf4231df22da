"""The annotator interface and the long annotations table (docs/artifacts.md section 2)."""

from __future__ import annotations

import hashlib
import json
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from preference_dissect.annotate.attribute_sets import AttributeSet
from preference_dissect.definitions import annotator_file, shared_prompts
from preference_dissect.prompts import Prompts

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine, LLMRequest, LLMResult

#: Columns of ``annotations.parquet`` in order.
ANNOTATION_COLUMNS = ("pair_id", "annotator", "attribute", "side", "value", "na_reason", "raw")
SIDES = ("a", "b", "query", "ab", "ba")

#: Bumped when the code that turns model answers into rows changes meaning.
CODE_VERSION = "1"


def empty_annotations() -> pd.DataFrame:
    """Return an empty, correctly typed annotations table."""
    cols = {c: pd.Series(dtype=object) for c in ANNOTATION_COLUMNS}
    cols["value"] = pd.Series(dtype="float64")
    return pd.DataFrame(cols)


def engine_na_reason(reason: str | None) -> str:
    """Map an engine failure reason to the annotations table vocabulary.

    ``invalid_json`` / ``schema_validation`` / ``truncated`` become ``parse_failed``,
    ``http_*`` / transport errors become ``http_error``; ``context_overflow`` (the request does
    not fit the model's context window, whether the server said so in an HTTP 400 or the
    pre-flight check did) stays itself, as does anything else (``cost_cap``...).
    """
    if reason is None:
        return "parse_failed"
    if reason == "context_overflow":
        return reason
    if reason in ("invalid_json", "schema_validation", "truncated", "parse_failed", "empty"):
        return "parse_failed"
    if reason.startswith(("http", "connection", "timeout", "transport")):
        return "http_error"
    return reason


class RowBuffer:
    """Collects annotation rows column-wise and turns them into the table."""

    def __init__(self) -> None:
        self._cols: dict[str, list[Any]] = {c: [] for c in ANNOTATION_COLUMNS if c != "annotator"}

    def add(
        self,
        pair_id: str,
        attribute: str,
        side: str,
        value: float | None,
        na_reason: str | None = None,
        raw: Any = None,
    ) -> None:
        """Add one row; a missing/NaN ``value`` needs an ``na_reason``."""
        v = np.nan if value is None else float(value)
        if math.isnan(v) and na_reason is None:
            na_reason = "parse_failed"
        if not math.isnan(v):
            na_reason = None
        self._cols["pair_id"].append(pair_id)
        self._cols["attribute"].append(attribute)
        self._cols["side"].append(side)
        self._cols["value"].append(v)
        self._cols["na_reason"].append(na_reason)
        self._cols["raw"].append(raw if isinstance(raw, str) else to_raw(raw))

    def add_failed(
        self,
        pair_id: str,
        attribute: str,
        side: str,
        na_reason: str | None,
        engine_reason: Any,
        detail: str | None = None,
    ) -> None:
        """Add an NA row for a failed call, keeping the engine's own reason in ``raw`` (and the
        server's message, e.g. of a ``context_overflow``, as ``raw.detail``)."""
        raw = {"engine_reason": engine_reason}
        if detail:
            raw["detail"] = detail
        self.add(pair_id, attribute, side, None, na_reason, raw=raw)

    def add_many(
        self,
        pair_ids: Sequence[str],
        attribute: str,
        side: str,
        values: Iterable[float],
        raw: str = "{}",
    ) -> None:
        """Add one attribute for many pairs at once (no NA)."""
        vals = [float(v) for v in values]
        n = len(pair_ids)
        self._cols["pair_id"].extend(pair_ids)
        self._cols["attribute"].extend([attribute] * n)
        self._cols["side"].extend([side] * n)
        self._cols["value"].extend(vals)
        self._cols["na_reason"].extend([None] * n)
        self._cols["raw"].extend([raw] * n)

    def frame(self, annotator: str) -> pd.DataFrame:
        """The rows as an annotations table."""
        if not self._cols["pair_id"]:
            return empty_annotations()
        df = pd.DataFrame(self._cols)
        df.insert(1, "annotator", annotator)
        out = df[list(ANNOTATION_COLUMNS)]
        return out.astype({"value": "float64"})


def to_raw(obj: Any) -> str:
    """JSON text for the ``raw`` column (``{}`` for nothing)."""
    if obj is None:
        return "{}"
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, default=str)


def compute_version(name: str, attribute_set: AttributeSet | None, prompts: str = "") -> str:
    """Hash of the annotator name, code version, attribute set and prompt fingerprint (12 hex)
    (see :meth:`preference_dissect.prompts.Prompts.fingerprint`)."""
    h = hashlib.sha256()
    h.update(f"{name}\0{CODE_VERSION}\0".encode())
    if attribute_set is not None:
        h.update(attribute_set.fingerprint().encode())
    h.update(prompts.encode())
    return h.hexdigest()[:12]


def conversation_text(conversation: Any) -> str:
    """Earlier turns as plain text (``""`` when single-turn).

    Side-specific assistant turns (multi-turn comparisons whose histories differ) are
    labelled with the side they belong to.
    """
    if conversation is None:
        return ""
    turns = list(conversation)
    lines = []
    for turn in turns:
        role = str(turn.get("role", "user")).capitalize()
        side = turn.get("side")
        label = f"{role} (conversation {str(side).upper()} only)" if side in ("a", "b") else role
        lines.append(f"{label}: {turn.get('content', '')}")
    return "\n\n".join(lines)


def pair_records(pairs: pd.DataFrame) -> list[dict[str, Any]]:
    """The fields prompts need, one dict per pair."""
    out = []
    for row in pairs[["pair_id", "conversation", "prompt", "response_a", "response_b"]].itertuples(
        index=False
    ):
        out.append(
            {
                "pair_id": row.pair_id,
                "history": conversation_text(row.conversation),
                "query": row.prompt,
                "response_a": row.response_a,
                "response_b": row.response_b,
            }
        )
    return out


class Annotator(ABC):
    """Base class: turns a pair table into annotation rows.

    Attributes
    ----------
    name : str
        Written to the ``annotator`` column.
    attribute_set : AttributeSet
        What is measured.
    needs_llm : bool
        Whether :meth:`annotate` needs an :class:`~preference_dissect.llm.LLMEngine`.
    templates : tuple of str
        Prompt templates used (hashed into :attr:`version`).
    """

    needs_llm: bool = True
    templates: tuple[str, ...] = ()
    #: Which run of a repeated annotation this annotator asks for (0: the main run; see
    #: :meth:`for_repeat`); part of :attr:`request_version`, so every repeat is its own
    #: cache entry.
    repeat: int = 0
    #: Bundled annotators whose prompts this kind falls back to (after the set's own folder).
    default_prompts: tuple[str, ...] = ()

    def __init__(self, attribute_set: AttributeSet) -> None:
        self.attribute_set = attribute_set
        self.name = attribute_set.name
        own = attribute_set.file.parent / "prompts" if attribute_set.file else None
        fallback = [annotator_file(d).parent / "prompts" for d in self.default_prompts]
        self.prompts = Prompts([p for p in (own, *fallback, shared_prompts()) if p])

    @property
    def version(self) -> str:
        """Hash of prompts + attribute set + code version (cache keys and manifests)."""
        return compute_version(
            self.name, self.attribute_set, self.prompts.fingerprint(self.templates)
        )

    @property
    def request_version(self) -> str:
        """The ``version`` of the requests it sends: :attr:`version`, plus ``.repeatR`` for
        repeat ``R`` > 0 (so a re-asked answer is its own cache entry, not run 0's)."""
        return self.version if not self.repeat else f"{self.version}.repeat{self.repeat}"

    def for_repeat(self, repeat: int) -> Annotator:
        """A copy that asks for repeat ``repeat`` (0: the main run).

        Examples
        --------
        >>> from preference_dissect.annotate import get_annotator
        >>> ann = get_annotator("gair29")
        >>> ann.for_repeat(2).request_version == ann.version + ".repeat2"
        True
        """
        import copy

        twin = copy.copy(self)
        twin.repeat = int(repeat)
        return twin

    def prompt_hashes(self) -> dict[str, str]:
        """sha256 of each prompt template's text, for manifests."""
        return self.prompts.hashes(self.templates)

    @abstractmethod
    def annotate(self, pairs: pd.DataFrame, engine: LLMEngine | None = None) -> pd.DataFrame:
        """Annotate ``pairs`` (canonical pair table); return the annotations table."""

    def planned_requests(self, pairs: pd.DataFrame) -> list[LLMRequest]:
        """Requests for a pre-flight estimate (later stages approximated). Empty offline."""
        return []

    def _results_by_key(
        self,
        engine: LLMEngine | None,
        build: Callable[[], list[LLMRequest]],
        description: str,
    ) -> dict[str, LLMResult]:
        """Require an engine, then run the requests ``build()`` makes; the results by key."""
        if engine is None:
            raise ValueError(f"{self.name} needs an LLM engine")
        results = engine.run(build(), description=description)
        return {r.key: r for r in results}


def result_value(result: LLMResult) -> tuple[Any, str | None]:
    """``(parsed, None)`` for a good result, ``(None, na_reason)`` for a failed one."""
    if result.parsed is not None:
        return result.parsed, None
    return None, engine_na_reason(result.na_reason)
