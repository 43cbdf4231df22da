"""AlpacaEval annotation files (JSON list of ``{instruction, output_1, output_2, generator_1,
generator_2, annotator, preference, dataset, ...}``).

``instruction`` -> prompt, ``output_1`` / ``output_2`` -> A / B, ``generator_1`` / ``_2`` ->
``model_a`` / ``model_b``, ``dataset`` -> ``scenario``, judge = the ``annotator`` field.
``preference`` 1 -> a, 2 -> b; 1.5 and 0 (AlpacaEval's value for identical outputs) -> tie.
Weighted annotators give a continuous preference in [1, 2]: ``p_a = 2 - preference`` and
the winner is the nearer side (1.5 -> tie). Other columns are kept in ``meta``. Rows with
the same texts and different annotators become one pair with several labels.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from preference_dissect.load.common import (
    Records,
    as_number,
    extra_meta,
    meta_json,
    optional_text_column,
    text_column,
)
from preference_dissect.load.generic import assemble
from preference_dissect.load.registry import LoadRequest, columns_score, register_loader


def preference_label(value: Any) -> tuple[str, float] | None:
    """Map an AlpacaEval ``preference`` to ``(winner, p_a)``; None if it is not valid."""
    f = as_number(value)
    if f is None:
        return None
    if f == 0:
        return "tie", math.nan
    if not 1 <= f <= 2:
        return None
    winner = "a" if f < 1.5 else "b" if f > 1.5 else "tie"
    return winner, 2.0 - f


def load_alpaca_eval(rec: Records) -> Any:
    """Build the dataset from AlpacaEval annotation records."""
    prompts = text_column(rec, "instruction")
    resp_a = text_column(rec, "output_1")
    resp_b = text_column(rec, "output_2")
    rec.require_columns("preference")
    judges = (
        text_column(rec, "annotator")
        if "annotator" in rec.frame
        else ["alpaca_eval"] * len(prompts)
    )
    labels = []
    for i, v in enumerate(rec.frame["preference"].tolist()):
        lab = preference_label(v)
        if lab is None:
            raise rec.error(
                i, "preference", f"expected 1, 2, a value in [1, 2] or 0 (tie), got {v!r}"
            )
        labels.append([(judges[i], lab[0], lab[1])])
    used = (
        "instruction",
        "output_1",
        "output_2",
        "generator_1",
        "generator_2",
        "annotator",
        "preference",
        "dataset",
    )
    pairs = pd.DataFrame(
        {
            "prompt": prompts,
            "response_a": resp_a,
            "response_b": resp_b,
            "model_a": optional_text_column(rec, "generator_1"),
            "model_b": optional_text_column(rec, "generator_2"),
            "scenario": optional_text_column(rec, "dataset"),
            "source": "alpaca_eval",
            "meta": [meta_json(m) for m in extra_meta(rec, used)],
        }
    )
    info = {
        "format": "alpaca-eval",
        "path": rec.file,
        "preference_rule": "1 -> a, 2 -> b, 1.5 or 0 -> tie, p_a = 2 - preference",
    }
    return assemble(rec, pairs, labels, explicit_ids=False, info=info)


@register_loader(
    "alpaca-eval",
    description="AlpacaEval annotations (instruction, output_1/2, preference)",
    sniff=lambda t: columns_score(t, {"instruction", "output_1", "output_2", "preference"}),
    aliases=("alpaca_eval",),
)
def read_alpaca_eval(request: LoadRequest) -> Any:
    """The AlpacaEval loader."""
    return load_alpaca_eval(request.records())
