"""Discovering attributes: let an LLM propose what explains a judge, and keep what survives a
Bayesian fit and a held-out check (:func:`discover`, = ``prefdissect discover``)."""

from preference_dissect.discover._discover import discover, explained_by_fit

__all__ = ["discover", "explained_by_fit"]
