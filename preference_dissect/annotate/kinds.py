"""The annotator kinds: how an attribute set is annotated, chosen by its YAML ``mode``.

Built-in kinds: ``rules`` (offline heuristics), ``gair`` (GAIR's protocol), ``gair_released``
(GAIR's released annotations, read from the pairs), ``rating`` (per-response ratings) and
``pairwise`` (A / B / similar in both orders). A plug-in adds a
kind by registering an :class:`~preference_dissect.annotate.base.Annotator` subclass::

    from preference_dissect.plugins import register_annotator_kind

    @register_annotator_kind("my_kind")
    class MyAnnotator(Annotator): ...

and an attribute-set YAML with ``mode: my_kind`` then uses it (``--annotator FILE``).
"""

from __future__ import annotations

import os

from preference_dissect.annotate.attribute_sets import attribute_set_names, load_attribute_set
from preference_dissect.annotate.base import Annotator
from preference_dissect.registry import Registry

#: Attribute-set ``mode`` -> :class:`Annotator` subclass (called with the attribute set).
ANNOTATOR_KINDS: Registry[type[Annotator]] = Registry(
    "annotator kind",
    "mode",
    builtins=(
        "preference_dissect.annotate.rules",
        "preference_dissect.annotate.gair29",
        "preference_dissect.annotate.gair_released",
        "preference_dissect.annotate.rating",
        "preference_dissect.annotate.pairwise",
    ),
)


def annotator_names() -> list[str]:
    """The bundled annotators accepted by :func:`get_annotator` besides paths."""
    return attribute_set_names()


def get_annotator(name_or_path: str | os.PathLike[str]) -> Annotator:
    """The annotator of a bundled attribute set, an annotator folder or an attribute-set YAML.

    The set's ``mode`` picks the kind (:data:`ANNOTATOR_KINDS`); a user's copy of a bundled
    folder (``annotators/gair29`` with edited prompts) is used as it is.

    Raises
    ------
    InputError
        Unknown name or mode (listing the valid ones), a missing file, or an invalid set (one
        line naming the file, attribute row and field).
    """
    aset = load_attribute_set(name_or_path)
    kind = ANNOTATOR_KINDS.get(aset.mode, file=aset.file)
    return kind(aset)
