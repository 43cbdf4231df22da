"""Stage: load. Turn a preference source into a :class:`~.schema.PairDataset`.

``load_source(SOURCE)`` accepts a path, ``bundled:NAME`` (see
:data:`preference_dissect.bundled.BUNDLED`) or ``hf:ORG/NAME[:subset][@split]``. The format is
sniffed from the content (folder layout, JSON keys, CSV header, parquet columns) by the
registered loaders (:mod:`.registry`) unless ``fmt`` names one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError
from preference_dissect.load.common import Progress
from preference_dissect.load.registry import LOADERS, LoadRequest, Target, register_loader, sniff
from preference_dissect.load.schema import PairDataset, read_dataset

__all__ = [
    "LOADERS",
    "PairDataset",
    "format_names",
    "load_source",
    "read_dataset",
    "register_loader",
    "resolve_source",
    "sniff_format",
]


def format_names() -> dict[str, str]:
    """Registered format name -> description (built-ins and plug-ins)."""
    return {name: loader.description for name, loader in LOADERS.items()}


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


def sniff_format(path: Path | str) -> str:
    """The format of a local path or ``hf:`` source, by the loaders' sniffers (a hub source
    is sniffed on its downloaded split)."""
    target = Target(path)
    if target.is_hub:
        target = Target(path, set(map(str, LoadRequest(path).records().frame.columns)))
    return sniff(target)


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
        A registered format (:func:`format_names`); sniffed from the content when None.
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
        raise InputError(f"limit must be a positive number of pairs, got {limit}", field="limit")
    mapping = dict(mapping or {})
    winner_values = mapping.pop("winner_values", None) or {}
    where = resolve_source(source)
    request = LoadRequest(where, limit, seed, mapping, winner_values, progress)
    if fmt is not None:
        fmt = LOADERS.canonical(fmt)
        LOADERS.get(fmt)  # an unknown name lists the valid ones
    elif mapping:
        fmt = "generic"  # a column mapping only means something to the generic loader
    else:
        target = Target(where)
        if target.is_hub:  # sniffed on the downloaded split's columns
            target = Target(where, set(map(str, request.records().frame.columns)))
        fmt = sniff(target)
    if mapping and fmt != "generic":
        raise InputError(
            f"a column mapping is only used by the generic format, not {fmt!r}", field="map"
        )
    loader = LOADERS.get(fmt)
    ds = loader.read(request)
    if not loader.read.__module__.startswith("preference_dissect."):
        # a plug-in's dataset is checked here (built-in loaders check theirs row by row)
        ds.validate(file=where if isinstance(where, Path) else None)
    ds.info.setdefault("source", source)
    ds.info["seed"] = ds.info.get("seed", seed)
    ds.info.setdefault("format", fmt)
    return ds
