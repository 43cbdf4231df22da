"""Scenario classifier: GAIR's 11 scenario groups from Auto-J's fine scenarios.

Two ways to label a query with a fine scenario (then mapped to its group through
``annotators/classifier/taxonomy.yaml``):

LLM
    one call per query (:data:`TEMPLATE`): the model picks one fine label from the taxonomy
    (the schema is a closed list, so out-of-list answers are re-asked).
offline
    ordered keyword / regex rules in ``annotators/classifier/rules.yaml`` (first
    match wins; see that file), on the last user message and then the earlier ones. Used
    when no model is configured. A heuristic (44% group accuracy on held-out Auto-J
    queries): pairs it labels carry ``meta.scenario_method = "rules"`` and the report says
    which groups come from it.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from preference_dissect.annotate.base import compute_version, pair_records, result_value
from preference_dissect.annotate.schemas import scenario_schema
from preference_dissect.definitions import classifier_file, read_yaml, taxonomy
from preference_dissect.prompts import Prompts

if TYPE_CHECKING:  # pragma: no cover
    from preference_dissect.llm import LLMEngine, LLMRequest

#: The classifier's definition (``annotators/classifier``) and its prompt.
CLASSIFIER = "classifier"
TEMPLATE = "scenario"


@dataclass(frozen=True)
class Taxonomy:
    """Scenario groups and their fine scenarios."""

    groups: dict[str, tuple[str, ...]]

    @property
    def labels(self) -> tuple[str, ...]:
        """Every fine scenario label, in taxonomy order."""
        return tuple(label for labels in self.groups.values() for label in labels)

    @functools.cached_property
    def group_of(self) -> dict[str, str]:
        """Fine label -> group."""
        return {label: g for g, labels in self.groups.items() for label in labels}


def load_taxonomy() -> Taxonomy:
    """The bundled GAIR group taxonomy (``annotators/classifier/taxonomy.yaml``)."""
    return Taxonomy({str(g): tuple(v) for g, v in taxonomy()["groups"].items()})


@dataclass(frozen=True)
class _Rule:
    scenario: str
    patterns: tuple[re.Pattern[str], ...]
    whole: bool


@functools.cache
def _load_rules() -> tuple[tuple[_Rule, ...], int, str, str]:
    path = classifier_file("rules")
    data = read_yaml(path)
    group_of = load_taxonomy().group_of
    rules = []
    for entry in data["rules"]:
        if entry["scenario"] not in group_of:
            raise ValueError(f"{path}: unknown scenario {entry['scenario']!r}")
        pats = tuple(re.compile(p, re.IGNORECASE | re.MULTILINE) for p in entry["patterns"])
        rules.append(_Rule(entry["scenario"], pats, entry.get("scope", "head") == "all"))
    return tuple(rules), int(data["head_chars"]), data["fallback_question"], data["fallback"]


def _match(text: str) -> tuple[str, str] | None:
    rules, head_chars, _, _ = _load_rules()
    text = (text or "").replace("\u2019", "'")
    head = text[:head_chars]
    for rule in rules:
        target = text if rule.whole else head
        for pat in rule.patterns:
            if pat.search(target):
                return rule.scenario, pat.pattern
    return None


def classify_offline(query: str, earlier: Sequence[str] = ()) -> tuple[str, str | None]:
    """Fine scenario of one conversation by the offline rules; also the matching pattern.

    The user's last message is tried first; when no rule matches it (a follow-up such as
    "make it shorter"), the earlier user messages ``earlier`` are tried, latest first, so a
    multi-turn conversation is classified by the request that set its task. Without any
    match: ``open_question`` if the last message asks something, else ``default``.
    """
    _, _, fallback_q, fallback = _load_rules()
    for text in (query, *reversed(list(earlier))):
        found = _match(text)
        if found is not None:
            return found
    return (fallback_q if "?" in (query or "") else fallback), None


def earlier_user_turns(conversation: Any) -> list[str]:
    """The user messages of a pair's earlier turns, in order."""
    turns = list(conversation) if conversation is not None else []
    return [str(t.get("content") or "") for t in turns if t.get("role") == "user"]


def classifier_prompts() -> Prompts:
    """The classifier's prompts (its folder, then the shared ones)."""
    return Prompts.of_annotator(CLASSIFIER)


