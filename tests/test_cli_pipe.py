"""``evalkit ... | head``: a reader that closes standard output early ends the command quietly (no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit._resources import resource_dir
from evalkit.cli import main

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def summaries(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    folder = tmp_path_factory.mktemp("pipe")
    out = []
    for pid in ("P-GROUP", "P-PHONE"):
        path = folder / f"{pid}.json"
        assert main(["summary", "--data", str(resource_dir("examples/data")), "--programme", pid,
                     "-o", str(path)]) == 0
        out.append(str(path))
    return out


def _closed_reader(argv: list[str]) -> subprocess.CompletedProcess:
    """Run ``python -m evalkit argv`` with standard output a pipe whose reading end is already closed."""
    read, write = os.pipe()
    os.close(read)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    try:
        return subprocess.run([sys.executable, "-m", "evalkit", *argv], stdout=write, stderr=subprocess.PIPE,
                              text=True, env=env, timeout=120, check=False)
    finally:
        os.close(write)


@pytest.mark.parametrize("tail", [["compare", "{0}", "{1}"], ["compare", "{0}", "{1}", "--format", "json"],
                                  ["outcomes", "--data", str(resource_dir("examples/data")), "--no-models"]])
def test_closed_output_pipe_ends_quietly(summaries: list[str], tail: list[str]) -> None:
    proc = _closed_reader([a.format(*summaries) for a in tail])
    assert proc.returncode == 141, (proc.returncode, proc.stderr)  # 128 + SIGPIPE, as other tools report
    for bad in ("Traceback", "internal error", "BrokenPipeError", "Exception ignored"):
        assert bad not in proc.stderr, proc.stderr
