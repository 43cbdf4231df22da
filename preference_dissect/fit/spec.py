"""The validated description of a fit: likelihood, prior, sampler and their settings.

The defaults live in one place, the model specifications under ``models/`` (``logistic.yaml``,
``linear.yaml`` or a user's copy): a :class:`FitSpec` takes every setting it is not given
from the specification named by ``model_spec`` (default: the likelihood's own file, else
``logistic``). The flow mirrors Bambi: a :class:`FitSpec` -> a model built from it
(:mod:`~preference_dissect.fit.posterior` for the Laplace/importance engine,
:mod:`~preference_dissect.fit.nuts` for PyMC) -> fit -> ``InferenceData``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from preference_dissect.definitions import model_names, model_spec_file, read_yaml
from preference_dissect.errors import InputError
from preference_dissect.validation import Validated

DEFAULT_MODEL_SPEC = "logistic"


class Prior(Validated):
    """Prior on every attribute weight: a registered family and its scale.

    Attributes
    ----------
    kind : str
        A prior family of :data:`preference_dissect.fit.families.PRIORS` (``laplace``:
        ``w ~ Laplace(0, scale)``; ``normal``: ``w ~ Normal(0, scale)``; ``horseshoe``: the
        regularised horseshoe with ``scale`` the expected number of non-zero weights).
    scale : float
        See ``kind``.

    Examples
    --------
    >>> Prior.parse("laplace:0.1").describe()
    'laplace:0.1'
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str = "laplace"
    scale: float = 0.1

    @model_validator(mode="after")
    def _known_and_positive(self) -> Prior:
        from preference_dissect.fit.families import PRIORS

        if self.kind not in PRIORS:
            raise ValueError(f"unknown prior {self.kind!r} (valid: {', '.join(PRIORS.names())})")
        if not math.isfinite(self.scale) or self.scale <= 0:
            raise ValueError(f"prior scale must be positive, got {self.scale:g}")
        return self

    @classmethod
    def parse(cls, text: str | Prior) -> Prior:
        """Parse ``laplace:0.1``, ``normal:1.0``, ``horseshoe`` or ``horseshoe:3`` (a family
        without a scale takes the family's default scale)."""
        from preference_dissect.fit.families import PRIORS

        if isinstance(text, Prior):
            return text
        kind, _, value = str(text).strip().lower().partition(":")
        if kind not in PRIORS:
            raise InputError(
                f"unknown prior {text!r} (valid: {', '.join(PRIORS.names())}; write FAMILY or "
                "FAMILY:SCALE, e.g. laplace:0.1)",
                field="prior",
            )
        if not value:
            return cls(kind=kind, scale=PRIORS.get(kind).default_scale)
        try:
            scale = float(value)
        except ValueError:
            raise InputError(f"prior scale {value!r} is not a number", field="prior") from None
        if not math.isfinite(scale) or scale <= 0:
            raise InputError(f"prior scale must be positive, got {value}", field="prior")
        return cls(kind=kind, scale=scale)

    def describe(self) -> str:
        """Return the ``kind:scale`` text form."""
        return f"{self.kind}:{self.scale:g}"


def _flatten_spec(data: dict[str, Any], file: Path) -> dict[str, Any]:
    """The settings of a model-specification YAML as :class:`FitSpec` fields."""
    if not isinstance(data, dict):
        raise InputError("a model specification must be a YAML mapping", file=file)
    out: dict[str, Any] = {}
    for key in ("likelihood", "intercept", "min_group_size", "seed"):
        if key in data:
            out[key] = data[key]
    for key in ("prior", "sensitivity_prior"):
        if key in data:
            value = data[key]
            out[key] = (
                None if value is None else {"kind": value.get("family"), "scale": value["scale"]}
            )
    if "scale" in dict(data.get("controls") or {}):
        out["control_scale"] = data["controls"]["scale"]
    pooling = dict(data.get("pooling") or {})
    if "structure" in pooling:
        out["pooling"] = pooling["structure"]
    if "scale" in pooling:
        out["pooling_scale"] = pooling["scale"]
    sampler = dict(data.get("sampler") or {})
    if "engine" in sampler:
        out["sampler"] = sampler.pop("engine")
    out.update(sampler)
    out.update(data.get("checks") or {})
    return out


def model_spec_defaults(name_or_path: str) -> dict[str, Any]:
    """The :class:`FitSpec` settings of a model specification (bundled name or YAML file)."""
    file = model_spec_file(name_or_path)
    return _flatten_spec(read_yaml(file), file)


