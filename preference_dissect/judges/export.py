"""Export judged pairs as preference-training data (TRL's conversational preference format).

Each JSONL row is ``{"prompt": [{"role", "content"}, ...], "chosen": [{"role": "assistant",
"content": ...}], "rejected": [...]}``: the prompt holds the earlier turns and the last user
turn; chosen/rejected hold the judge's preferred and other final response.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.io import atomic_path
from preference_dissect.load.schema import PairDataset

FORMATS = ("trl",)
SKIP_REASONS = (
    "no_label",
    "tie",
    "both_bad",
    "no_confidence",
    "low_confidence",
    "no_order_verdicts",
    "inconsistent",
    "side_specific_history",
)


def _prompt_messages(conversation: list[dict[str, Any]], prompt: str) -> list[dict[str, str]]:
    turns = [{"role": t["role"], "content": t["content"]} for t in conversation]
    return [*turns, {"role": "user", "content": prompt}]


def pick_judge(dataset: PairDataset, judge: str | None) -> str:
    """Return the judge to export: ``judge`` if given (must exist), else the only judge."""
    known = dataset.judges
    if judge is not None:
        if judge not in known:
            raise InputError(
                f"unknown judge {judge!r} (known: {', '.join(known) or 'none'})", field="judge"
            )
        return judge
    if len(known) == 1:
        return known[0]
    if not known:
        raise InputError("the dataset has no judge labels (pass --labels)")
    raise InputError(f"several judges ({', '.join(known)}): choose one with --judge", field="judge")


def trl_rows(
    dataset: PairDataset,
    judge: str,
    *,
    min_confidence: float | None = None,
    consistent_only: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Build TRL conversational preference rows from one judge's verdicts.

    Parameters
    ----------
    dataset : PairDataset
        Pairs and labels.
    judge : str
        The judge whose ``winner`` picks the chosen response.
    min_confidence : float, optional
        Keep pairs with ``max(p_a, 1 - p_a) >= min_confidence`` (pairs without ``p_a`` are
        skipped as ``no_confidence``).
    consistent_only : bool
        Keep pairs whose two single-order verdicts agree (``winner_ab == winner_ba``).

    Returns
    -------
    rows : list of dict
        ``{"prompt", "chosen", "rejected"}`` in pair-table order.
    report : dict
        ``{"judge", "pairs", "kept", "skipped": {reason: n}}``. Pairs whose earlier assistant
        turns differ between the sides are skipped (``side_specific_history``): a TRL row
        has one shared prompt.
    """
    if min_confidence is not None and not 0.5 <= min_confidence <= 1:
        raise InputError("--min-confidence must be between 0.5 and 1", field="min_confidence")
    labels = dataset.labels[dataset.labels["judge"] == judge].set_index("pair_id")
    pairs = dataset.pairs
    lab = labels.reindex(pd.Index(pairs["pair_id"]))
    skipped: Counter[str] = Counter()
    rows: list[dict[str, Any]] = []
    for (_, pair), (_, label) in zip(pairs.iterrows(), lab.iterrows(), strict=True):
        winner = label["winner"]
        if not isinstance(winner, str):
            skipped["no_label"] += 1
            continue
        if winner in ("tie", "both_bad"):
            skipped[winner] += 1
            continue
        if min_confidence is not None:
            p_a = label["p_a"]
            if p_a is None or not np.isfinite(p_a):
                skipped["no_confidence"] += 1
                continue
            if max(p_a, 1 - p_a) < min_confidence:
                skipped["low_confidence"] += 1
                continue
        if consistent_only:
            ab, ba = label["winner_ab"], label["winner_ba"]
            if not isinstance(ab, str) or not isinstance(ba, str):
                skipped["no_order_verdicts"] += 1
                continue
            if ab != ba:
                skipped["inconsistent"] += 1
                continue
        if any(t.get("side") is not None for t in pair["conversation"]):
            skipped["side_specific_history"] += 1
            continue
        chosen, rejected = (
            (pair["response_a"], pair["response_b"])
            if winner == "a"
            else (pair["response_b"], pair["response_a"])
        )
        rows.append(
            {
                "prompt": _prompt_messages(pair["conversation"], pair["prompt"]),
                "chosen": [{"role": "assistant", "content": chosen}],
                "rejected": [{"role": "assistant", "content": rejected}],
            }
        )
    report = {
        "judge": judge,
        "pairs": len(pairs),
        "kept": len(rows),
        "skipped": {r: skipped[r] for r in SKIP_REASONS if skipped[r]},
    }
    return rows, report


def write_jsonl(rows: list[dict[str, Any]], target: str | os.PathLike[str]) -> Path:
    """Write rows as JSON lines (UTF-8), atomically."""
    with atomic_path(target) as tmp, tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    return Path(target)


def export_rows(
    dataset: PairDataset,
    *,
    judge: str | None = None,
    min_confidence: float | None = None,
    consistent_only: bool = False,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """:func:`trl_rows` of the chosen judge (:func:`pick_judge`); none left is an error."""
    name = pick_judge(dataset, judge)
    rows, report = trl_rows(
        dataset, name, min_confidence=min_confidence, consistent_only=consistent_only
    )
    if not rows:
        reasons = ", ".join(f"{k} {v}" for k, v in report["skipped"].items()) or "no pairs"
        raise InputError(f"no pair left to export (skipped: {reasons})")
    return rows, report


def export_pairs(
    dataset: PairDataset,
    out: str | os.PathLike[str],
    *,
    fmt: str = "trl",
    judge: str | None = None,
    min_confidence: float | None = None,
    consistent_only: bool = False,
) -> dict[str, Any]:
    """Export a judged dataset for preference training and return the counts report.

    Raises
    ------
    InputError
        Unknown format or judge, a bad confidence threshold, or no pair left to export.
    """
    if fmt not in FORMATS:
        raise InputError(
            f"unknown export format {fmt!r} (use {', '.join(FORMATS)})", field="format"
        )
    rows, report = export_rows(
        dataset, judge=judge, min_confidence=min_confidence, consistent_only=consistent_only
    )
    write_jsonl(rows, out)
    report.update({"format": fmt, "out": str(out)})
    return report
