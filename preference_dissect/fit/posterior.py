"""Log-posterior of one (judge, group) regression, in numpy, for the Laplace/IS engine.

Parameter vector ``theta`` = attribute weights, then the intercept (if any), then the
likelihood's extra parameters (``log(sigma)`` for the linear model). The prior and the
likelihood are the registered families of the spec (:mod:`.families`):
:meth:`Posterior.log_density` is the exact unnormalised log-posterior on a batch of
parameter vectors; :meth:`Posterior.smooth_objective` the negative log-posterior with the
prior's kink smoothed, with gradient and Hessian, for Newton's method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preference_dissect.fit.families import LIKELIHOODS, PRIORS
from preference_dissect.fit.spec import FitSpec

INTERCEPT_SD = 1.0
#: Parameter vectors per block of :meth:`Posterior.log_density` (measured fastest at 121-1,418
#: rows: the (rows, CHUNK) work array stays in cache).
CHUNK = 256


@dataclass
class Posterior:
    """The posterior of one regression.

    Parameters
    ----------
    xmat : ndarray, shape (n, p)
        Attribute comparisons (-1/0/1).
    y : ndarray, shape (n,)
        Outcomes in [0, 1] (1 = A preferred; fractional for ties or soft labels).
    spec : FitSpec
        Likelihood and prior.
    """

    xmat: np.ndarray
    y: np.ndarray
    spec: FitSpec

    def __post_init__(self) -> None:
        self.n, self.p = self.xmat.shape
        self.prior = PRIORS.get(self.spec.prior.kind)
        self.likelihood = LIKELIHOODS.get(self.spec.likelihood)
        cols = [self.xmat]
        if self.spec.intercept:
            cols.append(np.ones((self.n, 1)))
        self.design = np.hstack(cols) if len(cols) > 1 else self.xmat
        #: the design in the likelihood's sampling type (:meth:`log_density`)
        self._sampling_design = self.design.astype(self.likelihood.sampling_dtype)
        self.n_linear = self.design.shape[1]
        self.target = self.likelihood.target(self.y)
        self.n_extra = len(self.likelihood.initial_extra(self.target))
        self.dim = self.n_linear + self.n_extra

    @property
    def scale(self) -> float:
        """The prior's scale."""
        return self.spec.prior.scale

    def initial(self) -> np.ndarray:
        """A starting point for optimisation."""
        theta = np.zeros(self.dim)
        theta[self.n_linear :] = self.likelihood.initial_extra(self.target)
        return theta

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        """Unnormalised log-posterior of each row of ``theta`` (shape (m, dim)): exact, the
        likelihood evaluated in its ``sampling_dtype``."""
        theta = np.atleast_2d(theta)
        out = np.empty(theta.shape[0])
        design = self._sampling_design
        for start in range(0, theta.shape[0], CHUNK):
            t = theta[start : start + CHUNK]
            eta = design @ t[:, : self.n_linear].T.astype(design.dtype)  # (n, m)
            extra = t[:, self.n_linear :] if self.n_extra else None
            ll = self.likelihood.log_density(eta, self.target, extra)
            lp = self.prior.log_density(t[:, : self.p], self.scale)
            if self.spec.intercept:
                lp = lp - 0.5 * t[:, self.p] ** 2 / INTERCEPT_SD**2
            out[start : start + CHUNK] = ll + lp
        return out

    def smooth_part(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log of everything but the weight prior (likelihood, intercept and extra
        parameters' priors), with its gradient and Hessian at ``theta``."""
        value, grad, hess = self.likelihood.smooth_part(
            self.design, self.target, theta, self.n_linear
        )
        if self.spec.intercept:
            a = theta[self.p]
            value += 0.5 * a**2 / INTERCEPT_SD**2
            grad[self.p] += a / INTERCEPT_SD**2
            hess[self.p, self.p] += 1.0 / INTERCEPT_SD**2
        return float(value), grad, hess

    def smooth_objective(
        self, theta: np.ndarray, smoothing: float | None = None
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative smoothed log-posterior, its gradient and Hessian at ``theta``."""
        value, grad, hess = self.smooth_part(theta)
        p_value, p_grad, p_curv = self.prior.smooth(theta[: self.p], self.scale, smoothing)
        grad[: self.p] += p_grad
        idx = np.arange(self.p)
        hess[idx, idx] += p_curv
        return float(value + p_value), grad, hess

    def predict(self, theta: np.ndarray, xmat: np.ndarray) -> np.ndarray:
        """Linear predictor for new rows ``xmat`` with parameters ``theta``."""
        eta = xmat @ theta[: self.p]
        if self.spec.intercept:
            eta = eta + theta[self.p]
        return eta
