"""PandaLM human test set and its GPT-3.5 judge file.

``pandalm`` (``testset-v1.json``, or the folder holding it)
    ``prompt`` = ``instruction``, followed by a blank line and ``input`` when there is one
    (both kept in ``meta``); ``response1`` / ``response2`` -> A / B; ``model_a`` /
    ``model_b`` from ``cmp_key`` (``"bloom-7b_llama-7b"``); ``scenario`` =
    ``motivation_app``. Judges ``annotator1``..``annotator3`` (0 tie, 1 first, 2 second)
    and ``majority`` (the verdict of at least two annotators; ``tie`` if all three differ).
    The real file has 54 empty responses (kept) and 6 answers "True" stored as JSON
    booleans (turned back into the text "True").
    When the folder also holds ``gpt-3.5-turbo-testset-v1.json``, its verdicts are added as
    judge ``gpt-3.5-turbo``.

``pandalm-judge`` (``gpt-3.5-turbo-testset-v1.json``)
    A judge file with only ``idx`` and ``gpt_result`` ("1", "2", "Tie"; other results such as
    "garbage" are not verdicts and are skipped, counted in ``info``). It is attached to the
    test set ``testset-v1.json`` found in the same folder. The judge name is the file-name
    part before ``-testset`` (``gpt-3.5-turbo``).
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.common import (
    Records,
    build_dataset,
    concat_labels,
    extra_meta,
    int_code,
    is_missing,
    labels_frame,
    meta_json,
    read_json_array,
    records_from_dicts,
    text_column,
)
from preference_dissect.load.registry import LoadRequest, Target, columns_score, register_loader

TESTSET = "testset-v1.json"
ANNOTATOR_CODES = {0: "tie", 1: "a", 2: "b"}
JUDGE_RESULTS = {"1": "a", "2": "b", "tie": "tie", "0": "tie"}


def _annotator(rec: Records, col: str) -> list[str]:
    rec.require_columns(col)
    out = []
    for i, v in enumerate(rec.frame[col].tolist()):
        code = int_code(v)
        if code not in ANNOTATOR_CODES:
            raise rec.error(i, col, f"expected 0 (tie), 1 (first) or 2 (second), got {v!r}")
        out.append(ANNOTATOR_CODES[code])
    return out


def _booleans_to_text(rec: Records, cols: tuple[str, ...]) -> None:
    """Turn JSON booleans back into text: the real file stores a few "True" answers as true."""
    for col in cols:
        if col in rec.frame:
            rec.frame[col] = [
                ("True" if v else "False") if isinstance(v, bool) else v
                for v in rec.frame[col].tolist()
            ]


def majority(votes: list[list[str]]) -> list[str]:
    """Per pair, the verdict shared by at least two annotators (``tie`` when all differ)."""
    out = []
    for row in zip(*votes, strict=True):
        verdict, count = Counter(row).most_common(1)[0]
        out.append(verdict if count >= 2 else "tie")
    return out


def load_pandalm(rec: Records, judge_files: list[Path] | None = None, limited: bool = False) -> Any:
    """Load the PandaLM test set (plus judge files keyed by ``idx``)."""
    _booleans_to_text(rec, ("instruction", "input", "response1", "response2"))
    instruction = text_column(rec, "instruction", allow_empty=True)
    resp_a = text_column(rec, "response1", allow_empty=True)
    resp_b = text_column(rec, "response2", allow_empty=True)
    inputs = (
        ["" if is_missing(v) else str(v) for v in rec.frame["input"].tolist()]
        if "input" in rec.frame
        else [""] * len(instruction)
    )
    prompts = [
        "\n\n".join(t for t in (ins, inp) if t.strip())
        for ins, inp in zip(instruction, inputs, strict=True)
    ]
    for i, prompt in enumerate(prompts):
        if not prompt.strip():
            raise rec.error(i, "instruction", "instruction and input are both empty")
    models_a, models_b = [], []
    keys = rec.frame["cmp_key"].tolist() if "cmp_key" in rec.frame else [None] * len(prompts)
    for key in keys:
        if isinstance(key, str) and key.count("_") == 1:
            ma, mb = key.split("_")
        else:
            ma = mb = None
        models_a.append(ma)
        models_b.append(mb)
    scen = (
        [None if is_missing(v) else str(v) for v in rec.frame["motivation_app"].tolist()]
        if "motivation_app" in rec.frame
        else [None] * len(prompts)
    )
    used = (
        "instruction",
        "response1",
        "response2",
        "annotator1",
        "annotator2",
        "annotator3",
        "motivation_app",
        "input",
    )
    metas = []
    for ins, inp, m in zip(instruction, inputs, extra_meta(rec, used), strict=True):
        m.update({"instruction": ins, "input": inp})
        metas.append(meta_json(m))
    pairs = pd.DataFrame(
        {
            "prompt": prompts,
            "response_a": resp_a,
            "response_b": resp_b,
            "model_a": models_a,
            "model_b": models_b,
            "scenario": scen,
            "source": "pandalm",
            "meta": metas,
        }
    )
    n = len(pairs)
    idx = np.arange(n)
    votes = [_annotator(rec, f"annotator{k}") for k in (1, 2, 3)]
    frames = [labels_frame(idx, f"annotator{k}", votes[k - 1]) for k in (1, 2, 3)]
    frames.append(labels_frame(idx, "majority", majority(votes)))
    info: dict[str, Any] = {
        "format": "pandalm",
        "path": rec.file,
        "majority_rule": "verdict of >= 2 of 3 annotators, else tie",
        "majorities": {"majority": ["annotator1", "annotator2", "annotator3"]},
    }
    info["empty_responses"] = sum(not t.strip() for t in resp_a + resp_b)
    ds = build_dataset(
        pairs, concat_labels(frames), rec.rows, rec.file, info=info, allow_empty=True
    )
    for jf in judge_files or []:
        ds = attach_judge_file(ds, rec, jf, limited=limited)
    return ds


def judge_name(path: Path) -> str:
    """Judge name from a PandaLM judge file name (``gpt-3.5-turbo-testset-v1.json``)."""
    stem = path.name.split(".json")[0]
    return stem.split("-testset")[0] if "-testset" in stem else stem


def attach_judge_file(ds: Any, rec: Records, path: Path, *, limited: bool = False) -> Any:
    """Add the verdicts of a PandaLM judge file (``idx``, ``gpt_result``) to ``ds``.

    With ``limited`` (the test set was cut by ``--limit``) verdicts for pairs beyond the
    limit are ignored; otherwise an unknown ``idx`` is an error.
    """
    items = read_json_array(path)
    judge = records_from_dicts(items, range(1, len(items) + 1), str(path))
    judge.require_columns("idx", "gpt_result")
    rec.require_columns("idx")
    where = {}
    for i, v in enumerate(rec.frame["idx"].tolist()):
        where[str(v)] = i
    pair_idx, winners, skipped = [], [], Counter()
    seen: set[str] = set()
    for i, (idx, result) in enumerate(
        zip(judge.frame["idx"].tolist(), judge.frame["gpt_result"].tolist(), strict=True)
    ):
        key = str(idx)
        if key not in where and limited:
            continue
        if key not in where:
            raise judge.error(i, "idx", f"idx {idx!r} is not in the test set {rec.file}")
        if key in seen:
            raise judge.error(i, "idx", f"idx {idx!r} appears twice")
        seen.add(key)
        if is_missing(result):
            raise judge.error(i, "gpt_result", "verdict is missing")
        w = JUDGE_RESULTS.get(str(result).strip().lower())
        if w is None:
            skipped[str(result)] += 1
            continue
        pair_idx.append(where[key])
        winners.append(w)
    name = judge_name(path)
    labels = labels_frame(pair_idx, name, winners)
    ids = ds.pairs["pair_id"].to_numpy(dtype=object)
    labels.insert(0, "pair_id", ids[labels.pop("pair_index").to_numpy()])
    ds.labels = pd.concat([ds.labels, labels], ignore_index=True)
    ds.__post_init__()
    ds.info.setdefault("judge_files", []).append(str(path))
    ds.info.setdefault("skipped_verdicts", {})[name] = dict(skipped)
    return ds


def load_pandalm_path(path: Path, fmt: str, limit: int | None = None) -> Any:
    """Load a PandaLM folder, test set file or judge file (``fmt`` pandalm / pandalm-judge)."""
    judge_files: list[Path] = []
    if path.is_dir():
        testset = path / TESTSET
        judge_files = sorted(p for p in path.glob("*-testset-v1.json"))
    elif fmt == "pandalm-judge":
        testset = path.parent / TESTSET
        judge_files = [path]
        if not testset.exists():
            raise InputError(
                f"a PandaLM judge file needs the test set {TESTSET} in the same "
                "folder (it only holds idx and gpt_result)",
                file=path,
            )
    else:
        testset = path
    items = read_json_array(testset)
    rec = records_from_dicts(items, range(1, len(items) + 1), str(testset)).head(limit)
    return load_pandalm(rec, judge_files, limited=limit is not None and limit < len(items))


def _sniff_pandalm(target: Target) -> int:
    if target.is_dir:
        return 50 if target.path is not None and (target.path / TESTSET).exists() else 0
    return columns_score(target, {"instruction", "response1", "response2"})


@register_loader(
    "pandalm",
    description="PandaLM test set (file or folder; the folder adds its judge files)",
    sniff=_sniff_pandalm,
)
def read_pandalm(request: LoadRequest) -> Any:
    """The PandaLM test-set loader."""
    if isinstance(request.where, Path):
        return load_pandalm_path(request.where, "pandalm", request.limit)
    return load_pandalm(request.records())


@register_loader(
    "pandalm-judge",
    description="PandaLM judge file (idx, gpt_result) with testset-v1.json beside it",
    sniff=lambda t: 0 if t.is_hub else columns_score(t, {"idx", "gpt_result"}),
)
def read_pandalm_judge(request: LoadRequest) -> Any:
    """The PandaLM judge-file loader (a local file beside its test set)."""
    if not isinstance(request.where, Path):
        raise InputError("the pandalm-judge format reads a local file", field="format")
    return load_pandalm_path(request.where, "pandalm-judge", request.limit)
