"""The outcome summary's change estimates by method (completers, mixed model, multiple imputation), one row each."""

from __future__ import annotations

import numpy as np
import pandas as pd

from evalkit.change_methods import change_by_method
from evalkit.disclosure import carried_hidden

NAN = float("nan")


def _summary() -> pd.DataFrame:
    """Two programmes; B's mixed-model estimate and its n are hidden, A's imputation was not estimable."""
    return pd.DataFrame({
        "programme_id": ["A", "B"], "instrument": "epds",
        "mean_change": [-3.0, -2.0], "ci_low": [-4.0, -3.5], "ci_high": [-2.0, -0.5],
        "n_paired": pd.array([30, 12], dtype="Int64"),
        "mm_change": [-3.2, NAN], "mm_ci_low": [-4.1, NAN], "mm_ci_high": [-2.3, NAN],
        "mm_n_participants": pd.array([40, pd.NA], dtype="Int64"),
        "mi_mean_change": [NAN, -1.8], "mi_ci_low": [NAN, -3.0], "mi_ci_high": [NAN, -0.6],
        "mi_n": pd.array([40, 16], dtype="Int64"),
        "suppressed": ["", "mm_n_participants; mm_change; mm_ci_low; mm_ci_high"],
    })


def test_one_row_per_method_and_programme_with_the_summary_cells() -> None:
    long = change_by_method(_summary())
    assert long.columns.tolist() == ["programme_id", "method", "estimate", "ci_low", "ci_high", "n", "suppressed"]
    assert long["programme_id"].tolist() == ["A"] * 3 + ["B"] * 3
    assert long["method"].tolist() == ["completers", "mixed model", "multiple imputation"] * 2
    np.testing.assert_array_equal(long["estimate"].to_numpy(dtype=float), [-3.0, -3.2, NAN, -2.0, NAN, -1.8])
    np.testing.assert_array_equal(long["ci_high"].to_numpy(dtype=float), [-2.0, -2.3, NAN, -0.5, NAN, -0.6])
    assert long["n"].isna().tolist() == [False, False, False, False, True, False]
    assert long["n"].dropna().tolist() == [30, 40, 40, 12, 16]
    # hidden (named in the summary's suppressed column) versus not estimable (missing, not named)
    assert long["suppressed"].tolist() == ["", "", "", "", "estimate; n", ""]


def test_models_not_fitted_leave_their_methods_out_and_words_can_be_given() -> None:
    completers = _summary()[["programme_id", "mean_change", "ci_low", "ci_high", "n_paired", "suppressed"]]
    long = change_by_method(completers, words={"completers": "Completers (paired scores)"})
    assert long["method"].tolist() == ["Completers (paired scores)"] * 2


def test_an_interval_is_not_shown_beside_a_hidden_estimate() -> None:
    s = _summary().assign(suppressed=["mean_change", ""])  # a summary that hid the estimate but not its bounds
    long = change_by_method(s)
    first = long.iloc[0]
    assert np.isnan(first["ci_low"]) and np.isnan(first["ci_high"]) and first["suppressed"] == "estimate"


def test_carried_hidden_names_the_new_columns_whose_sources_were_hidden() -> None:
    rows = pd.DataFrame({"a": [1, None, None], "b": [None, 2, None], "suppressed": ["b", "a", "a; b"]})
    assert carried_hidden(rows, {"x": "a", "y": "b"}).tolist() == ["y", "x", "x; y"]
