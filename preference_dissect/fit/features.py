"""Read and validate a features table (docs/artifacts.md section 3) for fitting.

A features table has one row per (pair, judge, group): ``pair_id``, ``judge``, ``group``,
``y`` and then one column per attribute holding -1, 0 or 1. Tables written by other tools
(CSV or parquet) are accepted as long as they follow that shape.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.io import read_table

KEY_COLUMNS = ("pair_id", "judge", "group", "y")
#: columns with this prefix are continuous covariates (e.g. the comparator's z-scored Arena
#: style covariates), exempt from the -1/0/1 rule
CONTINUOUS_PREFIX = "style_"
NA_POLICIES = ("error", "drop", "zero")
FEATURE_VALUES = (-1.0, 0.0, 1.0)


@dataclass
class FeatureTable:
    """A validated features table.

    Attributes
    ----------
    frame : pandas.DataFrame
        Key columns (``pair_id``, ``judge``, ``group`` as str, ``y`` as float) followed by the
        attribute columns (float, each -1, 0 or 1).
    attributes : list of str
        Attribute column names, in file order (``style_*`` columns are continuous covariates).
    dropped_rows : int
        Rows removed by ``na="drop"``.
    controls : list of str
        The control covariates the comparison recorded (``attrs["report"]["controls"]``).
    """

    frame: pd.DataFrame
    attributes: list[str]
    dropped_rows: int = 0
    controls: list[str] = field(default_factory=list)

    @property
    def judges(self) -> list[str]:
        """Judges in order of first appearance."""
        return list(self._order[0])

    @property
    def groups(self) -> list[str]:
        """Groups in order of first appearance."""
        return list(self._order[1])

    @functools.cached_property
    def _order(self) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Judges and groups in order of first appearance (read once: the frame is large)."""
        return tuple(
            tuple(dict.fromkeys(self.frame[column].tolist())) for column in ("judge", "group")
        )

    def select(
        self, judges: list[str] | None = None, groups: list[str] | None = None
    ) -> FeatureTable:
        """Return the table restricted to some judges and/or groups (unknown names are errors)."""
        frame = self.frame
        for column, wanted, known in (
            ("judge", judges, self.judges),
            ("group", groups, self.groups),
        ):
            if not wanted:
                continue
            missing = [w for w in wanted if w not in known]
            if missing:
                raise InputError(
                    f"unknown {column} {missing[0]!r} (known: {', '.join(known[:20])})",
                    field=column,
                )
            frame = frame[frame[column].isin(wanted)]
        return FeatureTable(
            frame.reset_index(drop=True), list(self.attributes), self.dropped_rows,
            list(self.controls),
        )  # fmt: skip

    def cells(self) -> dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]:
        """Return ``{(judge, group): (xmat, y)}`` with xmat of shape (n, n_attributes)."""
        out: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]] = {}
        values = self.frame[self.attributes].to_numpy(dtype=float)
        y = self.frame["y"].to_numpy(dtype=float)
        for key, index in self.frame.groupby(["judge", "group"], sort=False).indices.items():
            out[(str(key[0]), str(key[1]))] = (values[index], y[index])
        return out


def read_features(path: str | os.PathLike[str], *, na: str = "error") -> FeatureTable:
    """Read a features CSV/parquet file and validate it (see :func:`validate_features`).

    Error rows are counted as a person counts them: in a CSV file the header is row 1, so
    the first record is row 2; in parquet the first record is row 1.
    """
    path = Path(path)
    first = 2 if path.suffix.lower() == ".csv" else 1
    return validate_features(read_table(path), file=path, na=na, first_row=first)


def _first_bad(mask: np.ndarray) -> int:
    return int(np.flatnonzero(mask)[0])


def _numeric_column(
    frame: pd.DataFrame, column: str, file: str | os.PathLike[str] | None, first_row: int
) -> np.ndarray:
    raw = frame[column]
    values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    not_numbers = np.isnan(values) & raw.notna().to_numpy()
    if not_numbers.any():
        i = _first_bad(not_numbers)
        raise InputError(
            f"{raw.iloc[i]!r} is not a number", file=file, row=i + first_row, field=column
        )
    return values


def _check_keys(frame: pd.DataFrame, file: Any, first_row: int) -> None:
    for column in ("pair_id", "judge", "group"):
        raw = frame[column]
        empty = raw.isna().to_numpy() | (raw.astype(str).str.strip() == "").to_numpy()
        if empty.any():
            raise InputError(
                "is missing or empty", file=file, row=_first_bad(empty) + first_row, field=column
            )


