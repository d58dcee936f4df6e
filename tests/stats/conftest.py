"""Shared fixtures for the evalkit.stats tests.

Reference datasets live in ``shared/reference/datasets`` beside the repository
(provenance: that folder's README.md).  Set ``EVALKIT_REFERENCE_DIR`` to use
another location.  Tests that need a dataset are skipped, with the reason,
when it cannot be found.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

_REPO = Path(__file__).resolve().parents[2]
_CANDIDATES = [
    Path(os.environ["EVALKIT_REFERENCE_DIR"]) if os.environ.get("EVALKIT_REFERENCE_DIR") else None,
    _REPO.parent / "shared" / "reference" / "datasets",
    Path("/work/shared/reference/datasets"),
]


def _reference_dir() -> Path | None:
    for cand in _CANDIDATES:
        if cand is not None and (cand / "README.md").exists():
            return cand
    return None


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    found = _reference_dir()
    if found is None:
        pytest.skip("reference datasets (shared/reference/datasets) not found; set EVALKIT_REFERENCE_DIR")
    return found


@pytest.fixture(scope="session")
def bcg(reference_dir: Path) -> pd.DataFrame:
    """BCG vaccine trials (Colditz et al., 1994; metafor's dat.bcg) with log risk ratios.

    yi and vi as metafor's ``escalc(measure="RR", ai=tpos, bi=tneg, ci=cpos, di=cneg)``.
    """
    d = pd.read_csv(reference_dir / "meta_dat_bcg.csv")
    n1 = d["tpos"] + d["tneg"]
    n2 = d["cpos"] + d["cneg"]
    d["yi"] = np.log((d["tpos"] / n1) / (d["cpos"] / n2))
    d["vi"] = 1 / d["tpos"] - 1 / n1 + 1 / d["cpos"] - 1 / n2
    return d
