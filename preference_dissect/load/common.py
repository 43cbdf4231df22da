"""Shared pieces of the loaders: reading records with located errors, winner values, building.

Row numbers in errors are 1-based and count what a person sees in the file:

* JSONL (also ``.jsonl.gz``): the line number;
* JSON array: the record (array element) number; JSON syntax errors give the line number;
* CSV: the spreadsheet row, header = row 1, first record = row 2;
* parquet / Hugging Face tables: the record number.

Values parsed from JSON (JSON / JSONL records, and JSON text inside CSV cells) are refused,
with the place named, when they hold a lone UTF-16 surrogate escape (``"\\ud83d"`` without
its partner: half of an emoji cut by an exporter) or are nested more than
:data:`MAX_DEPTH` levels deep. A lone surrogate is an error rather than being replaced
with U+FFFD: replacing it would silently change the texts (and so the content-hash pair
ids) a researcher analyses, while the error names the record and field to fix.
"""

from __future__ import annotations

import gzip
import io
import json
import math
import re
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.schema import (
    PairDataset,
    empty_labels,
    make_pair_id,
    normalise_labels,
    normalise_pairs,
    validate_labels,
    validate_pairs,
)

#: Progress callback: ``progress(done, total, what)``.
Progress = Callable[[int, int, str], None]

_SURROGATE = re.compile("[\udc80-\udcff]")  # undecodable bytes (surrogateescape)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")  # any surrogate left in parsed text
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")  # in raw JSON text
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"(\s*:)?|[\[\]{},]')

#: Deepest nesting of lists / objects accepted in one field of a record (real preference
#: data nests 3-5 levels; far deeper values overflow the recursion of JSON parsing and of
#: the code that stores them).
MAX_DEPTH = 100
TOO_DEEP = f"is nested more than {MAX_DEPTH} levels deep (lists or objects inside each other)"
_BAD_BYTE = "\U000f0000"  # private-use stand-in for undecodable bytes while parsing CSV

#: Spellings of winner values understood everywhere (compared lower-cased and stripped).
WINNER_ALIASES: dict[str, str] = {
    "a": "a",
    "model_a": "a",
    "response_a": "a",
    "response_1": "a",
    "response1": "a",
    "output_1": "a",
    "1": "a",
    "1.0": "a",
    "b": "b",
    "model_b": "b",
    "response_b": "b",
    "response_2": "b",
    "response2": "b",
    "output_2": "b",
    "2": "b",
    "2.0": "b",
    "tie": "tie",
    "draw": "tie",
    "both_bad": "both_bad",
    "bothbad": "both_bad",
    "both bad": "both_bad",
    "tie (bothbad)": "both_bad",
    "tie(bothbad)": "both_bad",
}


@dataclass
class Records:
    """A source table with the row number of each record in the file.

    Attributes
    ----------
    frame : pandas.DataFrame
        One row per record.
    rows : numpy.ndarray
        1-based row number of each record as a person counts it in ``file``.
    file : str
        Where the records come from (a path or ``hf:NAME``), used in error messages.
    header_row : int or None
        The row of the column names (CSV: 1), reported for missing columns.
    """

    frame: pd.DataFrame
    rows: np.ndarray
    file: str
    header_row: int | None = None

    def row(self, i: int) -> int:
        """Return the file row of record ``i`` (0-based)."""
        return int(self.rows[i])

    def column_row(self) -> int:
        """Return the row to report for a missing column."""
        if self.header_row is not None:
            return self.header_row
        return int(self.rows[0]) if len(self.rows) else 1

    def require_columns(self, *columns: str) -> None:
        """Raise :class:`InputError` for the first of ``columns`` that is absent."""
        for col in columns:
            if col not in self.frame.columns:
                known = ", ".join(map(str, self.frame.columns[:20]))
                raise InputError(
                    f"required column is missing (columns: {known})",
                    file=self.file,
                    row=self.column_row(),
                    field=col,
                )

    def error(self, i: int, field: str | None, message: str) -> InputError:
        """Return an :class:`InputError` located at record ``i`` (0-based)."""
        return InputError(message, file=self.file, row=self.row(i), field=field)

    def loads(self, i: int, field: str, text: str) -> Any:
        """``json.loads`` of the text in record ``i``'s ``field`` (see :func:`loads_checked`).

        Text that is not JSON raises :class:`ValueError`; a value nested too deeply or
        holding a lone surrogate raises :class:`InputError` at that row and field.
        """
        return loads_checked(text, file=self.file, row=self.row(i), field=field, depth=1)

    def check_parsed(self, i: int, field: str, value: Any, text: str) -> None:
        """:func:`check_parsed` for a value parsed from record ``i``'s ``field`` text."""
        check_parsed(value, text, file=self.file, row=self.row(i), field=field, depth=1)

    def head(self, limit: int | None) -> Records:
        """Return the first ``limit`` records (all when ``limit`` is None)."""
        if limit is None or limit >= len(self.frame):
            return self
        return Records(
            self.frame.iloc[:limit].reset_index(drop=True),
            self.rows[:limit],
            self.file,
            self.header_row,
        )


