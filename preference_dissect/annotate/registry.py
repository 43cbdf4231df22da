"""One registry of annotators: a name (``rules``, ``gair29``, ``sharma24``) or a YAML path.

A YAML attribute set is annotated according to its ``mode``: ``rating`` (per-response
ratings), ``pairwise`` (A / B / similar in both orders), ``gair`` (GAIR protocol) or
``rules`` (offline heuristics; a subset of ``rules.yaml``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from preference_dissect.annotate.attribute_sets import AttributeSet, load_attribute_set
from preference_dissect.annotate.base import Annotator
from preference_dissect.errors import InputError


def _rules(aset: AttributeSet | None = None) -> Annotator:
    from preference_dissect.annotate.rules import RulesAnnotator

    return RulesAnnotator(aset)


def _gair(aset: AttributeSet | None = None) -> Annotator:
    from preference_dissect.annotate.gair29 import Gair29Annotator

    return Gair29Annotator(aset)


def _pairwise(aset: AttributeSet) -> Annotator:
    from preference_dissect.annotate.pairwise import PairwiseAnnotator

    return PairwiseAnnotator(aset)


def _rating(aset: AttributeSet) -> Annotator:
    from preference_dissect.annotate.rating import RatingAnnotator

    return RatingAnnotator(aset)


#: Attribute-set ``mode`` -> annotator factory.
BY_MODE: dict[str, Callable[[AttributeSet], Annotator]] = {
    "rules": _rules,
    "gair": _gair,
    "pairwise": _pairwise,
    "rating": _rating,
}

#: Built-in annotator names -> bundled attribute set.
ANNOTATORS = {"rules": "rules", "gair29": "gair29", "sharma24": "sharma24"}


def annotator_names() -> list[str]:
    """Names accepted by :func:`get_annotator` besides YAML paths."""
    return list(ANNOTATORS)


def get_annotator(name_or_path: str | os.PathLike[str]) -> Annotator:
    """Return the annotator for a built-in name or a custom attribute-set YAML path.

    Raises
    ------
    InputError
        Unknown name, missing file or an invalid attribute set (one line naming the
        file, attribute row and field).
    """
    text = str(name_or_path)
    if text in ANNOTATORS:
        aset = load_attribute_set(ANNOTATORS[text])
    else:
        p = Path(text)
        if p.suffix.lower() not in (".yaml", ".yml") and not p.exists():
            raise InputError(
                f"unknown annotator {text!r} "
                f"(use {', '.join(ANNOTATORS)} or an attribute-set .yaml file)"
            )
        aset = load_attribute_set(p)
        if aset.mode == "gair":
            raise InputError(
                "mode 'gair' is reserved for the bundled gair29 set (use rating or pairwise)",
                file=p,
                field="mode",
            )
        if aset.mode == "rules":
            from preference_dissect.annotate.rules import measure

            unknown = [a for a in aset.names if a not in measure("")[0]]
            if unknown:
                row = aset.names.index(unknown[0]) + 1
                raise InputError(
                    f"rules sets can only use the measured attributes, not {unknown[0]!r}",
                    file=p,
                    row=row,
                    field="name",
                )
    return BY_MODE[aset.mode](aset)
