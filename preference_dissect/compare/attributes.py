"""Attribute specs for the comparator, read from attribute-set YAML files."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from preference_dissect.compare.rules import PAIRWISE_RULES, RULES
from preference_dissect.errors import InputError
from preference_dissect.registry import load_resource, resolve


@dataclass(frozen=True)
class AttributeSpec:
    """How one attribute becomes a +1/0/-1 feature.

    Attributes
    ----------
    name : str
        Feature column name (the YAML ``name``).
    compare : str
        Comparison rule (a key of :data:`preference_dissect.compare.rules.RULES`, or a
        pairwise rule for A/B/similar verdicts).
    kind : str
        ``rating``, ``errors``, ``conditional``, ``rule``, ``pairwise``...
    trigger : str or None
        Query-check flag that activates a conditional attribute.
    aliases : tuple of str
        Other names the annotator may use for it (``rated_as``).
    attribute_set : str
        Name of the attribute set it comes from (= the ``annotator`` column value).
    """

    name: str
    compare: str
    kind: str
    trigger: str | None
    aliases: tuple[str, ...]
    attribute_set: str


def _load_set(attribute_set: Any) -> tuple[dict[str, Any], str | None]:
    if isinstance(attribute_set, dict):
        return attribute_set, None
    if hasattr(attribute_set, "model_dump"):  # an annotators.AttributeSet (pydantic model)
        return attribute_set.model_dump(exclude_none=True), None
    if isinstance(attribute_set, (str, os.PathLike)):
        path = resolve("attribute_sets", attribute_set)
        return load_resource("attribute_sets", attribute_set), str(path)
    raise InputError(f"attribute set must be a name, path or mapping, got {attribute_set!r}")


def attribute_specs(attribute_sets: Any) -> list[AttributeSpec]:
    """Return the attribute specs of one or several attribute sets, in YAML order.

    Parameters
    ----------
    attribute_sets : str, path, dict, AttributeSet, or a list of them
        Bundled set names (``gair29``, ``rules``...), YAML paths, already-loaded mappings, or
        :class:`preference_dissect.annotate.attribute_sets.AttributeSet` objects.

    Returns
    -------
    list of AttributeSpec

    Raises
    ------
    InputError
        A set without attributes, an attribute without a name, an unknown ``compare`` rule,
        or the same attribute name in two sets.
    """
    items = attribute_sets if isinstance(attribute_sets, (list, tuple)) else [attribute_sets]
    specs: list[AttributeSpec] = []
    seen: dict[str, str] = {}
    for item in items:
        data, file = _load_set(item)
        if not isinstance(data, dict) or not isinstance(data.get("attributes"), list):
            raise InputError(
                "attribute set has no 'attributes' list", file=file, field="attributes"
            )
        set_name = str(data.get("name") or (item if isinstance(item, str) else "custom"))
        for i, attr in enumerate(data["attributes"]):
            if not isinstance(attr, dict) or not attr.get("name"):
                raise InputError("attribute without a name", file=file, row=i + 1, field="name")
            name = str(attr["name"])
            compare = str(attr.get("compare") or "sign")
            if compare not in RULES and compare not in PAIRWISE_RULES:
                known = ", ".join([*RULES, *PAIRWISE_RULES])
                raise InputError(
                    f"attribute {name!r} has unknown compare rule {compare!r} (use {known})",
                    file=file,
                    row=i + 1,
                    field="compare",
                )
            if name in seen:
                raise InputError(
                    f"attribute {name!r} appears in both {seen[name]!r} and {set_name!r}",
                    file=file,
                    field="name",
                )
            seen[name] = set_name
            aliases = tuple(str(a) for a in [attr.get("rated_as")] if a)
            specs.append(
                AttributeSpec(
                    name=name,
                    compare=compare,
                    kind=str(attr.get("kind") or "rating"),
                    trigger=attr.get("trigger"),
                    aliases=aliases,
                    attribute_set=set_name,
                )
            )
    return specs
