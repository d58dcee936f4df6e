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
                                  not a different person or event given the same id;
                                  the first 100 rows of a file one by one, then one
                                  line per file with the count of the others)
================================  ===============================================
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.schemas import TableSchema
from evalkit.text_dtype import is_arrow_text
from evalkit.validation.cells import (
    arrow_text,
    category_text,
    codes_in,
    dictionary_codes,
    encode,
    has_text_categories,
    known_codes,
)
from evalkit.validation.problems import ProblemLog, TableRows, quoted

__all__ = ["ALREADY_STORED_LISTED", "check_keys", "key_frame"]

ALREADY_STORED_LISTED = 100
"""Rows of a file listed one by one as ``already_stored``; the rest are counted on one line per file.

A provider re-uploading a whole spreadsheet repeats every stored row: a report
line per row would be as long as the file and say nothing the count does not.
"""


def _text(values: pd.Series | np.ndarray, mask: np.ndarray | None = None) -> np.ndarray:
    """Key values as Python objects (dates as ``YYYY-MM-DD`` text, missing as None), for the rows in ``mask``."""
    if mask is not None:
        values = values[np.asarray(mask)] if isinstance(values, pd.Series) else np.asarray(values)[mask]
    if isinstance(values, pd.Series):
        return values.astype(object).where(values.notna(), None).to_numpy(dtype=object)
    v = np.asarray(values)
    if v.dtype.kind == "M":
        return pd.Series(v).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    obj = pd.Series(v, dtype=object)
    return obj.where(pd.notna(obj), None).to_numpy(dtype=object)


def key_frame(columns: tuple[str, ...], typed: Mapping[str, np.ndarray | pd.Series],
              mask: np.ndarray | None = None) -> pd.DataFrame:
    """The typed key columns (of the rows in ``mask``, default all) as a frame of Python values
    (dates as ``YYYY-MM-DD`` text, so keys compare as values). Built only for the rows a message needs."""
    return pd.DataFrame({c: _text(typed[c], mask) for c in columns})


def _distinct_in_order(values: pd.Series | np.ndarray) -> bool:
    """Whether ``values`` are Arrow text (not made from categories) whose present cells rise strictly, byte by byte
    (ids numbered in file order, ``M000001``, ``M000002``, ...): then no value repeats, and the check of a unique
    column compares each cell with the one before instead of dictionary-encoding the column (at 100k rows, 0.3
    instead of 7 ms). Values made from categories have their codes already (:func:`encode` reads them); any other
    values answer ``False``."""
    if not (isinstance(values, pd.Series) and is_arrow_text(values.dtype)) or known_codes(values) is not None:
        return False
    present = pc.drop_null(arrow_text(values))
    if len(present) < 2:
        return True
    return bool(pc.all(pc.greater(present.slice(1), present.slice(0, len(present) - 1))).as_py())


def _key_codes(columns: tuple[str, ...], typed: Mapping[str, np.ndarray | pd.Series]) -> np.ndarray:
    """One int64 code per row for the composite key (equal keys, equal codes); -1 where any part is missing.

    Each column is encoded on its own (:func:`evalkit.validation.cells.encode`: Arrow dictionary codes,
    categorical codes, date nanoseconds made dense), then the parts are combined arithmetically
    (``code * width + next``), re-factorised only if the product could overflow.
    """
    combined: np.ndarray | None = None
    for c in columns:
        codes = _dense(encode(typed[c]))
        combined = codes if combined is None else _combined(combined, codes)
    assert combined is not None
    return combined


def _combined(combined: np.ndarray, codes: np.ndarray, *, in_place: bool = False) -> np.ndarray:
    """Codes of the key so far and of its next column as one code per row: ``combined * width + codes``
    (``width`` = the next column's largest code + 1), re-factorised first only if the product could
    overflow; -1 where either part is missing.

    With ``in_place`` the result is written into ``combined`` (which the caller must own: not codes kept
    elsewhere, such as :func:`~evalkit.validation.cells.known_codes`), with no temporary array of the rows:
    against a million participants' stored contacts, 21M rows, each temporary is 170 MB.
    """
    missing = combined < 0
    missing |= codes < 0
    width = int(codes.max(initial=0)) + 1
    if (int(combined.max(initial=0)) + 1) * width >= 2**62:
        combined = _dense(pd.factorize(combined)[0].astype(np.int64))
    if in_place:
        combined *= width
        combined += codes
    else:
        combined = combined * width + codes
    combined[missing] = -1
    return combined


