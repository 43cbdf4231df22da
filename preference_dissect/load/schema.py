"""The canonical pair table and judge-label table, validated on read and write.

Every loader turns its source into a :class:`PairDataset`:

``pairs`` (one row per comparison)
    ``pair_id`` str, stable hash of the content (see :func:`make_pair_id`);
    ``conversation`` list of ``{"role", "content", "side"}`` earlier turns (``side`` is
    ``None`` for shared turns, ``"a"``/``"b"`` for assistant turns that differ between the
    two sides of a multi-turn comparison); ``prompt`` the last user turn;
    ``response_a``/``response_b`` the two final responses; ``model_a``/``model_b``
    (nullable); ``scenario`` (nullable); ``source``; ``gold`` (nullable, ``"a"``/``"b"``:
    objectively better response); ``meta`` (JSON object text with source-specific columns).

``labels`` (long table, one row per pair and judge)
    ``pair_id``, ``judge``, ``winner`` in {a, b, tie, both_bad}; optional ``p_a`` (soft
    probability that A is preferred), ``winner_ab`` / ``winner_ba`` (verdicts of the two
    presentation orders, in terms of the original responses, for order-consistency audits).

On disk a dataset is ``NAME.parquet`` (pairs) plus ``NAME.labels.parquet`` (labels).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.io import atomic_paths, check_output_file, read_parquet

WINNERS = ("a", "b", "tie", "both_bad")
GOLD_VALUES = ("a", "b")
#: Judge name of a source's gold answers (:meth:`PairDataset.labels_with_gold`).
GOLD_JUDGE = "gold"
PAIR_COLUMNS = (
    "pair_id",
    "conversation",
    "prompt",
    "response_a",
    "response_b",
    "model_a",
    "model_b",
    "scenario",
    "source",
    "gold",
    "meta",
)
REQUIRED_PAIR_COLUMNS = ("pair_id", "prompt", "response_a", "response_b", "source")
LABEL_COLUMNS = ("pair_id", "judge", "winner", "p_a", "winner_ab", "winner_ba")
REQUIRED_LABEL_COLUMNS = ("pair_id", "judge", "winner")
ROLES = ("system", "user", "assistant")


def make_pair_id(
    prompt: str,
    response_a: str,
    response_b: str,
    conversation: list[dict[str, Any]] | None = None,
) -> str:
    """Return a stable 16-hex-digit id derived from the pair's content.

    The id depends on the earlier turns, the prompt and both responses in their A/B order.
    """
    payload = json.dumps(
        [conversation or [], prompt, response_a, response_b],
        ensure_ascii=False,
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]


def labels_path_for(pairs_path: str | os.PathLike[str]) -> Path:
    """Return the labels sidecar of a pairs file (``x.parquet`` -> ``x.labels.parquet``)."""
    p = Path(pairs_path)
    stem = p.name[: -len(".parquet")] if p.name.endswith(".parquet") else p.name
    return p.with_name(f"{stem}.labels.parquet")


def empty_labels() -> pd.DataFrame:
    """Return an empty, correctly typed label table."""
    return pd.DataFrame(
        {
            "pair_id": pd.Series(dtype="string"),
            "judge": pd.Series(dtype="string"),
            "winner": pd.Series(dtype="string"),
            "p_a": pd.Series(dtype="float64"),
            "winner_ab": pd.Series(dtype="string"),
            "winner_ba": pd.Series(dtype="string"),
        }
    )


def _is_missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and np.isnan(value):
        return True
    return value is pd.NA


@dataclass
class PairDataset:
    """A set of comparisons plus judge labels.

    Attributes
    ----------
    pairs : pandas.DataFrame
        The canonical pair table (columns :data:`PAIR_COLUMNS`).
    labels : pandas.DataFrame
        The long judge-label table (columns :data:`LABEL_COLUMNS`).
    info : dict
        Loader facts worth recording (seed used to randomise sides, format, path...).
    """

    pairs: pd.DataFrame
    labels: pd.DataFrame = field(default_factory=empty_labels)
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.pairs = normalise_pairs(self.pairs)
        self.labels = normalise_labels(self.labels)

    def head(self, n: int) -> PairDataset:
        """The first ``n`` pairs and their labels."""
        keep = self.pairs.head(n)
        labels = self.labels[self.labels["pair_id"].isin(keep["pair_id"])]
        return PairDataset(keep, labels, dict(self.info))

    def __repr__(self) -> str:
        return f"PairDataset({len(self.pairs)} pairs, judges {self.dissectable_judges})"

    @property
    def judges(self) -> list[str]:
        """Judge names in the label table, in order of first appearance."""
        return list(dict.fromkeys(self.labels["judge"].tolist()))

    def labels_with_gold(self) -> pd.DataFrame:
        """The labels plus, when pairs carry gold answers (LLMBar), the judge ``gold``.

        Gold answers are a judge a user can dissect like any other: which attributes does
        the objectively better response win on? A label judge already named ``gold`` wins.
        """
        gold = self.pairs[self.pairs["gold"].isin(GOLD_VALUES)]
        if gold.empty or GOLD_JUDGE in set(self.labels["judge"]):
            return self.labels
        extra = pd.DataFrame(
            {"pair_id": gold["pair_id"].to_numpy(), "judge": GOLD_JUDGE, "winner": gold["gold"]}
        )
        return normalise_labels(pd.concat([self.labels, extra], ignore_index=True))

    @property
    def dissectable_judges(self) -> list[str]:
        """Judges a fit can dissect: the label judges, and ``gold`` when there are gold
        answers."""
        return list(dict.fromkeys(self.labels_with_gold()["judge"].tolist()))

    def validate(
        self, file: str | os.PathLike[str] | None = None, *, allow_empty: bool = False
    ) -> None:
        """Raise :class:`InputError` if the tables break the schema."""
        validate_pairs(self.pairs, file=file, allow_empty=allow_empty)
        validate_labels(self.labels, self.pairs, file=labels_path_for(file) if file else None)

    def summary(self) -> dict[str, Any]:
        """Return the ``prefdissect load --json`` summary."""
        judges: dict[str, dict[str, int]] = {}
        for judge, grp in self.labels.groupby("judge", sort=False):
            counts = grp["winner"].value_counts()
            judges[str(judge)] = {w: int(counts.get(w, 0)) for w in WINNERS}
        scen = self.pairs["scenario"].dropna().value_counts()
        multi = int(self.pairs["conversation"].map(lambda c: len(c) > 0).sum())
        return {
            "pairs": len(self.pairs),
            "multi_turn": multi,
            "judges": judges,
            "scenarios": {str(k): int(v) for k, v in scen.items()},
            "gold": int(self.pairs["gold"].notna().sum()),
            "sources": {str(k): int(v) for k, v in self.pairs["source"].value_counts().items()},
        }


def _to_turn_list(value: Any) -> list[dict[str, Any]]:
    if _is_missing(value):
        return []
    if isinstance(value, np.ndarray):
        value = value.tolist()
    out = []
    for turn in value:
        turn = dict(turn)
        out.append(
            {
                "role": turn.get("role"),
                "content": turn.get("content"),
                "side": turn.get("side"),
            }
        )
    return out


def normalise_pairs(pairs: pd.DataFrame) -> pd.DataFrame:
    """Add absent optional columns and put the columns in canonical order."""
    df = pairs.copy()
    for col in PAIR_COLUMNS:
        if col not in df.columns:
            if col == "conversation":
                df[col] = [[] for _ in range(len(df))]
            elif col == "meta":
                df[col] = "{}"
            elif col in REQUIRED_PAIR_COLUMNS:
                continue
            else:
                df[col] = None
    df["conversation"] = df["conversation"].map(_to_turn_list)
    ordered = [c for c in PAIR_COLUMNS if c in df.columns]
    extra = [c for c in df.columns if c not in PAIR_COLUMNS]
    df = df[ordered + extra].reset_index(drop=True)
    for col in ("scenario", "model_a", "model_b", "gold"):
        df[col] = df[col].astype("object").where(df[col].notna(), None)
    return df


def normalise_labels(labels: pd.DataFrame) -> pd.DataFrame:
    """Add absent optional label columns with canonical dtypes."""
    df = labels.copy()
    for col in ("p_a",):
        if col not in df.columns:
            df[col] = np.nan
    for col in ("winner_ab", "winner_ba"):
        if col not in df.columns:
            df[col] = None
    ordered = [c for c in LABEL_COLUMNS if c in df.columns]
    extra = [c for c in df.columns if c not in LABEL_COLUMNS]
    df = df[ordered + extra].reset_index(drop=True)
    df["p_a"] = pd.to_numeric(df["p_a"], errors="coerce").astype("float64")
    return df


_BLANK = r"^[\s\x{0b}\x{1c}-\x{1f}\x{85}\p{Z}]*$"  # what str.strip() removes


def _arrow_strings_ok(series: pd.Series, check_blank: bool) -> bool:
    """True if an Arrow-backed string column has no missing (and, if asked, no blank) value.

    Checked column-wise by pyarrow, without turning the texts into Python objects.
    """
    dtype = series.dtype
    if not (isinstance(dtype, pd.StringDtype) and dtype.storage == "pyarrow"):
        return False
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = (
        pa.chunked_array(series.array._pa_array)
        if hasattr(series.array, "_pa_array")
        else pa.array(series.array)
    )
    if arr.null_count:
        return False
    return not (check_blank and pc.any(pc.match_substring_regex(arr, _BLANK)).as_py())


def _iter_values(series: pd.Series) -> Any:
    """Iterate a column's values; Arrow-backed columns chunk by chunk (no full Python copy)."""
    pa_array = getattr(series.array, "_pa_array", None)
    if pa_array is None or not hasattr(pa_array, "chunks"):
        yield from series.tolist()
        return
    for chunk in pa_array.chunks:
        yield from chunk.to_pylist()


