"""GAIR preference-dissection: the bundled judge-label folder and the HF annotated table.

``gair-folder`` (``data/gair-preference-dissection``)
    5,240 pairs whose texts are not bundled (the HF dataset is gated): pair ids
    ``gair-00000``..., placeholder texts, ``scenario`` = the pair's scenario group from
    ``groups.json`` and ``meta["query_groups"]`` = its query-specific groups. Judges:
    ``human`` (``human_labels.json``) and one judge per ``judge_logprobs/<judge>/`` folder
    holding ``AB.jsonl`` and ``BA.jsonl`` (first-token log-probs of "A" and "B"; in BA the
    slot ``response_a`` shows the original response B). Per LLM judge:

    * ``winner``: GAIR's rule, A wins if ``lp_AB(A) + lp_BA(B) > lp_AB(B) + lp_BA(A)``,
      otherwise B (an exact float tie counts as B, as GAIR's strict comparison does);
    * ``p_a``: mean of the softmax-normalised p(A) in AB and p(original A) in BA;
    * ``winner_ab`` / ``winner_ba``: the single-order verdicts in original terms
      (equal log-probs give ``tie``).

``gair`` (HF ``GAIR/preference-dissection``, parquet)
    One row per pair; every judge in ``preference_labels`` ("response_1"/"response_2")
    becomes a label; query-check columns, the Auto-J scenario and the GPT-4 reference go to
    ``meta``; ``scenario`` = ``scenario_group``. GAIR's own annotation columns
    (``basic_response_1``...), when the table has them, are checked and kept per pair in
    ``meta["gair_annotations"]`` for the ``gair_released`` annotator
    (:mod:`preference_dissect.load.gair_annotations`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.common import (
    Records,
    build_dataset,
    concat_labels,
    is_missing,
    labels_frame,
    meta_json,
    normalise_winner,
    plain,
    read_json,
    read_jsonl,
    text_column,
)
from preference_dissect.load.gair_annotations import (
    ANNOTATION_COLUMNS,
    annotation_columns,
    parse_annotations,
)
from preference_dissect.load.registry import LoadRequest, columns_score, register_loader

#: The 11 GAIR scenario groups.
SCENARIO_GROUPS = (
    "Advice",
    "Code",
    "Communication",
    "Creative Writing",
    "Daily Tasks",
    "Exam Questions",
    "Functional Writing",
    "Knowledge-aware",
    "NLP Tasks",
    "Others",
    "Unsafe Queries",
)
#: The annotator that reads the annotations a GAIR table carries (``annotators/gair_released``).
RELEASED_ANNOTATOR = "gair_released"

WINNER_RULE = "gair_logprob_sum: A wins if lp_AB(A) + lp_BA(B) > lp_AB(B) + lp_BA(A), else B"
P_A_RULE = "mean_softmax: mean of softmax p(A) in AB and p(original A) in BA"


def is_gair_folder(path: Path) -> bool:
    """Return True if ``path`` looks like the bundled GAIR judge-label folder."""
    return (
        path.is_dir()
        and (path / "judge_logprobs").is_dir()
        and (path / "human_labels.json").exists()
    )


def _read_human(path: Path) -> list[str]:
    raw = read_json(path)
    if not isinstance(raw, list) or not raw:
        raise InputError("expected a non-empty JSON list of 'A'/'B' labels", file=path)
    out = []
    for i, v in enumerate(raw):
        w = normalise_winner(v) if not is_missing(v) else None
        if w is None:
            raise InputError(
                f"unknown human label {v!r} (expected 'A' or 'B')",
                file=path,
                row=i + 1,
                field="label",
            )
        out.append(w)
    return out


def _read_groups(path: Path, n: int) -> tuple[list[str | None], list[list[str]]]:
    raw = read_json(path)
    if not isinstance(raw, dict):
        raise InputError("expected a JSON object: group name -> list of pair indices", file=path)
    scenario: list[str | None] = [None] * n
    others: list[list[str]] = [[] for _ in range(n)]
    for name, members in raw.items():
        if name == "all":
            continue
        if not isinstance(members, list):
            raise InputError("expected a list of pair indices", file=path, field=name)
        for k, idx in enumerate(members):
            if not isinstance(idx, int) or isinstance(idx, bool) or not idx >= 0:
                raise InputError(f"bad pair index {idx!r}", file=path, row=k + 1, field=name)
            if idx >= n:
                continue  # beyond a --limit, or a folder with fewer labels (checked elsewhere)
            if name in SCENARIO_GROUPS:
                if scenario[idx] is not None and scenario[idx] != name:
                    raise InputError(
                        f"pair {idx} is in two scenario groups ({scenario[idx]!r} and {name!r})",
                        file=path,
                        row=k + 1,
                        field=name,
                    )
                scenario[idx] = name
            else:
                others[idx].append(name)
    return scenario, others


def _read_logprobs(path: Path, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Read one ``AB.jsonl`` / ``BA.jsonl``: arrays of lp("A") and lp("B"), length ``n``."""
    if not path.exists():
        raise InputError(
            f"missing log-prob file (each judge folder needs AB.jsonl and BA.jsonl; "
            f"{path.parent.name!r} has no {path.name})",
            file=path,
        )
    items, rows = read_jsonl(path, limit=n + 1)
    if len(items) < n:
        raise InputError(
            f"has {len(items)} records, expected {n} (one per label in human_labels.json)",
            file=path,
            row=rows[-1] + 1,
            field="response_a",
        )
    if len(items) > n:
        raise InputError(
            f"has more than {n} records, expected {n} (one per label in human_labels.json)",
            file=path,
            row=rows[n],
            field="response_a",
        )
    out = np.empty((2, n), dtype=float)
    for i, (item, row) in enumerate(zip(items, rows, strict=True)):
        for j, key in enumerate(("response_a", "response_b")):
            v = item.get(key)
            if isinstance(v, bool) or not isinstance(v, int | float) or math.isnan(v) or v > 0:
                raise InputError(
                    f"log-prob must be a number <= 0, got {v!r}", file=path, row=row, field=key
                )
            out[j, i] = v
    return out[0], out[1]


