"""Render the pairwise judge prompt (``annotators/judge/prompts/pairwise.jinja``) for one order."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from preference_dissect.prompts import Prompts

#: The judge's definition (``annotators/judge``) and its prompt.
JUDGE = "judge"
TEMPLATE = "pairwise"


def judge_prompts() -> Prompts:
    """The judge's prompts (its folder, then the shared ones)."""
    return Prompts.of_annotator(JUDGE)


def side_history(conversation: list[dict[str, Any]], side: str) -> list[dict[str, str]]:
    """Earlier turns as seen by one side: shared turns plus that side's own assistant turns."""
    return [
        {"role": t["role"], "content": t["content"]}
        for t in conversation
        if t.get("side") in (None, side)
    ]


def render_prompt(pair: Mapping[str, Any], order: str, *, cot: bool = False) -> str:
    """Return the user message asking which response is better, in presentation ``order``.

    Parameters
    ----------
    pair : mapping
        One row of the canonical pair table (``conversation``, ``prompt``, ``response_a``,
        ``response_b``).
    order : {"ab", "ba"}
        ``ab`` shows the original A in slot A; ``ba`` shows the original B in slot A.
    cot : bool
        Ask for reasoning first and a final ``Verdict: A|B`` line.

    Returns
    -------
    str
    """
    if order not in ("ab", "ba"):
        raise ValueError(f"order must be 'ab' or 'ba', got {order!r}")
    conversation = list(pair.get("conversation") or [])
    sides = ("a", "b") if order == "ab" else ("b", "a")
    shared = all(t.get("side") is None for t in conversation)
    slots = [
        {
            "label": label,
            "history": side_history(conversation, side),
            "response": pair[f"response_{side}"],
        }
        for label, side in zip(("A", "B"), sides, strict=True)
    ]
    text = judge_prompts().render(
        TEMPLATE,
        shared=shared,
        history=side_history(conversation, "a") if shared else [],
        prompt=pair["prompt"],
        slots=slots,
        cot=cot,
    )
    return text + "\n"


def build_messages(
    pair: Mapping[str, Any], order: str, *, cot: bool = False
) -> list[dict[str, str]]:
    """Chat messages for one judge call (a single user message)."""
    return [{"role": "user", "content": render_prompt(pair, order, cot=cot)}]


def prompt_version(*, cot: bool) -> str:
    """A short version string that changes whenever the template text or the mode changes."""
    digest = hashlib.sha256(judge_prompts().source(TEMPLATE).encode("utf-8")).hexdigest()[:12]
    return f"judge-pairwise/{'cot' if cot else 'direct'}/{digest}"
