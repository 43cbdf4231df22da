"""Read the artifacts of a run directory defensively.

Every reader returns an :class:`Artifact`: ``status`` is ``"ok"`` (``value`` holds the data),
``"missing"`` (the stage did not produce it in this run) or ``"error"`` (the file is there but
cannot be read; ``detail`` says why). The report renders each section from whatever exists.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from preference_dissect.artifacts import ARTIFACTS
from preference_dissect.errors import InputError

#: File names inside ``RUN/`` (declared in :mod:`preference_dissect.artifacts`).
PAIRS = ARTIFACTS["pairs"].file
ANNOTATIONS = ARTIFACTS["annotations"].file
FEATURES = ARTIFACTS["features"].file
FIT = ARTIFACTS["fit"].file
ANALYSIS = ARTIFACTS["analysis"].file
#: Where audits are looked for: the run's own folder, then folders other layouts use.
AUDIT_DIRS = (ARTIFACTS["audit"].file, "audits", "analysis/audit", "analysis/audits")
#: Where an annotator-agreement table (``prefdissect agreement --out``) is looked for, first
#: found wins: the weights section marks the attributes whose alpha is below 0.4.
AGREEMENT_FILES = ("audit/agreement.csv", "analysis/agreement.csv", "agreement.csv")
MANIFEST = ARTIFACTS["manifest"].file
SUMMARY = ARTIFACTS["summary"].file


@dataclass
class Artifact:
    """One artifact of a run: its status, where it lives, and its content when readable."""

    name: str
    path: Path
    status: str = "missing"
    value: Any = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        """True when the artifact exists and was read."""
        return self.status == "ok"


def _read(name: str, path: Path, reader: Any) -> Artifact:
    art = Artifact(name=name, path=path)
    if not path.exists():
        return art
    try:
        art.value = reader(path)
        art.status = "ok"
    except InputError as exc:
        art.status, art.detail = "error", exc.message
    except Exception as exc:  # a corrupt artifact must not stop the rest of the report
        art.status, art.detail = "error", f"{type(exc).__name__}: {exc}"
    return art


def _read_pairs(path: Path) -> Any:
    from preference_dissect.load.schema import read_dataset

    return read_dataset(path)


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _read_fit(path: Path) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # arviz's refactor notice
        import arviz as az

    idata = az.from_netcdf(str(path))
    for name in idata.groups():  # read everything now: lazy per-cell reads are very slow
        getattr(idata, name).load()
    if "posterior" not in idata.groups() or "weight" not in idata.posterior:
        raise ValueError("no posterior variable 'weight'")
    dims = tuple(idata.posterior["weight"].dims)
    need = ("chain", "draw", "judge", "group", "attribute")
    if dims != need:
        raise ValueError(f"posterior 'weight' has dims {dims}, expected {need}")
    return idata


#: Columns of annotations.parquet the report needs (``raw`` can be large and is not read).
ANNOTATION_COLUMNS = ("pair_id", "annotator", "attribute", "side", "value", "na_reason")
FEATURE_KEYS = ("pair_id", "judge", "group", "y")


def _read_annotations(path: Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    present = set(pq.read_schema(path).names)
    return pd.read_parquet(path, columns=[c for c in ANNOTATION_COLUMNS if c in present])


@dataclass
class FeatureFile:
    """The features table, read lazily: the key columns for the summary, full rows on demand
    (a GAIR-scale table has millions of rows)."""

    path: Path
    columns: list[str]
    keys: pd.DataFrame
    report: dict[str, Any]

    @property
    def attributes(self) -> list[str]:
        """Attribute comparison columns (-1/0/1)."""
        return [c for c in self.columns if c not in FEATURE_KEYS and not c.startswith("style_")]

    @property
    def covariates(self) -> list[str]:
        """Continuous ``style_*`` covariate columns (``prefdissect features --style``)."""
        return [c for c in self.columns if c.startswith("style_")]

    def rows_for(self, pair_ids: list[str]) -> pd.DataFrame:
        """All columns of the rows of some pairs."""
        if "pair_id" not in self.columns or not pair_ids:
            return pd.DataFrame(columns=self.columns)
        return pd.read_parquet(self.path, filters=[("pair_id", "in", list(pair_ids))])


def _read_features(path: Path) -> FeatureFile:
    import pyarrow.parquet as pq

    schema = pq.read_schema(path)
    columns = list(schema.names)
    keys = pd.read_parquet(path, columns=[c for c in FEATURE_KEYS if c in columns])
    return FeatureFile(path=path, columns=columns, keys=keys, report=_stored_report(schema))


def _stored_report(schema: Any) -> dict[str, Any]:
    """The comparison report ``prefdissect features`` stores with the table (pandas attrs in
    the parquet metadata), or ``{}``."""
    raw = (schema.metadata or {}).get(b"PANDAS_ATTRS")
    try:
        report = json.loads(raw).get("report") if raw else None
    except (ValueError, AttributeError):
        report = None
    return report if isinstance(report, dict) else {}


def _read_table(path: Path) -> pd.DataFrame:
    if path.suffix.lower() == ".csv":
        return pd.read_csv(path)
    if path.suffix.lower() == ".json":
        return pd.DataFrame(_read_json(path))
    return pd.read_parquet(path)


def _read_folder(path: Path) -> dict[str, list[Path]]:
    if not path.is_dir():
        raise ValueError("is not a folder")
    files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    kinds: dict[str, list[Path]] = {"tables": [], "png": [], "svg": [], "json": []}
    for f in files:
        ext = f.suffix.lower()
        if ext in (".csv", ".parquet"):
            kinds["tables"].append(f)
        elif ext == ".png":
            kinds["png"].append(f)
        elif ext == ".svg":
            kinds["svg"].append(f)
        elif ext == ".json":
            kinds["json"].append(f)
    return kinds


@dataclass
class RunArtifacts:
    """All artifacts of one run directory (see :func:`read_run`)."""

    run_dir: Path
    pairs: Artifact
    annotations: Artifact
    features: Artifact
    fit: Artifact
    analysis: Artifact
    audits: Artifact
    manifest: Artifact
    summary: Artifact

    def all(self) -> tuple[Artifact, ...]:
        """Every artifact, in stage order."""
        return (
            self.pairs,
            self.annotations,
            self.features,
            self.fit,
            self.analysis,
            self.audits,
            self.manifest,
            self.summary,
        )

    def statuses(self) -> dict[str, str]:
        """Artifact name -> status (``ok``, ``missing`` or ``error``)."""
        return {a.name: a.status for a in self.all()}


def _find_audits(run_dir: Path) -> Artifact:
    for rel in AUDIT_DIRS:
        path = run_dir / rel
        if path.is_dir():
            return _read("audits", path, _read_folder)
    art = Artifact(name="audits", path=run_dir / AUDIT_DIRS[0])
    loose = sorted(
        p
        for p in run_dir.glob("audit*")
        if p.is_file() and p.suffix.lower() in (".csv", ".parquet", ".json")
    )
    if loose:
        art.status = "ok"
        art.value = {
            "tables": [p for p in loose if p.suffix.lower() != ".json"],
            "png": [],
            "svg": [],
            "json": [p for p in loose if p.suffix.lower() == ".json"],
        }
    return art


def _read_agreement_table(path: Path) -> pd.DataFrame:
    table = pd.read_csv(path)
    for col in ("attribute", "alpha"):
        if col not in table.columns:
            raise InputError(f"not an agreement table: no {col!r} column (write one with "
                             "prefdissect agreement --out)", file=path, field=col)  # fmt: skip
    table["alpha"] = pd.to_numeric(table["alpha"], errors="coerce")
    return table


def read_agreement(run_dir: str | Path) -> Artifact:
    """The run's annotator-agreement table: the first of :data:`AGREEMENT_FILES` that exists
    (``missing`` when none does; ``error`` when it has no ``attribute`` / ``alpha``).

    Examples
    --------
    >>> import tempfile
    >>> read_agreement(tempfile.mkdtemp()).status
    'missing'
    """
    run_dir = Path(run_dir)
    for rel in AGREEMENT_FILES:
        if (run_dir / rel).is_file():
            return _read("agreement", run_dir / rel, _read_agreement_table)
    return Artifact(name="agreement", path=run_dir / AGREEMENT_FILES[0])


def read_run(run_dir: str | Path) -> RunArtifacts:
    """Read every artifact of a run directory that exists.

    Parameters
    ----------
    run_dir : str or Path
        The run directory (docs/artifacts.md section 6).

    Returns
    -------
    RunArtifacts

    Raises
    ------
    InputError
        If ``run_dir`` is not a directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.exists():
        raise InputError("run directory not found", file=run_dir)
    if not run_dir.is_dir():
        raise InputError(
            "is not a run directory (give the folder `prefdissect run` wrote)", file=run_dir
        )
    return RunArtifacts(
        run_dir=run_dir,
        pairs=_read("pairs", run_dir / PAIRS, _read_pairs),
        annotations=_read("annotations", run_dir / ANNOTATIONS, _read_annotations),
        features=_read("features", run_dir / FEATURES, _read_features),
        fit=_read("fit", run_dir / FIT, _read_fit),
        analysis=_read("analysis", run_dir / ANALYSIS, _read_folder),
        audits=_find_audits(run_dir),
        manifest=_read("manifest", run_dir / MANIFEST, _read_json),
        summary=_read("summary", run_dir / SUMMARY, _read_json),
    )


def read_any_table(path: Path) -> pd.DataFrame:
    """Read a CSV / parquet / JSON-records table found in an analysis or audit folder."""
    return _read_table(path)
