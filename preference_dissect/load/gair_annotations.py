"""The released annotation columns of GAIR's table (HF ``GAIR/preference-dissection``).

Besides the texts, the labels and the query check, the table carries GAIR's own GPT-4
annotations of both responses (one set of columns per response, ``_1`` = response 1 = side
``a``, ``_2`` = side ``b``):

``basic_response_1`` / ``basic_response_2``
    a struct of 0-3 integer ratings keyed by GAIR's property names (:data:`BASIC_FIELDS`:
    ``admit limitations or mistakes``, ``authoritative tone``, ... ``repetitive`` (rated, the
    feature is its negation), ``relevance without considering inaccuracy``, ...).
``errors_response_1`` / ``errors_response_2``
    the error check: whether it was applicable (``applicable`` / ``not applicable``) and the
    list of errors found, each with a ``severity`` (minor / moderate / severe), a brief
    description and a type. The field names GAIR's code uses for the two parts are all
    accepted (:data:`APPLICABLE_FIELDS`, :data:`ERROR_LIST_FIELDS`).
``query-specific_response_1`` / ``query-specific_response_2``
    the ratings asked only when the query check triggered them (:data:`QUERY_SPECIFIC_FIELDS`):
    ``clarify user intent`` and ``showing empathetic`` (0-3), and per listed item
    ``satisfying explicit constraints`` (0-3), ``supporting explicit subjective stances``
    (:data:`STANCE_LABELS`) and ``correcting explicit mistakes or biases``
    (:data:`CORRECTION_LABELS`); a null field was not asked.

:func:`annotation_columns` says whether a table has them (all six, or none: then the table
loads without annotations, as before); :func:`parse_annotations` checks every value and
returns one plain record per pair, kept in the pair's ``meta["gair_annotations"]`` and turned
into annotation rows by the ``gair_released`` annotator
(:mod:`preference_dissect.annotate.gair_released`, which applies GAIR's comparison rules).
Every problem is one :class:`~preference_dissect.errors.InputError` naming the file, the row
and the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from preference_dissect.errors import InputError
from preference_dissect.load.common import Records, is_missing, plain

#: The six annotation columns, response 1 (side a) then response 2 (side b).
ANNOTATION_COLUMNS = (
    "basic_response_1",
    "basic_response_2",
    "errors_response_1",
    "errors_response_2",
    "query-specific_response_1",
    "query-specific_response_2",
)
#: Column prefix -> the part of the record it fills.
PARTS = {"basic": "ratings", "errors": "errors", "query-specific": "query_specific"}
#: GAIR's 20 rated properties: the fields of ``basic_response_1`` / ``_2``.
BASIC_FIELDS = (
    "admit limitations or mistakes",
    "authoritative tone",
    "clear and understandable",
    "complex word usage and sentence structure",
    "friendly",
    "funny and humorous",
    "grammar, spelling, punctuation, and code-switching",
    "harmlessness",
    "information richness without considering inaccuracy",
    "innovative and novel",
    "interactive",
    "metaphors, personification, similes, hyperboles, irony, parallelism",
    "persuade user",
    "polite",
    "relevance without considering inaccuracy",
    "repetitive",
    "step by step solution",
    "use of direct and explicit supporting materials",
    "use of informal expressions",
    "well formatted",
)
#: Names of the error check's applicability field (the first one present is used).
APPLICABLE_FIELDS = ("applicable to detect errors", "accuracy check", "applicable or not")
#: Names of the error check's list of errors.
ERROR_LIST_FIELDS = ("detected errors", "inaccuracies", "errors")
APPLICABLE_VALUES = {"applicable": True, "not applicable": False}
SEVERITIES = ("minor", "moderate", "severe")
#: GAIR's stance labels, from opposing to supporting.
STANCE_LABELS = (
    "strongly opposed",
    "weakly opposed",
    "neutral",
    "weakly supported",
    "strongly supported",
)
#: GAIR's labels for a query's mistakes or biases, from worst to best.
CORRECTION_LABELS = (
    "neither pointed out nor corrected",
    "pointed out but not corrected",
    "corrected without being pointed out",
    "pointed out and corrected",
)
#: Query-specific field -> how its value is read: a 0-3 rating, or a list (one per item of
#: the query check) of 0-3 ratings or of labels.
QUERY_SPECIFIC_FIELDS: dict[str, tuple[str, tuple[str, ...] | None]] = {
    "clarify user intent": ("rating", None),
    "showing empathetic": ("rating", None),
    "satisfying explicit constraints": ("ratings", None),
    "supporting explicit subjective stances": ("labels", STANCE_LABELS),
    "correcting explicit mistakes or biases": ("labels", CORRECTION_LABELS),
}
#: Keys under which a per-item value may sit when an item is an object.
ITEM_VALUE_KEYS = ("rating", "score", "label", "value")
#: An unknown column that looks like an annotation column (reported when the set is broken).
_ANNOTATION_LIKE = re.compile(r"^(basic|errors?|query[-_ ]?specific)", re.IGNORECASE)


def annotation_columns(rec: Records) -> bool:
    """Whether the table carries GAIR's annotation columns.

    Returns
    -------
    bool
        True when all six :data:`ANNOTATION_COLUMNS` are there, False when none is and no
        other column looks like one.

    Raises
    ------
    InputError
        Some are there, or columns named like them are (``basic_1``, ``errors_response_a``):
        one line naming the file, the missing columns and the annotation-like ones found.
    """
    columns = [str(c) for c in rec.frame.columns]
    present = [c for c in ANNOTATION_COLUMNS if c in columns]
    lookalike = [c for c in columns if c not in ANNOTATION_COLUMNS and _ANNOTATION_LIKE.match(c)]
    if len(present) == len(ANNOTATION_COLUMNS):
        return True
    if not present and not lookalike:
        return False
    missing = [c for c in ANNOTATION_COLUMNS if c not in present]
    found = ", ".join(present + lookalike) or "none"
    raise InputError(
        f"annotation columns {', '.join(missing)} missing (found: {found}); GAIR's table "
        f"has all of {', '.join(ANNOTATION_COLUMNS)}, or none (then an LLM annotator is needed)",
        file=rec.file,
        row=rec.column_row(),
        field=missing[0],
    )


def _as_list(value: Any) -> list[Any] | None:
    """A list from a list, tuple or numpy array (``None`` for anything else)."""
    if isinstance(value, np.ndarray):
        return list(value.tolist())
    if isinstance(value, list | tuple):
        return list(value)
    return None


def _struct(rec: Records, i: int, col: str, value: Any) -> dict[str, Any] | None:
    """The column's object for row ``i``: a struct / dict, JSON text of one, or ``None``."""
    if isinstance(value, str):
        try:
            value = rec.loads(i, col, value)
        except ValueError:
            raise rec.error(i, col, "cannot parse the annotation object (not JSON)") from None
    if is_missing(value):
        return None
    if not isinstance(value, dict):
        raise rec.error(i, col, f"expected an object, got {type(value).__name__}")
    return value


