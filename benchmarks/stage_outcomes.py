"""Stage entry point; see :mod:`benchmarks.analyses`."""

from benchmarks.analyses import run_outcomes
from benchmarks.common import stage_main

if __name__ == "__main__":
    stage_main(run_outcomes)
