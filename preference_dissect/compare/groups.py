"""Which groups each pair belongs to: ``all``, its scenario, and query-specific groups.

Query-specific groups (GAIR: ``intent_unclear``, ``express_feeling``, ``w_constraints``,
``w_stances``, ``w_mistakes``) come from query-check flags in the annotations (rows with
``side == "query"`` and value 1) or from the pair's ``meta["query_groups"]`` (a list of group
names, or a mapping name -> truthy flag).
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.definitions import query_group_names

ALL_GROUP = "all"


def scenario_groups(groups: list[str]) -> list[str]:
    """The scenario groups among ``groups``: GAIR's scenario groups present, or else every
    group other than ``all`` and the query-specific groups (they partition the pairs, so
    averaging over them, or pooling them, counts every pair once)."""
    from preference_dissect.definitions import scenario_group_names

    scenarios = set(scenario_group_names())
    query = set(query_group_names())
    chosen = [g for g in groups if g in scenarios]
    if chosen:
        return chosen
    return [g for g in groups if g != ALL_GROUP and g not in query] or list(groups)


def _meta_query_groups(meta_text: Any) -> list[str]:
    try:
        meta = json.loads(meta_text) if isinstance(meta_text, str) else {}
    except ValueError:
        return []
    groups = meta.get("query_groups") if isinstance(meta, dict) else None
    if isinstance(groups, dict):
        return [str(k) for k, v in groups.items() if v]
    if isinstance(groups, (list, tuple)):
        return [str(g) for g in groups]
    return []


def pair_groups(pairs: pd.DataFrame, annotations: pd.DataFrame | None = None) -> pd.DataFrame:
    """Return the long (pair_id, group) membership table.

    Parameters
    ----------
    pairs : pandas.DataFrame
        Canonical pair table (``pair_id``, ``scenario``, ``meta``).
    annotations : pandas.DataFrame, optional
        Long annotation table; query-check flags (``side == "query"``, attribute in the
        query-group names, value 1) add query-specific groups.

    Returns
    -------
    pandas.DataFrame
        Columns ``pair_id``, ``group``; every pair is in ``all``, then its scenario (when not
        null), then its query groups, without duplicates.
    """
    rows: list[tuple[str, str]] = []
    flags: dict[str, list[str]] = {}
    if annotations is not None and len(annotations):
        names = set(query_group_names())
        q = annotations[(annotations["side"] == "query") & annotations["attribute"].isin(names)]
        values = pd.to_numeric(q["value"], errors="coerce").to_numpy(float)
        q = q[np.nan_to_num(values) >= 0.5]
        for pid, attr in zip(q["pair_id"], q["attribute"], strict=True):
            flags.setdefault(pid, []).append(attr)
    for pid, scenario, meta in zip(pairs["pair_id"], pairs["scenario"], pairs["meta"], strict=True):
        groups = [ALL_GROUP]
        if isinstance(scenario, str) and scenario:
            groups.append(scenario)
        groups += _meta_query_groups(meta) + flags.get(pid, [])
        rows.extend((pid, g) for g in dict.fromkeys(groups))
    return pd.DataFrame(rows, columns=["pair_id", "group"])
