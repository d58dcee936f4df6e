"""One BLAS thread while the longitudinal models are fitted.

numpy and SciPy do their linear algebra in OpenBLAS, which by default runs one thread per core. The mixed model
and multiple imputation (:mod:`evalkit.longitudinal`) make many small calls (one model per programme and
questionnaire, tall and narrow designs, a QR to drop collinear columns), where OpenBLAS's threads cost more in
waking and spinning than they share. On the 2-core benchmark machine (2026-11-27, outputs exactly equal either
way):

* at 10k participants, the outcome summary's models for every questionnaire took 0.16-0.34 s with one thread
  against 0.46-0.70 s wall with two;
* at 100k, ``mixed_model_change`` took 0.85-1.10 s against 1.43-1.86 s, and ``multiple_imputation_change``
  0.18-0.35 s against 0.78-1.01 s.

:func:`one_blas_thread` sets every loaded BLAS library to one thread for the duration of a call, through
threadpoolctl, one call at a time, and puts back what was set before; :func:`on_one_blas_thread`
runs a whole function so (``mixed_model_change`` and ``multiple_imputation_change``).
"""

from __future__ import annotations

import contextlib
import functools
import threading
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

__all__ = ["on_one_blas_thread", "one_blas_thread"]

_P = ParamSpec("_P")
_R = TypeVar("_R")

_LOCK = threading.RLock()
"""One limited call at a time in the process (the dashboard runs sessions in threads); the same thread may nest."""


@functools.cache
def _controller() -> Any:
    """The BLAS libraries numpy and SciPy loaded, found once (threadpoolctl inspects the process's libraries)."""
    import numpy  # noqa: F401 - their BLAS libraries are loaded before they are looked for
    import scipy.linalg  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run the ``with`` block with every BLAS library at one thread, then put back the thread counts found.

    One such block runs at a time in the process: another thread's block waits for it. The limit is set and
    put back by the same thread, so overlapping calls cannot leave the process at one thread. A thread that
    holds threadpoolctl's control of OpenBLAS's thread count (threadpoolctl 3.8 or later; ``with
    threadpool_limits(...)`` around the call, from another thread) keeps it: the block then runs on the threads
    that thread set. BLAS calls made by other
    code meanwhile run on one thread too; their results are the same.
    """
    # as a context, threadpoolctl's limiter also gives up control of OpenBLAS's thread count when it leaves: from
    # threadpoolctl 3.8, with OpenBLAS's own threads (not OpenMP), only the thread in control may change the count
    # and others do nothing (earlier versions let any thread change it; the lock keeps one call at a time)
    with _LOCK, _controller().limit(limits=1, user_api="blas"):
        yield


def on_one_blas_thread(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """``fn`` run inside :func:`one_blas_thread` (a decorator; the name, signature and docstring are kept)."""

    @functools.wraps(fn)
    def run(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with one_blas_thread():
            return fn(*args, **kwargs)

    return run
