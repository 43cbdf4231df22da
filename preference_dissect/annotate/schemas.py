"""Pydantic schemas for every annotator call (ranges enforced, so bad answers are re-asked)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

MAX_ITEMS = 8
MAX_ERRORS = 12
SHORT_TEXT = 300


class QueryCheck(BaseModel):
    """Answer of the GAIR query-check call."""

    model_config = ConfigDict(extra="ignore")

    clear_intent: bool
    expresses_feelings: bool
    constraints: list[Annotated[str, Field(max_length=SHORT_TEXT)]] = Field(max_length=MAX_ITEMS)
    stances: list[Annotated[str, Field(max_length=SHORT_TEXT)]] = Field(max_length=MAX_ITEMS)
    mistakes: list[Annotated[str, Field(max_length=SHORT_TEXT)]] = Field(max_length=MAX_ITEMS)


class ErrorItem(BaseModel):
    """One error found in a response."""

    model_config = ConfigDict(extra="ignore")

    type: str = Field(max_length=80)
    description: str = Field(max_length=SHORT_TEXT)
    severity: Literal["minor", "moderate", "severe"]


class ResponseErrors(BaseModel):
    """Error check of one response."""

    model_config = ConfigDict(extra="ignore")

    applicable: bool
    errors: list[ErrorItem] = Field(max_length=MAX_ERRORS)


class ErrorCheck(BaseModel):
    """Answer of the GAIR error-detection call."""

    model_config = ConfigDict(extra="ignore")

    response_a: ResponseErrors
    response_b: ResponseErrors


@functools.cache
def pair_ratings_schema(
    title: str, names: tuple[str, ...], low: int | float, high: int | float, integer: bool = True
) -> type[BaseModel]:
    """``{"response_a": {name: rating}, "response_b": {...}}`` with ratings in [low, high]."""
    kind = int if integer else float
    rating = Annotated[kind, Field(ge=low, le=high)]
    side = create_model(
        f"{title}Side",
        __config__=ConfigDict(extra="ignore"),
        **{n: (rating, ...) for n in names},
    )
    return create_model(
        title,
        __config__=ConfigDict(extra="ignore"),
        response_a=(side, ...),
        response_b=(side, ...),
    )


@functools.cache
def _item_pair(low: int, high: int) -> type[BaseModel]:
    rating = Annotated[int, Field(ge=low, le=high)]
    suffix = f"{low}to{high}".replace("-", "m")
    return create_model(
        f"PairRating{suffix}",
        __config__=ConfigDict(extra="ignore"),
        response_a=(rating, ...),
        response_b=(rating, ...),
    )


@functools.cache
def conditional_schema(asks: tuple[tuple[str, int, int, int, bool], ...]) -> type[BaseModel]:
    """Schema of a GAIR conditional call.

    ``asks`` holds ``(attribute, n_items, low, high, per_item)``: a per-item attribute
    (``per_item`` in the YAML: constraints, stances, mistakes) answers a list of exactly
    ``n_items`` ``{"response_a", "response_b"}`` ratings; a single one (clarify intent, show
    empathetic) one such object. Ratings lie in the attribute's YAML ``scale`` [low, high].
    """
    fields = {}
    for name, n, low, high, per_item in asks:
        item = _item_pair(low, high)
        if per_item:
            fields[name] = (list[item], Field(min_length=n, max_length=n))
        else:
            fields[name] = (item, ...)
    tag = "_".join(f"{a[0][:3]}{a[1]}" for a in asks)
    return create_model(f"Conditional_{tag}", __config__=ConfigDict(extra="ignore"), **fields)


Verdict = Literal["A", "B", "similar"]


@functools.cache
def pairwise_schema(title: str, names: tuple[str, ...]) -> type[BaseModel]:
    """``{name: "A" | "B" | "similar"}`` for a batch of pairwise features."""
    return create_model(
        title, __config__=ConfigDict(extra="ignore"), **{n: (Verdict, ...) for n in names}
    )


@functools.cache
def scenario_schema(labels: tuple[str, ...]) -> type[BaseModel]:
    """``{"scenario": one of labels}``."""
    return create_model(
        "ScenarioLabel", __config__=ConfigDict(extra="ignore"), scenario=(Literal[labels], ...)
    )


def chunks(items: Sequence[str], size: int) -> list[tuple[str, ...]]:
    """Split ``items`` into consecutive tuples of at most ``size``."""
    return [tuple(items[i : i + size]) for i in range(0, len(items), size)]
