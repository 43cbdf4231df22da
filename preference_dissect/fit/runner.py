"""Fit a whole features table to one ``InferenceData``, with progress: in memory
(:func:`fit_table_idata`, the Python API's ``fit``) or saved, resumably
(:func:`fit_features`, used by ``prefdissect fit`` and ``prefdissect run``: finished
(judge, group) fits are checkpointed beside the output (``OUT.partial/``) so an interrupted
fit resumes without redoing them).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preference_dissect.consoles import live_bars_work
from preference_dissect.errors import InputError
from preference_dissect.fit.features import FeatureTable
from preference_dissect.fit.spec import FitSpec
from preference_dissect.threads import single_blas_thread


@dataclass
class FitOutcome:
    """What :func:`fit_features` produced.

    Attributes
    ----------
    idata : arviz.InferenceData
        All fits, dims (judge, group, attribute); saved at ``path``.
    path : pathlib.Path or None
        The NetCDF file (``None``: kept in memory, :func:`fit_table_idata`).
    methods : dict
        Number of fits per method (``is`` importance sampling, ``nuts``...).
    notes : list of str
        Diagnostic warnings (also stored in the file).
    seconds : float
        Wall time.
    resumed : int
        Fits reused from an interrupted earlier run.
    """

    idata: Any
    path: Path | None
    methods: dict[str, int]
    notes: list[str]
    seconds: float
    resumed: int


def skipped_summary(cells: dict[tuple[str, str], Any]) -> str:
    """One line on the cells that were not fitted, with their sizes."""
    skipped = [(j, g, c) for (j, g), c in cells.items() if c.method == "skipped"]
    if not skipped:
        return ""
    listed = ", ".join(f"{j} / {g} ({c.n})" for j, g, c in skipped[:12])
    more = f" and {len(skipped) - 12} more" if len(skipped) > 12 else ""
    return (
        f"{len(skipped)} cell(s) not fitted (too few pairs; reasons in the fit's diagnostics): "
        f"{listed}{more}"
    )


def dropped_summary(cells: dict[tuple[str, str], Any]) -> str:
    """One line on the attributes left out of cells because they are constant there."""
    counts: dict[str, int] = {}
    for cell in cells.values():
        for name in cell.dropped:
            counts[name] = counts.get(name, 0) + 1
    if not counts:
        return ""
    listed = ", ".join(f"{a} ({n})" for a, n in sorted(counts.items(), key=lambda x: -x[1]))
    return (
        "attributes constant in a cell carry no information there and were left out of it "
        f"(weight NaN; cells per attribute): {listed}"
    )


def check_cell_sizes(table: FeatureTable, spec: FitSpec) -> None:
    """At least one (judge, group) cell must reach ``spec.min_group_size`` rows."""
    sizes = table.frame.groupby(["judge", "group"], sort=False).size()
    if not (sizes >= spec.min_group_size).any():
        raise InputError(
            f"no (judge, group) cell has at least {spec.min_group_size} rows (largest: "
            f"{int(sizes.max())}); lower min_group_size (--min-group-size)",
            field="min_group_size",
        )


@single_blas_thread
def fit_table_idata(
    table: FeatureTable,
    spec: FitSpec,
    *,
    source: str = "",
    console: Any = None,
    checkpoint: Any = None,
    progress: bool = True,
    workers: int | None = None,
) -> FitOutcome:
    """Fit every (judge, group) cell of ``table`` into one ``InferenceData`` (in memory).

    Parameters
    ----------
    table : FeatureTable
        Validated features (see :func:`preference_dissect.fit.features.validate_features`).
    spec : FitSpec
        Model, prior, sampler and draws.
    source : str
        Description of the features' origin, stored in the fit's attributes.
    console : rich.console.Console, optional
        Where progress and warnings go (default: stderr).
    checkpoint : Checkpoint, optional
        Saves each finished fit and gives back those of an interrupted earlier run.
    progress : bool
        Show a progress bar.
    workers : int, optional
        Processes that fit cells (default: ``$PREFDISSECT_WORKERS``, else 1; see
        :func:`~preference_dissect.fit.cells.fit_table`): the results do not depend on it.

    Returns
    -------
    FitOutcome
        With ``path`` ``None``.
    """
    from rich.console import Console

    from preference_dissect.fit.cells import fit_table
    from preference_dissect.fit.controls import with_table_controls
    from preference_dissect.fit.idata import build_idata

    spec = with_table_controls(spec, table.attributes, table.controls)
    check_cell_sizes(table, spec)
    start = time.perf_counter()
    console = console or Console(stderr=True)
    done = checkpoint.load() if checkpoint is not None else {}
    if done:
        console.print(f"resuming: {len(done)} fit(s) saved by an earlier run", highlight=False)
    notes = [f"dropped {table.dropped_rows} rows with missing values"] if table.dropped_rows else []
    notes += [f"{j} / {g}: {note}" for (j, g), cell in done.items() for note in cell.notes]
    notes += [f"{j} / {g}: not fitted: {c.reason}" for (j, g), c in done.items() if c.reason]
    n_cells = table.frame.groupby(["judge", "group"], sort=False).ngroups
    with _FitProgress(console, n_cells, len(done), progress) as bar:

        def on_fit(judge: str, group: str, cell: Any) -> None:
            notes.extend(bar.fitted(judge, group, cell))
            if checkpoint is not None:
                checkpoint.save(judge, group, cell)

        cells = fit_table(table, spec, on_fit=on_fit, done=done, workers=workers)
    cells, extra = _pool(table, spec, cells, notes, console, progress, workers)
    if spec.controls:
        from preference_dissect.fit.controls import CONTROLS_GROUP, controls_dataset

        extra = {**(extra or {}), CONTROLS_GROUP: controls_dataset(table, cells, spec)}
    seconds = time.perf_counter() - start
    attrs = {"spec": spec.to_dict(), "warnings": notes, "source": source}
    attrs["seconds"] = round(seconds, 3)
    idata = build_idata(
        table.judges, table.groups, table.attributes, spec.chains, spec.draws, cells,
        attrs=attrs, extra_groups=extra,
    )  # fmt: skip
    for line in (skipped_summary(cells), dropped_summary(cells)):
        if line:
            console.print(f"note: {line}", highlight=False)
    methods: dict[str, int] = {}
    for cell in cells.values():
        methods[cell.method] = methods.get(cell.method, 0) + 1
    return FitOutcome(idata, None, methods, notes, seconds, len(done))


def _pool(
    table: FeatureTable,
    spec: FitSpec,
    cells: dict,
    notes: list[str],
    console: Any,
    show: bool,
    workers: int | None,
):
    """With ``spec.pooling``, refit the scenario-group cells pooled (:mod:`.pooled_cells`);
    its warnings are printed and added to ``notes``."""
    if spec.pooling == "none":
        return cells, None
    import contextlib

    from preference_dissect.fit.pooled_cells import pool_cells
    from preference_dissect.fit.pooled_idata import POOLING_GROUP

    status = console.status("pooling") if show else contextlib.nullcontext()
    with status as bar:
        pooled, group, new = pool_cells(
            table, spec, cells, workers=workers,
            on_pool=lambda name, n: bar.update(f"pooled {name} ({n} cells)") if bar else None,
        )  # fmt: skip
    for line in new:
        console.print(f"warning: {line}", highlight=False)
    notes += new
    return (cells, None) if group is None else (pooled, {POOLING_GROUP: group})


class _FitProgress:
    """The fit's progress bar (or none) and its warnings, one line per cell note."""

    def __init__(self, console: Any, total: int, completed: int, show: bool) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self.console = console
        self.bar = Progress(
            TextColumn("fit"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
            disable=not (show and live_bars_work(console)),
        )
        self.task = self.bar.add_task("", total=total, completed=completed)

    def __enter__(self) -> _FitProgress:
        self.bar.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.bar.__exit__(*exc)

    def fitted(self, judge: str, group: str, cell: Any) -> list[str]:
        """Advance the bar; print and return the cell's notes."""
        notes = [f"{judge} / {group}: not fitted: {cell.reason}"] if cell.reason else []
        for note in cell.notes:
            msg = f"{judge} / {group}: {note}"
            notes.append(msg)
            self.bar.console.print(f"warning: {msg}", style="yellow", highlight=False)
        self.bar.update(self.task, advance=1, description=f"{judge} / {group}")
        return notes


def fit_features(
    table: FeatureTable,
    spec: FitSpec,
    out: str | os.PathLike[str],
    *,
    source: str = "",
    resume: bool = True,
    console: Any = None,
    workers: int | None = None,
) -> FitOutcome:
    """Fit every (judge, group) cell of ``table`` and save the ``InferenceData`` to ``out``.

    Parameters
    ----------
    table : FeatureTable
        Validated features (see :func:`preference_dissect.fit.features.read_features`).
    spec : FitSpec
        Model, prior, sampler and draws.
    out : path
        Where to write ``fit.nc`` (atomically).
    source : str
        Description of the features' origin, stored in the file's attributes.
    resume : bool
        Reuse fits checkpointed by an interrupted earlier run with the same inputs and spec.
    console : rich.console.Console, optional
        Where progress and warnings go (default: stderr).
    workers : int, optional
        Processes that fit cells (see :func:`fit_table_idata`).

    Returns
    -------
    FitOutcome
    """
    from preference_dissect.fit.checkpoint import Checkpoint, table_fingerprint
    from preference_dissect.fit.controls import with_table_controls
    from preference_dissect.fit.idata import save_fit

    spec = with_table_controls(spec, table.attributes, table.controls)
    check_cell_sizes(table, spec)
    checkpoint = Checkpoint(
        out, {"spec": spec.to_dict(), "features": table_fingerprint(table.frame)}
    )
    if not resume:
        checkpoint.remove()
    outcome = fit_table_idata(
        table, spec, source=source, console=console, checkpoint=checkpoint, workers=workers
    )
    outcome.path = Path(save_fit(outcome.idata, out))
    checkpoint.remove()
    return outcome
