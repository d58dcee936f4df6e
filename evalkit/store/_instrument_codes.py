"""Schema step 8: stored measures rows get their instrument as its registry code, as uploads now store it.

Versions before the instrument was stored as its registry code kept it as typed (``EPDS``, ``phq-9``). The
instrument is part of the measures key, so one questionnaire typed two ways was two rows, and a re-upload
added a third instead of updating. This step rewrites every stored spelling the instrument registry knows to
its code, with the normalisation validation uses (:func:`evalkit.validation.measures.instrument_codes`);
a spelling no instrument is known by is left as stored.

Rows that then share a key (participant, instrument, date) are resolved as a re-upload resolves them: the
row stored later wins. In each such group, ordered by the upload that last set each row (``upload_id``, then
``row_id``), every row is superseded by the next, and the last is kept. A superseded row is deleted from
``measures`` and its stored values are kept in ``audit_history`` as the old row of the kept row, changed by
the upload that stored the next row (the one that created it, if that came after the superseded row was last
stored; else the one that last set it), so nothing is lost and rolling back that upload restores them as
rolling back an update does. The kept row's ``created_upload_id`` becomes the earliest of the group (the
upload that first stored this questionnaire), and the audit history of the superseded rows follows them to
the kept row. Upload counts are left as they were: they record what each upload did when it was stored.

The codes are those of every instrument file that can be used (:func:`evalkit.instruments.load_usable_instruments`):
a broken custom file (one that cannot be read, or is no valid definition) does not stop the database from
opening. It is left out, with an :class:`~evalkit.errors.InstrumentFileWarning` naming it and what is wrong, and
the stored spellings no usable instrument is known by are left exactly as stored, as the spelling of an unknown
instrument is. As that file may be the one defining them, they are noted in ``store_meta``
(:data:`LEFT_AS_STORED`), and opening the database once a usable file knows one of them maps it as this step
would have; the others keep waiting, also through opens where no file is broken but none knows them (the folder
missing in that shell): :func:`left_as_stored`, :func:`can_map_more`, :func:`map_left_as_stored`.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import sqlalchemy as sa

from evalkit.errors import InstrumentFileWarning
from evalkit.instruments import Instrument, load_usable_instruments
from evalkit.schemas import table_schema
from evalkit.store import _tables as T
from evalkit.store._frames import frame_from_rows, json_rows

_TABLE = "measures"
_CHUNK = 10_000
"""Row ids per ``IN (...)`` (SQLite's limit on bound values is 32,766)."""


def _recoded(spellings: pd.Series, codes: dict[str, str]) -> pd.Series:
    """``spellings`` with each rewritten spelling replaced by its code (others unchanged)."""
    return spellings.map(codes).fillna(spellings).astype("string")


LEFT_AS_STORED = "instruments_left_as_stored"
"""``store_meta`` key: the stored spellings this step left as they were while instrument files could not be used
(a JSON list), each until a usable file knows it."""

_NAMED = 10
"""Spellings a warning names (the rest counted)."""


def _registry_codes(spellings: list[str], instruments: Mapping[str, Instrument]) -> pd.Series:
    """The registry code of each stored spelling (``None``: no instrument in ``instruments`` is known by it)."""
    from evalkit.validation.measures import instrument_codes

    return instrument_codes(pd.Series(spellings, dtype=object), instruments)


def left_as_stored(conn: sa.Connection) -> list[str] | None:
    """The spellings this step left as stored while instrument files could not be used; ``None`` if none wait.

    An empty list: some wait, but the note does not say which (it is not the list this step writes).
    """
    meta = T.store_meta
    note = conn.execute(sa.select(meta.c.value).where(meta.c.key == LEFT_AS_STORED)).scalar()
    if note is None:
        return None
    try:
        spellings = json.loads(note)
    except ValueError:
        return []
    return [str(s) for s in spellings] if isinstance(spellings, list) else []


def can_map_more(spellings: list[str]) -> bool:
    """Whether the instrument files now map any of ``spellings`` (from :func:`left_as_stored`; an empty list, a
    note that does not say which: the step is run again to find out)."""
    instruments, _ = load_usable_instruments()
    return not spellings or bool(_registry_codes(spellings, instruments).notna().any())


def map_left_as_stored(conn: sa.Connection) -> None:
    """Run this step again for the spellings it left as stored, if any still wait (checked on ``conn``)."""
    if left_as_stored(conn) is not None:
        measures_instruments_as_codes(conn)


def _note_left_as_stored(conn: sa.Connection, spellings: list[str]) -> None:
    meta = T.store_meta
    conn.execute(sa.delete(meta).where(meta.c.key == LEFT_AS_STORED))
    if spellings:
        conn.execute(meta.insert().values(key=LEFT_AS_STORED, value=json.dumps(sorted(spellings))))


def _left_out_message(problems: list[str], left: dict[str, int]) -> str:
    """What the step did without the instrument files it could not use, and what waits on them."""
    said = (f"the stored measures instruments were brought to their registry codes (schema step 8) without the "
            f"instrument files that cannot be used: {'; '.join(problems)}.")
    if not left:
        return f"{said} Every stored instrument is one the other files define, so none waits on them."
    named = [f"{s!r} ({n} row{'s' if n != 1 else ''})" for s, n in sorted(left.items())[:_NAMED]]
    more = f" and {len(left) - _NAMED} more" if len(left) > _NAMED else ""
    return (f"{said} No usable file defines the instrument of the measures rows stored as {', '.join(named)}{more}, "
            "so they are kept exactly as stored; opening the database once the file defining it is fixed brings "
            "them to its registry code.")


def _superseded(rows: pd.DataFrame, key: list[str]) -> pd.DataFrame:
    """The rows another row of the same key (after rewriting) supersedes, with the row that supersedes each.

    ``rows`` holds ``row_id``, ``upload_id``, ``created_upload_id`` and the key with the instrument as its
    code. Returns one row per superseded row: ``row_id``, ``kept_row_id`` (the group's last row),
    ``new_upload_id`` and the group's earliest ``created_upload_id`` as ``first_upload_id``.
    """
    rows = rows.sort_values(["upload_id", "row_id"], kind="stable")
    group = rows.groupby(key, sort=False, dropna=False)
    rows = rows.assign(kept_row_id=group["row_id"].transform("last"),
                       first_upload_id=group["created_upload_id"].transform("min"),
                       next_upload=group["upload_id"].shift(-1), next_created=group["created_upload_id"].shift(-1))
    old = rows[rows["next_upload"].notna().to_numpy()]  # every row of a shared key but the last
    new_upload = np.where(old["next_created"] > old["upload_id"], old["next_created"], old["next_upload"])
    return pd.DataFrame({"row_id": old["row_id"].to_numpy(dtype=np.int64),
                         "kept_row_id": old["kept_row_id"].to_numpy(dtype=np.int64),
                         "new_upload_id": new_upload.astype(np.int64),
                         "first_upload_id": old["first_upload_id"].to_numpy(dtype=np.int64)})


def _rewritten_audit(conn: sa.Connection, codes: dict[str, str], moved: dict[int, int], row_ids: list[int]) -> None:
    """Audit history of the rewritten rows: stored spellings as codes, superseded rows' history on the kept row."""
    a = T.audit_history
    audit = [r for i in range(0, len(row_ids), _CHUNK)
             for r in conn.execute(sa.select(a.c.audit_id, a.c.row_id, a.c.row_key, a.c.old_row)
                                   .where(a.c.table_name == _TABLE, a.c.row_id.in_(row_ids[i : i + _CHUNK])))]
    if not audit:
        return
    frame = pd.DataFrame(audit, columns=["audit_id", "row_id", "row_key", "old_row"])
    row_id = frame["row_id"].map(lambda r: moved.get(int(r), int(r)))

    def recode(text: str, new_id: int | None) -> str:
        try:
            row = json.loads(text)
        except (TypeError, ValueError):
            row = None
        if not isinstance(row, dict):  # not a row evalkit wrote (a hand edit): kept as it is, as step 7 keeps it
            return text
        row["instrument"] = codes.get(row.get("instrument"), row.get("instrument"))
        if new_id is not None:
            row["row_id"] = new_id
        return json.dumps(row, separators=(",", ":"))

    conn.execute(sa.update(a).where(a.c.audit_id == sa.bindparam("a_id")).values(
        row_id=sa.bindparam("r_id"), row_key=sa.bindparam("r_key"), old_row=sa.bindparam("r_old")), [
        {"a_id": int(i), "r_id": int(r), "r_key": recode(k, None), "r_old": recode(o, int(r))}
        for i, r, k, o in zip(frame["audit_id"], row_id, frame["row_key"], frame["old_row"], strict=True)])


def measures_instruments_as_codes(conn: sa.Connection) -> None:
    """Rewrite stored measures instruments to their registry codes, resolving the keys they then share."""
    t = T.canonical[_TABLE]
    stored = {s: int(n) for s, n in conn.execute(sa.select(t.c.instrument, sa.func.count()).group_by(t.c.instrument))
              if s is not None}
    if not stored:
        _note_left_as_stored(conn, [])
        return
    waiting = set(left_as_stored(conn) or ())
    instruments, problems = load_usable_instruments()
    spellings = list(stored)
    found = _registry_codes(spellings, instruments)
    codes = {s: c for s, c in zip(spellings, found, strict=True) if c is not None and c != s}
    # unmapped: waiting for a file while one cannot be used, and still waiting when noted before (opened where
    # the file is missing, say) until a file maps them
    left = [s for s, c in zip(spellings, found, strict=True) if c is None and (problems or s in waiting)]
    _note_left_as_stored(conn, left)
    if problems:
        warnings.warn(_left_out_message(problems, {s: stored[s] for s in left}), InstrumentFileWarning, stacklevel=2)
    if not codes:
        return
    key = list(table_schema(_TABLE).primary_key)
    narrow = ["row_id", "upload_id", "created_upload_id", *key]
    wanted = sorted(set(codes) | set(codes.values()))
    result = conn.execute(sa.select(*[t.c[c] for c in narrow]).where(t.c.instrument.in_(wanted)))
    rows = frame_from_rows(result.fetchall(), narrow, _TABLE)
    rewritten = rows["instrument"].isin(list(codes)).to_numpy(dtype=bool)
    rows["instrument"] = _recoded(rows["instrument"], codes)
    for c in ("row_id", "upload_id", "created_upload_id"):
        rows[c] = rows[c].astype("int64")
    gone = _superseded(rows, key)
    touched = sorted({*rows.loc[rewritten, "row_id"].tolist(), *gone["row_id"].tolist()})
    _rewritten_audit(conn, codes, dict(zip(gone["row_id"], gone["kept_row_id"], strict=True)), touched)
    if len(gone):
        _supersede(conn, gone, codes)
    for spelling, code in codes.items():  # no key is shared any more: each spelling becomes its code at once
        conn.execute(sa.update(t).where(t.c.instrument == spelling).values(instrument=code))


def _supersede(conn: sa.Connection, gone: pd.DataFrame, codes: dict[str, str]) -> None:
    """Keep the superseded rows' stored values in ``audit_history`` (in order), delete them, date the kept rows
    from the group's first upload."""
    t = T.canonical[_TABLE]
    have = [c["name"] for c in sa.inspect(conn).get_columns(_TABLE)]
    ids = gone["row_id"].tolist()
    parts = []
    for i in range(0, len(ids), _CHUNK):
        result = conn.execute(sa.select(*[t.c[c] for c in have]).where(t.c.row_id.in_(ids[i : i + _CHUNK])))
        parts.append(frame_from_rows(result.fetchall(), have, _TABLE))
    old = pd.concat(parts, ignore_index=True)
    old = old.set_index(old["row_id"].astype("int64").to_numpy()).loc[gone["row_id"].to_numpy()]
    old["instrument"] = _recoded(old["instrument"], codes)
    old["row_id"] = pd.array(gone["kept_row_id"].to_numpy(), dtype="Int64")
    key = list(table_schema(_TABLE).primary_key)
    now = datetime.now(UTC)
    conn.execute(T.audit_history.insert(), [
        {"table_name": _TABLE, "row_id": int(r), "row_key": k, "old_row": o, "new_upload_id": int(u), "changed_at": now}
        for r, k, o, u in zip(gone["kept_row_id"], json_rows(old[key], _TABLE), json_rows(old, _TABLE),
                              gone["new_upload_id"], strict=True)])
    for i in range(0, len(ids), _CHUNK):
        conn.execute(sa.delete(t).where(t.c.row_id.in_(ids[i : i + _CHUNK])))
    first = gone.groupby("kept_row_id")["first_upload_id"].min()
    conn.execute(sa.update(t).where(t.c.row_id == sa.bindparam("kept")).values(
        created_upload_id=sa.bindparam("first")),
        [{"kept": int(k), "first": int(f)} for k, f in zip(first.index, first.to_numpy(), strict=True)])
