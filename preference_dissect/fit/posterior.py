"""Log-posterior of one (judge, group) regression, in numpy, for the Laplace/IS engine.

Parameter vector ``theta`` = attribute weights, then the intercept (if any), then
``log(sigma)`` (linear model only). :meth:`Posterior.log_density` is the exact
unnormalised log-posterior (Laplace prior with its kink) evaluated on a batch of
parameter vectors; :meth:`Posterior.smooth_objective` is the negative log-posterior with
``|w|`` replaced by ``sqrt(w**2 + eps**2)``, with gradient and Hessian, for Newton's method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from preference_dissect.fit.spec import FitSpec

INTERCEPT_SD = 1.0
CHUNK = 1024


@dataclass
class Posterior:
    """The posterior of one regression.

    Parameters
    ----------
    xmat : ndarray, shape (n, p)
        Attribute comparisons (-1/0/1).
    y : ndarray, shape (n,)
        Outcomes: 1 = A preferred (logistic), or a value in [0, 1] (linear; modelled as
        ``y - 0.5 ~ Normal(xmat w, sigma)``).
    spec : FitSpec
        Likelihood and prior.
    """

    xmat: np.ndarray
    y: np.ndarray
    spec: FitSpec

    def __post_init__(self) -> None:
        self.n, self.p = self.xmat.shape
        cols = [self.xmat]
        if self.spec.intercept:
            cols.append(np.ones((self.n, 1)))
        self.design = np.hstack(cols) if len(cols) > 1 else self.xmat
        self.n_linear = self.design.shape[1]
        # the linear model is centred: y - 0.5 = X w (+ intercept) + noise, so that a pair
        # with no attribute differences is predicted as a coin flip (as in the logistic model)
        self.target = self.y - 0.5 if self.spec.model == "linear" else self.y
        self.dim = self.n_linear + (1 if self.spec.model == "linear" else 0)

    # ----------------------------------------------------------------- names and layout
    def initial(self) -> np.ndarray:
        """A starting point for optimisation."""
        theta = np.zeros(self.dim)
        if self.spec.model == "linear":
            theta[-1] = np.log(max(float(np.std(self.target)), 0.05))
        return theta

    # ----------------------------------------------------------------- exact density
    def _log_prior_weights(self, w: np.ndarray) -> np.ndarray:
        prior = self.spec.prior
        if prior.kind == "laplace":
            return -np.abs(w).sum(axis=-1) / prior.scale - w.shape[-1] * np.log(2 * prior.scale)
        if prior.kind == "normal":
            return -0.5 * (w**2).sum(axis=-1) / prior.scale**2 - w.shape[-1] * np.log(
                prior.scale * np.sqrt(2 * np.pi)
            )
        raise ValueError(f"the importance-sampling engine does not support the {prior.kind} prior")

    def log_density(self, theta: np.ndarray) -> np.ndarray:
        """Exact unnormalised log-posterior of each row of ``theta`` (shape (m, dim))."""
        theta = np.atleast_2d(theta)
        out = np.empty(theta.shape[0])
        for start in range(0, theta.shape[0], CHUNK):
            t = theta[start : start + CHUNK]
            eta = self.design @ t[:, : self.n_linear].T  # (n, m)
            if self.spec.model == "logistic":
                ll = self.y @ eta - np.logaddexp(0.0, eta).sum(axis=0)
            else:
                log_sigma = t[:, -1]
                resid = self.target[:, None] - eta
                ll = -self.n * log_sigma - 0.5 * (resid**2).sum(axis=0) * np.exp(-2 * log_sigma)
                # sigma ~ HalfNormal(1), with the Jacobian of sigma = exp(log_sigma)
                ll += -0.5 * np.exp(2 * log_sigma) + log_sigma
            lp = self._log_prior_weights(t[:, : self.p])
            if self.spec.intercept:
                lp = lp - 0.5 * t[:, self.p] ** 2 / INTERCEPT_SD**2
            out[start : start + CHUNK] = ll + lp
        return out

    # ----------------------------------------------------------------- smooth objective
    def prior_curvature(self, w: np.ndarray, smoothing: float) -> np.ndarray:
        """Curvature (second derivative of the negative log-prior) of the smoothed prior."""
        prior = self.spec.prior
        if prior.kind == "laplace":
            return smoothing**2 / (prior.scale * (w**2 + smoothing**2) ** 1.5)
        return np.full_like(w, 1.0 / prior.scale**2)

    def smooth_part(self, theta: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative log of everything but the weight prior (likelihood, intercept and sigma
        priors), with its gradient and Hessian at ``theta``."""
        beta = theta[: self.n_linear]
        eta = self.design @ beta
        grad = np.zeros(self.dim)
        hess = np.zeros((self.dim, self.dim))
        if self.spec.model == "logistic":
            prob = 0.5 * (1.0 + np.tanh(0.5 * eta))
            value = -(self.y @ eta - np.logaddexp(0.0, eta).sum())
            grad[: self.n_linear] = -self.design.T @ (self.y - prob)
            hess[: self.n_linear, : self.n_linear] = (
                self.design * (prob * (1 - prob))[:, None]
            ).T @ self.design
        else:
            s = theta[-1]
            inv_var = np.exp(-2 * s)
            resid = self.target - eta
            rss = float(resid @ resid)
            value = self.n * s + 0.5 * rss * inv_var + 0.5 * np.exp(2 * s) - s
            grad[: self.n_linear] = -self.design.T @ resid * inv_var
            grad[-1] = self.n - rss * inv_var + np.exp(2 * s) - 1.0
            hess[: self.n_linear, : self.n_linear] = self.design.T @ self.design * inv_var
            cross = 2 * self.design.T @ resid * inv_var
            hess[: self.n_linear, -1] = cross
            hess[-1, : self.n_linear] = cross
            hess[-1, -1] = 2 * rss * inv_var + 2 * np.exp(2 * s)
        if self.spec.intercept:
            a = theta[self.p]
            value += 0.5 * a**2 / INTERCEPT_SD**2
            grad[self.p] += a / INTERCEPT_SD**2
            hess[self.p, self.p] += 1.0 / INTERCEPT_SD**2
        return float(value), grad, hess

    def smooth_objective(
        self, theta: np.ndarray, smoothing: float
    ) -> tuple[float, np.ndarray, np.ndarray]:
        """Negative smoothed log-posterior, its gradient and Hessian at ``theta``."""
        value, grad, hess = self.smooth_part(theta)
        w = theta[: self.p]
        prior = self.spec.prior
        if prior.kind == "laplace":
            root = np.sqrt(w**2 + smoothing**2)
            value += root.sum() / prior.scale
            grad[: self.p] += w / (prior.scale * root)
        else:
            value += 0.5 * (w**2).sum() / prior.scale**2
            grad[: self.p] += w / prior.scale**2
        idx = np.arange(self.p)
        hess[idx, idx] += self.prior_curvature(w, smoothing)
        return float(value), grad, hess

    # ----------------------------------------------------------------- prediction
    def predict(self, theta: np.ndarray, xmat: np.ndarray) -> np.ndarray:
        """Linear predictor for new rows ``xmat`` with parameters ``theta``."""
        eta = xmat @ theta[: self.p]
        if self.spec.intercept:
            eta = eta + theta[self.p]
        return eta