def validate_pairs(
    pairs: pd.DataFrame, *, file: str | os.PathLike[str] | None = None, allow_empty: bool = False
) -> None:
    """Check the pair table; raise :class:`InputError` naming the file, row and field."""
    for col in REQUIRED_PAIR_COLUMNS:
        if col not in pairs.columns:
            raise InputError("required column is missing", file=file, field=col)
    for col in ("pair_id", "prompt", "response_a", "response_b", "source"):
        check_blank = col in ("response_a", "response_b", "pair_id") and not allow_empty
        if _arrow_strings_ok(pairs[col], check_blank):
            continue  # fast path for large Arrow-backed text columns; errors use the loop
        values = pairs[col].tolist()
        for i, v in enumerate(values):
            if _is_missing(v) or not isinstance(v, str):
                raise InputError(f"must be a string, got {v!r}", file=file, row=i + 1, field=col)
            if col in ("response_a", "response_b", "pair_id") and not allow_empty and not v.strip():
                raise InputError("is empty", file=file, row=i + 1, field=col)
    dup = pairs["pair_id"].duplicated(keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"duplicate pair_id {pairs['pair_id'].iloc[i]!r}", file=file, row=i + 1, field="pair_id"
        )
    for i, g in enumerate(pairs["gold"].tolist()):
        if not _is_missing(g) and g not in GOLD_VALUES:
            raise InputError(
                f"unknown gold value {g!r} (use a or b)", file=file, row=i + 1, field="gold"
            )
    for i, conv in enumerate(pairs["conversation"].tolist()):
        for turn in conv:
            if turn.get("role") not in ROLES or not isinstance(turn.get("content"), str):
                raise InputError(
                    f"bad turn {turn!r}: needs role in {ROLES} and string content",
                    file=file,
                    row=i + 1,
                    field="conversation",
                )
            if turn.get("side") not in (None, "a", "b"):
                raise InputError(
                    f"bad side {turn.get('side')!r}", file=file, row=i + 1, field="conversation"
                )
    for i, m in enumerate(_iter_values(pairs["meta"])):
        try:
            if not isinstance(json.loads(m), dict):
                raise ValueError
        except (TypeError, ValueError, RecursionError):
            raise InputError(
                "must be a JSON object string", file=file, row=i + 1, field="meta"
            ) from None


