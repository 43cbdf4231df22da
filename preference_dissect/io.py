"""Atomic file writing and table reading shared by every stage.

Nothing is ever half-written: writers produce a temporary file beside the target and
rename it into place only when it is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from preference_dissect.errors import InputError


@contextlib.contextmanager
def atomic_path(target: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, target)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def write_parquet(df: pd.DataFrame, target: str | os.PathLike[str]) -> Path:
    """Write ``df`` to parquet atomically and return the target path."""
    with atomic_path(target) as tmp:
        df.to_parquet(tmp, index=False)
    return Path(target)


def write_text(text: str, target: str | os.PathLike[str]) -> Path:
    """Write UTF-8 text atomically."""
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def write_json(obj: Any, target: str | os.PathLike[str]) -> Path:
    """Write JSON (indented, UTF-8) atomically."""
    return write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", target)


def _read_errors() -> tuple[type[BaseException], ...]:
    """What reading a damaged table file raises: I/O and Arrow errors, and the KeyError /
    TypeError of pandas metadata that is garbled."""
    import pyarrow as pa

    return (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError, pa.ArrowException)


def read_parquet(
    path: str | os.PathLike[str], *, what: str = "not a readable parquet file"
) -> pd.DataFrame:
    """Read a parquet file, turning any failure of a damaged file into :class:`InputError`.

    Parameters
    ----------
    path : path
        The file.
    what : str
        The start of the message; the reader's own explanation follows in parentheses.
    """
    try:
        frame = pd.read_parquet(path)
    except _read_errors() as exc:
        raise InputError(f"{what} ({exc})", file=path) from None
    _check_arrow_columns(frame, path, what)
    return frame


def _check_arrow_columns(frame: pd.DataFrame, path: str | os.PathLike[str], what: str) -> None:
    """Fully validate Arrow-backed columns (a damaged file can hold text that is not UTF-8,
    which pyarrow reads without complaint and fails on later, far from the file)."""
    import pyarrow as pa

    for col in frame.columns:
        arrow = getattr(frame[col].array, "_pa_array", None)
        if arrow is None:
            continue
        try:
            arrow.validate(full=True)
        except pa.ArrowException as exc:
            raise InputError(f"{what} ({exc})", file=path, field=str(col)) from None


def read_table(path: str | os.PathLike[str]) -> pd.DataFrame:
    """Read a parquet or CSV table, turning read failures into :class:`InputError`."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.stat().st_size == 0:
        raise InputError("file is empty", file=path)
    try:
        if path.suffix.lower() == ".csv":
            return pd.read_csv(path)
        return pd.read_parquet(path)
    except _read_errors() as exc:
        raise InputError(f"cannot read table ({type(exc).__name__}: {exc})", file=path) from None