def _dense(codes: np.ndarray) -> np.ndarray:
    """Codes below twice the row count (factorised when they are not, e.g. dates); -1 stays -1.

    Codes evenly spaced apart (dates: whole days in nanoseconds) are first brought together by their
    greatest common step, ``(code - smallest) // step``, which keeps equal codes equal and different codes
    different without hashing every row.
    """
    if codes.max(initial=-1) < 2 * len(codes) + 1:
        return codes
    present = codes >= 0
    if present.any():
        values = codes[present] if not present.all() else codes
        low = int(values.min())
        step = int(np.gcd.reduce(values - low))
        if step > 0 and (int(values.max()) - low) // step < 2 * len(codes) + 1:
            out = np.full(len(codes), -1, dtype=np.int64)
            out[present] = (values - low) // step
            return out
    out = pd.factorize(codes)[0].astype(np.int64)
    out[codes < 0] = -1
    return out


def _duplicated_codes(codes: np.ndarray) -> np.ndarray:
    """Rows whose (non-missing) code occurs more than once, every one of them (counted with ``bincount``)."""
    if len(codes) == 0:
        return np.zeros(0, dtype=bool)
    if codes.max(initial=-1) >= 2 * len(codes) + 1:
        # sparse codes (a composite key): the repeated ones found in the sorted codes, then looked up
        present = codes >= 0
        values = codes if present.all() else codes[present]
        if not np.any(values[1:] < values[:-1]):  # in order already (a file sorted by its key): no sort
            return _repeated_neighbours(values, present)
        ordered = np.sort(values, kind="stable" if _roughly_ordered(values) else "quicksort")
        repeated = np.unique(ordered[1:][ordered[1:] == ordered[:-1]])
        if len(repeated) == 0:
            return np.zeros(len(codes), dtype=bool)
        at = np.minimum(np.searchsorted(repeated, codes), len(repeated) - 1)
        return present & (repeated[at] == codes)
    # counted one up, so a missing cell (-1) counts at 0, which is never repeated
    shifted = np.add(codes, 1, dtype=np.intp)
    repeated = np.bincount(shifted) > 1
    repeated[0] = False
    return repeated.take(shifted)


_SAMPLE_STEP = 64
"""Every this many-th code is looked at by :func:`_roughly_ordered`."""


def _roughly_ordered(values: np.ndarray) -> bool:
    """Whether codes are in order at a coarse scale: at most one in eight of every :data:`_SAMPLE_STEP`-th code is
    below the one before it.

    Such codes (a file sorted by its first key column, participant, but not within it) are sorted by NumPy's stable
    sort (timsort, which merges the runs in order) about ten times faster than by its default sort; codes in no
    order are sorted by timsort about a quarter slower, so they keep the default sort. Both sorts give the same
    sorted codes: this chooses the speed only.
    """
    sample = values[::_SAMPLE_STEP]
    return int(np.count_nonzero(sample[1:] < sample[:-1])) <= len(sample) // 8


def _repeated_neighbours(values: np.ndarray, present: np.ndarray) -> np.ndarray:
    """:func:`_duplicated_codes` of codes whose present ones (``values``, the codes where ``present``) are in
    non-decreasing order: a code is repeated exactly when a neighbour holds it too."""
    same = values[1:] == values[:-1]
    repeated = np.zeros(len(values), dtype=bool)
    repeated[1:] = same
    repeated[:-1] |= same
    if len(values) == len(present):
        return repeated
    out = np.zeros(len(present), dtype=bool)
    out[present] = repeated
    return out


def _joined(keys: pd.DataFrame) -> np.ndarray:
    """The key values of each row as text, ``", "``-joined (column-wise, no per-row Python call)."""
    parts = [keys[c].to_numpy(dtype=object).astype(str).astype(object) for c in keys.columns]
    out = parts[0]
    for part in parts[1:]:
        out = out + ", " + part
    return out


