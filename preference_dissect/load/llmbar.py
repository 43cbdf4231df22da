"""LLMBar (``dataset.json`` files of ``{input, output_1, output_2, label}``).

``label`` 1 / 2 names the objectively better output: it becomes ``gold`` ``a`` / ``b``
(there is no judge label). The subset (``Natural``, ``Adversarial-GPTInst``,
``Processed-MT-Bench``...) is the ``scenario`` and ``meta["subset"]``; it comes from the
folder names under the LLMBar root (a path given directly to one ``dataset.json`` uses its
parent folder, prefixed by ``Adversarial`` / ``Processed`` when that is the grandparent).
A folder is read recursively, subsets in sorted order.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.common import (
    Records,
    build_dataset,
    extra_meta,
    int_code,
    meta_json,
    read_json_array,
    records_from_dicts,
    text_column,
)
from preference_dissect.load.registry import LoadRequest, Target, columns_score, register_loader

GOLD = {1: "a", 2: "b"}


def subset_name(file: Path, root: Path | None = None) -> str:
    """Subset label of one ``dataset.json`` (``Adversarial-GPTInst``, ``Natural``...)."""
    parent = file.parent
    if root is not None and parent != root:
        return "-".join(parent.relative_to(root).parts)
    if parent.parent.name in ("Adversarial", "Processed"):
        return f"{parent.parent.name}-{parent.name}"
    return parent.name


def _gold(rec: Records) -> list[str]:
    rec.require_columns("label")
    out = []
    for i, v in enumerate(rec.frame["label"].tolist()):
        code = int_code(v)
        if code not in GOLD:
            raise rec.error(i, "label", f"expected 1 or 2 (the better output), got {v!r}")
        out.append(GOLD[code])
    return out


def _pairs(rec: Records, subset: str) -> pd.DataFrame:
    prompts = text_column(rec, "input")
    out_1 = text_column(rec, "output_1")
    out_2 = text_column(rec, "output_2")
    gold = _gold(rec)
    metas = []
    for m, row in zip(
        extra_meta(rec, ("input", "output_1", "output_2", "label")), rec.rows, strict=True
    ):
        m.update({"subset": subset, "record": int(row)})
        metas.append(meta_json(m))
    return pd.DataFrame(
        {
            "prompt": prompts,
            "response_a": out_1,
            "response_b": out_2,
            "scenario": subset,
            "source": "llmbar",
            "gold": gold,
            "meta": metas,
        }
    )


def load_llmbar(path: Path, limit: int | None = None) -> Any:
    """Load one LLMBar ``dataset.json`` or a folder of them (see module docstring)."""
    if path.is_dir():
        files = sorted(path.rglob("dataset.json"))
        if not files:
            raise InputError("no dataset.json found in this LLMBar folder", file=path)
        root: Path | None = path
    else:
        files = [path]
        root = None
    frames, rows, row_files = [], [], []
    for f in files:
        items = read_json_array(f)
        rec = records_from_dicts(items, range(1, len(items) + 1), str(f))
        frames.append(_pairs(rec, subset_name(f, root)))
        rows.extend(rec.rows.tolist())
        row_files.extend([str(f)] * len(rec.rows))
    pairs = pd.concat(frames, ignore_index=True)
    if limit is not None:
        pairs = pairs.iloc[:limit]
        rows = rows[:limit]
    # a problem found while building is reported against the first file; the rows still
    # count records within each file.
    info = {
        "format": "llmbar",
        "path": str(path),
        "files": [str(f) for f in files],
        "subsets": sorted(set(pairs["scenario"])),
    }
    return build_dataset(
        pairs, None, np.asarray(rows), row_files[0] if len(files) == 1 else str(path), info=info
    )


def _sniff_llmbar(target: Target) -> int:
    if target.is_dir:
        return 30 if target.path is not None and any(target.path.rglob("dataset.json")) else 0
    return columns_score(target, {"input", "output_1", "output_2", "label"})


@register_loader(
    "llmbar",
    description="LLMBar dataset.json (file or folder of subsets); label -> gold",
    sniff=_sniff_llmbar,
)
def read_llmbar(request: LoadRequest) -> Any:
    """The LLMBar loader (files and folders; records of a hub split)."""
    if isinstance(request.where, Path):
        return load_llmbar(request.where, request.limit)
    rec = request.records()
    info = {"format": "llmbar"}
    return build_dataset(_pairs(rec, "llmbar"), None, rec.rows, rec.file, info=info)
