"""Stage entry point; see :mod:`benchmarks.analyses`."""

from benchmarks.analyses import run_models
from benchmarks.common import stage_main

if __name__ == "__main__":
    stage_main(run_models)