def _places(rows: TableRows, mask: np.ndarray) -> np.ndarray | None:
    """Where each row of ``mask`` came from, as words to follow its row number (`` of sheet 'Mums'``), when the
    table was read from more than one file or sheet (row numbers alone would then repeat); else ``None``."""
    if len(rows.group_keys) < 2:
        return None
    pairs = [key.split("|", 1) for key in rows.group_keys]
    several_files = len({f for f, _ in pairs}) > 1
    words = np.array([(f" of '{f}'" if several_files else "") + (f"{',' if several_files else ' of'} sheet '{sh}'"
                                                                if sh else "") for f, sh in pairs], dtype=object)
    return words[rows.group[mask]]


def _other_rows(codes: np.ndarray, source_row: np.ndarray, places: np.ndarray | None = None) -> np.ndarray:
    """For each row, the rows (as the provider numbers them) sharing its key ``codes`` (the duplicates only), each
    followed by its ``places`` (:func:`_places`) when given."""
    if len(codes) == 0:
        return np.empty(0, dtype=object)
    limit = 5  # as row_list: "2, 5, 9, 11, 14 and 3 more"
    order = np.lexsort((source_row, codes))
    key, row = codes[order], np.asarray(source_row)[order]
    start = np.r_[True, key[1:] != key[:-1]]
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    size = np.diff(np.r_[first, len(key)])
    text = pd.Series(row.astype(np.int64)).astype(str).to_numpy(dtype=object)
    if places is not None:
        text = text + places[order]
    listed = text[first]
    for k in range(1, limit):  # the k-th row of each group, where the group has one
        has = size > k
        listed = np.where(has, listed + ", " + text[np.where(has, first + k, first)], listed)
    more = size - limit
    listed = np.where(more > 0, listed + " and " + pd.Series(more).astype(str).to_numpy(dtype=object) + " more",
                      listed)
    out = np.empty(len(key), dtype=object)
    out[order] = listed[group]
    return out


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
        if not spec.unique or _distinct_in_order(typed[spec.name]):
            continue
        codes = encode(typed[spec.name])
        dup = _duplicated_codes(codes)
        if dup.any():
            where = np.flatnonzero(dup)
            values = _text(typed[spec.name], dup)
            two = np.zeros(len(where), dtype=bool)
            if table == "participants" and spec.name == "participant_id" and "programme_id" in typed:
                progs = pd.Series(_text(typed["programme_id"], dup), dtype=object)
                n_progs = progs.groupby(values).transform("nunique")
                two = n_progs.to_numpy() > 1
            two_programmes = np.zeros(n, dtype=bool)
            two_programmes[where[two]] = True
            others = _other_rows(codes[dup], rows.source_row[dup], _places(rows, dup))
            plain = dup & ~two_programmes
            log.add(rows, plain, column=spec.name, rule="unique",
                    detail=quoted(values[~two]) + " appears on more than one row (rows "
                    + others[~two] + f"); expected each {spec.name} once in the {table} table.",
                    values=values[~two])
            log.add(rows, two_programmes, column=spec.name, rule="participant_in_two_programmes",
                    detail=quoted(values[two]) + " is listed for different programmes (rows "
                    + others[two] + "); one participant id cannot be in two programmes - "
                    "give each referral to a different programme its own id.",
                    values=values[two])
    pk = schema.primary_key
    if len(pk) > 1 and all(c in typed for c in pk):
        codes = _key_codes(pk, typed)
        dup = _duplicated_codes(codes)
        if dup.any():
            others = _other_rows(codes[dup], rows.source_row[dup], _places(rows, dup))
            keys = key_frame(pk, typed, dup)
            shown = _joined(keys)
            log.add(rows, dup, column=pk[0], rule="primary_key",
                    detail="this row has the same " + " and ".join(pk) + " (" + shown + ") as other rows (rows "
                    + others + f"); expected each to appear once in the {table} table.",
                    values=keys[pk[0]].to_numpy(dtype=object))
    if existing is not None and len(existing) and all(c in existing.columns for c in pk) and all(c in typed for c in pk):
        found = _stored(pk, typed, existing)
        if table == "participants" and "programme_id" in existing.columns and "programme_id" in typed:
            clash, theirs = _stored_in_other_programme(typed, existing, found)
            ids, mine = _text(typed["participant_id"], clash), _text(typed["programme_id"], clash)
            log.add(rows, clash, column="participant_id", rule="participant_in_two_programmes",
                    detail=quoted(ids) + " is already stored in programme " + quoted(theirs) + ", not "
                    + quoted(mine) + "; one participant id cannot be in two programmes - give this referral its "
                    "own id.",
                    values=ids)
            found = found & ~clash
        listed, more = _listed_per_file(rows, found, ALREADY_STORED_LISTED)
        keys = key_frame(pk, typed, listed)
        shown = _joined(keys)
        log.add(rows, listed, column=pk[0], rule="already_stored", severity="warning",
                detail="a row with the same " + " and ".join(pk) + " (" + shown + ") is already stored; "
                "storing this upload replaces it. Check this is a correction of that row and not a "
                "different one given the same id.",
                values=keys[pk[0]].to_numpy(dtype=object))
        for g, count in more.items():
            log.add_file_level(
                rows, g, np.array([], dtype=np.int64), column=pk[0], rule="already_stored", severity="warning",
                message=(f"{count:,} more rows of this file have a {' and '.join(pk)} that is already stored "
                         f"(the first {ALREADY_STORED_LISTED} are listed one by one). Storing this upload "
                         "replaces those stored rows; rows whose values have not changed are left as they "
                         "are (the upload's summary counts updated and unchanged rows)."))


