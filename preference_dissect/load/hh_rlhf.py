"""Anthropic HH-RLHF: ``{"chosen", "rejected"}`` full transcripts (``.jsonl`` / ``.jsonl.gz``).

Each transcript is split at its LAST ``\\n\\nAssistant:``: the text after it is the response,
the text before it is parsed into ``\\n\\nHuman:`` / ``\\n\\nAssistant:`` turns. The last
Human turn is the ``prompt``, the turns before it are the ``conversation``.

Decisions (recorded per pair in ``meta``):

* The two transcripts usually share everything before the last Assistant turn, but not
  always (5 of the 2,312 harmless-base test pairs differ). We use the CHOSEN transcript's
  turns and set ``meta["prefix_mismatch"] = true`` with the rejected transcript's own prefix
  in ``meta["rejected_prefix"]``.
* If Assistant turns follow the last Human turn before the final response (a transcript
  with two Assistant turns in a row), they are kept in ``meta["turns_after_prompt"]``.
* Which side the chosen response lands on is random with a fixed seed (default 0, in
  ``info`` and ``meta["seed"]``), so the ``human`` label is not always ``a``.
* Responses are stripped of surrounding white space. Empty responses are kept (4 real
  pairs in the harmless-base test split have a blank chosen response).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.common import (
    Records,
    build_dataset,
    labels_frame,
    meta_json,
    text_column,
)
from preference_dissect.load.registry import LoadRequest, Target, columns_score, register_loader

ASSISTANT = "\n\nAssistant:"
_TURN = re.compile(r"\n\n(Human|Assistant):")


def parse_transcript(text: str) -> tuple[list[dict[str, Any]], str, str, list[str]]:
    """Split one transcript into (earlier turns, prompt, response, turns after the prompt).

    Raises
    ------
    ValueError
        If there is no Assistant turn or no Human turn before it.
    """
    cut = text.rfind(ASSISTANT)
    if cut < 0:
        raise ValueError("transcript has no '\\n\\nAssistant:' turn")
    response = text[cut + len(ASSISTANT) :].strip()
    parts = _TURN.split(text[:cut])
    turns: list[dict[str, Any]] = []
    if parts[0].strip():
        turns.append({"role": "system", "content": parts[0].strip(), "side": None})
    for k in range(1, len(parts), 2):
        role = "user" if parts[k] == "Human" else "assistant"
        turns.append({"role": role, "content": parts[k + 1].strip(), "side": None})
    last_user = max((i for i, t in enumerate(turns) if t["role"] == "user"), default=-1)
    if last_user < 0:
        raise ValueError("transcript has no '\\n\\nHuman:' turn before the last Assistant turn")
    after = [t["content"] for t in turns[last_user + 1 :]]
    return turns[:last_user], turns[last_user]["content"], response, after


def load_hh_rlhf(rec: Records, seed: int = 0) -> Any:
    """Build the pair dataset from hh-rlhf records (see module docstring)."""
    chosen = text_column(rec, "chosen", allow_empty=True)
    rejected = text_column(rec, "rejected", allow_empty=True)
    n = len(chosen)
    flips = np.random.default_rng(seed).random(n) < 0.5  # True: chosen goes to side B
    conv, prompts, resp_a, resp_b, metas, winners = [], [], [], [], [], []
    for i in range(n):
        try:
            turns, prompt, ch_resp, after = parse_transcript(chosen[i])
        except ValueError as exc:
            raise rec.error(i, "chosen", str(exc)) from None
        try:
            _, _, rj_resp, rj_after = parse_transcript(rejected[i])
        except ValueError as exc:
            raise rec.error(i, "rejected", str(exc)) from None
        side = "b" if flips[i] else "a"
        meta: dict[str, Any] = {"line": rec.row(i), "chosen_side": side, "seed": seed}
        ch_prefix = chosen[i][: chosen[i].rfind(ASSISTANT)]
        rj_prefix = rejected[i][: rejected[i].rfind(ASSISTANT)]
        if ch_prefix != rj_prefix:
            meta["prefix_mismatch"] = True
            meta["rejected_prefix"] = rj_prefix
        if after:
            meta["turns_after_prompt"] = after
        if rj_after and ch_prefix != rj_prefix:
            meta["rejected_turns_after_prompt"] = rj_after
        conv.append(turns)
        prompts.append(prompt)
        a, b = (rj_resp, ch_resp) if flips[i] else (ch_resp, rj_resp)
        resp_a.append(a)
        resp_b.append(b)
        winners.append(side)
        metas.append(meta_json(meta))
    if n == 0:
        raise InputError("no records", file=rec.file)
    pairs = pd.DataFrame(
        {
            "conversation": conv,
            "prompt": prompts,
            "response_a": resp_a,
            "response_b": resp_b,
            "source": "hh-rlhf",
            "meta": metas,
        }
    )
    labels = labels_frame(np.arange(n), "human", winners)
    info = {
        "format": "hh-rlhf",
        "path": rec.file,
        "seed": seed,
        "side_randomisation": "chosen response placed on side B where "
        "numpy.random.default_rng(seed).random(n) < 0.5",
        "empty_responses": int(
            sum(not a.strip() for a in resp_a) + sum(not b.strip() for b in resp_b)
        ),
        "prefix_mismatches": int(sum('"prefix_mismatch"' in m for m in metas)),
    }
    return build_dataset(pairs, labels, rec.rows, rec.file, info=info, allow_empty=True)


def _sniff(target: Target) -> int:
    return columns_score(target, {"chosen", "rejected"}, excluded={"prompt"})


@register_loader(
    "hh-rlhf",
    description="Anthropic HH-RLHF {chosen, rejected} transcripts (.jsonl / .jsonl.gz)",
    sniff=_sniff,
    aliases=("hh",),
)
def read_hh_rlhf(request: LoadRequest) -> Any:
    """The hh-rlhf loader (:func:`load_hh_rlhf` on the source's records)."""
    return load_hh_rlhf(request.records(), request.seed)
