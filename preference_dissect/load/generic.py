"""Generic CSV / JSON / JSONL / parquet tables with a column mapping.

Mapping keys (``--map key=COLUMN,...``; without a mapping, columns already named like a key
are used):

``prompt``, ``response_a``, ``response_b``
    the texts (required, unless ``chosen`` / ``rejected`` are given);
``chosen``, ``rejected``
    a preferred / dispreferred response (TRL style): they are put on sides A/B at random
    with the seed, and judge ``human`` gets the chosen side;
``pair_id``, ``model_a``, ``model_b``, ``scenario``, ``gold``, ``conversation``
    optional (``conversation``: a list of ``{role, content}``, or its JSON text);
``winner``
    one judge's verdict column; the judge is ``human`` unless ``judge`` names a column
    holding the judge of each row (long format: rows with the same pair and different
    judges become one pair with several labels);
``winner.NAME``
    one column per judge ``NAME`` (several allowed);
``p_a``
    optional soft probability that A is preferred (for ``winner``).

Winner values understood: a/b, A/B, 1/2, model_a/model_b, response_1/response_2, tie,
both_bad, "tie (bothbad)"; others via ``--winner-values 0=tie,1=a,2=b``.
Rows with the same ``pair_id`` must hold the same texts and different judges. Without a
``pair_id`` column, ids are content hashes: rows with the same texts and different judges
merge; a second verdict by the same judge on the same texts becomes its own pair (id
suffixed ``-2``...). All unmapped columns are kept in ``meta``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.common import (
    Records,
    build_dataset,
    content_ids,
    extra_meta,
    is_missing,
    meta_json,
    normalise_winner,
    optional_text_column,
    text_column,
    winner_column,
)
from preference_dissect.load.registry import LoadRequest, register_loader

KEYS = (
    "pair_id",
    "prompt",
    "response_a",
    "response_b",
    "chosen",
    "rejected",
    "model_a",
    "model_b",
    "scenario",
    "gold",
    "conversation",
    "winner",
    "judge",
    "p_a",
)


def parse_mapping(text: str | list[str] | None) -> dict[str, str]:
    """Parse ``key=COLUMN,key=COLUMN`` (or a list of such strings) into a dict.

    A key given twice with different columns (in one ``--map`` or across several) is an
    error rather than the last one silently winning; the same ``key=COLUMN`` repeated is
    accepted.
    """
    if not text:
        return {}
    items = [text] if isinstance(text, str) else list(text)
    out: dict[str, str] = {}
    for chunk in items:
        for part in chunk.split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise InputError(f"bad mapping item {part!r} (use key=COLUMN)", field="--map")
            key, col = (s.strip() for s in part.split("=", 1))
            if key not in KEYS and not key.startswith("winner."):
                raise InputError(
                    f"unknown mapping key {key!r} (known: {', '.join(KEYS)}, winner.JUDGE)",
                    field="--map",
                )
            if out.get(key, col) != col:
                raise InputError(
                    f"key {key!r} is mapped twice (to {out[key]!r} and to {col!r}): map it once",
                    field="--map",
                )
            out[key] = col
    return out


def parse_winner_values(text: str | None) -> dict[str, str]:
    """Parse ``VALUE=a,VALUE=tie`` into a dict for winner normalisation.

    Values are matched case-insensitively, so one given twice with different winners
    (``0=a,0=b``, ``X=a,x=b``) is an error.
    """
    if not text:
        return {}
    out = {}
    for part in text.split(","):
        if "=" not in part:
            raise InputError(
                f"bad winner value item {part!r} (use VALUE=a|b|tie|both_bad)",
                field="--winner-values",
            )
        value, winner = (s.strip() for s in part.split("=", 1))
        if winner not in ("a", "b", "tie", "both_bad"):
            raise InputError(
                f"{winner!r} is not a winner (use a, b, tie or both_bad)", field="--winner-values"
            )
        same = [v for k, v in out.items() if k.strip().lower() == value.strip().lower()]
        if same and same[0] != winner:
            raise InputError(
                f"value {value!r} is given twice (as {same[0]!r} and as {winner!r}): give it once",
                field="--winner-values",
            )
        out[value] = winner
    return out


def _resolve(rec: Records, mapping: dict[str, str]) -> dict[str, str]:
    cols = set(map(str, rec.frame.columns))
    resolved = {}
    for key, col in mapping.items():
        if col not in cols:
            known = ", ".join(map(str, rec.frame.columns[:20]))
            raise InputError(
                f"column {col!r} given for {key!r} is not in the file (columns: {known})",
                file=rec.file,
                row=rec.column_row(),
                field=col,
            )
        resolved[key] = col
    if not mapping:
        for key in KEYS:
            if key in cols:
                resolved[key] = key
    return resolved


def _conversation(rec: Records, col: str) -> list[list[dict[str, Any]]]:
    out = []
    for i, v in enumerate(rec.frame[col].tolist()):
        if is_missing(v):
            out.append([])
            continue
        if isinstance(v, str):
            try:
                v = rec.loads(i, col, v)
            except ValueError:
                raise rec.error(i, col, "expected a JSON list of {role, content}") from None
        if isinstance(v, np.ndarray):
            v = v.tolist()
        if not isinstance(v, list):
            raise rec.error(i, col, "expected a list of {role, content}")
        turns = []
        for t in v:
            if not isinstance(t, dict) or not isinstance(t.get("content"), str):
                raise rec.error(i, col, f"bad turn {t!r:.60}")
            turns.append({"role": t.get("role"), "content": t["content"], "side": t.get("side")})
        out.append(turns)
    return out


def _p_a(rec: Records, col: str) -> list[float]:
    out = []
    for i, v in enumerate(rec.frame[col].tolist()):
        try:
            f = float(v) if not is_missing(v) else math.nan
        except (TypeError, ValueError):
            raise rec.error(i, col, f"expected a probability, got {v!r}") from None
        if not math.isnan(f) and not 0 <= f <= 1:
            raise rec.error(i, col, f"probability {f} is outside [0, 1]")
        out.append(f)
    return out


def assemble(
    rec: Records,
    pairs: pd.DataFrame,
    labels: list[list[tuple[str, str, float]]],
    *,
    explicit_ids: bool,
    info: dict[str, Any],
    allow_empty: bool = False,
) -> Any:
    """Merge rows into pairs (see module docstring) and build the dataset.

    Parameters
    ----------
    rec : Records
        The source records (for row numbers).
    pairs : pandas.DataFrame
        One pair row per record (``pair_id`` present when ``explicit_ids``).
    labels : list
        Per record, its ``(judge, winner, p_a)`` labels.
    """
    if explicit_ids:
        ids = pairs["pair_id"].tolist()
        for i, v in enumerate(ids):
            if is_missing(v) or not str(v).strip():
                raise rec.error(i, "pair_id", "pair id is missing")
            ids[i] = str(v)
    else:
        ids = content_ids(pairs)
    texts = list(
        zip(
            pairs["prompt"].tolist(),
            pairs["response_a"].tolist(),
            pairs["response_b"].tolist(),
            strict=True,
        )
    )
    instances: dict[str, list[tuple[int, set[str]]]] = {}
    keep: list[int] = []
    out_ids: list[str] = []
    lab_idx: list[int] = []
    lab_rows: list[int] = []
    judges: list[str] = []
    winners: list[str] = []
    p_as: list[float] = []
    for i, pid in enumerate(ids):
        mine = {j for j, _, _ in labels[i]}
        target = None
        for pos, seen in instances.get(pid, []):
            if explicit_ids and texts[keep[pos]] != texts[i]:
                raise rec.error(
                    i,
                    "pair_id",
                    f"duplicate pair_id {pid!r} with different texts "
                    f"(first at row {rec.row(keep[pos])})",
                )
            if not (seen & mine):
                target = pos
                break
        if target is None:
            if explicit_ids and pid in instances:
                raise rec.error(
                    i,
                    "pair_id",
                    f"duplicate pair_id {pid!r} with the same judge "
                    f"(first at row {rec.row(keep[instances[pid][0][0]])})",
                )
            target = len(keep)
            k = len(instances.get(pid, [])) + 1
            instances.setdefault(pid, []).append((target, set()))
            keep.append(i)
            out_ids.append(pid if k == 1 else f"{pid}-{k}")
        for pos, seen in instances[pid]:
            if pos == target:
                seen |= mine
        for judge, w, p in labels[i]:
            lab_idx.append(target)
            lab_rows.append(rec.row(i))
            judges.append(judge)
            winners.append(w)
            p_as.append(p)
    table = pairs.iloc[keep].reset_index(drop=True)
    table["pair_id"] = out_ids
    lab = None
    if lab_idx:
        lab = pd.DataFrame({"pair_index": lab_idx, "judge": judges, "winner": winners, "p_a": p_as})
    info["merged_rows"] = len(ids) - len(keep)
    return build_dataset(
        table,
        lab,
        rec.rows[keep],
        rec.file,
        info=info,
        allow_empty=allow_empty,
        label_rows=lab_rows,
    )


def load_generic(
    rec: Records,
    mapping: dict[str, str] | None = None,
    seed: int = 0,
    winner_values: dict[str, str] | None = None,
) -> Any:
    """Load a generic table with a column mapping (see module docstring)."""
    m = _resolve(rec, mapping or {})
    n = len(rec.frame)
    info: dict[str, Any] = {"format": "generic", "path": rec.file, "mapping": m}
    if "prompt" not in m:
        raise InputError(
            "no prompt column (map one with --map prompt=COLUMN)",
            file=rec.file,
            row=rec.column_row(),
            field="prompt",
        )
    prompts = text_column(rec, m["prompt"])
    labels: list[list[tuple[str, str, float]]] = [[] for _ in range(n)]
    if "chosen" in m or "rejected" in m:
        if "chosen" not in m or "rejected" not in m:
            raise InputError(
                "map both chosen and rejected",
                file=rec.file,
                row=rec.column_row(),
                field="chosen" if "chosen" not in m else "rejected",
            )
        chosen = text_column(rec, m["chosen"])
        rejected = text_column(rec, m["rejected"])
        flips = np.random.default_rng(seed).random(n) < 0.5
        resp_a = [r if f else c for c, r, f in zip(chosen, rejected, flips, strict=True)]
        resp_b = [c if f else r for c, r, f in zip(chosen, rejected, flips, strict=True)]
        for i, f in enumerate(flips):
            labels[i].append(("human", "b" if f else "a", math.nan))
        info["seed"] = seed
    else:
        for key in ("response_a", "response_b"):
            if key not in m:
                raise InputError(
                    f"no {key} column (map one with --map {key}=COLUMN)",
                    file=rec.file,
                    row=rec.column_row(),
                    field=key,
                )
        resp_a = text_column(rec, m["response_a"])
        resp_b = text_column(rec, m["response_b"])
    pairs = pd.DataFrame({"prompt": prompts, "response_a": resp_a, "response_b": resp_b})
    for key in ("model_a", "model_b", "scenario"):
        pairs[key] = optional_text_column(rec, m[key]) if key in m else None
    if "gold" in m:
        gold = []
        for i, v in enumerate(rec.frame[m["gold"]].tolist()):
            g = None if is_missing(v) else normalise_winner(v, winner_values)
            if g not in (None, "a", "b"):
                raise rec.error(i, m["gold"], f"gold must name a or b, got {v!r}")
            if g is None and not is_missing(v):
                raise rec.error(i, m["gold"], f"unknown gold value {v!r}")
            gold.append(g)
        pairs["gold"] = gold
    if "conversation" in m:
        pairs["conversation"] = _conversation(rec, m["conversation"])
    if "pair_id" in m:
        pairs["pair_id"] = rec.frame[m["pair_id"]].tolist()
    if "winner" in m:
        winners = winner_column(rec, m["winner"], winner_values)
        p_a = _p_a(rec, m["p_a"]) if "p_a" in m else [math.nan] * n
        names = text_column(rec, m["judge"]) if "judge" in m else ["human"] * n
        for i in range(n):
            labels[i].append((names[i], winners[i], p_a[i]))
    for key, col in m.items():
        if key.startswith("winner."):
            judge = key.split(".", 1)[1]
            for i, w in enumerate(winner_column(rec, col, winner_values)):
                labels[i].append((judge, w, math.nan))
    for i, lab in enumerate(labels):
        seen = [j for j, _, _ in lab]
        if len(seen) != len(set(seen)):
            raise rec.error(i, m.get("judge", "winner"), "the same judge appears twice in one row")
    pairs["source"] = info["source"] = "generic"
    pairs["meta"] = [meta_json(x) for x in extra_meta(rec, list(m.values()))]
    return assemble(rec, pairs, labels, explicit_ids="pair_id" in m, info=info)


@register_loader(
    "generic",
    description="any CSV / JSON / JSONL / parquet table, columns chosen with --map",
    sniff=lambda t: 0 if t.is_dir else 1,
    aliases=("csv", "jsonl", "parquet"),
)
def read_generic(request: LoadRequest) -> Any:
    """The generic table loader (``--map`` column mapping, ``--winner-values``)."""
    return load_generic(request.records(), request.mapping, request.seed, request.winner_values)
