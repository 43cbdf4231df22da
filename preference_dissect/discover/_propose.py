"""Proposing and merging candidate attributes (the LLM half of ``discover``)."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from preference_dissect.definitions import definitions_root, read_yaml
from preference_dissect.llm import LLMRequest
from preference_dissect.prompts import Prompts

FOLDER = "discover"
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,47}$")


class Rubric(BaseModel):
    """How to compare two responses on one attribute."""

    plus: str = Field(min_length=1, max_length=600)
    zero: str = Field(min_length=1, max_length=600)
    minus: str = Field(min_length=1, max_length=600)


class Candidate(BaseModel):
    """One proposed attribute."""

    name: str = Field(min_length=1, max_length=80)
    definition: str = Field(min_length=1, max_length=800)
    rubric: Rubric


class Proposals(BaseModel):
    """The proposer's answer."""

    attributes: list[Candidate] = Field(min_length=1, max_length=20)


class MergedCandidate(Candidate):
    """A candidate after merging, with the names it stands for."""

    merged_from: list[str] = Field(default_factory=list)


class Merged(BaseModel):
    """The merge step's answer."""

    attributes: list[MergedCandidate] = Field(min_length=1, max_length=60)


def settings() -> dict[str, Any]:
    """``annotators/discover/discover.yaml``."""
    return dict(read_yaml(definitions_root("annotators") / FOLDER / "discover.yaml") or {})


def prompts() -> Prompts:
    """The proposer's and the merger's templates."""
    return Prompts([definitions_root("annotators") / FOLDER / "prompts"])


def _version(template: str) -> str:
    return f"discover/{template}/{prompts().fingerprint([template])[:12]}"


def clean_name(name: str) -> str | None:
    """A proposed name as a snake_case identifier (``None`` when nothing usable is left)."""
    text = re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
    if text and text[0].isdigit():
        text = f"a_{text}"
    return text[:48] if text and NAME_RE.match(text[:48]) else None


def proposal_requests(shown: pd.DataFrame, per_call: int, k: int) -> list[LLMRequest]:
    """One proposer call per ``per_call`` pairs of ``shown`` (``prompt``, ``response_a``,
    ``response_b``, ``preferred``)."""
    p = prompts()
    rows = shown.to_dict("records")
    out = []
    for start in range(0, len(rows), per_call):
        batch = rows[start : start + per_call]
        out.append(
            LLMRequest(
                key=f"propose:{start // per_call}",
                messages=p.messages("propose", pairs=batch, k=k),
                schema=Proposals,
                version=_version("propose"),
            )
        )
    return out


def proposals_table(results: Sequence[Any]) -> pd.DataFrame:
    """Every valid proposal: ``call``, ``name`` (cleaned), ``definition``, the rubric."""
    rows = []
    for result in results:
        if result.parsed is None:
            continue
        for cand in result.parsed.attributes:
            name = clean_name(cand.name)
            if name is None:
                continue
            rows.append(
                {
                    "call": result.key,
                    "name": name,
                    "definition": cand.definition.strip(),
                    "plus": cand.rubric.plus.strip(),
                    "zero": cand.rubric.zero.strip(),
                    "minus": cand.rubric.minus.strip(),
                }
            )
    return pd.DataFrame(rows, columns=["call", "name", "definition", "plus", "zero", "minus"])


def merge_request(proposals: pd.DataFrame, max_candidates: int) -> LLMRequest:
    """The merge call over the distinct proposed names (first definition of each)."""
    distinct = proposals.drop_duplicates("name")
    candidates = [
        {"name": n, "definition": d}
        for n, d in zip(distinct["name"], distinct["definition"], strict=True)
    ]
    return LLMRequest(
        key="merge",
        messages=prompts().messages("merge", candidates=candidates, max=max_candidates),
        schema=Merged,
        version=_version("merge"),
    )


def merged_candidates(
    proposals: pd.DataFrame, merged: Any, max_candidates: int
) -> tuple[pd.DataFrame, str]:
    """The candidates after merging: the merge step's answer when it is usable, else the
    distinct proposed names (most often proposed first); and which of the two it was."""
    known = set(proposals["name"])
    rows = []
    if merged is not None:
        for cand in merged.attributes:
            name = clean_name(cand.name)
            if name is None or name in {r["name"] for r in rows}:
                continue
            sources = sorted({clean_name(m) or "" for m in cand.merged_from} & known | {name})
            rows.append(
                {
                    "name": name,
                    "definition": cand.definition.strip(),
                    "plus": cand.rubric.plus.strip(),
                    "zero": cand.rubric.zero.strip(),
                    "minus": cand.rubric.minus.strip(),
                    "merged_from": [s for s in sources if s],
                }
            )
    if rows:
        return pd.DataFrame(rows).head(max_candidates), "llm"
    counts = proposals["name"].value_counts(sort=False)
    order = np.argsort(-counts.to_numpy(), kind="stable")
    names = counts.index[order][:max_candidates]
    first = proposals.drop_duplicates("name").set_index("name").loc[names].reset_index()
    first["merged_from"] = [[n] for n in first["name"]]
    return first[["name", "definition", "plus", "zero", "minus", "merged_from"]], "names"


def attribute_set_yaml(candidates: pd.DataFrame, name: str, description: str) -> str:
    """The candidates as a pairwise attribute-set YAML that ``annotate --annotator`` reads:
    each attribute's definition carries its rubric."""
    import yaml

    attributes = [
        {
            "name": r["name"],
            "label": r["name"].replace("_", " "),
            "definition": (
                f'{r["definition"]} Compare: "A" when {_lower(r["plus"])}; "B" when '
                f'{_lower(r["minus"])}; "similar" when {_lower(r["zero"])}.'
            ),
        }
        for r in candidates.to_dict("records")
    ]
    doc = {
        "name": name,
        "description": description,
        "mode": "pairwise",
        "query_shown": True,
        "batch_size": 8,
        "attributes": attributes,
    }
    head = "# Written by `prefdissect discover`: attributes proposed by an LLM, in its words.\n"
    return head + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)


def _lower(text: str) -> str:
    text = text.strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else text
