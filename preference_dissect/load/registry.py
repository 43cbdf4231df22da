"""The loader registry: one :class:`Loader` per source format, each with its own sniffer.

A loader module registers itself::

    from preference_dissect.plugins import register_loader

    @register_loader("my-format", description="...", sniff=lambda t: columns_score(t, {"q", "r1"}))
    def read_my_format(request: LoadRequest) -> PairDataset:
        rec = request.records()          # the file (or hub split) as generic records
        ...

Sniffing is not order-sensitive: every sniffer scores the source (0 = not mine, higher = more
specific: a loader that needs six known columns outscores one that needs two) and the best
score wins; a tie between two formats is an error asking for ``--format``. The ``generic``
loader scores 1 on any table.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError
from preference_dissect.load.common import Progress, Records
from preference_dissect.registry import Registry

BUILTIN_LOADERS = (
    "preference_dissect.load.hh_rlhf",
    "preference_dissect.load.arena",
    "preference_dissect.load.gair",
    "preference_dissect.load.pandalm",
    "preference_dissect.load.llmbar",
    "preference_dissect.load.alpaca_eval",
    "preference_dissect.load.generic",
    "preference_dissect.load.pairs",
)


@dataclass
class Target:
    """What a sniffer sees of a source: its place and, for tables, its first record's keys."""

    where: Path | str
    _columns: set[str] | None = field(default=None, repr=False)

    @property
    def is_hub(self) -> bool:
        """A ``hf:`` source (columns come from the downloaded split)."""
        return isinstance(self.where, str)

    @property
    def path(self) -> Path | None:
        """The local path (``None`` for a hub source)."""
        return None if isinstance(self.where, str) else self.where

    @property
    def is_dir(self) -> bool:
        """A local folder."""
        return self.path is not None and self.path.is_dir()

    @property
    def name(self) -> str:
        """Lower-case file or folder name."""
        return "" if self.path is None else self.path.name.lower()

    @property
    def columns(self) -> set[str]:
        """Column names / keys of the first record (empty for folders)."""
        if self._columns is None:
            self._columns = set() if self.is_dir or self.path is None else first_keys(self.path)
        return self._columns


@dataclass
class LoadRequest:
    """Everything a loader is asked to read.

    Attributes
    ----------
    where : Path or str
        The local file or folder, or a ``hf:`` source string.
    limit : int or None
        Keep only the first N pairs.
    seed : int
        Seed of a random A/B placement (chosen/rejected sources).
    mapping, winner_values : dict
        Column mapping and extra winner spellings of the generic loader.
    progress : callable or None
        ``progress(done, total, what)`` for long loads.
    """

    where: Path | str
    limit: int | None = None
    seed: int = 0
    mapping: dict[str, Any] = field(default_factory=dict)
    winner_values: dict[str, str] = field(default_factory=dict)
    progress: Progress | None = None
    _records: Records | None = field(default=None, repr=False)

    def records(self) -> Records:
        """The source as generic records (read once): a table file or a hub split."""
        if self._records is None:
            if isinstance(self.where, str):
                from preference_dissect.load.hub import load_hub_records

                self._records = load_hub_records(self.where, self.limit)
            elif self.where.is_dir():
                raise InputError("expected a file, got a folder", file=self.where)
            else:
                from preference_dissect.load.common import read_records

                self._records = read_records(self.where, self.limit)
        return self._records


@dataclass(frozen=True)
class Loader:
    """A registered source format."""

    name: str
    description: str
    read: Callable[[LoadRequest], Any]
    sniff: Callable[[Target], int] | None = None
    aliases: tuple[str, ...] = ()


LOADERS: Registry[Loader] = Registry("format", "format", builtins=BUILTIN_LOADERS)


def register_loader(
    name: str,
    *,
    description: str,
    sniff: Callable[[Target], int] | None = None,
    aliases: tuple[str, ...] = (),
) -> Callable[[Callable[[LoadRequest], Any]], Callable[[LoadRequest], Any]]:
    """Decorator: register ``read(request) -> PairDataset`` as the loader of ``name``."""

    def decorate(read: Callable[[LoadRequest], Any]) -> Callable[[LoadRequest], Any]:
        LOADERS.add(name, Loader(name, description, read, sniff, aliases), aliases=aliases)
        return read

    return decorate


def columns_score(target: Target, required: set[str], *, excluded: set[str] = frozenset()) -> int:
    """A sniffer's score for tables: ``10 x len(required)`` when every required column is
    there and no excluded one is, else 0 (more specific formats score higher)."""
    cols = target.columns
    return 10 * len(required) if required <= cols and not (excluded & cols) else 0


def sniff(target: Target) -> str:
    """The format of ``target``: the best-scoring sniffer (see the module docstring)."""
    scores = [(loader.sniff(target), name) for name, loader in LOADERS.items() if loader.sniff]
    scores = sorted((s, n) for s, n in scores if s > 0)
    if not scores:
        raise InputError(
            "cannot tell the format of this source (use --format; known: "
            f"{', '.join(LOADERS.names())})",
            file=target.where,
        )
    best = scores[-1][0]
    winners = [n for s, n in scores if s == best]
    if len(winners) > 1:
        raise InputError(
            f"the source looks like several formats ({', '.join(winners)}): use --format",
            file=target.where,
        )
    return winners[0]


@functools.cache
def _first_keys_cached(path: str, mtime: int) -> frozenset[str]:
    return frozenset(_read_first_keys(Path(path)))


def first_keys(path: Path) -> set[str]:
    """Column names / keys of the first record of a file, read cheaply."""
    return set(_first_keys_cached(str(path), path.stat().st_mtime_ns))


def _read_first_keys(path: Path) -> set[str]:
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
        return _json_keys(text.split("\n", 1)[0], 0)
    if name.endswith((".json", ".json.gz")):
        return _json_keys(text, max(text.find("{"), 0))
    return set()


def _json_keys(text: str, start: int) -> set[str]:
    """Keys of the JSON object at ``text[start:]`` (parsed without reading the whole file)."""
    try:
        obj, _ = json.JSONDecoder().raw_decode(text[start:])
    except (ValueError, RecursionError):
        return set()
    return set(obj) if isinstance(obj, dict) else set()
