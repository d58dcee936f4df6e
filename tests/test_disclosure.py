"""Disclosure control: known examples and hypothesis properties (threshold, no recovery by subtraction, rounding last)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.disclosure import (
    SUPPRESSED_MARKER,
    Across,
    Partition,
    _mark_suppressed_by_frame,
    apply_disclosure,
    carried_hidden,
    hidden_columns,
    mark_suppressed,
    primary_suppression,
    round_counts,
    secondary_suppression,
    suppress_table,
)
from evalkit.errors import DisclosureWarning
from evalkit.rules import PairingRules

counts_strategy = st.integers(0, 40)
tables = st.integers(1, 5).flatmap(
    lambda r: st.integers(1, 5).flatmap(
        lambda c: st.lists(st.lists(counts_strategy, min_size=c, max_size=c), min_size=r, max_size=r)))


def test_primary_thresholds_and_zero() -> None:
    v = np.array([0, 1, 2, 4, 5, 6, np.nan])
    assert primary_suppression(v).tolist() == [False, True, True, True, False, False, False]
    assert primary_suppression(v, show_zero=False).tolist() == [True, True, True, True, False, False, False]
    assert primary_suppression(v, threshold=10).tolist() == [False, True, True, True, True, True, False]


def test_two_way_table_hand_worked() -> None:
    # a: 2 (hidden) 8 | 10     The 2 forces a second hidden cell in row a (8) and in column x (10);
    # b: 10      9   | 19     hiding 10 in row b then needs 9 hidden too (row b), and column y has 8 and 9
    #    12     17   | 29     hidden: every row and column has 0 or >= 2 hidden cells.
    t = pd.DataFrame({"x": [2, 10], "y": [8, 9]}, index=["a", "b"])
    pub, hid = suppress_table(t)
    assert hid.loc[["a", "b"], ["x", "y"]].to_numpy().all()
    assert pub.loc["Total"].tolist() == [12, 17, 29]
    assert pub.loc["a", "Total"] == 10 and pub.loc["b", "Total"] == 19


def test_partition_and_derived() -> None:
    f = pd.DataFrame({"n_paired": [50, 50], "n_imp": [3, 30], "n_det": [20, 5], "n_none": [27, 15],
                      "pct_imp": [6.0, 60.0], "mean": [1.0, 2.0]})
    out = apply_disclosure(f, counts=["n_paired", "n_imp", "n_det", "n_none"],
                           partitions=[Partition(("n_imp", "n_det", "n_none"), total="n_paired")],
                           derived={"pct_imp": ["n_imp", "n_paired"], "mean": ["n_paired"]})
    # row 0: 3 hidden -> the next smallest (20) hidden too; row 1: nothing small
    assert out["n_imp"].tolist() == [pd.NA, 30] and out["n_det"].tolist() == [pd.NA, 5]
    assert out["n_none"].tolist() == [27, 15]
    assert np.isnan(out["pct_imp"].iloc[0]) and out["pct_imp"].iloc[1] == 60.0
    assert out["suppressed"].tolist() == ["n_imp; n_det; pct_imp", ""]
    marked = mark_suppressed(out)
    assert marked.loc[0, "n_imp"] == SUPPRESSED_MARKER and marked.loc[1, "n_imp"] == "30"


def test_remainder_is_protected() -> None:
    # 48 of 50 recovered: the 2 not recovered could be worked out by subtraction -> 48 is hidden
    f = pd.DataFrame({"n_case": [50], "n_rec": [48]})
    out = apply_disclosure(f, counts=["n_case", "n_rec"], partitions=[Partition(("n_rec",), total="n_case",
                                                                                remainder=True)])
    assert pd.isna(out["n_rec"].iloc[0]) and out["n_case"].iloc[0] == 50


def test_across_rows_with_implicit_total() -> None:
    f = pd.DataFrame({"prog": ["A"] * 3 + ["B"] * 2, "level": ["x", "y", "z", "x", "y"], "n": [3, 10, 12, 20, 30]})
    out = apply_disclosure(f, counts=["n"], across=[Across("n", ("prog",))])
    assert out["n"].tolist() == [pd.NA, pd.NA, 12, 20, 30]


def test_rounding_after_suppression() -> None:
    f = pd.DataFrame({"n": [4, 7, 12, 0]})
    out = apply_disclosure(f, counts=["n"], rounding_base=5)
    # 4 is hidden although it would round to 5; 7 -> 5; 12 -> 10; 0 stays 0
    assert out["n"].tolist() == [pd.NA, 5, 10, 0]
    assert "rounded to the nearest 5" in out.attrs["disclosure"]
    assert round_counts(np.array([2.5, 7.5]), 5).tolist() == [5.0, 10.0]


def test_rules_object_is_used() -> None:
    f = pd.DataFrame({"n": [6, 12]})
    out = apply_disclosure(f, counts=["n"], rules=PairingRules(suppression_threshold=10, rounding_base=5))
    assert out["n"].tolist() == [pd.NA, 10]
    with pytest.raises(ValueError, match="threshold"):
        apply_disclosure(f, counts=["n"], threshold=0)
    with pytest.raises(ValueError, match="not in the frame"):
        apply_disclosure(f, counts=["m"])


def _check_table(values: list[list[int]], threshold: int, show_zero: bool, base: int | None) -> None:
    t = pd.DataFrame(values, columns=[f"c{j}" for j in range(len(values[0]))])
    pub, hid = suppress_table(t, threshold=threshold, show_zero=show_zero, rounding_base=base)
    _, hid_unrounded = suppress_table(t, threshold=threshold, show_zero=show_zero, rounding_base=False)
    full = t.copy()
    full["Total"] = t.sum(axis=1)
    full.loc["Total"] = full.sum(axis=0)
    raw = full.to_numpy(dtype=float)
    h = hid.to_numpy()
    p = pub.to_numpy(dtype=float, na_value=np.nan)
    # 1. no published count below the threshold (zeros allowed only when show_zero)
    shown = raw[~h]
    assert not ((shown > 0) & (shown < threshold)).any()
    if not show_zero:
        assert not ((shown == 0) & (threshold > 0)).any()
    # 2. every row and column with a published total has 0 or >= 2 hidden cells (no recovery by subtraction)
    nr, nc = raw.shape
    for i in range(nr):
        if not h[i, nc - 1]:
            assert h[i, : nc - 1].sum() != 1
    for j in range(nc):
        if not h[nr - 1, j]:
            assert h[: nr - 1, j].sum() != 1
    # 3. rounding after suppression: the same cells are hidden with or without rounding, and published
    #    values are the rounded true values
    assert (h == hid_unrounded.to_numpy()).all()
    if base:
        assert np.allclose(p[~h], np.floor(raw[~h] / base + 0.5) * base)
        assert (p[~h] % base == 0).all()
    else:
        assert np.allclose(p[~h], raw[~h])


@settings(max_examples=150, deadline=None)
@given(tables, st.integers(2, 10), st.booleans(), st.sampled_from([None, 3, 5, 10]))
def test_table_properties(values, threshold, show_zero, base) -> None:
    _check_table(values, threshold, show_zero, base)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(counts_strategy, min_size=2, max_size=6), min_size=1, max_size=8), st.integers(2, 8))
def test_partition_properties(rows, threshold) -> None:
    width = min(len(r) for r in rows)
    rows = [r[:width] for r in rows]
    f = pd.DataFrame(rows, columns=[f"m{j}" for j in range(width)])
    members = [f"m{j}" for j in range(width)]
    f["total"] = f[members].sum(axis=1)
    f["grp"] = np.arange(len(f)) % 2
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", DisclosureWarning)
        out = apply_disclosure(f, counts=[*members, "total"], partitions=[Partition(tuple(members), total="total")],
                               across=[Across(m, ("grp",)) for m in members], threshold=threshold)
    warned = any(issubclass(w.category, DisclosureWarning) for w in caught)
    hidden = out[members].isna().to_numpy()
    raw = f[members].to_numpy()
    shown = raw[~hidden]
    assert not ((shown > 0) & (shown < threshold)).any()
    total_shown = out["total"].notna().to_numpy()
    # within each row whose total is shown, never exactly one hidden member
    assert not ((hidden.sum(axis=1) == 1) & total_shown).any()
    # a published 0 in a row whose published total is 0 is known: hiding it would protect nothing
    known_zero = (raw == 0) & (total_shown & (f["total"].to_numpy() == 0))[:, None]
    assert not (known_zero & hidden).any()
    # across rows of a group (implicit total), never exactly one hidden member per column, unless the others
    # are all known zeros, and then it says so
    for g in (0, 1):
        sel = f["grp"].to_numpy() == g
        if sel.sum() > 1:
            lone = hidden[sel].sum(axis=0) == 1
            others_known = (known_zero[sel] | hidden[sel]).all(axis=0)
            assert not (lone & ~others_known).any()
            assert warned or not lone.any()


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=2, max_size=8), st.integers(2, 8))
def test_secondary_low_level(values, threshold) -> None:
    v = np.array([*values, sum(values)], dtype=float)
    k = len(values)
    sup = secondary_suppression(v, primary_suppression(v, threshold=threshold), np.zeros(k, dtype=int),
                                np.arange(k), np.array([k]))
    if not sup[k]:
        assert sup[:k].sum() != 1


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 50) | st.none(), st.sets(st.sampled_from(["n", "n_x", "pct (x)", "gone"]),
                                                                   max_size=3)), max_size=10),
       st.booleans())
def test_mark_suppressed_hides_exactly_the_named_cells(rows: list, repeated_index: bool) -> None:
    f = pd.DataFrame({"n": pd.array([r[0] for r in rows], dtype="Int64"), "n_x": [1.5] * len(rows),
                      "pct (x)": ["t"] * len(rows),
                      "suppressed": pd.array(["; ".join(sorted(r[1])) for r in rows], dtype="string")})
    if repeated_index:
        f.index = [7] * len(f)
    f.attrs = {"disclosure": "note"}
    marked = mark_suppressed(f)
    assert list(marked.columns) == ["n", "n_x", "pct (x)"] and marked.attrs == {"disclosure": "note"}
    plain = f.drop(columns="suppressed").astype("string").fillna("")
    for i, (_, hidden) in enumerate(rows):
        for c in marked.columns:  # "n" is not hidden when only "n_x" is named
            assert marked[c].iloc[i] == (SUPPRESSED_MARKER if c in hidden else plain[c].iloc[i])


_COLUMN_KINDS = {  # a column of each kind the library's tables carry, from n values (some missing)
    "float64": lambda v: pd.Series([np.nan if x is None else x / 7 for x in v], dtype="float64"),
    "float_big": lambda v: pd.Series([np.nan if x is None else x * 1e17 - 0.5 for x in v], dtype="float64"),
    "int64": lambda v: pd.Series([0 if x is None else x for x in v], dtype="int64"),
    "Int64": lambda v: pd.array(v, dtype="Int64"),
    "Float64": lambda v: pd.array([None if x is None else x / 3 for x in v], dtype="Float64"),
    "boolean": lambda v: pd.array([None if x is None else x % 2 == 0 for x in v], dtype="boolean"),
    "bool": lambda v: pd.Series([x is None for x in v], dtype=bool),
    "string": lambda v: pd.array([None if x is None else f"t{x}" for x in v], dtype="string"),
    "str": lambda v: pd.Series([None if x is None else f"s{x}" for x in v], dtype="str"),
    "object": lambda v: pd.Series([None if x is None else (x if x % 2 else f"o{x}") for x in v], dtype=object),
    "category": lambda v: pd.Categorical([None if x is None else f"c{x % 3}" for x in v]),
    "datetime": lambda v: pd.Series([pd.NaT if x is None else pd.Timestamp("2024-01-01") + pd.Timedelta(days=x)
                                     for x in v], dtype="datetime64[ns]"),
    "timedelta": lambda v: pd.Series([pd.NaT if x is None else pd.Timedelta(hours=x) for x in v],
                                     dtype="timedelta64[ns]"),
}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(sorted(_COLUMN_KINDS)), min_size=0, max_size=6),
       st.lists(st.tuples(st.integers(0, 50) | st.none(), st.sets(st.integers(0, 7), max_size=3)), max_size=8),
       st.sampled_from(["none", "string", "object", "str"]), st.booleans())
def test_mark_suppressed_converts_column_by_column_as_the_frame_conversion_did(
        kinds: list, rows: list, suppressed: str, repeated_index: bool) -> None:
    # the column-by-column conversion (the fast path) against the conversion through the whole frame (the path
    # before it, kept for frames whose column names repeat): same text, dtypes, columns, index and attrs
    values = [r[0] for r in rows]
    f = pd.DataFrame({f"{k} {i}": pd.Series(_COLUMN_KINDS[k](values)).to_numpy() if k in ("bool", "int64")
                      else _COLUMN_KINDS[k](values) for i, k in enumerate(kinds)}, index=range(len(rows)))
    names = [*f.columns, "gone"]
    if suppressed != "none":  # rows naming columns by position (7 names none of them, or "gone")
        text = ["; ".join(names[j] if j < len(names) else "nothing" for j in sorted(r[1])) for r in rows]
        f["suppressed"] = pd.Series(text, dtype=suppressed) if suppressed != "string" else pd.array(text,
                                                                                                     dtype="string")
        if len(f):
            f.loc[f.index[0], "suppressed"] = None
    if repeated_index:
        f.index = [7] * len(f)
    f.attrs = {"rules": "the rules", "disclosure": ["a", "list"]}
    fast, general = mark_suppressed(f), _mark_suppressed_by_frame(f)
    pd.testing.assert_frame_equal(fast, general, check_exact=True, check_index_type=True, check_column_type=True)
    assert fast.attrs == general.attrs == f.attrs
    assert [type(c.array) for _, c in fast.items()] == [type(c.array) for _, c in general.items()]


def test_mark_suppressed_with_repeated_column_names_takes_the_frame_path() -> None:
    f = pd.DataFrame([[1.5, 2, "n"], [None, 3, ""]], columns=["n", "n", "suppressed"])
    marked = mark_suppressed(f)
    assert list(marked.columns) == ["n", "n"]
    assert marked.iloc[0].tolist() == [SUPPRESSED_MARKER, SUPPRESSED_MARKER]
    assert marked.iloc[1].tolist() == ["", "3"]


def test_carried_hidden_lists_a_figure_made_from_several_columns_where_any_is_hidden() -> None:
    # a rate made from a numerator and a denominator is hidden with either; one source stays as before
    rows = pd.DataFrame({"took": [None, 7, None, 9], "referred": [12, None, None, 20],
                         "suppressed": ["took", "referred", "took; referred", ""]})
    names = carried_hidden(rows, {"n_referred": "referred", "n_took": "took", "pct": ("took", "referred")})
    assert names.tolist() == ["n_took; pct", "n_referred; pct", "n_referred; n_took; pct", ""]
    assert carried_hidden(rows, {"pct": ["referred"]}).tolist() == ["", "pct", "pct", ""]
    assert carried_hidden(rows, {"pct": ()}).tolist() == ["", "", "", ""]


def test_mark_suppressed_reads_the_names_as_hidden_columns_reads_them() -> None:
    """The table and a single cell (``hidden_columns``, as the dashboard's metrics read it) agree on what is hidden,
    whatever the white space around the ``;`` between the names."""
    frame = pd.DataFrame({"n": [None, None, 7.0], "pct": [None, 3.0, None],
                          "suppressed": ["n;pct", " n ", "pct ;"]})
    shown = mark_suppressed(frame)
    for i, row in enumerate(frame.to_dict("records")):
        hidden = hidden_columns(row)
        assert {c for c in ("n", "pct") if shown.loc[i, c] == SUPPRESSED_MARKER} == hidden
    assert shown["n"].tolist() == [SUPPRESSED_MARKER, SUPPRESSED_MARKER, "7.0"]
