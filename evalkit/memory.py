"""Giving freed memory back to the operating system between the large steps of a run.

Freed arrays stay inside glibc's heaps (one per thread that allocated) and
inside Arrow's memory pool, which keep the pages for later; at a million
participants that is hundreds of MB of resident memory that no live object
uses. :func:`release_freed_memory` hands it back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
from collections.abc import Callable

import pyarrow as pa

__all__ = ["release_freed_memory"]


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

    The trim runs only when the process holds more than :data:`TRIM_ABOVE_BYTES` (at a million participants,
    not for a dashboard's few thousand); it is skipped where glibc's ``malloc_trim`` is not available.
    """
    pa.default_memory_pool().release_unused()
    pa.system_memory_pool().release_unused()
    if _MALLOC_TRIM is not None and (_resident_bytes() or 0) > TRIM_ABOVE_BYTES:
        _MALLOC_TRIM(0)
