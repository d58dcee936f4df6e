"""Episodes: one participant x instrument, with a chosen baseline and endpoint and the dose between them.

Peer support has no fixed course and questionnaires arrive irregularly, so
the choice of which two scores to compare is a rule, stated once in
:class:`~evalkit.rules.PairingRules` and reported with every result.

The *anchor* of a participant is her first attended contact (from the
contacts table); for a programme that keeps no contact rows (only
``participants.sessions_attended``) it is ``participants.first_contact_date``,
and the dose is ``sessions_attended`` (no hours, no weeks engaged). Every
episode says which it used (``anchor_source``, ``dose_source``).

All work is vectorised (sorting, ``drop_duplicates``, merges and
``numpy.searchsorted`` over participant-by-day keys); there are no per-row
Python loops.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac

from evalkit.data_source import coerce_tables
from evalkit.instruments import Instrument, builtin_instruments
from evalkit.memory import release_freed_memory
from evalkit.rules import PairingRules

__all__ = [
    "CONTEXT_FIELDS",
    "EPISODE_COLUMNS",
    "ETHNICITY_GROUPS",
    "EpisodeData",
    "UNPAIRED_REASONS",
    "build_episodes",
    "derive_context",
    "engaged_mask",
    "prepare_episodes",
    "support_started",
]

UNPAIRED_REASONS: dict[str, str] = {
    "no_attended_contact": "never attended (no first attended contact to anchor the baseline window, or with no "
                           "minimum dose none attended over the referral)",
    "no_baseline_in_window": "no valid score in the baseline window around the first attended contact",
    "no_score_after_baseline": "no valid score after the baseline",
    "too_soon": "the only later scores are too soon after the baseline",
    "no_score_in_followup_window": "no valid score in the follow-up window",
    "dose_not_recorded": "attended sessions not recorded (programme without contact rows)",
    "below_minimum_dose": "fewer attended contacts between baseline and endpoint than the minimum dose",
}
"""Codes of ``unpaired_reason``, in the order they are checked, with plain-English meanings."""

ETHNICITY_GROUPS: dict[str, str] = {
    "asian": "Asian, Asian British or Asian Welsh",
    "black": "Black, Black British, Black Welsh, Caribbean or African",
    "mixed": "Mixed or Multiple ethnic groups",
    "white": "White",
    "other": "Other ethnic group",
    "not_stated": "Not stated",
}
"""The five ONS 2021 high-level ethnic groups (plus 'not stated'), keyed by the prefix of the detailed codes."""

CONTEXT_FIELDS: tuple[str, ...] = (
    "perinatal_stage", "first_time_mother", "has_partner", "age_band", "referral_source", "referrer_trusted",
    "ethnicity", "ethnicity_group", "main_language", "english_main_language", "interpreter",
    "deprivation_decile", "deprivation_quintile", "prior_mh_support", "professional_support",
    "professional_help_wanted", "format_offered", "format_preferred", "peer_matched",
    "programme_format", "programme_mode", "delivered_by", "facilitation",
)
"""Context fields carried on episodes and available for 'for whom' breakdowns."""

EPISODE_COLUMNS: tuple[str, ...] = (
    "programme_id", "participant_id", "instrument", "role", "higher_is_better",
    "anchor_date", "anchor_source", "n_valid_scores", "first_score_date", "last_score_date",
    "baseline_date", "baseline_score", "endpoint_date", "endpoint_score", "days_between",
    "paired", "unpaired_reason",
    "dose", "dose_source", "attended_contacts", "attended_one_to_one", "attended_group", "contact_hours",
    "weeks_engaged", "attended_total", "took_up", "ending", "end_date", "referral_date",
    "perinatal_week_baseline", "perinatal_stage_baseline", "weeks_pregnant_baseline", "weeks_postpartum_baseline",
    "perinatal_week_endpoint", "perinatal_stage_endpoint", "weeks_pregnant_endpoint", "weeks_postpartum_endpoint",
    *CONTEXT_FIELDS,
    "rules",
)
"""Columns of :func:`build_episodes`, in order."""

_DAY0 = np.datetime64("1970-01-01", "D")
_OFFSET = 200_000  # days added so every day number is positive
_SPAN = 1_000_000  # room per participant in the combined participant-by-day key
_GESTATION_AT_BIRTH = 40.0
_CHUNK = 1 << 18  # ranges looked up in the day index at a time


def support_started(attended_total: np.ndarray, anchored: np.ndarray) -> np.ndarray:
    """Whether each mother's support started: she attended at least one contact over the referral.

    Parameters
    ----------
    attended_total
        Attended contacts over the whole referral (``attended_total``: the
        attended contact rows, or ``sessions_attended`` for programmes without
        contact rows; NaN when ``sessions_attended`` is not recorded).
    anchored
        Whether she has an anchor (``anchor_date``: her first attended
        contact, or ``first_contact_date``).

    Returns
    -------
    numpy.ndarray
        ``attended_total >= 1``, or, where the count is not recorded, an
        anchor (a ``first_contact_date``) -- the take-up funnel's 'attended'
        test (:func:`evalkit.engagement.participant_path`) without 'took up'.
    """
    att = np.asarray(attended_total, dtype=float)
    return np.where(np.isnan(att), np.asarray(anchored, dtype=bool), att >= 1)


def engaged_mask(frame: pd.DataFrame, min_dose: int) -> np.ndarray:
    """'Engaged' mothers (rows of participants or episodes): support started and the minimum dose reached.

    Parameters
    ----------
    frame
        Participants (:attr:`EpisodeData.participants`) or episodes, with
        ``attended_total`` and ``anchor_date`` (``first_contact_date`` is
        used where there is no ``anchor_date``).
    min_dose
        The rules' ``min_dose``.

    Returns
    -------
    numpy.ndarray
        ``support_started & attended_total >= min_dose`` (a count not
        recorded is 0 here, so it is engaged only when ``min_dose`` is 0).
        Every paired episode's mother is engaged: a pair needs ``min_dose``
        attended contacts between its scores and, when ``min_dose`` is 0,
        support to have started (reason ``no_attended_contact`` otherwise),
        so completeness never exceeds 100% and ``n_engaged = n_paired +
        unpaired reasons + n_engaged_no_score``.
    """
    att = pd.to_numeric(frame["attended_total"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    anchor_col = "anchor_date" if "anchor_date" in frame.columns else "first_contact_date"
    anchored = (frame[anchor_col].notna().to_numpy(dtype=bool) if anchor_col in frame.columns
                else np.zeros(len(frame), dtype=bool))
    return support_started(att, anchored) & (np.nan_to_num(att, nan=0.0) >= min_dose)


def _days(s: pd.Series) -> np.ndarray:
    """Dates as integer day numbers (+offset); NaT -> -1."""
    v = s.to_numpy(dtype="datetime64[ns]")
    nat = np.isnat(v)
    d = (v.astype("datetime64[D]") - _DAY0).astype(np.int64) + _OFFSET
    d[nat] = -1
    return d


def _from_days(d: np.ndarray) -> np.ndarray:
    out = (np.asarray(d, dtype=np.int64) - _OFFSET).astype("timedelta64[D]") + _DAY0
    out = out.astype("datetime64[ns]")
    out[np.asarray(d) < 0] = np.datetime64("NaT")
    return out


def derive_context(frame: pd.DataFrame) -> pd.DataFrame:
    """Add derived context fields: ``ethnicity_group``, ``deprivation_quintile``, ``english_main_language``.

    * ``ethnicity_group``: the ONS 2021 high-level group (:data:`ETHNICITY_GROUPS`)
      from the detailed code's prefix (``asian_indian`` -> ``asian``; ``not_stated`` stays).
    * ``deprivation_quintile``: ``ceil(decile / 2)`` (1 = most deprived fifth).
    * ``english_main_language``: ``main_language == "en"``.

    Returns a copy; columns missing from ``frame`` give missing values.
    """
    out = frame.copy(deep=False)  # copy-on-write: the caller's frame is never changed
    if "ethnicity" in out.columns:
        out["ethnicity_group"] = _ethnicity_group(_arrow_strings(out["ethnicity"]))
    else:
        out["ethnicity_group"] = pd.array([pd.NA] * len(out), dtype="string")
    if "deprivation_decile" in out.columns:
        dec = pd.to_numeric(out["deprivation_decile"], errors="coerce").astype("Float64")
        out["deprivation_quintile"] = np.ceil(dec / 2).astype("Int64")
    else:
        out["deprivation_quintile"] = pd.array([pd.NA] * len(out), dtype="Int64")
    if "main_language" in out.columns:
        english = pac.equal(_arrow_strings(out["main_language"]), "en")  # missing where the language is
        out["english_main_language"] = pd.arrays.BooleanArray(
            english.fill_null(False).to_numpy(zero_copy_only=False), english.is_null().to_numpy(zero_copy_only=False))
    else:
        out["english_main_language"] = pd.array([pd.NA] * len(out), dtype="boolean")
    return out


def _ethnicity_group(ethnicity: pa.Array) -> pd.arrays.ArrowStringArray:
    """The high-level group (:data:`ETHNICITY_GROUPS`) of each detailed ethnicity code, missing when none.

    The group is the part of the code before its first ``_`` (``not_stated`` stays whole), worked out once
    for each distinct code (a pyarrow dictionary) and taken to the rows.
    """
    codes = pac.dictionary_encode(ethnicity)
    distinct = codes.dictionary
    first = pac.list_element(pac.split_pattern(distinct, pattern="_", max_splits=1), 0)
    group = pac.if_else(pac.equal(distinct, "not_stated"), pa.scalar("not_stated", distinct.type), first)
    group = pac.if_else(pac.is_in(group, value_set=pa.array(list(ETHNICITY_GROUPS), distinct.type)),
                        group, pa.scalar(None, distinct.type))
    return pd.arrays.ArrowStringArray(pa.chunked_array([group.take(codes.indices)], type=distinct.type))


@dataclass(frozen=True)
class EpisodeData:
    """Everything episode building produced, for the analyses that need more than the episodes.

    Attributes
    ----------
    episodes
        The frame of :func:`build_episodes`.
    scores
        Every valid score of a change measure (one row per participant x
        instrument x date; same-day duplicates averaged): ``participant_id``,
        ``programme_id``, ``instrument``, ``date``, ``score``, and, relative to
        its episode, ``weeks_since_baseline``, ``cum_attended`` (attended
        contacts from the anchor up to and including that date; the
        ``sessions_attended`` total for programmes without contact rows) and
        ``group_session_id`` (the group session she attended that day, if any).
    scored_measures
        The scored measures table (output of :func:`evalkit.scoring.score`).
    participants
        The participants table with derived context and anchors; its text
        context fields, ``ending``, ``anchor_source`` and ``dose_source`` are
        categoricals of their text, as in the episodes.
    attended
        Attended contacts: ``participant_id``, ``date``, ``is_group``,
        ``minutes``, ``group_session_id``; ``None`` when
        :func:`prepare_episodes` was asked not to keep them
        (``keep_attended=False``).
    rules
        The rules used.
    instruments
        The instrument registry given to :func:`prepare_episodes` (``None``:
        the built-in one), so that a caller handed these episodes can tell
        whether they were scored with the registry it was asked to use.
    """

    episodes: pd.DataFrame
    scores: pd.DataFrame
    scored_measures: pd.DataFrame
    participants: pd.DataFrame
    attended: pd.DataFrame | None
    rules: PairingRules
    instruments: Mapping[str, Instrument] | None = field(default=None, repr=False, compare=False)


def _registry(instruments: Mapping[str, Instrument] | None) -> Mapping[str, Instrument]:
    return builtin_instruments() if instruments is None else instruments


def _scored(measures: pd.DataFrame, registry: Mapping[str, Instrument]) -> pd.DataFrame:
    if {"score", "score_status"} <= set(measures.columns):
        return measures
    from evalkit.scoring import score

    return score(measures, instruments=registry)


def _no_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without its rows: the same columns, dtypes, index type and attrs, in new (empty) arrays.

    Unlike ``frame.iloc[:0]``, whose numpy columns are views of ``frame``'s blocks, it holds nothing of
    ``frame``'s memory.
    """
    return frame.take(np.empty(0, dtype=np.intp))


