"""The outcome statistics' shortcuts give what the pandas operations they stand for give.

change_statistics counts with integer codes in place of text comparisons and merges: the engaged mothers'
programmes, ids and instruments coded together (:func:`evalkit.outcomes._codes`, once per programme x
instrument group), the unpaired reasons and the reliable-recovery category compared by their categories'
codes (:func:`evalkit.outcomes._is_each`), the groups of engaged mothers with no episode found from the keys'
codes (:func:`evalkit.outcomes._rows_in`), and the nullable booleans read without casts
(:func:`evalkit.outcomes._bool`); recovery_classification reads the roles by their categories
(:func:`evalkit.recovery._role_in`). Each is checked against the operation it replaced, on keys with missing
values, several dtypes and categories that are not used.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.outcomes import _bool, _codes, _is_each, _rows_in

TEXT = ["a", "b", "c", "recovered", None]
DTYPES = ["string", "str", "object", "category"]


def _column(values: list[str | None], dtype: str) -> pd.Series:
    if dtype == "category":
        # categories beyond the values, and in another order, as the episodes' categoricals have them
        return pd.Series(pd.Categorical(values, categories=["recovered", "c", "b", "a", "unused"]))
    return pd.Series(values, dtype=dtype)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.sampled_from(TEXT), max_size=30), dtype=st.sampled_from(DTYPES))
def test_is_each_is_the_text_comparison(values: list[str | None], dtype: str) -> None:
    col = _column(values, dtype)
    wanted = ["a", "recovered", "unused", "zzz"]
    got = _is_each(col, wanted)
    for v, mask in zip(wanted, got, strict=True):
        expected = (col.astype("string") == v).fillna(False).to_numpy(dtype=bool)
        assert mask.dtype == bool
        np.testing.assert_array_equal(mask, expected)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.sampled_from([True, False, None]), max_size=30),
       dtype=st.sampled_from(["boolean", "bool", "object"]))
def test_bool_is_missing_as_false(values: list[bool | None], dtype: str) -> None:
    if dtype == "bool":
        values = [bool(v) for v in values]
    s = pd.Series(values, dtype=dtype, name="flag", index=np.arange(len(values)) * 2)
    expected = s.astype("boolean").fillna(False).astype(bool)
    pd.testing.assert_series_equal(_bool(s), expected)


@settings(max_examples=150, deadline=None)
@given(a=st.lists(st.sampled_from(TEXT), max_size=20), b=st.lists(st.sampled_from(TEXT), max_size=20),
       dtype_a=st.sampled_from(DTYPES[:3]), dtype_b=st.sampled_from(DTYPES[:3]))
def test_codes_group_as_the_object_factorisation(a: list[str | None], b: list[str | None], dtype_a: str,
                                                 dtype_b: str) -> None:
    left, right = pd.Series(a, dtype=dtype_a), pd.Series(b, dtype=dtype_b, index=np.arange(len(b)) + 7)
    codes, values = _codes(left, right)
    old_codes, old_values = pd.factorize(np.concatenate([left.to_numpy(dtype=object), right.to_numpy(dtype=object)]),
                                         use_na_sentinel=False)
    assert len(values) == len(old_values)
    # the same partition of the values (each code one old code, and the other way round)
    pairs = set(zip(codes.tolist(), old_codes.tolist(), strict=True))
    assert len(pairs) == len({c for c, _ in pairs}) == len({o for _, o in pairs})


KEYS = st.lists(st.tuples(st.sampled_from(["P1", "P2", None]), st.sampled_from(["epds", "phq9", None]),
                          st.sampled_from([1, 2, 3])), max_size=12)


@settings(max_examples=200, deadline=None)
@given(left=KEYS, right=KEYS, dtype=st.sampled_from(DTYPES[:3]))
def test_rows_in_is_the_left_merge_indicator(left: list[tuple], right: list[tuple], dtype: str) -> None:
    by = ["programme_id", "instrument", "level"]

    def frame(rows: list[tuple]) -> pd.DataFrame:
        f = pd.DataFrame(rows, columns=by).drop_duplicates().reset_index(drop=True)
        return f.astype({"programme_id": dtype, "instrument": dtype, "level": "int64"})

    engaged, out = frame(left), frame(right)
    engaged["n_engaged"] = np.arange(len(engaged))
    expected = engaged.merge(out[by], on=by, how="left", indicator=True)["_merge"].to_numpy() == "both"
    np.testing.assert_array_equal(_rows_in(engaged, out, by), expected)


@settings(max_examples=150, deadline=None)
@given(values=st.lists(st.sampled_from(["symptom", "wellbeing", "recovery", None]), max_size=30),
       dtype=st.sampled_from(["string", "object", "category", "empty category"]))
def test_role_in_is_the_text_isin(values: list[str | None], dtype: str) -> None:
    from evalkit.recovery import _role_in

    if dtype == "empty category":  # no role known: every code is -1
        role = pd.Series(pd.Categorical([None] * len(values), categories=pd.Index([], dtype="string")))
    elif dtype == "category":
        role = pd.Series(pd.Categorical(values, categories=["wellbeing", "other", "symptom", "recovery"]))
    else:
        role = pd.Series(values, dtype=dtype)
    for roles in (("symptom",), ("wellbeing", "recovery")):
        expected = role.astype("string").isin(roles).fillna(False).to_numpy(dtype=bool)
        np.testing.assert_array_equal(_role_in(role, roles), expected)
