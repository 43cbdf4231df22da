"""Validated settings: the base of every configuration model of the toolkit.

Configurations are pydantic models (:class:`~preference_dissect.llm.config.LLMConfig`,
:class:`~preference_dissect.fit.spec.FitSpec`, :class:`~preference_dissect.config.RunConfig`)
whose defaults are declared once; the CLI flags, the Python API and configuration files all
fill the same model. A bad value is one :class:`~preference_dissect.errors.InputError` naming
the parameter and, for a closed set of choices, listing the valid values.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from preference_dissect.errors import InputError


def first_problem(exc: ValidationError, model: Any = None) -> InputError:
    """The first error of a pydantic validation as a one-line :class:`InputError` (an unknown
    setting lists the valid ones of ``model``)."""
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err.get("loc", ()) if not isinstance(p, int))
    message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
    kind, ctx = err.get("type"), err.get("ctx") or {}
    bounds = {
        "greater_than_equal": ">=",
        "greater_than": ">",
        "less_than_equal": "<=",
        "less_than": "<",
    }
    if kind == "literal_error":
        message = f"must be one of {ctx.get('expected', '')}, got {err.get('input')!r}"
    elif kind in bounds:
        limit = next(iter(ctx.values()), "")
        message = f"must be {bounds[kind]} {limit}, got {err.get('input')!r}"
    elif kind == "string_too_short":
        message = "must not be empty"
    elif kind == "extra_forbidden":
        top = model is not None and "." not in field
        valid = f" (valid: {', '.join(model.model_fields)})" if top else ""
        message = "unknown setting" + valid
    return InputError(message, field=field or None)


class Validated(BaseModel):
    """A frozen pydantic model whose validation errors are one-line :class:`InputError`."""

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise first_problem(exc, type(self)) from None

    def replace(self, **changes: Any) -> Any:
        """A validated copy with some settings changed."""
        return type(self)(**{**self.model_dump(), **changes})
