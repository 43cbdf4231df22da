"""The main job from Python: :func:`run` (``prefdissect run``), the :class:`Run` directory it
returns, :func:`open_run` and :func:`report`."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset


class Run:
    """A run directory: each artifact read on first use.

    Attributes
    ----------
    path : pathlib.Path
        The run directory.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> run = pdx.open_run("runs/demo")  # doctest: +SKIP
    >>> run.scores().head()  # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        if not self.path.is_dir():
            raise InputError("is not a run directory", file=self.path, field="run_dir")

    def _read(self, name: str) -> Any:
        from preference_dissect.artifacts import ARTIFACTS

        spec = ARTIFACTS[name]
        file = spec.path(self.path)
        if not file.exists():
            raise InputError(
                f"the run has no {spec.file} (its {spec.stage} stage has not run)", file=file
            )
        assert spec.read is not None
        return spec.read(file)

    @functools.cached_property
    def pairs(self) -> PairDataset:
        """The pairs and labels (``pairs.parquet``)."""
        return self._read("pairs")

    @functools.cached_property
    def annotations(self) -> pd.DataFrame:
        """The annotations table (``annotations.parquet``)."""
        return self._read("annotations")

    @functools.cached_property
    def features(self) -> pd.DataFrame:
        """The features table (``features.parquet``)."""
        return self._read("features")

    @functools.cached_property
    def idata(self) -> Any:
        """The fit (``fit.nc``) as ArviZ InferenceData."""
        return self._read("fit")

    @property
    def summary(self) -> dict[str, Any]:
        """The run's summary (``summary.json``)."""
        return self._read("summary")

    @property
    def manifest(self) -> dict[str, Any]:
        """What went into the run (``manifest.json``): inputs, settings, models, stages."""
        return self._read("manifest")

    @property
    def report_path(self) -> Path | None:
        """``report.html``, or ``None`` when the run wrote none."""
        from preference_dissect.artifacts import artifact_path

        path = artifact_path(self.path, "report")
        return path if path.exists() else None

    def scores(self, **options: Any) -> pd.DataFrame:
        """:func:`~preference_dissect.scores` of the run's fit."""
        from preference_dissect._api.results import scores

        return scores(self.idata, **options)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"


def open_run(run_dir: str | os.PathLike[str]) -> Run:
    """The run directory ``run_dir`` (written by :func:`run` or ``prefdissect run``).

    Returns
    -------
    Run
        Its artifacts, each read on first use (``.pairs``, ``.features``, ``.idata``...).

    Raises
    ------
    InputError
        ``run_dir`` is not a folder.
    """
    return Run(run_dir)


def run(
    source: str = "bundled:hh-rlhf",
    out: str | os.PathLike[str] = "runs/latest",
    *,
    say: Callable[[str], None] | None = None,
    **settings: Any,
) -> Run:
    """Run the whole method into a run directory, resumably: load, (judge,) annotate,
    compare, fit, analyse, audit, report.

    Parameters
    ----------
    source : str
        What :func:`load` accepts.
    out : path
        The run directory; a re-run with the same settings reuses what is there.
    say : callable, optional
        Receives one-line progress messages (default: printed to stderr).
    **settings
        :class:`RunConfig` fields, the keys of ``prefdissect run --config FILE``: ``limit``,
        ``seed``, ``annotator``, ``llm`` / ``judge_llm`` (:class:`LLMConfig` or dict),
        ``prior``, ``likelihood``, ``min_group_size``, ``na``, ``ties``, ``report``...

    Returns
    -------
    Run
        ``.pairs``, ``.features``, ``.idata``, ``.report_path``, ``.summary``.

    Raises
    ------
    InputError
        An unknown or bad setting (naming it and its valid values), or bad input.

    Examples
    --------
    >>> import preference_dissect as pdx
    >>> result = pdx.run("bundled:hh-rlhf", "runs/api", limit=200)  # doctest: +SKIP
    >>> result.report_path  # doctest: +SKIP
    PosixPath('runs/api/report.html')
    """
    from preference_dissect.config import RunConfig
    from preference_dissect.pipeline import run_pipeline

    cfg = RunConfig(source=source, out=Path(out), **settings)
    summary = run_pipeline(cfg, say=say or (lambda msg: print(msg, file=sys.stderr)))
    return Run(summary["out"])


def report(run_dir: str | os.PathLike[str] | Run) -> Path:
    """(Re)build ``report.html`` of a run directory from whatever artifacts it has.

    Returns
    -------
    pathlib.Path
        The report.
    """
    from preference_dissect.report import build_report

    path = run_dir.path if isinstance(run_dir, Run) else Path(run_dir)
    return Path(build_report(path))