_FILES_ONE_BY_ONE = 64
"""Up to this many files (and sheets), :func:`_listed_per_file` takes each file's rows in turn."""


def _listed_per_file(rows: TableRows, mask: np.ndarray, limit: int) -> tuple[np.ndarray, dict[int, int]]:
    """The first ``limit`` rows of ``mask`` in each file (a mask), and per file how many more there are.

    Files (and sheets, :attr:`~evalkit.validation.problems.TableRows.group`) are taken one by one when there are
    up to :data:`_FILES_ONE_BY_ONE`: each file's rows of ``mask`` are in row order, so its first ``limit`` are
    those listed. A re-upload has every row already stored, and ranking the rows within their files by a sort
    made seven arrays of the rows (at a million participants' 10.6M contacts, 85 MB each).
    """
    positions = np.flatnonzero(mask)
    distinct = rows.distinct_groups()
    if len(distinct) <= _FILES_ONE_BY_ONE:
        listed = np.zeros(len(mask), dtype=bool)
        more: dict[int, int] = {}
        groups = np.asarray(rows.group)[positions] if len(distinct) > 1 else None
        for g in distinct:
            at = positions if groups is None else positions[groups == g]
            listed[at[:limit]] = True
            if len(at) > limit:
                more[int(g)] = len(at) - limit
        return listed, more
    groups = np.asarray(rows.group)[positions]
    order = np.argsort(groups, kind="stable")
    starts = np.searchsorted(groups[order], groups[order], side="left")
    rank = np.empty(len(positions), dtype=np.int64)
    rank[order] = np.arange(len(positions)) - starts
    listed = np.zeros(len(mask), dtype=bool)
    listed[positions[rank < limit]] = True
    extra_groups, counts = np.unique(groups[rank >= limit], return_counts=True)
    return listed, {int(g): int(c) for g, c in zip(extra_groups, counts, strict=True)}


def _key_text(values: pd.Series | np.ndarray, *, keep_chunks: bool = False) -> pa.Array | pa.ChunkedArray:
    """Key values as Arrow text, as ``astype(str)`` writes them (dates ``YYYY-MM-DD``); missing as null
    (``keep_chunks``: see :func:`~evalkit.validation.cells.arrow_text`)."""
    if isinstance(values, pd.Series) and isinstance(values.dtype, (pd.CategoricalDtype, pd.StringDtype)):
        return arrow_text(values, keep_chunks=keep_chunks)
    v = np.asarray(values)
    if v.dtype.kind == "M":
        text = pd.Series(v).dt.strftime("%Y-%m-%d").astype("str")
    else:
        text = pd.Series(v, dtype=object).astype("str")
    return arrow_text(text)


