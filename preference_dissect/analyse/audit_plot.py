"""Plots of a judge audit (matplotlib Agg; PNG and SVG)."""

from __future__ import annotations

import os
from pathlib import Path

import pandas as pd

from preference_dissect.io import atomic_path


def _save(fig: object, out_dir: Path, stem: str) -> list[Path]:
    paths = []
    for ext in ("png", "svg"):
        target = out_dir / f"{stem}.{ext}"
        with atomic_path(target) as tmp:
            fig.savefig(tmp, format=ext, dpi=150, bbox_inches="tight")  # type: ignore[attr-defined]
        paths.append(target)
    return paths


def plot_audit(table: pd.DataFrame, out_dir: str | os.PathLike[str], reference: str) -> list[Path]:
    """Draw the agreement plot and the order-bias plot of an audit table.

    Parameters
    ----------
    table : pandas.DataFrame
        :meth:`preference_dissect.analyse.audit.AuditResult.table` (one row per judge).
    out_dir : path
        Folder for ``audit_agreement.{png,svg}`` and ``audit_position.{png,svg}``.
    reference : str
        Reference name for the axis label.

    Returns
    -------
    list of Path
        The files written (a plot is skipped when its metric is missing for every judge).
    """
    from preference_dissect.analyse.plots import new_figure

    out = Path(out_dir)
    written: list[Path] = []
    if "agreement" in table and table["agreement"].notna().any():
        t = table[table["agreement"].notna()].sort_values("agreement")
        fig, ax = new_figure((7, 0.28 * len(t) + 1.2))
        xerr = None
        if {"agreement_low", "agreement_high"} <= set(t.columns):
            xerr = [
                (t["agreement"] - t["agreement_low"]).clip(lower=0).fillna(0),
                (t["agreement_high"] - t["agreement"]).clip(lower=0).fillna(0),
            ]
        ax.errorbar(t["agreement"], range(len(t)), xerr=xerr, fmt="o", capsize=3, color="C0")
        ax.set_yticks(range(len(t)), t["judge"])
        ax.axvline(0.5, color="grey", lw=0.8, ls="--")
        ax.set_xlabel(f"agreement with {reference} (95% bootstrap interval)")
        ax.set_title("Judge agreement")
        written += _save(fig, out, "audit_agreement")
    if {"consistency", "first_slot_rate"} <= set(table.columns):
        t = table[table["consistency"].notna() & table["first_slot_rate"].notna()]
        if len(t):
            fig, ax = new_figure((6.5, 5))
            ax.scatter(t["first_slot_rate"], t["consistency"], color="C1")
            for _, row in t.iterrows():
                ax.annotate(
                    str(row["judge"]),
                    (row["first_slot_rate"], row["consistency"]),
                    fontsize=7,
                    xytext=(3, 3),
                    textcoords="offset points",
                )
            ax.axvline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1)
            ax.set_xlabel("first-slot rate (share of single-order verdicts picking slot A)")
            ax.set_ylabel("order consistency")
            ax.set_title("Position bias")
            written += _save(fig, out, "audit_position")
    return written
