"""The plug-in points of preference-dissect, in one place.

Each function registers one entry from any module (a user's file, or a package found through
the ``preference_dissect.plugins`` entry-point group); the CLI and the Python API then accept
its name wherever they accept a built-in one:

:func:`register_loader`
    a source format (``load(..., format=NAME)``, ``--format NAME``), with its sniffer;
:func:`register_annotator_kind`
    how an attribute set is annotated (an attribute-set YAML's ``mode:``); an attribute set
    itself needs no code: it is one YAML file (``annotate(..., annotator=PATH)``);
:func:`register_prior` / :func:`register_likelihood`
    a prior family (``prior="NAME:SCALE"``) or a likelihood (``likelihood="NAME"``);
:func:`register_report_section`
    a section of ``report.html``;
:func:`register_stage` (+ :func:`register_artifact` for what it writes)
    a stage of the main job (``run``).

See ``docs/extending.md`` for a complete example of each.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from preference_dissect.annotate.attribute_sets import AttributeSet
from preference_dissect.annotate.base import Annotator, RowBuffer
from preference_dissect.annotate.kinds import ANNOTATOR_KINDS
from preference_dissect.artifacts import ARTIFACTS, ArtifactSpec, register_artifact
from preference_dissect.fit.families import LIKELIHOODS, PRIORS, Likelihood, PriorFamily
from preference_dissect.load.common import content_ids
from preference_dissect.load.registry import LOADERS, LoadRequest, Target, register_loader
from preference_dissect.load.schema import PairDataset
from preference_dissect.registry import PLUGIN_GROUP, Registry, load_plugins
from preference_dissect.report.registry import SECTIONS, register_report_section
from preference_dissect.stages import STAGES, RunContext, Stage

__all__ = [
    "ANNOTATOR_KINDS",
    "ARTIFACTS",
    "LIKELIHOODS",
    "LOADERS",
    "PLUGIN_GROUP",
    "PRIORS",
    "SECTIONS",
    "STAGES",
    "Annotator",
    "ArtifactSpec",
    "AttributeSet",
    "Likelihood",
    "LoadRequest",
    "PairDataset",
    "PriorFamily",
    "Registry",
    "RowBuffer",
    "RunContext",
    "Stage",
    "Target",
    "content_ids",
    "load_plugins",
    "register_annotator_kind",
    "register_artifact",
    "register_likelihood",
    "register_loader",
    "register_prior",
    "register_report_section",
    "register_stage",
]

K = TypeVar("K", bound=type)


def register_annotator_kind(name: str) -> Callable[[K], K]:
    """Class decorator: an :class:`Annotator` subclass becomes the annotator of attribute sets
    whose YAML says ``mode: NAME``.

    Examples
    --------
    >>> from preference_dissect.plugins import Annotator, register_annotator_kind
    >>> @register_annotator_kind("doc_example_kind")
    ... class Lengthy(Annotator):
    ...     needs_llm = False
    """
    return ANNOTATOR_KINDS.register(name)


def register_prior(name: str) -> Callable[[K], K]:
    """Class decorator: a :class:`PriorFamily` subclass becomes the prior ``NAME[:SCALE]``.

    Examples
    --------
    >>> import numpy as np
    >>> from preference_dissect.plugins import PriorFamily, register_prior
    >>> @register_prior("doc_example_prior")
    ... class Flat(PriorFamily):
    ...     def log_density(self, w, scale):
    ...         return np.zeros(len(w))
    """
    return PRIORS.register(name)


def register_likelihood(name: str) -> Callable[[K], K]:
    """Class decorator: a :class:`Likelihood` subclass becomes the likelihood ``NAME``."""
    return LIKELIHOODS.register(name)


def register_stage(name: str) -> Callable[[K], K]:
    """Class decorator: a :class:`Stage` subclass becomes a stage of the main job, run in its
    ``order`` (the built-ins use 10-90 in steps of 10)."""
    return STAGES.register(name)
