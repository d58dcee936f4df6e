"""Assemble the canonical tables from the generator's arrays, typed as canonical frames.

One function per table. Columns follow the table's schema order and take the
canonical dtypes of :mod:`evalkit.canonical` (``string``, ``Int64``,
``float64``, ``datetime64[ns]``, ``boolean``); a blank is a missing value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from evalkit.canonical import DTYPES
from evalkit.generator import _parameters as par
from evalkit.generator._contacts import Contacts, GroupSessions
from evalkit.generator._measures import MAX_ITEMS, Measures, timepoint_names
from evalkit.generator._parameters import Programme
from evalkit.generator._referrals import Referrals
from evalkit.generator._sampling import MISSING
from evalkit.schemas import table_schema


def labels(codes: np.ndarray, names: Sequence[str] | np.ndarray) -> pd.arrays.ArrowStringArray:
    """Strings ``names[codes]`` as a ``string`` array; code :data:`MISSING` gives a blank."""
    codes = np.asarray(codes)
    mask = codes < 0
    dictionary = pa.array(list(names), type=pa.string())
    indices = pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask)
    return pd.arrays.ArrowStringArray(pa.DictionaryArray.from_arrays(indices, dictionary).cast(pa.string()))


def _dates(days: np.ndarray) -> np.ndarray:
    days = np.asarray(days, dtype=np.int64)
    out = days.astype("datetime64[D]").astype("datetime64[ns]")
    out[days < 0] = np.datetime64("NaT")
    return out


def _typed(values: Any, kind: str, n: int) -> Any:
    """Convert one column to the canonical dtype of schema type ``kind``."""
    if values is None:
        return pd.array([pd.NA] * n if kind != "date" else [pd.NaT] * n, dtype=DTYPES[kind])
    if kind == "string":
        return values if isinstance(values, pd.api.extensions.ExtensionArray) else pd.array(values, dtype="string")
    if kind == "integer":
        v = np.asarray(values, dtype=np.int64)
        return pd.arrays.IntegerArray(v, v < 0)
    if kind == "boolean":
        v = np.asarray(values, dtype=np.int64)
        return pd.arrays.BooleanArray(v == 1, v < 0)
    if kind == "date":
        return _dates(values)
    return np.asarray(values, dtype=np.float64)


def frame(table: str, columns: Mapping[str, Any], n: int) -> pd.DataFrame:
    """A canonical frame of ``table`` with the given columns (others blank), in schema order."""
    schema = table_schema(table)
    unknown = set(columns) - set(schema.field_names)
    if unknown:
        raise ValueError(f"table {table!r} has no column(s) {sorted(unknown)}")
    data = {f.name: _typed(columns.get(f.name), f.type, n) for f in schema.fields}
    return pd.DataFrame(data, index=pd.RangeIndex(n))


def participant_ids(n: int) -> np.ndarray:
    """Pseudonymous participant ids ``M0001``, ``M0002``, ... (wider for large n)."""
    width = max(4, len(str(n)))
    if n == 0:
        return np.zeros(0, dtype=object)
    return np.strings.add("M", np.strings.zfill(np.arange(1, n + 1).astype(str), width)).astype(object)


def programmes_frame(programmes: tuple[Programme, ...]) -> pd.DataFrame:
    """The programmes table."""
    names = [f.name for f in table_schema("programmes").fields]
    cols = {name: [getattr(p, name) for p in programmes] for name in names if name != "planned_sessions"}
    cols["planned_sessions"] = [MISSING if p.planned_sessions is None else p.planned_sessions for p in programmes]
    return frame("programmes", cols, len(programmes))


def _barrier_text(bits: np.ndarray, recorded: np.ndarray) -> pd.arrays.ArrowStringArray:
    combos = ["none"] + [
        ";".join(b for i, b in enumerate(par.BARRIERS) if mask >> i & 1) for mask in range(1, 1 << len(par.BARRIERS))
    ]
    return labels(np.where(recorded, bits, MISSING), combos)


def participants_frame(programmes: tuple[Programme, ...], ref: Referrals, ids: np.ndarray, first_contact: np.ndarray,
                       end_day: np.ndarray, ending: np.ndarray) -> pd.DataFrame:
    """The participants table (per-participant arrays; blanks as :data:`MISSING`)."""
    n = len(ref)
    prog_ids = [p.programme_id for p in programmes]
    cols = {
        "participant_id": pd.array(ids, dtype="string"),
        "programme_id": labels(ref.programme, prog_ids),
        "referral_date": ref.referral_day,
        "referral_source": labels(ref.source, par.REFERRAL_SOURCES),
        "referrer_trusted": ref.trusted_recorded,
        "perinatal_stage": labels(np.where(ref.antenatal, 0, 1), ("antenatal", "postnatal")),
        "weeks_pregnant": ref.weeks_pregnant,
        "baby_age_weeks": np.where(ref.baby_age_weeks < 0, np.nan, ref.baby_age_weeks),
        "offered_date": ref.offered_day,
        "took_up": ref.took_up.astype(np.int64),
        "decline_reason": labels(ref.decline_reason, par.DECLINE_REASONS),
        "first_contact_date": first_contact,
        "end_date": end_day,
        "ending": labels(ending, par.ENDINGS),
        "first_time_mother": ref.first_time_mother.astype(np.int64),
        "has_partner": ref.has_partner.astype(np.int64),
        "age_band": labels(ref.age_band, par.AGE_BANDS),
        "ethnicity": labels(ref.ethnicity, par.ETHNICITIES),
        "main_language": labels(ref.language, par.LANGUAGES),
        "interpreter": ref.interpreter.astype(np.int64),
        "deprivation_decile": ref.deprivation_decile,
        "prior_mh_support": ref.prior_mh_support.astype(np.int64),
        "professional_support": ref.professional_support.astype(np.int64),
        "professional_help_wanted": ref.help_wanted.astype(np.int64),
        "practical_barriers": _barrier_text(ref.barriers, ref.barriers_recorded),
        "format_offered": labels(ref.format_offered, par.FORMATS),
        "format_preferred": labels(ref.format_preferred, par.FORMATS),
        "peer_matched": labels(ref.peer_matched, ("yes", "no", "not_applicable")),
    }
    return frame("participants", cols, n)


def group_sessions_frame(programmes: tuple[Programme, ...], sessions: GroupSessions) -> pd.DataFrame:
    """The group sessions table."""
    cols = {
        "group_session_id": pd.array(sessions.session_id, dtype="string"),
        "programme_id": labels(sessions.programme, [p.programme_id for p in programmes]),
        "session_date": sessions.day,
        "facilitators": sessions.facilitators,
        "head_count": sessions.head_count,
    }
    return frame("group_sessions", cols, sessions.day.size)


def contacts_frame(programmes: tuple[Programme, ...], contacts: Contacts, participant_programme: np.ndarray,
                   ids: np.ndarray, sessions: GroupSessions) -> pd.DataFrame:
    """The contacts table."""
    cols = {
        "programme_id": labels(participant_programme[contacts.participant], [p.programme_id for p in programmes]),
        "participant_id": labels(contacts.participant, ids),
        "contact_date": contacts.day,
        "kind": labels(contacts.kind, par.CONTACT_KINDS),
        "status": labels(contacts.status, par.CONTACT_STATUSES),
        "duration_minutes": contacts.duration,
        "group_session_id": labels(contacts.session, sessions.session_id),
        "peer_supporter_id": labels(contacts.supporter, contacts.supporter_labels),
    }
    return frame("contacts", cols, contacts.day.size)


def measures_frame(programmes: tuple[Programme, ...], measures: Measures, participant_programme: np.ndarray,
                   ids: np.ndarray) -> pd.DataFrame:
    """The measures table (keyed item scores; ``total`` blank because items are present).

    The item columns are built as one float block from ``measures.items`` (no copy).
    """
    n = measures.day.size
    schema = table_schema("measures")
    numeric = [f"item_{k + 1}" for k in range(MAX_ITEMS)] + ["total"]
    out = pd.DataFrame(measures.items, columns=numeric, index=pd.RangeIndex(n), copy=False)
    max_review = int(measures.timepoint.max()) - 1 if n else 0
    leading = {
        "programme_id": labels(participant_programme[measures.participant], [p.programme_id for p in programmes]),
        "participant_id": labels(measures.participant, ids),
        "instrument": labels(measures.instrument, measures.instrument_codes),
        "completed_on": _dates(measures.day),
        "timepoint": labels(measures.timepoint, timepoint_names(max(max_review, 0))),
    }
    for loc, (name, values) in enumerate(leading.items()):
        out.insert(loc, name, values)
    if list(out.columns) != schema.field_names:
        raise ValueError(f"measures columns {list(out.columns)} differ from the schema {schema.field_names}")
    return out
