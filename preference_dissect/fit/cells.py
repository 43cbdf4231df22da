"""Fit every (judge, group) of a features table and collect the results.

One fit per (judge, group): by default Laplace+EP approximation refined by Pareto-smoothed
importance sampling (:mod:`.importance`), with PyMC NUTS (:mod:`.nuts`) for fits whose
Pareto k or effective sample size is not acceptable; ``sampler="nuts"`` uses NUTS for all.

Two guards run before any sampling:

* a cell with fewer rows than ``spec.min_group_size`` is not fitted (a 29-weight regression
  on a handful of pairs says nothing); it is kept as a *skipped* cell with the reason;
* an attribute that is constant in a cell (0 in every row, or always +1 / -1) carries no
  information about the judge there (a constant non-zero column only restates the base rate
  of A wins): it is left out of that cell's regression, its weight is NaN and the reason is
  recorded; a cell in which no attribute varies is skipped.

Cells can be fitted in several processes (:func:`fit_table`'s ``workers``,
``$PREFDISSECT_WORKERS``): each depends only on its rows, the spec and its own seed, so the
results are the same for any number.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from preference_dissect.errors import InputError
from preference_dissect.fit.checks import kfold_accuracy, posterior_predictive_check
from preference_dissect.fit.families import LIKELIHOODS
from preference_dissect.fit.features import FeatureTable
from preference_dissect.fit.importance import importance_sample
from preference_dissect.fit.posterior import Posterior
from preference_dissect.fit.spec import FitSpec

#: ``CellFit.method`` of a cell that was not fitted (``reason`` says why).
SKIPPED = "skipped"


@dataclass
class CellFit:
    """Posterior draws and diagnostics of one (judge, group) fit.

    Attributes
    ----------
    weight : ndarray, shape (chains, draws, p)
        NaN for attributes that were not estimable in this cell (see ``dropped``) and for
        every attribute of a skipped cell.
    intercept, sigma : ndarray, shape (chains, draws), optional
    method : str
        ``is`` (importance sampling), ``nuts``, or ``skipped`` (not fitted; see ``reason``).
    n : int
        Rows of the cell.
    rhat_max, ess_bulk_min : float
        NUTS: max R-hat and min bulk ESS over parameters. IS: R-hat is NaN and the ESS is
        the importance-sampling ESS, ``1 / sum(w**2)``.
    divergences : int
    pareto_k : float
        Pareto k of the importance weights (NaN for NUTS-only fits).
    accuracy : float
        k-fold holdout accuracy.
    ppc_p_share : float
    ppc_p_agree : ndarray, shape (p,)
    seconds : float
    n_nonzero : ndarray, shape (p,)
        Rows where the attribute comparison is not 0 (the pairs that inform its weight).
    notes : list of str
        Diagnostic warnings and fallbacks.
    wide_mean : ndarray, shape (p,)
        Posterior mean of the weights under ``spec.sensitivity_prior`` (Laplace
        approximation; empty when the check is off): the prior-sensitivity check.
    dropped : dict
        Attribute name -> why it was left out of this cell (``all zero``, ``always +1``).
    reason : str
        Why a skipped cell was not fitted (empty for fitted cells).
    """

    weight: np.ndarray
    intercept: np.ndarray | None
    sigma: np.ndarray | None
    method: str
    n: int
    rhat_max: float
    ess_bulk_min: float
    divergences: int
    pareto_k: float
    accuracy: float
    ppc_p_share: float
    ppc_p_agree: np.ndarray
    seconds: float
    n_nonzero: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    wide_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    notes: list[str] = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    reason: str = ""


def cell_seed(seed: int, judge: str, group: str) -> int:
    """A reproducible per-fit seed derived from the base seed and the fit's names."""
    seq = np.random.SeedSequence([seed, zlib.crc32(judge.encode()), zlib.crc32(group.encode())])
    return int(seq.generate_state(1)[0])


def constant_columns(xmat: np.ndarray) -> dict[int, str]:
    """Columns of ``xmat`` that take one value in every row: index -> ``all zero`` /
    ``always +1`` / ``always -1`` (or the constant, for continuous covariates)."""
    if len(xmat) == 0:
        return {j: "no rows" for j in range(xmat.shape[1])}
    constant = np.flatnonzero(np.ptp(xmat, axis=0) == 0)
    out = {}
    for j in constant:
        value = float(xmat[0, j])
        out[int(j)] = "all zero" if value == 0 else f"always {value:+g}"
    return out


