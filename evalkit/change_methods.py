"""The mean change by the three ways of estimating it, one row per group and method, for drawing side by side.

The outcome summary (:func:`evalkit.outcomes.evaluate_outcomes`) holds, per programme and questionnaire, the
completers' mean change (paired scores only) and, when the models were fitted, the mixed model's (everyone's
scores, :func:`evalkit.longitudinal.mixed_model_change`) and multiple imputation's
(:func:`evalkit.longitudinal.multiple_imputation_change`), each with its interval and its n. The report and the
dashboard draw them together; :func:`change_by_method` lays them out once for both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import numpy as np
import pandas as pd

from evalkit.disclosure import carried_hidden, hidden_masks

__all__ = ["CHANGE_METHODS", "METHOD_WORDS", "change_by_method"]

CHANGE_METHODS: Final[tuple[tuple[str, str, str, str, str], ...]] = (
    ("completers", "mean_change", "ci_low", "ci_high", "n_paired"),
    ("mixed_model", "mm_change", "mm_ci_low", "mm_ci_high", "mm_n_participants"),
    ("multiple_imputation", "mi_mean_change", "mi_ci_low", "mi_ci_high", "mi_n"),
)
"""Each method's code and its outcome-summary columns: estimate, interval bounds, n."""

METHOD_WORDS: Final[Mapping[str, str]] = {
    "completers": "completers", "mixed_model": "mixed model", "multiple_imputation": "multiple imputation",
}
"""The methods in plain words (the default ``method`` values of :func:`change_by_method`)."""


def change_by_method(
    summary: pd.DataFrame,
    *,
    keys: Sequence[str] = ("programme_id",),
    words: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """The summary's change estimates as one row per group x method.

    Rows follow the summary's, each group's methods together in :data:`CHANGE_METHODS` order.

    Parameters
    ----------
    summary
        Rows of the outcome summary (typically one questionnaire's), disclosure-controlled, with its
        ``suppressed`` column.
    keys
        The summary's columns that name each row's group, kept in front.
    words
        Method code -> the words to show for it (missing codes fall back to :data:`METHOD_WORDS`).

    Returns
    -------
    pandas.DataFrame
        ``keys``, ``method`` (words), ``estimate``, ``ci_low``, ``ci_high`` (float), ``n`` (Int64) and
        ``suppressed`` (``"estimate"`` and/or ``"n"`` where disclosure control hid the summary's cell, so that a
        hidden figure shows as hidden, and a missing one not named there as not estimable). The interval is
        missing wherever the estimate is hidden. A method whose estimate column the summary lacks (the models
        were not fitted) is left out (no rows when none is present).
    """
    named = {**METHOD_WORDS, **(words or {})}
    present = [m for m in CHANGE_METHODS if m[1] in summary.columns]
    # the summary's suppressed names read once for every method's estimate and n
    masks = hidden_masks(summary, [c for _, est, _, _, n in present for c in (est, n)])
    parts = []
    for code, est, lo, hi, n in present:
        hidden = masks[est]

        def shown(column: str, hidden: np.ndarray = hidden) -> np.ndarray:
            values = pd.to_numeric(summary[column], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
            return np.where(hidden, np.nan, values)

        part = summary[list(keys)].reset_index(drop=True).assign(
            method=named[code], estimate=shown(est), ci_low=shown(lo), ci_high=shown(hi),
            n=(pd.array(summary[n], dtype="Int64") if n in summary.columns
               else pd.array([pd.NA] * len(summary), dtype="Int64")),
            suppressed=carried_hidden(summary, {"estimate": est, "n": n}, masks=masks))
        parts.append(part)
    if not parts:
        return pd.DataFrame(columns=[*keys, "method", "estimate", "ci_low", "ci_high", "n", "suppressed"])
    return pd.concat(parts).sort_index(kind="stable").reset_index(drop=True)  # each group's methods together
