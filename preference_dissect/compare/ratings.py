"""Human (or any outside) ratings as an annotations table.

A ratings table has one row per pair: a ``pair_id`` column and, per attribute, the two
responses' ratings as ``<attribute>_a`` and ``<attribute>_b`` (``helpfulness_a``,
``helpfulness_b``...); other columns (and ``response_a`` / ``response_b`` / ``model_a`` /
``model_b``) are ignored. An empty cell is a missing rating. It may be CSV, parquet or JSON
lines (``.jsonl``, ``.json``). :func:`ratings_to_annotations` turns it into the long
annotations table (``side`` ``a`` / ``b``, annotator ``human`` unless named), which
``agreement`` compares with an LLM annotator and ``features`` turns into comparison features
(with an attribute-set YAML whose ``name`` is the annotator's).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError

#: ``_a`` / ``_b`` columns that are pair-table fields, not ratings.
NOT_RATINGS = frozenset({"response", "model"})
_RATING_COLUMN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)_([ab])$")


def rating_attributes(columns: list[str]) -> dict[str, tuple[str, str]]:
    """Attribute -> its (``_a``, ``_b``) columns, in column order; an attribute with only
    one of the two is included with ``""`` for the other.

    Examples
    --------
    >>> rating_attributes(["pair_id", "helpful_a", "helpful_b", "response_a", "notes"])
    {'helpful': ('helpful_a', 'helpful_b')}
    """
    found: dict[str, dict[str, str]] = {}
    for col in columns:
        match = _RATING_COLUMN.match(str(col))
        if match and match.group(1) not in NOT_RATINGS:
            found.setdefault(match.group(1), {})[match.group(2)] = str(col)
    return {a: (s.get("a", ""), s.get("b", "")) for a, s in found.items()}


def is_ratings_table(columns: list[str]) -> bool:
    """True when ``columns`` are a ratings table's, not a long annotations table's."""
    long = {"attribute", "side", "value"} <= set(columns)
    return not long and bool(rating_attributes(columns))


def _bad_row(mask: pd.Series) -> int:
    return int(np.flatnonzero(mask.to_numpy())[0])


def _check_pair_ids(table: pd.DataFrame, file: str | os.PathLike[str] | None) -> None:
    if "pair_id" not in table.columns:
        raise InputError("required column is missing", file=file, field="pair_id")
    ids = table["pair_id"]
    empty = ids.isna() | (ids.astype(str).str.strip() == "")
    if empty.any():
        raise InputError("pair_id is empty", file=file, row=_bad_row(empty) + 1, field="pair_id")
    dup = ids.duplicated()
    if dup.any():
        i = _bad_row(dup)
        raise InputError(f"duplicate pair_id {ids.iloc[i]!r} (one row per pair)", file=file,
                         row=i + 1, field="pair_id")  # fmt: skip


def _numeric(table: pd.DataFrame, col: str, file: str | os.PathLike[str] | None) -> np.ndarray:
    raw = table[col]
    text = raw.astype(str).str.strip() if raw.dtype == object else raw
    blank = raw.isna() | (text == "") if raw.dtype == object else raw.isna()
    values = pd.to_numeric(raw.where(~blank), errors="coerce")
    bad = values.isna() & ~blank
    if bad.any():
        i = _bad_row(bad)
        raise InputError(f"rating {raw.iloc[i]!r} is not a number", file=file, row=i + 1,
                         field=col)  # fmt: skip
    return values.to_numpy(float)


def ratings_to_annotations(
    table: pd.DataFrame,
    *,
    annotator: str = "human",
    file: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """A ratings table (see the module docstring) as the long annotations table.

    Parameters
    ----------
    table : pandas.DataFrame
        ``pair_id`` and ``<attribute>_a`` / ``<attribute>_b`` columns, one row per pair.
    annotator : str
        The ``annotator`` column of the result.
    file : path, optional
        Named in errors.

    Returns
    -------
    pandas.DataFrame
        ``pair_id, annotator, attribute, side, value, na_reason, raw``: per pair, attribute
        and side one row; a missing rating is NaN with ``na_reason`` ``not_rated``.

    Raises
    ------
    InputError
        No ``pair_id`` column, an empty or repeated pair_id, no rating columns, an attribute
        with only one side's column, or a rating that is not a number (naming the file, the
        1-based data row and the column).

    Examples
    --------
    >>> import pandas as pd
    >>> rated = pd.DataFrame({"pair_id": ["p1"], "clear_a": [3], "clear_b": [1]})
    >>> ratings_to_annotations(rated)[["attribute", "side", "value"]].values.tolist()
    [['clear', 'a', 3.0], ['clear', 'b', 1.0]]
    """
    from preference_dissect.annotate.base import ANNOTATION_COLUMNS

    _check_pair_ids(table, file)
    attributes = rating_attributes(list(table.columns))
    if not attributes:
        raise InputError("no rating columns (name them <attribute>_a and <attribute>_b)",
                         file=file, field="columns")  # fmt: skip
    parts = []
    ids = table["pair_id"].astype(str).to_numpy()
    for attribute, (col_a, col_b) in attributes.items():
        if not (col_a and col_b):
            missing = f"{attribute}_{'b' if col_a else 'a'}"
            raise InputError("required column is missing (the other side's rating)",
                             file=file, field=missing)  # fmt: skip
        for side, col in (("a", col_a), ("b", col_b)):
            values = _numeric(table, col, file)
            parts.append(pd.DataFrame({"pair_id": ids, "attribute": attribute, "side": side,
                                       "value": values}))  # fmt: skip
    long = pd.concat(parts, ignore_index=True)
    long["annotator"] = annotator
    long["na_reason"] = np.where(np.isnan(long["value"]), "not_rated", None)
    long["raw"] = "{}"
    return long[list(ANNOTATION_COLUMNS)]


def read_rows(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a CSV, parquet or JSON-lines (``.jsonl``, ``.json``) table.

    Raises
    ------
    InputError
        Missing, empty or unreadable, naming the file.
    """
    from preference_dissect.io import read_table

    p = Path(path)
    if p.suffix.lower() not in (".jsonl", ".json"):
        return read_table(p)
    if not p.exists():
        raise InputError("file not found", file=p)
    try:
        return pd.read_json(p, lines=p.suffix.lower() == ".jsonl", dtype=False)
    except ValueError as exc:
        raise InputError(f"cannot read JSON lines ({exc})", file=p) from None


def read_ratings(path: str | os.PathLike[str], *, annotator: str = "human") -> pd.DataFrame:
    """Read a ratings file (see the module docstring) as an annotations table.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ratings.csv"
    >>> _ = path.write_text("pair_id,clear_a,clear_b\\np1,3,1\\n")
    >>> read_ratings(path)["value"].tolist()
    [3.0, 1.0]
    """
    return ratings_to_annotations(read_rows(path), annotator=annotator, file=path)