def skipped_cell(xmat: np.ndarray, spec: FitSpec, reason: str) -> CellFit:
    """A cell that is not fitted: NaN draws, the reason, and its row counts."""
    n, p = xmat.shape
    shape = (spec.chains, spec.draws)
    nan = np.full(shape, np.nan)
    return CellFit(
        weight=np.full((*shape, p), np.nan),
        intercept=nan if spec.intercept else None,
        sigma=nan.copy() if LIKELIHOODS.get(spec.likelihood).has_sigma else None,
        method=SKIPPED,
        n=n,
        rhat_max=float("nan"),
        ess_bulk_min=float("nan"),
        divergences=0,
        pareto_k=float("nan"),
        accuracy=float("nan"),
        ppc_p_share=float("nan"),
        ppc_p_agree=np.full(p, np.nan),
        seconds=0.0,
        n_nonzero=np.count_nonzero(xmat, axis=0).astype(np.int64),
        reason=reason,
    )


def _split_theta(theta: np.ndarray, spec: FitSpec, p: int, shape: tuple[int, int]):
    weight = theta[:, :p].reshape(*shape, p)
    intercept = theta[:, p].reshape(shape) if spec.intercept else None
    has_sigma = LIKELIHOODS.get(spec.likelihood).has_sigma
    sigma = np.exp(theta[:, -1]).reshape(shape) if has_sigma else None
    return weight, intercept, sigma


@dataclass
class _Draws:
    method: str
    weight: np.ndarray
    intercept: np.ndarray | None
    sigma: np.ndarray | None
    rhat: float
    ess: float
    divergences: int
    pareto_k: float
    #: the Gaussian approximation importance sampling started from (a warm start for checks)
    approx: Any = None


def _sample(xmat: np.ndarray, y: np.ndarray, spec: FitSpec, seed: int, notes: list[str]):
    """Importance sampling when the spec allows it and it is reliable, else PyMC NUTS."""
    from preference_dissect.fit.nuts import nuts_sample

    rng = np.random.default_rng(seed)
    shape = (spec.chains, spec.draws)
    pareto_k = float("nan")
    res = None
    if spec.uses_importance_sampling:
        try:
            with np.errstate(all="ignore"):  # overflow far in the tails is handled below
                res = importance_sample(Posterior(xmat, y, spec), rng, spec.chains * spec.draws)
        except (np.linalg.LinAlgError, ValueError) as exc:
            notes.append(f"importance sampling failed ({exc}): refitted with NUTS")
    if res is not None:
        pareto_k = res.pareto_k
        if res.pareto_k <= spec.pareto_k_max and res.ess >= spec.ess_min:
            weight, intercept, sigma = _split_theta(res.draws, spec, xmat.shape[1], shape)
            draws = _Draws("is", weight, intercept, sigma, float("nan"), res.ess, 0, pareto_k)
            draws.approx = res.approx
            return draws, rng
        notes.append(
            f"importance sampling not reliable (Pareto k {res.pareto_k:.2f},"
            f" ESS {res.ess:.0f}): refitted with NUTS"
        )
    out = nuts_sample(xmat, y, spec, seed)
    draws = _Draws(
        "nuts",
        out["weight"],
        out.get("intercept"),
        out.get("sigma"),
        out["rhat_max"],
        out["ess_bulk_min"],
        out["divergences"],
        pareto_k,
        None if res is None else res.approx,
    )
    return draws, rng


def _diagnostic_notes(d: _Draws, spec: FitSpec) -> list[str]:
    notes = []
    if d.method == "nuts":
        if d.rhat > spec.rhat_max:
            notes.append(f"R-hat {d.rhat:.3f} > {spec.rhat_max}")
        if d.divergences > 0:
            notes.append(f"{d.divergences} divergent transitions")
    if d.ess < spec.ess_min:
        notes.append(f"ESS {d.ess:.0f} < {spec.ess_min:.0f}")
    if d.method == "is" and d.pareto_k > spec.pareto_k_max:
        notes.append(f"Pareto k {d.pareto_k:.2f} > {spec.pareto_k_max}")
    return notes


