"""Attribute sets: the YAML files that say what an annotator measures.

A set is a YAML mapping (``annotators/<name>/annotator.yaml`` when bundled, or any user path)::

    name: my_set                 # annotator name written to the annotations table
    description: what the set is for
    mode: rating                 # rating: each response rated on `scale`
                                 # pairwise: "which response is more X?" asked in both orders
    scale: [0, 3]                # default rating scale (rating mode)
    query_shown: true            # default: may the annotator see the query?
    attributes:
      - name: concise            # identifier: letters, digits, underscores
        definition: "Says what is needed in few words."
        scale: [1, 5]            # optional per-attribute scale
        query_shown: false       # optional per-attribute override
        compare: sign            # how the comparator turns two values into +1/0/-1:
                                 # sign, negated_sign, fewer, irrelevance, length_rule, or
                                 # ratio ((a - b) / (a + b) of counts, Arena's normalisation)

Every file is validated with pydantic; a bad file raises a one-line
:class:`~preference_dissect.errors.InputError` naming the file, the attribute
(``row`` = 1-based attribute index) and the field.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from preference_dissect.definitions import annotator_file, annotator_names, read_yaml
from preference_dissect.errors import InputError

NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")


def _check_name(v: str) -> str:
    """Validator body shared by attribute and set names."""
    if not NAME_PATTERN.match(v):
        raise ValueError("must start with a letter and hold only letters, digits and underscores")
    return v


def _check_scale(v: tuple[float, float] | None) -> tuple[float, float] | None:
    """Validator body shared by attribute and set scales (``None``: no own scale)."""
    if v is not None and not v[0] < v[1]:
        raise ValueError("must be [low, high] with low < high")
    return v


class AttributeSpec(BaseModel):
    """One attribute of a set (see the module docstring for the YAML form)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    definition: str = Field(min_length=1)
    label: str | None = None
    kind: Literal["rating", "errors", "conditional", "rule", "count", "pairwise"] | None = None
    compare: (
        Literal["sign", "negated_sign", "irrelevance", "fewer", "length_rule", "ratio", "pairwise"]
        | None
    ) = None
    scale: tuple[float, float] | None = None
    query_shown: bool | None = None
    rated_as: str | None = None
    severity: Literal["minor", "moderate", "severe"] | None = None
    trigger: str | None = None
    per_item: str | None = None
    unit: str | None = None
    source: str | None = None

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("scale")
    @classmethod
    def _scale_ordered(cls, v: tuple[float, float] | None) -> tuple[float, float] | None:
        return _check_scale(v)