def _stored(pk: tuple[str, ...], typed: Mapping[str, np.ndarray | pd.Series], existing: pd.DataFrame) -> np.ndarray:
    """Rows with a complete key that equals (as text) the complete key of a stored row.

    Key columns are coded one by one, upload and stored rows alike: text by the upload's distinct texts
    (:func:`_text_codes`), dates by their day; the column codes are then combined into one integer per
    row, so whole keys are compared as integers: the stored keys sorted, the upload's looked up among them
    (:func:`_among`).
    """
    n = len(typed[pk[0]])
    combined: np.ndarray | None = None
    for c in pk:
        stored = _stored_column(existing[c])
        days = _days(typed[c], stored)
        if days is not None:  # dates: equal as text (YYYY-MM-DD) exactly when on the same day; no text made
            codes = _dense(_day_numbers(days))  # days since the first: no hash table
        else:
            codes = _text_codes(typed[c], stored)
        # both arrays are this function's own (made above), so the combining is done in place
        combined = codes if combined is None else _combined(combined, codes, in_place=True)
        del codes
    assert combined is not None
    return _among(combined[:n], combined[n:])


_LOOKUP_CHUNK = 1 << 20
"""Upload keys looked up at a time by :func:`_among` (its positions array is this long, not as long as the upload)."""


