"""evalkit.memory.release_freed_memory: gives freed memory back without touching live data."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import evalkit.memory as memory


def test_release_keeps_live_arrays_and_trims_only_above_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[object] = []

    class Pool:
        def __init__(self, name: str) -> None:
            self.name = name

        def release_unused(self) -> None:  # releasing Arrow's system pool trims glibc's heaps itself
            calls.append(self.name)

    class Arrow:
        default_memory_pool = staticmethod(lambda: Pool("default pool"))
        system_memory_pool = staticmethod(lambda: Pool("system pool"))

    monkeypatch.setattr(memory, "_MALLOC_TRIM", lambda pad: calls.append(pad) or 1)
    monkeypatch.setattr(memory, "pa", Arrow)
    live = np.arange(1_000_000)
    monkeypatch.setattr(memory, "TRIM_ABOVE_BYTES", 10**15)
    memory.release_freed_memory()
    assert calls == []  # a small process: neither Arrow's pools nor the heaps are touched
    monkeypatch.setattr(memory, "TRIM_ABOVE_BYTES", 0)
    memory.release_freed_memory()
    assert calls == ["default pool", "system pool", 0]
    assert live.sum() == 999_999 * 1_000_000 // 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc is Linux's")
def test_resident_size_is_read() -> None:
    resident = memory._resident_bytes()
    assert resident is not None and 10 * 2**20 < resident < 64 * 2**30


_POOL_OF = (
    "import pyarrow as pa, {module}; "
    "print(pa.default_memory_pool().backend_name)"
)


@pytest.mark.parametrize("module", ["evalkit.scoring", "evalkit.validation", "evalkit.readers", "evalkit.outcomes"])
def test_data_modules_make_arrow_allocate_from_malloc(module: str) -> None:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run([sys.executable, "-c", _POOL_OF.format(module=module)], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == "system"


def test_a_pool_chosen_in_the_environment_is_kept() -> None:
    import os
    import subprocess

    import pyarrow as pa

    if "jemalloc" not in pa.supported_memory_backends():
        pytest.skip("this pyarrow build has no jemalloc pool to choose")
    env = {**os.environ, "ARROW_DEFAULT_MEMORY_POOL": "jemalloc"}
    out = subprocess.run([sys.executable, "-c", _POOL_OF.format(module="evalkit.validation")], env=env, check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out == "jemalloc"
    assert memory.use_c_allocator() is (not os.environ.get("ARROW_DEFAULT_MEMORY_POOL"))


_HUGE_PAGES_OF = (
    "import {module}; from numpy._core import multiarray; "
    "print(multiarray._set_madvise_hugepage(True))"
)


@pytest.mark.parametrize("module", ["evalkit.scoring", "evalkit.validation"])
def test_data_modules_stop_numpy_advising_huge_pages(module: str) -> None:
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    run = subprocess.run([sys.executable, "-c", _HUGE_PAGES_OF.format(module=module)], env=env, check=True,
                         capture_output=True, text=True)
    assert run.stdout.strip() == "False"  # the setting before this test switched it back on
    env["NUMPY_MADVISE_HUGEPAGE"] = "1"
    run = subprocess.run([sys.executable, "-c", _HUGE_PAGES_OF.format(module=module)], env=env, check=True,
                         capture_output=True, text=True)
    assert run.stdout.strip() == "True"  # the user's choice kept