def validate_labels(
    labels: pd.DataFrame,
    pairs: pd.DataFrame | None = None,
    *,
    file: str | os.PathLike[str] | None = None,
) -> None:
    """Check the label table; raise :class:`InputError` naming the file, row and field."""
    for col in REQUIRED_LABEL_COLUMNS:
        if col not in labels.columns:
            raise InputError("required column is missing", file=file, field=col)
    for col in ("pair_id", "judge"):
        for i, v in enumerate(labels[col].tolist()):
            if _is_missing(v) or not isinstance(v, str) or not v:
                raise InputError(
                    f"must be a non-empty string, got {v!r}", file=file, row=i + 1, field=col
                )
    for col in ("winner", "winner_ab", "winner_ba"):
        if col not in labels.columns:
            continue
        for i, v in enumerate(labels[col].tolist()):
            if col != "winner" and _is_missing(v):
                continue
            if v not in WINNERS:
                raise InputError(
                    f"unknown winner {v!r} (use one of {', '.join(WINNERS)})",
                    file=file,
                    row=i + 1,
                    field=col,
                )
    if "p_a" in labels.columns:
        p = pd.to_numeric(labels["p_a"], errors="coerce").to_numpy(dtype=float)
        not_number = np.isnan(p) & labels["p_a"].notna().to_numpy()
        if not_number.any():
            i = int(np.flatnonzero(not_number)[0])
            raise InputError("p_a is not a number", file=file, row=i + 1, field="p_a")
    else:
        p = np.full(len(labels), np.nan)
    bad = ~np.isnan(p) & ((p < 0) | (p > 1))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise InputError(f"p_a {p[i]} is outside [0, 1]", file=file, row=i + 1, field="p_a")
    dup = labels.duplicated(subset=["pair_id", "judge"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError("duplicate (pair_id, judge) label", file=file, row=i + 1, field="pair_id")
    if pairs is not None:
        known = set(pairs["pair_id"].tolist())
        for i, v in enumerate(labels["pair_id"].tolist()):
            if v not in known:
                raise InputError(
                    f"pair_id {v!r} is not in the pair table", file=file, row=i + 1, field="pair_id"
                )


#: Loader facts that later stages act on, restored by :func:`read_dataset` (the rest is kept
#: under ``info["origin"]``): ``annotations`` names the annotator that reads the annotations
#: a source carries with its pairs (GAIR's table: ``gair_released``).
CARRIED_INFO = ("texts_available", "majorities", "annotations")


def portable_info(info: dict[str, Any]) -> dict[str, Any]:
    """The loader facts worth keeping with a written dataset (JSON values; no local path).

    :func:`read_dataset` puts them under ``info["origin"]`` (format, seed and rules of the
    original load) and restores :data:`CARRIED_INFO` (``texts_available``, ``majorities``,
    ``annotations``)."""
    out = {}
    for key, value in info.items():
        if key == "path":
            continue
        try:
            out[key] = json.loads(json.dumps(value))
        except (TypeError, ValueError):
            continue
    return out


def check_dataset_target(path: str | os.PathLike[str], *, what: str = "--out") -> None:
    """Check, before any work, that a dataset can be written at ``path`` and its sidecar.

    Raises
    ------
    InputError
        Naming the pairs file or the labels sidecar that is a folder or cannot be created.
    """
    check_output_file(path, what=what)
    check_output_file(labels_path_for(path), what=f"the labels sidecar of {what}")


def write_dataset(
    ds: PairDataset, path: str | os.PathLike[str], *, allow_empty: bool = True
) -> Path:
    """Validate and write ``ds`` to ``path`` (pairs) and its labels sidecar.

    Both files are written to temporary files first and then replaced together: if either
    cannot be replaced, neither is (see :func:`preference_dissect.io.atomic_paths`).

    Raises
    ------
    InputError
        The tables break the schema, or a target cannot be written.
    """
    path = Path(path)
    ds.validate(file=path, allow_empty=allow_empty)
    pairs = ds.pairs.copy()
    pairs.attrs = {"dataset_info": portable_info(ds.info)}
    targets = [path, labels_path_for(path)]
    with atomic_paths(targets, ["the pairs file", "the labels sidecar"]) as (tmp_pairs, tmp_lab):
        pairs.to_parquet(tmp_pairs, index=False)
        ds.labels.to_parquet(tmp_lab, index=False)
    return path


def read_dataset(path: str | os.PathLike[str]) -> PairDataset:
    """Read a dataset written by :func:`write_dataset` and validate it."""
    path = Path(path)
    if not path.exists():
        raise InputError("file not found", file=path)
    pairs = read_parquet(path)
    lp = labels_path_for(path)
    what = f"labels sidecar of {path.name} is not a readable parquet file"
    labels = read_parquet(lp, what=what) if lp.exists() else empty_labels()
    for col in REQUIRED_PAIR_COLUMNS:
        if col not in pairs.columns:
            raise InputError("required column is missing", file=path, field=col)
    origin = dict(pairs.attrs.get("dataset_info") or {})
    pairs.attrs = {}
    kept = {k: origin[k] for k in CARRIED_INFO if k in origin}
    info = {**kept, "origin": origin, "path": str(path)}
    ds = PairDataset(pairs=pairs, labels=labels, info=info)
    ds.validate(file=path, allow_empty=True)
    return ds