def classifier_version() -> str:
    """Version of the LLM classifier prompt + taxonomy (cache key part)."""
    import hashlib

    prompts = classifier_prompts().fingerprint(("conversation", TEMPLATE))
    payload = json.dumps(load_taxonomy().groups, sort_keys=True)
    digest = hashlib.sha256(payload.encode()).hexdigest()[:6]
    return compute_version("scenario", None, prompts) + digest


def scenario_requests(pairs: pd.DataFrame) -> list[LLMRequest]:
    """One classification request per pair."""
    from preference_dissect.llm import LLMRequest

    groups_taxonomy = load_taxonomy()
    schema = scenario_schema(groups_taxonomy.labels)
    version = classifier_version()
    prompts = classifier_prompts()
    groups = {g: list(v) for g, v in groups_taxonomy.groups.items()}
    return [
        LLMRequest(
            key=f"{r['pair_id']}:scenario",
            messages=prompts.messages(TEMPLATE, groups=groups, **r),
            schema=schema,
            version=version,
        )
        for r in pair_records(pairs)
    ]


def classify_pairs(
    pairs: pd.DataFrame, engine: LLMEngine | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Set ``scenario`` to the GAIR group of each pair; record the fine label in ``meta``.

    With an engine, the LLM picks the fine label; a pair whose call fails falls back to the
    offline rules (``meta.scenario_method`` says which). Without an engine, offline rules only.
    The engine's budget gate (:meth:`LLMEngine.preflight`) runs first: an estimate above
    ``max_cost_usd`` raises :class:`~preference_dissect.errors.CostCapError` before any call
    (unless ``allow_partial``).

    Returns
    -------
    (pairs, summary)
        The updated pair table and ``{"method", "groups": {group: n}, "fallbacks": n}``.
    """
    taxonomy = load_taxonomy()
    out = pairs.copy()
    fine: list[str] = []
    methods: list[str] = []
    llm: dict[str, str] = {}
    failures: dict[str, int] = {}
    if engine is not None:
        requests = scenario_requests(out)
        engine.preflight(requests)
        results = engine.run(requests, description="classifying scenarios")
        for res in results:
            parsed, reason = result_value(res)
            if parsed is not None:
                llm[res.key.rsplit(":", 1)[0]] = parsed.scenario
            else:
                failures[reason or "parse_failed"] = failures.get(reason or "parse_failed", 0) + 1
    columns = (out["pair_id"].tolist(), out["prompt"].tolist(), out["conversation"].tolist())
    for pid, query, conversation in zip(*columns, strict=True):
        if pid in llm:
            fine.append(llm[pid])
            methods.append("llm")
        else:
            fine.append(classify_offline(query, earlier_user_turns(conversation))[0])
            methods.append("rules")
    metas = []
    for meta_text, old, label, method in zip(
        out["meta"].tolist(), out["scenario"].tolist(), fine, methods, strict=True
    ):
        meta = json.loads(meta_text) if isinstance(meta_text, str) and meta_text else {}
        if old is not None and "source_scenario" not in meta and old != taxonomy.group_of[label]:
            meta["source_scenario"] = old
        meta["scenario_fine"] = label
        meta["scenario_method"] = method
        metas.append(json.dumps(meta, ensure_ascii=False))
    out["scenario"] = [taxonomy.group_of[f] for f in fine]
    out["meta"] = metas
    counts = pd.Series(out["scenario"]).value_counts()
    summary = {
        "method": "llm" if engine is not None else "rules",
        "pairs": len(out),
        "groups": {str(k): int(v) for k, v in counts.items()},
        "fallbacks": int(sum(m == "rules" for m in methods)) if engine is not None else 0,
        "llm_failures": failures,
    }
    return out, summary


#: When to classify: ``always``, ``never``, or ``auto`` (only a source without scenarios).
POLICIES = ("auto", "always", "never")


def needs_classification(pairs: pd.DataFrame, policy: str = "auto") -> bool:
    """Whether pairs are classified under ``policy`` (``auto``: when none has a scenario)."""
    if policy not in POLICIES:
        from preference_dissect.errors import InputError

        raise InputError(
            f"unknown classify policy {policy!r} (valid: {', '.join(POLICIES)})", field="classify"
        )
    return policy == "always" or (policy == "auto" and not pairs["scenario"].notna().any())