def wide_prior_mean(
    xmat: np.ndarray, y: np.ndarray, spec: FitSpec, start: Any = None
) -> np.ndarray:
    """Approximate posterior mean of the weights under ``spec.sensitivity_prior`` (the
    Laplace/EP Gaussian approximation of :mod:`.laplace`: milliseconds per cell); an EP
    prior's sites start from those of ``start`` (the ``GaussianApprox`` under ``spec``)."""
    from preference_dissect.fit.laplace import gaussian_approximation

    wide = spec.model_copy(update={"prior": spec.sensitivity_prior})
    try:
        with np.errstate(all="ignore"):
            post = Posterior(xmat, y, wide)
            mean = gaussian_approximation(post, start).mean[: xmat.shape[1]]
    except (np.linalg.LinAlgError, ValueError):
        return np.full(xmat.shape[1], np.nan)
    return np.where(np.isfinite(mean), mean, np.nan)


def fit_cell(
    xmat: np.ndarray,
    y: np.ndarray,
    spec: FitSpec,
    seed: int,
    attributes: list[str] | None = None,
) -> CellFit:
    """Fit one (judge, group) regression and run its checks.

    Attributes that are constant in this cell are left out (NaN weight, reason in
    ``dropped``); with none left the cell is skipped (:func:`skipped_cell`). ``attributes``
    names the columns (default ``column 1``, ``column 2``...).
    """
    start = time.perf_counter()
    n, p = xmat.shape
    names = attributes or [f"column {j + 1}" for j in range(p)]
    constant = constant_columns(xmat)
    keep = np.array([j not in constant for j in range(p)], dtype=bool)
    if not keep.any():
        return skipped_cell(xmat, spec, "no attribute varies in this cell")
    if LIKELIHOODS.get(spec.likelihood).has_sigma and n <= int(keep.sum()) + 1:
        # with as many weights as pairs the fit is exact, sigma -> 0: an improper posterior
        varying, model = int(keep.sum()), spec.likelihood
        reason = f"{n} pairs for {varying} varying attributes: the {model} model needs more"
        return skipped_cell(xmat, spec, reason)
    notes: list[str] = []
    sub = xmat[:, keep]
    draws, rng = _sample(sub, y, spec, seed, notes)
    notes += _diagnostic_notes(draws, spec)
    accuracy = kfold_accuracy(sub, y, spec, rng, draws.approx)
    p_share, p_agree_sub = posterior_predictive_check(
        sub,
        y,
        draws.weight.reshape(-1, sub.shape[1]),
        None if draws.intercept is None else draws.intercept.reshape(-1),
        None if draws.sigma is None else draws.sigma.reshape(-1),
        spec.likelihood,
        rng,
    )
    weight = np.full((*draws.weight.shape[:2], p), np.nan)
    weight[..., keep] = draws.weight
    wide_mean = np.full(p, np.nan)
    if spec.sensitivity_prior is not None:
        wide_mean[keep] = wide_prior_mean(sub, y, spec, draws.approx)
    p_agree = np.full(p, np.nan)
    p_agree[keep] = p_agree_sub
    return CellFit(
        weight=weight,
        intercept=draws.intercept,
        sigma=draws.sigma,
        method=draws.method,
        n=n,
        rhat_max=float(draws.rhat),
        ess_bulk_min=float(draws.ess),
        divergences=int(draws.divergences),
        pareto_k=float(draws.pareto_k),
        accuracy=accuracy,
        ppc_p_share=p_share,
        ppc_p_agree=p_agree,
        seconds=time.perf_counter() - start,
        n_nonzero=np.count_nonzero(xmat, axis=0).astype(np.int64),
        wide_mean=wide_mean,
        notes=notes,
        dropped={names[j]: why for j, why in constant.items()},
    )


#: Environment variable: how many processes fit cells when ``workers`` is not given.
#: Results do not depend on it.
WORKERS_ENV = "PREFDISSECT_WORKERS"


