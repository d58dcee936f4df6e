"""Duplicate keys within an upload, and keys already stored.

================================  ===============================================
rule                              what it checks
================================  ===============================================
unique                            a ``unique`` column (every id column) has each
                                  value once in the upload; every duplicate row is
                                  reported (error)
primary_key                       a composite primary key (contacts: participant,
                                  date, kind; measures: participant, instrument,
                                  date) appears once (error, on every duplicate row)
participant_in_two_programmes     one participant id on participants rows of
                                  different programmes (error; replaces ``unique``)
already_stored                    the key is already in the stored tables
                                  (warning: check it is a correction of that row,
                                  not a different person or event given the same id)
================================  ===============================================
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from evalkit.schemas import TableSchema
from evalkit.validation.cells import look_up
from evalkit.validation.problems import ProblemLog, TableRows, quoted, row_list

__all__ = ["check_keys", "key_frame"]


def key_frame(columns: tuple[str, ...], typed: Mapping[str, np.ndarray]) -> pd.DataFrame:
    """The typed key columns as a frame (dates as ``YYYY-MM-DD`` text, so keys compare as values)."""
    out = {}
    for c in columns:
        v = typed[c]
        if np.asarray(v).dtype.kind == "M":
            out[c] = pd.Series(v).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
        else:
            out[c] = pd.Series(v, dtype=object).where(pd.notna(pd.Series(v, dtype=object)), None).to_numpy(dtype=object)
    return pd.DataFrame(out)


def _duplicated(keys: pd.DataFrame) -> np.ndarray:
    """Rows whose key occurs more than once (every one of them), computed on integer codes."""
    if len(keys) == 0:
        return np.zeros(0, dtype=bool)
    codes = np.column_stack([pd.factorize(keys[c].to_numpy(dtype=object))[0] for c in keys.columns])
    return pd.DataFrame(codes).duplicated(keep=False).to_numpy()


def _joined(keys: pd.DataFrame, mask: np.ndarray) -> np.ndarray:
    """The key values of the rows in ``mask`` as text, ``", "``-joined (column-wise, no per-row Python call)."""
    parts = [keys[c].to_numpy(dtype=object)[mask].astype(str).astype(object) for c in keys.columns]
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out


def _other_rows(keys: pd.DataFrame, dup: np.ndarray, source_row: np.ndarray) -> np.ndarray:
    """For each duplicate row, the rows (as the provider numbers them) sharing its key."""
    frame = keys.loc[dup].copy()
    frame["_row"] = source_row[dup]
    grouped = frame.groupby(list(keys.columns), sort=False, dropna=False)["_row"]
    lists = grouped.transform(lambda s: row_list(np.sort(s.to_numpy())))
    return lists.to_numpy(dtype=object)


def check_keys(
    schema: TableSchema,
    typed: Mapping[str, np.ndarray],
    rows: TableRows,
    log: ProblemLog,
    *,
    existing: pd.DataFrame | None,
) -> None:
    """Report duplicate unique values and primary keys, and keys that are already stored."""
    table = schema.name
    n = len(rows.file)
    for spec in schema.fields:
        if not spec.unique:
            continue
        keys = key_frame((spec.name,), typed)
        present = keys[spec.name].notna().to_numpy()
        dup = present & _duplicated(keys)
        if dup.any():
            two_programmes = np.zeros(n, dtype=bool)
            if table == "participants" and spec.name == "participant_id" and "programme_id" in typed:
                progs = pd.Series(typed["programme_id"], dtype=object)
                n_progs = progs[dup].groupby(keys[spec.name][dup].to_numpy()).transform("nunique")
                two_programmes[np.flatnonzero(dup)[n_progs.to_numpy() > 1]] = True
            others = _other_rows(keys, dup, rows.source_row)
            values = keys[spec.name].to_numpy(dtype=object)
            plain = dup & ~two_programmes
            log.add(rows, plain, column=spec.name, rule="unique",
                    detail=quoted(values[plain]) + " appears on more than one row (rows "
                    + others[plain[dup]] + f"); expected each {spec.name} once in the {table} table.",
                    values=values[plain])
            log.add(rows, two_programmes, column=spec.name, rule="participant_in_two_programmes",
                    detail=quoted(values[two_programmes]) + " is listed for different programmes (rows "
                    + others[two_programmes[dup]] + "); one participant id cannot be in two programmes - "
                    "give each referral to a different programme its own id.",
                    values=values[two_programmes])
    pk = schema.primary_key
    if len(pk) > 1 and all(c in typed for c in pk):
        keys = key_frame(pk, typed)
        complete = keys.notna().all(axis=1).to_numpy()
        dup = complete & _duplicated(keys)
        if dup.any():
            others = _other_rows(keys, dup, rows.source_row)
            shown = _joined(keys, dup)
            log.add(rows, dup, column=pk[0], rule="primary_key",
                    detail="this row has the same " + " and ".join(pk) + " (" + shown + ") as other rows (rows "
                    + others + f"); expected each to appear once in the {table} table.",
                    values=keys[pk[0]].to_numpy(dtype=object)[dup])
    if existing is not None and len(existing) and all(c in existing.columns for c in pk) and all(c in typed for c in pk):
        stored = key_frame(pk, {c: _as_typed(existing[c]) for c in pk})
        keys = key_frame(pk, typed)
        complete = keys.notna().all(axis=1).to_numpy()
        found = complete & pd.MultiIndex.from_frame(keys.astype(str)).isin(
            pd.MultiIndex.from_frame(stored.astype(str))
        )
        if table == "participants" and "programme_id" in existing.columns and "programme_id" in typed:
            stored_prog = pd.Series(existing["programme_id"].astype(str).to_numpy(),
                                    index=existing["participant_id"].astype(str).to_numpy())
            stored_prog = stored_prog[~stored_prog.index.duplicated()]
            mine = pd.Series(typed["programme_id"], dtype=object)
            theirs = pd.Series(look_up(keys["participant_id"].astype(str), stored_prog), dtype=object)
            clash = found & mine.notna().to_numpy() & (theirs.to_numpy(dtype=object) != mine.to_numpy(dtype=object))
            values = keys["participant_id"].to_numpy(dtype=object)
            log.add(rows, clash, column="participant_id", rule="participant_in_two_programmes",
                    detail=quoted(values[clash]) + " is already stored in programme " + quoted(theirs.to_numpy(
                        dtype=object)[clash]) + ", not " + quoted(mine.to_numpy(dtype=object)[clash])
                    + "; one participant id cannot be in two programmes - give this referral its own id.",
                    values=values[clash])
            found = found & ~clash
        shown = _joined(keys, found)
        log.add(rows, found, column=pk[0], rule="already_stored", severity="warning",
                detail="a row with the same " + " and ".join(pk) + " (" + shown + ") is already stored; "
                "storing this upload replaces it. Check this is a correction of that row and not a "
                "different one given the same id.",
                values=keys[pk[0]].to_numpy(dtype=object)[found])


def _as_typed(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy(dtype="datetime64[ns]")
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
