"""Cell-level parsing, vectorised over the *distinct* values of a column.

Provider columns repeat the same few values (codes, dates, scores) many times,
so each parser works on ``pd.factorize``'d uniques and spreads the answer back
with one ``take``: a million-row column costs a few distinct parses.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import numpy as np
import pandas as pd

from evalkit.column_mapping import normalise_value

__all__ = ["CellPicker", "clean_cells", "look_up", "on_uniques", "parse_booleans", "parse_codes", "parse_numbers", "full_match"]


def clean_cells(series: pd.Series, missing_values: Iterable[str]) -> pd.Series:
    """Cells as stripped strings, with blanks and the schema's missing values (``NA``, ``n/a``) as missing.

    Any cell type is accepted (numbers from a hand-built frame become their text).
    """
    text = series if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object else series.astype("str")
    stripped = text.str.strip()
    return stripped.where(~stripped.isin(sorted(set(missing_values) | {""})))


def on_uniques(cells: pd.Series, parse: Callable[[pd.Series], np.ndarray], fill: object) -> np.ndarray:
    """Apply ``parse`` (distinct values -> array) to ``cells`` and return one value per row (``fill`` if missing)."""
    codes, uniques = pd.factorize(cells, use_na_sentinel=True)
    if len(uniques) == 0:
        sample = parse(pd.Series(["0"], dtype="str"))
        return np.full(len(cells), fill, dtype=sample.dtype if sample.dtype != object else object)
    parsed = np.asarray(parse(pd.Series(uniques, dtype="str")))
    out = parsed[np.maximum(codes, 0)]
    if (codes < 0).any():
        out = out.astype(object) if parsed.dtype.kind in "OUSb" and fill is None else out.copy()
        out[codes < 0] = fill
    return out


def parse_numbers(cells: pd.Series) -> np.ndarray:
    """Numbers as float64; missing cells and text that is not a finite number are NaN."""

    def parse(u: pd.Series) -> np.ndarray:
        x = np.array(pd.to_numeric(u.astype(object), errors="coerce").to_numpy(dtype="float64", na_value=np.nan))
        x[~np.isfinite(x)] = np.nan
        return x

    return on_uniques(cells, parse, np.nan).astype("float64")


def parse_booleans(cells: pd.Series, true_values: Iterable[str], false_values: Iterable[str]) -> np.ndarray:
    """1.0 for a true value, 0.0 for a false value (case ignored), NaN otherwise (missing or not a yes/no)."""
    lookup = {str(v).casefold(): 1.0 for v in true_values}
    lookup.update({str(v).casefold(): 0.0 for v in false_values})

    def parse(u: pd.Series) -> np.ndarray:
        return u.str.casefold().map(lookup).to_numpy(dtype="float64", na_value=np.nan)

    return on_uniques(cells, parse, np.nan).astype("float64")


def parse_codes(cells: pd.Series, codes: Mapping[str, str]) -> np.ndarray:
    """Canonical code for each cell: matches a code or its label ignoring case and punctuation; else None."""
    lookup: dict[str, str] = {}
    for code, label in codes.items():
        lookup.setdefault(normalise_value(label), code)
    for code in codes:
        lookup[normalise_value(code)] = code

    def parse(u: pd.Series) -> np.ndarray:
        folded = u.str.casefold().str.replace(r"[\W_]+", " ", regex=True).str.strip()
        return folded.map(lookup).to_numpy(dtype=object, na_value=None)

    return on_uniques(cells, parse, None)


def full_match(cells: pd.Series, pattern: str) -> np.ndarray:
    """True where the cell matches ``pattern`` entirely (missing cells count as matching)."""

    def parse(u: pd.Series) -> np.ndarray:
        return u.str.fullmatch(pattern).fillna(False).to_numpy(dtype=bool)

    return on_uniques(cells, parse, True).astype(bool)


def look_up(keys: pd.Series | np.ndarray, table: pd.Series) -> np.ndarray:
    """``table``'s value for each key (missing where the key is not in its index); works when either is empty."""
    table = table[~table.index.duplicated()]
    return table.reindex(pd.Index(np.asarray(keys, dtype=object))).to_numpy()


class CellPicker:
    """The cells of a column as text, converted only for the rows asked for (``picker[mask]``)."""

    def __init__(self, cells: pd.Series) -> None:
        self._cells = cells

    def __getitem__(self, mask: np.ndarray) -> np.ndarray:
        return self._cells[np.asarray(mask)].to_numpy(dtype=object, na_value=None)
