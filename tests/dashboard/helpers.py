"""Library calls the page tests compare the dashboard's figures with (same scope, default rules)."""

from __future__ import annotations

import functools

import pandas as pd

from evalkit.access import Scope
from evalkit.rules import PairingRules
from evalkit.store import load_tables, open_store


def library_tables(url: str, scope: Scope | None = None) -> dict[str, pd.DataFrame]:
    """The canonical tables as the dashboard loads them (without the provenance columns)."""
    store = open_store(url)
    try:
        return load_tables(store, scope or Scope.admin(), provenance=False)
    finally:
        store.close()


@functools.cache
def library_outcomes(url: str):  # noqa: ANN201 - evalkit.outcomes.OutcomeResult
    """``evaluate_outcomes`` on the whole database with the default rules (no models), computed once."""
    from evalkit.outcomes import evaluate_outcomes

    return evaluate_outcomes(library_tables(url), rules=PairingRules(), models=False)


def same_values(shown: pd.DataFrame, expected: pd.DataFrame, columns: list[str], key: list[str]) -> None:
    """The shown table holds the library's values in ``columns`` (rows matched by ``key``): counts exactly,
    fractional figures as rounded for reading (two decimals, or three significant digits below 0.1)."""
    a = shown[columns].sort_values(key).reset_index(drop=True)
    b = expected[columns].sort_values(key).reset_index(drop=True)
    assert len(a) == len(b), (len(a), len(b))
    for c in columns:
        left, right = a[c].replace("[c]", None), b[c]  # '[c]': a hidden (suppressed) cell as shown
        if pd.api.types.is_numeric_dtype(right.dtype) and not pd.api.types.is_bool_dtype(right.dtype):
            pd.testing.assert_series_equal(pd.to_numeric(left.astype(object)).astype("float64"),
                                           pd.to_numeric(right.astype(object)).astype("float64"),
                                           check_names=False, check_exact=False,
                                           **({"rtol": 5e-3, "atol": 5e-3} if pd.api.types.is_float_dtype(right.dtype)
                                              else {"rtol": 1e-9}))
        else:
            assert left.astype(str).tolist() == right.astype(str).tolist(), c