# --------------------------------------------------------------------------------------
# values


def is_missing(value: Any) -> bool:
    """Return True for None, NaN and pandas NA."""
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and math.isnan(value)


def as_number(value: Any) -> float | None:
    """A cell as a float (``2``, ``1.5``, ``"2"``); ``None`` when missing, boolean or not a
    number."""
    if is_missing(value) or isinstance(value, bool):
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def int_code(value: Any) -> int | None:
    """A whole-number code from a cell (``2``, ``2.0``, ``"2"``); ``None`` for anything else.

    Missing values and booleans are never codes.
    """
    f = as_number(value)
    return int(f) if f is not None and f.is_integer() else None


def count_blank(series: pd.Series) -> int:
    """Number of empty / white-space-only texts (column-wise for Arrow-backed text)."""
    pa_array = getattr(series.array, "_pa_array", None)
    if pa_array is not None:
        import pyarrow.compute as pc

        from preference_dissect.load.schema import _BLANK

        return int(pc.sum(pc.match_substring_regex(pa_array, _BLANK)).as_py() or 0)
    return sum(isinstance(v, str) and not v.strip() for v in series.tolist())


def text_column(
    rec: Records, col: str, *, allow_empty: bool = False, strip: bool = False
) -> list[str]:
    """Return column ``col`` as a list of strings, raising on missing or non-string values."""
    rec.require_columns(col)
    out = rec.frame[col].tolist()
    for i, v in enumerate(out):
        if is_missing(v):
            raise rec.error(i, col, "value is missing (empty or null)")
        if not isinstance(v, str):
            raise rec.error(i, col, f"must be text, got {type(v).__name__} {v!r:.60}")
        if strip:
            v = out[i] = v.strip()
        if not allow_empty and not v.strip():
            raise rec.error(i, col, "is empty")
    return out


def optional_text_column(rec: Records, col: str) -> list[str | None]:
    """Return column ``col`` (strings or None); all None when the column is absent."""
    if col not in rec.frame.columns:
        return [None] * len(rec.frame)
    out: list[str | None] = []
    for i, v in enumerate(rec.frame[col].tolist()):
        if is_missing(v):
            out.append(None)
        elif isinstance(v, str | int | np.integer):
            out.append(str(v))
        else:
            raise rec.error(i, col, f"must be text, got {type(v).__name__}")
    return out


def normalise_winner(value: Any, extra: dict[str, str] | None = None) -> str | None:
    """Map a winner spelling to a/b/tie/both_bad; None when it is not understood."""
    if isinstance(value, bool | np.bool_):
        return None
    if isinstance(value, int | np.integer | float | np.floating):
        value = float(value)
        key = str(int(value)) if value.is_integer() else str(value)
    else:
        key = str(value).strip().lower()
    if extra:
        for k, v in extra.items():
            if k.strip().lower() == key:
                return v
    return WINNER_ALIASES.get(key)


def winner_column(rec: Records, col: str, extra: dict[str, str] | None = None) -> list[str]:
    """Return column ``col`` as normalised winners, raising on missing or unknown values."""
    rec.require_columns(col)
    out = []
    for i, v in enumerate(rec.frame[col].tolist()):
        if is_missing(v):
            raise rec.error(i, col, "winner label is missing (empty, null or NaN)")
        w = normalise_winner(v, extra)
        if w is None:
            raise rec.error(
                i,
                col,
                f"unknown winner value {v!r} (expected a/b/tie/both_bad, 1/2, A/B, "
                "model_a/model_b or a mapping given with --winner-values)",
            )
        out.append(w)
    return out


