"""Control covariates: attributes the fit adjusts for with a wide prior instead of letting
them compete, under the sparsity prior, with the attributes being dissected (Chatbot Arena's
style control; WIMHF's unpenalised length).

A control is any attribute column of the features table, or an alias: ``length`` (the Arena
covariate ``style_length``) and ``markdown`` (``style_header``, ``style_list``,
``style_bold``); an alias turns the style covariates on. The chosen columns are recorded in
the features table (``attrs["report"]["controls"]``) so that ``fit`` adjusts for them without
being told again.
"""

from __future__ import annotations

from collections.abc import Iterable

from preference_dissect.compare.style import STYLE_FEATURES, STYLE_PREFIX
from preference_dissect.errors import InputError

#: Names that stand for style covariates.
CONTROL_ALIASES: dict[str, tuple[str, ...]] = {
    "length": (STYLE_PREFIX + "length",),
    "markdown": tuple(STYLE_PREFIX + f for f in STYLE_FEATURES if f != "length"),
}


def split_names(names: str | Iterable[str] | None) -> list[str]:
    """``"length,markdown"`` or ``["length", "markdown"]`` -> ``["length", "markdown"]``."""
    if names is None:
        return []
    parts = names.split(",") if isinstance(names, str) else list(names)
    return [str(n).strip() for n in parts if str(n).strip()]


def needs_style(names: Iterable[str]) -> bool:
    """Whether the controls name a style covariate (directly or by an alias)."""
    return any(n in CONTROL_ALIASES or n.startswith(STYLE_PREFIX) for n in names)


def resolve_controls(names: Iterable[str], columns: Iterable[str]) -> list[str]:
    """The attribute columns the control ``names`` stand for, in table order.

    Raises
    ------
    InputError
        A name that is neither an alias nor a column (naming ``controls`` and listing the
        valid choices).
    """
    columns = [str(c) for c in columns]
    wanted: set[str] = set()
    for name in names:
        targets = CONTROL_ALIASES.get(name, (name,))
        missing = [t for t in targets if t not in columns]
        if missing:
            raise InputError(
                f"unknown control {name!r} (valid: {', '.join([*CONTROL_ALIASES, *columns])})",
                field="controls",
            )
        wanted.update(targets)
    return [c for c in columns if c in wanted]
