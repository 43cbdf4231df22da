"""Read the comparator's inputs: annotation tables and extra judge-label files."""

from __future__ import annotations

import os

import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset


def read_annotations(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a long annotation table (parquet or CSV) written by ``prefdissect annotate``, or
    a ratings table (``pair_id`` and ``<attribute>_a`` / ``<attribute>_b`` columns; CSV,
    parquet or JSON lines) as the annotations of annotator ``human``
    (:mod:`preference_dissect.compare.ratings`).

    Raises
    ------
    InputError
        The file is missing, unreadable or empty, or a ratings table is malformed (naming the
        row and column).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "ratings.csv"
    >>> _ = path.write_text("pair_id,clear_a,clear_b\\np1,3,1\\n")
    >>> read_annotations(path)[["annotator", "side", "value"]].values.tolist()
    [['human', 'a', 3.0], ['human', 'b', 1.0]]
    """
    from preference_dissect.compare.ratings import (
        is_ratings_table,
        ratings_to_annotations,
        read_rows,
    )

    df = read_rows(path)
    if df.empty:
        raise InputError("annotation table has no rows", file=path)
    if is_ratings_table(list(df.columns)):
        return ratings_to_annotations(df, file=path)
    return df


def add_labels(
    dataset: PairDataset,
    labels: pd.DataFrame,
    *,
    file: str | os.PathLike[str] | None = None,
) -> PairDataset:
    """Return ``dataset`` with the judge labels of ``labels`` added.

    Labels of a judge already in the dataset are replaced by the new ones for that judge
    (:func:`preference_dissect.judges.merge.merge_labels`).

    Raises
    ------
    InputError
        The label table breaks the schema or names a pair_id absent from the pair table.
    """
    from preference_dissect.judges.merge import merge_labels
    from preference_dissect.load.schema import REQUIRED_LABEL_COLUMNS, normalise_labels

    for col in REQUIRED_LABEL_COLUMNS:
        if col not in labels.columns:
            raise InputError("required column is missing", file=file, field=col)
    return merge_labels(dataset, normalise_labels(labels), file=file)


def open_dataset(source: str | os.PathLike[str]) -> PairDataset:
    """Open a pair dataset: a canonical pairs parquet (+ labels sidecar) or any loader SOURCE.

    Parameters
    ----------
    source : str or path
        ``pairs.parquet`` written by ``prefdissect load``, or anything
        :func:`preference_dissect.load.load_source` accepts (``bundled:NAME``, a raw file...).
    """
    from pathlib import Path

    import pyarrow.parquet as pq

    from preference_dissect.load.schema import REQUIRED_PAIR_COLUMNS, read_dataset

    path = Path(source)
    if path.suffix == ".parquet" and path.is_file():
        try:
            names = set(pq.read_schema(path).names)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable parquet file ({exc})", file=path) from None
        if set(REQUIRED_PAIR_COLUMNS) <= names:
            return read_dataset(path)
    try:
        from preference_dissect.load import load_source
    except ImportError:
        raise InputError(
            "cannot read this source: give a pairs parquet written by 'prefdissect load'",
            file=source,
        ) from None
    return load_source(str(source))


def is_label_table(path: str | os.PathLike[str]) -> bool:
    """Return True if ``path`` is a parquet label table (``judge``, ``winner``, no texts)."""
    from pathlib import Path

    import pyarrow.parquet as pq

    p = Path(path)
    if p.suffix != ".parquet" or not p.is_file():
        return False
    try:
        names = set(pq.read_schema(p).names)
    except (OSError, ValueError):
        return False
    return {"judge", "winner"} <= names and "response_a" not in names


def open_judged(
    source: str | os.PathLike[str],
    *,
    pairs: str | os.PathLike[str] | None = None,
    labels: str | os.PathLike[str] | None = None,
) -> PairDataset:
    """Open a judged pair set for ``audit`` / ``export``.

    Parameters
    ----------
    source : str or path
        A pair set (see :func:`open_dataset`) or a labels parquet from ``prefdissect judge``
        (then ``pairs`` is needed; its labels are merged into the pair set's own labels and
        its judges are listed in ``info["labels_file_judges"]``).
    pairs : str or path, optional
        The pair set a labels-file ``source`` refers to.
    labels : str or path, optional
        Extra labels merged into the pair set (a judge already there is replaced).
    """
    from preference_dissect.io import read_table

    if is_label_table(source):
        if not pairs:
            raise InputError(
                "a labels file needs --pairs PAIRS.parquet (the pair set it labels)", file=source
            )
        table = read_table(source)
        dataset = add_labels(open_dataset(pairs), table, file=source)
        dataset.info["labels_file_judges"] = list(dict.fromkeys(table["judge"].tolist()))
    else:
        if pairs:
            raise InputError("--pairs is only used when the input is a labels file", field="pairs")
        dataset = open_dataset(source)
    if labels:
        dataset = add_labels(dataset, read_table(labels), file=labels)
    return dataset
