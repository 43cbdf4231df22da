"""Stage: load. Turn a preference source into a :class:`~.schema.PairDataset`.

``load_source(SOURCE)`` accepts a path, ``bundled:NAME`` (see
:data:`preference_dissect.bundled.BUNDLED`) or ``hf:ORG/NAME[:subset][@split]``. The format is
sniffed from the content (folder layout, JSON keys, CSV header, parquet columns) unless
``fmt`` names one of :data:`FORMATS`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError
from preference_dissect.load.common import Progress, Records, read_records
from preference_dissect.load.schema import PairDataset, read_dataset

#: Format names accepted by ``--format`` with a one-line description.
FORMATS = {
    "hh-rlhf": "Anthropic HH-RLHF {chosen, rejected} transcripts (.jsonl / .jsonl.gz)",
    "arena": "Chatbot Arena 33k / 140k (conversation_a/b, winner; parquet, json, csv)",
    "arena-55k": "Arena human-preference 55k CSV (JSON turn lists, one-hot winners)",
    "gair": "GAIR preference-dissection annotated table (HF parquet)",
    "gair-folder": "bundled GAIR judge-label folder (groups, human labels, judge log-probs)",
    "pandalm": "PandaLM test set (file or folder; the folder adds its judge files)",
    "pandalm-judge": "PandaLM judge file (idx, gpt_result) with testset-v1.json beside it",
    "llmbar": "LLMBar dataset.json (file or folder of subsets); label -> gold",
    "alpaca-eval": "AlpacaEval annotations (instruction, output_1/2, preference)",
    "generic": "any CSV / JSON / JSONL / parquet table, columns chosen with --map",
    "pairs": "a pair dataset written by `prefdissect load --out` (pairs + labels parquet)",
}
ALIASES = {
    "arena-33k": "arena",
    "arena-140k": "arena",
    "alpaca_eval": "alpaca-eval",
    "hh": "hh-rlhf",
    "csv": "generic",
    "jsonl": "generic",
    "parquet": "generic",
}

__all__ = ["FORMATS", "PairDataset", "load_source", "resolve_source", "sniff_format"]


def resolve_source(source: str) -> Path | str:
    """Return the path behind ``source`` (``bundled:NAME`` resolved), or the ``hf:`` string."""
    if source.startswith("hf:"):
        return source
    if source.startswith("bundled:"):
        from preference_dissect.bundled import bundled_path

        return bundled_path(source.split(":", 1)[1])
    path = Path(os.path.expanduser(source))
    if not path.exists():
        raise InputError("file or folder not found", file=path)
    return path


def _columns_format(cols: set[str]) -> str:
    if {"chosen", "rejected"} <= cols and not ({"prompt"} & cols):
        return "hh-rlhf"
    if {"winner_model_a", "winner_model_b", "winner_tie"} <= cols:
        return "arena-55k"
    if {"conversation_a", "conversation_b"} <= cols:
        return "arena"
    if "preference_labels" in cols and "query" in cols:
        return "gair"
    if {"instruction", "response1", "response2"} <= cols:
        return "pandalm"
    if {"idx", "gpt_result"} <= cols:
        return "pandalm-judge"
    if {"output_1", "output_2", "preference"} <= cols and "instruction" in cols:
        return "alpaca-eval"
    if {"input", "output_1", "output_2", "label"} <= cols:
        return "llmbar"
    if {"pair_id", "prompt", "response_a", "response_b", "source", "meta"} <= cols:
        return "pairs"
    return "generic"


def _first_keys(path: Path) -> set[str]:
    """Column names / keys of the first record of a file, read cheaply."""
    from preference_dissect.load.common import open_binary

    name = path.name.lower()
    if name.endswith(".parquet"):
        import pyarrow.parquet as pq

        try:
            return set(pq.ParquetFile(path).schema_arrow.names)
        except (OSError, ValueError) as exc:
            raise InputError(f"not a readable parquet file ({exc})", file=path) from None
    try:
        with open_binary(path) as fh:
            head = fh.read(1 << 16)
    except (OSError, EOFError) as exc:
        raise InputError(f"cannot read ({exc})", file=path) from None
    text = head.decode("utf-8", errors="replace").lstrip("\ufeff")
    if name.endswith((".csv", ".csv.gz")):
        import csv

        first = next(csv.reader([text.splitlines()[0]]), []) if text.strip() else []
        return {c.strip() for c in first}
    if name.endswith((".jsonl", ".jsonl.gz", ".ndjson")):
        line = text.split("\n", 1)[0]
        try:
            obj = json.loads(line)
            return set(obj) if isinstance(obj, dict) else set()
        except (ValueError, RecursionError):  # the reader reports the problem
            return set()
    if name.endswith((".json", ".json.gz")):
        # parse the first object of an array without reading the whole file
        start = text.find("{")
        if start < 0:
            return set()
        try:
            obj, _ = json.JSONDecoder().raw_decode(text[start:])
            return set(obj) if isinstance(obj, dict) else set()
        except (ValueError, RecursionError):
            return set()
    return set()


def sniff_format(path: Path | str) -> str:
    """Guess the format of a path (see :data:`FORMATS`)."""
    if isinstance(path, str):
        return "hub"
    if path.is_dir():
        from preference_dissect.load.gair import is_gair_folder

        if is_gair_folder(path):
            return "gair-folder"
        if (path / "testset-v1.json").exists():
            return "pandalm"
        if any(path.rglob("dataset.json")):
            return "llmbar"
        raise InputError("cannot tell the format of this folder (use --format)", file=path)
    return _columns_format(_first_keys(path))


def _check_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    fmt = ALIASES.get(fmt, fmt)
    if fmt not in FORMATS:
        raise InputError(f"unknown format {fmt!r} (known: {', '.join(FORMATS)})", field="--format")
    return fmt


def load_records_source(source: str | Path, limit: int | None) -> Records:
    """Read a file or ``hf:`` source into generic :class:`Records`."""
    if isinstance(source, str):
        from preference_dissect.load.hub import load_hub_records

        return load_hub_records(source, limit)
    if source.is_dir():
        raise InputError("expected a file, got a folder", file=source)
    return read_records(source, limit)


def load_source(
    source: str,
    fmt: str | None = None,
    limit: int | None = None,
    mapping: dict[str, Any] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> PairDataset:
    """Load any supported source into a validated :class:`PairDataset`.

    Parameters
    ----------
    source : str
        A path, ``bundled:NAME`` or ``hf:ORG/NAME[:subset][@split]``.
    fmt : str, optional
        One of :data:`FORMATS`; sniffed from the content when None.
    limit : int, optional
        Keep only the first ``limit`` pairs (records of the source).
    mapping : dict, optional
        Column mapping for the generic loader (keys in
        :data:`preference_dissect.load.generic.KEYS`, plus ``winner.JUDGE``); the special key
        ``winner_values`` may hold a ``{value: winner}`` dict.
    seed : int
        Seed of the random A/B placement for chosen/rejected sources (hh-rlhf).
    progress : callable, optional
        ``progress(done, total, what)`` for long loads.

    Returns
    -------
    PairDataset
        Pairs and judge labels; ``info`` records the format, path, seed and loader rules.

    Raises
    ------
    InputError
        For any problem with the source, naming the file, row and field.
    """
    if limit is not None and limit < 1:
        raise InputError(
            f"--limit must be a positive number of pairs, got {limit}", field="--limit"
        )
    fmt = _check_format(fmt)
    mapping = dict(mapping or {})
    winner_values = mapping.pop("winner_values", None) or {}
    where = resolve_source(source)
    if fmt is None and mapping:
        fmt = "generic"  # a column mapping only means something to the generic loader
    if fmt is None:
        fmt = sniff_format(where)
        if fmt == "hub":
            fmt = None
    ds = _dispatch(where, fmt, limit, mapping, seed, winner_values, progress)
    ds.info.setdefault("source", source)
    ds.info["seed"] = ds.info.get("seed", seed)
    ds.info.setdefault("format", fmt)
    return ds


def _dispatch(
    where: Path | str,
    fmt: str | None,
    limit: int | None,
    mapping: dict[str, str],
    seed: int,
    winner_values: dict[str, str],
    progress: Progress | None,
) -> PairDataset:
    if mapping and fmt not in (None, "generic"):
        raise InputError(f"--map is only used by the generic format, not {fmt!r}", field="--map")
    if isinstance(where, Path):
        if fmt == "gair-folder":
            from preference_dissect.load.gair import load_gair_folder

            return load_gair_folder(where, limit)
        if fmt in ("pandalm", "pandalm-judge"):
            from preference_dissect.load.pandalm import load_pandalm_path

            return load_pandalm_path(where, fmt, limit)
        if fmt == "llmbar":
            from preference_dissect.load.llmbar import load_llmbar

            return load_llmbar(where, limit)
        if fmt == "pairs":
            ds = read_dataset(where)
            if limit is not None:
                keep = ds.pairs.iloc[:limit]
                ds = PairDataset(
                    keep, ds.labels[ds.labels["pair_id"].isin(keep["pair_id"])], ds.info
                )
            return ds
        if fmt == "arena" and where.is_file() and where.name.lower().endswith(".parquet"):
            from preference_dissect.load.arena import load_arena_parquet

            return load_arena_parquet(where, limit, progress)
    rec = load_records_source(where, limit)
    if fmt is None:
        fmt = _columns_format(set(map(str, rec.frame.columns)))
        if fmt in ("pairs", "pandalm-judge"):
            fmt = "generic"
    return _from_records(rec, fmt, mapping, seed, winner_values)


def _from_records(
    rec: Records, fmt: str, mapping: dict[str, str], seed: int, winner_values: dict[str, str]
) -> PairDataset:
    if fmt == "hh-rlhf":
        from preference_dissect.load.hh_rlhf import load_hh_rlhf

        return load_hh_rlhf(rec, seed)
    if fmt == "arena":
        from preference_dissect.load.arena import load_arena

        return load_arena(rec)
    if fmt == "arena-55k":
        from preference_dissect.load.arena import load_arena_55k

        return load_arena_55k(rec)
    if fmt == "gair":
        from preference_dissect.load.gair import load_gair_table

        return load_gair_table(rec)
    if fmt == "pandalm":
        from preference_dissect.load.pandalm import load_pandalm

        return load_pandalm(rec)
    if fmt == "alpaca-eval":
        from preference_dissect.load.alpaca_eval import load_alpaca_eval

        return load_alpaca_eval(rec)
    if fmt == "llmbar":
        from preference_dissect.load.common import build_dataset
        from preference_dissect.load.llmbar import _pairs

        pairs = _pairs(rec, "llmbar")
        return build_dataset(pairs, None, rec.rows, rec.file, info={"format": "llmbar"})
    if fmt in ("generic", "pairs"):
        from preference_dissect.load.generic import load_generic

        return load_generic(rec, mapping, seed, winner_values)
    raise InputError(f"format {fmt!r} cannot read {rec.file}", field="--format")
