"""The ``pairs`` format: a dataset written by ``prefdissect load --out`` (pairs + labels)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError
from preference_dissect.load.registry import LoadRequest, columns_score, register_loader
from preference_dissect.load.schema import PairDataset, read_dataset

PAIRS_COLUMNS = {"pair_id", "prompt", "response_a", "response_b", "source", "meta"}


@register_loader(
    "pairs",
    description="a pair dataset written by `prefdissect load --out` (pairs + labels parquet)",
    sniff=lambda t: 0 if t.is_hub else columns_score(t, PAIRS_COLUMNS),
)
def read_pairs_format(request: LoadRequest) -> Any:
    """Read a written dataset (and its labels sidecar), keeping the first ``limit`` pairs."""
    if not isinstance(request.where, Path):
        raise InputError("the pairs format reads a local parquet file", field="format")
    ds = read_dataset(request.where)
    if request.limit is not None:
        keep = ds.pairs.iloc[: request.limit]
        ds = PairDataset(keep, ds.labels[ds.labels["pair_id"].isin(keep["pair_id"])], ds.info)
    return ds
