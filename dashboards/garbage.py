"""Python's cycle collector in the dashboard's long-running server process.

Besides freeing objects by reference counting, Python's garbage collector now and then walks every container
object the process holds, looking for reference cycles (a full, "generation 2" collection). After its first
page a dashboard process holds about 200,000 such objects, nearly all from the modules it imported (pandas,
Altair, Streamlit, evalkit), which live as long as the process. A full collection then took 0.14-0.17 s at 10k
participants, and one fell inside about half the pages' first views (``gc.callbacks`` timings, 2026-11-27).

:func:`freeze_after_first_run` moves the objects alive after the first complete run into the collector's
permanent generation (:func:`gc.freeze`), which its collections skip. Those objects are still freed by
reference counting as before; only a reference cycle among them, if they are ever dropped, stays in memory.
"""

from __future__ import annotations

import gc
import threading

__all__ = ["freeze_after_first_run", "frozen"]

_LOCK = threading.Lock()
_FROZEN = False


def freeze_after_first_run() -> None:
    """Collect the first run's garbage, then freeze what is left, once per process (later calls do nothing).

    Called by the router at the end of each run; only the first complete run of the process does anything.
    Streamlit runs each session's script in its own thread, hence the lock.
    """
    global _FROZEN
    if _FROZEN:
        return
    with _LOCK:
        if _FROZEN:
            return
        gc.collect()  # the first run's own garbage is freed, not frozen
        gc.freeze()
        _FROZEN = True


def frozen() -> bool:
    """Whether this process has frozen its long-lived objects (:func:`freeze_after_first_run`)."""
    return _FROZEN