def _verdict(first: np.ndarray, second: np.ndarray, first_is: str, second_is: str) -> list[str]:
    return np.where(first > second, first_is, np.where(first < second, second_is, "tie")).tolist()


def judge_labels_from_logprobs(
    ab_a: np.ndarray, ab_b: np.ndarray, ba_a: np.ndarray, ba_b: np.ndarray
) -> dict[str, Any]:
    """Combine the two presentation orders' log-probs into winner, p_a, winner_ab/_ba.

    Parameters
    ----------
    ab_a, ab_b : numpy.ndarray
        lp("A"), lp("B") with the original order (slot A = original A).
    ba_a, ba_b : numpy.ndarray
        lp("A"), lp("B") with the swapped order (slot A = original B).

    Returns
    -------
    dict
        ``winner``, ``p_a``, ``winner_ab``, ``winner_ba`` (lists / arrays of length n).
    """
    score_a = ab_a + ba_b
    score_b = ab_b + ba_a
    winner = np.where(score_a > score_b, "a", "b").tolist()
    with np.errstate(over="ignore"):
        p_ab = 1.0 / (1.0 + np.exp(ab_b - ab_a))
        p_ba = 1.0 / (1.0 + np.exp(ba_a - ba_b))
    return {
        "winner": winner,
        "p_a": (p_ab + p_ba) / 2.0,
        "winner_ab": _verdict(ab_a, ab_b, "a", "b"),
        "winner_ba": _verdict(ba_a, ba_b, "b", "a"),
    }