def json_default(o: Any) -> Any:
    """JSON encoder fallback for numpy / pandas values."""
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return None if np.isnan(o) else float(o)
    if isinstance(o, np.bool_):
        return bool(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, pd.Timestamp):
        return o.isoformat()
    if o is pd.NA:
        return None
    return str(o)


def plain(value: Any) -> Any:
    """Turn numpy arrays / scalars inside nested values into plain Python objects."""
    if isinstance(value, np.ndarray):
        return [plain(v) for v in value.tolist()]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return None
    if value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def meta_json(meta: dict[str, Any]) -> str:
    """Serialise one pair's meta dict to JSON object text."""
    return json.dumps(meta, ensure_ascii=False, default=json_default)


def extra_meta(rec: Records, used: Sequence[str]) -> list[dict[str, Any]]:
    """Per-record dicts of the columns not in ``used`` (kept in ``meta``)."""
    cols = [c for c in rec.frame.columns if c not in used]
    if not cols:
        return [{} for _ in range(len(rec.frame))]
    values = {c: rec.frame[c].tolist() for c in cols}
    return [{c: plain(values[c][i]) for c in cols} for i in range(len(rec.frame))]


# --------------------------------------------------------------------------------------
# readers


def _decode(data: bytes, file: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("utf-8-sig", errors="surrogateescape")


def _join(field: str | None, key: str) -> str:
    return key if field is None else f"{field}.{key}"


def _first_problem(
    value: Any, pattern: re.Pattern[str] | None, depth: int | None = 0
) -> tuple[str | None, str | None] | None:
    """Find the first string matching ``pattern`` or container nested too deeply in ``value``.

    Walks iteratively (a value too deep for Python's recursion is walked too).

    Parameters
    ----------
    value : object
        A parsed JSON value (dicts, lists, scalars).
    pattern : re.Pattern or None
        Characters to look for in strings and keys; None checks the nesting only.
    depth : int or None
        Nesting level of ``value`` itself (a record is 0, one of its fields 1); None does
        not check the nesting.

    Returns
    -------
    tuple or None
        ``(key path, matched character)`` for a string, ``(key path, None)`` for a container
        deeper than :data:`MAX_DEPTH`; the path joins dict keys with dots (None at the top).
    """
    stack: list[tuple[Any, str | None, int]] = [(value, None, depth or 0)]
    while stack:
        v, path, level = stack.pop()
        if isinstance(v, str):
            hit = pattern.search(v) if pattern is not None else None
            if hit:
                return path, hit.group()
            continue
        if not isinstance(v, dict | list):
            continue
        if level > MAX_DEPTH and depth is not None:
            return path, None
        if isinstance(v, list):
            stack.extend((x, path, level + 1) for x in reversed(v))
            continue
        for k in v:
            key_hit = pattern.search(k) if pattern is not None and isinstance(k, str) else None
            if key_hit:
                return _join(path, str(k)), key_hit.group()
        stack.extend((x, _join(path, str(k)), level + 1) for k, x in reversed(v.items()))
    return None


def _surrogate_path(obj: Any) -> str | None:
    """Return the key path of the first string with undecodable bytes in ``obj``."""
    hit = _first_problem(obj, _SURROGATE, depth=None)
    return hit[0] if hit else None


def lone_surrogate_error(file: str, row: int | None, field: str | None, char: str) -> InputError:
    """The error for a lone UTF-16 surrogate ``char`` at ``file``/``row``/``field``."""
    return InputError(
        f"holds a lone surrogate \\u{ord(char):04x} (half of a character such as an emoji, "
        "cut in two by the exporter): fix or remove it in the source",
        file=file,
        row=row,
        field=field,
    )


def check_parsed(
    value: Any,
    text: str,
    *,
    file: str,
    row: int | None,
    field: str | None = None,
    depth: int = 0,
) -> None:
    """Refuse a value parsed from JSON ``text`` that holds a lone surrogate or nests too deep.

    ``text`` only decides cheaply whether ``value`` must be walked (a surrogate needs a
    ``\\udXXX`` escape in the text, deep nesting needs many brackets).

    Raises
    ------
    InputError
        Naming ``file``, ``row`` and ``field`` joined with the key path inside ``value``.
    """
    strings = _SURROGATE_ESCAPE.search(text) is not None
    if not strings and text.count("[") + text.count("{") <= MAX_DEPTH:
        return
    hit = _first_problem(value, _LONE_SURROGATE if strings else None, depth)
    if hit is None:
        return
    path, char = hit
    where = path if field is None else field if path is None else f"{field}.{path}"
    if char is None:
        raise InputError(TOO_DEEP, file=file, row=row, field=where)
    raise lone_surrogate_error(file, row, where, char)


def loads_checked(
    text: str, *, file: str, row: int | None, field: str | None = None, depth: int = 0
) -> Any:
    """``json.loads`` plus :func:`check_parsed`.

    Text that is not JSON raises :class:`ValueError` (callers word that error); a value
    nested too deeply, even for Python's parser, or holding a lone surrogate raises
    :class:`InputError` at ``file``/``row``/``field``.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        path = _deep_place(text)[2]
        where = path if field is None else field if path is None else f"{field}.{path}"
        raise InputError(TOO_DEEP, file=file, row=row, field=where) from None
    check_parsed(value, text, file=file, row=row, field=field, depth=depth)
    return value


def _deep_place(text: str, records: bool = False) -> tuple[int, int | None, str | None]:
    """Locate the first container nested more than :data:`MAX_DEPTH` levels in JSON text.

    Used when the text is too deep for ``json.loads`` itself.

    Parameters
    ----------
    text : str
        One JSON value (a JSONL line, a cell), or with ``records`` a whole JSON document:
        an array of records, or an object wrapping one.
    records : bool
        See ``text``.

    Returns
    -------
    tuple
        ``(line, record, key)``: the 1-based line; with ``records`` the 1-based record
        number (None when the document is not an array of records); and the top-level key
        of that record (or of the value), None if there is none.
    """
    kinds: list[str] = []  # "[" or "{" per open level
    keys: list[str | None] = []  # current key per open level (objects)
    items: list[int] = []  # current element number per open level
    pos = 0
    for m in _JSON_TOKEN.finditer(text):
        tok = m.group()
        if tok[0] == '"':
            if m.group(1) and kinds and kinds[-1] == "{":
                keys[-1] = tok[1 : tok.rindex('"')]
        elif tok == ",":
            if items:
                items[-1] += 1
        elif tok in "]}":
            for stack in (kinds, keys, items):
                if stack:
                    stack.pop()
        else:
            kinds.append(tok)
            keys.append(None)
            items.append(1)
            if len(kinds) > MAX_DEPTH + 3:
                pos = m.start()
                break
    line = text.count("\n", 0, pos) + 1
    if not records or len(kinds) < 3:
        return line, None, keys[0] if keys else None
    top = 1 if kinds[:3] == ["{", "[", "{"] else 0
    if kinds[top] != "[":
        return line, None, keys[0]
    return line, items[top], keys[top + 1]


def _not_utf8(file: str, row: int, field: str | None) -> InputError:
    return InputError(
        "contains bytes that are not UTF-8 text (re-save the file as UTF-8)",
        file=file,
        row=row,
        field=field,
    )


def open_binary(path: Path) -> Any:
    """Open a file for reading bytes, transparently un-gzipping ``.gz`` files."""
    if path.suffix == ".gz":
        return gzip.open(path, "rb")
    return path.open("rb")


def check_file(path: Path) -> None:
    """Raise :class:`InputError` if ``path`` is missing or empty."""
    if not path.exists():
        raise InputError("file not found", file=path)
    if path.is_file() and path.stat().st_size == 0:
        raise InputError("file is empty", file=path)


def read_jsonl(path: Path, limit: int | None = None) -> tuple[list[dict[str, Any]], list[int]]:
    """Read a JSON-lines file (``.gz`` allowed): the objects and their line numbers."""
    check_file(path)
    file = str(path)
    records: list[dict[str, Any]] = []
    rows: list[int] = []
    lineno = 0
    try:
        with open_binary(path) as fh:
            for lineno, raw in enumerate(fh, start=1):
                if limit is not None and len(records) >= limit:
                    break
                if not raw.strip():
                    continue
                try:
                    text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
                except UnicodeDecodeError:
                    text = raw.decode("utf-8", errors="surrogateescape")
                    try:
                        field = _surrogate_path(json.loads(text))
                    except (ValueError, RecursionError):
                        field = None
                    raise _not_utf8(file, lineno, field) from None
                try:
                    obj = loads_checked(text, file=file, row=lineno)
                except ValueError as exc:
                    raise InputError(
                        f"malformed JSON line ({exc})", file=file, row=lineno
                    ) from None
                if not isinstance(obj, dict):
                    raise InputError(
                        f"expected a JSON object, got {type(obj).__name__}", file=file, row=lineno
                    )
                records.append(obj)
                rows.append(lineno)
    except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
        raise InputError(
            f"compressed file is truncated or corrupt ({exc})", file=file, row=lineno + 1
        ) from None
    if not records:
        raise InputError("file has no records", file=file)
    return records, rows


def _read_text(path: Path) -> tuple[str, str]:
    """Check and read a whole (possibly gzipped) file: ``(str(path), decoded text)``.

    Bytes that are not UTF-8 are kept as surrogates for the caller to locate.
    """
    check_file(path)
    file = str(path)
    with open_binary(path) as fh:
        try:
            data = fh.read()
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(
                f"compressed file is truncated or corrupt ({exc})", file=file
            ) from None
    return file, _decode(data, file)


def _records_of(obj: Any) -> list[Any] | None:
    """The records of a JSON document: a top-level array, or the array an object of one key
    wraps (as :func:`read_json_array` accepts); None for other documents."""
    if isinstance(obj, dict) and len(obj) == 1 and isinstance(next(iter(obj.values())), list):
        obj = next(iter(obj.values()))
    return obj if isinstance(obj, list) else None


def _check_document(obj: Any, text: str, file: str) -> None:
    """Refuse lone surrogates and too deep values in a parsed JSON document, per record."""
    pattern = _LONE_SURROGATE if _SURROGATE_ESCAPE.search(text) else None
    items = _records_of(obj)
    for i, item in enumerate([obj] if items is None else items):
        hit = _first_problem(item, pattern)
        if hit is None:
            continue
        row = None if items is None else i + 1
        if hit[1] is None:
            raise InputError(TOO_DEEP, file=file, row=row, field=hit[0])
        raise lone_surrogate_error(file, row, hit[0], hit[1])


def read_json(path: Path) -> Any:
    """Read one JSON document, locating syntax errors, non-UTF-8 bytes, lone surrogates and
    values nested more than :data:`MAX_DEPTH` levels deep (rows are records of an array)."""
    file, text = _read_text(path)
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            f"invalid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})",
            file=file,
            row=exc.lineno,
        ) from None
    except RecursionError:
        line, record, key = _deep_place(text, records=True)
        raise InputError(TOO_DEEP, file=file, row=record or line, field=key) from None
    if _SURROGATE.search(text):
        for i, item in enumerate(_records_of(obj) or []):
            if _first_problem(item, _SURROGATE, depth=None):
                raise _not_utf8(file, i + 1, _surrogate_path(item))
        line = text[: _SURROGATE.search(text).start()].count("\n") + 1
        raise _not_utf8(file, line, _surrogate_path(obj))
    _check_document(obj, text, file)
    return obj


def read_json_array(path: Path) -> list[dict[str, Any]]:
    """Read a JSON file holding an array of objects."""
    obj = read_json(path)
    if isinstance(obj, dict) and len(obj) == 1 and isinstance(next(iter(obj.values())), list):
        obj = next(iter(obj.values()))
    if not isinstance(obj, list):
        raise InputError(f"expected a JSON array of objects, got {type(obj).__name__}", file=path)
    if not obj:
        raise InputError("file has no records", file=path)
    for i, item in enumerate(obj):
        if not isinstance(item, dict):
            raise InputError(
                f"expected a JSON object, got {type(item).__name__}", file=path, row=i + 1
            )
    return obj


def records_from_dicts(items: list[dict[str, Any]], rows: Sequence[int], file: str) -> Records:
    """Build :class:`Records` from a list of dicts (nested values stay Python objects)."""
    cols: dict[str, list[Any]] = {}
    for i, item in enumerate(items):
        for k in item:
            if k not in cols:
                cols[k] = [None] * i
        for k, lst in cols.items():
            lst.append(item.get(k))
    frame = pd.DataFrame({k: pd.Series(v, dtype=object) for k, v in cols.items()})
    if not cols:
        frame = pd.DataFrame(index=range(len(items)))
    return Records(frame, np.asarray(rows, dtype=np.int64), file)


def read_csv_records(path: Path, limit: int | None = None) -> Records:
    """Read a CSV file as text columns (empty cell = missing); rows count the header as 1."""
    file, text = _read_text(path)
    # the C parser cannot take the surrogates that stand for undecodable bytes: swap them
    # for a private-use character, found again below
    bad_bytes = bool(_SURROGATE.search(text))
    if bad_bytes:
        text = _SURROGATE.sub(_BAD_BYTE, text)
    try:
        frame = pd.read_csv(
            io.StringIO(text), dtype=object, keep_default_na=False, na_values=[""], nrows=limit
        )
    except pd.errors.EmptyDataError:
        raise InputError("file is empty", file=file) from None
    except (pd.errors.ParserError, ValueError) as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise InputError(
            f"malformed CSV ({str(exc).strip()})", file=file, row=int(m.group(1)) if m else None
        ) from None
    rows = np.arange(len(frame), dtype=np.int64) + 2
    rec = Records(frame, rows, file, header_row=1)
    for col in frame.columns:
        if _BAD_BYTE in str(col):
            raise _not_utf8(file, 1, str(col))
    if bad_bytes:
        for col in frame.columns:
            hit = frame[col].astype(str).str.contains(_BAD_BYTE, regex=False)
            if hit.any():
                raise _not_utf8(file, int(rows[int(np.flatnonzero(hit.to_numpy())[0])]), str(col))
    if frame.empty:
        raise InputError("file has a header but no records", file=file, row=2)
    return rec


def read_parquet_records(
    path: Path, limit: int | None = None, columns: Sequence[str] | None = None
) -> Records:
    """Read a parquet file (optionally only ``columns`` and the first ``limit`` rows)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    check_file(path)
    try:
        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        cols = [c for c in columns if c in names] if columns is not None else None
        if limit is None:
            table = pf.read(columns=cols)
        else:
            batches = []
            n = 0
            for batch in pf.iter_batches(batch_size=max(1, min(limit, 10_000)), columns=cols):
                batches.append(batch)
                n += batch.num_rows
                if n >= limit:
                    break
            if not batches:
                raise InputError("file has no records", file=path)
            table = pa.Table.from_batches(batches).slice(0, limit)
        frame = table.to_pandas(maps_as_pydicts="strict")
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable parquet file ({exc})", file=path) from None
    return Records(frame, np.arange(len(frame), dtype=np.int64) + 1, str(path))


def read_records(path: Path, limit: int | None = None) -> Records:
    """Read a table of records from JSON, JSONL, CSV or parquet (by file name)."""
    name = path.name.lower()
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        items, rows = read_jsonl(path, limit)
        return records_from_dicts(items, rows, str(path))
    if name.endswith((".json", ".json.gz")):
        items = read_json_array(path)
        if limit is not None:
            items = items[:limit]
        return records_from_dicts(items, range(1, len(items) + 1), str(path))
    if name.endswith((".csv", ".csv.gz")):
        return read_csv_records(path, limit)
    if name.endswith(".parquet"):
        return read_parquet_records(path, limit)
    raise InputError(
        "unknown file type (expected .json, .jsonl[.gz], .csv[.gz] or .parquet)", file=path
    )


# --------------------------------------------------------------------------------------
# building the dataset


def content_ids(pairs: pd.DataFrame) -> list[str]:
    """Content hash pair ids (see :func:`make_pair_id`) for every row of ``pairs``."""
    conv = pairs["conversation"].tolist() if "conversation" in pairs else [[]] * len(pairs)
    return [
        make_pair_id(p, a, b, c)
        for p, a, b, c in zip(
            pairs["prompt"].tolist(),
            pairs["response_a"].tolist(),
            pairs["response_b"].tolist(),
            conv,
            strict=True,
        )
    ]


def suffix_duplicates(ids: list[str]) -> tuple[list[str], int]:
    """Make ids unique by appending ``-2``, ``-3``... to repeats; return (ids, repeats)."""
    seen: dict[str, int] = {}
    out = []
    repeats = 0
    for pid in ids:
        k = seen.get(pid, 0) + 1
        seen[pid] = k
        if k > 1:
            repeats += 1
            pid = f"{pid}-{k}"
        out.append(pid)
    return out, repeats


def build_dataset(
    pairs: pd.DataFrame,
    labels: pd.DataFrame | None,
    rows: Sequence[int] | np.ndarray,
    file: str,
    *,
    info: dict[str, Any],
    allow_empty: bool = False,
    label_rows: Sequence[int] | np.ndarray | None = None,
    label_file: str | None = None,
) -> PairDataset:
    """Validate the tables, reporting problems at the source file's rows, and wrap them.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Pair table; ``pair_id`` is filled with content hashes (repeats suffixed) if absent.
    labels : pandas.DataFrame or None
        Label table whose ``pair_index`` column is the 0-based row of the pair in ``pairs``.
    rows : sequence of int
        The file row of each pair, for error messages.
    file : str
        The source file (or ``hf:NAME``).
    info : dict
        Loader facts recorded in :attr:`PairDataset.info`.
    allow_empty : bool
        Accept empty responses (hh-rlhf, Arena).
    label_rows, label_file : optional
        Where each label row came from, if not from the pair's row of ``file``.
    """
    pairs = pairs.reset_index(drop=True)
    rows = np.asarray(rows, dtype=np.int64)
    if "conversation" not in pairs:
        pairs["conversation"] = [[] for _ in range(len(pairs))]
    if "pair_id" not in pairs:
        ids, repeats = suffix_duplicates(content_ids(pairs))
        pairs.insert(0, "pair_id", ids)
        info.setdefault("repeated_pairs", repeats)
    pairs = normalise_pairs(pairs)
    try:
        validate_pairs(pairs, file=file, allow_empty=allow_empty)
    except InputError as exc:
        row = int(rows[exc.row - 1]) if exc.row is not None and exc.row <= len(rows) else exc.row
        raise InputError(exc.message, file=file, row=row, field=exc.field) from None
    if labels is None or labels.empty:
        labels = empty_labels()
    else:
        labels = labels.reset_index(drop=True)
        idx = labels.pop("pair_index").to_numpy(dtype=np.int64)
        labels.insert(0, "pair_id", pairs["pair_id"].to_numpy(dtype=object)[idx])
        lrows = rows[idx] if label_rows is None else np.asarray(label_rows, dtype=np.int64)
        labels = normalise_labels(labels)
        try:
            validate_labels(labels, None, file=label_file or file)
        except InputError as exc:
            row = int(lrows[exc.row - 1]) if exc.row is not None else None
            raise InputError(
                exc.message, file=label_file or file, row=row, field=exc.field
            ) from None
    ds = PairDataset(pairs=pairs, labels=labels, info=info)
    return ds


def labels_frame(
    pair_index: Sequence[int] | np.ndarray,
    judge: str | Sequence[str],
    winner: Sequence[str],
    **optional: Any,
) -> pd.DataFrame:
    """Build a label table keyed by ``pair_index`` (see :func:`build_dataset`)."""
    n = len(winner)
    data: dict[str, Any] = {
        "pair_index": np.asarray(pair_index, dtype=np.int64),
        "judge": [judge] * n if isinstance(judge, str) else list(judge),
        "winner": list(winner),
    }
    data.update(optional)
    return pd.DataFrame(data)


def concat_labels(frames: Sequence[pd.DataFrame]) -> pd.DataFrame | None:
    """Concatenate label tables, skipping empty ones."""
    frames = [f for f in frames if f is not None and not f.empty]
    if not frames:
        return None
    return pd.concat(frames, ignore_index=True)
