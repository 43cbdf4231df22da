"""One BLAS thread for the numerical work (:func:`single_blas_thread`).

The fits multiply and factorise small matrices (29 x 29, a few hundred rows): a multi-threaded
BLAS only adds synchronisation to them, and with forked fit workers its threads oversubscribe
the cores (measured here: the GAIR-shape fit took 92 s with OpenBLAS's default threads and
two workers, 17 s with one thread each). ``OPENBLAS_NUM_THREADS`` only works when set before
numpy is imported; threadpoolctl sets the limit at run time, and forked workers inherit it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])


def single_blas_thread(func: F) -> F:
    """Decorate ``func`` to run with the BLAS libraries limited to one thread (restored
    afterwards)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=1, user_api="blas"):
            return func(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