def load_gair_folder(path: Path, limit: int | None = None) -> Any:
    """Load the bundled GAIR folder as a judge-label source (see module docstring)."""
    if not path.is_dir():
        raise InputError(
            "expected the GAIR folder (groups.json, human_labels.json, judge_logprobs/)", file=path
        )
    human = _read_human(path / "human_labels.json")
    n_all = len(human)
    n = n_all if limit is None else min(limit, n_all)
    scenario, groups = _read_groups(path / "groups.json", n_all)
    judge_root = path / "judge_logprobs"
    judges = (
        sorted(d.name for d in judge_root.iterdir() if d.is_dir()) if judge_root.is_dir() else []
    )
    ids = [f"gair-{i:05d}" for i in range(n)]
    pairs = pd.DataFrame(
        {
            "pair_id": ids,
            "prompt": [f"[GAIR pair {i}: query text not bundled]" for i in range(n)],
            "response_a": [f"[GAIR pair {i}: response 1 text not bundled]" for i in range(n)],
            "response_b": [f"[GAIR pair {i}: response 2 text not bundled]" for i in range(n)],
            "scenario": scenario[:n],
            "source": "gair",
            "meta": [
                meta_json(
                    {
                        "gair_index": i,
                        "scenario_group": scenario[i],
                        "query_groups": groups[i],
                        "text_available": False,
                        "llm_winner_rule": "gair_logprob_sum",
                        "llm_p_a_rule": "mean_softmax",
                    }
                )
                for i in range(n)
            ],
        }
    )
    idx = np.arange(n)
    frames = [labels_frame(idx, "human", human[:n])]
    for judge in judges:
        ab_a, ab_b = _read_logprobs(judge_root / judge / "AB.jsonl", n_all)
        ba_a, ba_b = _read_logprobs(judge_root / judge / "BA.jsonl", n_all)
        lab = judge_labels_from_logprobs(ab_a[:n], ab_b[:n], ba_a[:n], ba_b[:n])
        frames.append(
            labels_frame(
                idx,
                judge,
                lab["winner"],
                p_a=lab["p_a"],
                winner_ab=lab["winner_ab"],
                winner_ba=lab["winner_ba"],
            )
        )
    info = {
        "format": "gair-folder",
        "path": str(path),
        "texts_available": False,
        "judges": ["human", *judges],
        "winner_rule": WINNER_RULE + " (exact ties count as B, as in GAIR's code)",
        "p_a_rule": P_A_RULE,
    }
    return build_dataset(
        pairs, concat_labels(frames), idx + 1, str(path / "human_labels.json"), info=info
    )


# --------------------------------------------------------------------------------------
# the HF table

_QUERY_CHECK = {
    "clear intent": "intent_unclear",
    "explicitly express feelings": "express_feeling",
    "explicit constraints": "w_constraints",
    "explicit subjective stances": "w_stances",
    "explicit mistakes or biases": "w_mistakes",
}


def _response_part(rec: Records, col: str) -> tuple[list[str], list[str | None], list[Any]]:
    rec.require_columns(col)
    texts, models, words = [], [], []
    for i, v in enumerate(rec.frame[col].tolist()):
        if isinstance(v, str):
            try:
                v = rec.loads(i, col, v)
            except ValueError:
                raise rec.error(
                    i,
                    col,
                    "cannot parse the response record (expected an object with content/model)",
                ) from None
        if not isinstance(v, dict) or not isinstance(v.get("content"), str):
            raise rec.error(i, col, "expected an object with a text 'content'")
        if not v["content"].strip():
            raise rec.error(i, col, "response content is empty")
        texts.append(v["content"])
        models.append(None if is_missing(v.get("model")) else str(v.get("model")))
        words.append(plain(v.get("num_words")))
    return texts, models, words


def _flag(value: Any) -> bool:
    value = plain(value)
    if isinstance(value, list):
        return len(value) > 0
    if isinstance(value, str):
        return value.strip().lower() in ("yes", "true", "1")
    return bool(value) if value is not None else False


def query_flags(meta: dict[str, Any]) -> dict[str, int]:
    """The query-specific flags (0/1) of the query-check columns the row has (``clear
    intent: No`` -> ``intent_unclear``; a non-empty constraints list -> ``w_constraints``...)."""
    out = {}
    for col, name in _QUERY_CHECK.items():
        if col in meta:
            hit = not _flag(meta[col]) if name == "intent_unclear" else _flag(meta[col])
            out[name] = int(hit)
    return out


