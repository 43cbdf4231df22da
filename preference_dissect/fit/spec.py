"""The validated description of a fit: likelihood, prior, sampler and their settings.

The flow mirrors Bambi: a :class:`FitSpec` (validated here) -> a model built from it
(:mod:`~preference_dissect.fit.posterior` for the Laplace/importance engine,
:mod:`~preference_dissect.fit.nuts` for PyMC) -> fit -> ``InferenceData``
(:mod:`~preference_dissect.fit.idata`) -> interpretation (:mod:`preference_dissect.analyse`).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import Any

from preference_dissect.errors import InputError

MODELS = ("logistic", "linear")
PRIORS = ("laplace", "normal", "horseshoe")
SAMPLERS = ("auto", "nuts")
DEFAULT_PRIOR_SCALE = {"laplace": 0.1, "normal": 1.0, "horseshoe": 3.0}


@dataclass(frozen=True)
class Prior:
    """Prior on every attribute weight.

    Attributes
    ----------
    kind : {"laplace", "normal", "horseshoe"}
        ``laplace``: w ~ Laplace(0, scale); ``normal``: w ~ Normal(0, scale); ``horseshoe``:
        the regularised horseshoe of Piironen & Vehtari (2017) with ``scale`` the expected
        number of non-zero weights (p0), slab scale 1 and slab degrees of freedom 4.
    scale : float
        See ``kind``.
    """

    kind: str = "laplace"
    scale: float = 0.1

    @classmethod
    def parse(cls, text: str) -> Prior:
        """Parse ``laplace:0.1``, ``normal:1.0``, ``horseshoe`` or ``horseshoe:3``."""
        kind, _, value = str(text).strip().lower().partition(":")
        if kind not in PRIORS:
            raise InputError(
                f"unknown prior {text!r} (use laplace:B, normal:S or horseshoe)", field="prior"
            )
        if not value:
            return cls(kind, DEFAULT_PRIOR_SCALE[kind])
        try:
            scale = float(value)
        except ValueError:
            raise InputError(f"prior scale {value!r} is not a number", field="prior") from None
        if not math.isfinite(scale) or scale <= 0:
            raise InputError(f"prior scale must be positive, got {value}", field="prior")
        return cls(kind, scale)

    def describe(self) -> str:
        """Return the ``kind:scale`` text form."""
        return f"{self.kind}:{self.scale:g}"


@dataclass(frozen=True)
class FitSpec:
    """Everything that defines a fit, validated on creation.

    Attributes
    ----------
    model : {"logistic", "linear"}
        Bernoulli likelihood with logit link, or a linear probability model
        ``y - 0.5 ~ Normal(X w, sigma)`` (y in [0, 1], e.g. soft labels), sigma ~ HalfNormal(1).
    prior : Prior
        Prior on the attribute weights.
    intercept : bool
        Add a position intercept ~ Normal(0, 1) (preference for response A regardless of
        the attributes).
    sampler : {"auto", "nuts"}
        ``auto``: Laplace approximation + Pareto-smoothed importance sampling, with PyMC NUTS
        for fits whose Pareto k exceeds ``pareto_k_max`` (and always for the horseshoe);
        ``nuts``: PyMC NUTS for every fit.
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
    """

    model: str = "logistic"
    prior: Prior = field(default_factory=Prior)
    intercept: bool = False
    sampler: str = "auto"
    chains: int = 4
    draws: int = 500
    tune: int = 1000
    seed: int = 0
    folds: int = 5
    pareto_k_max: float = 0.7
    ess_min: float = 400.0
    rhat_max: float = 1.01
    target_accept: float = 0.9
    min_group_size: int = 30
    sensitivity_prior: Prior | None = field(default_factory=lambda: Prior("normal", 1.0))

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise InputError(
                f"unknown model {self.model!r} (use {' or '.join(MODELS)})", field="model"
            )
        if self.sampler not in SAMPLERS:
            raise InputError(
                f"unknown sampler {self.sampler!r} (use {' or '.join(SAMPLERS)})", field="sampler"
            )
        for name in ("chains", "draws"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be at least 1", field=name)
        if self.tune < 0:
            raise InputError("tune must not be negative", field="tune")
        if self.folds < 2:
            raise InputError("folds must be at least 2", field="folds")
        if self.min_group_size < 1:
            raise InputError("min_group_size must be at least 1", field="min_group_size")

    @property
    def uses_importance_sampling(self) -> bool:
        """Whether the default Laplace + importance-sampling engine applies."""
        return self.sampler == "auto" and self.prior.kind != "horseshoe"

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-ready dict (the prior as its text form)."""
        d = asdict(self)
        d["prior"] = self.prior.describe()
        sens = self.sensitivity_prior
        d["sensitivity_prior"] = sens.describe() if sens is not None else None
        return d

    def to_json(self) -> str:
        """Return :meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True)
