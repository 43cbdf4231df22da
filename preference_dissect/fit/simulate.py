"""Simulate features tables with planted weights (validation and benchmarks)."""

from __future__ import annotations

import numpy as np
import pandas as pd

ZERO_SHARE = 0.55


def simulate_features(
    weights: dict[tuple[str, str], np.ndarray],
    sizes: dict[str, int],
    attributes: list[str],
    seed: int = 0,
    *,
    zero_share: float = ZERO_SHARE,
    inactive: dict[str, list[str]] | None = None,
) -> pd.DataFrame:
    """Draw a features table whose outcomes follow a logistic model with known weights.

    Parameters
    ----------
    weights : dict
        ``{(judge, group): true weight vector}``.
    sizes : dict
        Rows per group; every judge labels the same pairs of a group.
    attributes : list of str
        Attribute column names.
    seed : int
    zero_share : float
        Probability that an attribute comparison is 0 (a tie); -1 and 1 share the rest.
    inactive : dict, optional
        ``{group: [attribute, ...]}``: attributes that are 0 in every row of that group (like
        GAIR's conditional attributes outside the pairs that trigger them).

    Returns
    -------
    pandas.DataFrame
        Columns ``pair_id, judge, group, y`` then the attributes.
    """
    rng = np.random.default_rng(seed)
    p = len(attributes)
    side = (1.0 - zero_share) / 2
    pair_x = {
        g: rng.choice([-1.0, 0.0, 1.0], size=(n, p), p=[side, zero_share, side])
        for g, n in sizes.items()
    }
    for group, names in (inactive or {}).items():
        if group in pair_x:
            pair_x[group][:, [attributes.index(a) for a in names]] = 0.0
    frames = []
    for (judge, group), w in weights.items():
        xmat = pair_x[group]
        prob = 1.0 / (1.0 + np.exp(-(xmat @ w)))
        y = (rng.random(len(xmat)) < prob).astype(int)
        frame = pd.DataFrame(xmat.astype(int), columns=attributes)
        frame.insert(0, "y", y)
        frame.insert(0, "group", group)
        frame.insert(0, "judge", judge)
        frame.insert(0, "pair_id", [f"{group}-{i:05d}" for i in range(len(xmat))])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)
