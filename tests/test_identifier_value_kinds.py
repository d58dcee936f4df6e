"""The identifier counts of a column (:func:`evalkit.pseudonymise._value_kinds`) equal those of a plain reference.

The reference strips every cell (as pandas strips pyarrow strings) and matches it in full against every
pattern with Python's ``re``, checking NHS numbers' modulus-11 digit in Python. Columns are drawn as object,
``"string[pyarrow]"``, ``"str"`` and categorical columns (categories that strip alike, unused ones, several
blank ones, missing cells), of identifiers, near misses, padding, blanks and non-ASCII text.
"""

from __future__ import annotations

import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.pseudonymise import (
    _EMAIL,
    _NHS,
    _PHONE,
    _PHONE_WRITTEN,
    _POSTCODE,
    _POSTCODE_SPACED,
    _WS_CODES,
    _value_kinds,
    find_identifiers,
)

_PATTERNS = {"email address": _EMAIL, "postcode": _POSTCODE, "_postcode_spaced": _POSTCODE_SPACED,
             "phone number": _PHONE, "_phone_written": _PHONE_WRITTEN}
_SEEDS = ["jo@example.org", "a@b.co", "x@y", "SW1A 1AA", "sw1a1aa", "M1 1AE", "GIR 0AA", "GIR0AA", "07700 900123",
          "07700900123", "+44 (0)7700 900123", "+447700900123", "0161-496-0000", "943 476 5919", "943-476-5919",
          "9434765919", "9434765918", "0000000000", "1234567881", "2024-01-05", "12.5", "3", "M0001", "Zoë", "٣٣٣",
          "東京 1", "p_0123456789abcdef", ""]
_PADDING = ["", " ", "\t", "\u00a0", "\u3000", "\n", "\x0b", "\x1f", "\u2028"]
_ALPHABET = list("0123456789AaGgIiRrSsWw@._-+() '/é٣") + [chr(c) for c in _WS_CODES]


def _nhs_valid(text: str) -> bool:
    if re.fullmatch(_NHS, text) is None:
        return False
    digits = [int(c) for c in re.sub(r"[\s-]", "", text)]
    check = (11 - sum(d * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11) % 11
    return check != 10 and check == digits[9] and len(set(digits)) > 1


def _reference(col: pd.Series) -> dict[str, int]:
    """Every cell stripped, blanks left out, and the rest matched against every pattern, one by one."""
    cells = col.astype(object).dropna().astype("string[pyarrow]").str.strip().tolist()
    cells = [c for c in cells if c != ""]
    if not cells:
        return {}
    out = {kind: sum(re.fullmatch(p, c) is not None for c in cells) for kind, p in _PATTERNS.items()}
    out["NHS number"] = sum(_nhs_valid(c) for c in cells)
    out["_n"] = len(cells)
    return out


@st.composite
def _values(draw: st.DrawFn) -> str | None:
    kind = draw(st.sampled_from(["seed", "mutated", "random", "missing"]))
    if kind == "missing":
        return None
    if kind == "random":
        return draw(st.text(alphabet=st.sampled_from(_ALPHABET), max_size=14))
    text = draw(st.sampled_from(_SEEDS))
    if kind == "mutated" and text:
        i = draw(st.integers(0, len(text)))
        text = text[:i] + draw(st.sampled_from(_ALPHABET)) + text[i + 1:]
    return draw(st.sampled_from(_PADDING)) + text + draw(st.sampled_from(_PADDING))


@st.composite
def _columns(draw: st.DrawFn) -> pd.Series:
    values = draw(st.lists(_values(), max_size=40))
    dtype = draw(st.sampled_from(["object", "string[pyarrow]", "str", "category", "category of str"]))
    if dtype == "object":
        return pd.Series(values, dtype=object)
    if dtype in ("string[pyarrow]", "str"):
        return pd.Series(values, dtype=dtype)
    unused = draw(st.lists(_values().filter(lambda v: v is not None), max_size=4))
    blanks = draw(st.lists(st.sampled_from(_PADDING[1:]).map(lambda p: p * 2), max_size=7))
    categories = list(dict.fromkeys([v for v in values if v is not None] + unused + blanks))
    col = pd.Series(pd.Categorical(values, categories=categories))
    return col.cat.set_categories(pd.Index(categories, dtype="str")) if dtype == "category of str" else col


@settings(max_examples=400, deadline=None)
@given(_columns())
def test_value_kinds_equal_every_cell_matched_against_every_pattern(col: pd.Series) -> None:
    assert _value_kinds(col) == _reference(col)


@settings(max_examples=100, deadline=None)
@given(_columns())
def test_a_categorical_is_judged_as_its_text(col: pd.Series) -> None:
    """The same cells as a categorical and as strings: the same findings (counts, evidence, rows)."""
    as_text = col.astype(object).astype("str")
    pd.testing.assert_frame_equal(find_identifiers(pd.DataFrame({"notes": col})),
                                  find_identifiers(pd.DataFrame({"notes": as_text})), check_exact=True)


def test_columns_are_found_by_position_whatever_their_labels():
    found = find_identifiers(pd.DataFrame({3: ["a@b.com", "x"], "source_row": ["7", "9"]}))
    assert found[["column", "kind", "rows"]].values.tolist() == [["3", "email address", "row 7"]]
    shared = pd.DataFrame([["x", "a@b.com"], ["y", "c@d.org"]], columns=["note", "note"])
    assert find_identifiers(shared)[["column", "rows"]].values.tolist() == [["note", "rows 2, 3"]]


def test_ingest_still_names_the_refusal_it_raises():
    import importlib

    ingest, pseudonymise = (importlib.import_module(f"evalkit.{name}") for name in ("ingest", "pseudonymise"))
    assert ingest.IdentifierColumnsError is pseudonymise.IdentifierColumnsError
    assert ingest.refuse_identifier_columns is pseudonymise.refuse_identifier_columns
