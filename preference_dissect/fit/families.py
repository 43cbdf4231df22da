"""Priors and likelihoods of the attribute-weight regression: registered plug-ins.

A prior family gives the default engine (Newton's method, Laplace/EP approximation,
importance sampling) its exact log-density and a smooth version with gradient and Hessian,
and PyMC its random variable; a likelihood does the same for the outcome. The built-ins:

priors
    ``laplace`` (GAIR, Sharma et al.; handled exactly by expectation propagation), ``normal``,
    ``horseshoe`` (regularised horseshoe, Piironen & Vehtari 2017; NUTS only).
likelihoods
    ``logistic`` (Bernoulli, logit link; a fractional outcome such as a tie counted as 0.5
    enters as ``y log p + (1 - y) log(1 - p)``), ``linear`` (``y - 0.5 ~ Normal(X w, sigma)``,
    sigma ~ HalfNormal(1); for soft labels).

Add one with :func:`preference_dissect.plugins.register_prior` /
:func:`~preference_dissect.plugins.register_likelihood` on a subclass of
:class:`PriorFamily` / :class:`Likelihood`; ``--prior NAME:SCALE`` and
``--likelihood NAME`` (and the API's ``prior=`` / ``likelihood=``) then find it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import special

from preference_dissect.registry import Registry


class PriorFamily:
    """A prior on every attribute weight, ``w_j ~ family(0, scale)`` independently.

    Subclasses implement :meth:`log_density`, :meth:`smooth`, :meth:`pymc` and
    :meth:`draw`; a non-smooth family (Laplace) also :meth:`tilted_moments` for expectation
    propagation. ``importance_sampling = False`` sends every fit to NUTS.
    """

    name: str = ""
    default_scale: float = 1.0
    importance_sampling: bool = True

    def variance(self, scale: float) -> float:
        """Prior variance of one weight (EP's starting site precision)."""
        return scale**2

    def log_density(self, w: np.ndarray, scale: float) -> np.ndarray:
        """Exact log-density of each row of ``w`` (shape (m, p)) summed over weights."""
        raise NotImplementedError

    def smooth(
        self, w: np.ndarray, scale: float, eps: float | None = None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log-density of ``w`` (shape (p,)), smoothed over a width ``eps`` where it
        has a kink (default: the family's own), with its gradient and the diagonal of its
        Hessian (Newton's method)."""
        raise NotImplementedError

    def tilted_moments(
        self, mean: np.ndarray, var: np.ndarray, scale: float
    ) -> tuple[np.ndarray, np.ndarray] | None:
        """Mean and variance of ``N(w; mean, var) * prior(w)``, elementwise, for families EP
        treats exactly; ``None`` (the default) means "Laplace approximation at the mode"."""
        return None

    def pymc(self, scale: float, p: int, n: int, likelihood: Likelihood) -> Any:
        """Create the ``weight`` variable (dim ``attribute``) inside the current PyMC model."""
        raise NotImplementedError

    def draw(self, rng: np.random.Generator, scale: float, size: Any) -> np.ndarray:
        """Draws from the prior."""
        raise NotImplementedError


class Likelihood:
    """How the judge's outcome ``y`` (1 = A preferred) depends on ``eta = X w (+ intercept)``.

    ``has_sigma`` adds one parameter, ``log(sigma)``, after the linear ones. A likelihood
    without extra parameters only needs :meth:`eta_terms` for the default engine.
    """

    name: str = ""
    has_sigma: bool = False
    #: What the likelihood is a density of: PSIS-LOO compares only fits of the same outcome
    #: (a probability of the verdict is not comparable with a density of ``y - 0.5``).
    outcome: str = "verdict"
    #: The floating-point type :meth:`log_density` is evaluated in by the default engine's
    #: importance sampling (its innermost loop): float64 unless a likelihood shows that a
    #: narrower type changes the log-density by far less than the Monte Carlo error.
    sampling_dtype: type = np.float64

    def target(self, y: np.ndarray) -> np.ndarray:
        """The outcome as the likelihood models it."""
        return y

    def initial_extra(self, target: np.ndarray) -> list[float]:
        """Starting values of the extra parameters."""
        return []

    def eta_terms(
        self, eta: np.ndarray, target: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log-likelihood at ``eta`` (shape (n,)) and its first and second
        derivatives with respect to each ``eta_i``."""
        raise NotImplementedError

    def log_density(
        self, eta: np.ndarray, target: np.ndarray, extra: np.ndarray | None
    ) -> np.ndarray:
        """Log-likelihood of each column of ``eta`` (shape (n, m)), the extra parameters of
        each column in ``extra`` (shape (m, k))."""
        raise NotImplementedError

    def smooth_part(
        self, design: np.ndarray, target: np.ndarray, theta: np.ndarray, n_linear: int
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log-likelihood at ``theta``, its gradient and Hessian (all parameters)."""
        eta = design @ theta[:n_linear]
        value, g, h = self.eta_terms(eta, target)
        grad = np.zeros(len(theta))
        hess = np.zeros((len(theta), len(theta)))
        grad[:n_linear] = design.T @ g
        hess[:n_linear, :n_linear] = (design * h[:, None]).T @ design
        return value, grad, hess

    def pymc_observed(self, eta: Any, y: np.ndarray) -> None:
        """Add the observed outcome to the current PyMC model."""
        raise NotImplementedError

    def pointwise(
        self, eta: np.ndarray, target: np.ndarray, sigma: np.ndarray | None
    ) -> np.ndarray:
        """Log-likelihood of each observation under each draw: ``eta`` (n, m), ``sigma``
        (m,) or None -> (n, m), normalised (PSIS-LOO uses it)."""
        raise NotImplementedError(f"likelihood {self.name!r} gives no pointwise log-likelihood")

    def replicate(
        self, eta: np.ndarray, sigma: np.ndarray | None, rng: np.random.Generator
    ) -> np.ndarray:
        """Posterior predictive outcomes for ``eta`` (shape (n, s)), as ``y`` is coded."""
        raise NotImplementedError

    def pseudo_sigma(self) -> float:
        """The outcome scale the horseshoe's global scale is set from (Piironen & Vehtari)."""
        return 1.0


PRIORS: Registry[PriorFamily] = Registry(
    "prior", "prior", builtins=("preference_dissect.fit.families",), instantiate=True
)
LIKELIHOODS: Registry[Likelihood] = Registry(
    "likelihood", "likelihood", builtins=("preference_dissect.fit.families",), instantiate=True
)

#: Smoothing of the Laplace prior's kink for Newton's method, relative to its scale.
MODE_SMOOTHING = 1e-3
HORSESHOE_SLAB_SCALE = 1.0
HORSESHOE_SLAB_DF = 4.0


def laplace_tilted_moments(
    mean: np.ndarray, var: np.ndarray, b: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of ``N(w; mean, var) * exp(-|w| / b)`` (normalised), elementwise:
    a two-piece truncated normal."""
    sd = np.sqrt(var)
    mu_pos, mu_neg = mean - var / b, mean + var / b
    a_pos, a_neg = mu_pos / sd, -mu_neg / sd
    ndtr_pos, ndtr_neg = special.log_ndtr(a_pos), special.log_ndtr(a_neg)
    log_z_pos = -mean / b + ndtr_pos
    log_z_neg = mean / b + ndtr_neg
    log_z = np.logaddexp(log_z_pos, log_z_neg)
    p_pos = np.exp(log_z_pos - log_z)
    p_neg = 1.0 - p_pos
    log_phi = -0.5 * np.log(2 * np.pi)
    r_pos = np.exp(log_phi - 0.5 * a_pos**2 - ndtr_pos)
    r_neg = np.exp(log_phi - 0.5 * a_neg**2 - ndtr_neg)
    m_pos, m_neg = mu_pos + sd * r_pos, mu_neg - sd * r_neg
    v_pos = var * np.maximum(1.0 - r_pos * (a_pos + r_pos), 1e-12)
    v_neg = var * np.maximum(1.0 - r_neg * (a_neg + r_neg), 1e-12)
    m = p_pos * m_pos + p_neg * m_neg
    v = p_pos * (v_pos + m_pos**2) + p_neg * (v_neg + m_neg**2) - m**2
    return m, np.maximum(v, 1e-12 * var)


@PRIORS.register("laplace")
class LaplacePrior(PriorFamily):
    """``w ~ Laplace(0, scale)``: GAIR's and Sharma et al.'s prior (sparse-ish weights)."""

    name = "laplace"
    default_scale = 0.1

    def variance(self, scale: float) -> float:
        return 2.0 * scale**2

    def log_density(self, w: np.ndarray, scale: float) -> np.ndarray:
        return -np.abs(w).sum(axis=-1) / scale - w.shape[-1] * np.log(2 * scale)

    def smooth(
        self, w: np.ndarray, scale: float, eps: float | None = None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        eps = MODE_SMOOTHING * scale if eps is None else eps
        root = np.sqrt(w**2 + eps**2)
        curvature = eps**2 / (scale * (w**2 + eps**2) ** 1.5)
        return float(root.sum() / scale), w / (scale * root), curvature

    def tilted_moments(
        self, mean: np.ndarray, var: np.ndarray, scale: float
    ) -> tuple[np.ndarray, np.ndarray]:
        return laplace_tilted_moments(mean, var, scale)

    def pymc(self, scale: float, p: int, n: int, likelihood: Likelihood) -> Any:
        import pymc as pm

        return pm.Laplace("weight", mu=0.0, b=scale, dims="attribute")

    def draw(self, rng: np.random.Generator, scale: float, size: Any) -> np.ndarray:
        return rng.laplace(0.0, scale, size)


@PRIORS.register("normal")
class NormalPrior(PriorFamily):
    """``w ~ Normal(0, scale)``."""

    name = "normal"
    default_scale = 1.0

    def log_density(self, w: np.ndarray, scale: float) -> np.ndarray:
        return -0.5 * (w**2).sum(axis=-1) / scale**2 - w.shape[-1] * np.log(
            scale * np.sqrt(2 * np.pi)
        )

    def smooth(
        self, w: np.ndarray, scale: float, eps: float | None = None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        return float(0.5 * (w**2).sum() / scale**2), w / scale**2, np.full_like(w, scale**-2)

    def pymc(self, scale: float, p: int, n: int, likelihood: Likelihood) -> Any:
        import pymc as pm

        return pm.Normal("weight", mu=0.0, sigma=scale, dims="attribute")

    def draw(self, rng: np.random.Generator, scale: float, size: Any) -> np.ndarray:
        return rng.normal(0.0, scale, size)


@PRIORS.register("horseshoe")
class HorseshoePrior(PriorFamily):
    """The regularised horseshoe (Piironen & Vehtari 2017); ``scale`` is the expected number
    of non-zero weights (p0), slab scale 1, slab degrees of freedom 4. Sampled with NUTS."""

    name = "horseshoe"
    default_scale = 3.0
    importance_sampling = False

    def pymc(self, scale: float, p: int, n: int, likelihood: Likelihood) -> Any:
        import pymc as pm

        p0 = min(scale, p - 0.5)
        tau0 = p0 / (p - p0) * likelihood.pseudo_sigma() / np.sqrt(max(n, 1))
        tau = pm.HalfStudentT("tau", nu=1, sigma=tau0)
        lam = pm.HalfStudentT("lam", nu=1, sigma=1.0, dims="attribute")
        c2 = pm.InverseGamma(
            "c2",
            alpha=HORSESHOE_SLAB_DF / 2,
            beta=HORSESHOE_SLAB_DF * HORSESHOE_SLAB_SCALE**2 / 2,
        )
        z = pm.Normal("z", 0.0, 1.0, dims="attribute")
        lam_tilde = pm.math.sqrt(c2 * lam**2 / (c2 + tau**2 * lam**2))
        return pm.Deterministic("weight", z * tau * lam_tilde, dims="attribute")


@LIKELIHOODS.register("logistic")
class LogisticLikelihood(Likelihood):
    """Bernoulli outcome with a logit link; ``y`` in [0, 1] (fractional = soft / tie)."""

    name = "logistic"
    #: float32 is ~5x faster here (SIMD exp/log) and changes the log-density of a cell of
    #: 500 pairs by < 1e-5 (sums accumulate in float64): importance weights move by < 1e-5
    #: relative, far below their Monte Carlo error (tests/test_fit_engine.py checks it)
    sampling_dtype = np.float32

    def eta_terms(
        self, eta: np.ndarray, target: np.ndarray
    ) -> tuple[float, np.ndarray, np.ndarray]:
        prob = 0.5 * (1.0 + np.tanh(0.5 * eta))
        value = -(target @ eta - np.logaddexp(0.0, eta).sum())
        return float(value), prob - target, prob * (1 - prob)

    def log_density(
        self, eta: np.ndarray, target: np.ndarray, extra: np.ndarray | None
    ) -> np.ndarray:
        # y eta - log(1 + e^eta) = (y - 1/2) eta - |eta| / 2 - log(1 + e^-|eta|), in place
        # and ~5x faster than np.logaddexp; this is the default engine's innermost loop. In
        # the type of ``eta`` (``sampling_dtype``), the sums over rows in float64
        out = ((target - 0.5).astype(eta.dtype) @ eta).astype(np.float64)
        work = np.abs(eta)
        out -= 0.5 * work.sum(axis=0, dtype=np.float64)
        np.negative(work, out=work)
        np.exp(work, out=work)
        np.log1p(work, out=work)
        out -= work.sum(axis=0, dtype=np.float64)
        return out

    def pymc_observed(self, eta: Any, y: np.ndarray) -> None:
        import pymc as pm

        if np.isin(y, (0.0, 1.0)).all():
            pm.Bernoulli("y", logit_p=eta, observed=y)
        else:  # fractional outcomes: the same density the default engine uses
            pm.Potential("y", pm.math.sum(y * eta - pm.math.log1pexp(eta)))

    def pointwise(
        self, eta: np.ndarray, target: np.ndarray, sigma: np.ndarray | None
    ) -> np.ndarray:
        return target[:, None] * eta - np.logaddexp(0.0, eta)

    def replicate(
        self, eta: np.ndarray, sigma: np.ndarray | None, rng: np.random.Generator
    ) -> np.ndarray:
        with np.errstate(over="ignore"):
            prob = 1.0 / (1.0 + np.exp(-eta))
        return (rng.random(prob.shape) < prob).astype(float)

    def pseudo_sigma(self) -> float:
        return 2.0


@LIKELIHOODS.register("linear")
class LinearLikelihood(Likelihood):
    """``y - 0.5 ~ Normal(X w, sigma)``, sigma ~ HalfNormal(1): a linear probability model
    centred so that a pair with no attribute difference is a coin flip."""

    name = "linear"
    has_sigma = True
    outcome = "y - 0.5 (Gaussian)"

    def target(self, y: np.ndarray) -> np.ndarray:
        return y - 0.5

    def initial_extra(self, target: np.ndarray) -> list[float]:
        return [float(np.log(max(float(np.std(target)), 0.05)))]

    def log_density(
        self, eta: np.ndarray, target: np.ndarray, extra: np.ndarray | None
    ) -> np.ndarray:
        assert extra is not None
        log_sigma = extra[:, 0]
        resid = target[:, None] - eta
        n = len(target)
        ll = -n * log_sigma - 0.5 * (resid**2).sum(axis=0) * np.exp(-2 * log_sigma)
        # sigma ~ HalfNormal(1), with the Jacobian of sigma = exp(log_sigma)
        return ll - 0.5 * np.exp(2 * log_sigma) + log_sigma

    def smooth_part(
        self, design: np.ndarray, target: np.ndarray, theta: np.ndarray, n_linear: int
    ) -> tuple[float, np.ndarray, np.ndarray]:
        n = len(target)
        s = theta[-1]
        inv_var = np.exp(-2 * s)
        resid = target - design @ theta[:n_linear]
        rss = float(resid @ resid)
        grad = np.zeros(len(theta))
        hess = np.zeros((len(theta), len(theta)))
        value = n * s + 0.5 * rss * inv_var + 0.5 * np.exp(2 * s) - s
        grad[:n_linear] = -design.T @ resid * inv_var
        grad[-1] = n - rss * inv_var + np.exp(2 * s) - 1.0
        hess[:n_linear, :n_linear] = design.T @ design * inv_var
        cross = 2 * design.T @ resid * inv_var
        hess[:n_linear, -1] = cross
        hess[-1, :n_linear] = cross
        hess[-1, -1] = 2 * rss * inv_var + 2 * np.exp(2 * s)
        return float(value), grad, hess

    def pointwise(
        self, eta: np.ndarray, target: np.ndarray, sigma: np.ndarray | None
    ) -> np.ndarray:
        assert sigma is not None
        z = (target[:, None] - eta) / sigma[None, :]
        return -0.5 * z**2 - np.log(sigma)[None, :] - 0.5 * np.log(2 * np.pi)

    def pymc_observed(self, eta: Any, y: np.ndarray) -> None:
        import pymc as pm

        sigma = pm.HalfNormal("sigma", 1.0)
        pm.Normal("y", mu=eta, sigma=sigma, observed=y - 0.5)

    def replicate(
        self, eta: np.ndarray, sigma: np.ndarray | None, rng: np.random.Generator
    ) -> np.ndarray:
        assert sigma is not None
        return 0.5 + eta + rng.standard_normal(eta.shape) * sigma[None, :]

    def pseudo_sigma(self) -> float:
        return 0.5