def _among(mine: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Whether each of ``mine`` (combined key codes, -1: incomplete) is among ``theirs`` (-1: none).

    ``theirs`` is sorted once and ``mine`` looked up in it by binary search, :data:`_LOOKUP_CHUNK` codes at a time:
    no hash table of either side (at 10.6M contacts a factorised upload and an index of its distinct keys took
    about 0.6 GB at the top of a re-upload's validation, and four times the time).
    """
    stored = np.sort(theirs[theirs >= 0])
    out = np.zeros(len(mine), dtype=bool)
    if len(stored) == 0:
        return out
    for start in range(0, len(mine), _LOOKUP_CHUNK):
        codes = mine[start : start + _LOOKUP_CHUNK]
        at = np.searchsorted(stored, codes)
        np.minimum(at, len(stored) - 1, out=at)
        out[start : start + len(codes)] = (codes >= 0) & (stored[at] == codes)
    return out


def _stored_in_other_programme(typed: Mapping[str, np.ndarray | pd.Series], existing: pd.DataFrame,
                               found: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Upload rows in ``found`` whose participant is stored in another programme, and that programme's text for
    each of them (``None`` if it has none).

    A stored participant's programme is that of its first stored row. Ids and programmes are compared as text
    through the upload's distinct texts (:func:`_text_codes`): a stored text the upload does not have gets code
    -1, so it differs from every upload programme; no Python string is made except for the rows that clash.

    Returns
    -------
    clash : numpy.ndarray
        Boolean mask over the upload's rows (a row with no programme never clashes).
    theirs : numpy.ndarray
        Object array, the stored programme of each row in ``clash``, in row order.
    """
    n = len(found)
    stored_programme = _stored_column(existing["programme_id"])
    people = _text_codes(typed["participant_id"], _stored_column(existing["participant_id"]))
    mine_person, their_person = people[:n], people[n:]
    programmes = _text_codes(typed["programme_id"], stored_programme)
    mine_programme, their_programme = programmes[:n], programmes[n:]
    # the first stored row of each of the upload's distinct ids, in a table whose last entry (-1: none) is what
    # code -1 takes; the stored programmes' codes likewise end with -1 for "no stored row"
    stored_rows = np.flatnonzero(their_person >= 0)
    first = stored_rows[~pd.Series(their_person[stored_rows]).duplicated().to_numpy()]
    first_of = np.full(int(max(mine_person.max(initial=-1), their_person.max(initial=-1))) + 2, -1, dtype=np.int64)
    first_of[their_person[first]] = first
    where = np.flatnonzero(found)
    stored_row = first_of[mine_person[where]]
    theirs_code = np.append(their_programme, -1)[stored_row]
    clashes = (mine_programme[where] >= 0) & (theirs_code != mine_programme[where])
    clash = np.zeros(n, dtype=bool)
    clash[where[clashes]] = True
    at = stored_row[clashes]
    theirs = np.full(len(at), None, dtype=object)
    if (at >= 0).any():
        theirs[at >= 0] = _stored_text_at(stored_programme, at[at >= 0]).to_numpy(zero_copy_only=False)
    return clash, theirs


def _stored_text_at(stored: pd.Series | np.ndarray, rows: np.ndarray) -> pa.Array | pa.ChunkedArray:
    """The text (:func:`_key_text`) of the stored ``rows`` only: a categorical's categories taken by those rows'
    codes, other columns' text taken at those rows."""
    if has_text_categories(stored):
        codes = stored.array.codes[rows]
        return category_text(stored).take(pa.array(codes, mask=codes < 0))
    return _key_text(stored, keep_chunks=True).take(pa.array(rows))


def _stored_column(column: pd.Series) -> pd.Series | np.ndarray:
    """A stored key column as the key comparisons read it: Arrow text, and categoricals of Arrow text (their codes
    and categories read, no text per row), as they are; anything else as typed values."""
    if is_arrow_text(column.dtype) or has_text_categories(column):
        return column
    return _as_typed(column)


def _text_codes(mine: pd.Series | np.ndarray, stored: pd.Series | np.ndarray) -> np.ndarray:
    """Upload then stored key texts as codes of the upload's distinct texts (-1: missing, or a stored text
    the upload does not have, which can match no upload row).

    Only the upload's texts are dictionary-encoded; the stored texts are looked up in that dictionary
    (``pyarrow.compute.index_in``), so no array holding both sides' texts is made. Stored text held as a
    categorical (:func:`evalkit.ingest.stored_rows_for_upload`) has its categories looked up, once each
    (:func:`~evalkit.validation.cells.codes_in`).
    """
    known = known_codes(mine)
    if known is not None:
        mine_codes, distinct = known
    elif isinstance(mine, pd.Series) and isinstance(mine.dtype, pd.CategoricalDtype):
        # a categorical's categories are distinct texts and its codes are such codes (no text per row)
        mine_codes, distinct = mine.cat.codes.to_numpy(), category_text(mine)
    else:
        mine_codes, distinct = dictionary_codes(_key_text(mine))
    if has_text_categories(stored):
        # both sides written into one array (no int64 copy of either side first: at a million participants'
        # stored contacts, 85 MB each)
        out = np.empty(len(mine_codes) + len(stored), dtype=np.int64)
        out[:len(mine_codes)] = mine_codes
        codes_in(stored, distinct, out=out[len(mine_codes):])
        return out
    mine_codes = np.asarray(mine_codes, dtype=np.int64)
    theirs = _key_text(stored, keep_chunks=True)  # looked up chunk by chunk, not copied into one array
    large = pa.large_string()
    found = pc.index_in(theirs if theirs.type == large else theirs.cast(large),
                        value_set=distinct if distinct.type == large else distinct.cast(large))
    return np.concatenate([mine_codes, pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)])


def _days(mine: pd.Series | np.ndarray, stored: pd.Series | np.ndarray) -> np.ndarray | None:
    """Upload then stored dates as whole days (``datetime64[D]``, NaT where missing), if both sides are dates.

    ``None`` when either side is not a numpy datetime column: those are compared as text (:func:`_key_text`).
    """
    dtypes = (getattr(mine, "dtype", None), getattr(stored, "dtype", None))
    if not all(isinstance(d, np.dtype) and d.kind == "M" for d in dtypes):
        return None
    # cast into one array (as ``astype`` casts: to the day the instant falls on), no day array per side first
    out = np.empty(len(mine) + len(stored), dtype="datetime64[D]")
    np.copyto(out[:len(mine)], np.asarray(mine), casting="unsafe")
    np.copyto(out[len(mine):], np.asarray(stored), casting="unsafe")
    return out


def _day_numbers(days: np.ndarray) -> np.ndarray:
    """Whole days (``datetime64[D]``) as days since the earliest (``int64``; -1 where missing), in ``days``'
    own memory (which it takes over): no temporary array of the rows."""
    nat = np.isnat(days)
    number = days.view(np.int64)
    low = int(number.min(where=~nat, initial=np.iinfo(np.int64).max)) if not nat.all() else 0
    number -= low  # a missing day's number wraps around here, and is set to -1 next
    number[nat] = -1
    return number


def _as_typed(series: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        return series.to_numpy(dtype="datetime64[ns]")
    return series.astype(object).where(series.notna(), None).to_numpy(dtype=object)