def _judge_labels(rec: Records) -> tuple[list[int], list[str], list[str]]:
    """(row index, judge, winner) of every label in ``preference_labels``."""
    idx, judges, winners = [], [], []
    for i, raw in enumerate(rec.frame["preference_labels"].tolist()):
        if isinstance(raw, str):
            try:
                raw = rec.loads(i, "preference_labels", raw)
            except ValueError:
                raise rec.error(i, "preference_labels", "cannot parse the judge labels") from None
        if not isinstance(raw, dict):
            raise rec.error(i, "preference_labels", "expected an object judge -> response_1/2")
        for judge, value in raw.items():
            if is_missing(value):
                continue
            w = normalise_winner(value)
            if w is None:
                raise rec.error(
                    i, "preference_labels", f"unknown label {value!r} for judge {judge!r}"
                )
            idx.append(i)
            judges.append(str(judge))
            winners.append(w)
    return idx, judges, winners


def _metas(rec: Records, words: dict[str, list[Any]], annotated: bool) -> list[dict[str, Any]]:
    """Per row: the columns not loaded elsewhere, the query groups and, when the table has
    them, its annotations (checked; see :mod:`preference_dissect.load.gair_annotations`)."""
    frame = rec.frame
    used = {"query", "response_1", "response_2", "preference_labels", "scenario_group"}
    used |= set(ANNOTATION_COLUMNS) if annotated else set()
    extra_cols = [c for c in frame.columns if c not in used]
    extra_values = {c: frame[c].tolist() for c in extra_cols}
    metas, flags = [], []
    for i in range(len(frame)):
        meta: dict[str, Any] = {
            "gair_index": i,
            "num_words_a": words["a"][i],
            "num_words_b": words["b"][i],
        }
        for c in extra_cols:
            meta[c] = plain(extra_values[c][i])
        flags.append(query_flags(meta))
        meta["query_groups"] = [name for name, on in flags[-1].items() if on]
        metas.append(meta)
    if annotated:
        for meta, record in zip(metas, parse_annotations(rec, words, flags), strict=True):
            meta["gair_annotations"] = record
    return metas


def load_gair_table(rec: Records) -> Any:
    """Load the GAIR annotated table (HF ``GAIR/preference-dissection``).

    With GAIR's six annotation columns (:func:`~preference_dissect.load.gair_annotations.
    annotation_columns`) every pair carries its checked annotations in
    ``meta["gair_annotations"]`` and ``info["annotations"]`` names the annotator that reads
    them (``gair_released``); without any, the table loads as labels + query info.
    """
    prompts = text_column(rec, "query")
    resp_a, model_a, words_a = _response_part(rec, "response_1")
    resp_b, model_b, words_b = _response_part(rec, "response_2")
    rec.require_columns("preference_labels")
    annotated = annotation_columns(rec)
    frame = rec.frame
    group = frame["scenario_group"].tolist() if "scenario_group" in frame else [None] * len(frame)
    group = [None if is_missing(g) else g for g in group]
    idx, judges, winners = _judge_labels(rec)
    metas = _metas(rec, {"a": words_a, "b": words_b}, annotated)
    pairs = pd.DataFrame(
        {
            "prompt": prompts,
            "response_a": resp_a,
            "response_b": resp_b,
            "model_a": model_a,
            "model_b": model_b,
            "scenario": group,
            "source": "gair",
            "meta": [meta_json(m) for m in metas],
        }
    )
    labels = labels_frame(idx, judges, winners) if idx else None
    info: dict[str, Any] = {"format": "gair"}
    if annotated:
        info["annotations"] = RELEASED_ANNOTATOR
    return build_dataset(pairs, labels, rec.rows, rec.file, info=info)


@register_loader(
    "gair",
    description="GAIR preference-dissection annotated table (HF parquet)",
    sniff=lambda t: columns_score(t, {"preference_labels", "query"}),
)
def read_gair_table(request: LoadRequest) -> Any:
    """The GAIR table loader."""
    return load_gair_table(request.records())


@register_loader(
    "gair-folder",
    description="bundled GAIR judge-label folder (groups, human labels, judge log-probs)",
    sniff=lambda t: 80 if t.is_dir and t.path is not None and is_gair_folder(t.path) else 0,
)
def read_gair_folder(request: LoadRequest) -> Any:
    """The GAIR folder loader (a local folder only)."""
    if not isinstance(request.where, Path):
        raise InputError("the gair-folder format reads a local folder", field="format")
    return load_gair_folder(request.where, request.limit)