class FitSpec(Validated):
    """Everything that defines a fit, validated on creation; unset values come from the model
    specification (``models/<model_spec>.yaml``).

    Attributes
    ----------
    model_spec : str
        The model specification the defaults were read from (a bundled name or a path).
    likelihood : str
        A registered likelihood (``logistic``: Bernoulli with logit link; ``linear``:
        ``y - 0.5 ~ Normal(X w, sigma)`` for soft labels).
    prior : Prior
        Prior on the attribute weights.
    intercept : bool
        Add a position intercept ~ Normal(0, 1) (preference for response A regardless of
        the attributes).
    sampler : {"auto", "nuts"}
        ``auto``: Laplace approximation + Pareto-smoothed importance sampling, with PyMC NUTS
        for fits whose Pareto k exceeds ``pareto_k_max`` (and always for priors without an
        importance-sampling form, e.g. the horseshoe); ``nuts``: PyMC NUTS for every fit.
    chains, draws, tune : int
        Posterior draws are stored as (chains, draws); ``tune`` is the NUTS warm-up.
    seed : int
        Base random seed; each fit derives its own from it and its (judge, group).
    folds : int
        k of the k-fold holdout accuracy.
    pareto_k_max, ess_min, rhat_max : float
        Diagnostic thresholds.
    target_accept : float
        NUTS target acceptance rate.
    min_group_size : int
        (judge, group) cells with fewer rows are not fitted (kept as skipped cells with the
        reason): a regression with dozens of weights on a handful of pairs says nothing.
    sensitivity_prior : Prior or None
        A wide prior each cell is also fitted under (Laplace approximation, cheap) to show
        how much the prior, not the data, sets a weight; ``None`` skips the check.
    pooling : {"none", "groups", "judges", "both"}
        Partial pooling of the scenario groups' weights (:mod:`.pooling`): ``groups`` draws
        each judge's per-group weights around a judge-level mean, ``judges`` each group's
        per-judge weights around a group-level mean, ``both`` the judge means around a
        population mean too; the spec's prior is on the top-level mean, the spreads are
        learned per attribute. ``all`` and the query groups stay unpooled.
    pooling_scale : float
        Scale of the half-normal prior on every spread of the hierarchy.
    controls : tuple of str
        Attributes adjusted for with the wide scale ``control_scale`` (same prior family)
        instead of ``prior.scale`` (:mod:`.controls`); a fit picks up the controls its
        features table recorded.
    control_scale : float
        The controls' prior scale.

    Examples
    --------
    >>> spec = FitSpec(draws=200)
    >>> spec.likelihood, spec.prior.describe(), spec.min_group_size
    ('logistic', 'laplace:0.1', 30)
    """

    model_config = ConfigDict(frozen=True, extra="forbid", protected_namespaces=())

    model_spec: str = DEFAULT_MODEL_SPEC
    likelihood: str
    prior: Prior
    intercept: bool
    sampler: Literal["auto", "nuts"]
    chains: int = Field(ge=1)
    draws: int = Field(ge=1)
    tune: int = Field(ge=0)
    seed: int
    folds: int = Field(ge=2)
    pareto_k_max: float
    ess_min: float
    rhat_max: float
    target_accept: float = Field(gt=0, lt=1)
    min_group_size: int = Field(ge=1)
    sensitivity_prior: Prior | None
    pooling: Literal["none", "groups", "judges", "both"] = "none"
    pooling_scale: float = Field(default=0.5, gt=0)
    controls: tuple[str, ...] = ()
    control_scale: float = Field(default=2.5, gt=0)

    @model_validator(mode="before")
    @classmethod
    def _fill_from_model_spec(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        if isinstance(data.get("prior"), str):
            data["prior"] = Prior.parse(data["prior"])
        name = data.get("model_spec")
        if name is None:
            lik = data.get("likelihood")
            name = lik if lik in model_names() else DEFAULT_MODEL_SPEC
        data["model_spec"] = str(name)
        return {**model_spec_defaults(str(name)), **data}

    @field_validator("likelihood")
    @classmethod
    def _known_likelihood(cls, value: str) -> str:
        from preference_dissect.fit.families import LIKELIHOODS

        if value not in LIKELIHOODS:
            raise ValueError(
                f"unknown likelihood {value!r} (valid: {', '.join(LIKELIHOODS.names())})"
            )
        return value

    @model_validator(mode="after")
    def _poolable(self) -> FitSpec:
        from preference_dissect.fit.families import LIKELIHOODS, PRIORS

        if self.controls and not PRIORS.get(self.prior.kind).importance_sampling:
            raise ValueError(
                f"controls need a location-scale prior (laplace, normal), not {self.prior.kind!r}"
            )
        if self.pooling == "none":
            return self
        if self.controls:
            raise ValueError("pooling does not take controls yet (controls)")
        if self.intercept:
            raise ValueError("pooling does not take a position intercept yet (intercept)")
        if LIKELIHOODS.get(self.likelihood).has_sigma:
            raise ValueError(
                f"pooling needs a likelihood without extra parameters, not {self.likelihood!r}"
            )
        return self

    @property
    def uses_importance_sampling(self) -> bool:
        """Whether the default Laplace + importance-sampling engine applies."""
        from preference_dissect.fit.families import PRIORS

        return self.sampler == "auto" and PRIORS.get(self.prior.kind).importance_sampling

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (priors in their text form)."""
        d = self.model_dump()
        d["prior"] = self.prior.describe()
        sens = self.sensitivity_prior
        d["sensitivity_prior"] = sens.describe() if sens is not None else None
        return d

    def to_json(self) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)
