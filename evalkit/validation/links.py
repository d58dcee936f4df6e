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

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evalkit.validation.cells import look_up
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
        Keys of rows that passed (upload) or are stored (existing).
    set_aside
        Key -> where its set-aside upload row is (``participants.csv row 5``).
    info
        For participants: programme, referral and end date by participant id.
    """

    table: str
    valid: pd.Index
    set_aside: pd.Series
    info: pd.DataFrame | None = None

    @classmethod
    def build(
        cls, table: str, key: str, typed: dict[str, np.ndarray] | None, rows: TableRows | None,
        existing: pd.DataFrame | None,
    ) -> ParentIndex:
        """Index the keys of the upload's rows of ``table`` (if any) and the stored rows (if any)."""
        valid_parts: list[pd.Series] = []
        set_aside = pd.Series(dtype=object)
        info_parts: list[pd.DataFrame] = []
        if typed is not None and rows is not None:
            keys = pd.Series(typed[key], dtype=object)
            ok = ~rows.error & keys.notna().to_numpy()
            valid_parts.append(keys[ok])
            bad = rows.error & keys.notna().to_numpy()
            where = pd.Series(rows.file, dtype=object) + np.where(
                rows.sheet != "", ", sheet '" + pd.Series(rows.sheet, dtype=object) + "'", "") + " row " + \
                pd.Series(rows.source_row).astype(str)
            set_aside = pd.Series(where[bad].to_numpy(dtype=object), index=keys[bad].to_numpy(dtype=object))
            set_aside = set_aside[~set_aside.index.duplicated()]
            if table == "participants":
                info_parts.append(pd.DataFrame({
                    "participant_id": keys[ok].to_numpy(dtype=object),
                    **{c: np.asarray(typed[c])[ok] for c in _PARTICIPANT_INFO if c in typed},
                }))
        if existing is not None and key in existing.columns and len(existing):
            stored = existing[key].astype(object).where(existing[key].notna(), None).astype(str)
            valid_parts.append(pd.Series(stored.to_numpy(dtype=object)))
            if table == "participants":
                part = pd.DataFrame({"participant_id": stored.to_numpy(dtype=object)})
                for c in _PARTICIPANT_INFO:
                    if c in existing.columns:
                        part[c] = existing[c].to_numpy()
                info_parts.append(part)
        valid = pd.Index(pd.concat(valid_parts).astype(str).unique()) if valid_parts else pd.Index([], dtype=object)
        set_aside = set_aside[~set_aside.index.isin(valid)]
        info = None
        if info_parts:
            info = pd.concat(info_parts, ignore_index=True).drop_duplicates("participant_id", keep="first")
            info = info.set_index("participant_id")
            for c in ("referral_date", "end_date"):
                if c in info.columns:
                    info[c] = pd.to_datetime(info[c], errors="coerce")
                else:
                    info[c] = pd.NaT
            if "programme_id" not in info.columns:
                info["programme_id"] = None
        return cls(table, valid, set_aside, info)


def note_not_checked(rows: TableRows, log: ProblemLog, column: str, parent: str) -> None:
    """One warning per file: ``column`` was not checked because ``parent`` is not available."""
    for g in np.unique(rows.group):
        log.add_file_level(
            rows, int(g), np.array([], dtype=np.int64), column=column, rule="not_checked", severity="warning",
            message=(f"{column} values were not checked against the {parent} table, because no {parent} "
                     "table was uploaded with this file and no stored data was given."),
        )


