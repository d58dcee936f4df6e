"""Checks across tables: rows that point at parents, and dates that must fit the participant's path.

Parents are the rows of the same upload that passed their own checks, plus
``existing`` (already stored canonical tables). A parent row of the upload that
was set aside makes its children errors too, so nothing half-linked is stored.

============================  ===================================================
rule                          what it checks
============================  ===================================================
foreign_key                   (error) each ``foreignKeys`` entry of the schema:
                              contacts/measures -> participants, contacts ->
                              group_sessions, participants/group_sessions ->
                              programmes (the participant's programme must exist)
participant_in_two_programmes (error) a contact or measure's ``programme_id``
                              differs from its participant's programme
before_referral               participants' offered, first contact and end dates
                              before the referral date: **error** (the row
                              contradicts itself, one of its dates is wrong).
                              Contacts and measures dated before the referral:
                              **warning** (possible - a drop-in visit before the
                              paperwork, a screening questionnaire by the
                              referrer - but worth checking; kept)
after_ending                  (warning) a contact after the participant's end date
head_count_below_named        (warning, on the group_sessions row) the head count
                              is smaller than the number of named participants
                              recorded as attending that session
not_checked                   (warning, once per file) a link could not be
                              checked because the parent table was neither
                              uploaded nor given as stored data
============================  ===================================================
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from evalkit.text_dtype import is_arrow_text
from evalkit.validation.cells import (
    CellPicker,
    arrow_text,
    category_text,
    dictionary_codes,
    has_text_categories,
    known_codes,
    large_text,
    look_up,
    spread,
)
from evalkit.validation.problems import ProblemLog, TableRows, quoted

__all__ = ["ParentIndex", "check_child_dates", "check_foreign_key", "check_head_counts",
           "check_participant_dates", "check_programme_of_participant", "note_not_checked"]

_PARTICIPANT_INFO = ("programme_id", "referral_date", "end_date")


@dataclass(frozen=True)
class ParentIndex:
    """Keys of one parent table: usable ones, and those of upload rows that were set aside.

    Attributes
    ----------
    table
        Parent table name.
    valid
        Distinct keys (as text, Arrow) of rows that passed (upload) or are stored (existing).
    set_aside
        Key -> where its set-aside upload row is (``participants.csv row 5``).
    info
        For participants: programme, referral and end date, one row per participant id (the first
        seen), in the order of ``info_keys``.
    info_keys
        The participant ids of ``info``'s rows (Arrow text), looked up with :func:`pyarrow.compute.index_in`.
    """

    table: str
    valid: pa.Array
    set_aside: pd.Series
    info: pd.DataFrame | None = None
    info_keys: pa.Array | None = None
    _looked_up: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def build(
        cls, table: str, key: str, typed: dict[str, np.ndarray] | None, rows: TableRows | None,
        existing: pd.DataFrame | None, *, distinct_keys: bool = False,
    ) -> ParentIndex:
        """Index the keys of the upload's rows of ``table`` (if any) and the stored rows (if any).

        ``distinct_keys`` says that the upload's rows without errors hold each key at most once: the key
        column is ``unique`` and :func:`~evalkit.validation.keys.check_keys` has set aside every row of a
        repeated key. When the key is Arrow text (or categorical text) and no stored rows are given, the
        usable keys are then those rows' keys as they are, in row order, without hashing them again to drop
        repeats (at 100k participants, about 25 ms).
        """
        valid_parts: list[pa.Array] = []
        set_aside = pd.Series(dtype=object)
        info_parts: list[pd.DataFrame] = []
        key_parts: list[pa.Array] = []
        if typed is not None and rows is not None:
            keys = arrow_text(typed[key])
            present = pc.is_valid(keys).to_numpy(zero_copy_only=False)
            ok = ~rows.error & present
            mine = keys.filter(pa.array(ok))
            valid_parts.append(mine)
            bad = rows.error & present
            if bad.any():
                where = pd.Series(rows.file[bad], dtype=object) + np.where(
                    rows.sheet[bad] != "", ", sheet '" + pd.Series(rows.sheet[bad], dtype=object) + "'", "") \
                    + " row " + pd.Series(rows.source_row[bad]).astype(str)
                set_aside = pd.Series(where.to_numpy(dtype=object),
                                      index=keys.filter(pa.array(bad)).to_numpy(zero_copy_only=False))
                set_aside = set_aside[~set_aside.index.duplicated()]
            if table == "participants":
                key_parts.append(mine)
                info_parts.append(pd.DataFrame({
                    **{c: _take(typed[c], ok) for c in _PARTICIPANT_INFO if c in typed},
                }, index=pd.RangeIndex(int(ok.sum()))))
        if existing is not None and key in existing.columns and len(existing):
            column = existing[key]
            if is_arrow_text(column.dtype) or has_text_categories(column):
                stored = arrow_text(column)  # a categorical's categories taken by code (stored parents: one per key)
            else:
                stored = arrow_text(column.astype(object).where(column.notna(), None).to_numpy(dtype=object))
            valid_parts.append(stored)
            if table == "participants":
                key_parts.append(stored)
                part = pd.DataFrame(index=pd.RangeIndex(len(existing)))
                for c in _PARTICIPANT_INFO:
                    if c in existing.columns:
                        part[c] = existing[c].to_numpy()
                info_parts.append(part)
        info = None
        info_keys = None
        # the upload's rows alone, each usable key once: every row is the first of its key, and the keys the
        # distinct ones in order of first appearance (what pc.unique and _first_of_each give), as they are
        as_they_are = (distinct_keys and typed is not None and len(valid_parts) == 1
                       and _compared_as_text(typed[key]))
        if info_parts and as_they_are:
            info_keys = large_text(key_parts[0])
            info = info_parts[0]
        elif info_parts:
            all_keys = pa.chunked_array(key_parts, type=pa.large_string()).combine_chunks()
            first = _first_of_each(all_keys)
            info = pd.concat(info_parts, ignore_index=True).iloc[first].reset_index(drop=True)
            info_keys = all_keys.take(pa.array(first))
        if info is not None:
            for c in ("referral_date", "end_date"):
                if c in info.columns:
                    info[c] = pd.to_datetime(info[c], errors="coerce")
                else:
                    info[c] = pd.NaT
            if "programme_id" not in info.columns:
                info["programme_id"] = None
        if info_keys is not None and info_keys.null_count == 0:
            # participants: the keys behind info are the usable keys themselves (the same parts, each distinct
            # key once in order of first appearance, as pc.unique gives them), so both look-ups share one array
            valid = info_keys
        elif as_they_are:
            valid = large_text(valid_parts[0])  # present keys of rows without errors, each once
        elif valid_parts:
            valid = pc.drop_null(pc.unique(pa.chunked_array(valid_parts, type=pa.large_string()).combine_chunks()))
        else:
            valid = pa.array([], type=pa.large_string())
        if len(set_aside):
            usable = pc.is_in(pa.array(np.asarray(set_aside.index, dtype=object), type=pa.large_string()),
                              value_set=valid).to_numpy(zero_copy_only=False)
            set_aside = set_aside[~usable]
        return cls(table, valid, set_aside, info, info_keys)

    def positions(self, distinct: pa.Array) -> np.ndarray:
        """Position in :attr:`valid` of each of ``distinct`` (-1 where it is not a usable key).

        ``distinct`` holds each text at most once (a child column's distinct texts). The answer for the last
        array asked about is kept (with the array): the foreign-key check and :meth:`locate` of a child's
        participant ids ask about the same distinct ids, and each look-up hashes the smaller of the two sides
        (:func:`_positions_of_distinct`; at a million participants, 0.15-0.18 s each).
        """
        last = self._looked_up.get("last")
        if last is not None and last[0] is distinct:
            return last[1]
        found = _positions_of_distinct(distinct, self.valid)
        self._looked_up["last"] = (distinct, found)
        return found

    def locate(self, keys: pd.Series | np.ndarray) -> np.ndarray:
        """Row of ``info`` for each key (-1 where the key is missing or not a known participant)."""
        if self.info_keys is None:
            return np.full(len(keys), -1, dtype=np.int64)
        known = known_codes(keys)
        if known is not None:  # each distinct key looked up once, spread by code (-1 stays -1)
            codes, distinct = known
            rows = self.positions(distinct) if self.info_keys is self.valid else _index_in(distinct, self.info_keys)
            return np.append(rows, -1)[codes]
        return _index_in(arrow_text(keys), self.info_keys)


def _index_in(values: pa.Array, value_set: pa.Array) -> np.ndarray:
    """Position in ``value_set`` of each of ``values`` (``int64``; -1 where it is not there or is missing)."""
    return pc.fill_null(pc.index_in(values, value_set=value_set), -1).to_numpy(zero_copy_only=False).astype(
        np.int64, copy=False)


def _positions_of_distinct(distinct: pa.Array, keys: pa.Array) -> np.ndarray:
    """:func:`_index_in` of ``distinct`` in ``keys``, both without repeats (``keys`` also without missing).

    Arrow's ``index_in`` hashes its value set. When ``distinct`` is the shorter, the keys are looked up among
    ``distinct`` instead (its hash table is the smaller) and the answer is turned round: each of ``distinct``
    found at one key at most, as neither side repeats a text.
    """
    if len(distinct) >= len(keys):
        return _index_in(distinct, keys)
    at = _index_in(keys, distinct)
    found = np.flatnonzero(at >= 0)
    out = np.full(len(distinct), -1, dtype=np.int64)
    out[at[found]] = found
    return out


def _take(values: np.ndarray | pd.Series, mask: np.ndarray) -> np.ndarray | pd.Series:
    if isinstance(values, pd.Series):
        return values[mask].reset_index(drop=True)
    return np.asarray(values)[mask]


def _compared_as_text(values: object) -> bool:
    """Whether ``values`` are Arrow text or categorical text, whose repeats :func:`~evalkit.validation.keys.check_keys`
    finds exactly as Arrow finds repeated texts (other values, e.g. Python objects, are compared as objects there
    and as their text here: ``1`` and ``"1"`` differ there, not here)."""
    if not isinstance(values, pd.Series):
        return False
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        dtype = dtype.categories.dtype
    return is_arrow_text(dtype)


def _first_of_each(keys: pa.Array) -> np.ndarray:
    """Positions of the first row of each distinct key (in order of first appearance; a missing key counts as one
    key, at its first row).

    Arrow numbers the distinct keys in order of first appearance, so a row is its key's first exactly when its
    code is above every code before it: one running maximum, no sort.
    """
    codes = pc.fill_null(pc.dictionary_encode(keys).indices, -1).to_numpy(zero_copy_only=False)
    if len(codes) == 0:
        return np.zeros(0, dtype=np.intp)
    new = np.empty(len(codes), dtype=bool)
    new[0] = codes[0] >= 0
    np.greater(codes[1:], np.maximum.accumulate(codes)[:-1], out=new[1:])
    first = np.flatnonzero(new)
    missing = codes < 0
    if missing.any():
        first = np.sort(np.append(first, np.argmax(missing)))
    return first


def _at(values: pd.Series | np.ndarray, where: np.ndarray, fill: object) -> np.ndarray:
    """``values[where]`` with ``fill`` where ``where`` is -1."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if len(arr) == 0:
        return np.full(len(where), fill, dtype=arr.dtype if fill is not None else object)
    return spread(arr, where, fill, object if fill is None else arr.dtype)


def note_not_checked(rows: TableRows, log: ProblemLog, column: str, parent: str) -> None:
    """One warning per file: ``column`` was not checked because ``parent`` is not available."""
    for g in rows.distinct_groups():
        log.add_file_level(
            rows, int(g), np.array([], dtype=np.int64), column=column, rule="not_checked", severity="warning",
            message=(f"{column} values were not checked against the {parent} table, because no {parent} "
                     f"table came with this file; check this file together with your {parent} file (name both "
                     f"files in one command), or leave it: evalkit ingest checks them against the {parent} "
                     "already stored."),
        )


def check_foreign_key(
    rows: TableRows, log: ProblemLog, values: np.ndarray | pd.Series, *, column: str, parent: ParentIndex,
) -> None:
    """Report ``column`` values that are not keys of ``parent`` (rule ``foreign_key``).

    The keys are compared in Arrow (:func:`pyarrow.compute.is_in` against the parent's distinct keys);
    only the rows that fail are turned into Python values for their messages.
    """
    known = known_codes(values)
    if known is not None:  # each distinct value looked up once, spread by code
        codes, distinct = known
        hit = parent.positions(distinct) >= 0
        missing = np.append(~hit, False).take(codes)  # code -1 (a blank cell) takes the last entry: not missing
    else:
        keys = arrow_text(values)
        present = pc.is_valid(keys).to_numpy(zero_copy_only=False)
        found = pc.fill_null(pc.is_in(keys, value_set=parent.valid), False).to_numpy(zero_copy_only=False)
        missing = present & ~found
    if not missing.any():
        return
    keys = arrow_text(values)
    shown_missing = keys.filter(pa.array(missing)).to_numpy(zero_copy_only=False).astype(object)
    in_aside = pd.Index(shown_missing).isin(parent.set_aside.index)
    aside = np.zeros(len(missing), dtype=bool)
    aside[np.flatnonzero(missing)[in_aside]] = True
    unknown = missing & ~aside
    noun = parent.table.rstrip("s").replace("_", " ")
    log.add(rows, unknown, column=column, rule="foreign_key",
            detail=quoted(shown_missing[~in_aside]) + f" is not a {column} in the {parent.table} table (of this "
            f"upload or already stored); expected the {column} of a {noun} listed there.",
            values=shown_missing[~in_aside])
    if aside.any():
        where = look_up(shown_missing[in_aside], parent.set_aside).astype(object)
        log.add(rows, aside, column=column, rule="foreign_key",
                detail=quoted(shown_missing[in_aside]) + f" is in the {parent.table} table, but its row there ("
                + where + ") has errors and was set aside, so this row was set aside too; fix that row and "
                "upload again.",
                values=shown_missing[in_aside])


def check_programme_of_participant(
    rows: TableRows, log: ProblemLog, participant: np.ndarray | pd.Series, programme: np.ndarray | pd.Series,
    parent: ParentIndex, *, where: np.ndarray | None = None,
) -> None:
    """A contact's or measure's programme must be its participant's programme.

    ``where`` is :meth:`ParentIndex.locate` of ``participant`` when the caller has it already.
    """
    if parent.info is None:
        return
    if where is None:
        where = parent.locate(participant)
    theirs_all = arrow_text(parent.info["programme_id"])
    mine_known = known_codes(programme)
    if mine_known is not None:
        # the participants' programmes as codes of this table's distinct programmes (-2: none of them,
        # -1: missing), compared with each row's code: no text compared per row
        mine_codes, distinct = mine_known
        theirs_codes = pc.fill_null(pc.index_in(theirs_all, value_set=distinct), -2).to_numpy(
            zero_copy_only=False).astype(np.int64)
        theirs_codes[~pc.is_valid(theirs_all).to_numpy(zero_copy_only=False)] = -1
        # a row of no known participant (where -1) takes the last entry, -1: as a participant without a programme
        at = np.append(theirs_codes, -1).take(where)
        clash = (mine_codes >= 0) & (at != -1) & (at != mine_codes)
        if not clash.any():
            return
        shown_theirs = theirs_all.take(pa.array(where[clash])).to_numpy(zero_copy_only=False).astype(object)
    else:
        known = where >= 0
        theirs = theirs_all.take(pa.array(where, mask=~known))
        mine = arrow_text(programme)
        clash = pc.fill_null(pc.not_equal(theirs, mine), False).to_numpy(zero_copy_only=False)
        if not clash.any():
            return
        shown_theirs = theirs.filter(pa.array(clash)).to_numpy(zero_copy_only=False).astype(object)
    shown_mine = _text_at(programme, clash)
    log.add(rows, clash, column="programme_id", rule="participant_in_two_programmes",
            detail=quoted(shown_mine) + " is not the programme of participant " + quoted(_text_at(
                participant, clash)) + ", who is in programme " + quoted(shown_theirs)
            + " in the participants table; one participant id cannot be in two programmes.",
            values=shown_mine)


def _text_at(values: np.ndarray | pd.Series, mask: np.ndarray) -> np.ndarray:
    """The values of the rows in ``mask`` as Python objects (missing as None).

    No row picked (a check that found nothing, whose message is then not made): an empty array at once, without
    indexing the column (pandas' boolean indexing of a long Series costs milliseconds even when it picks none).
    """
    if mask.dtype == bool and not mask.any():
        return np.empty(0, dtype=object)
    if isinstance(values, pd.Series):
        picked = values[mask]
        return picked.astype(object).where(picked.notna(), None).to_numpy(dtype=object)
    return np.asarray(values, dtype=object)[mask]


def _lookup_dates(where: np.ndarray, dates: pd.Series) -> np.ndarray:
    """``dates`` at the info rows ``where`` as datetime64 (NaT where unknown)."""
    if len(where) == 0:
        return np.array([], dtype="datetime64[ns]")
    values = pd.to_datetime(dates, errors="coerce").to_numpy(dtype="datetime64[ns]")
    return _at(values, where, np.datetime64("NaT")).astype("datetime64[ns]", copy=False)


def _iso(values: np.ndarray) -> np.ndarray:
    """Dates as ``YYYY-MM-DD`` text (an empty array at once when there are none: no pandas call)."""
    if len(values) == 0:
        return np.empty(0, dtype=object)
    return pd.Series(values).dt.strftime("%Y-%m-%d").to_numpy(dtype=object)


def check_participant_dates(
    rows: TableRows, log: ProblemLog, typed: dict[str, np.ndarray], raw_cells: dict[str, np.ndarray],
) -> None:
    """Offered, first contact and end dates must not be before the referral date (error)."""
    referral = typed.get("referral_date")
    if referral is None:
        return
    for column in ("offered_date", "first_contact_date", "end_date"):
        dates = typed.get(column)
        if dates is None:
            continue
        early = ~np.isnat(dates) & ~np.isnat(referral) & (dates < referral)
        log.add(rows, early, column=column, rule="before_referral",
                detail=quoted(raw_cells[column][early]) + " is before this participant's referral date ("
                + _iso(referral[early]) + f"); expected the {column.replace('_', ' ')} on or after referral. "
                "One of the two dates is wrong (check the year and the day/month order).",
                values=raw_cells[column][early])


def check_child_dates(
    rows: TableRows, log: ProblemLog, participant: np.ndarray | pd.Series, dates: np.ndarray,
    raw: np.ndarray | CellPicker, *, column: str, parent: ParentIndex, after_ending: bool,
    where: np.ndarray | None = None,
) -> None:
    """Dates of contacts/measures before referral (warning) and contacts after the ending (warning).

    ``raw`` gives the cells as uploaded for the rows a message needs; ``where`` is
    :meth:`ParentIndex.locate` of ``participant`` when the caller has it already.
    """
    if parent.info is None:
        return
    if where is None:
        where = parent.locate(participant)
    referral = _lookup_dates(where, parent.info["referral_date"])
    early = ~np.isnat(dates) & ~np.isnat(referral) & (dates < referral)
    what = "contact" if rows.table == "contacts" else "questionnaire"
    log.add(rows, early, column=column, rule="before_referral", severity="warning",
            detail=quoted(raw[early]) + " is before participant " + quoted(_text_at(participant, early))
            + "'s referral date (" + _iso(referral[early]) + f"); a {what} is expected on or after referral. "
            "Check the date; the row was kept.", values=raw[early])
    if after_ending:
        ended = _lookup_dates(where, parent.info["end_date"])
        late = ~np.isnat(dates) & ~np.isnat(ended) & (dates > ended)
        log.add(rows, late, column=column, rule="after_ending", severity="warning",
                detail=quoted(raw[late]) + " is after participant " + quoted(_text_at(participant, late))
                + "'s support ended (" + _iso(ended[late]) + "); expected contacts up to the end date. "
                "Check the date or the end date; the row was kept.", values=raw[late])


def check_head_counts(
    rows: TableRows, log: ProblemLog, session_ids: np.ndarray, head_count: np.ndarray, raw: np.ndarray,
    attendance: pd.DataFrame,
) -> None:
    """Warn where a session's head count is below its named attendees.

    ``attendance`` has ``group_session_id`` and ``participant_id`` of attended contacts.
    """
    if attendance.empty:
        return
    counts, sessions = _named_counts(attendance["group_session_id"], attendance["participant_id"])
    # each row's session looked up among the sessions attended, in Arrow (NaN: none attended, or no session id)
    at = _index_in(large_text(arrow_text(session_ids)), large_text(sessions))
    counted = np.append(counts.astype("float64"), np.nan)[at]
    ok_rows = ~rows.error
    low = ok_rows & ~np.isnan(head_count) & ~np.isnan(counted) & (head_count < counted)
    log.add(rows, low, column="head_count", rule="head_count_below_named", severity="warning",
            detail=quoted(raw[low]) + " is smaller than the " + pd.Series(counted[low]).astype("int64").astype(str)
            .to_numpy(dtype=object) + " named participants recorded as attending this session in contacts; "
            "expected a head count of at least that (it counts everyone present, named or not).",
            values=raw[low])


def _named_per_session(sessions: pd.Series, people: pd.Series) -> pd.Series:
    """Distinct participants (a missing id counts once) per group session, indexed by session id (text).

    ``drop_duplicates`` then ``groupby(...).size()`` of the pairs, on dictionary codes: each distinct
    (session, participant) pair is one integer, so no Python string is made per row. Rows without a
    session are not counted (as ``groupby`` leaves them out).
    """
    counts, session_texts = _named_counts(sessions, people)
    return pd.Series(counts, index=pd.Index(session_texts.to_numpy(zero_copy_only=False), dtype=object))


def _named_counts(sessions: pd.Series, people: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """:func:`_named_per_session` as Arrow text: the count (``int64``) of each distinct session, and the sessions."""
    session_codes, session_texts = _codes_and_texts(sessions)
    person_codes, person_texts = _codes_and_texts(people)
    width = len(person_texts) + 1
    pairs = session_codes * width + person_codes + 1
    del session_codes, person_codes
    pairs = pd.unique(pairs)  # by hashing: np.unique sorts (first-upload validate at 1M: 6.1 -> 5.4-5.7 s)
    counts = np.bincount(pairs[pairs >= 0] // width, minlength=len(session_texts))  # missing session: < 0
    named = counts > 0
    if not named.all():  # categories no row names (a categorical's): not sessions attended
        return counts[named].astype(np.int64), session_texts.filter(pa.array(named))
    return counts.astype(np.int64), session_texts


def _codes_and_texts(values: pd.Series) -> tuple[np.ndarray, pa.Array]:
    """Codes (``int64``, -1 where missing) and the distinct texts they point to: a categorical of Arrow text
    categories (distinct texts) as it is held, anything else dictionary-encoded as text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        categories = values.cat.categories
        if is_arrow_text(categories.dtype):
            return values.array.codes.astype(np.int64), category_text(values)
    return dictionary_codes(arrow_text(values, keep_chunks=True))
