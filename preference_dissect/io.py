"""Atomic file writing, output-path checks and table reading shared by every stage.

Nothing is ever half-written: writers produce a temporary file beside the target and
rename it into place only when it is complete; files written together (a pair table and its
labels sidecar) are replaced together or not at all.

Permissions follow the umask like any other program's files: a temporary file is created
with mode ``0o666`` and the kernel takes the umask off (so a umask of 022 gives 0644, 077
gives 0600). The umask is never read with ``os.umask(0); os.umask(old)``, which changes it
for the whole process for a moment, so that a file another thread creates in between would
be world-writable; the mode the kernel gave the new temporary file is simply kept.

Commands check their output paths with :func:`check_output_file` /
:func:`check_output_folder` before any work starts, so a bad ``--out`` is reported at once
rather than after a long fit.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import stat
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from preference_dissect.errors import InputError

PathLike = str | os.PathLike[str]


def _check_creatable(folder: Path, target: Path) -> None:
    """Raise unless ``folder`` exists as a writable folder or can be created."""
    existing = folder
    while not existing.exists() and not existing.is_symlink() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise InputError(f"cannot create its folder: {existing} is a file", file=target)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"cannot write: folder {existing} is not writable", file=target)


def check_output_file(target: PathLike, *, what: str = "--out") -> Path:
    """Check that a file can be written at ``target``; return it as a :class:`Path`.

    Parameters
    ----------
    target : path
        The file to write.
    what : str
        How the message names it (``--out``, ``the labels sidecar of --out``...).

    Raises
    ------
    InputError
        Naming ``target`` when it is a folder (or ends with a slash), exists but is not a
        regular file, or its folder cannot be created or written.
    """
    raw = os.fspath(target)
    path = Path(raw)
    if raw.endswith(("/", os.sep)) or path.is_dir():
        raise InputError(f"{what} is a folder, not a file", file=path)
    if path.exists() and not path.is_file():
        raise InputError(f"{what} is not a regular file", file=path)
    _check_creatable(path.parent, path)
    return path


def check_output_folder(target: PathLike, *, what: str = "--out") -> Path:
    """Check that ``target`` is a writable folder or can be created; return it.

    Raises
    ------
    InputError
        Naming ``target`` when it is a file, or it cannot be created or written.
    """
    path = Path(target)
    if path.exists() and not path.is_dir():
        raise InputError(f"{what} is a file, not a folder", file=path)
    _check_creatable(path if path.exists() else path.parent, path)
    return path


def _new_temp(target: Path) -> tuple[Path, int]:
    """Create an empty temporary file beside ``target``: its path and the mode it got."""
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0)
        while True:
            tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
            try:
                fd = os.open(tmp, flags, 0o666)  # the kernel applies the umask
            except FileExistsError:
                continue
            try:
                mode = stat.S_IMODE(os.fstat(fd).st_mode)
            finally:
                os.close(fd)
            return tmp, mode
    except OSError as exc:
        raise InputError(f"cannot write ({exc.strerror or exc})", file=target) from None


def _backup(target: Path) -> Path:
    """Keep the current ``target`` beside it (a hard link, else a copy) for a roll-back."""
    backup = target.with_name(f".{target.name}.{secrets.token_hex(4)}.bak")
    try:
        os.link(target, backup)
    except OSError:
        shutil.copy2(target, backup)
    return backup


def _undo(done: list[tuple[Path, Path | None]], backups: list[Path]) -> None:
    """Put back what :func:`_commit` replaced; a backup that cannot be restored is kept."""
    for target, backup in reversed(done):
        try:
            if backup is None:
                target.unlink(missing_ok=True)
            else:
                os.replace(backup, target)
        except OSError:
            if backup is not None:
                backups.remove(backup)


def _commit(moves: Sequence[tuple[Path, Path]]) -> None:
    """Rename every temporary file onto its target; all of them or, on failure, none."""
    done: list[tuple[Path, Path | None]] = []
    backups: list[Path] = []
    current = moves[0][1]
    try:
        for tmp, target in moves:
            current = target
            backup = _backup(target) if len(moves) > 1 and target.exists() else None
            if backup is not None:
                backups.append(backup)
            os.replace(tmp, target)
            done.append((target, backup))
    except BaseException as exc:
        _undo(done, backups)
        if isinstance(exc, OSError):
            raise InputError(f"cannot write ({exc.strerror or exc})", file=current) from None
        raise
    finally:
        for backup in backups:
            backup.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_paths(
    targets: Sequence[PathLike], whats: Sequence[str] | None = None
) -> Iterator[list[Path]]:
    """Yield temporary paths beside ``targets``; move them all into place on success.

    The targets are checked first (:func:`check_output_file`). Once the caller has written
    every temporary file, each target is replaced in turn; if one replacement fails, those
    already made are undone (the earlier file restored, or the new one removed), so the
    targets end up all new or all as they were. On any exception the temporary files are
    removed. Each file gets the mode the umask allows (see the module docstring).

    Parameters
    ----------
    targets : sequence of path
        The files to write.
    whats : sequence of str, optional
        How errors name each target (default ``"the output"``).

    Raises
    ------
    InputError
        A target that cannot be written, naming it.
    """
    paths = [Path(t) for t in targets]
    for path, what in zip(paths, whats or ["the output"] * len(paths), strict=True):
        check_output_file(path, what=what)
    temps: list[tuple[Path, int]] = []
    try:
        for path in paths:
            temps.append(_new_temp(path))
        yield [tmp for tmp, _ in temps]
        for tmp, mode in temps:
            os.chmod(tmp, mode)  # in case the writer replaced the file
        _commit([(tmp, path) for (tmp, _), path in zip(temps, paths, strict=True)])
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


@contextlib.contextmanager
def atomic_path(target: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; rename it onto ``target`` on success.

    On any exception the temporary file is removed and ``target`` is left untouched (see
    :func:`atomic_paths`, which this is for one file).
    """
    with atomic_paths([target]) as (tmp,):
        yield tmp


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


def strict_json(obj: Any) -> Any:
    """``obj`` with NaN and infinities as ``None`` (strict JSON has no literal for them) and
    numpy scalars and arrays as Python numbers and lists, recursively."""
    import math

    import numpy as np

    if isinstance(obj, dict):
        return {k: strict_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple | np.ndarray):
        return [strict_json(v) for v in obj]
    if isinstance(obj, np.generic):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


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
