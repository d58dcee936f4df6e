"""Table rows as JSON for the CLI's ``--format json`` outputs."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """One dict per row, ready for :func:`json.dumps`.

    NumPy scalars become Python numbers and booleans, missing values (NaN,
    ``<NA>``, NaT) become ``None``, dates become ``YYYY-MM-DD`` text.

    Examples
    --------
    >>> json_records(pd.DataFrame({"n": pd.array([3, None], dtype="Int64"), "d": pd.to_datetime(["2024-01-02", None])}))
    [{'n': 3, 'd': '2024-01-02'}, {'n': None, 'd': None}]
    """
    out = frame.copy(deep=False)
    for c in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[c].dtype):
            out[c] = out[c].dt.strftime("%Y-%m-%d")
    records = out.astype(object).where(out.notna(), None).to_dict(orient="records")
    for r in records:  # one pass over the (few) rows of a summary table
        for k, v in r.items():
            if isinstance(v, np.bool_):
                r[k] = bool(v)
            elif isinstance(v, np.integer):
                r[k] = int(v)
            elif isinstance(v, np.floating):
                r[k] = None if np.isnan(v) else float(v)
            elif isinstance(v, pd.Timestamp):
                r[k] = v.date().isoformat()
    return records
