"""Every artifact of a run directory, declared once: file name, what it holds, reader, writer.

A run directory (``prefdissect run --out RUN``, or the verbs run by hand into one folder)::

    RUN/pairs.parquet (+ pairs.labels.parquet)   load (+ classify)   canonical pairs + labels
    RUN/judge_labels.parquet                      judge               an LLM judge's labels
    RUN/annotations.parquet                       annotate            long annotations table
    RUN/features.parquet                          features            +1/0/-1 features table
    RUN/fit.nc                                    fit                 ArviZ InferenceData
    RUN/analysis/                                 analyze             tables, plots, summary
    RUN/audit/                                    audit               judge audits
    RUN/report.html                               report              self-contained report
    RUN/manifest.json, RUN/summary.json           run                 provenance, summary

The table contracts are in ``docs/artifacts.md``. Readers raise
:class:`~preference_dissect.errors.InputError` naming the file when it is not usable.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _read_pairs(path: Path) -> Any:
    from preference_dissect.load.schema import read_dataset

    return read_dataset(path)


def _write_pairs(value: Any, path: Path) -> Path:
    from preference_dissect.load.schema import write_dataset

    return write_dataset(value, path)


def _read_table(path: Path) -> Any:
    from preference_dissect.io import read_parquet

    return read_parquet(path)


def _write_table(value: Any, path: Path) -> Path:
    from preference_dissect.io import write_parquet

    return write_parquet(value, path)


def _read_fit(path: Path) -> Any:
    from preference_dissect.fit.idata import load_fit

    return load_fit(path)


def _write_fit(value: Any, path: Path) -> Path:
    from preference_dissect.fit.idata import save_fit

    return save_fit(value, path)


def _read_json(path: Path) -> Any:
    import json

    return json.loads(path.read_text(encoding="utf-8"))


def _write_json(value: Any, path: Path) -> Path:
    from preference_dissect.io import write_json

    return write_json(value, path)


@dataclass(frozen=True)
class ArtifactSpec:
    """One artifact of a run directory.

    Attributes
    ----------
    name : str
        The artifact's name (the stage outputs and the report refer to it).
    file : str
        Its file or folder inside the run directory.
    stage : str
        The stage that writes it.
    holds : str
        What it holds (its table contract is in ``docs/artifacts.md``).
    read, write : callable or None
        ``read(path) -> value`` and ``write(value, path) -> path``; ``None`` for folders and
        files a stage writes itself (analysis, audit, report).
    """

    name: str
    file: str
    stage: str
    holds: str
    read: Callable[[Path], Any] | None = None
    write: Callable[[Any, Path], Path] | None = None

    def path(self, run_dir: str | os.PathLike[str]) -> Path:
        """Where the artifact lives in ``run_dir``."""
        return Path(run_dir) / self.file


ARTIFACTS: dict[str, ArtifactSpec] = {
    a.name: a
    for a in (
        ArtifactSpec(
            "pairs",
            "pairs.parquet",
            "load",
            "the canonical pair table (+ labels sidecar pairs.labels.parquet)",
            _read_pairs,
            _write_pairs,
        ),
        ArtifactSpec(
            "judge_labels",
            "judge_labels.parquet",
            "judge",
            "labels of the run's LLM judge (winner, p_a, per-order verdicts)",
            _read_table,
            _write_table,
        ),
        ArtifactSpec(
            "annotations",
            "annotations.parquet",
            "annotate",
            "the long annotations table (pair_id, annotator, attribute, side, value, ...)",
            _read_table,
            _write_table,
        ),
        ArtifactSpec(
            "features",
            "features.parquet",
            "features",
            "the features table (pair_id, judge, group, y, one -1/0/+1 column per attribute)",
            _read_table,
            _write_table,
        ),
        ArtifactSpec(
            "fit", "fit.nc", "fit", "all fits: ArviZ InferenceData", _read_fit, _write_fit
        ),
        ArtifactSpec("analysis", "analysis", "analyze", "scores, similarity, plots (folder)"),
        ArtifactSpec("audit", "audit", "audit", "judge audits: tables, plots, audit.json"),
        ArtifactSpec("report", "report.html", "report", "the self-contained HTML report"),
        ArtifactSpec(
            "manifest",
            "manifest.json",
            "run",
            "what went into the run: inputs, settings, models, usage, stage records",
            _read_json,
        ),
        ArtifactSpec(
            "summary", "summary.json", "run", "the run's summary", _read_json, _write_json
        ),
    )
}


def register_artifact(spec: ArtifactSpec) -> ArtifactSpec:
    """Declare a plug-in stage's artifact (its ``outputs`` name it).

    Raises
    ------
    ValueError
        An artifact of that name, or of that file, is declared already.
    """
    known = ARTIFACTS.get(spec.name)
    if known is not None and known != spec:
        raise ValueError(f"artifact {spec.name!r} is declared already")
    if any(a.file == spec.file and a.name != spec.name for a in ARTIFACTS.values()):
        raise ValueError(f"file {spec.file!r} is another artifact's already")
    ARTIFACTS[spec.name] = spec
    return spec


def artifact_path(run_dir: str | os.PathLike[str], name: str) -> Path:
    """The path of artifact ``name`` in ``run_dir``."""
    return ARTIFACTS[name].path(run_dir)
