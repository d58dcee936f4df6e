"""Storing validated uploads: one transaction per upload, upsert by natural key, audit, quarantine, rollback.

An upload is a :class:`~evalkit.canonical.ValidationResult` from one provider
file. :func:`ingest` stores it in **one transaction**:

1. ids are pseudonymised (:mod:`evalkit.pseudonymise`) and any column that
   looks like a direct identifier refuses the whole upload;
2. an upload record is written (provider, UTC time, file name, SHA-256, user);
3. per table, in load order, valid rows are compared with stored rows by
   natural key in pandas: new rows are bulk-inserted, changed rows are
   bulk-updated after their old values are written to ``audit_history``, and
   unchanged rows are left alone (re-uploading a file is a no-op);
4. rows the store cannot accept (a key repeated within the upload, a
   reference to a programme, participant or group session that is neither
   stored nor in the upload) join the validation's invalid rows in the
   ``quarantine`` table with their reasons and provenance - never dropped;
5. the upload record gets its counts.

Provider scoping: every row belongs to a provider through its programme. An
upload that would add or change a row of another provider's programme (or a
programme row naming another provider) is refused whole with
:class:`ProviderConflict`; nothing is stored.

Rollback (:func:`rollback`) restores the state before an upload exactly. It
is allowed only for a provider's **newest** stored upload (roll back newest
first); this keeps every row an upload touched untouched since, so restoring
from the audit history is exact.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from os import PathLike
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from evalkit.access import Scope
from evalkit.canonical import PROVENANCE_COLUMNS, SOURCE_ROW, ValidationResult
from evalkit.coded_text import coded_frame, dictionary_text
from evalkit.errors import AccessDenied, EvalkitError, StoreError
from evalkit.memory import release_freed_memory
from evalkit.pseudonymise import (
    ID_COLUMNS,
    PSEUDONYM_PATTERN,
    IdentifierColumnsError,  # noqa: F401 - what ingest raises for identifying columns, importable from here too
    key_check,
    load_secret,
    pseudonymise_frame,
    refuse_identifier_columns,
    refuse_identifiers,
)
from evalkit.schemas import TABLE_NAMES, table_schema
from evalkit.store import _tables as T
from evalkit.store._engine import Store
from evalkit.store._frames import (
    assigned_columns,
    differs,
    driver_batches,
    frame_from_rows,
    from_json_rows,
    json_rows,
    raw_strings,
    records,
    to_canonical,
)
from evalkit.store._read import canonical_batches, read_canonical
from evalkit.store._row_hash import row_hashes
from evalkit.store._tables import ROW_HASH, ROW_ID

__all__ = [
    "ProviderConflict",
    "RollbackSummary",
    "UploadSummary",
    "check_upload",
    "ingest",
    "ingest_parts",
    "resubmit",
    "refuse_identifier_columns",
    "rollback",
    "secret_for_store",
    "sha256_file",
    "split_raw_by_provider",
    "stored_rows_for_upload",
]

Progress = Callable[[float, str], None]
_CHUNK = 10_000
_KEY_CHECK = "pseudonym_key_check"
_MATCH_IDS = 50_000
"""Upload rows are matched with their stored rows for this many distinct ids (values of the table's first key
column) at a time (:func:`_stored_matches`). At a million participants the narrow stored rows of every id at
once (10.6M contacts' keys, programmes and hashes) and both sides' key codes raised the re-upload's ingest
peak from 3.2 GB to 5.0 GB; in parts of 50,000 ids its peak is 3.7 GB (3.9 GB in parts of 100,000). A
multiple of ``_CHUNK``: the same SELECT statements run as for every id at once."""
_COMPARE_ROWS = 200_000
"""Upload rows compared by value with their stored rows, and audited and updated where they changed, at a time
(:func:`_compare_and_update`). A re-upload of a million participants' contacts that changed 9.4M of their 10.6M rows
had reached 17.0 GiB resident, still rising, when it was stopped (they were compared, and their audit rows made,
all at once)."""
_COUNT_ROWS = 1_000_000
"""Rows counted per programme at a time (:meth:`_Run.count_by_programme`): each part's codes and masks are
a few MB, where the whole of 10.6M contacts took about 0.3 GB of per-row arrays at once."""


class ProviderConflict(AccessDenied):
    """An upload would add or change rows of another provider; it was refused whole."""


# --------------------------------------------------------------------------- results


def _frozen(d: Mapping[str, int]) -> Mapping[str, int]:
    return MappingProxyType(dict(d))


@dataclass(frozen=True)
class UploadSummary:
    """What one upload did.

    Attributes
    ----------
    upload_id
        Id of the upload record.
    accepted, inserted, updated, unchanged, quarantined
        Rows per table: ``accepted = inserted + updated + unchanged`` (valid rows
        now stored as sent); ``quarantined`` rows were kept aside for correction.
    resolved
        Quarantined rows of an earlier upload this re-submission resolved.
    """

    upload_id: int
    provider: str
    file_name: str
    accepted: Mapping[str, int]
    inserted: Mapping[str, int]
    updated: Mapping[str, int]
    unchanged: Mapping[str, int]
    quarantined: Mapping[str, int]
    resolved: int = 0

    @property
    def total_accepted(self) -> int:
        return sum(self.accepted.values())

    @property
    def total_inserted(self) -> int:
        return sum(self.inserted.values())

    @property
    def total_updated(self) -> int:
        return sum(self.updated.values())

    @property
    def total_unchanged(self) -> int:
        return sum(self.unchanged.values())

    @property
    def total_quarantined(self) -> int:
        return sum(self.quarantined.values())

    def to_frame(self) -> pd.DataFrame:
        """One row per table (load order) plus a ``total`` row.

        Columns: ``table``, ``accepted``, ``inserted``, ``updated``,
        ``unchanged``, ``quarantined``.
        """
        cols = ("accepted", "inserted", "updated", "unchanged", "quarantined")
        tables = [t for t in TABLE_NAMES if any(t in getattr(self, c) for c in cols)]
        rows = [[t, *(int(getattr(self, c).get(t, 0)) for c in cols)] for t in tables]
        rows.append(["total", *(int(getattr(self, f"total_{c}")) for c in cols)])
        frame = pd.DataFrame(rows, columns=["table", *cols])
        return frame.astype({"table": "string"})

    def __str__(self) -> str:
        return (
            f"upload {self.upload_id} ({self.file_name}, {self.provider}): {self.total_accepted} rows accepted "
            f"({self.total_inserted} new, {self.total_updated} updated, {self.total_unchanged} unchanged), "
            f"{self.total_quarantined} quarantined"
        )


@dataclass(frozen=True)
class RollbackSummary:
    """What :func:`rollback` undid: rows removed and restored per table, quarantine rows removed."""

    upload_id: int
    removed: Mapping[str, int] = field(default_factory=dict)
    restored: Mapping[str, int] = field(default_factory=dict)
    quarantine_removed: int = 0
    quarantine_reopened: int = 0

    def __str__(self) -> str:
        return (
            f"upload {self.upload_id} rolled back: {sum(self.removed.values())} rows removed, "
            f"{sum(self.restored.values())} restored, {self.quarantine_removed} quarantined rows removed"
        )


def sha256_file(path: str | PathLike[str]) -> str:
    """SHA-256 of a file's bytes, as 64 hex digits."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


# --------------------------------------------------------------------------- before storing: split and check


def _file_owners(raw: Mapping[str, pd.DataFrame], stored_programmes: pd.DataFrame | None) -> dict[str, str]:
    """Provider of each programme id: the stored programmes, overridden by the upload's own programmes table."""
    owners: dict[str, str] = {}
    for frame in (stored_programmes, raw.get("programmes")):
        if frame is None or not len(frame) or not {"programme_id", "provider"} <= set(frame.columns):
            continue
        ok = (frame["programme_id"].notna() & frame["provider"].notna()).to_numpy(dtype=bool)
        owners.update(zip(frame.loc[ok, "programme_id"].astype(str).str.strip(),
                          frame.loc[ok, "provider"].astype(str).str.strip(), strict=True))
    return owners


def _stripped_text(cells: pd.Series) -> pd.Series:
    """Cells as text with surrounding blanks removed; missing and blank cells become ``<NA>``."""
    out = cells.astype("string").str.strip()
    return out.where(out.ne(""), pd.NA)


def split_raw_by_provider(
    raw: Mapping[str, pd.DataFrame],
    *,
    stored_programmes: pd.DataFrame | None = None,
    fallback: str | None = None,
) -> dict[str, dict[str, pd.DataFrame]]:
    """Split raw frames (as read) into one set per provider, by the provider of each row's programme.

    :func:`ingest` stores one provider's rows at a time (ids are pseudonymised
    per provider), so a file holding several providers' programmes - such as
    the bundled example data - is split first, then each part is checked
    (:func:`check_upload`) and stored on its own.

    Parameters
    ----------
    raw
        Raw frames by table name, as :func:`evalkit.readers.read_files`
        returns them (cells as text, provenance columns, readers' notes in
        ``attrs``).
    stored_programmes
        The ``programmes`` table already stored (e.g. from
        :func:`evalkit.store.load_tables`), for rows whose programme is not in
        the upload's own ``programmes`` table.
    fallback
        Provider of rows whose programme is unknown (no ``programme_id``, or
        one that no programmes table names). Default: the provider with most
        rows. Validation then reports those rows.

    Returns
    -------
    dict[str, dict[str, pandas.DataFrame]]
        Per provider (sorted by name), the raw frames by table, each with its
        rows in the original order, a fresh index and the readers' notes
        (``attrs``) kept. Tables with no row for a provider are left out; an
        upload with no provider anywhere (and no ``fallback``) gives ``{}``.

    Notes
    -----
    The provider of a ``programmes`` row is its own ``provider`` cell; the
    provider of any other row is its programme's, looked up first in the
    upload's ``programmes`` table and then in ``stored_programmes``. Ids and
    providers are compared with surrounding blanks removed.

    Examples
    --------
    >>> import pandas as pd
    >>> raw = {"programmes": pd.DataFrame({"programme_id": ["P1", "P2"], "provider": ["North", "South"]}),
    ...        "participants": pd.DataFrame({"participant_id": ["a", "b", "c"],
    ...                                      "programme_id": ["P1", "P2", "P2"]})}
    >>> parts = split_raw_by_provider(raw)
    >>> sorted(parts), list(parts["South"]["participants"]["participant_id"])
    (['North', 'South'], ['b', 'c'])
    """
    owners = _file_owners(raw, stored_programmes)
    who: dict[str, pd.Series] = {}
    for name, frame in raw.items():
        if name == "programmes" and "provider" in frame.columns:
            w = _stripped_text(frame["provider"])
        elif "programme_id" in frame.columns:
            w = frame["programme_id"].astype("string").str.strip().map(owners)  # a hash look-up, as _file_owners keys
        else:
            w = pd.Series(pd.NA, index=frame.index, dtype="string")
        who[name] = w.astype("string")
    counts: dict[str, int] = {}
    for w in who.values():
        for p, n in w.dropna().value_counts().items():
            counts[str(p)] = counts.get(str(p), 0) + int(n)
    if fallback is None and counts:
        fallback = max(sorted(counts), key=lambda p: counts[p])
    providers = sorted(set(counts) | ({fallback} if fallback else set()))
    out: dict[str, dict[str, pd.DataFrame]] = {}
    for provider in providers:
        part: dict[str, pd.DataFrame] = {}
        for name, frame in raw.items():
            mask = (who[name] == provider).to_numpy(dtype=bool, na_value=False).copy()
            if provider == fallback:
                mask |= who[name].isna().to_numpy()
            if mask.any():
                piece = frame.loc[mask].reset_index(drop=True)
                piece.attrs = dict(frame.attrs)
                part[name] = piece
        if part:
            out[provider] = part
    return out


VALIDATION_COLUMNS: Mapping[str, tuple[str, ...]] = MappingProxyType({
    "programmes": ("programme_id",),
    "participants": ("participant_id", "programme_id", "referral_date", "end_date"),
    "group_sessions": ("group_session_id",),
    "contacts": ("participant_id", "contact_date", "kind", "group_session_id", "status"),
    "measures": ("participant_id", "instrument", "completed_on"),
})
"""Stored columns :func:`evalkit.validation.validate` reads from ``existing``: natural keys (``already_stored``,
``primary_key``), parent keys (``foreign_key``), a participant's programme, referral and end date (links of
contacts and measures, ``participant_in_two_programmes``) and attended contacts (``head_count_below_named``)."""


def _upload_ids(raw: Mapping[str, pd.DataFrame], table: str, column: str) -> list[str]:
    """Distinct non-blank values of ``raw[table][column]``, as sent and with surrounding blanks removed."""
    frame = raw.get(table)
    if frame is None or column not in frame.columns:
        return []
    series = frame[column]
    if isinstance(series, pd.DataFrame):  # duplicated column names: validation takes the first
        series = series.iloc[:, 0]
    text = series.astype(object).where(series.notna(), None).astype("string[pyarrow]") \
        if not isinstance(series.array, pd.arrays.ArrowStringArray) else series
    both = pd.concat([text, text.str.strip()], ignore_index=True).dropna()
    both = both[(both != "").to_numpy(dtype=bool)]
    return both.unique().tolist()


def stored_rows_for_upload(
    store: Store, raw: Mapping[str, pd.DataFrame], provider: str
) -> dict[str, pd.DataFrame]:
    """The provider's stored rows an upload's validation can meet: only those it touches, only the columns read.

    :func:`evalkit.validation.validate` compares an upload with stored rows by
    key only (already stored, links to stored parents, a stored participant's
    programme and dates, stored attendance of the upload's group sessions), so
    passing these rows as ``existing`` gives the same report, valid rows and
    quarantine as passing every stored row (:func:`evalkit.store.load_tables`),
    at a cost that follows the size of the upload, not of the database.

    Parameters
    ----------
    store
        An open store (read only).
    raw
        The upload's raw frames, ids already pseudonymised (as
        :func:`check_upload` validates them).
    provider
        The uploading organisation: rows of its programmes only.

    Returns
    -------
    dict[str, pandas.DataFrame]
        Every table of :data:`evalkit.schemas.TABLE_NAMES`, with the columns of
        :data:`VALIDATION_COLUMNS` (sorted by natural key): programmes named
        anywhere in the upload; participants in its participants, contacts or
        measures; group sessions in its group sessions or contacts; contacts of
        its contacts' participants or of its group sessions; measures of its
        measures' participants. Ids are matched as sent and with surrounding
        blanks removed (validation strips cells). Dates have their canonical
        dtype; text columns (ids, kind, status) are categoricals whose
        categories are the distinct texts, sorted, in the canonical ``"string"``
        dtype (``column.astype("string")`` is the canonical column).

    Notes
    -----
    Text is held dictionary-encoded, each chunk of rows coded as it is read:
    at a million participants the stored contacts' ids would otherwise take
    0.8 GB as text, held under the whole of the upload's validation (which
    reads the categories and codes, not a text per row).
    """
    programme_ids = sorted({v for t in TABLE_NAMES for v in _upload_ids(raw, t, "programme_id")})
    people = sorted({v for t in ("participants", "contacts", "measures") for v in _upload_ids(raw, t, "participant_id")})
    wanted: dict[str, list[tuple[str, list[str]]]] = {
        "programmes": [("programme_id", programme_ids)],
        "participants": [("participant_id", people)],
        "group_sessions": [("group_session_id", sorted(set(_upload_ids(raw, "group_sessions", "group_session_id"))
                                                       | set(_upload_ids(raw, "contacts", "group_session_id"))))],
        "contacts": [("participant_id", _upload_ids(raw, "contacts", "participant_id")),
                     ("group_session_id", _upload_ids(raw, "group_sessions", "group_session_id"))],
        "measures": [("participant_id", _upload_ids(raw, "measures", "participant_id"))],
    }

    def _load(conn: sa.Connection) -> dict[str, pd.DataFrame]:
        # the provider's programmes, then rows by key; rows of other providers' programmes are dropped here
        # rather than in each query (SQLite would otherwise walk the programme index instead of the key's)
        p = T.canonical["programmes"]
        owned = read_canonical(conn, sa.select(p.c.programme_id).where(p.c.provider.in_([provider])),
                               "programmes")["programme_id"]
        out = {}
        for table, conditions in wanted.items():
            names = list(dict.fromkeys(("row_id", "programme_id", *VALIDATION_COLUMNS[table])))
            parts: list[pd.DataFrame] = []
            for column, values in conditions:
                if not values or not len(owned):
                    continue
                part = _select_in(conn, table, names, column, values, coded_text=True)
                keep = part["programme_id"].isin(owned).to_numpy(dtype=bool, copy=True)
                if parts:  # rows an earlier condition found already (contacts: a participant's group contacts)
                    keep &= ~np.isin(part["row_id"].to_numpy(dtype=np.int64),
                                     np.concatenate([p["row_id"].to_numpy(dtype=np.int64) for p in parts]))
                parts.append(part[keep] if not keep.all() else part)
            frame = coded_frame(parts) if len(parts) > 1 else (parts[0] if parts else _no_rows(names))
            out[table] = frame[list(VALIDATION_COLUMNS[table])]
            del parts, frame
        return out

    loaded = store.transaction(_load, write=False)
    out = {}
    for t in list(loaded):
        out[t] = _canonical_coded(loaded.pop(t), t).sort_values(list(table_schema(t).primary_key),
                                                                kind="stable").reset_index(drop=True)
    # and what the concatenations and sorts freed, before validation allocates on top of it
    release_freed_memory()
    return out


def _canonical_coded(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """:func:`~evalkit.store._frames.to_canonical` of ``frame``, its text columns categoricals of sorted Arrow text
    (:func:`~evalkit.coded_text.sorted_categories`; those that are so already are kept as they
    are)."""
    plain = [c for c in frame.columns if not isinstance(frame[c].dtype, pd.CategoricalDtype)]
    if not plain:
        return frame
    typed = coded_frame([dictionary_text(to_canonical(frame[plain], table))])
    return frame.assign(**{c: typed[c].array for c in plain})


def check_upload(
    raw: Mapping[str, pd.DataFrame],
    store: Store,
    provider: str,
    *,
    secret: bytes | None = None,
    name_other_providers: bool = True,
) -> ValidationResult:
    """Refuse identifiers, pseudonymise and validate one provider's raw frames against its stored rows.

    The steps before :func:`ingest`, as ``evalkit ingest`` and the
    dashboard's Upload page take them: nothing is stored. Ids are
    pseudonymised before validation, so that links to rows stored earlier
    (which are stored by pseudonym) are checked and re-sent rows are
    recognised as already stored.

    Parameters
    ----------
    raw
        One provider's raw frames by table name (see
        :func:`split_raw_by_provider` for files holding several providers).
    store
        An open store; only read (the provider's stored rows).
    provider
        The uploading organisation; also the pseudonymisation namespace.
    secret
        Pseudonymisation secret (default
        :func:`~evalkit.pseudonymise.load_secret`); pass the same one to
        :func:`ingest`.
    name_other_providers
        Whether a refusal for a provider with no stored programme may name the providers that have some (and
        the closest to ``provider``): yes for an administrator or the command line, which see every provider;
        no for a provider's own user, who may not learn other organisations' names.

    Returns
    -------
    ValidationResult
        Pass it to :func:`ingest` (same ``provider``) to store it. Its
        ``report`` lists every problem, with rows numbered as in the
        provider's file.

    Raises
    ------
    IdentifierColumnsError
        A column looks like a direct identifier (names, NHS numbers, contact
        details, postcodes, dates of birth); nothing should be stored.
    ValueError
        ``provider`` is blank.

    See Also
    --------
    evalkit.readers.read_files : reading the files into ``raw``.
    evalkit.validation.validate : the checks.
    """
    from evalkit.validation import validate

    provider = (provider or "").strip()
    if not provider:
        raise ValueError("provider must be a non-blank organisation name")
    refuse_identifiers(dict(raw))
    _refuse_unknown_provider(store, raw, provider, name_others=name_other_providers)
    secret = secret_for_store(store) if secret is None else secret
    pseudo = {}
    for name, frame in raw.items():
        # a blank id (or NA) stays missing, for validation to report, rather than becoming a made-up person
        missing = table_schema(name).missing_values if name in TABLE_NAMES else ()
        out = pseudonymise_frame(frame, secret=secret, namespace=provider, missing_values=missing)
        out.attrs = dict(frame.attrs)
        pseudo[name] = out
    result = validate(pseudo, existing=stored_rows_for_upload(store, pseudo, provider))
    return _without_pseudonyms_in_messages(result)


_QUOTED_PSEUDONYM = rf"'{PSEUDONYM_PATTERN}'"


def _without_pseudonyms_in_messages(result: ValidationResult) -> ValidationResult:
    """The report's messages and the quarantine's reasons with each pseudonym put in words.

    Validation runs on pseudonymised ids, so its messages quote ``'p_19a58d3d7878639d'`` where the provider
    typed ``M0001``: meaningless to them, and the provider's own id may not be stored (the reasons are). The
    message names the row and column already, so the pseudonym becomes "the id on this row" (quoted) or
    "this row's id" (in a list of key values). The ``value`` column keeps the pseudonym.
    """
    def words(text: pd.Series) -> pd.Series:
        text = text.astype("string")
        return (text.str.replace(_QUOTED_PSEUDONYM, "the id on this row", regex=True)
                .str.replace(PSEUDONYM_PATTERN, "this row's id", regex=True))

    report = result.report.copy()
    if len(report):
        report["message"] = words(report["message"])
    quarantine = {}
    for name, frame in result.quarantine.items():
        if "reasons" in frame.columns and len(frame):
            frame = frame.assign(reasons=words(frame["reasons"]))
        quarantine[name] = frame
    return replace(result, report=report, quarantine=quarantine)


def _refuse_unknown_provider(store: Store, raw: Mapping[str, pd.DataFrame], provider: str, *,
                             name_others: bool = True) -> None:
    """Refuse an upload without programme rows by a provider no stored programme belongs to.

    Its ids would be pseudonymised under a name nothing is stored under, so every row would be quarantined
    as unknown, with reasons that send the provider after the wrong problem (a mistyped ``--provider``,
    for example ``northside mums charity`` for ``Northside Mums Charity``). An upload that brings its own
    programme rows, and a store with no programmes yet, are left to validation.

    Raises
    ------
    ProviderConflict
        Naming (with ``name_others``) the providers that have stored programmes, and the closest to
        ``provider``.
    """
    programmes = raw.get("programmes")
    if programmes is not None and len(programmes):
        return
    p = T.canonical["programmes"]
    known = store.transaction(
        lambda conn: sorted({str(v) for v in conn.execute(sa.select(p.c.provider).distinct()).scalars()
                             if v is not None}), write=False)
    if not known or provider in known:
        return
    if not name_others:
        raise ProviderConflict(
            f"upload refused: no programme is stored for provider {provider!r} yet, and these files hold no "
            "programme rows, so none of their rows could be linked to a programme. Upload the programmes file "
            "with the others. Nothing was stored."
        )
    import difflib

    folded = {k.casefold(): k for k in known}
    close = [folded[provider.casefold()]] if provider.casefold() in folded else \
        difflib.get_close_matches(provider, known, n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    listed = ", ".join(repr(k) for k in known[:10]) + (f" and {len(known) - 10} more" if len(known) > 10 else "")
    raise ProviderConflict(
        f"upload refused: no programme is stored for provider {provider!r}, and these files hold no programme "
        f"rows, so none of their rows could be linked to a programme.{hint} Providers with stored programmes: "
        f"{listed}. Give the provider exactly as stored, or upload the programmes file with the others. "
        "Nothing was stored."
    )


def _different_secret(database: str) -> StoreError:
    return StoreError(
        f"{database} was filled with a different pseudonymisation secret: ids of this upload would "
        "not match the stored ones. Use the deployment's secret (EVALKIT_SECRET or EVALKIT_SECRET_FILE). "
        "Nothing was stored."
    )


def secret_for_store(store: Store) -> bytes:
    """The pseudonymisation secret to upload into ``store`` with, refused at once when it cannot match.

    A database holding uploads keeps a keyed fingerprint of the secret they were pseudonymised with
    (:func:`~evalkit.pseudonymise.key_check`). Then the deployment's secret must be found
    (:func:`~evalkit.pseudonymise.load_secret` with ``create=False``: a missing key is **not** replaced by a new
    one, whose ids could never match the stored ones) and have that fingerprint. Only for a database without
    uploads may a new key be created.

    Raises
    ------
    StoreError
        No secret is configured though the database holds uploads, or the secret is not the one the stored
        ids were made with. Nothing was stored, and no key file was created.
    """
    meta = T.store_meta
    stored = store.transaction(
        lambda conn: conn.execute(sa.select(meta.c.value).where(meta.c.key == _KEY_CHECK)).scalar(), write=False)
    if stored is None:
        return load_secret()
    try:
        secret = load_secret(create=False)
    except EvalkitError as exc:
        raise StoreError(
            f"{exc}. The database {store.url} holds uploads pseudonymised with the deployment's secret, so it is "
            "needed to match their ids: give it with EVALKIT_SECRET or EVALKIT_SECRET_FILE (or restore the key "
            "file). No new key was created; nothing was stored."
        ) from exc
    if key_check(secret) != stored:
        raise _different_secret(f"the database {store.url}")
    return secret


# --------------------------------------------------------------------------- preparing (no database)


def _already_pseudonymised(values: pd.Series | pd.DataFrame, missing_values: tuple[str, ...]) -> bool:
    """Whether :func:`~evalkit.pseudonymise.pseudonymise_ids` would give ``values`` back unchanged.

    So when every present id is a pseudonym as a whole (no blanks around it), no missing-value marker is one,
    and the column has the dtype ``pseudonymise_ids`` returns (Arrow-backed ``string``). Checked in Arrow's
    C++ regular expressions, with no Python object per value.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    if not isinstance(values, pd.Series) or values.dtype != pd.StringDtype() \
            or not isinstance(values.array, pd.arrays.ArrowStringArray):
        return False
    if any(_PSEUDONYM_WHOLE.fullmatch(m) for m in missing_values):
        return False
    found = pc.match_substring_regex(pa.array(values.array), f"^(?:{PSEUDONYM_PATTERN})$")
    return bool(pc.all(found, skip_nulls=True, min_count=0).as_py())


_PSEUDONYM_WHOLE = re.compile(PSEUDONYM_PATTERN)


def _pseudonymised(frame: pd.DataFrame, *, secret: bytes, provider: str,
                   missing_values: tuple[str, ...] = ()) -> pd.DataFrame:
    """:func:`~evalkit.pseudonymise.pseudonymise_frame` of ``frame``, its id columns already pseudonymised kept.

    :func:`check_upload` pseudonymises ids before validation, so the valid tables' ids usually are pseudonyms
    already, and pseudonymising them again gives the same values in a new column. The caller still holds the
    validated tables while :func:`ingest` runs: at a million participants (10.6M contacts) those copies of the
    participant and peer supporter ids took about 0.7 GB for the whole transaction. Such a column is kept
    as it is (:func:`_already_pseudonymised`); any other id column is pseudonymised as before.
    """
    missing = tuple(missing_values)
    todo = [c for c in ID_COLUMNS if c in frame.columns and not _already_pseudonymised(frame[c], missing)]
    return pseudonymise_frame(frame, secret=secret, namespace=provider, columns=todo, missing_values=missing)


def _prepare(
    result: ValidationResult, *, provider: str, secret: bytes
) -> tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame]]:
    """Pseudonymise, refuse identifiers, check columns; returns (valid, quarantine) frames per table."""
    unknown = [t for t in (*result.tables, *result.quarantine) if t not in TABLE_NAMES]
    if unknown:
        raise ValueError(f"result tables must be among {list(TABLE_NAMES)}; got {sorted(set(unknown))}")
    present = {n: f for n, f in result.tables.items() if f is not None and not f.empty}
    bad_rows = {n: f for n, f in result.quarantine.items() if f is not None and not f.empty}
    # refuse before pseudonymising: ids that are NHS numbers, emails or phone numbers are refused too
    refuse_identifiers(present)
    refuse_identifiers({n: f.drop(columns=["reasons"], errors="ignore") for n, f in bad_rows.items()})
    valid: dict[str, pd.DataFrame] = {}
    for name in TABLE_NAMES:
        if name not in present:
            continue
        frame = present[name]
        stored = {c.name for c in T.canonical[name].columns}
        extra = [c for c in frame.columns if c not in stored]
        if extra:
            raise StoreError(
                f"table {name}: columns {extra} are not stored by this database version "
                f"(stored: the Table Schema's columns). Nothing was stored."
            )
        schema = table_schema(name)
        missing_key = [c for c in schema.primary_key if c not in frame.columns]
        if missing_key:
            raise ValueError(f"table {name}: key columns {missing_key} are missing")
        frame = _pseudonymised(frame, secret=secret, provider=provider)
        for col in PROVENANCE_COLUMNS:
            if col not in frame.columns:
                frame[col] = pd.NA
        valid[name] = to_canonical(frame, name).reset_index(drop=True)
    quarantined: dict[str, pd.DataFrame] = {}
    for name, frame in bad_rows.items():
        frame = _pseudonymised(frame, secret=secret, provider=provider,
                               missing_values=table_schema(name).missing_values)
        if "reasons" not in frame.columns:
            frame["reasons"] = "invalid row"
        quarantined[name] = frame.reset_index(drop=True)
    return valid, quarantined


# --------------------------------------------------------------------------- database helpers


def _in(conn: sa.Connection, col: sa.Column[Any], values: list[Any]) -> list[sa.ColumnElement[bool]]:
    """Conditions ``col IN values`` in chunks (one ``= ANY(array)`` on PostgreSQL)."""
    if conn.dialect.name == "postgresql" and isinstance(col.type, sa.Text):
        return [col == sa.any_(sa.bindparam(f"vals_{col.name}", values, type_=postgresql.ARRAY(sa.Text)))]
    return [col.in_(values[i : i + _CHUNK]) for i in range(0, len(values), _CHUNK)]


def _no_rows(columns: list[str]) -> pd.DataFrame:
    """A frame of ``columns`` without rows (object columns, typed by the caller's ``to_canonical``)."""
    return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})


def _select_in(conn: sa.Connection, table: str, columns: list[str], by: str, values: list[Any], *,
               coded_text: bool = False) -> pd.DataFrame:
    """Columns of the rows of ``table`` whose ``by`` is among ``values``, canonically typed.

    SQLite: plain ``IN (?, ...)`` statements of up to 10,000 values (no SQLAlchemy statement
    built per chunk); PostgreSQL: one ``= ANY(array)`` for text keys, its rows fetched a batch at a time
    (:func:`~evalkit.store._read.canonical_batches`). With ``coded_text``, text
    columns are categoricals of sorted Arrow text (:func:`~evalkit.coded_text.coded_frame`),
    each chunk coded as it is read, so no chunk's text is held beyond its own distinct values.
    """
    t = T.canonical[table]
    parts = []
    if values and conn.dialect.name == "sqlite":
        q = conn.dialect.identifier_preparer.quote
        head = f"SELECT {', '.join(q(c) for c in columns)} FROM {q(table)} WHERE {q(by)} IN ("
        for i in range(0, len(values), _CHUNK):
            chunk = tuple(values[i : i + _CHUNK])
            result = conn.exec_driver_sql(head + ", ".join("?" * len(chunk)) + ")", chunk)
            # typed chunk by chunk: only one chunk's Python objects exist at a time
            part = frame_from_rows(result.cursor.fetchall(), columns, table, dialect="sqlite")
            parts.append(dictionary_text(part) if coded_text else part)
            result.close()
    elif values:
        for cond in _in(conn, t.c[by], values):
            # one query (PostgreSQL plans one ``= ANY`` of a million ids as one scan; ten thousand ids at a time
            # were each planned as a scan of all 10.6M contacts, 5.5 s a chunk), its rows fetched and typed a
            # batch at a time and, with ``coded_text``, coded as read, as on SQLite
            for part in canonical_batches(conn, sa.select(*[t.c[c] for c in columns]).where(cond), table):
                parts.append(dictionary_text(part) if coded_text else part)
    if not parts:
        return _no_rows(columns)
    if len(parts) > 1:
        # the driver's rows were Python objects, made and freed a chunk at a time: hand the heap pages they
        # left behind back to the system before the caller allocates on top of them
        release_freed_memory()
    if coded_text:
        return coded_frame(parts)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def _fetch(conn: sa.Connection, table: str, by: str, values: Iterable[Any],
           columns: list[str] | None = None) -> pd.DataFrame:
    """Stored rows of ``table`` whose column ``by`` is among ``values``, typed canonically."""
    names = list(columns) if columns else [c.name for c in T.canonical[table].columns]
    vals = [v for v in pd.unique(pd.Series(list(values), dtype=object)) if v is not None and v is not pd.NA]
    return to_canonical(_select_in(conn, table, names, by, vals), table)


def _placeholder(conn: sa.Connection) -> str:
    return "?" if conn.dialect.paramstyle == "qmark" else "%s"


_KEY_CODES_LIMIT = 1 << 62
"""Combined key codes (:func:`_combined_key_codes`) stay below this; wider keys take pandas' own ways."""


def _combined_key_codes(frame: pd.DataFrame, key: list[str], *, sort: bool) -> np.ndarray | None:
    """One integer per row for its ``key`` values: equal keys, equal integers (a missing value is a value).

    Each column's ``pandas.factorize`` codes (missing as one more code) are combined in mixed radix, one column
    at a time, so one integer array is kept rather than one per key column (at 10.6M contacts, three of 85 MB
    each). With ``sort``, the integers order the rows as the key tuples, missing values first (as ``np.lexsort``
    of the columns' sorted codes). ``None`` when the combined codes could overflow.
    """
    combined: np.ndarray | None = None
    span = 1
    for c in key:
        codes, uniques = pd.factorize(frame[c], sort=sort)
        width = len(uniques) + 1
        if span * width >= _KEY_CODES_LIMIT:
            return None
        codes = codes.astype(np.int64, copy=False)
        codes += 1  # missing (-1) becomes 0: first, and equal to missing
        if combined is None:
            combined = codes
        else:
            combined *= width
            combined += codes
        del codes
        span *= width
    return combined


def _key_order(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Row positions of ``frame`` sorted by its natural key, ties in frame order (what ``np.lexsort`` of each
    column's sorted codes gives): one stable sort of :func:`_combined_key_codes`."""
    combined = _combined_key_codes(frame, key, sort=True) if key else None
    if combined is None:
        codes = [pd.factorize(frame[c], sort=True)[0] for c in reversed(key)]
        return np.lexsort(codes) if codes else np.arange(len(frame))
    return np.argsort(combined, kind="stable")


def _repeated_keys(frame: pd.DataFrame, key: list[str]) -> np.ndarray:
    """Whether each row's ``key`` occurs on another row too: ``frame.duplicated(key, keep=False)``.

    From :func:`_combined_key_codes`, sorted once: the values occurring twice are looked up. pandas'
    ``duplicated`` builds two hash tables of every row (at 10.6M contacts 0.7 GB at its peak).
    """
    combined = _combined_key_codes(frame, key, sort=False) if key else None
    if combined is None:
        return frame.duplicated(key, keep=False).to_numpy()
    ranked = np.sort(combined)
    again = ranked[1:][ranked[1:] == ranked[:-1]]
    del ranked
    if not len(again):  # the usual case
        return np.zeros(len(frame), dtype=bool)
    return np.isin(combined, np.unique(again))


def _bulk_insert(conn: sa.Connection, table: str, frame: pd.DataFrame, *, order: np.ndarray | None = None,
                 constants: Mapping[str, Any] | None = None, into: str | None = None) -> None:
    """INSERT all rows of ``frame``: ``COPY ... FROM STDIN`` on PostgreSQL (psycopg 3), else ``executemany``.

    Rows go to the driver in batches (:func:`~evalkit.store._frames.driver_batches`), all inside
    the upload's transaction, so only one batch of Python tuples exists at a time. COPY runs on
    the same DBAPI connection; the values are the same Python objects the ``executemany`` would
    send, dumped by the same psycopg adapters. ``order``: row positions in the order to insert;
    ``constants``: columns of one value each, stored as if ``frame.assign(**constants)`` were inserted
    (added batch by batch); ``into``: the table the rows go to, when not ``table`` itself (a temporary table of
    some of its columns, see :func:`_bulk_update`): ``table`` still types the values.
    """
    q = conn.dialect.identifier_preparer.quote
    target = q(into or table)
    cols = assigned_columns(frame, constants)
    batches = driver_batches(frame, table, conn.dialect.name, order=order, constants=constants)
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg":
        copy_sql = f"COPY {target} ({', '.join(q(c) for c in cols)}) FROM STDIN"
        with conn.connection.driver_connection.cursor() as cur, cur.copy(copy_sql) as copy:
            for rows in batches:
                for row in rows:
                    copy.write_row(row)
        return
    sql = (f"INSERT INTO {target} ({', '.join(q(c) for c in cols)}) "
           f"VALUES ({', '.join([_placeholder(conn)] * len(cols))})")
    for rows in batches:
        conn.exec_driver_sql(sql, rows)


_UPDATE_TABLE = "evalkit_update"
"""The temporary table :func:`_bulk_update` loads the new values into (dropped again before it returns)."""

_SQLITE_UPDATE_FROM = (3, 33, 0)
"""The first SQLite with ``UPDATE ... FROM``; an older library updates row by row."""


def _bulk_update(conn: sa.Connection, table: str, frame: pd.DataFrame) -> None:
    """UPDATE rows by ``row_id`` with the other columns of ``frame``.

    The new values are loaded into a temporary table (``COPY`` on PostgreSQL, an ``executemany`` INSERT on
    SQLite, as :func:`_bulk_insert` does) and set by one ``UPDATE ... FROM`` it. Re-uploading 940,503 changed
    contacts (100k participants), every column set, the updates took 10.2 s rather than 23.3 s as an
    ``executemany`` of one ``UPDATE`` a row on SQLite, 38.8 s rather than 56.9 s on PostgreSQL. An SQLite
    older than 3.33 (no ``UPDATE ... FROM``) gets the ``executemany``. The values stored are the same either
    way: the temporary table's columns have no type on SQLite (a value is kept as the driver bound it, and
    ``table``'s column applies its affinity as it would to a bound parameter) and ``table``'s types on
    PostgreSQL. A row given twice gets its last values, as it would from one ``UPDATE`` after the other.
    """
    q = conn.dialect.identifier_preparer.quote
    cols = [c for c in frame.columns if c != ROW_ID]
    again = frame[ROW_ID].duplicated(keep="last").to_numpy()
    if again.any():
        frame = frame[~again]
    del again
    if conn.dialect.name == "sqlite" and conn.dialect.server_version_info < _SQLITE_UPDATE_FROM:
        ph = _placeholder(conn)
        sql = f"UPDATE {q(table)} SET {', '.join(f'{q(c)} = {ph}' for c in cols)} WHERE {ROW_ID} = {ph}"
        for rows in driver_batches(frame[[*cols, ROW_ID]], table, conn.dialect.name):
            conn.exec_driver_sql(sql, rows)
        return
    tmp = q(_UPDATE_TABLE)
    listed = ", ".join(q(c) for c in cols)
    pg = conn.dialect.name == "postgresql"
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(f"CREATE TEMP TABLE {tmp} ({ROW_ID} INTEGER PRIMARY KEY, {listed})")
    else:  # the stored columns' types: COPY parses and converts the values as for ``table``
        conn.exec_driver_sql(f"CREATE TEMP TABLE {tmp} ON COMMIT DROP AS SELECT {ROW_ID}, {listed} "
                             f"FROM {q(table)} WITH NO DATA")
    # on PostgreSQL in row id order: the rows are then looked up and rewritten in the order they are stored
    _bulk_insert(conn, table, frame[[ROW_ID, *cols]], into=_UPDATE_TABLE,
                 order=_key_order(frame, [ROW_ID]) if pg else None)
    if pg:  # the planner then knows how many rows there are to join
        conn.exec_driver_sql(f"ANALYZE {tmp}")
    update = (f"UPDATE {q(table)} SET {', '.join(f'{q(c)} = u.{q(c)}' for c in cols)} "
              f"FROM {tmp} AS u WHERE {q(table)}.{ROW_ID} = u.{ROW_ID}")
    if pg:
        _by_primary_key(conn, update)
    else:
        conn.exec_driver_sql(update)
    conn.exec_driver_sql(f"DROP TABLE {tmp}")


_JOIN_SETTINGS = ("enable_hashjoin", "enable_mergejoin")
"""PostgreSQL's planner settings :func:`_by_primary_key` turns off for one statement."""


def _by_primary_key(conn: sa.Connection, sql: str) -> None:
    """Run ``sql`` (an ``UPDATE ... FROM`` the temporary table) on PostgreSQL with hash and merge joins turned off,
    then put the two settings back as they were (both transaction-local, as ``SET LOCAL``).

    The planner then looks each row up by the updated table's primary key (a nested loop over the temporary
    table) rather than reading every stored row to join them, once per part of a re-upload: with 200,000 of
    1,060,584 contacts to update it hashed the temporary table and read the whole contacts table.
    """
    before = conn.exec_driver_sql("SELECT " + ", ".join(["current_setting(%s)"] * len(_JOIN_SETTINGS)),
                                  _JOIN_SETTINGS).one()
    _set_locally(conn, _JOIN_SETTINGS, ["off"] * len(_JOIN_SETTINGS))
    conn.exec_driver_sql(sql)
    _set_locally(conn, _JOIN_SETTINGS, before)


def _set_locally(conn: sa.Connection, names: Sequence[str], values: Sequence[str]) -> None:
    """Set PostgreSQL's settings ``names`` to ``values`` until the transaction ends (``set_config(..., true)``)."""
    conn.exec_driver_sql("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(names)),
                         tuple(x for pair in zip(names, values, strict=True) for x in pair))


def _bound_time(conn: sa.Connection, when: datetime) -> str:
    """``when`` as the text to store in a ``DateTime(timezone=True)`` column of this database: on SQLite what
    SQLAlchemy's type binds (its stored format), elsewhere ISO 8601 with the offset (read as that instant)."""
    bind = T.audit_history.c.changed_at.type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    value = bind(when) if bind is not None else when
    return value if isinstance(value, str) else when.isoformat(sep=" ")


def _owners(conn: sa.Connection, programme_ids: Iterable[str]) -> dict[str, str]:
    stored = _fetch(conn, "programmes", "programme_id", programme_ids, ["programme_id", "provider"])
    return dict(zip(stored["programme_id"], stored["provider"], strict=True))


def _refuse(provider: str, what: str, rows: pd.DataFrame, cols: list[str], owner_col: str | None) -> None:
    sample = rows.head(3)
    shown = "; ".join(
        ", ".join(f"{c}={r[c]}" for c in cols) + (f" (provider {r[owner_col]!s})" if owner_col else "")
        for _, r in sample.iterrows()
    )
    more = f" and {len(rows) - 3} more" if len(rows) > 3 else ""
    raise ProviderConflict(
        f"upload refused: provider {provider!r} may not {what}: {shown}{more}. Nothing was stored. "
        "Check the programme ids (they must be unique across providers) and --provider."
    )


def _counts_where(codes: np.ndarray, named: np.ndarray, weight: np.ndarray | int, rows: np.ndarray) -> np.ndarray:
    """Per code, the sum of ``weight`` (a 0/1 mask, or one integer for every row) over the rows with a code.

    The sums ``numpy.bincount`` with the weights as floats gives, without the weights spread into one
    integer and one float array per count (at 10.6M contacts, each 85 MB): a mask picks its rows' codes,
    an integer multiplies the rows per code (``rows``).
    """
    weight = np.asarray(weight)
    if weight.ndim == 0:
        return rows * np.int64(weight)
    if weight.dtype != bool:
        return np.bincount(codes[named], weights=weight[named].astype(np.int64), minlength=len(rows)).astype(np.int64)
    return np.bincount(codes[named & weight], minlength=len(rows)).astype(np.int64)


class _Run:
    """State of one ingest transaction."""

    def __init__(self, conn: sa.Connection, provider: str, upload_id: int, progress: Progress | None,
                 total_rows: int, absent: Mapping[str, tuple[str, ...]] | None = None) -> None:
        self.conn = conn
        self.absent = dict(absent or {})  # per table, columns the file lacked: stored values are kept
        self.provider = provider
        self.upload_id = upload_id
        self.progress = progress
        self.total = max(total_rows, 1)
        self.done = 0
        self.owner: dict[str, str] = {}
        self.accepted_keys: dict[str, pd.DataFrame] = {}
        self.store_quarantine: dict[str, list[pd.DataFrame]] = {}
        self.counts: dict[str, dict[str, int]] = {k: {} for k in ("inserted", "updated", "unchanged")}
        self.programme_counts: list[pd.DataFrame] = []  # per call: programme_id and its part of each count

    def tick(self, n: int, message: str) -> None:
        self.done += n
        if self.progress:
            self.progress(min(self.done / self.total, 1.0), message)

    def count_by_programme(self, programme_id: pd.Series | np.ndarray | list, **counts: np.ndarray | int) -> None:
        """Add rows' counts per programme (``rows_inserted=mask, ...``; an int counts every row), for
        ``upload_programmes``. Summed at once: one small row per programme is kept, not one per row (a 1M-row
        upload is counted without a per-row frame). Counted :data:`_COUNT_ROWS` rows at a time (one small
        frame each, summed per programme when stored): the codes and masks of all 10.6M contacts at once
        took about 0.3 GB."""
        ids = pd.Series(programme_id).reset_index(drop=True)
        for start in range(0, len(ids), _COUNT_ROWS):
            stop = start + _COUNT_ROWS
            self._count_part(ids.iloc[start:stop].reset_index(drop=True),
                             **{c: v if np.ndim(v) == 0 else np.asarray(v)[start:stop] for c, v in counts.items()})

    def _count_part(self, ids: pd.Series, **counts: np.ndarray | int) -> None:
        """:meth:`count_by_programme` of some rows: their counts summed per programme, one row per programme."""
        if not len(ids):
            return
        codes, names = pd.factorize(ids, use_na_sentinel=True)  # missing ids (-1) count towards no programme
        named = codes >= 0
        rows = np.bincount(codes[named], minlength=len(names)).astype(np.int64)
        sums = {c: _counts_where(codes, named, v, rows) for c, v in counts.items()}
        del codes, named
        self.programme_counts.append(pd.DataFrame({"programme_id": pd.array(names.astype(str), dtype="string"),
                                                   **sums}))

    def quarantine_rows(self, table: str, rows: pd.DataFrame, reasons: pd.Series | str) -> None:
        raw = raw_strings(rows, table)
        raw["reasons"] = reasons if isinstance(reasons, str) else reasons.astype("string").to_numpy()
        self.store_quarantine.setdefault(table, []).append(raw)


def _check_programmes(run: _Run, valid: dict[str, pd.DataFrame]) -> None:
    """Refuse programme rows naming another provider, and rows of programmes owned by another provider."""
    ids = set()
    for frame in valid.values():
        if "programme_id" in frame.columns:
            ids |= set(frame["programme_id"].dropna())
    run.owner = _owners(run.conn, ids)
    prog = valid.get("programmes")
    if prog is not None:
        bad = prog[prog["provider"].fillna("").str.strip() != run.provider]
        if len(bad):
            _refuse(run.provider, "upload programme rows naming another provider", bad, ["programme_id"],
                    "provider")
    owned = pd.Series(run.owner, dtype=object)
    foreign = sorted(owned.index[owned != run.provider])
    if foreign:
        rows = pd.DataFrame({"programme_id": foreign, "provider": owned[foreign].to_numpy()})
        _refuse(run.provider, "add or change rows of programmes that belong to another provider", rows,
                ["programme_id"], "provider")


def _references(table: str) -> list[tuple[str, str, str]]:
    """(column, target table, target column) this table's rows must find."""
    refs = [(fk["fields"][0], fk["reference"]["resource"], fk["reference"]["fields"][0])
            for fk in table_schema(table).foreign_keys]
    if table in ("contacts", "measures") and not any(c == "programme_id" for c, _, _ in refs):
        refs.insert(0, ("programme_id", "programmes", "programme_id"))
    return refs


def _arrow_strings(values: pd.Series | list[Any]) -> Any:
    """``values`` as a pyarrow string array (no Python call per value for Arrow-backed strings)."""
    import pyarrow as pa

    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    if not isinstance(series.array, pd.arrays.ArrowStringArray):
        series = series.astype(object).where(series.notna(), None).astype("string[pyarrow]")
    return pa.array(series.array)


def _isin(values: pd.Series, candidates: pd.Series | list[Any]) -> np.ndarray:
    """Element-wise ``values.isin(candidates)`` for string ids, in pyarrow's C++ (missing values: False)."""
    import pyarrow.compute as pc

    found = pc.is_in(_arrow_strings(values), value_set=_arrow_strings(candidates))
    return found.fill_null(False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _check_references(run: _Run, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """Quarantine rows whose references are neither stored nor in this upload; refuse foreign ones."""
    keep = np.ones(len(frame), dtype=bool)
    reasons = np.full(len(frame), "", dtype=object)
    for col, target, tcol in _references(table):
        if col not in frame.columns:
            continue
        vals = frame[col]
        present = vals.notna().to_numpy()
        if target == "programmes":
            accepted = run.accepted_keys.get("programmes")
            ids = set(run.owner) | (set(accepted["programme_id"]) if accepted is not None else set())
            known = _isin(vals, list(ids))
        else:
            in_upload = run.accepted_keys.get(target)
            known_up = _isin(vals, in_upload[tcol]) if in_upload is not None else np.zeros(len(frame), dtype=bool)
            need = vals[present & ~known_up].dropna().unique().tolist()
            stored = _fetch(run.conn, target, tcol, need, [tcol, "programme_id"])
            if len(stored):
                stored["provider"] = stored["programme_id"].map(_owners(run.conn, stored["programme_id"]))
                foreign = stored[stored["provider"] != run.provider]
                if len(foreign):
                    _refuse(run.provider, f"refer to {target} of another provider", foreign, [tcol], "provider")
            known = known_up | _isin(vals, stored[tcol])
        missing = present & ~known
        if missing.any():
            keep &= ~missing
            msg = f"foreign_key: {col} not found in {target} (neither stored nor in this upload)"
            reasons[missing] = np.where(reasons[missing] == "", msg, reasons[missing] + "; " + msg)
    bad = ~keep
    if not bad.any():  # the usual case: no copy of the table
        return frame
    run.quarantine_rows(table, frame[bad], pd.Series(reasons[bad]))
    return frame[keep].reset_index(drop=True)


def _drop_duplicate_keys(run: _Run, table: str, frame: pd.DataFrame) -> pd.DataFrame:
    key = list(table_schema(table).primary_key)
    dup = _repeated_keys(frame, key)
    if not dup.any():  # the usual case: no copy of the table
        return frame
    run.quarantine_rows(
        table, frame[dup],
        f"duplicate_key: another row of this upload has the same {', '.join(key)}; keep one and re-submit",
    )
    return frame[~dup].reset_index(drop=True)


def _id_parts(values: pd.Series) -> tuple[Any, np.ndarray]:
    """The distinct ids of ``values`` (Arrow text, in order of first appearance) and each row's part of them.

    Row ``i``'s part is ``p`` when its id is among ``ids[p * _MATCH_IDS:(p + 1) * _MATCH_IDS]``; -1 for a
    missing id (no stored row has one). Coded in Arrow (no Python object per row), chunk by chunk onto one
    dictionary, and the parts kept in the narrowest integers that hold them (at 10.6M contacts, 21 MB rather
    than the 85 MB of ``int64`` codes).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    text = _chunked(_arrow_strings(values))
    if text.num_chunks == 0:
        return pa.array([], type=pa.large_string()), np.empty(0, dtype=np.int16)
    encoded = pa.chunked_array([pc.dictionary_encode(c) for c in text.chunks]).unify_dictionaries()
    ids = encoded.chunk(0).dictionary
    dtype = np.int16 if len(ids) // _MATCH_IDS < np.iinfo(np.int16).max else np.int32
    part = np.empty(len(values), dtype=dtype)
    at = 0
    for chunk in encoded.chunks:
        codes = pc.fill_null(chunk.indices, -1).to_numpy(zero_copy_only=False)
        np.floor_divide(codes, _MATCH_IDS, out=part[at:at + len(codes)], casting="unsafe")  # -1 stays -1
        at += len(codes)
    return ids, part


def _refuse_stored_of_others(run: _Run, table: str, frame: pd.DataFrame, narrow: pd.DataFrame) -> None:
    """Refuse the upload when a stored row it would change (same natural key) is of another provider's
    programme; ``narrow`` has the key and ``programme_id`` of the stored rows of the upload's ids."""
    key = list(table_schema(table).primary_key)
    owners = _owners(run.conn, narrow["programme_id"].unique().tolist())
    if not _all_owned(narrow["programme_id"], owners, run.provider):
        owner = narrow["programme_id"].map(owners)
        foreign = narrow.assign(owner=owner)[owner.to_numpy() != run.provider].merge(frame[key], on=key)
        if len(foreign):
            _refuse(run.provider, f"change {table} rows that belong to another provider", foreign, key, "owner")


def _stored_matches(run: _Run, table: str, frame: pd.DataFrame, hashes: np.ndarray
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Which upload rows are stored (same natural key), and which of those with the same ``row_hash``.

    Returns ``(found, same)``, a boolean per row of ``frame``. The stored rows' key, ``programme_id`` and
    ``row_hash`` are read for :data:`_MATCH_IDS` of the upload's ids at a time (:func:`_id_parts`) and
    matched with the upload rows of those ids (:func:`_stored_positions`): at 1M participants the stored
    rows of all 10.6M contacts and their codes at once were the re-upload's ingest peak. A stored row of a
    programme not owned by the uploader refuses the upload as :func:`_refuse_stored_of_others` does with
    the stored rows of every id (read again then, once).
    """
    key = list(table_schema(table).primary_key)
    cols = list(dict.fromkeys([*key, "programme_id", ROW_HASH]))
    n = len(frame)
    found = np.zeros(n, dtype=bool)
    same = np.zeros(n, dtype=bool)
    ids, part = _id_parts(frame[key[0]])
    release_freed_memory()  # the codes _id_parts and the row hashes made and freed, before the first part is read
    owners: dict[str, str] = {}
    checked = table == "programmes"  # programmes were checked by _check_programmes
    for p, start in enumerate(range(0, len(ids), _MATCH_IDS)):
        narrow = _fetch(run.conn, table, key[0], ids.slice(start, _MATCH_IDS).to_pylist(), cols)
        if not len(narrow):
            continue
        if not checked:
            unknown = [q for q in narrow["programme_id"].unique().tolist() if q not in owners and not pd.isna(q)]
            owners.update(_owners(run.conn, unknown) if unknown else {})
            if not _all_owned(narrow["programme_id"], owners, run.provider):
                # rare: decided on every id's stored rows, as one read of them did (the refusal names the same rows)
                _refuse_stored_of_others(run, table, frame, _fetch(run.conn, table, key[0], ids.to_pylist(), cols))
                checked = True
        rows = np.flatnonzero(part == p)
        where = _stored_positions(frame[key].take(rows), narrow, key)
        hit = where >= 0
        found[rows[hit]] = True
        stored_hash = narrow[ROW_HASH].iloc[where[hit]].reset_index(drop=True).astype("Int64")
        same[rows[hit]] = (stored_hash == pd.array(hashes[rows[hit]], dtype="Int64")).fillna(False).to_numpy(bool)
        del narrow, rows, where, hit, stored_hash
    return found, same


def _key_codes(mine: pd.Series, theirs: pd.Series) -> tuple[np.ndarray, np.ndarray, int]:
    """Codes of one key column's values on both sides: equal values, equal codes (a missing value is a value).

    Returns ``(mine_codes, their_codes, width)``: codes in ``[0, width)`` of the upload's distinct values
    (``width - 1`` for a missing value); a stored value the upload does not have is -1 (it matches no
    upload row). Only the upload's values are encoded and the stored ones looked up among its distinct
    values: dates and integers by pandas, text in Arrow (no Python object per row).
    """
    import pyarrow.compute as pc

    from evalkit.validation.cells import dictionary_codes

    ours, other = mine.dtype, theirs.dtype
    if isinstance(ours, np.dtype) and isinstance(other, np.dtype) and ours == other and ours.kind in "Mmiu":
        codes, uniques = pd.factorize(mine.to_numpy(), use_na_sentinel=True)
        width = len(uniques) + 1
        mine_codes = codes.astype(np.int64, copy=False)
        mine_codes[mine_codes < 0] = width - 1  # missing matches missing, as in a merge
        their_codes = pd.Index(uniques).get_indexer(theirs.to_numpy()).astype(np.int64, copy=False)
        their_codes[theirs.isna().to_numpy() & (width - 1 in mine_codes)] = width - 1
        return mine_codes, their_codes, width
    # chunk by chunk onto one dictionary: an Arrow column of many chunks is not copied into one array
    mine_codes, dictionary = dictionary_codes(_arrow_strings(mine))
    width = len(dictionary) + 1
    mine_codes[mine_codes < 0] = width - 1
    stored = _chunked(_arrow_strings(theirs))
    found = pc.index_in(stored, value_set=dictionary.cast(stored.type))
    their_codes = pc.fill_null(found, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    their_codes[pc.is_null(stored).to_numpy(zero_copy_only=False)] = width - 1
    return mine_codes, their_codes, width


def _chunked(values: Any) -> Any:
    """An Arrow array as a chunked array (a chunked one as it is)."""
    import pyarrow as pa

    return values if isinstance(values, pa.ChunkedArray) else pa.chunked_array([values])


def _stored_positions(frame: pd.DataFrame, stored: pd.DataFrame, key: list[str]) -> np.ndarray:
    """For each row of ``frame``, the position of the row of ``stored`` with the same ``key`` (-1: none).

    What an inner ``merge`` on ``key`` finds when keys are unique on both sides, on integers: each key
    column is coded by :func:`_key_codes`, the codes combined into one integer per row (mixed radix; made
    dense again with ``pandas.factorize`` only if the next column could overflow it), and the stored
    integers sorted and searched.
    """
    n = len(frame)
    mine, theirs, span = _key_codes(frame[key[0]], stored[key[0]])
    for c in key[1:]:
        a, b, width = _key_codes(frame[c], stored[c])
        if span * width >= 1 << 62:  # re-code the combined values densely (upload's codes first)
            lost = theirs < 0
            both, uniques = pd.factorize(np.concatenate([mine, theirs[~lost]]))
            mine = both[:n].astype(np.int64)
            theirs[~lost] = both[n:]
            span = len(uniques)
        lost = (theirs < 0) | (b < 0)
        # in place, and each column's codes freed before the next is coded: at 10.6M stored contacts each of
        # these arrays is 85 MB, and the re-upload's peak was here
        mine *= width
        mine += a
        theirs *= width
        theirs += b
        theirs[lost] = -1
        del a, b, lost
        span *= width
    kept = np.flatnonzero(theirs >= 0)
    order = kept[np.argsort(theirs[kept], kind="stable")]
    del kept
    ranked = theirs[order]
    del theirs
    at = np.searchsorted(ranked, mine)
    at[at == len(ranked)] = 0
    hit = (ranked[at] == mine) if len(ranked) else np.zeros(n, dtype=bool)
    del mine, ranked
    return np.where(hit, order[at] if len(order) else -1, -1).astype(np.int64)


def _all_owned(programme_ids: pd.Series, owners: Mapping[str, str], provider: str) -> bool:
    """Whether every row's programme (none missing) is owned by ``provider``: then no stored row is foreign.

    Decided on the distinct programme ids, mapped as the rows would be; mapping every stored row's programme
    (at 10.6M contacts, a Python string per row first) is left to the rare upload where this is not so.
    """
    distinct = pd.Series(programme_ids.unique(), dtype=object)
    if distinct.isna().any():
        return False
    return all(owners.get(p) == provider for p in distinct)  # a few programmes, not a row each


def _upsert(run: _Run, table: str, frame: pd.DataFrame) -> None:
    """Insert new rows, audit and update changed ones, count unchanged ones (vectorised).

    Rows are matched to stored rows by natural key on narrow frames (key, programme, hash): a row
    whose stored ``row_hash`` equals its own is unchanged and never read back; the others are
    read whole and compared value by value. Every written row gets its ``row_hash``; unchanged
    rows whose stored hash was missing or out of date get theirs, so the next re-upload skips them.
    """
    schema = table_schema(table)
    key = list(schema.primary_key)
    hashes = row_hashes(frame, table)
    full = None
    if hashes is None:  # every column read at once, to compare every matched row by value
        full = _fetch(run.conn, table, key[0], frame[key[0]].dropna().unique().tolist())
        if len(full) and table != "programmes":  # programmes were checked by _check_programmes
            _refuse_stored_of_others(run, table, frame, full)
        found = (_stored_positions(frame, full, key) >= 0) if len(full) else np.zeros(len(frame), dtype=bool)
        same = np.zeros(len(frame), dtype=bool)
    else:
        found, same = _stored_matches(run, table, frame, hashes)
    data_cols = [c for c in frame.columns if c not in key and c not in PROVENANCE_COLUMNS]
    # the column shares the hashes' memory (``pd.array(hashes, dtype="Int64")`` copied them, and so does assigning
    # an array rather than a Series: 85 MB at 10.6M rows)
    frame = frame.assign(**{ROW_HASH: pd.Series(pd.arrays.IntegerArray(hashes, np.zeros(len(hashes), dtype=bool)),
                                                index=frame.index, copy=False)
                            if hashes is not None else pd.array([pd.NA] * len(frame), dtype="Int64")})
    n = len(frame)
    new_mask = ~found
    to_compare = np.flatnonzero(found & ~same)
    del found, same
    changed_mask = np.zeros(n, dtype=bool)
    # the rows to compare are read back, compared, audited and updated a part at a time, as many parts as the
    # upload needs: at a million participants a re-upload that changed 9.4M contacts reached 17.0 GiB at once
    now = datetime.now(UTC)
    for start in range(0, len(to_compare), _COMPARE_ROWS):
        part = to_compare[start:start + _COMPARE_ROWS]
        changed_mask[part[_compare_and_update(run, table, frame.iloc[part], full, data_cols, now,
                                             hashed=hashes is not None)]] = True

    new = frame.loc[new_mask] if not new_mask.all() else frame
    if len(new):
        # in natural-key order: the unique index is then filled front to back rather than at random
        # places (pseudonyms are random), a third less work for SQLite; row ids are internal
        _bulk_insert(run.conn, table, new, order=_key_order(new, key),
                     constants={"upload_id": run.upload_id, "created_upload_id": run.upload_id})

    run.count_by_programme(frame["programme_id"], rows_inserted=new_mask, rows_updated=changed_mask,
                           rows_unchanged=~new_mask & ~changed_mask)
    run.counts["inserted"][table] = int(new_mask.sum())
    run.counts["updated"][table] = int(changed_mask.sum())
    run.counts["unchanged"][table] = int(n - new_mask.sum() - changed_mask.sum())
    run.accepted_keys[table] = frame[key]


def _any_differs(new: pd.Series, old: pd.Series, differ: np.ndarray | None = None) -> bool:
    """Whether storing ``new`` over ``old`` (aligned) changes any stored value: ``old`` is kept when not.

    ``differ``: :func:`~evalkit.store._frames.differs` of the two, when computed already; else it is, on the
    values of categorical columns (provenance comes as categories, stored values as strings). Numbers equal but
    for their sign (``0.0`` and ``-0.0``, equal to ``==``) count as differing: storing one over the other is not
    nothing.
    """
    if differ is None:
        new, old = (s.astype("string") if isinstance(s.dtype, pd.CategoricalDtype) else s for s in (new, old))
        differ = differs(new, old)
    if differ.any():
        return True
    if new.dtype.kind != "f" or old.dtype.kind != "f":
        return False
    a, b = new.to_numpy(dtype=float, na_value=np.nan), old.to_numpy(dtype=float, na_value=np.nan)
    return bool((np.signbit(a) != np.signbit(b))[~np.isnan(a) & ~np.isnan(b)].any())


def _compare_and_update(run: _Run, table: str, mine: pd.DataFrame, full: pd.DataFrame | None,
                        data_cols: list[str], now: datetime, *, hashed: bool) -> np.ndarray:
    """Compare upload rows with their stored rows by value; audit and update those that changed.

    ``mine`` are upload rows whose key is stored and whose row hash (column ``row_hash``; missing when the
    rows are not ``hashed``) did not show them unchanged. Their stored rows are taken from ``full`` (every
    stored row the upload touches, when read already) or read for their ids. A row equal by value whose stored
    hash is missing or stale gets the upload's hash. Each changed row's stored values go to the audit history
    (changed at ``now``), then the stored row is updated. Returns which rows of ``mine`` changed.
    """
    key = list(table_schema(table).primary_key)
    ids = mine[key[0]].dropna().unique()
    # only the stored rows of this part's ids (a part of ``full`` rather than all of it, merged with every part)
    stored = _fetch(run.conn, table, key[0], ids.tolist()) if full is None \
        else full[full[key[0]].isin(ids).to_numpy(dtype=bool)]
    del ids
    merged = mine.merge(stored.rename(columns={c: f"{c}__old" for c in stored.columns if c not in key}), on=key,
                        how="left")  # upload order kept: one stored row per key
    del stored
    kept = [c for c in run.absent.get(table, ()) if c in data_cols]
    if kept:
        # the file lacks these columns: a stored row keeps its values (the upload's cells are not blanks
        # the provider typed), and its hash is that of the row as it will be stored
        merged = merged.assign(**{c: merged[f"{c}__old"] for c in kept})
        if hashed:
            merged[ROW_HASH] = pd.array(row_hashes(merged, table), dtype="Int64")
    differ = np.zeros(len(merged), dtype=bool)
    moved: set[str] = set()  # the data columns that differ in at least one row
    for c in data_cols:
        column_differs = differs(merged[c], merged[f"{c}__old"])
        if _any_differs(merged[c], merged[f"{c}__old"], column_differs):
            moved.add(c)
        differ |= column_differs
        del column_differs
    same_values, changed = merged[~differ], merged[differ]
    del merged
    if hashed and len(same_values):  # equal, but the stored hash is missing or stale: store it
        _bulk_update(run.conn, table, pd.DataFrame({ROW_HASH: same_values[ROW_HASH].to_numpy(),
                                                    ROW_ID: same_values["row_id__old"].to_numpy()}))
    del same_values
    if len(changed):  # the changed rows, with their stored values as ``<column>__old``
        old_cols = [c.name for c in T.canonical[table].columns]
        old = changed[[c if c in key else f"{c}__old" for c in old_cols]]
        old.columns = old_cols
        audit = pd.DataFrame({
            "table_name": table,
            "row_id": old["row_id"].to_numpy(),
            "row_key": json_rows(old[key], table),
            "old_row": json_rows(old, table),
            "new_upload_id": run.upload_id,
        })
        del old
        # through the driver, as rows are inserted (COPY on PostgreSQL), not a parameter dict per row compiled by
        # SQLAlchemy; the time as SQLAlchemy's DateTime would have bound it, made once
        _bulk_insert(run.conn, T.audit_history.name, audit, constants={"changed_at": _bound_time(run.conn, now)})
        del audit
        # only the columns with a new value in some changed row (and the upload id): the database then neither
        # rewrites the index entries nor checks the foreign keys of the others (on SQLite, a third of the time)
        set_cols = [c for c in mine.columns if c not in key
                    and (c in moved if c in data_cols else _any_differs(changed[c], changed[f"{c}__old"]))]
        _bulk_update(run.conn, table,
                     changed[set_cols].assign(upload_id=run.upload_id, row_id=changed["row_id__old"]))
    return differ


def _quarantine_records(frame: pd.DataFrame, table: str, upload_id: int) -> list[dict[str, Any]]:
    meta = {c: frame[c] if c in frame.columns else pd.Series(pd.NA, index=frame.index)
            for c in (*PROVENANCE_COLUMNS, "reasons")}
    body = frame.drop(columns=[c for c in (*PROVENANCE_COLUMNS, "reasons") if c in frame.columns])
    body = body.astype(object).where(body.notna(), None).astype("string")
    if body.shape[1] == 0:  # no column of the table was found (e.g. every header unknown): an empty row each
        text = ["{}"] * len(body)
    else:
        text = body.to_json(orient="records", lines=True, force_ascii=False).splitlines() if len(body) else []
    src_row = pd.to_numeric(meta[SOURCE_ROW].astype(object).where(meta[SOURCE_ROW].notna(), np.nan))
    out = pd.DataFrame({
        "upload_id": upload_id,
        "table_name": table,
        "source_file": meta[PROVENANCE_COLUMNS[0]].astype("string"),
        "source_sheet": meta[PROVENANCE_COLUMNS[1]].astype("string"),
        "source_row": src_row.astype("Int64"),
        "reasons": meta["reasons"].astype("string").fillna("invalid row"),
        "row_json": text,
        "status": "open",
    })
    return records(out, "quarantine")


def _test_pause_in_tx() -> None:
    """Fault-injection hook: sleep ``EVALKIT_TEST_PAUSE_IN_TX`` seconds with every row written but not committed.

    Unset (always, outside tests) it does nothing. ``tests/test_faults.py`` sets it, waits for the line below
    on stderr and kills the process (SIGKILL) to prove that an interrupted upload leaves the database exactly
    as it was.
    """
    seconds = os.environ.get("EVALKIT_TEST_PAUSE_IN_TX")
    if seconds:
        sys.stderr.write("evalkit ingest: paused inside the transaction (EVALKIT_TEST_PAUSE_IN_TX)\n")
        sys.stderr.flush()
        time.sleep(float(seconds))


def _ingest_tx(
    conn: sa.Connection,
    valid: dict[str, pd.DataFrame],
    quarantined: dict[str, pd.DataFrame],
    *,
    provider: str,
    file_name: str,
    sha256: str,
    user: str | None,
    fingerprint: str,
    resolves: int | None,
    progress: Progress | None,
    absent: Mapping[str, tuple[str, ...]] | None = None,
) -> UploadSummary:
    stored_check = conn.execute(sa.select(T.store_meta.c.value).where(T.store_meta.c.key == _KEY_CHECK)).scalar()
    if stored_check is None:
        conn.execute(T.store_meta.insert().values(key=_KEY_CHECK, value=fingerprint))
    elif stored_check != fingerprint:
        raise _different_secret("this database")
    if resolves is not None:
        earlier = conn.execute(sa.select(T.uploads.c.provider, T.uploads.c.status)
                               .where(T.uploads.c.upload_id == resolves)).one_or_none()
        if earlier is None:
            raise StoreError(f"there is no upload {resolves} to re-submit corrections for")
        if earlier.provider != provider or earlier.status != "stored":
            raise StoreError(
                f"upload {resolves} is by {earlier.provider!r} with status {earlier.status!r}; corrections can "
                f"only be re-submitted by the same provider for a stored upload"
            )
    upload_id = int(conn.execute(
        T.uploads.insert().values(
            provider=provider, uploaded_at=datetime.now(UTC), file_name=file_name, sha256=sha256,
            user_name=user, status="in_progress", rows_accepted=0, rows_inserted=0, rows_updated=0,
            rows_unchanged=0, rows_quarantined=0, rows_resolved=0, resubmits_upload_id=resolves,
        ).returning(T.uploads.c.upload_id)
    ).scalar_one())
    run = _Run(conn, provider, upload_id, progress, sum(len(f) for f in valid.values()), absent)
    _check_programmes(run, valid)
    for table in TABLE_NAMES:
        frame = valid.get(table)
        if frame is None:
            continue
        frame = _drop_duplicate_keys(run, table, frame)
        frame = _check_references(run, table, frame)
        release_freed_memory()  # the hash tables of those checks (at 1M contacts, 0.4 GB), before the stored rows
        _upsert(run, table, frame)
        release_freed_memory()  # the stored rows read to compare with (at 1M contacts, 0.7 GB freed)
        run.tick(len(valid[table]), f"stored {table}")

    quarantine_counts: dict[str, int] = {}
    for table in TABLE_NAMES:
        parts = ([quarantined[table]] if table in quarantined else []) + run.store_quarantine.get(table, [])
        parts = [p for p in parts if len(p)]
        if not parts:
            continue
        frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
        conn.execute(T.quarantine.insert(), _quarantine_records(frame, table, upload_id))
        quarantine_counts[table] = len(frame)
        run.count_by_programme(frame["programme_id"] if "programme_id" in frame.columns else [None] * len(frame),
                               rows_quarantined=1)

    resolved = 0
    if resolves is not None:
        q = T.quarantine
        present = sorted(set(valid) | set(quarantined))
        resolved = conn.execute(
            sa.update(q)
            .where(q.c.upload_id == resolves, q.c.status == "open", q.c.table_name.in_(present))
            .values(status="resolved", resolved_upload_id=upload_id)
        ).rowcount or 0
        resolved_json = conn.execute(sa.select(q.c.row_json).where(q.c.resolved_upload_id == upload_id,
                                                                   q.c.status == "resolved")).scalars().all()
        run.count_by_programme([json.loads(r).get("programme_id") for r in resolved_json], rows_resolved=1)

    if quarantine_counts:  # the same invalid row sent again: only the newest entry stays open
        q, u, qn = T.quarantine, T.uploads, T.quarantine.alias("qn")
        same_row = sa.select(qn.c.quarantine_id).where(
            qn.c.upload_id == upload_id, qn.c.table_name == q.c.table_name, qn.c.row_json == q.c.row_json
        )
        conn.execute(
            sa.update(q)
            .where(q.c.status == "open", q.c.upload_id != upload_id,
                   q.c.upload_id.in_(sa.select(u.c.upload_id).where(u.c.provider == provider)),
                   sa.exists(same_row))
            .values(status="superseded", resolved_upload_id=upload_id)
        )

    _test_pause_in_tx()
    accepted = {t: run.counts["inserted"][t] + run.counts["updated"][t] + run.counts["unchanged"][t]
                for t in run.counts["inserted"]}
    _store_programme_counts(conn, upload_id, provider, run.programme_counts)
    summary = UploadSummary(
        upload_id=upload_id, provider=provider, file_name=file_name, accepted=_frozen(accepted),
        inserted=_frozen(run.counts["inserted"]), updated=_frozen(run.counts["updated"]),
        unchanged=_frozen(run.counts["unchanged"]), quarantined=_frozen(quarantine_counts), resolved=resolved,
    )
    conn.execute(
        sa.update(T.uploads).where(T.uploads.c.upload_id == upload_id).values(
            status="stored", rows_accepted=summary.total_accepted, rows_inserted=summary.total_inserted,
            rows_updated=summary.total_updated, rows_unchanged=summary.total_unchanged,
            rows_quarantined=summary.total_quarantined, rows_resolved=resolved,
        )
    )
    return summary


def _store_programme_counts(conn: sa.Connection, upload_id: int, provider: str, counts: list[pd.DataFrame]) -> None:
    """One ``upload_programmes`` row per programme of the uploading provider that the upload's rows name, with its
    part of each count.

    Rows naming another provider's programme, or no stored programme, are counted in the upload's totals only:
    they do not make the upload visible to those granted that programme.
    """
    rows = pd.concat([c for c in counts if len(c)], ignore_index=True) if any(len(c) for c in counts) else None
    if rows is None:
        return
    cols = [c for c in T.UPLOAD_COUNTS if c != "rows_accepted"]
    per = rows.dropna(subset=["programme_id"]).reindex(columns=["programme_id", *cols]).fillna(
        {c: 0 for c in cols}).groupby("programme_id", sort=True)[cols].sum().astype(np.int64)
    p = T.canonical["programmes"]
    own = conn.execute(sa.select(p.c.programme_id).where(p.c.programme_id.in_(per.index.tolist()),
                                                         p.c.provider == provider)).scalars().all()
    per = per.loc[per.index.isin(own)]
    if per.empty:
        return
    per["rows_accepted"] = per["rows_inserted"] + per["rows_updated"] + per["rows_unchanged"]
    per = per.reset_index().assign(upload_id=upload_id)
    conn.execute(T.upload_programmes.insert(), per[["upload_id", "programme_id", *T.UPLOAD_COUNTS]]
                 .astype(object).to_dict(orient="records"))


def ingest(
    result: ValidationResult,
    store: Store,
    *,
    provider: str,
    file_name: str,
    sha256: str,
    user: str | None = None,
    secret: bytes | None = None,
    progress: Progress | None = None,
    resolves: int | None = None,
) -> UploadSummary:
    """Store one validated upload in one transaction.

    Parameters
    ----------
    result
        What validation produced for the file: valid canonical frames
        (``tables``) and invalid raw rows with reasons (``quarantine``). A
        stored row that an upload row updates keeps its values in the columns
        the file did not have (``result.absent_columns``).
    store
        An open store.
    provider
        The uploading organisation; must equal ``programmes.provider`` of every
        programme the upload touches.
    file_name, sha256
        The provider's file name and the SHA-256 of its bytes (:func:`sha256_file`).
    user
        Who uploaded (free text, optional).
    secret
        Pseudonymisation secret (default :func:`~evalkit.pseudonymise.load_secret`).
    progress
        Called as ``progress(fraction_done, message)`` after each table.
    resolves
        Upload id whose open quarantined rows this upload corrects (see :func:`resubmit`).

    Returns
    -------
    UploadSummary

    Raises
    ------
    IdentifierColumnsError
        A column looks like a direct identifier; nothing was stored.
    ProviderConflict
        The upload would touch another provider's rows; nothing was stored.
    StoreError
        The database failed (locked, unreachable, refused); nothing was stored.
    ValueError
        The upload holds no rows, or ``provider`` is blank.
    """
    provider = (provider or "").strip()
    return ingest_parts({provider: result}, store, file_name=file_name, sha256=sha256, user=user, secret=secret,
                        progress=progress, resolves=resolves)[provider]


def ingest_parts(
    parts: Mapping[str, ValidationResult],
    store: Store,
    *,
    file_name: str,
    sha256: str,
    user: str | None = None,
    secret: bytes | None = None,
    progress: Progress | None = None,
    resolves: int | None = None,
) -> dict[str, UploadSummary]:
    """Store several providers' parts of one upload, one upload record each, all in **one transaction**.

    A file holding several providers' programmes is split (:func:`split_raw_by_provider`) and each part
    checked (:func:`check_upload`); storing the parts with :func:`ingest` one after another would leave the
    first parts stored when a later one is refused or fails while being written. Here either every part is
    stored or none is: the rows, the upload register and the audit history are then as before.

    Parameters
    ----------
    parts
        Per provider, what :func:`check_upload` returned for its part.
    store, file_name, sha256, user, secret, resolves
        As for :func:`ingest` (the same file name and SHA-256 for every part).
    progress
        Called as ``progress(fraction_done, message)`` over all parts (the message names the provider when
        there are several).

    Returns
    -------
    dict[str, UploadSummary]
        Per provider, in the order of ``parts``.

    Raises
    ------
    IdentifierColumnsError, ProviderConflict, StoreError, ValueError
        As for :func:`ingest`, for any part; nothing of any part was stored.
    """
    providers = {(who or "").strip(): result for who, result in parts.items()}
    if "" in providers:
        raise ValueError("provider must be a non-blank organisation name")
    for result in providers.values():
        refuse_identifier_columns(result)  # a column left out for its identifying header refuses the upload too
    secret = secret_for_store(store) if secret is None else secret
    prepared: dict[str, tuple[dict[str, pd.DataFrame], dict[str, pd.DataFrame], Mapping[str, tuple[str, ...]]]] = {}
    for provider, result in providers.items():
        release_freed_memory()  # what validation and the caller freed (an upload's raw frames): not kept in the heap
        valid, quarantined = _prepare(result, provider=provider, secret=secret)
        release_freed_memory()  # and the pseudonymised copies _prepare made and dropped
        if not valid and not quarantined:
            raise ValueError(f"{file_name}: the upload holds no rows; nothing was stored" if len(providers) == 1
                             else f"{file_name}: the rows of {provider} are empty; nothing was stored")
        prepared[provider] = (valid, quarantined, result.absent_columns)
    if not prepared:
        raise ValueError(f"{file_name}: the upload holds no rows; nothing was stored")
    fingerprint = key_check(secret)
    n = len(prepared)

    def _all(conn: sa.Connection) -> dict[str, UploadSummary]:
        out = {}
        for i, (provider, (valid, quarantined, absent)) in enumerate(prepared.items()):
            def part_progress(frac: float, msg: str, i: int = i, provider: str = provider) -> None:
                if progress:
                    progress((i + frac) / n, f"{provider}: {msg}" if n > 1 else msg)

            out[provider] = _ingest_tx(
                conn, valid, quarantined, provider=provider, file_name=file_name, sha256=sha256, user=user,
                fingerprint=fingerprint, resolves=resolves, progress=part_progress if progress else None,
                absent=absent,
            )
        return out

    return store.transaction(_all)


def resubmit(
    result: ValidationResult,
    store: Store,
    *,
    upload_id: int,
    provider: str,
    file_name: str,
    sha256: str,
    user: str | None = None,
    secret: bytes | None = None,
    progress: Progress | None = None,
) -> UploadSummary:
    """Ingest corrected rows of an earlier upload's quarantine and mark its open entries resolved.

    Re-submit the **whole** corrected export (``evalkit quarantine -o``): every
    open quarantine entry of ``upload_id`` for the tables in the corrected file
    is marked resolved by the new upload; corrected rows that still fail are
    quarantined again under the new upload, so nothing is lost.
    """
    return ingest(result, store, provider=provider, file_name=file_name, sha256=sha256, user=user,
                  secret=secret, progress=progress, resolves=int(upload_id))


# --------------------------------------------------------------------------- rollback


def _rollback_tx(conn: sa.Connection, upload_id: int, scope: Scope) -> RollbackSummary:
    u = T.uploads
    row = conn.execute(sa.select(u.c.provider, u.c.status).where(u.c.upload_id == upload_id)).one_or_none()
    if row is None:
        raise StoreError(f"there is no upload {upload_id}")
    if scope.role == "provider" and row.provider not in scope.providers:
        raise AccessDenied(f"upload {upload_id} belongs to another provider")
    if scope.role not in ("provider", "admin"):
        raise AccessDenied(f"the {scope.role} role may not roll back uploads")
    if row.status != "stored":
        raise StoreError(f"upload {upload_id} cannot be rolled back: its status is {row.status!r}")
    newer = conn.execute(
        sa.select(u.c.upload_id)
        .where(u.c.provider == row.provider, u.c.upload_id > upload_id, u.c.status == "stored")
        .order_by(u.c.upload_id.desc())
    ).scalars().all()
    if newer:
        raise StoreError(
            f"upload {upload_id} is not {row.provider}'s newest upload: roll back newest first "
            f"(upload{'s' if len(newer) > 1 else ''} {', '.join(map(str, newer))} first)"
        )
    restored: dict[str, int] = {}
    a = T.audit_history
    audit = conn.execute(
        sa.select(a.c.table_name, a.c.old_row).where(a.c.new_upload_id == upload_id).order_by(a.c.audit_id)
    ).fetchall()
    if audit:
        frame = pd.DataFrame(audit, columns=["table_name", "old_row"])
        for table, part in frame.groupby("table_name", sort=False):
            old = from_json_rows(part["old_row"], str(table))
            if ROW_HASH not in old.columns:  # audited before row hashes: the restored row's hash is not known
                old[ROW_HASH] = pd.array([pd.NA] * len(old), dtype="Int64")
            _bulk_update(conn, str(table), old)
            restored[str(table)] = len(old)
    removed: dict[str, int] = {}
    for table in reversed(TABLE_NAMES):
        t = T.canonical[table]
        n = conn.execute(sa.delete(t).where(t.c.created_upload_id == upload_id)).rowcount or 0
        if n:
            removed[table] = n
    q = T.quarantine
    q_removed = conn.execute(sa.delete(q).where(q.c.upload_id == upload_id)).rowcount or 0
    reopened = conn.execute(
        sa.update(q).where(q.c.resolved_upload_id == upload_id).values(status="open", resolved_upload_id=None)
    ).rowcount or 0
    conn.execute(sa.update(u).where(u.c.upload_id == upload_id)
                 .values(status="rolled_back", rolled_back_at=datetime.now(UTC)))
    return RollbackSummary(upload_id, _frozen(removed), _frozen(restored), q_removed, reopened)


def rollback(store: Store, upload_id: int, *, scope: Scope | None = None) -> RollbackSummary:
    """Undo one upload exactly, in one transaction.

    Rows it inserted are deleted, rows it updated get back their previous
    values (and provenance and upload ids) from ``audit_history``, its
    quarantined rows are removed, quarantine entries it resolved are reopened,
    and the upload is marked ``rolled_back`` (the record itself is kept).

    Only a provider's newest stored upload may be rolled back (roll back newest
    first): anything else raises :class:`StoreError` naming the uploads to roll
    back before it. ``scope`` (default admin) must be an admin, or a provider
    rolling back its own upload.
    """
    scope = scope or Scope.admin()
    return store.transaction(lambda conn: _rollback_tx(conn, int(upload_id), scope))