def check_foreign_key(
    rows: TableRows, log: ProblemLog, values: np.ndarray, *, column: str, parent: ParentIndex,
) -> None:
    """Report ``column`` values that are not keys of ``parent`` (rule ``foreign_key``)."""
    keys = pd.Series(values, dtype=object)
    present = keys.notna().to_numpy()
    as_text = keys.astype(str)
    found = as_text.isin(parent.valid).to_numpy()
    aside = present & ~found & as_text.isin(parent.set_aside.index).to_numpy()
    unknown = present & ~found & ~aside
    shown = keys.to_numpy(dtype=object)
    noun = parent.table.rstrip("s").replace("_", " ")
    log.add(rows, unknown, column=column, rule="foreign_key",
            detail=quoted(shown[unknown]) + f" is not a {column} in the {parent.table} table (of this upload or "
            f"already stored); expected the {column} of a {noun} listed there.",
            values=shown[unknown])
    if aside.any():
        where = look_up(as_text[aside], parent.set_aside).astype(object)
        log.add(rows, aside, column=column, rule="foreign_key",
                detail=quoted(shown[aside]) + f" is in the {parent.table} table, but its row there (" + where
                + ") has errors and was set aside, so this row was set aside too; fix that row and upload again.",
                values=shown[aside])


def check_programme_of_participant(
    rows: TableRows, log: ProblemLog, participant: np.ndarray, programme: np.ndarray, parent: ParentIndex,
) -> None:
    """A contact's or measure's programme must be its participant's programme."""
    if parent.info is None:
        return
    pid = pd.Series(participant, dtype=object)
    theirs = look_up(pid, parent.info["programme_id"]).astype(object)
    mine = np.asarray(programme, dtype=object)
    clash = pd.notna(theirs) & pd.notna(mine) & (theirs != mine)
    log.add(rows, clash, column="programme_id", rule="participant_in_two_programmes",
            detail=quoted(mine[clash]) + " is not the programme of participant " + quoted(pid.to_numpy(
                dtype=object)[clash]) + ", who is in programme " + quoted(theirs[clash])
            + " in the participants table; one participant id cannot be in two programmes.",
            values=mine[clash])


def _lookup_dates(keys: pd.Series, dates: pd.Series) -> np.ndarray:
    """``dates`` looked up by ``keys`` as datetime64 (NaT where unknown)."""
    if len(keys) == 0:
        return np.array([], dtype="datetime64[ns]")
    return pd.to_datetime(pd.Series(look_up(keys, dates)), errors="coerce").to_numpy(dtype="datetime64[ns]")


def _iso(values: np.ndarray) -> np.ndarray:
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
    rows: TableRows, log: ProblemLog, participant: np.ndarray, dates: np.ndarray, raw: np.ndarray,
    *, column: str, parent: ParentIndex, after_ending: bool,
) -> None:
    """Dates of contacts/measures before referral (warning) and contacts after the ending (warning)."""
    if parent.info is None:
        return
    pid = pd.Series(participant, dtype=object)
    referral = _lookup_dates(pid, parent.info["referral_date"])
    early = ~np.isnat(dates) & ~np.isnat(referral) & (dates < referral)
    what = "contact" if rows.table == "contacts" else "questionnaire"
    log.add(rows, early, column=column, rule="before_referral", severity="warning",
            detail=quoted(raw[early]) + " is before participant " + quoted(pid.to_numpy(dtype=object)[early])
            + "'s referral date (" + _iso(referral[early]) + f"); a {what} is expected on or after referral. "
            "Check the date; the row was kept.", values=raw[early])
    if after_ending:
        ended = _lookup_dates(pid, parent.info["end_date"])
        late = ~np.isnat(dates) & ~np.isnat(ended) & (dates > ended)
        log.add(rows, late, column=column, rule="after_ending", severity="warning",
                detail=quoted(raw[late]) + " is after participant " + quoted(pid.to_numpy(dtype=object)[late])
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
    named = attendance.drop_duplicates().groupby("group_session_id")["participant_id"].size()
    counted = pd.to_numeric(pd.Series(look_up(session_ids, named)), errors="coerce").to_numpy(dtype="float64")
    ok_rows = ~rows.error
    low = ok_rows & ~np.isnan(head_count) & ~np.isnan(counted) & (head_count < counted)
    log.add(rows, low, column="head_count", rule="head_count_below_named", severity="warning",
            detail=quoted(raw[low]) + " is smaller than the " + pd.Series(counted[low]).astype("int64").astype(str)
            .to_numpy(dtype=object) + " named participants recorded as attending this session in contacts; "
            "expected a head count of at least that (it counts everyone present, named or not).",
            values=raw[low])