def _apply_na(
    numeric: dict[str, np.ndarray], attributes: list[str], na: str, file: Any, first_row: int
) -> np.ndarray:
    """Rows to keep after the NA policy (attribute NaNs set to 0 in place for ``zero``)."""
    columns = ("y", *attributes)
    missing = np.column_stack([np.isnan(numeric[c]) for c in columns])
    if not missing.any():
        return np.ones(missing.shape[0], dtype=bool)
    if na == "drop":
        return ~missing.any(axis=1)
    check = missing if na == "error" else missing[:, :1]
    if check.any():
        i = int(np.flatnonzero(check.any(axis=1))[0])
        column = columns[int(np.flatnonzero(check[i])[0])]
        hint = "" if column == "y" else " (use --na drop or --na zero)"
        raise InputError(f"missing value{hint}", file=file, row=i + first_row, field=column)
    for c in attributes:
        numeric[c] = np.nan_to_num(numeric[c], nan=0.0)
    return np.ones(missing.shape[0], dtype=bool)


def _check_values(
    numeric: dict[str, np.ndarray], attributes: list[str], keep: np.ndarray, file: Any, first: int
) -> None:
    y = numeric["y"]
    bad = keep & ((y < 0) | (y > 1))
    if bad.any():
        i = _first_bad(bad)
        raise InputError(f"y must lie in [0, 1], got {y[i]:g}", file=file, row=i + first, field="y")
    for c in attributes:
        if c.startswith(CONTINUOUS_PREFIX):
            bad = keep & ~np.isfinite(numeric[c])
            if bad.any():
                i = _first_bad(bad)
                raise InputError("must be a finite number", file=file, row=i + first, field=c)
            continue
        bad = keep & ~np.isin(numeric[c], FEATURE_VALUES)
        if bad.any():
            i = _first_bad(bad)
            raise InputError(
                f"attribute value must be -1, 0 or 1, got {numeric[c][i]:g}",
                file=file,
                row=i + first,
                field=c,
            )


def validate_features(
    frame: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
    na: str = "error",
    first_row: int = 1,
) -> FeatureTable:
    """Check a features table and return it as a :class:`FeatureTable`.

    Parameters
    ----------
    frame : pandas.DataFrame
        The raw table.
    file : str or PathLike, optional
        Its path, for error messages.
    na : {"error", "drop", "zero"}
        What to do with missing values: raise naming the row and column, drop the rows, or
        set missing attribute values to 0 (a missing ``y`` is always an error unless dropped).
    first_row : int
        How a person numbers the first record in error messages (2 for a CSV file, whose
        header is row 1).

    Notes
    -----
    ``y`` may be any value in [0, 1]: 0/1 verdicts, ties as 0.5 (``--ties half``) or soft
    labels; the logistic likelihood treats a fractional ``y`` as a fractional Bernoulli
    outcome (``y log p + (1 - y) log(1 - p)``, a soft-label cross-entropy). Attribute values
    must be -1, 0 or 1, except in columns named ``style_*`` (continuous
    covariates), which only need to be finite numbers.

    Raises
    ------
    InputError
        Missing columns, no attribute columns, ``y`` or attribute values out of range, missing
        values (with ``na="error"``), duplicate (pair_id, judge, group) rows, an empty table.
    """
    if na not in NA_POLICIES:
        raise InputError(f"unknown NA policy {na!r} (use one of {', '.join(NA_POLICIES)})")
    for column in KEY_COLUMNS:
        if column not in frame.columns:
            raise InputError("required column is missing", file=file, field=column)
    attributes = [str(c) for c in frame.columns if c not in KEY_COLUMNS]
    recorded = (frame.attrs.get("report") or {}).get("controls") or []
    if not attributes:
        raise InputError(
            "no attribute columns (expected columns after pair_id/judge/group/y)", file=file
        )
    if len(frame) == 0:
        raise InputError("the features table has no rows", file=file)
    frame = frame.rename(columns={c: str(c) for c in frame.columns}).reset_index(drop=True)
    _check_keys(frame, file, first_row)
    numeric = {c: _numeric_column(frame, c, file, first_row) for c in ("y", *attributes)}
    keep = _apply_na(numeric, attributes, na, file, first_row)
    _check_values(numeric, attributes, keep, file, first_row)
    keys = pd.DataFrame(
        {
            "pair_id": frame["pair_id"].astype(str).to_numpy(),
            "judge": frame["judge"].astype(str).str.strip().to_numpy(),
            "group": frame["group"].astype(str).str.strip().to_numpy(),
            "y": numeric["y"],
        }
    )
    dup = keys.duplicated(subset=["pair_id", "judge", "group"]).to_numpy() & keep
    if dup.any():
        raise InputError(
            "duplicate (pair_id, judge, group) row",
            file=file,
            row=_first_bad(dup) + first_row,
            field="pair_id",
        )
    values = pd.DataFrame({c: numeric[c] for c in attributes}, index=keys.index)
    out = pd.concat([keys, values], axis=1)[keep].reset_index(drop=True)
    if len(out) == 0:
        raise InputError("no rows left after dropping rows with missing values", file=file)
    return FeatureTable(out, attributes, int((~keep).sum()), [str(c) for c in recorded])
