"""Features tables with planted weights, for tests and benchmarks of the fit.

:func:`hierarchical_features` draws weights from the pooled model's own hierarchy
(:mod:`preference_dissect.fit.pooling`) and verdicts from the logistic likelihood, so a
calibrated fit covers the planted weights at the nominal rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

#: Share of comparisons that are a tie (0) for each attribute; the rest split +1 / -1.
TIE_SHARE = 0.55


@dataclass
class Planted:
    """A simulated features table and the weights that generated it.

    Attributes
    ----------
    features : pandas.DataFrame
        pair_id, judge, group, y and one -1/0/+1 column per attribute (``a0``, ``a1``...);
        every pair is also in the ``all`` group.
    weights : pandas.DataFrame
        judge, group, attribute, weight: the planted weight of each scenario-group cell.
    means : pandas.DataFrame
        judge, attribute, weight: each judge's level-1 mean.
    """

    features: pd.DataFrame
    weights: pd.DataFrame
    means: pd.DataFrame


def hierarchical_features(
    seed: int,
    group_sizes: list[int],
    *,
    judges: int = 1,
    attributes: int = 5,
    top_scale: float = 0.5,
    spread: float | np.ndarray = 0.3,
    judge_spread: float | np.ndarray = 0.0,
) -> Planted:
    """Simulate ``judges`` judges x ``len(group_sizes)`` scenario groups (``g0``, ``g1``...).

    Each attribute's population mean is ``Laplace(0, top_scale)``; a judge's mean is the
    population mean plus ``N(0, judge_spread^2)``; a cell's weight is its judge's mean plus
    ``N(0, spread^2)`` (``spread`` and ``judge_spread``: one value or one per attribute).
    Group ``g`` has ``group_sizes[g]`` pairs per judge; verdicts are Bernoulli with the
    logistic link.
    """
    rng = np.random.default_rng(seed)
    p = attributes
    names = [f"a{j}" for j in range(p)]
    top = rng.laplace(0.0, top_scale, p)
    rows, planted, means = [], [], []
    for j in range(judges):
        judge = f"judge{j}"
        mean = top + rng.normal(size=p) * np.broadcast_to(judge_spread, (p,))
        means += [(judge, a, w) for a, w in zip(names, mean, strict=True)]
        for g, n in enumerate(group_sizes):
            weight = mean + rng.normal(size=p) * np.broadcast_to(spread, (p,))
            planted += [(judge, f"g{g}", a, w) for a, w in zip(names, weight, strict=True)]
            x = rng.choice([-1.0, 0.0, 1.0], size=(n, p), p=[(1 - TIE_SHARE) / 2, TIE_SHARE,
                                                               (1 - TIE_SHARE) / 2])  # fmt: skip
            y = (rng.random(n) < 1.0 / (1.0 + np.exp(-x @ weight))).astype(float)
            frame = pd.DataFrame(x, columns=names)
            frame.insert(0, "pair_id", [f"{judge}-g{g}-{i}" for i in range(n)])
            frame.insert(1, "judge", judge)
            frame.insert(2, "group", f"g{g}")
            frame.insert(3, "y", y)
            rows.append(frame)
    scenarios = pd.concat(rows, ignore_index=True)
    features = pd.concat([scenarios, scenarios.assign(group="all")], ignore_index=True)
    return Planted(
        features,
        pd.DataFrame(planted, columns=["judge", "group", "attribute", "weight"]),
        pd.DataFrame(means, columns=["judge", "attribute", "weight"]),
    )