class AttributeSet(BaseModel):
    """A validated attribute set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str = ""
    #: How the set is annotated: a registered annotator kind (``rating``, ``pairwise``,
    #: ``gair``, ``rules`` or a plug-in's); checked when the annotator is made.
    mode: str = "rating"
    scale: tuple[float, float] = (0, 3)
    query_shown: bool = True
    batch_size: int = Field(default=8, ge=1, le=64)
    notes: str | None = None
    attributes: list[AttributeSpec] = Field(min_length=1)
    #: The annotator.yaml (or attribute-set YAML file) the set was read from.
    _file: Path | None = PrivateAttr(default=None)

    @field_validator("name")
    @classmethod
    def _set_name(cls, v: str) -> str:
        return _check_name(v)

    @field_validator("scale")
    @classmethod
    def _scale_ordered(cls, v: tuple[float, float]) -> tuple[float, float]:
        return _check_scale(v)

    @model_validator(mode="after")
    def _unique_names(self) -> AttributeSet:
        seen: set[str] = set()
        for attr in self.attributes:
            if attr.name in seen:
                raise ValueError(f"duplicate attribute name {attr.name!r}")
            seen.add(attr.name)
        return self

    @property
    def names(self) -> list[str]:
        """Attribute names in set order."""
        return [a.name for a in self.attributes]

    def get(self, name: str) -> AttributeSpec:
        """Return the attribute called ``name``."""
        for attr in self.attributes:
            if attr.name == name:
                return attr
        raise KeyError(name)

    def scale_of(self, attr: AttributeSpec) -> tuple[float, float]:
        """The rating scale of one attribute (its own, else the set's)."""
        return attr.scale if attr.scale is not None else self.scale

    def shows_query(self, attr: AttributeSpec) -> bool:
        """Whether the annotator sees the query when rating ``attr``."""
        return attr.query_shown if attr.query_shown is not None else self.query_shown

    @property
    def file(self) -> Path | None:
        """The YAML file the set was read from (``None`` for a set built in code)."""
        return self._file

    def fingerprint(self) -> str:
        """A stable hash of the set's content (part of annotator versions)."""
        payload = json.dumps(self.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _location(loc: tuple[Any, ...]) -> tuple[int | None, str | None]:
    """Turn a pydantic error location into (attribute row, field name)."""
    if len(loc) >= 2 and loc[0] == "attributes" and isinstance(loc[1], int):
        row = loc[1] + 1
        field = ".".join(str(p) for p in loc[2:] if not isinstance(p, int)) or "attributes"
        return row, field
    field = ".".join(str(p) for p in loc if not isinstance(p, int)) or None
    return None, field


def parse_attribute_set(data: Any, *, file: str | os.PathLike[str] | None = None) -> AttributeSet:
    """Validate a loaded YAML document as an :class:`AttributeSet`.

    Parameters
    ----------
    data : Any
        The parsed YAML document.
    file : str or PathLike, optional
        The file it came from (for error messages).

    Raises
    ------
    InputError
        On the first problem, naming the file, the attribute (row = 1-based index) and field.
    """
    if not isinstance(data, dict):
        raise InputError(
            "an attribute set must be a YAML mapping with 'name' and 'attributes'", file=file
        )
    try:
        return AttributeSet.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key shows up as "unknown" and "missing": report the typo first.
        err = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
        row, field = _location(tuple(err.get("loc", ())))
        msg = err.get("msg", "invalid value")
        if err.get("type") == "extra_forbidden":
            model = AttributeSpec if row is not None else AttributeSet
            close = difflib.get_close_matches(str(field), list(model.model_fields), n=1)
            msg = "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
        elif err.get("type") == "missing":
            msg = "is required"
        raise InputError(msg, file=file, row=row, field=field) from None


#: ``mode`` values of definitions that are not attribute sets.
NOT_ATTRIBUTE_SETS = ("judge", "classifier")


def load_attribute_set(name_or_path: str | os.PathLike[str]) -> AttributeSet:
    """Load an attribute set: a bundled annotator name (``gair29``), an annotator folder, or
    a user's attribute-set YAML file.

    Raises
    ------
    InputError
        Unknown name (listing the bundled sets), missing or invalid file (one line naming the
        file, attribute row and field), or a definition that is not an attribute set.
    """
    path = annotator_file(name_or_path)
    data = read_yaml(path)
    if isinstance(data, dict) and data.get("mode") in NOT_ATTRIBUTE_SETS:
        sets = ", ".join(attribute_set_names())
        raise InputError(
            f"{data.get('name')!r} is the {data['mode']}, not an attribute set (use {sets} or "
            "an attribute-set YAML file)",
            file=path,
            field="mode",
        )
    aset = parse_attribute_set(data, file=path)
    aset._file = path
    return aset


def attribute_set_names() -> list[str]:
    """The bundled annotators that are attribute sets (``gair29``, ``rules``, ``sharma24``)."""
    out = []
    for name in annotator_names():
        data = read_yaml(annotator_file(name))
        if isinstance(data, dict) and data.get("mode") not in NOT_ATTRIBUTE_SETS:
            out.append(name)
    return out


def attribute_labels() -> dict[str, str]:
    """Plot label of every attribute of the bundled attribute sets (name -> label)."""
    labels: dict[str, str] = {}
    for name in attribute_set_names():
        for attr in load_attribute_set(name).attributes:
            labels.setdefault(attr.name, attr.label or attr.name.replace("_", " "))
    return labels
