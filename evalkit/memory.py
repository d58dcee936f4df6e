"""Where Arrow allocates from, and giving freed memory back to the operating system between large steps.

Freed arrays stay inside glibc's heaps (one per thread that allocated) and
inside Arrow's memory pool, which keep the pages for later; at a million
participants that is hundreds of MB of resident memory that no live object
uses. :func:`release_freed_memory` hands it back.

Importing this module sets two process-wide choices of how memory is allocated,
each unless an environment variable already makes it: the C library's
``malloc`` becomes Arrow's default memory pool (:func:`use_c_allocator`;
``ARROW_DEFAULT_MEMORY_POOL``), and numpy stops advising the kernel to back
large arrays with transparent huge pages (:func:`stop_numpy_huge_pages`;
``NUMPY_MADVISE_HUGEPAGE``). Every module that reads, validates, scores or
summarises data imports it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable

import pyarrow as pa

__all__ = ["release_freed_memory", "stop_numpy_huge_pages", "use_c_allocator"]


def _find_malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim`` (None on other systems and C libraries, e.g. musl)."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or None).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


_MALLOC_TRIM = _find_malloc_trim()


TRIM_ABOVE_BYTES = 1 << 30
"""Resident size above which :func:`release_freed_memory` trims glibc's heaps (below it, the pages kept are
few and a trim costs more time in later page faults than it saves)."""


def _resident_bytes() -> int | None:
    """The process's resident memory (Linux ``/proc/self/statm``), or None where it cannot be read."""
    try:
        with open("/proc/self/statm", "rb") as fh:
            return int(fh.read().split()[1]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def _page_size() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return 4096


_PAGE = _page_size()


def release_freed_memory() -> None:
    """Return the memory that finished steps freed: Arrow's pools, then every glibc heap (``malloc_trim(0)``).

    Only while the process holds more than :data:`TRIM_ABOVE_BYTES` (at a million participants, not for a
    dashboard's few thousand): below it the pages kept are few, and each release costs more time in later
    page faults than it saves. The threshold covers Arrow's pools too, because releasing the system pool
    trims glibc's heaps itself. The explicit trim is skipped where glibc's ``malloc_trim`` is not available.
    """
    if (_resident_bytes() or 0) <= TRIM_ABOVE_BYTES:
        return
    pa.default_memory_pool().release_unused()
    pa.system_memory_pool().release_unused()
    if _MALLOC_TRIM is not None:
        _MALLOC_TRIM(0)


def use_c_allocator() -> bool:
    """Make the C library's ``malloc`` (Arrow's system pool) Arrow's default memory pool for this process.

    Arrow's own default is mimalloc. At a million participants, validation spends most of its time in
    Arrow and numpy operations on columns of 3 to 9 million rows, and with mimalloc the process spent more
    system time than user time: one validation of the 1M benchmark files took 11.1 s (4.8 s user, 6.3 s
    system) with mimalloc and 7.2 s (4.6 s user, 2.6 s system) with the system pool, and the benchmark's
    validation peak fell from 3.44 to 3.19 GB (``benchmarks/HISTORY.md``).
    pandas-only code already allocates from ``malloc``; so does evalkit's CSV parser.

    Returns
    -------
    bool
        ``True`` if the pool was set; ``False`` when ``ARROW_DEFAULT_MEMORY_POOL`` names a pool (the
        user's choice is kept) or the system pool cannot be set.
    """
    if os.environ.get("ARROW_DEFAULT_MEMORY_POOL"):
        return False
    try:
        pa.set_memory_pool(pa.system_memory_pool())
    except (pa.ArrowException, NotImplementedError):
        return False
    return True


def stop_numpy_huge_pages() -> bool:
    """Stop numpy advising the kernel to back new arrays of 4 MB and more with transparent huge pages.

    numpy calls ``madvise(MADV_HUGEPAGE)`` on each large array it allocates (numpy's "madvise hugepage"
    global state, normally set at import from ``NUMPY_MADVISE_HUGEPAGE``). Where the kernel's transparent
    huge pages are in ``madvise`` mode (as on the benchmark machine), the kernel then allocates and zeroes
    2 MB pages on first touch (``perf``: 45% of one 1M validation's samples). At a million participants,
    validation allocates and frees columns of 3 to 9 million rows many times over: on the benchmark
    machine one validation of the 1M files spent 4.4-4.6 s of system time with the advice and 2.0 s
    without, and took 9.1-9.8 s against 6.4-6.7 s (two runs each; reading took as long, scoring about
    0.2 s longer). With the kernel's setting ``always`` or ``never`` the advice changes nothing.

    Returns
    -------
    bool
        ``True`` if the advice was switched off; ``False`` when ``NUMPY_MADVISE_HUGEPAGE`` is set (the
        user's choice is kept) or this numpy has no such switch.
    """
    if os.environ.get("NUMPY_MADVISE_HUGEPAGE"):
        return False
    import numpy as np

    # numpy's own switch, documented in its "global state" notes (numpy.core before numpy 2)
    multiarray = (getattr(getattr(np, "_core", None), "multiarray", None)
                  or getattr(getattr(np, "core", None), "multiarray", None))
    switch = getattr(multiarray, "_set_madvise_hugepage", None)
    if switch is None:
        return False
    switch(False)
    return True


use_c_allocator()
stop_numpy_huge_pages()
