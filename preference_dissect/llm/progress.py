"""The live progress bar (rich, on stderr): ETA, calls, cache hits, failures, spend."""

from __future__ import annotations

from typing import Any

from preference_dissect.llm.config import RunStats


class RunProgress:
    """A rich progress bar fed by the engine; a no-op when ``enabled`` is false.

    Parameters
    ----------
    enabled : bool
        Show anything at all.
    total : int
        Number of requests in the run.
    description : str
        Label of the bar.
    stats : RunStats
        The live counters shown beside the bar.
    """

    def __init__(self, enabled: bool, total: int, description: str, stats: RunStats) -> None:
        self.enabled = enabled
        self.stats = stats
        self._progress: Any = None
        self._task: Any = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        from preference_dissect.consoles import live_bars_work

        self.console = Console(stderr=True)
        if not live_bars_work(self.console):
            return  # lines are still printed; no live bar
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[info]}"),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task(description, total=total, info=self._info())

    def print(self, line: str) -> None:
        """Print a line above the bar (stderr)."""
        if self.enabled:
            self.console.print(line, highlight=False, markup=False)

    def _info(self) -> str:
        s = self.stats
        failed = sum(s.failures.values())
        return f"calls {s.requests} | cached {s.cache_hits} | failed {failed} | ${s.cost_usd:.4f}"

    def __enter__(self) -> RunProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def advance(self, n: int = 1) -> None:
        """Count ``n`` finished requests and refresh the counters."""
        if self._progress is not None:
            self._progress.update(self._task, advance=n, info=self._info())

    def refresh(self) -> None:
        """Refresh the counters without advancing."""
        if self._progress is not None:
            self._progress.update(self._task, info=self._info())

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.update(self._task, info=self._info())
            self._progress.stop()