def rating(rec: Records, i: int, field: str, value: Any) -> int | None:
    """A 0-3 integer rating (``2``, ``2.0``, ``"2"``); ``None`` when missing.

    Raises
    ------
    InputError
        Anything else (a boolean, 4, 1.5, "good"), naming the row and field.
    """
    value = plain(value)
    if value is None:
        return None
    number: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    elif isinstance(value, str) and value.strip() in ("0", "1", "2", "3"):
        number = float(value.strip())
    if number is None or not number.is_integer() or not 0 <= number <= 3:
        raise rec.error(i, field, f"rating {value!r} is not an integer from 0 to 3")
    return int(number)


def _ratings(rec: Records, i: int, col: str, obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        raise rec.error(i, col, "no ratings (expected an object of GAIR's 20 rated properties)")
    missing = [f for f in BASIC_FIELDS if f not in obj]
    if missing:
        unknown = [str(k) for k in obj if k not in BASIC_FIELDS]
        found = f" (unknown fields: {', '.join(unknown)})" if unknown else ""
        raise rec.error(i, col, f"missing field(s) {', '.join(missing)}{found}")
    return {f: rating(rec, i, f"{col}.{f}", obj[f]) for f in BASIC_FIELDS}


def _first_key(obj: dict[str, Any], names: Sequence[str]) -> str | None:
    return next((n for n in names if n in obj), None)


def _applicable(rec: Records, i: int, field: str, value: Any) -> bool:
    value = plain(value)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in APPLICABLE_VALUES:
        return APPLICABLE_VALUES[value.strip().lower()]
    raise rec.error(i, field, f"{value!r} is neither 'applicable' nor 'not applicable'")


def _error_item(rec: Records, i: int, field: str, item: Any) -> dict[str, Any]:
    item = plain(item)
    if not isinstance(item, dict):
        raise rec.error(i, field, "expected an error object with a severity")
    severity = item.get("severity")
    if not isinstance(severity, str) or severity.strip().lower() not in SEVERITIES:
        raise rec.error(
            i, f"{field}.severity", f"unknown severity {severity!r} (minor, moderate or severe)"
        )
    description = item.get("brief description", item.get("description"))
    return {
        "severity": severity.strip().lower(),
        "description": None if description is None else str(description),
        "type": None if item.get("type") is None else str(item.get("type")),
    }


def _errors(rec: Records, i: int, col: str, obj: dict[str, Any] | None) -> dict[str, Any]:
    if obj is None:
        raise rec.error(i, col, "no error check (expected applicability and a list of errors)")
    key = _first_key(obj, APPLICABLE_FIELDS)
    list_key = _first_key(obj, ERROR_LIST_FIELDS)
    if key is None or list_key is None:
        need = APPLICABLE_FIELDS if key is None else ERROR_LIST_FIELDS
        found = ", ".join(map(str, obj)) or "none"
        raise rec.error(i, col, f"missing field {' / '.join(need)} (found: {found})")
    applicable = _applicable(rec, i, f"{col}.{key}", obj[key])
    raw = obj[list_key]
    items = [] if is_missing(raw) else _as_list(raw)
    if items is None:
        raise rec.error(i, f"{col}.{list_key}", "expected a list of errors")
    errors = [
        _error_item(rec, i, f"{col}.{list_key}[{k + 1}]", item) for k, item in enumerate(items)
    ]
    return {"applicable": applicable, "errors": errors if applicable else []}


def _item_value(item: Any) -> Any:
    item = plain(item)
    if isinstance(item, dict):
        key = _first_key(item, ITEM_VALUE_KEYS)
        return item.get(key) if key is not None else item
    return item


def _label(rec: Records, i: int, field: str, value: Any, labels: Sequence[str]) -> str:
    if isinstance(value, str) and value.strip().lower() in labels:
        return value.strip().lower()
    raise rec.error(i, field, f"unknown label {value!r} (one of: {', '.join(labels)})")


def _query_value(rec: Records, i: int, field: str, name: str, value: Any) -> Any:
    """One query-specific field: ``None`` (not asked), a rating, or a list per item."""
    kind, labels = QUERY_SPECIFIC_FIELDS[name]
    value = plain(value)
    if value is None:
        return None
    if kind == "rating":
        return rating(rec, i, field, value)
    items = list(value.values()) if isinstance(value, dict) else _as_list(value)
    if items is None:
        raise rec.error(i, field, "expected a list with one value per item of the query check")
    out = []
    for k, item in enumerate(items):
        where, v = f"{field}[{k + 1}]", _item_value(item)
        out.append(rating(rec, i, where, v) if labels is None else _label(rec, i, where, v, labels))
    return out


def _query_specific(rec: Records, i: int, col: str, obj: dict[str, Any] | None) -> dict[str, Any]:
    obj = obj or {}
    unknown = [str(k) for k in obj if k not in QUERY_SPECIFIC_FIELDS]
    if unknown:
        raise rec.error(
            i,
            col,
            f"unknown field(s) {', '.join(unknown)} (expected: {', '.join(QUERY_SPECIFIC_FIELDS)})",
        )
    return {
        name: _query_value(rec, i, f"{col}.{name}", name, obj.get(name))
        for name in QUERY_SPECIFIC_FIELDS
    }


def word_total(rec: Records, i: int, field: str, value: Any) -> int | None:
    """A response's ``num_words``: a whole number >= 0, or ``None`` when missing."""
    value = plain(value)
    if value is None:
        return None
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not float(value).is_integer() or value < 0:
        raise rec.error(i, field, f"num_words {value!r} is not a whole number >= 0")
    return int(value)


_READERS = {"ratings": _ratings, "errors": _errors, "query_specific": _query_specific}


def parse_annotations(
    rec: Records, words: dict[str, list[Any]], flags: list[dict[str, int]]
) -> list[dict[str, Any]]:
    """Check every annotation value and return one record per row.

    Parameters
    ----------
    rec : Records
        The table (with all six :data:`ANNOTATION_COLUMNS`).
    words : dict
        ``{"a": [...], "b": [...]}``: each response's ``num_words`` per row (checked here).
    flags : list of dict
        Per row, the query check's flags (``intent_unclear``, ``express_feeling``,
        ``w_constraints``, ``w_stances``, ``w_mistakes``: 0/1) the table has.

    Returns
    -------
    list of dict
        Per row ``{"a": side, "b": side, "flags": {...}}`` where a side is ``{"ratings":
        {property: 0-3 or None}, "errors": {"applicable": bool, "errors": [{"severity",
        "description", "type"}]}, "query_specific": {field: None, a rating, or a list},
        "words": int or None}``; severities and labels lower-case.

    Raises
    ------
    InputError
        The first bad value: not an object, a missing or unknown field, a rating that is not
        an integer 0-3, an unknown severity or label, a bad applicability or word count.
    """
    values = {c: rec.frame[c].tolist() for c in ANNOTATION_COLUMNS}
    out = []
    for i in range(len(rec.frame)):
        record: dict[str, Any] = {"flags": flags[i]}
        for side, number in (("a", "1"), ("b", "2")):
            part: dict[str, Any] = {}
            for prefix, name in PARTS.items():
                col = f"{prefix}_response_{number}"
                obj = _struct(rec, i, col, values[col][i])
                part[name] = _READERS[name](rec, i, col, obj)
            field = f"response_{number}.num_words"
            part["words"] = word_total(rec, i, field, words[side][i])
            record[side] = part
        out.append(record)
    return out
