"""Experience questionnaires as analysis frames: the item catalogue, one row per response, and derived contexts."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd

from evalkit._resources import resource_dir
from evalkit.instruments import Instrument, builtin_instruments

VALENCE_ORDER: dict[str, int] = {"negative": 0, "ending": 1, "positive": 2}
"""Sort order of item valences: what can go wrong first."""
CONCERN_VALENCES: tuple[str, ...] = ("negative", "ending")
"""Valences whose endorsement is a concern (flagged, shown first, and a reason for a conversation)."""
PLANNED_ENDINGS: tuple[str, ...] = ("planned_ending", "moved_on_coping")
"""Endings counted as planned (agreed); ``unknown`` and blanks are neither; every other ending is unplanned."""
ENDING_WINDOW_DAYS = 28
"""Without contact rows: a questionnaire within this many days before ``end_date`` (or labelled ``end``) is 'at ending'."""
SESSION_LINK_DAYS = 14
"""A questionnaire belongs to the group session she attended that day, else her last one up to this many days before."""

CONTEXT_LABELS: dict[str, str] = {
    "trusted_referrer": "Referred by someone she trusts (or self-referred)",
    "practical_barrier": "Any practical barrier (time, travel, cost, childcare, health)",
    "wanted_professional_help": "Wanted professional help",
    "interpreter": "Needs an interpreter",
    "format_mismatch": "Preferred a different format from the one offered",
    "first_time_mother": "First-time mother",
    "prior_mh_support": "Had mental health support before",
    "professional_support": "Professional mental health support in place",
    "deprivation_decile": "Deprivation decile (per decile less deprived)",
    "peer_matched": "Matched with a peer (one-to-one)",
    "english_main_language": "English is her main language",
}
"""Contexts a provider can record (derived from the participants table), in plain English."""


def _registry(instruments: Mapping[str, Instrument] | None) -> Mapping[str, Instrument]:
    return builtin_instruments() if instruments is None else instruments


def experience_instruments(instruments: Mapping[str, Instrument] | None = None) -> dict[str, Instrument]:
    """Instruments of role ``experience`` whose file lists ``item_mechanisms`` (e.g. ``pex_group``)."""
    return {code: inst for code, inst in _registry(instruments).items()
            if inst.role == "experience" and inst.definition.get("item_mechanisms")}


@cache
def _wording() -> dict[str, dict[str, str]]:
    """Statements from ``schemas/wording/*.json`` (our own, free-to-use measures only): code -> item -> text."""
    out: dict[str, dict[str, str]] = {}
    folder = resource_dir("schemas") / "wording"
    if not folder.is_dir():
        return out
    for path in sorted(folder.glob("*.json")):
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            continue
        for code, block in (raw.get("instruments") or {}).items():
            out[code] = {str(k): str(v) for k, v in (block.get("statements") or {}).items()}
    return out


def statements(code: str) -> dict[int, str]:
    """The shipped statements of an experience instrument (item number -> text); empty when none ship."""
    return {int(k): v for k, v in _wording().get(code, {}).items()}


def item_catalogue(instruments: Mapping[str, Instrument] | None = None) -> pd.DataFrame:
    """One row per experience item: ``instrument``, ``item``, ``mechanism``, ``valence``, ``concern``, ``theme``, ``statement``.

    ``concern`` is true for negative-mechanism items and the ending item.
    """
    rows = []
    for code, inst in experience_instruments(instruments).items():
        text = statements(code)
        for m in inst.definition["item_mechanisms"]:
            item = int(m["item"])
            rows.append({"instrument": code, "item": item, "mechanism": str(m["code"]), "valence": str(m["valence"]),
                         "concern": str(m["valence"]) in CONCERN_VALENCES, "theme": str(m.get("mechanism", "")),
                         "statement": text.get(item, "")})
    frame = pd.DataFrame(rows, columns=["instrument", "item", "mechanism", "valence", "concern", "theme", "statement"])
    return frame.astype({"instrument": "string", "item": "int64", "mechanism": "string", "valence": "string",
                         "concern": "bool", "theme": "string", "statement": "string"})


def endorse_value(inst: Instrument) -> float:
    """The answer at or above which an item counts as endorsed (the file's ``endorsement``, default 3)."""
    return float((inst.definition.get("endorsement") or {}).get("value", 3))


# --------------------------------------------------------------------------- contexts
def _bool(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(pd.array([pd.NA] * len(frame), dtype="boolean"), index=frame.index)
    s = frame[col]
    if isinstance(s.dtype, pd.BooleanDtype):
        return s
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("boolean")
    text = s.astype("string").str.strip().str.lower()
    out = pd.Series(pd.array([pd.NA] * len(frame), dtype="boolean"), index=frame.index)
    out[text.isin(["yes", "y", "true", "1"]).fillna(False)] = True
    out[text.isin(["no", "n", "false", "0"]).fillna(False)] = False
    return out


def _text(frame: pd.DataFrame, col: str) -> pd.Series:
    if col not in frame.columns:
        return pd.Series(pd.array([pd.NA] * len(frame), dtype="string"), index=frame.index)
    return frame[col].astype("string").str.strip()


CONTEXT_SOURCES = ("referrer_trusted", "referral_source", "practical_barriers", "professional_help_wanted",
                   "interpreter", "format_offered", "format_preferred", "first_time_mother", "prior_mh_support",
                   "professional_support", "deprivation_decile", "peer_matched", "main_language")
"""The participants' columns :func:`derive_contexts` reads."""


def derive_contexts(participants: pd.DataFrame) -> pd.DataFrame:
    """The contexts of :data:`CONTEXT_LABELS` for each participant (nullable; same index).

    * ``trusted_referrer``: ``referrer_trusted`` yes, or a self-referral
      (the contract leaves ``referrer_trusted`` blank for self-referrals);
      no when she does not trust the referrer; blank when not asked.
    * ``practical_barrier``: any code in ``practical_barriers`` other than
      ``none``; no for ``none``; blank when not recorded.
    * ``format_mismatch``: ``format_preferred`` is a format other than the
      one offered (``no_preference`` is not a mismatch); blank when either is.
    * ``peer_matched``: yes / no; blank for group support (``not_applicable``).
    * The others are the participants' own yes/no fields, and the
      deprivation decile as a number (1 = most deprived).
    """
    p = participants
    out = pd.DataFrame(index=p.index)
    trusted = _bool(p, "referrer_trusted").copy()
    trusted[(_text(p, "referral_source") == "self").fillna(False)] = True
    out["trusted_referrer"] = trusted
    barriers = _text(p, "practical_barriers").str.lower().str.replace(r"\s+", "", regex=True)
    rest = barriers.str.replace(r"(^|;)none(?=;|$)", "", regex=True).str.strip(";")
    out["practical_barrier"] = (rest != "").where(barriers.notna()).astype("boolean")
    out["wanted_professional_help"] = _bool(p, "professional_help_wanted")
    out["interpreter"] = _bool(p, "interpreter")
    offered, preferred = _text(p, "format_offered"), _text(p, "format_preferred")
    mismatch = (preferred != offered) & (preferred != "no_preference")
    out["format_mismatch"] = mismatch.where(offered.notna() & preferred.notna()).astype("boolean")
    for col in ("first_time_mother", "prior_mh_support", "professional_support"):
        out[col] = _bool(p, col)
    dec = pd.to_numeric(p["deprivation_decile"], errors="coerce") if "deprivation_decile" in p.columns \
        else pd.Series(np.nan, index=p.index)
    out["deprivation_decile"] = dec.astype("float64")
    matched = _text(p, "peer_matched")
    out["peer_matched"] = (matched == "yes").where(matched.isin(["yes", "no"]).fillna(False)).astype("boolean")
    lang = _text(p, "main_language")
    out["english_main_language"] = (lang == "en").where(lang.notna()).astype("boolean")
    return out


def ending_class(ending: pd.Series) -> pd.Series:
    """``planned`` / ``unplanned`` / missing (``unknown`` or blank) for each ending code."""
    e = ending.astype("string")
    out = pd.Series(pd.array([pd.NA] * len(e), dtype="string"), index=e.index)
    known = e.notna() & (e != "unknown")
    out[known & e.isin(PLANNED_ENDINGS)] = "planned"
    out[known & ~e.isin(PLANNED_ENDINGS)] = "unplanned"
    return out


# --------------------------------------------------------------------------- responses
def _attended(tables: Mapping[str, pd.DataFrame], among: pd.Series) -> pd.DataFrame:
    """The attended contacts of participants ``among`` (distinct text ids): ``participant`` (the position of her id
    in ``among``), ``date`` and ``group_session_id`` (text).

    Her id is looked up in pyarrow, and only the kept rows of these columns are copied: at a million participants
    of issue #8's volume the contacts hold 10.6 million rows (1.3 GB), the experience questionnaires'
    participants' attended ones about 6 million, whose ids as text would take about 0.4 GB.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    c = tables.get("contacts")
    cols = {"participant": pd.Series([], dtype="int64"), "date": pd.Series([], dtype="datetime64[ns]"),
            "group_session_id": pd.Series([], dtype="string")}
    if c is None or len(c) == 0 or "participant_id" not in c.columns or "contact_date" not in c.columns:
        return pd.DataFrame(cols)
    keep = (c["status"].astype("string") == "attended").fillna(False).to_numpy(dtype=bool) \
        if "status" in c.columns else np.ones(len(c), dtype=bool)
    ids = pa.array(among.astype("string").array, type=pa.large_string())
    code = pc.index_in(pa.array(c["participant_id"].astype("string").array, type=pa.large_string()), value_set=ids)
    keep &= code.is_valid().to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(keep)
    # the session ids picked by the mask (the same rows as ``rows``): Arrow filters text a chunk at a time, where a
    # take by position first joins the chunks into one copy of the whole column (about 0.2 GB at a million)
    gs = c["group_session_id"][keep].astype("string").reset_index(drop=True) \
        if "group_session_id" in c.columns else pd.Series(pd.NA, index=range(rows.size), dtype="string")
    del keep
    out = pd.DataFrame({"participant": code.take(pa.array(rows)).to_numpy(zero_copy_only=False).astype(np.int64),
                        "date": pd.to_datetime(c["contact_date"].take(rows)).to_numpy(dtype="datetime64[ns]"),
                        "group_session_id": gs})
    return out.dropna(subset=["date"]).reset_index(drop=True)


def experience_measures(measures: pd.DataFrame | None,
                        instruments: Mapping[str, Instrument] | None = None) -> pd.DataFrame:
    """The rows of ``measures`` that answer an experience questionnaire: all :func:`experience_responses` reads of
    the measures (its code compared as there, trimmed and in lower case).

    A caller that needs nothing else of the measures (the mechanism profile, the quality signals, the worry about
    ending) can keep only these rows: at a million participants of issue #8's volume the other rows are about
    0.6 GB.

    Returns
    -------
    pandas.DataFrame
        Those rows as a new frame, in their order and with their index (no rows when ``measures`` has no
        ``instrument`` column; an empty frame for ``None``).
    """
    if measures is None:
        return pd.DataFrame()
    return measures[experience_rows(measures, instruments)]


def experience_rows(measures: pd.DataFrame, instruments: Mapping[str, Instrument] | None = None) -> np.ndarray:
    """Whether each row of ``measures`` answers an experience questionnaire (its ``instrument`` code trimmed and in
    lower case), as a boolean mask: the rows :func:`experience_measures` copies, for a caller that only counts them.

    Returns
    -------
    numpy.ndarray
        ``bool``, one per row; all false without an ``instrument`` column.
    """
    if not len(measures) or "instrument" not in measures.columns:
        return np.zeros(len(measures), dtype=bool)
    code = measures["instrument"].astype("string").str.strip().str.lower()
    return code.isin(list(experience_instruments(instruments))).fillna(False).to_numpy(dtype=bool)


def experience_responses(
    tables: Mapping[str, pd.DataFrame],
    *,
    instruments: Mapping[str, Instrument] | None = None,
    latest: bool = False,
) -> pd.DataFrame:
    """One row per experience questionnaire, with mechanism scores and the mother's context.

    Parameters
    ----------
    tables
        Canonical tables: ``measures`` and ``participants`` are needed;
        ``programmes`` and ``contacts`` are used when present.
    latest
        Keep only each mother's latest questionnaire per instrument (the
        profile's unit: one answer set per mother).

    Returns
    -------
    pandas.DataFrame
        ``programme_id``, ``participant_id``, ``instrument``, ``completed_on``,
        ``timepoint``, ``item_1`` ..; ``positive_score``, ``negative_score``,
        ``ending_score`` (means 0-4 of the items of that valence; missing
        unless every such item is answered, as in :func:`evalkit.scoring.score`),
        ``n_negative_endorsed`` (negative items at or above the endorsement
        value), ``any_negative`` (missing when no negative item is answered),
        ``ending_distress`` (ending item endorsed); ``format`` (the format
        offered to her, else the programme's format), ``programme_format``,
        ``period`` (``YYYY-MM`` of completion), ``group_session_id`` (the
        session attended that day, else her last within
        :data:`SESSION_LINK_DAYS` days; of sessions on one day, the one whose
        id sorts last), ``ending``, ``ending_class``
        (planned / unplanned), ``end_date``, ``at_ending`` (completed on or
        after her last attended contact and her support has ended; without
        contact rows: labelled ``end`` or within :data:`ENDING_WINDOW_DAYS`
        days before ``end_date``), and the contexts of :func:`derive_contexts`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    from evalkit.data_source import coerce_tables

    tables = coerce_tables(tables)
    registry = experience_instruments(instruments)
    empty_cols = ["programme_id", "participant_id", "instrument", "completed_on"]
    m = tables.get("measures")
    if m is None or "instrument" not in m.columns:
        return pd.DataFrame(columns=empty_cols)
    m = experience_measures(m, registry)  # a copy already (not copied twice)
    m["instrument"] = m["instrument"].astype("string").str.strip().str.lower()
    if m.empty:
        return pd.DataFrame(columns=empty_cols)
    m["completed_on"] = pd.to_datetime(m["completed_on"])
    # sorted (and the latest kept) by positions found on the key columns: the rows are copied once, not twice
    key = m[["participant_id", "completed_on", "instrument"]].reset_index(drop=True)
    order = key.sort_values(list(key.columns), kind="stable").index.to_numpy()
    if latest:
        order = order[~key.iloc[order].duplicated(["participant_id", "instrument"], keep="last").to_numpy()]
    del key
    m = m.take(order).reset_index(drop=True)
    n = len(m)
    scores = {k: np.full(n, np.nan) for k in ("positive_score", "negative_score", "ending_score")}
    n_neg = np.full(n, np.nan)
    any_answered_neg = np.zeros(n, dtype=bool)
    distress = np.full(n, np.nan)
    for icode, inst in registry.items():
        rows = np.flatnonzero((m["instrument"] == icode).to_numpy(dtype=bool))
        if rows.size == 0:
            continue
        cut = endorse_value(inst)
        by_valence: dict[str, list[int]] = {}
        for spec in inst.definition["item_mechanisms"]:
            by_valence.setdefault(str(spec["valence"]), []).append(int(spec["item"]))
        for valence, items in by_valence.items():
            cols = [f"item_{i}" for i in items]
            x = np.column_stack([pd.to_numeric(m[c], errors="coerce").to_numpy(dtype=float)[rows]
                                 if c in m.columns else np.full(rows.size, np.nan) for c in cols])
            complete = ~np.isnan(x).any(axis=1)
            key = f"{valence}_score"
            if key in scores:
                scores[key][rows] = np.where(complete, x.mean(axis=1), np.nan)
            if valence == "negative":
                answered = ~np.isnan(x)
                any_answered_neg[rows] = answered.any(axis=1)
                n_neg[rows] = np.where(answered.any(axis=1), (np.nan_to_num(x, nan=-1) >= cut).sum(axis=1), np.nan)
            if valence == "ending":
                first = x[:, 0]
                distress[rows] = np.where(np.isnan(first), np.nan, (first >= cut).astype(float))
    for k, v in scores.items():
        m[k] = v
    m["n_negative_endorsed"] = pd.array(np.where(np.isnan(n_neg), None, n_neg), dtype="Float64").astype("Int64")
    m["any_negative"] = pd.array(np.where(any_answered_neg, n_neg > 0, None), dtype="boolean")
    m["ending_distress"] = pd.array(np.where(np.isnan(distress), None, distress == 1.0), dtype="boolean")

    parts = tables.get("participants")
    if parts is None:
        raise ValueError("tables must include 'participants' to describe experience questionnaires")
    pid = m["participant_id"].astype("string")
    # her own row only, and only the columns read below (looked up by id): at a million participants, a copy of 0.4
    # of them instead of all; the ids are matched in Arrow, without a Python string per participant
    own = pc.is_in(pa.array(parts["participant_id"].astype("string").array, type=pa.large_string()),
                   value_set=pc.drop_null(pc.unique(pa.array(pid.array, type=pa.large_string()))))
    used = [c for c in dict.fromkeys(["participant_id", *CONTEXT_SOURCES, "ending", "end_date"]) if c in parts.columns]
    p = parts.loc[own.to_numpy(zero_copy_only=False), used].drop_duplicates("participant_id").set_index(
        "participant_id")
    del own
    ctx = derive_contexts(p)
    progs = tables.get("programmes")
    prog_format = pd.Series(pd.NA, index=m.index, dtype="string")
    if progs is not None and "format" in progs.columns and len(progs):
        fmt = progs.drop_duplicates("programme_id").set_index("programme_id")["format"].astype("string")
        prog_format = m["programme_id"].astype("string").map(fmt).astype("string")
    offered = p["format_offered"].astype("string") if "format_offered" in p.columns \
        else pd.Series(pd.NA, index=p.index, dtype="string")
    m["programme_format"] = prog_format.to_numpy()
    m["format"] = pd.Series(offered.reindex(pid.to_numpy()).to_numpy(), index=m.index, dtype="string").fillna(
        prog_format).to_numpy()
    m["period"] = m["completed_on"].dt.strftime("%Y-%m").astype("string")
    ending = p["ending"].astype("string") if "ending" in p.columns else pd.Series(pd.NA, index=p.index, dtype="string")
    end_date = pd.to_datetime(p["end_date"]) if "end_date" in p.columns \
        else pd.Series(pd.NaT, index=p.index, dtype="datetime64[ns]")
    m["ending"] = pd.array(ending.reindex(pid.to_numpy()).to_numpy(), dtype="string")
    m["ending_class"] = ending_class(m["ending"]).to_numpy()
    m["end_date"] = end_date.reindex(pid.to_numpy()).to_numpy(dtype="datetime64[ns]")

    # only her own contacts decide her questionnaires' ending and session: participants by position in `among`
    among = pid.dropna().unique()
    att = _attended(tables, pd.Series(among, dtype="string"))
    m_code = pd.Series(np.arange(len(among)), index=pd.Index(among, dtype="string")).reindex(pid.to_numpy())
    m_code = m_code.fillna(-1).to_numpy(dtype=np.int64)
    last_by_code = np.full(len(among), np.datetime64("NaT"), dtype="datetime64[ns]")
    if len(att):
        last_att = att.groupby("participant")["date"].max()
        last_by_code[last_att.index.to_numpy()] = last_att.to_numpy(dtype="datetime64[ns]")
    last = np.where(m_code >= 0, last_by_code[np.maximum(m_code, 0)], np.datetime64("NaT"))
    ended = m["ending"].notna().to_numpy(dtype=bool) & ~pd.isna(m["end_date"]).to_numpy()
    completed = m["completed_on"].to_numpy(dtype="datetime64[ns]")
    with np.errstate(invalid="ignore"):
        by_contact = ~np.isnat(last) & (completed >= last)
    label = (m["timepoint"].astype("string").str.strip().str.lower() == "end").fillna(False).to_numpy(dtype=bool) \
        if "timepoint" in m.columns else np.zeros(n, dtype=bool)
    window = ~pd.isna(m["end_date"]).to_numpy() & (
        completed >= (m["end_date"] - pd.Timedelta(days=ENDING_WINDOW_DAYS)).to_numpy(dtype="datetime64[ns]"))
    m["at_ending"] = ended & np.where(np.isnat(last), label | window, by_contact)

    # ties on a day in the order of the session ids: the link is the same however the contacts are ordered
    sessions = att.dropna(subset=["group_session_id"]).sort_values(["date", "group_session_id"], kind="stable")
    m["group_session_id"] = pd.array([pd.NA] * n, dtype="string")
    if len(sessions):
        left = pd.DataFrame({"participant": m_code, "completed_on": m["completed_on"].to_numpy()},
                            index=m.index).reset_index().sort_values("completed_on")
        linked = pd.merge_asof(left, sessions.rename(columns={"date": "completed_on"}), on="completed_on",
                               by="participant", direction="backward",
                               tolerance=pd.Timedelta(days=SESSION_LINK_DAYS))
        m.loc[linked["index"].to_numpy(), "group_session_id"] = linked["group_session_id"].astype("string").to_numpy()
    ctx_rows = ctx.reindex(pid.to_numpy())
    for col in ctx.columns:
        m[col] = ctx_rows[col].to_numpy()
        if str(ctx[col].dtype) == "boolean":
            m[col] = m[col].astype("boolean")
    return m


def normalise_by(by: str | Sequence[str] | None) -> tuple[str, ...]:
    """``by`` as a tuple of column names; ``programme`` and ``month`` are aliases."""
    if by is None:
        return ()
    items = (by,) if isinstance(by, str) else tuple(by)
    alias = {"programme": "programme_id", "month": "period", "group_session": "group_session_id",
             "session": "group_session_id"}
    return tuple(alias.get(str(b), str(b)) for b in items)


def check_by(frame: pd.DataFrame, by: tuple[str, ...]) -> None:
    """Raise a clear ValueError when a grouping column does not exist."""
    missing = [b for b in by if b not in frame.columns]
    if missing:
        allowed = ["programme_id", "format", "programme_format", "period", "group_session_id", "instrument",
                   *CONTEXT_LABELS]
        raise ValueError(f"cannot group by {missing}: choose from {allowed}")


def frame_attrs(frame: pd.DataFrame, **attrs: Any) -> pd.DataFrame:
    """Set attrs on a frame and return it."""
    frame.attrs.update(attrs)
    return frame
