"""The main job's settings (:class:`RunConfig`, the keys of ``prefdissect run --config``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from preference_dissect.errors import InputError
from preference_dissect.llm.config import LLMConfig
from preference_dissect.validation import Validated

#: FitSpec settings a run may set (unset: the model specification's defaults).
RUN_FIT_SETTINGS = (
    "model_spec",
    "likelihood",
    "prior",
    "sampler",
    "draws",
    "chains",
    "tune",
    "folds",
    "min_group_size",
    "intercept",
    "pooling",
    "pooling_scale",
)


def default_annotator(configured: str | None, has_llm: bool, carried: str | None = None) -> str:
    """The annotator a run or :func:`preference_dissect.annotate` uses: ``configured``, else
    ``gair29`` with a model, else ``carried`` (the annotator of the annotations the source
    carries with its pairs), else ``rules``."""
    return configured or ("gair29" if has_llm else None) or carried or "rules"


class RunConfig(Validated):
    """Settings of one ``prefdissect run`` / :func:`preference_dissect.run`, validated.

    The same keys fill it from the API's keyword arguments, a ``run --config run.yaml`` file
    and the command line (flags win over the file).

    Attributes
    ----------
    source : str
        A path, ``bundled:NAME`` or ``hf:ORG/NAME``.
    out : Path
        The run directory.
    format, limit, seed :
        Loader options (format override, first N pairs, A/B side seed; the seed is also the
        fit's base seed).
    labels : tuple of str
        Extra judge-label files merged at load.
    classify : {"auto", "always", "never"}
        Assign GAIR scenario groups (LLM when ``llm`` is set, else offline rules); ``auto``
        classifies only a source that carries no scenario of its own.
    annotator : str, optional
        A bundled annotator, an annotator folder or an attribute-set YAML; default ``gair29``
        with ``llm``, else the source's own annotations when it carries them (GAIR's table:
        ``gair_released``), else ``rules`` (offline).
    judges : tuple of str, optional
        Judges to fit (default: every judge with labels, and ``gold``).
    na, not_applicable, ties :
        Comparison policies (see :func:`preference_dissect.compare.build_features`).
    controls : tuple of str
        Attributes the fit adjusts for with a wide prior (``length``, ``markdown`` or
        attribute names; :mod:`preference_dissect.compare.controls`).
    model_spec, likelihood, prior, sampler, draws, chains, tune, folds, min_group_size,
    intercept, pooling, pooling_scale :
        Fit settings; unset ones come from the model specification (``models/*.yaml``).
    report, resume : bool
        Write ``report.html``; reuse the artifacts of an earlier run with the same settings.
    llm : LLMConfig, optional
        The model that classifies and annotates; none means offline.
    judge_llm : LLMConfig, optional
        An LLM judge that labels the pairs (its labels become a judge named after the model).

    Examples
    --------
    >>> RunConfig(source="bundled:hh-rlhf", limit=200, prior="normal:1").fit_settings()
    {'prior': 'normal:1', 'seed': 0}
    """

    source: str = "bundled:hh-rlhf"
    out: Path = Path("runs/latest")
    format: str | None = None
    limit: int | None = Field(default=None, ge=1)
    seed: int = 0
    labels: tuple[str, ...] = ()
    classify: Literal["auto", "always", "never"] = "auto"
    annotator: str | None = None
    judges: tuple[str, ...] | None = None
    na: Literal["drop", "zero"] = "drop"
    not_applicable: Literal["zero", "drop"] = "zero"
    ties: Literal["drop", "half"] = "drop"
    controls: tuple[str, ...] = ()
    model_spec: str | None = None
    likelihood: str | None = None
    prior: str | None = None
    sampler: Literal["auto", "nuts"] | None = None
    draws: int | None = Field(default=None, ge=1)
    chains: int | None = Field(default=None, ge=1)
    tune: int | None = Field(default=None, ge=0)
    folds: int | None = Field(default=None, ge=2)
    min_group_size: int | None = Field(default=None, ge=1)
    intercept: bool | None = None
    pooling: Literal["none", "groups", "judges", "both"] | None = None
    pooling_scale: float | None = Field(default=None, gt=0)
    report: bool = True
    resume: bool = True
    llm: LLMConfig | None = None
    judge_llm: LLMConfig | None = None

    @field_validator("na", mode="before")
    @classmethod
    def _impute_is_zero(cls, value: Any) -> Any:
        return "zero" if value == "impute" else value  # "impute": the old name of "zero"

    def annotator_name(self, carried: str | None = None) -> str:
        """The annotator to use: the configured one, else gair29 with a model, else the one
        that reads the annotations the source carries (``carried``: the loaded dataset's
        ``info["annotations"]``, ``gair_released`` for GAIR's table), else rules.

        Examples
        --------
        >>> RunConfig().annotator_name(), RunConfig().annotator_name("gair_released")
        ('rules', 'gair_released')
        """
        return default_annotator(self.annotator, self.llm is not None, carried)

    def fit_settings(self) -> dict[str, Any]:
        """The FitSpec settings of this run (unset ones left to the model specification)."""
        out = {k: getattr(self, k) for k in RUN_FIT_SETTINGS if getattr(self, k) is not None}
        out["seed"] = self.seed
        return out


def read_run_config(path: str | Any) -> dict[str, Any]:
    """The settings of a ``run --config`` YAML file (keys of :class:`RunConfig`).

    Raises
    ------
    InputError
        The file is missing, not YAML, not a mapping, or names an unknown setting (listing the
        valid ones).
    """
    from preference_dissect.definitions import load_yaml_file

    data = load_yaml_file(path)
    if not isinstance(data, dict):
        raise InputError("a run configuration must be a YAML mapping of settings", file=path)
    unknown = [k for k in data if k not in RunConfig.model_fields]
    if unknown:
        raise InputError(
            f"unknown setting {unknown[0]!r} (valid: {', '.join(RunConfig.model_fields)})",
            file=path,
            field=str(unknown[0]),
        )
    return data
