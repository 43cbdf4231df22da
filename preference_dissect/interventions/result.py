"""The artifact of every intervention (and of ``discover``): named tables, a JSON summary,
one plot and, for ``discover``, the attribute-set files."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

#: command -> ``plot(tables) -> Figure`` (registered below the class).
PLOTS: dict[str, Callable[[dict[str, pd.DataFrame]], Any]] = {}


@dataclass
class InterventionResult:
    """What ``manipulate``, ``counterfactual``, ``best_of_n`` and ``discover`` return.

    Attributes
    ----------
    command : str
        ``manipulate``, ``counterfactual`` or ``best-of-n``.
    tables : dict of str to pandas.DataFrame
        The command's tables (each written as ``NAME.parquet``), the headline table (the
        report's) first.
    summary : dict
        The metrics and engine usage (``summary.json``, and ``--json``'s output).
    texts : dict of str to str
        Other files to write, by file name (``discover``'s attribute-set YAML files).
    """

    command: str
    tables: dict[str, pd.DataFrame]
    summary: dict[str, Any] = field(default_factory=dict)
    texts: dict[str, str] = field(default_factory=dict)

    def plot(self) -> Any:
        """The command's figure (matplotlib, outside pyplot)."""
        return PLOTS[self.command](self.tables)

    def save(self, out: str | os.PathLike[str]) -> dict[str, Path]:
        """Write the tables, ``summary.json`` and ``COMMAND.png`` into ``out`` (all or
        nothing); return the paths by name."""
        from preference_dissect.interventions._common import write_outputs

        return write_outputs(out, self.tables, self.summary, self.plot(), texts=self.texts)


def _interval_bars(ax: Any, frame: pd.DataFrame, value: str, low: str, high: str) -> None:
    y = range(len(frame))
    err = [
        (frame[value] - frame[low]).clip(lower=0).fillna(0),
        (frame[high] - frame[value]).clip(lower=0).fillna(0),
    ]
    ax.errorbar(frame[value], list(y), xerr=err, fmt="o", capsize=3, color="C0")


def plot_manipulation(tables: dict[str, pd.DataFrame]) -> Any:
    """Win rate of the manipulated answers per arm (95% bootstrap intervals)."""
    from preference_dissect.analyse.plots import new_figure

    effects = tables["effects"]
    overall = effects[effects["scenario"] == "all"].reset_index(drop=True)
    fig, ax = new_figure((7, 0.4 * len(overall) + 1.4))
    _interval_bars(ax, overall, "win_rate", "low", "high")
    ax.set_yticks(range(len(overall)), overall["arm"])
    ax.axvline(0.5, color="grey", lw=0.8, ls="--")
    ax.set_xlim(0, 1)
    ax.set_xlabel("judge's preference for the manipulated answer (95% bootstrap interval)")
    ax.set_title("Manipulation")
    return fig


def plot_counterfactual(tables: dict[str, pd.DataFrame]) -> Any:
    """Interventional effect (log-odds) per attribute beside the fit's weight."""
    from preference_dissect.analyse.plots import new_figure

    effects = tables["effects"].reset_index(drop=True)
    fig, ax = new_figure((7, 0.45 * len(effects) + 1.4))
    y = range(len(effects))
    finite = effects["effect_logit"].clip(-6, 6)
    err = [
        (finite - effects["logit_low"].clip(-6, 6)).clip(lower=0).fillna(0),
        (effects["logit_high"].clip(-6, 6) - finite).clip(lower=0).fillna(0),
    ]
    ax.errorbar(finite, list(y), xerr=err, fmt="o", capsize=3, color="C0", label="rewrite")
    if "weight" in effects and effects["weight"].notna().any():
        ax.plot(effects["weight"], list(y), "s", color="C1", label="fit weight")
    ax.set_yticks(list(y), effects["attribute"])
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("log-odds that the judge prefers the version with the attribute")
    ax.set_title("Counterfactual attribute effects")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_best_of_n(tables: dict[str, pd.DataFrame]) -> Any:
    """Each attribute's mean among the picks against N (95% bootstrap intervals)."""
    from preference_dissect.analyse.plots import new_figure

    prevalence = tables["prevalence"]
    fig, ax = new_figure((7, 4))
    for i, (attr, part) in enumerate(prevalence.groupby("attribute", sort=False)):
        part = part.sort_values("n_samples")
        base = part["mean"].iloc[0] if len(part) and part["mean"].iloc[0] else 1.0
        ax.plot(part["n_samples"], part["mean"] / base, "o-", color=f"C{i % 10}", label=attr)
    ax.set_xscale("log", base=2)
    ax.axhline(1.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("N (answers sampled per prompt)")
    ax.set_ylabel("mean among the picks / at N = 1")
    ax.set_title("Best-of-N against the judge")
    ax.legend(loc="best", fontsize=8)
    return fig


def plot_discovery(tables: dict[str, pd.DataFrame]) -> Any:
    """Each candidate's weight on the train split (95% HDI), kept ones highlighted."""
    from preference_dissect.analyse.plots import new_figure

    sel = tables["selection"].sort_values("weight", kind="stable").reset_index(drop=True)
    fig, ax = new_figure((7, 0.4 * len(sel) + 1.4))
    y = list(range(len(sel)))
    err = [
        (sel["weight"] - sel["hdi_low"]).clip(lower=0).fillna(0),
        (sel["hdi_high"] - sel["weight"]).clip(lower=0).fillna(0),
    ]
    for kept, color in ((True, "C2"), (False, "C7")):
        mask = (sel["kept"] == kept).to_numpy()
        if mask.any():
            ax.errorbar(
                sel["weight"][mask],
                [i for i, m in zip(y, mask, strict=True) if m],
                xerr=[e[mask] for e in err],
                fmt="o",
                color=color,
                capsize=3,
            )
    ax.set_yticks(y, sel["attribute"])
    ax.axvline(0.0, color="grey", lw=0.8, ls="--")
    ax.set_xlabel("weight on the train split (95% HDI); green: kept")
    ax.set_title("Discovered attributes")
    return fig


PLOTS.update(
    {
        "discover": plot_discovery,
        "manipulate": plot_manipulation,
        "counterfactual": plot_counterfactual,
        "best-of-n": plot_best_of_n,
    }
)