def _empty(n: int, dtype: str) -> pd.Series:
    """A column of n missing values of the given dtype."""
    if dtype == "datetime64[ns]":
        return pd.Series(np.full(n, np.datetime64("NaT", "ns")))
    if dtype == "float64":
        return pd.Series(np.full(n, np.nan))
    return pd.Series(pd.array([pd.NA] * n, dtype=dtype))


def _participant_frame(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    if "participants" not in tables:
        raise ValueError("tables must include 'participants' (and 'measures'); got " + ", ".join(sorted(tables)))
    p = tables["participants"].copy(deep=False)  # copy-on-write
    for col, dtype in (("first_contact_date", "datetime64[ns]"), ("referral_date", "datetime64[ns]"),
                       ("end_date", "datetime64[ns]"), ("sessions_attended", "Int64"),
                       ("weeks_pregnant", "Int64"), ("baby_age_weeks", "float64"),
                       ("took_up", "boolean"), ("ending", "string"), ("perinatal_stage", "string")):
        if col not in p.columns:
            p[col] = _empty(len(p), dtype).array
    progs = tables.get("programmes")
    if progs is not None and len(progs):
        pr = progs[["programme_id", *[c for c in ("format", "mode", "delivered_by", "facilitation")
                                       if c in progs.columns]]]
        if not pr["programme_id"].is_unique:
            pr = pr.drop_duplicates("programme_id")
        pr = pr.rename(columns={"format": "programme_format", "mode": "programme_mode"})
        if (set(pr.columns) & set(p.columns) == {"programme_id"} and p["programme_id"].dtype == pr["programme_id"].dtype
                and all(isinstance(pr[c].dtype, pd.StringDtype) for c in pr.columns[1:])):
            # a left merge on a unique key, as column look-ups: the participants' own columns are not copied
            if pr["programme_id"].hasnans:
                at = pd.Index(pr["programme_id"]).get_indexer(p["programme_id"])  # a missing id finds the missing one
            else:  # by hash in pyarrow (a missing id finds none)
                at = _positions(p["programme_id"], _arrow_strings(pr["programme_id"]))
            p = p.copy(deep=False)
            for c in pr.columns[1:]:
                p[c] = pr[c].array.take(at, allow_fill=True)
        else:
            p = p.merge(pr, on="programme_id", how="left")
    for c in ("programme_format", "programme_mode", "delivered_by", "facilitation"):
        if c not in p.columns:
            p[c] = _empty(len(p), "string").array
    p = derive_context(p)
    for c in CONTEXT_FIELDS:
        if c not in p.columns:
            p[c] = pd.array([pd.NA] * len(p), dtype="string")
    if not p["participant_id"].is_unique:
        p = p.drop_duplicates("participant_id")
    p = p.reset_index(drop=True)
    # descriptive text repeated across participants (and across each one's episodes) as categoricals of the
    # same text: one byte per row instead of an 8-byte offset and the text
    for c in (*CONTEXT_FIELDS, "ending"):
        if isinstance(p[c].dtype, pd.StringDtype):
            p[c] = _categorical(p[c])
    return p


def _arrow_strings(values: pd.Series) -> pa.Array:
    """A text column as a pyarrow ``large_string`` array (missing -> null), without Python objects."""
    arr = pa.array(values.astype("string").array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    return arr.cast(pa.large_string())


def _positions(values: pd.Series, pids: pa.Array) -> np.ndarray:
    """Position of each value in ``pids`` (unique), -1 where absent or missing (hash look-up in pyarrow)."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    # looked up chunk by chunk: a column read from the store in batches is not copied into one array first
    # (the contacts' participant ids at a million participants: 264 MB)
    arr = pa.array(values.astype("string").array)
    if arr.type != pa.large_string():
        arr = arr.cast(pa.large_string())
    pos = pac.index_in(arr, value_set=pids, skip_nulls=True)
    return pac.fill_null(pos, -1).to_numpy(zero_copy_only=False).astype(np.int64)


class _Attended(NamedTuple):
    """The attended contacts of known participants, as :func:`_attended_contacts` finds them.

    ``frame`` is ``EpisodeData.attended`` (``None`` when not kept); the arrays, one value per attended contact
    (in contact-table order), are what the day index and the group-session look-up are made of.
    """

    frame: pd.DataFrame | None
    programmes_with_rows: set[str]
    pcode: np.ndarray
    date: np.ndarray
    is_group: np.ndarray
    minutes: np.ndarray
    group_rows: np.ndarray
    group_session: pd.api.extensions.ExtensionArray


def _attended_contacts(tables: Mapping[str, pd.DataFrame], pids: pa.Array, *, keep: bool = True) -> _Attended:
    """Attended contacts of known participants, the programmes with contact rows, each contact's participant position.

    ``group_rows`` are the contacts (positions among the attended ones) whose group session a score of that day
    is given: group contacts with a ``group_session_id``, dated on a whole day; ``group_session`` is their id.
    With ``keep=False`` the frame (``EpisodeData.attended``) is not made, nor the text it alone needs: the
    participant ids and the group session ids of every attended contact (at a million participants of issue #8's
    volume, 9.4 million rows and about 400 MB held for the life of the episodes).
    """
    c = tables.get("contacts")
    if c is None or len(c) == 0:
        frame = pd.DataFrame({"participant_id": pd.array([], dtype="string"),
                              "date": pd.Series([], dtype="datetime64[ns]"), "is_group": pd.Series([], dtype=bool),
                              "minutes": pd.Series([], dtype=float), "group_session_id": pd.array([], dtype="string")})
        none = np.zeros(0, dtype=np.int64)
        return _Attended(frame if keep else None, set(), none, np.zeros(0, dtype="datetime64[ns]"),
                         np.zeros(0, dtype=bool), np.zeros(0), none, pd.array([], dtype="string"))
    with_rows = set(c["programme_id"].dropna().astype(str).unique()) if "programme_id" in c.columns else set()
    status = c["status"].astype("string") if "status" in c.columns else pd.Series("attended", index=c.index)
    # the rows kept (attended, of a known participant, dated) are found on whole columns and each column used is
    # taken at them once, as an array: at a million participants, taking every attended row of each column as a
    # Series (each with its own 75 MB index) and then the kept rows again made a 1.5 GB transient
    pos = _positions(c["participant_id"], pids)
    date = c["contact_date"].to_numpy(dtype="datetime64[ns]")
    rows = np.flatnonzero((status == "attended").fillna(False).to_numpy(dtype=bool) & (pos >= 0) & ~np.isnat(date))
    del status
    pos, date = pos[rows], date[rows]

    def taken(column: str, at: np.ndarray = rows) -> pd.Series | None:
        """The column at the rows ``at`` (None when the table has no such column)."""
        return pd.Series(c[column].array.take(at), copy=False) if column in c.columns else None

    def missing_text(n: int) -> pd.Series:
        return pd.Series(pd.NA, index=pd.RangeIndex(n), dtype="string")

    # whether each has a group session id, without its text (missing as astype("string") finds it: pandas' isna)
    has_gsid = np.zeros(len(rows), dtype=bool) if "group_session_id" not in c.columns \
        else c["group_session_id"].notna().to_numpy(dtype=bool)[rows]
    # a group contact by its kind, compared on the whole column rather than on its text taken at the attended rows
    # (at a million participants of issue #8's volume that text was 150 MB, with a 400 MB transient)
    is_group = has_gsid.copy() if "kind" not in c.columns else \
        (c["kind"].astype("string") == "group_session").fillna(False).to_numpy(dtype=bool)[rows] | has_gsid
    minutes = np.full(len(rows), np.nan) if "duration_minutes" not in c.columns \
        else pd.to_numeric(taken("duration_minutes"), errors="coerce").to_numpy(dtype=float)
    group_rows = np.flatnonzero(is_group & has_gsid & (date == date.astype("datetime64[D]")))  # a score's date is a day
    if not keep:
        gsid = missing_text(len(group_rows)) if "group_session_id" not in c.columns \
            else taken("group_session_id", rows[group_rows]).astype("string")
        return _Attended(None, with_rows, pos, date, is_group, minutes, group_rows, gsid.astype("str").array)
    gsid = missing_text(len(rows)) if "group_session_id" not in c.columns \
        else taken("group_session_id").astype("string")
    out = pd.DataFrame({
        "participant_id": taken("participant_id").astype("string").astype("str").array,
        "date": date,
        "is_group": is_group,
        "minutes": minutes,
        "group_session_id": gsid.astype("str").array,
    })
    return _Attended(out, with_rows, pos, date, is_group, minutes, group_rows,
                     out["group_session_id"].array.take(group_rows))


class _DayIndex:
    """Sorted participant-by-day keys of attended contacts, for vectorised range counts and sums."""

    def __init__(self, pcode: np.ndarray, day: np.ndarray, is_group: np.ndarray, minutes: np.ndarray) -> None:
        key = pcode.astype(np.int64) * _SPAN + day
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        del key
        # day numbers (below _SPAN) and counts (below the number of contacts) as 32-bit integers, and no running
        # count of contacts (it is hi - lo): at a million participants these arrays are 9.4 million long, and
        # the index took 450 MB as 64-bit floats
        count = np.int32 if len(order) < np.iinfo(np.int32).max else np.int64
        self.day = day[order].astype(np.int32 if _SPAN <= np.iinfo(np.int32).max else np.int64)
        self.cum_group = _running_count(is_group[order], count)
        m = minutes[order]
        self.cum_min = np.concatenate([np.zeros(1), np.cumsum(np.nan_to_num(m))])
        self.cum_min_known = _running_count(~np.isnan(m), count)

    def count(self, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
        """The number of contacts in each range ``[lo, hi)`` of :meth:`bounds`, as floats."""
        return (hi - lo).astype(float)

    def bounds(self, pcode: np.ndarray, start: np.ndarray, end: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        s = np.where(start < 0, 0, start)
        e = np.where(end < 0, _SPAN - 1, end)
        base = pcode.astype(np.int64) * _SPAN
        lo = np.searchsorted(self.key, base + s, side="left")
        hi = np.searchsorted(self.key, base + e, side="right")
        return lo, np.maximum(hi, lo)

    def counts_in(self, pcode: np.ndarray, start: np.ndarray, end: np.ndarray, *,
                  chunk: int = _CHUNK) -> np.ndarray:
        """The number of contacts in each participant's days ``[start, end]``, as floats.

        Parameters
        ----------
        pcode, start, end
            As for :meth:`bounds` (one value per range).
        chunk
            How many ranges are looked up at a time.

        Returns
        -------
        numpy.ndarray
            ``count(*bounds(pcode, start, end))``, worked out ``chunk`` ranges at a time, so that the bounds
            and their keys (several arrays of the ranges' length; at a million participants 3.8 million
            scores, 30 MB each) are not all made at once.
        """
        out = np.empty(len(pcode))
        for a in range(0, len(pcode), chunk):
            lo, hi = self.bounds(pcode[a:a + chunk], start[a:a + chunk], end[a:a + chunk])
            out[a:a + chunk] = hi - lo
        return out

    def sums_in(self, pcode: np.ndarray, start: np.ndarray, end: np.ndarray, *,
                chunk: int = _CHUNK) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """What the dose reads of the contacts in each participant's days ``[start, end]``.

        Parameters
        ----------
        pcode, start, end
            As for :meth:`bounds` (one value per range).
        chunk
            How many ranges are looked up at a time (the bounds of only that many are held at once).

        Returns
        -------
        tuple of numpy.ndarray
            Per range: the contacts (float), the group contacts (float), the sum of the minutes recorded,
            the contacts with minutes recorded, and the weeks from the first contact in the range to the
            last (0 for one contact or none).
        """
        n = len(pcode)
        n_att, n_grp, minutes, weeks = np.empty(n), np.empty(n), np.empty(n), np.empty(n)
        known = np.empty(n, dtype=self.cum_min_known.dtype)
        last_day = max(len(self.day) - 1, 0)
        for a in range(0, n, chunk):
            at = slice(a, a + chunk)
            lo, hi = self.bounds(pcode[at], start[at], end[at])
            n_att[at] = hi - lo
            n_grp[at] = self.cum_group[hi] - self.cum_group[lo]
            minutes[at] = self.cum_min[hi] - self.cum_min[lo]
            known[at] = self.cum_min_known[hi] - self.cum_min_known[lo]
            first_in = np.where(hi > lo, self.day[np.minimum(lo, last_day)] if len(self.day) else 0, -1)
            last_in = np.where(hi > lo, self.day[np.maximum(hi - 1, 0)] if len(self.day) else 0, -1)
            weeks[at] = np.where(hi > lo, (last_in - first_in) / 7.0, 0.0)
        return n_att, n_grp, minutes, known, weeks


def _running_count(flags: np.ndarray, dtype: type) -> np.ndarray:
    """``flags.sum()`` up to each position: 0, then the running count after each flag (``len(flags) + 1`` values).

    The difference of two of them is the count of a range, as :class:`_DayIndex` reads it.
    """
    out = np.zeros(len(flags) + 1, dtype=dtype)
    np.cumsum(flags, dtype=dtype, out=out[1:])
    return out


def _labelled(codes: np.ndarray, labels: Sequence[str | None]) -> pd.arrays.ArrowStringArray:
    """Text (``string`` dtype) from integer codes into ``labels`` (-1 or a ``None`` label = missing).

    Built as a pyarrow dictionary array and decoded there, without a Python string per row.
    """
    codes = np.asarray(codes, dtype=np.int64)
    missing = np.array([lab is None for lab in labels] + [True], dtype=bool)  # last slot: code -1
    codes = np.where(missing[codes], -1, codes).astype(np.int32)
    values = pa.array([lab if lab is not None else "" for lab in labels], type=pa.large_string())
    text = pa.DictionaryArray.from_arrays(pa.array(codes, mask=codes < 0), values).cast(pa.large_string())
    return pd.arrays.ArrowStringArray(pa.chunked_array([text], type=pa.large_string()))


def _coded(codes: np.ndarray, labels: Sequence[str | None]) -> pd.Categorical:
    """A categorical of text from integer codes into ``labels`` (-1 or a ``None`` label = missing).

    The same text as :func:`_labelled`, held as one small integer per row: the categories are the distinct
    labels in code-point order (so that sorting the column sorts the text), of the ``string`` dtype.

    Parameters
    ----------
    codes
        Integer positions into ``labels``; -1 means missing.
    labels
        The text of each code (repeats allowed); ``None`` means missing.

    Returns
    -------
    pandas.Categorical
        One value per code.
    """
    categories = sorted({lab for lab in labels if lab is not None})
    to_category = np.array([categories.index(lab) if lab is not None else -1 for lab in labels] + [-1],
                           dtype=np.int64)  # last slot: code -1
    codes = to_category[np.asarray(codes, dtype=np.int64)]
    return pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(pd.Index(categories, dtype="string")))


def _categorical(values: pd.Series, *, string: bool = False) -> pd.Categorical:
    """Text as a categorical of the same text: categories in code-point order, missing stays missing.

    Parameters
    ----------
    values
        A text column (any dtype ``astype("string")`` accepts; a categorical is taken as it is).
    string
        Give the categories the ``string`` dtype (as ``values.astype("string")`` would the text).

    Returns
    -------
    pandas.Categorical
        The column's values, with the distinct texts as categories sorted as the text sorts (of the
        column's own text dtype, ``string`` or ``str``, unless ``string``; other dtypes become ``string``).
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        cat = values.array
    else:
        if not isinstance(values.dtype, pd.StringDtype):
            values = values.astype("string")
        cat = pd.Categorical(values.array)  # factorised in pyarrow; categories sorted, of the column's text dtype
    if string and str(cat.categories.dtype) != "string":
        cat = pd.Categorical.from_codes(cat.codes, dtype=pd.CategoricalDtype(cat.categories.astype("string")))
    return cat


def _perinatal(p_stage: pd.Series, weeks_preg: np.ndarray, baby_weeks: np.ndarray,
               referral_days: np.ndarray, at_days: np.ndarray) -> dict[str, object]:
    """Perinatal time axis at a date: weeks relative to (estimated) birth; negative = pregnant."""
    stage = p_stage if isinstance(p_stage.dtype, pd.CategoricalDtype) else p_stage.astype("string")
    ante = (stage == "antenatal").fillna(False).to_numpy(dtype=bool)
    post_ = (stage == "postnatal").fillna(False).to_numpy(dtype=bool)
    # each result is rounded in place, and the week is summed into the first of its terms (addition commutes,
    # so the sums are the same): fewer arrays of the episodes' length at once
    with np.errstate(invalid="ignore"):
        week = np.where((referral_days >= 0) & (at_days >= 0), (at_days - referral_days) / 7.0, np.nan)
        week += np.where(ante, weeks_preg - _GESTATION_AT_BIRTH, np.where(post_, baby_weeks, np.nan))
        del ante, post_
        st = np.where(np.isnan(week), -1, np.where(week < 0, 0, 1))
        preg = np.where(week < 0, week + _GESTATION_AT_BIRTH, np.nan)
        post = np.where(week >= 0, week, np.nan)
    for values in (week, preg, post):
        np.round(values, 2, out=values)
    return {"week": week, "stage": _coded(st, ("antenatal", "postnatal")), "pregnant": preg, "postpartum": post}


def _at_rows(frame: pd.DataFrame, rows: np.ndarray, column: str) -> pd.Series:
    """One column of ``frame`` at the row positions ``rows``, index 0..n-1.

    Parameters
    ----------
    frame
        A frame (here the participants).
    rows
        Row positions (repeats allowed).
    column
        The column taken.

    Returns
    -------
    pandas.Series
        ``frame[column].iloc[rows]``, numbered from 0: the column of ``frame.iloc[rows]``, made without
        taking the frame's other columns.
    """
    return frame[column].iloc[rows].reset_index(drop=True)


def _one_per_group(group: np.ndarray, rows: np.ndarray, n_groups: int, *, last: bool = False) -> np.ndarray:
    """Per group, the first (or last) of ``rows`` that belongs to it; -1 for a group with none.

    ``group`` gives each row's group (``0..n_groups-1``); ``rows`` are row positions in which each
    group's rows stand together (groups in any order), in the order that makes one of them first.
    """
    of = group[rows]
    pick = np.ones(len(rows), dtype=bool)
    if last:
        pick[:-1] = of[1:] != of[:-1]
    else:
        pick[1:] = of[1:] != of[:-1]
    out = np.full(n_groups, -1, dtype=np.int64)
    out[of[pick]] = rows[pick]
    return out


def _take(values: np.ndarray, rows: np.ndarray, missing: float) -> np.ndarray:
    """``values`` at ``rows``, ``missing`` where a row is -1."""
    return np.where(rows >= 0, values[np.maximum(rows, 0)] if len(values) else missing, missing)


def _day_means(v: pd.DataFrame, n_instruments: int) -> pd.DataFrame:
    """One row per participant x instrument x day, sorted so, with the mean of that day's scores.

    Parameters
    ----------
    v
        Valid scores: ``rank`` (the participant's id rank, from 0), ``instrument`` (a code from 0 below
        ``n_instruments``), ``day`` (a day number of :func:`_days`, from 0 below ``_SPAN``) and ``score``.
    n_instruments
        How many instrument codes there are.

    Returns
    -------
    pandas.DataFrame
        ``rank``, ``instrument``, ``day`` and ``score``, index 0..n-1: the grouped mean
        (``v.groupby(["rank", "instrument", "day"], sort=True, as_index=False)["score"].mean()``). When
        no participant has two scores of one instrument on one day (as the data contract has it), each
        mean is its one score and the rows are only put in order, by one combined integer key;
        otherwise pandas averages the repeats.
    """
    rank, inst, day = (v[c].to_numpy(dtype=np.int64) for c in ("rank", "instrument", "day"))
    key = (rank * max(n_instruments, 1) + inst) * _SPAN + day
    order = np.argsort(key)
    key = key[order]
    if (key[1:] == key[:-1]).any():
        return v.groupby(["rank", "instrument", "day"], sort=True, as_index=False)["score"].mean()
    return pd.DataFrame({"rank": rank[order], "instrument": inst[order], "day": day[order],
                         "score": v["score"].to_numpy(dtype=float)[order]}, copy=False)


def prepare_episodes(
    tables: Mapping[str, pd.DataFrame],
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    keep_attended: bool = True,
    release_contacts: bool = False,
    keep_scored_measures: bool = True,
) -> EpisodeData:
    """Build episodes and keep the intermediate frames other analyses reuse.

    Parameters
    ----------
    tables, rules, instruments
        As for :func:`build_episodes`.
    keep_attended
        Whether to keep the attended contacts (``EpisodeData.attended``).
        With ``False`` that frame is ``None`` and is not made, nor the text
        it alone needs (every attended contact's participant and group
        session id): no analysis of evalkit reads it, and at a million
        participants of issue #8's volume it holds 9.4 million rows, about
        400 MB for the life of the result. Everything else is the same.
        evalkit's own analyses (:func:`evalkit.outcomes.evaluate_outcomes`,
        :func:`evalkit.summary.build_summary`, the engagement and for-whom
        analyses, :func:`build_episodes`) prepare with ``False``.
    release_contacts
        Take ``contacts`` out of ``tables`` (then a ``dict``) and let go of
        them as soon as the attended contacts are read from them, before
        the scores and episodes are built. For a caller that hands its
        tables over and needs no more of the contacts: at a million
        participants of issue #8's volume they hold about 1.3 GB, which
        otherwise stays resident while the episodes are built (their memory
        is freed only if nothing else refers to them). The result is the
        same. ``evalkit outcomes`` and ``evalkit report`` prepare so.
    keep_scored_measures
        Whether to keep the scored measures (``EpisodeData.scored_measures``).
        With ``False`` that frame is an empty frame of their columns and
        dtypes, made once the valid scores are read from them; everything
        else is the same. The scored measures share their columns with the
        measures: at a million participants of issue #8's volume they hold
        about 1.4 GB, which stays resident for the life of the result even
        when the caller lets go of the measures. Once the episodes are
        prepared, only a sample reliability (``rules.reliability_source ==
        "sample"``, Cronbach's alpha of the baseline items) and the
        dashboard's safety list read them; :func:`evalkit.report.build_report` and
        :func:`evalkit.summary.build_summary` prepare without them when their
        rules do not ask for a sample reliability.

    Returns
    -------
    EpisodeData
        The episodes of :func:`build_episodes`, and the valid score series
        (for the mixed model), the scored measures (for the safety list and
        sample reliability; see ``keep_scored_measures``), the participants
        with derived context and the attended contacts (see
        ``keep_attended``). See :class:`EpisodeData`.

    Raises
    ------
    ValueError
        With ``keep_scored_measures=False`` under rules asking for a sample
        reliability, which reads them.
    """
    rules = PairingRules() if rules is None else rules
    if not isinstance(rules, PairingRules):
        raise ValueError(f"rules must be a PairingRules; got {type(rules).__name__}")
    registry = _registry(instruments)
    if not keep_scored_measures and rules.sample_reliability:
        raise ValueError("keep_scored_measures=False under rules with a sample reliability, which is worked out "
                         "from the scored measures' baseline items: keep them")
    if release_contacts and not isinstance(tables, dict):
        raise ValueError(f"release_contacts needs the tables as a dict to take the contacts out of; got "
                         f"{type(tables).__name__}")
    given = tables
    tables = coerce_tables(tables)
    if "measures" not in tables:
        raise ValueError("tables must include 'measures' (and 'participants'); got " + ", ".join(sorted(tables)))
    if release_contacts:
        given.pop("contacts", None)  # type: ignore[attr-defined]  # a dict, checked above
    del given
    release_freed_memory()  # e.g. what reading the tables left in Arrow's pool
    data = _prepare(tables, rules, registry, keep_attended=keep_attended, release_contacts=release_contacts,
                    keep_scored_measures=keep_scored_measures)
    release_freed_memory()  # the intermediate frames of _prepare
    return data if instruments is None else replace(data, instruments=instruments)


def _prepare(tables: dict[str, pd.DataFrame], rules: PairingRules, registry: Mapping[str, Instrument], *,
             keep_attended: bool = True, release_contacts: bool = False,
             keep_scored_measures: bool = True) -> EpisodeData:
    """The body of :func:`prepare_episodes` on typed tables (its own dict); its intermediates are freed when it
    returns, with ``release_contacts`` the contacts once read, and without ``keep_scored_measures`` the scored
    measures once their valid scores are read."""
    parts = _participant_frame(tables)
    # participants are addressed by position ("pcode"); ids are looked up once, by hash, in pyarrow
    pids = _arrow_strings(parts["participant_id"])
    n_part = len(parts)
    by_id = pac.sort_indices(pids).to_numpy().astype(np.int64)  # id order -> pcode
    id_rank = np.empty(n_part, dtype=np.int64)  # pcode -> rank of its id in code-point order
    id_rank[by_id] = np.arange(n_part)

    # ---- attended contacts and anchors ---------------------------------
    att = _attended_contacts(tables, pids, keep=keep_attended)
    if release_contacts:
        tables.pop("contacts", None)
        release_freed_memory()
    attended, progs_with_rows, a_pcode = att.frame, att.programmes_with_rows, att.pcode
    n_attended = len(a_pcode)
    a_day = _days(pd.Series(att.date, copy=False)) if n_attended else np.zeros(0, dtype=np.int64)
    dix = _DayIndex(a_pcode, a_day, att.is_group, att.minutes)
    # the group session of each participant-by-day key (its first group contact that day), for the score series
    g_key, g_first = np.unique(a_pcode[att.group_rows] * _SPAN + a_day[att.group_rows], return_index=True)
    g_session = att.group_session.take(g_first)
    del att, g_first  # without the kept frame, the contacts' dates, flags and minutes go here
    first_att = np.full(n_part, -1, dtype=np.int64)
    if len(a_day):
        fa = pd.Series(a_day).groupby(a_pcode).min()
        first_att[fa.index.to_numpy()] = fa.to_numpy()
    uses_contacts = parts["programme_id"].astype("string").isin(list(progs_with_rows)).to_numpy(dtype=bool)
    fcd = _days(parts["first_contact_date"])
    anchor = np.where(first_att >= 0, first_att, fcd)
    anchor_labels = ("first_attended_contact", "first_contact_date")
    anchor_code = np.where(first_att >= 0, 0, np.where(fcd >= 0, 1, -1))
    parts["anchor_date"] = _from_days(anchor)
    parts["anchor_source"] = _coded(anchor_code, anchor_labels)
    parts["dose_source"] = _coded(np.where(uses_contacts, 0, 1), ("contacts", "sessions_attended"))
    total_att = np.zeros(n_part)
    if len(a_pcode):
        total_att = np.bincount(a_pcode, minlength=n_part).astype(float)
    del a_pcode, a_day  # 75 MB each at a million participants
    sess = parts["sessions_attended"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    parts["attended_total"] = np.where(uses_contacts, total_att, sess)
    started = support_started(parts["attended_total"].to_numpy(dtype=float), anchor >= 0)

    # ---- valid scores ----------------------------------------------------
    scored = _scored(tables["measures"], registry)
    change_codes = [c for c, inst in registry.items() if inst.is_change_measure]
    m = scored
    code = m["instrument"].astype("string").str.strip().str.lower()
    status = m["score_status"].astype("string")
    m_pcode = _positions(m["participant_id"], pids)
    keep = (status.isin(list(rules.valid_statuses)).fillna(False) & code.isin(change_codes).fillna(False)
            & m["score"].notna() & m["completed_on"].notna()).to_numpy(dtype=bool) & (m_pcode >= 0)
    # instruments as integer codes in code-point order, participants by the rank of their id: grouping and
    # sorting on these integers orders rows exactly as on the text
    inst_code, inst_names = pd.factorize(code[keep], sort=True)  # in pyarrow: no Python string per row
    inst_names = np.asarray(inst_names, dtype=object)
    v = pd.DataFrame({
        "rank": id_rank[m_pcode[keep]],
        "instrument": inst_code.astype(np.int64),
        "day": _days(m.loc[keep, "completed_on"]),
        "score": m.loc[keep, "score"].to_numpy(dtype=float),
    })
    del m, code, status, m_pcode, keep, inst_code
    if not keep_scored_measures:
        scored = _no_rows(scored)  # with the measures' columns, when nothing else holds them
    v = _day_means(v, len(inst_names))
    # the valid scores as separate arrays (each its own block, freed at its last use) rather than a frame held
    # until the score series is made: at a million participants they are 3.8 million long, 30 MB each
    v_rank, v_inst, v_day = (v[c].to_numpy(dtype=np.int64) for c in ("rank", "instrument", "day"))
    v_score = v["score"].to_numpy(dtype=float)
    del v
    v_pcode = by_id[v_rank]

    release_freed_memory()
    # ---- episodes: one per participant x instrument with a valid score ----
    # the scores are sorted by participant (id rank), instrument and day, so each episode's scores are one run
    # of rows, in date order: an episode's figures are read off its run (first row, last row, first row that ...)
    v_anchor = anchor[v_pcode]
    opens = np.ones(len(v_day), dtype=bool)  # the first score of its episode
    opens[1:] = (v_rank[1:] != v_rank[:-1]) | (v_inst[1:] != v_inst[:-1])
    closes = np.ones(len(v_day), dtype=bool)  # the last score of its episode
    closes[:-1] = opens[1:]
    first_row, last_row = np.flatnonzero(opens), np.flatnonzero(closes)
    v_ep = np.cumsum(opens) - 1  # each score's episode
    n_ep = len(first_row)
    del opens, closes

    # baseline: first valid score in the window around the anchor
    in_win = (v_anchor >= 0) & (v_day >= v_anchor - rules.baseline_days_before) \
        & (v_day <= v_anchor + rules.baseline_days_after)
    base_row = _one_per_group(v_ep, np.flatnonzero(in_win), n_ep)
    baseline_day = _take(v_day, base_row, -1).astype(np.int64)
    sb = baseline_day[v_ep]  # each score's baseline day, for the endpoint and the score series

    # endpoint
    after = (sb >= 0) & (v_day > sb)
    late = after & (v_day - sb >= rules.min_days_between)
    if rules.endpoint_rule == "last":
        end_row = _one_per_group(v_ep, np.flatnonzero(late), n_ep, last=True)
    else:
        target = rules.followup_weeks * 7.0
        tol = rules.followup_tolerance_weeks * 7.0
        dist = np.abs((v_day - v_anchor) - target)
        inwin = np.flatnonzero(late & (dist <= tol))
        # the closest to the target, ties to the later: the first of each episode by distance, then day descending
        end_row = _one_per_group(v_ep, inwin[np.lexsort((-v_day[inwin], dist[inwin], v_ep[inwin]))], n_ep)
        del dist, inwin
    # the episodes in the output order (programme, participant, instrument as text; missing as ""), on integer
    # ranks, found before the narrow episode frame is made, so that it is made in order rather than copied
    # into it (each participant x instrument is one episode, so the order is complete)
    prog_rank = pd.factorize(parts["programme_id"].astype("string").fillna(""), sort=True)[0]
    order = np.lexsort((v_inst[first_row], v_rank[first_row], prog_rank[v_pcode[first_row]]))
    del prog_rank, v_rank
    n_after = np.bincount(v_ep, weights=after, minlength=n_ep)[order]
    n_late = np.bincount(v_ep, weights=late, minlength=n_ep)[order]
    del v_ep, in_win, after, late
    first_row, last_row, base_row, end_row = first_row[order], last_row[order], base_row[order], end_row[order]
    ep = pd.DataFrame({
        "pcode": v_pcode[first_row],
        "instrument": v_inst[first_row],
        "n_valid_scores": last_row - first_row + 1,
        "first_day": v_day[first_row],
        "last_day": v_day[last_row],
        "anchor": v_anchor[first_row],
        "baseline_day": baseline_day[order],
        "baseline_score": _take(v_score, base_row, np.nan),
        "endpoint_day": _take(v_day, end_row, -1).astype(np.int64),
        "endpoint_score": _take(v_score, end_row, np.nan),
        "n_after": n_after,
        "n_late": n_late,
    }, copy=False)
    del order, first_row, last_row, base_row, baseline_day, end_row, v_anchor, n_after, n_late

    # copies, not views of the narrow frame's block, so that the frame is freed when it is deleted below
    pc = ep["pcode"].to_numpy(copy=True)
    bday = ep["baseline_day"].to_numpy(copy=True)
    eday = ep["endpoint_day"].to_numpy(copy=True)
    uses = uses_contacts[pc]

    # ---- dose between baseline and endpoint (inclusive) ---------------------
    start = np.where(bday >= 0, bday, ep["anchor"].to_numpy())
    end = np.where(eday >= 0, eday, -1)
    n_att, n_grp, minutes, known, weeks_eng = dix.sums_in(pc, start, end)
    del start, end
    # the attended contacts before each score, for the score series: looked up here, so that the day index
    # (at a million participants, 9.4 million contacts and 260 MB) is freed before the pairing decision
    s_anchor = anchor[v_pcode]
    cum = dix.counts_in(v_pcode, s_anchor, v_day)
    del dix
    cum = np.where(uses_contacts[v_pcode], cum, sess[v_pcode])
    cum = np.where(s_anchor >= 0, cum, np.nan)
    del s_anchor
    dose = np.where(uses, n_att, sess[pc])

    # ---- pairing decision ------------------------------------------------------
    reason = np.full(len(ep), -1, dtype=np.int64)  # index into codes; -1 = paired
    n_after_a = ep["n_after"].fillna(0).to_numpy()
    n_late_a = ep["n_late"].fillna(0).to_numpy()
    conds = [
        ep["anchor"].to_numpy() < 0,
        bday < 0,
        n_after_a == 0,
        n_late_a == 0,
        eday < 0,
        np.isnan(dose) & (rules.min_dose > 0),
        dose < rules.min_dose,
        # support never started (no attended contact over the referral; 0 sessions recorded): only met here
        # when min_dose is 0, as a dose of at least 1 means she attended
        ~started[pc],
    ]
    codes = ["no_attended_contact", "no_baseline_in_window", "no_score_after_baseline", "too_soon",
             "no_score_in_followup_window", "dose_not_recorded", "below_minimum_dose"]
    code_of = [*range(len(codes)), codes.index("no_attended_contact")]
    for i, cond in enumerate(conds):
        reason = np.where((reason < 0) & cond, code_of[i], reason)
    paired = reason < 0
    # the endpoint is kept when paired, or when the minimum dose is the only rule not met
    e_keep = paired | (reason == codes.index("below_minimum_dose"))
    eday_out = np.where(e_keep, eday, -1)

    # the output columns taken from the narrow episode frame first, so that it and the dose look-ups are freed
    # before the score series and the wide frame are built
    ep_code = ep["instrument"].to_numpy(copy=True)
    from_ep = {
        "anchor_date": _from_days(ep["anchor"].to_numpy()),
        "n_valid_scores": ep["n_valid_scores"].to_numpy(dtype=np.int64, copy=True),
        "first_score_date": _from_days(ep["first_day"].to_numpy()),
        "last_score_date": _from_days(ep["last_day"].to_numpy()),
        "baseline_score": ep["baseline_score"].to_numpy(dtype=float, copy=True),
        "endpoint_score": np.where(e_keep, ep["endpoint_score"].to_numpy(dtype=float), np.nan),
    }
    del ep, conds, n_after_a, n_late_a
    # ---- score series for longitudinal models (before the wide episode frame, so that the score-level
    # intermediates are freed first) -----------------------------------------------------------------
    s_pc, s_day = v_pcode, v_day
    del v_pcode, v_day
    pid_text = parts["participant_id"].astype("string").array
    scores = pd.DataFrame({
        "participant_id": pid_text.take(s_pc),
        "programme_id": parts["programme_id"].astype("string").array.take(s_pc),
        "instrument": _labelled(v_inst, list(inst_names)),
        "date": _from_days(s_day),
        "score": v_score,
        "weeks_since_baseline": np.where(sb >= 0, (s_day - sb) / 7.0, np.nan),
        "cum_attended": cum,
    }, copy=False)
    del v_inst, v_score, cum, sb, pid_text
    if n_attended:
        # the group session she attended that day (the first such contact), looked up on participant-by-day keys
        # (each array freed at its last use, and the misses marked in place: 30 MB each at a million participants)
        s_key = s_pc * _SPAN + s_day
        del s_pc, s_day
        at = np.searchsorted(g_key, s_key)
        hit = at < len(g_key)
        hit[hit] = g_key[at[hit]] == s_key[hit]
        del s_key
        at[~hit] = -1
        del hit
        scores["group_session_id"] = g_session.take(at, allow_fill=True)
        del at
    else:
        scores["group_session_id"] = pd.array([pd.NA] * len(scores), dtype="string")
        del s_pc, s_day
    del g_key, g_session
    release_freed_memory()
    # ---- assemble --------------------------------------------------------------
    # each participants column is taken at the episodes' rows on its own, when it is used, so that the columns
    # the episodes do not keep are freed after their use rather than held to the end in one frame
    inst_role = {c: registry[c].role for c in registry}
    # higher_is_better of each instrument code (missing when not known), taken by the episodes' codes
    hib = [registry[n].higher_is_better if n in registry else None for n in inst_names]
    hib_value = np.array([bool(h) for h in hib], dtype=bool)
    hib_missing = np.array([h is None for h in hib], dtype=bool)
    # the columns are made in their order and each intermediate is deleted after its last use, so that at a
    # million participants the 1.8 million-long intermediates (14 MB each) are not all held beside the finished
    # columns; copy=False: the columns are not consolidated into blocks (a copy of every float column at once)
    col: dict[str, object] = {
        "programme_id": _at_rows(parts, pc, "programme_id").astype("string").array,
        "participant_id": _at_rows(parts, pc, "participant_id").astype("string").array,
        "instrument": _labelled(ep_code, list(inst_names)),
        "role": _coded(ep_code, [inst_role.get(n) for n in inst_names]),
        "higher_is_better": pd.arrays.BooleanArray(hib_value[ep_code], hib_missing[ep_code]),
        "anchor_date": from_ep.pop("anchor_date"),
        "anchor_source": _coded(anchor_code[pc], anchor_labels),
        "n_valid_scores": from_ep.pop("n_valid_scores"),
        "first_score_date": from_ep.pop("first_score_date"),
        "last_score_date": from_ep.pop("last_score_date"),
        "baseline_date": _from_days(bday),
        "baseline_score": from_ep.pop("baseline_score"),
        "endpoint_date": _from_days(eday_out),
        "endpoint_score": from_ep.pop("endpoint_score"),
    }
    # the participant-level arrays (8 MB each at a million participants) are not needed further
    del ep_code, anchor_code, anchor, sess, started, uses_contacts, total_att, fcd, first_att, id_rank, by_id, pids
    days_between = np.where(e_keep, eday - bday, -1).astype(np.int64)
    col["days_between"] = pd.arrays.IntegerArray(days_between, days_between < 0)  # -1: missing
    del days_between, e_keep, eday
    col["paired"] = paired.astype(bool)
    col["unpaired_reason"] = _coded(reason, codes)
    del paired, reason
    col["dose"] = dose
    col["dose_source"] = _coded(np.where(uses, 0, 1), ("contacts", "sessions_attended"))
    col["attended_contacts"] = np.where(uses, n_att, np.nan)
    col["attended_one_to_one"] = np.where(uses, n_att - n_grp, np.nan)
    col["attended_group"] = np.where(uses, n_grp, np.nan)
    del n_att, n_grp
    with np.errstate(invalid="ignore"):
        col["contact_hours"] = np.where(uses & (known > 0), minutes / 60.0, np.nan)
    del known, minutes
    col["weeks_engaged"] = np.where(uses, weeks_eng, np.nan)
    del weeks_eng, uses
    release_freed_memory()  # the episode-level intermediates, before the participants' columns are taken
    col.update({
        "attended_total": _at_rows(parts, pc, "attended_total").to_numpy(dtype=float),
        "took_up": _at_rows(parts, pc, "took_up").astype("boolean").array,
        "ending": _categorical(_at_rows(parts, pc, "ending"), string=True),  # as the text was: "string"
        "end_date": _at_rows(parts, pc, "end_date").to_numpy(dtype="datetime64[ns]"),
    })
    referral = _at_rows(parts, pc, "referral_date")
    col["referral_date"] = referral.to_numpy(dtype="datetime64[ns]")
    ref_days = _days(referral)
    del referral
    wp = _at_rows(parts, pc, "weeks_pregnant").astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    bw = pd.to_numeric(_at_rows(parts, pc, "baby_age_weeks"), errors="coerce").to_numpy(dtype=float)
    stage = _at_rows(parts, pc, "perinatal_stage")
    for when, day in (("baseline", bday), ("endpoint", eday_out)):
        per = _perinatal(stage, wp, bw, ref_days, day)
        col.update({f"perinatal_week_{when}": per["week"], f"perinatal_stage_{when}": per["stage"],
                    f"weeks_pregnant_{when}": per["pregnant"], f"weeks_postpartum_{when}": per["postpartum"]})
        del per
    del ref_days, wp, bw, bday, eday_out, stage
    col.update({c: _at_rows(parts, pc, c).array for c in CONTEXT_FIELDS})
    del pc
    out = pd.DataFrame(col, copy=False)
    del col
    rules.stamp(out)
    # the rules as data are EpisodeData.rules: a dict in attrs would be deep-copied by pandas with every
    # frame made from the episodes
    return EpisodeData(episodes=out, scores=scores, scored_measures=scored, participants=parts,
                       attended=attended, rules=rules)


def build_episodes(
    tables: Mapping[str, pd.DataFrame],
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Choose a baseline and an endpoint for every participant x change measure, and attach the dose.

    Parameters
    ----------
    tables
        Canonical tables keyed by name: ``participants`` and ``measures`` are
        required; ``contacts`` and ``programmes`` are used when present.
        Measures may be raw (they are scored with :func:`evalkit.scoring.score`)
        or already scored. Text columns read from a CSV are typed first.
    rules
        The :class:`~evalkit.rules.PairingRules` (default ``PairingRules()``).
    instruments
        Instrument registry (default: the built-in instruments).

    Returns
    -------
    pandas.DataFrame
        One row per participant x instrument (change measures only:
        :attr:`Instrument.is_change_measure`) with at least one valid score,
        sorted by programme, participant and instrument, with columns
        :data:`EPISODE_COLUMNS`:

        * identity: ``programme_id``, ``participant_id``, ``instrument``,
          ``role``, ``higher_is_better``;
        * anchor: ``anchor_date`` (first attended contact, or
          ``first_contact_date`` for programmes without contact rows),
          ``anchor_source``;
        * scores: ``n_valid_scores``, ``first_score_date``, ``last_score_date``,
          ``baseline_date``, ``baseline_score`` (set whenever a baseline was
          found, paired or not), ``endpoint_date``, ``endpoint_score`` and
          ``days_between`` (set when paired, and when the minimum dose is the
          only rule not met, so that dose thresholds can be varied);
        * ``paired`` (bool) and ``unpaired_reason`` (a code of
          :data:`UNPAIRED_REASONS`, missing when paired);
        * dose between baseline and endpoint, both days included (from the
          baseline, or the anchor, to the last date of the data when not
          paired): ``dose`` (what the minimum-dose rule uses),
          ``dose_source`` (``contacts`` or ``sessions_attended``),
          ``attended_contacts``, ``attended_one_to_one``, ``attended_group``,
          ``contact_hours`` (sum of ``duration_minutes`` / 60 where recorded),
          ``weeks_engaged`` (first to last attended contact in that span, in
          weeks; 0 for a single contact) -- these five are missing for
          ``sessions_attended`` programmes; ``attended_total`` (whole referral);
        * path: ``took_up``, ``ending``, ``end_date``, ``referral_date``;
        * perinatal time axis at baseline and endpoint: ``perinatal_week_*``
          (weeks relative to birth; negative = weeks before an estimated
          birth at 40 weeks' gestation), ``perinatal_stage_*``,
          ``weeks_pregnant_*``, ``weeks_postpartum_*`` -- projected from
          ``perinatal_stage`` and ``weeks_pregnant`` / ``baby_age_weeks`` at
          referral by the weeks elapsed since ``referral_date``;
        * context: :data:`CONTEXT_FIELDS`;
        * ``rules``: the text of ``rules.describe()`` (also in ``attrs["rules"]``).

        Descriptive text that repeats from row to row -- ``role``,
        ``anchor_source``, ``unpaired_reason``, ``dose_source``, ``ending``,
        ``perinatal_stage_*`` and the text fields of :data:`CONTEXT_FIELDS`
        (``perinatal_stage``, ``ethnicity``, ``ethnicity_group``,
        ``programme_format``, ...) -- is held as pandas categoricals of that
        same text (categories: the distinct values, sorted as text), one byte
        per row instead of a string, so that a million participants' episodes
        fit in memory; ``astype("string")`` gives the text columns back.
        ``programme_id``, ``participant_id`` and ``instrument`` stay text.

    Notes
    -----
    * Baseline: the first valid score dated within ``[anchor -
      baseline_days_before, anchor + baseline_days_after]``.
    * Endpoint ``"last"``: the last valid score dated after the baseline;
      ``"window"``: the score closest to ``followup_weeks`` after the anchor
      (the start of support) within the tolerance (ties to the later). Either
      way it must be at least ``min_days_between`` days after the baseline.
    * Same-day valid scores of one instrument are averaged (the data contract
      makes them unique, so this only matters for unvalidated input).
    * Unpaired reasons are checked in the order of :data:`UNPAIRED_REASONS`
      and the first that applies is reported. With ``min_dose=0`` a pair
      needs no dose between its scores, but support must have started
      (:func:`support_started`: an attended contact over the referral, at
      least one session recorded, or -- the count not recorded -- a first
      contact date); a mother who never attended is unpaired with
      ``no_attended_contact``, so every paired mother is 'engaged'
      (:func:`engaged_mask`).
    * The result does not depend on the row order of the input tables.

    Examples
    --------
    >>> import pandas as pd
    >>> parts = pd.DataFrame({"participant_id": ["A"], "programme_id": ["P"],
    ...                       "referral_date": pd.to_datetime(["2025-01-01"])})
    >>> contacts = pd.DataFrame({"programme_id": "P", "participant_id": "A", "kind": "telephone",
    ...     "status": "attended", "duration_minutes": 60.0,
    ...     "contact_date": pd.to_datetime(["2025-01-10", "2025-01-17", "2025-01-24"])})
    >>> measures = pd.DataFrame({"programme_id": "P", "participant_id": "A", "instrument": "epds",
    ...     "completed_on": pd.to_datetime(["2025-01-10", "2025-02-07"]), "total": [15.0, 9.0]})
    >>> ep = build_episodes({"participants": parts, "contacts": contacts, "measures": measures})
    >>> ep[["baseline_score", "endpoint_score", "paired", "dose", "contact_hours"]]
       baseline_score  endpoint_score  paired  dose  contact_hours
    0            15.0             9.0    True   3.0            3.0
    """
    return prepare_episodes(tables, rules=rules, instruments=instruments, keep_attended=False).episodes
