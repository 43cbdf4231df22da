"""Pairs in: :func:`load` (any source) and :func:`from_frame` (a DataFrame in memory)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.load.schema import PairDataset


def load(
    source: str,
    *,
    format: str | None = None,
    limit: int | None = None,
    mapping: dict[str, Any] | None = None,
    seed: int = 0,
) -> PairDataset:
    """Load preference pairs and their judges' labels.

    Parameters
    ----------
    source : str
        A file or folder path, ``bundled:NAME`` (``hh-rlhf``, ``pandalm``, ``llmbar``,
        ``alpaca-eval``, ``arena``...) or ``hf:ORG/NAME[:subset][@split]`` (online only).
        A ``.parquet`` written by :func:`save_pairs` or ``prefdissect load`` is read back.
    format : str, optional
        A registered format (``preference_dissect.plugins.LOADERS``); sniffed when omitted.
    limit : int, optional
        Keep the first ``limit`` pairs.
    mapping : dict, optional
        Column mapping for a generic table (``{"prompt": "question", "chosen": "good", ...}``).
    seed : int
        Seed of the random A/B placement of chosen/rejected sources (hh-rlhf).

    Returns
    -------
    PairDataset
        ``.pairs`` (one row per pair) and ``.labels`` (one row per judge verdict).

    Raises
    ------
    InputError
        A source that cannot be read, naming the file, row and field; an unknown format,
        listing the valid ones.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> pairs = pdx.load("bundled:hh-rlhf", limit=50)
    >>> len(pairs.pairs), pairs.judges
    (50, ['human'])
    """
    from preference_dissect.load import load_source
    from preference_dissect.load.schema import read_dataset

    if str(source).endswith(".parquet") and format is None and not mapping:
        dataset = read_dataset(source)
        return dataset if limit is None else dataset.head(limit)
    return load_source(str(source), format, limit, mapping, seed=seed)


def from_frame(
    frame: pd.DataFrame,
    mapping: dict[str, Any] | None = None,
    *,
    seed: int = 0,
) -> PairDataset:
    """Pairs from a DataFrame in memory, columns named by ``mapping`` (the generic loader).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per pair.
    mapping : dict, optional
        ``{key: column}`` with keys ``prompt``, ``chosen`` + ``rejected`` (a human preference,
        placed A/B at random) or ``response_a`` + ``response_b`` with ``winner`` (``a``,
        ``b``, ``tie``...), and optional ``pair_id``, ``scenario``, ``model_a``, ``model_b``,
        ``gold``, ``judge``, ``p_a``, ``conversation``, ``winner.JUDGE`` (one column per
        judge); ``winner_values`` may map the frame's own verdict values. Columns named
        like the keys need no mapping.
    seed : int
        Seed of the A/B placement for chosen/rejected.

    Returns
    -------
    PairDataset

    Raises
    ------
    InputError
        A missing or bad column, naming ``frame``, the row (1 = the first) and the column.

    Examples
    --------
    >>> import pandas as pd
    >>> import preference_dissect as pdx
    >>> df = pd.DataFrame({"q": ["Hi?", "2+2?"], "good": ["Hello!", "4"], "bad": ["No.", "5"]})
    >>> ds = pdx.from_frame(df, {"prompt": "q", "chosen": "good", "rejected": "bad"})
    >>> ds.labels["judge"].tolist()
    ['human', 'human']
    """
    from preference_dissect.load.common import Records
    from preference_dissect.load.generic import load_generic

    if not isinstance(frame, pd.DataFrame):
        from preference_dissect.errors import InputError

        raise InputError(f"must be a pandas DataFrame, got {type(frame).__name__}", field="frame")
    mapping = dict(mapping or {})
    winner_values = mapping.pop("winner_values", None)
    records = Records(frame.reset_index(drop=True), np.arange(1, len(frame) + 1), "frame")
    return load_generic(records, mapping, seed=seed, winner_values=winner_values)


def save_pairs(pairs: PairDataset, path: Any) -> Any:
    """Write a pair dataset as ``pairs.parquet`` (+ its labels sidecar), atomically.

    Returns
    -------
    pathlib.Path
        The written file; :func:`load` reads it back.
    """
    from preference_dissect.load.schema import write_dataset

    return write_dataset(_dataset(pairs, "pairs"), path)


def _dataset(value: Any, name: str) -> PairDataset:
    """``value`` as a PairDataset (a pair table alone has no labels)."""
    if isinstance(value, PairDataset):
        return value
    if isinstance(value, pd.DataFrame):
        return PairDataset(value)
    from preference_dissect.errors import InputError

    raise InputError(
        f"must be a PairDataset (from load or from_frame), got {type(value).__name__}",
        field=name,
    )
