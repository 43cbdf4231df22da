"""The attribute sets the comparator applies, as :class:`Compared` views of the one attribute-set
model (:class:`preference_dissect.annotate.attribute_sets.AttributeSet`).

The comparison rule, measurement kind, trigger and aliases of every attribute come from its
set's YAML (``compare``, ``kind``, ``trigger``, ``rated_as``); nothing is hard-coded here.
"""

from __future__ import annotations

import os
from typing import Any, NamedTuple

from preference_dissect.annotate.attribute_sets import (
    AttributeSet,
    AttributeSpec,
    load_attribute_set,
    parse_attribute_set,
)
from preference_dissect.compare.rules import PAIRWISE_RULES, RULES
from preference_dissect.errors import InputError


class Compared(NamedTuple):
    """One attribute as the comparator sees it: its set's name and its spec."""

    set_name: str
    spec: AttributeSpec

    @property
    def name(self) -> str:
        """Feature column name."""
        return self.spec.name

    @property
    def compare(self) -> str:
        """Comparison rule (``sign`` when the YAML names none)."""
        return self.spec.compare or "sign"

    @property
    def kind(self) -> str:
        """How the attribute is measured (``rating`` when the YAML names none)."""
        return self.spec.kind or "rating"

    @property
    def trigger(self) -> str | None:
        """The query-check flag that activates a conditional attribute."""
        return self.spec.trigger

    @property
    def aliases(self) -> tuple[str, ...]:
        """Other names an annotator writes for it (``rated_as``)."""
        return (self.spec.rated_as,) if self.spec.rated_as else ()


def as_attribute_set(item: Any) -> AttributeSet:
    """An :class:`AttributeSet` from a set, a mapping, a bundled name or a YAML path."""
    if isinstance(item, AttributeSet):
        return item
    if isinstance(item, dict):
        return parse_attribute_set(item)
    if isinstance(item, (str, os.PathLike)):
        return load_attribute_set(item)
    raise InputError(
        f"attribute set must be a name, path, mapping or AttributeSet, got {item!r}",
        field="attribute_set",
    )


def compared_attributes(attribute_sets: Any) -> list[Compared]:
    """Every attribute of one or several attribute sets, in YAML order.

    Raises
    ------
    InputError
        A compare rule the comparator does not know, or the same attribute in two sets.
    """
    items = attribute_sets if isinstance(attribute_sets, (list, tuple)) else [attribute_sets]
    out: list[Compared] = []
    seen: dict[str, str] = {}
    for item in items:
        aset = as_attribute_set(item)
        file = aset.file
        for i, spec in enumerate(aset.attributes):
            entry = Compared(aset.name, spec)
            if entry.compare not in RULES and entry.compare not in PAIRWISE_RULES:
                known = ", ".join([*RULES, *PAIRWISE_RULES])
                raise InputError(
                    f"attribute {spec.name!r} has unknown compare rule {entry.compare!r} "
                    f"(use {known})",
                    file=file,
                    row=i + 1,
                    field="compare",
                )
            if spec.name in seen:
                raise InputError(
                    f"attribute {spec.name!r} appears in both {seen[spec.name]!r} and "
                    f"{aset.name!r}",
                    file=file,
                    field="name",
                )
            seen[spec.name] = aset.name
            out.append(entry)
    return out