def default_workers() -> int:
    """Processes for :func:`fit_table`: ``$PREFDISSECT_WORKERS``, else 1 (opt-in: forked
    workers pay off on an idle multi-core machine, and only compete on a busy one)."""
    value = os.environ.get(WORKERS_ENV, "").strip()
    if not value:
        return 1
    try:
        return max(1, int(value))
    except ValueError:
        raise InputError(f"{WORKERS_ENV} must be a whole number, not {value!r}") from None


def _fit_or_skip(
    judge: str, group: str, xmat: np.ndarray, y: np.ndarray, spec: FitSpec, attributes: list[str]
) -> CellFit:
    """One cell: fitted with its own seed (:func:`cell_seed`), or skipped when too small."""
    from preference_dissect.fit.controls import control_factors, rescale_cell

    if len(y) < spec.min_group_size:
        reason = f"{len(y)} pairs, fewer than the minimum group size {spec.min_group_size}"
        return skipped_cell(xmat, spec, reason)
    seed, factors = cell_seed(spec.seed, judge, group), control_factors(spec, attributes)
    if factors is None:
        return fit_cell(xmat, y, spec, seed, attributes)
    return rescale_cell(fit_cell(xmat * factors, y, spec, seed, attributes), factors)


_WORKER: dict[str, Any] = {}


def _init_worker(func: Callable[..., Any], shared: dict[str, Any]) -> None:
    _WORKER.update(func=func, shared=shared)


def _worker_call(job: tuple) -> Any:
    return _WORKER["func"](*job, **_WORKER["shared"])


def forked_imap(
    func: Callable[..., Any], jobs: list[tuple], workers: int, **shared: Any
) -> Iterator[Any]:
    """``func(*job, **shared)`` for each of ``jobs``, in order, from ``workers`` forked
    processes (Linux; elsewhere, and for one worker, this process). ``shared`` reaches each
    worker once, not with every job."""
    workers = min(workers, len(jobs))
    # forked workers inherit plug-ins registered at run time; fork is safe on Linux only
    if workers <= 1 or not sys.platform.startswith("linux"):
        for job in jobs:
            yield func(*job, **shared)
        return
    context = mp.get_context("fork")
    with context.Pool(workers, initializer=_init_worker, initargs=(func, shared)) as pool:
        yield from pool.imap(_worker_call, jobs, chunksize=1)


def _fitted(
    jobs: list[tuple[str, str, np.ndarray, np.ndarray]],
    spec: FitSpec,
    attributes: list[str],
    workers: int,
) -> Iterator[CellFit]:
    """The fits of ``jobs``, in order, from ``workers`` processes (:func:`forked_imap`).

    Every cell depends only on its rows, the spec and its own seed, so the results are the
    same for any number of processes."""
    yield from forked_imap(_fit_or_skip, jobs, workers, spec=spec, attributes=attributes)


def fit_table(
    table: FeatureTable,
    spec: FitSpec,
    *,
    on_fit: Callable[[str, str, CellFit], None] | None = None,
    done: dict[tuple[str, str], CellFit] | None = None,
    workers: int | None = None,
) -> dict[tuple[str, str], CellFit]:
    """Fit every (judge, group) cell of ``table``.

    Parameters
    ----------
    table : FeatureTable
    spec : FitSpec
    on_fit : callable, optional
        Called after each fit with (judge, group, result), in table order, e.g. to advance a
        progress bar.
    done : dict, optional
        Fits finished earlier (a resumed run): reused instead of refitted.
    workers : int, optional
        Processes that fit cells (default :func:`default_workers`); 1 fits them in this
        process. The results are the same for any number.

    Returns
    -------
    dict
        ``{(judge, group): CellFit}`` in table order; cells with fewer rows than
        ``spec.min_group_size`` (or no varying attribute) are there as skipped cells.
    """
    cells = table.cells()
    results = {key: done[key] for key in cells if done and key in done}
    jobs = [(j, g, xmat, y) for (j, g), (xmat, y) in cells.items() if (j, g) not in results]
    n_workers = default_workers() if workers is None else max(1, int(workers))
    fitted = _fitted(jobs, spec, table.attributes, n_workers)
    try:
        for (judge, group, _, _), cell in zip(jobs, fitted, strict=True):
            results[(judge, group)] = cell
            if on_fit is not None:
                on_fit(judge, group, cell)
    finally:
        fitted.close()  # stops the worker processes, also when on_fit raises
    return {key: results[key] for key in cells}
