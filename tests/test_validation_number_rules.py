"""A whole-number field's rules (type, minimum, maximum) are checked on the column's distinct cells and spread to
the rows: each row gets what its own cell gets when read alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.validation import validate

_CELL = st.one_of(st.none(), st.sampled_from(["", "3", "03", "10", "1", "0", "-1", "11", "3.5", "4.0", "1e1", "x",
                                              "NA", " 7 ", "inf", "99999999999999999999", "9007199254740993"]))


def _expected(cell: str | None) -> tuple[str | None, float]:
    """The rule a deprivation_decile cell breaks (``None``: none) and its value, read on its own."""
    text = None if cell is None else cell.strip()
    if text in (None, "", "NA"):
        return None, np.nan
    x = pd.to_numeric(pd.Series([text], dtype=object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan)[0]
    if not np.isfinite(x) or np.floor(x) != x or abs(x) > 2**53:
        return "type", np.nan
    if x < 1:
        return "minimum", np.nan
    if x > 10:
        return "maximum", np.nan
    return None, x


@settings(max_examples=60, deadline=None)
@given(cells=st.lists(_CELL, min_size=1, max_size=25), as_read=st.booleans())
def test_each_row_gets_its_own_cells_rules(cells: list[str | None], as_read: bool) -> None:
    n = len(cells)
    decile = pd.Series(cells, dtype="str").astype("category") if as_read else pd.Series(cells, dtype=object)
    frame = pd.DataFrame({"participant_id": [f"A{i}" for i in range(n)], "programme_id": ["P-1"] * n,
                          "referral_date": ["2025-01-01"] * n, "deprivation_decile": decile})
    result = validate({"participants": frame}, today="2026-01-01")
    report = result.report[result.report["column"] == "deprivation_decile"]
    got = dict(zip(report["source_row"].astype(int) - 2, report["rule"], strict=True))
    expected = {i: _expected(c) for i, c in enumerate(cells)}
    assert got == {i: rule for i, (rule, _) in expected.items() if rule is not None}
    kept = result.tables["participants"]
    rows = kept["participant_id"].str[1:].astype(int).to_numpy()
    values = kept["deprivation_decile"].astype("float64").to_numpy(na_value=np.nan)
    np.testing.assert_array_equal(values, np.array([expected[i][1] for i in rows], dtype=np.float64))
