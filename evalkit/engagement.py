"""Engagement: the take-up funnel, attendance patterns, endings and group head counts.

Every function returns an aggregate, disclosure-controlled frame (counts
below the threshold hidden, secondary suppression, optional rounding; see
:mod:`evalkit.disclosure`) with a ``rules`` column, except
:func:`participant_path`, which is individual level (one row per
participant, for the provider and for breakdowns), and :func:`funnel_tables`,
which returns three of those tables (the funnel, its reasons for leaving and
the take-up rate) from one disclosure problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac

from evalkit.categorical_text import categories_as_text
from evalkit.data_source import coerce_tables
from evalkit.disclosure import (
    Across,
    Partition,
    apply_disclosure,
    carried_hidden,
    group_index,
    hidden_mask,
    primary_suppression,
    with_published_total_rows,
    with_published_totals,
    without_published_total_rows,
)
from evalkit.episodes import UNPAIRED_REASONS, EpisodeData, prepare_episodes
from evalkit.instruments import Instrument
from evalkit.memory import release_freed_memory
from evalkit.rules import PairingRules
from evalkit.schemas import table_schema

__all__ = [
    "ENDING_GROUPS",
    "ENDING_GROUP_WORDS",
    "EXIT_STEP_WORDS",
    "FUNNEL_STEPS",
    "PAIRED_ON",
    "FunnelTables",
    "attendance_summary",
    "endings_summary",
    "exit_reason_words",
    "funnel_exits",
    "funnel_tables",
    "head_counts",
    "paired_on_columns",
    "participant_path",
    "take_up_funnel",
    "take_up_rate",
]

FUNNEL_STEPS: dict[str, str] = {
    "referred": "referred",
    "offered": "offered support (an offer date recorded, or took up)",
    "took_up": "took up the offer",
    "attended": "attended at least one contact",
    "reached_min_dose": "attended at least the minimum dose",
    "baseline_measured": "a valid baseline score on a change measure",
    "paired": "paired baseline and endpoint on a change measure",
}
"""The funnel steps, in order; each counts those who reached it *and* every earlier step."""

PAIRED_ON = "paired_on_"
"""The prefix of :func:`participant_path`'s column per change measure: paired on that measure (``paired_on_phq9``)."""

ENDING_GROUPS: dict[str, str] = {
    "planned_ending": "planned",
    "moved_on_coping": "moved_on_coping",
    "stopped_attending": "stopped_attending",
}
"""Endings reported separately; every other recorded ending is 'other', no ending is 'ongoing'."""

_ENDING_ORDER = ("planned", "moved_on_coping", "stopped_attending", "other", "ongoing")

ENDING_GROUP_WORDS: dict[str, str] = {
    "planned": "Planned ending",
    "moved_on_coping": "Moved on (coping)",
    "stopped_attending": "Stopped attending",
    "other": "Other ending",
    "ongoing": "Still supported",
}
"""The ``ending_group`` codes of :func:`endings_summary` in words (the labels of the report and dashboard)."""

EXIT_STEP_WORDS: dict[str, str] = {
    "offered": "Not offered support",
    "took_up": "Did not take up the offer",
    "attended": "Never attended",
    "reached_min_dose": "Attended less than the minimum dose",
    "baseline_measured": "No valid baseline score",
    "paired": "No paired follow-up score",
}
"""The ``step`` of :func:`funnel_exits` (the step *not* reached) in words, as the heading of its reasons."""

_EXIT_REASON_EXTRA: dict[str, str] = {
    "not_recorded": "No reason recorded",
    "ongoing": "No ending recorded (still supported)",
    "no_valid_score": "No valid score on a change measure",
    "not_paired": "Not paired (no reason found)",
}


def exit_reason_words(reasons: pd.Series) -> pd.Series:
    """The ``reason`` codes of :func:`funnel_exits` in words, for people.

    Decline reasons and endings read as the participants table's codes say them (``x-codes`` in
    ``schemas/tables/participants.json``), unpaired reasons as :data:`evalkit.episodes.UNPAIRED_REASONS`
    (first letter capitalised); a code none of these know is shown with its underscores as spaces.

    Parameters
    ----------
    reasons
        ``reason`` codes (``"total"`` reads "All reasons").

    Returns
    -------
    pandas.Series
        Text (``"string"``), same index.
    """
    schema = table_schema("participants")
    words = {**{k: v[:1].upper() + v[1:] for k, v in UNPAIRED_REASONS.items()},
             **dict(schema.field("ending").codes or {}), **dict(schema.field("decline_reason").codes or {}),
             **_EXIT_REASON_EXTRA, "total": "All reasons"}
    text = reasons.astype("string")
    return text.map(words).fillna(text.str.replace("_", " ", regex=False)).astype("string")


def _rules_col(out: pd.DataFrame, rules: PairingRules) -> pd.DataFrame:
    rules.stamp(out)
    return out


def _data(tables: Mapping[str, pd.DataFrame] | EpisodeData, rules: PairingRules,
          instruments: Mapping[str, Instrument] | None) -> tuple[dict[str, pd.DataFrame], EpisodeData | None]:
    if isinstance(tables, EpisodeData):
        return {}, tables
    t = coerce_tables(tables)
    if "measures" in t and "participants" in t:
        return t, prepare_episodes(t, rules=rules, instruments=instruments, keep_attended=False)
    return t, None


def _as_float(s: pd.Series) -> np.ndarray:
    """A fresh, writable float64 array of ``s`` (missing -> NaN), whatever its dtype.

    Columns loaded from the store are nullable (``Int64``, Arrow-backed
    ``string``); converting an Arrow-backed result with ``astype(float)`` can
    give a read-only view of Arrow memory, which pandas then refuses to write
    into in place ("setting an array element with a sequence"). Going through
    ``to_numpy(copy=True)`` always gives an array the caller owns.
    """
    return pd.to_numeric(s, errors="coerce").astype("Float64").to_numpy(dtype=np.float64, na_value=np.nan,
                                                                          copy=True)


def _attended_dose(parts: pd.DataFrame, attended: pd.DataFrame, no_rows: np.ndarray) -> np.ndarray:
    """Attended contacts per participant (``parts`` order); ``sessions_attended`` where ``no_rows``.

    ``attended`` holds the attended contact rows; ``no_rows`` marks
    participants of programmes without contact rows. The result is built
    with :func:`numpy.where` (no in-place write into a column that may be a
    read-only view), so it is the same for frames read from CSV and frames
    loaded from the store.
    """
    n_att = attended["participant_id"].dropna().astype(str).value_counts()
    counted = _as_float(parts["participant_id"].astype(str).map(n_att).fillna(0))
    if "sessions_attended" in parts.columns:
        reported = _as_float(parts["sessions_attended"])
    else:
        reported = np.full(len(parts), np.nan)
    return np.where(no_rows, reported, counted)


_DAY_NS = 86_400_000_000_000  # nanoseconds in a day: whole days of a timedelta, as ``Series.dt.days`` (not negative)


def _status_flags(status: pd.Series) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Whether each contact's status is ``attended``, ``did_not_attend``, starts with ``cancelled`` (missing: no).

    As ``status.astype("string")`` compared, without a copy of the text per contact: a categorical's categories are
    compared and taken by code, other columns compared in pyarrow.

    Returns
    -------
    tuple of numpy.ndarray
        Three ``bool`` arrays, one value per contact.
    """
    if isinstance(status.dtype, pd.CategoricalDtype):
        flags = _status_flags(pd.Series(status.cat.categories.astype("string")))
        codes = status.cat.codes.to_numpy()  # -1 where missing: the appended False
        return tuple(np.append(f, False)[codes] for f in flags)  # type: ignore[return-value]
    arr = pa.array(status.astype("string").array)  # chunk by chunk, as read (not copied into one array)
    return tuple(pac.fill_null(x, False).to_numpy(zero_copy_only=False).astype(bool)  # type: ignore[return-value]
                 for x in (pac.equal(arr, "attended"), pac.equal(arr, "did_not_attend"),
                           pac.starts_with(arr, "cancelled")))


def _group_quartiles(values: np.ndarray, codes: np.ndarray, n_groups: int) -> pd.DataFrame:
    """Median, lower and upper quartile and count of ``values`` (none missing) per group code, as pandas gives them.

    The floats of ``Series(values).groupby(codes)``'s ``median()``, ``quantile(0.25)``, ``quantile(0.75)``
    (linear interpolation: ``v[i] + (v[i + 1] - v[i]) * frac`` at ``q * (n - 1)``; the median of an even count
    ``(v[n // 2] + v[n // 2 - 1]) / 2``) and ``size()``, from one sort of the values by code: pandas sorts and
    copies the values, their codes and their index for each statistic (at a million participants, 8.4 million
    gaps, about 320 MB more at once).

    Parameters
    ----------
    values
        ``float64`` values.
    codes
        Group code (``0 .. n_groups - 1``) of each value.
    n_groups
        Number of group codes.

    Returns
    -------
    pandas.DataFrame
        Indexed by the codes that occur (ascending): ``median``, ``q1``, ``q3`` (``float64``), ``n`` (``int64``).
    """
    v = values[np.lexsort((values, codes))]
    n = np.bincount(codes, minlength=n_groups)
    start = np.cumsum(n) - n
    has = np.flatnonzero(n)
    n, start = n[has], start[has]
    half = start + n // 2

    def quantile(q: float) -> np.ndarray:
        at = q * (n - 1).astype(np.float64)
        lo = start + at.astype(np.int64)
        frac = at % 1
        hi = np.minimum(lo + 1, start + n - 1)
        return np.where(frac == 0.0, v[lo], v[lo] + (v[hi] - v[lo]) * frac)

    median = np.where(n % 2 == 1, v[half], (v[half] + v[np.maximum(half - 1, start)]) / 2)
    return pd.DataFrame({"median": median, "q1": quantile(0.25), "q3": quantile(0.75), "n": n}, index=has)


def _keyed(frame: pd.DataFrame, keys: pd.Index) -> pd.DataFrame:
    """``frame`` indexed by group codes, re-indexed by those groups' keys (``keys[code]``)."""
    return frame.set_axis(keys.take(frame.index.to_numpy(dtype=np.int64)), axis=0)


def _text_codes(s: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Each value of ``s`` as a code (-1 where missing) into the distinct texts, and those texts.

    A categorical gives its own codes and its categories as text (no text per row is made); other columns are
    factorised as text. Either way ``texts[codes]`` is ``s.astype("string")`` where a value is present.

    Returns
    -------
    codes : numpy.ndarray
        ``int64``, one per value of ``s``.
    texts : numpy.ndarray
        ``object`` array of ``str``.
    """
    if isinstance(s.dtype, pd.CategoricalDtype):
        return (s.cat.codes.to_numpy(dtype=np.int64),
                s.cat.categories.astype("string").to_numpy(dtype=object, na_value=None))
    codes, texts = pd.factorize(s.astype("string").to_numpy(dtype=object, na_value=None))
    return codes.astype(np.int64), np.asarray(texts, dtype=object)


def _sorted_text_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each value of ``s`` as a code (-1 where missing) into its distinct texts, sorted (in pyarrow, no text per row).

    As ``pandas.factorize(s.astype("string") as objects, sort=True)`` for the values present, for a column of few
    distinct texts (the episodes' instruments).

    Returns
    -------
    codes : numpy.ndarray
        ``int64``, one per value of ``s``.
    texts : list of str
        The distinct texts, sorted.
    """
    arr = pa.array(s.astype("string").array)
    texts = sorted(x for x in pac.unique(arr).to_pylist() if x is not None)
    codes = pac.index_in(arr, value_set=pa.array(texts, type=arr.type))
    return pac.fill_null(codes, -1).to_numpy(zero_copy_only=False).astype(np.int64), texts


def _unique_positions(values: pd.Series, ids: pd.Series) -> np.ndarray:
    """Position of each of ``values`` in ``ids``, -1 where absent or missing; ``ids`` must be unique (one missing).

    One hash look-up in pyarrow: ``ids`` and ``values`` are looked up together, chunk by chunk (neither copied into
    one array with the other), in the hash table of ``ids``; ``ids`` are unique when each finds itself. (A count of
    distinct ``ids`` first would build a second hash table of them: at a million participants, 0.1 GB more.)

    Raises
    ------
    ValueError
        When a participant id occurs twice (or two are missing), naming the first such id. Prepared episodes never
        hold one (:func:`evalkit.episodes.prepare_episodes` keeps one row per participant); an
        :class:`~evalkit.episodes.EpisodeData` put together by hand may.
    """
    from evalkit.episodes import _arrow_strings

    pids = _arrow_strings(ids)
    vals = pa.array(values.astype("string").array)
    if vals.type != pa.large_string():
        vals = vals.cast(pa.large_string())
    chunks = vals.chunks if isinstance(vals, pa.ChunkedArray) else [vals]
    found = pac.index_in(pa.chunked_array([pids, *chunks], type=pa.large_string()), value_set=pids, skip_nulls=True)
    found = pac.fill_null(found, -1).to_numpy()  # int32, one chunk
    own = found[:len(pids)]
    present = own >= 0
    if pids.null_count > 1 or not np.array_equal(own[present], np.flatnonzero(present)):
        repeated = ids[ids.duplicated(keep="first")]
        which = "a missing participant_id" if repeated.isna().all() else f"participant_id {repeated.dropna().iloc[0]!r}"
        raise ValueError(f"The participants hold {which} more than once: the funnel needs one row per participant "
                         "(as prepare_episodes makes them).")
    del own, present
    return found[len(pids):].astype(np.int64)


def _wilson_pct(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from evalkit.stats import wilson_ci

    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = np.isfinite(x) & np.isfinite(n) & (n > 0)
    pct, lo, hi = (np.full(len(x), np.nan) for _ in range(3))
    if ok.any():
        pct[ok] = 100 * x[ok] / n[ok]
        a, b = wilson_ci(x[ok], n[ok], level)
        lo[ok], hi[ok] = 100 * a, 100 * b
    return pct, lo, hi


def _exit_reason_codes(p: pd.DataFrame, last: np.ndarray, ending: tuple[np.ndarray, np.ndarray], has_ep: np.ndarray,
                       best: tuple[np.ndarray, np.ndarray]) -> tuple[list[str], np.ndarray]:
    """Each participant's ``exit_reason`` of :func:`participant_path` as a code (-1: none, she is paired) into texts.

    By her furthest step (``last``, a position in :data:`FUNNEL_STEPS`): the ``decline_reason`` (or
    ``not_recorded``) before taking up, the ``ending`` (or ``ongoing``) before the minimum dose,
    ``no_baseline_in_window`` (with an episode) or ``no_valid_score`` before a baseline, the unpaired reason of
    her episode closest to pairing before 'paired'. Made from codes, with no text per participant: ``ending``
    and ``best`` are each codes (-1: none; ``ongoing``, ``not_paired``) and the texts they point at.

    Returns
    -------
    texts : list of str
        The texts the codes point at (one part per kind of reason, so a text may occur twice).
    codes : numpy.ndarray
        ``int64``, one per participant.
    """
    n = len(last)
    if "decline_reason" in p.columns:
        d_codes, d_texts = _text_codes(p["decline_reason"])
    else:
        d_codes, d_texts = np.full(n, -1, dtype=np.int64), np.empty(0, dtype=object)
    e_codes, e_labels = ending
    best_reason, reason_labels = best
    parts = [(list(d_texts) + ["not_recorded"], d_codes),  # -1 (missing) takes the appended text
             (list(e_labels) + ["ongoing"], e_codes),
             (["no_valid_score", "no_baseline_in_window"], has_ep.astype(np.int64)),
             (list(reason_labels) + ["not_paired"], best_reason)]
    by_step = {0: 0, 1: 0, 2: 1, 3: 1, 4: 2, 5: 3}  # position of the furthest step -> part (6, paired: none)
    texts: list[str] = []
    codes = np.full(n, -1, dtype=np.int64)
    for j, (part_texts, part_codes) in enumerate(parts):
        at = np.isin(last, [k for k, v in by_step.items() if v == j])
        c = part_codes[at]
        codes[at] = len(texts) + np.where(c < 0, len(part_texts) - 1, c)
        texts.extend(str(x) for x in part_texts)
    return texts, codes


def _codes_as_text(texts: Sequence[str], codes: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``texts[codes]`` as a ``"string"`` array (missing where a code is -1), taken in pyarrow (no text per row)."""
    return pd.array(np.asarray(list(texts), dtype=object), dtype="string").take(codes, allow_fill=True)


def _path_order(prog: pd.api.extensions.ExtensionArray, pid: pd.api.extensions.ExtensionArray) -> np.ndarray:
    """The positions that sort rows by ``prog`` then ``pid`` (text, missing last; stable), as ``sort_values``.

    Sorted in pyarrow (UTF-8 bytes compare in the order of the texts' code points, as Python's ``str``).
    """
    table = pa.table({"p": pa.array(prog), "q": pa.array(pid)})
    idx = pac.sort_indices(table, sort_keys=[("p", "ascending"), ("q", "ascending")])  # nulls at the end
    return idx.to_numpy().astype(np.intp)


def participant_path(
    tables: Mapping[str, pd.DataFrame] | EpisodeData,
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Each participant's path through the funnel, with the reason she left it (individual level).

    Parameters
    ----------
    tables
        Canonical tables (``participants``; ``contacts`` and ``measures``
        when available) or a prepared :class:`~evalkit.episodes.EpisodeData`.
    rules
        ``min_dose`` and the pairing rules.
    instruments
        Instrument registry.

    Returns
    -------
    pandas.DataFrame
        One row per participant: ``programme_id``, ``participant_id``, a
        boolean per step of :data:`FUNNEL_STEPS` (cumulative: reached this
        step and all before it), ``last_step`` (the furthest step reached),
        ``exit_reason`` (why she did not reach the next step: the
        ``decline_reason`` before taking up, the ``ending`` (or ``ongoing``)
        before the minimum dose, ``no_valid_score`` /
        ``no_baseline_in_window`` before a baseline, the unpaired reason of
        her episode closest to pairing before 'paired'; missing for those
        paired), ``attended_total``, ``ending_group``, one boolean
        ``paired_on_<instrument>`` (:data:`PAIRED_ON`) per change measure
        with an episode (her episode of that measure is paired: the mothers
        the outcome summary's ``n_paired`` counts, whatever her funnel steps;
        not cumulative; none without measures), and the context fields of
        :data:`evalkit.episodes.CONTEXT_FIELDS`.

    Notes
    -----
    'Offered' is ``offered_date`` recorded or ``took_up`` yes; 'attended' is
    at least one attended contact (or ``sessions_attended >= 1``, or a
    ``first_contact_date``, for programmes without contact rows).
    """
    path = _participant_path(tables, rules=PairingRules() if rules is None else rules, instruments=instruments)
    release_freed_memory()  # its hash table, look-ups and codes (at a million participants, about 0.3 GB)
    return path


def _participant_path(tables: Mapping[str, pd.DataFrame] | EpisodeData, *, rules: PairingRules,
                      instruments: Mapping[str, Instrument] | None) -> pd.DataFrame:
    """:func:`participant_path`, without handing back what it freed."""
    t, data = _data(tables, rules, instruments)
    if data is not None:
        parts = data.participants.copy(deep=False)  # copy-on-write
        ep = data.episodes
    else:
        from evalkit.episodes import _participant_frame

        parts = _participant_frame(t)
        c = t.get("contacts")
        if c is not None and len(c):
            att = c[(c["status"].astype("string") == "attended").fillna(False)]
            with_rows = set(c["programme_id"].dropna().astype(str).unique())
            no_rows = ~parts["programme_id"].astype(str).isin(with_rows).to_numpy(dtype=bool)
            parts["attended_total"] = _attended_dose(parts, att, no_rows)
        else:
            parts["attended_total"] = _as_float(parts["sessions_attended"])
        ep = None
    p = parts
    offered_date = p["offered_date"] if "offered_date" in p.columns else pd.Series(pd.NaT, index=p.index)
    took = p["took_up"].astype("boolean")
    att_total = pd.to_numeric(p["attended_total"], errors="coerce").astype(float)
    attended_cond = (att_total.fillna(0) >= 1) | (att_total.isna() & p["first_contact_date"].notna())
    offered = (offered_date.notna() | took.fillna(False)).to_numpy(dtype=bool)
    took_up = offered & took.fillna(False).to_numpy(dtype=bool)
    attended = took_up & attended_cond.to_numpy(dtype=bool)
    dose_ok = attended & (att_total.fillna(0).to_numpy() >= rules.min_dose)
    n = len(p)
    has_ep = np.zeros(n, dtype=bool)
    has_base = np.zeros(n, dtype=bool)
    has_pair = np.zeros(n, dtype=bool)
    best_reason = np.full(n, -1, dtype=np.int64)  # code into reason_labels of the reason of her episode closest to
    reason_labels = np.empty(0, dtype=object)  # pairing (-1: none, or none recorded)
    paired_on: dict[str, np.ndarray] = {}
    if ep is not None and len(ep):
        pos = _unique_positions(ep["participant_id"], p["participant_id"])  # -1 = not a participant here
        ok = pos >= 0
        pos = pos[ok]
        has_ep[pos] = True
        has_base[pos[ep["baseline_score"].notna().to_numpy()[ok]]] = True
        ep_paired = ep["paired"].to_numpy(dtype=bool)[ok]
        has_pair[pos[ep_paired]] = True
        # per change measure, the episodes the outcome summary counts in n_paired (evalkit.outcomes.change_statistics
        # sums the episodes' ``paired`` per programme x instrument; one episode per participant x instrument)
        inst_code, inst_names = _sorted_text_codes(ep["instrument"])
        inst_code = inst_code[ok]
        for j in np.unique(inst_code[inst_code >= 0]):  # the measures of her episodes, in the order of their names
            on = np.zeros(n, dtype=bool)
            on[pos[ep_paired & (inst_code == j)]] = True
            paired_on[str(inst_names[j])] = on
        rank = {r: i for i, r in enumerate(UNPAIRED_REASONS)}
        codes, reason_labels = _text_codes(ep["unpaired_reason"])
        codes = codes[ok]  # each episode's reason (-1 where missing)
        rk = np.array([rank.get(x, -1) for x in reason_labels] + [-1], dtype=np.int64)[codes]  # unknown/missing: -1
        order = np.lexsort((-rk, pos))
        first = np.ones(len(order), dtype=bool)
        first[1:] = pos[order][1:] != pos[order][:-1]
        best_reason[pos[order][first]] = codes[order][first]
    baseline = dose_ok & has_base
    paired = baseline & has_pair
    steps = {"referred": np.ones(n, dtype=bool), "offered": offered, "took_up": took_up, "attended": attended,
             "reached_min_dose": dose_ok, "baseline_measured": baseline, "paired": paired}
    names = list(FUNNEL_STEPS)
    # the furthest step reached, as its position in ``names`` (the steps are cumulative)
    last = np.sum([steps[s] for s in names], axis=0, dtype=np.int64) - 1
    e_codes, e_labels = _text_codes(p["ending"])  # -1 where no ending is recorded
    exit_texts, exit_codes = _exit_reason_codes(p, last, (e_codes, e_labels), has_ep, (best_reason, reason_labels))
    eg_texts = [ENDING_GROUPS.get(x, "other") for x in e_labels] + ["ongoing"]  # code -1 (no ending): 'ongoing'
    # the rows in the order of (programme_id, participant_id), found once: each column is taken in that order as it
    # is made (not a frame made and then sorted, a copy of every column)
    prog = p["programme_id"].astype("string").array
    pid = p["participant_id"].astype("string").array
    order = _path_order(prog, pid)
    from evalkit.episodes import CONTEXT_FIELDS

    # every column at once (one frame, not a column inserted at a time); the text columns from their codes
    columns = {"programme_id": prog.take(order),
               "participant_id": pid.take(order),
               **{s_: steps[s_][order] for s_ in names},
               "last_step": _codes_as_text(names, last[order]),
               "exit_reason": _codes_as_text(exit_texts, exit_codes[order]),
               "attended_total": att_total.to_numpy()[order],
               "ending_group": _codes_as_text(eg_texts, np.where(e_codes < 0, len(eg_texts) - 1, e_codes)[order]),
               **{f"{PAIRED_ON}{inst}": on[order] for inst, on in paired_on.items()}}
    columns.update({c: p[c].array.take(order) for c in CONTEXT_FIELDS if c in p.columns})
    out = pd.DataFrame(columns)
    out.attrs["individual_level"] = True
    return _rules_col(out, rules)


def paired_on_columns(path: pd.DataFrame) -> list[str]:
    """The :data:`PAIRED_ON` columns of a :func:`participant_path` frame, one per change measure."""
    return [c for c in path.columns if isinstance(c, str) and c.startswith(PAIRED_ON)]


def _funnel_wide(path: pd.DataFrame, by: list[str], also: Sequence[str] = ()) -> tuple[pd.DataFrame, np.ndarray]:
    """The funnel's counts per group (a column per step), and those of the boolean path columns ``also`` (missing
    counts as no: paths of programmes joined together lack the measures only the others use); and each path
    row's group (its row in the counts).

    The groups are those of the ``by`` columns as text, sorted (missing last); each step's count is the sum of
    its flags per group, all steps at once by group number.
    """
    names = [*FUNNEL_STEPS, *also]
    groups = categories_as_text(path[by], by).groupby(by, sort=True, dropna=False)  # text: the columns stay text
    gid = groups.ngroup().to_numpy()
    index = groups.size().index
    flags = np.column_stack([path[s_].to_numpy(dtype=np.int64) if s_ in FUNNEL_STEPS else
                             path[s_].astype("boolean").to_numpy(dtype=np.int64, na_value=0) for s_ in names])
    sums = np.zeros((len(index), len(names)), dtype=np.int64)
    np.add.at(sums, gid, flags)
    w = pd.concat([index.to_frame(index=False), pd.DataFrame(sums, columns=names)], axis=1)
    w.columns = path.columns.take(path.columns.get_indexer([*by, *names]))  # the path's names, as it holds them
    w.attrs = dict(path.attrs)  # as a groupby of the path keeps them
    return w, gid


def _with_columns(w: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``w`` with the columns of ``new`` (same index) added on its right, at once, keeping ``w.attrs`` (as setting
    each column would)."""
    if not len(new.columns):
        return w
    out = pd.concat([w, new], axis=1)
    out.attrs = dict(w.attrs)
    return out


def _paired_beside_summary(w: pd.DataFrame, path: pd.DataFrame
                           ) -> tuple[pd.DataFrame, dict[str, list[str]], list[Partition]]:
    """The outcome summary's n paired of each change measure as cells of the funnel's disclosure problem.

    Parameters
    ----------
    w
        The funnel per group (:func:`_funnel_wide` of ``path`` with its ``paired_on_<instrument>`` sums, and
        the ``left_<step>`` columns).
    path
        The :func:`participant_path` it was made from (its :data:`PAIRED_ON` columns name the measures).

    Returns
    -------
    cells : pandas.DataFrame
        The columns named below, on ``w``'s index (for the caller to add to ``w``, all at once).
    rests : dict
        Per measure, the column of the summary's n paired of each group (``summary_n_paired_<instrument>``,
        a cell another table publishes: for ``published_elsewhere``) -> the columns of each step less that n
        paired (``not_paired_on_<instrument>_<step>``): the mothers at the step not paired on the measure,
        counts never published, known to a reader holding both cells.
    partitions : list of Partition
        Each step = n paired + its rest, and each step's rest = the next step's rest + those leaving before it.

    Notes
    -----
    Every mother paired on a measure is in the funnel's 'paired' (her pair needs a baseline and the minimum
    dose after it), and so at every step. A step less the summary's n paired of a measure is then the
    number at that step not paired on it: with both published (generator seed 12, P-PHONE: 9 paired, 7 on
    GAD-7) a reader learns 2 paired on another measure only. These rests make a second funnel beside the
    first (each rest is the next one plus those leaving in between), protected in the same problem: a small
    one is hidden, as any rest, and since the summary's n paired is never hidden here, the step is hidden
    instead (and whatever secondary suppression needs then). The summary discloses its n paired on its own
    (it is published with or without the funnel, and hides at least the small ones), so it is taken as
    published wherever it is not small: where the summary hides more, the funnel hides more than it needs,
    never less. Where the summary counts more mothers on a measure than a step (a mother paired without
    taking up the offer as recorded), the difference is no count of people and its rest is left missing
    (its equations drop out).
    """
    names = list(FUNNEL_STEPS)
    rests: dict[str, list[str]] = {}
    parts = []
    cells: dict[str, np.ndarray] = {}
    steps = w[names].to_numpy(dtype=float)
    for col in paired_on_columns(path):
        n = w[col].to_numpy(dtype=float)
        if not n.any():
            continue  # nobody paired on it here: the summary's n paired is 0 or not published, a step less 0 is itself
        inst = col[len(PAIRED_ON):]
        n_col = f"summary_n_paired_{inst}"
        cells[n_col] = n
        rests[n_col] = []
        for i, s_ in enumerate(names):
            rest = steps[:, i] - n
            cells[f"not_paired_on_{inst}_{s_}"] = np.where(rest >= 0, rest, np.nan)
            rests[n_col].append(f"not_paired_on_{inst}_{s_}")
            parts.append(Partition((n_col, f"not_paired_on_{inst}_{s_}"), total=s_))
            if i:
                parts.append(Partition((f"not_paired_on_{inst}_{s_}", f"left_{s_}"),
                                       total=f"not_paired_on_{inst}_{names[i - 1]}"))
    return pd.DataFrame(cells, index=w.index), rests, parts


def _exit_cells(path: pd.DataFrame, w: pd.DataFrame, gid: np.ndarray, keys: list[str]
                ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Those who left the funnel per group x step not reached x reason, and the funnel's cells they make.

    Parameters
    ----------
    path
        A :func:`participant_path` frame (``last_step``, ``exit_reason``).
    w, gid
        The funnel per group by ``keys`` and each path row's group, as :func:`_funnel_wide` gives them.
    keys
        The grouping columns.

    Returns
    -------
    exits : pandas.DataFrame
        One row per group x step x reason (``keys``, ``step``, ``reason``, ``n``), sorted by them as text
        (group, then step, then reason), and ``col``: the cell's column, ``_exit_<i>`` numbered by the step x
        reason's first row.
    cells : pandas.DataFrame
        On ``w``'s rows, a column per cell (sorted by name): its count in each group, missing where nobody in
        the group left for that reason (``int64`` when no cell is missing).

    Notes
    -----
    Counted from integer codes: each row's group, the step after her last (by the steps' text order) and her
    reason (``not_recorded`` where none is), the three as one code.
    """
    names = list(FUNNEL_STEPS)
    step_codes, step_texts = _text_codes(path["last_step"])
    reason_codes, reason_texts = _text_codes(path["exit_reason"])
    # the step not reached: the one after her last ('paired' is no exit; a missing last step none either)
    nxt = {s_: names[i + 1] for i, s_ in enumerate(names[:-1])}
    left = (step_codes >= 0) & np.append(step_texts != "paired", False)[step_codes]
    steps = sorted({nxt[t] for t in step_texts if t in nxt})
    step_rank = np.array([steps.index(nxt[t]) if t in nxt else len(steps) for t in step_texts] + [len(steps)],
                         dtype=np.int64)  # an unknown step: missing, last
    # a missing reason (code -1) is the last text: 'not_recorded'
    reasons, reason_rank = np.unique(np.append(reason_texts, "not_recorded").astype(str), return_inverse=True)
    n_steps, n_reasons = len(steps) + 1, len(reasons)
    code = (gid[left] * n_steps + step_rank[step_codes[left]]) * n_reasons + reason_rank[reason_codes[left]]
    cell, n = np.unique(code, return_counts=True)
    group, step, reason = cell // (n_steps * n_reasons), cell // n_reasons % n_steps, cell % n_reasons
    # each step x reason's column, numbered in the order of their first rows
    pair = step * n_reasons + reason
    firsts, col = np.unique(pair, return_index=True)[1], np.unique(pair, return_inverse=True)[1]
    number = np.empty(len(firsts), dtype=np.int64)
    number[np.argsort(firsts, kind="stable")] = np.arange(len(firsts))
    exits = pd.DataFrame({**{k: w[k].array.take(group) for k in keys},
                          "step": pd.array(np.array([*steps, None], dtype=object)[step], dtype="string"),
                          "reason": pd.array(reasons.astype(object)[reason], dtype="string"),
                          "n": n.astype(np.int64),
                          "col": pd.array([f"_exit_{i}" for i in number[col]], dtype="string")})
    names_sorted = sorted(f"_exit_{i}" for i in range(len(firsts)))
    at = {c: j for j, c in enumerate(names_sorted)}
    counts = np.full((len(w), len(firsts)), np.nan)
    counts[group, [at[f"_exit_{i}"] for i in number[col]]] = n
    cells = pd.DataFrame(counts if np.isnan(counts).any() else counts.astype(np.int64),
                         columns=pd.Index(names_sorted, dtype="string"),  # text, as a pivot of the cells names them
                         index=w.index)
    return exits, cells


def _funnel_disclosure(path: pd.DataFrame, by: list[str], rules: PairingRules,
                       across_keys: Sequence[str] | None) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """The funnel counts and (when the path has them) the exit reasons, disclosure-controlled together.

    Returns ``(w, wd, exits)``: the funnel per group, one column per step and ``left_<step>`` (``w`` true
    counts, ``wd`` published); ``exits`` one row per group x step x reason with the cell's column ``col``
    in ``w``/``wd`` (empty when the path has no ``last_step``/``exit_reason`` or ``across_keys`` is given).

    The reasons for leaving before a step add up to that step's ``left_<step>``, so each step's reasons and
    its leavers are one more equation of the same disclosure problem as the funnel (one
    :func:`~evalkit.disclosure.apply_disclosure` call): :func:`take_up_funnel` and :func:`funnel_exits`
    then hide the same cells, and neither a reason nor a funnel cell can be worked out from the other
    table. Breakdowns (``across_keys``) publish no reasons, so theirs are left out.

    When the path has its :data:`PAIRED_ON` columns, the outcome summary's n paired of each measure joins
    the problem as a fixed cell, with each step less it as a rest (:func:`_paired_beside_summary`), so that
    no step less a published n paired is a small count; ``w``/``wd`` then hold those columns too. In a
    breakdown, a level's n paired is the summary breakdown's (every level's rests add up to its total's).
    """
    names = list(FUNNEL_STEPS)
    keys = by if by else ["_all"]
    if not by:
        path = path.assign(_all="all")
    w, gid = _funnel_wide(path, keys, paired_on_columns(path))
    w = _with_columns(w, pd.DataFrame({f"left_{cur}": w[prev] - w[cur]
                                       for prev, cur in zip(names[:-1], names[1:], strict=True)}))
    counts = [*names, *[f"left_{s_}" for s_ in names[1:]]]
    parts = [Partition((cur, f"left_{cur}"), total=prev) for prev, cur in zip(names[:-1], names[1:], strict=True)]
    # the take-up rate's counts are two of the funnel's: those not taking up (never offered, or offered and
    # declining) are a cell of the same problem, so take_up_rate publishes exactly what this hides
    parts.append(Partition(("took_up",), total="referred", remainder=True))
    # the outcome summary's n paired per measure, beside 'paired': fixed cells, and the rests between them
    cells, rests, summary_parts = _paired_beside_summary(w, path)
    w = _with_columns(w, cells)
    summary, rest_cols = list(rests), [r for its in rests.values() for r in its]
    counts += [*summary, *rest_cols]
    parts += summary_parts
    across: list[Across] = []  # a breakdown's rule is set below, with the published funnel as its totals
    with_exits = across_keys is None and {"last_step", "exit_reason"} <= set(path.columns)
    exits = pd.DataFrame({**{k: pd.Series(dtype="string") for k in keys}, "step": pd.Series(dtype="string"),
                          "reason": pd.Series(dtype="string"), "n": pd.Series(dtype="int64"),
                          "col": pd.Series(dtype="string")})
    if with_exits:
        exits, cells = _exit_cells(path, w, gid, keys)
        if len(exits):
            w = _with_columns(w, cells)  # a reason nobody in a group gave: no cell (NaN)
            w.attrs = {}  # as a join with the cells (which have none) leaves them
        combos = exits.drop_duplicates("col")
        for s_, cols in combos.groupby("step", sort=False)["col"]:
            parts.append(Partition(tuple(cols), total=f"left_{s_}"))
        counts += combos["col"].tolist()
    hidden = None
    levels = w
    if across_keys is not None:
        # the levels add up to the funnel of ``across_keys`` as take_up_funnel publishes it (with its exit
        # reasons): its rows join the problem as the totals, hidden where it hides them, so that the levels
        # never add up to a count it hides (secondary suppression there protects a small reason)
        tk = list(across_keys)
        tw, twd, _ = _funnel_disclosure(path, tk, rules, None)
        w, hidden, across = with_published_total_rows(w, twd, keys=tk, counts=counts, totals=tw,
                                                      breakdown=[k for k in keys if k not in tk])
        # the summary's n paired is fixed (its breakdown protects its levels against its own totals)
        across = [a for a in across if a.column not in summary]
    if summary and rules.suppression_threshold > 1:
        # where the summary hides its n paired, no step less it is known: its rests are hidden from the start
        # (left to secondary suppression, a rest of 0 there would count as a zero anyone can work out)
        hidden = dict(hidden or {})
        for n_col, its in rests.items():
            n_hidden = primary_suppression(w[n_col].to_numpy(dtype=float), threshold=rules.suppression_threshold,
                                           show_zero=rules.show_zero) | hidden.get(n_col, False)
            for r in its:
                hidden[r] = hidden.get(r, np.zeros(len(w), dtype=bool)) | n_hidden
    # complements: those leaving a step before the step counts (as evalkit.summary, which hides whatever this
    # hides); a rest beside the summary's n paired only when nothing else will do (hiding it hides 'paired')
    wd = apply_disclosure(w, counts=counts, partitions=parts, across=across, keep=[*names, *rest_cols], rules=rules,
                          hidden_elsewhere=hidden, published_elsewhere=summary)
    if across_keys is not None:
        w = without_published_total_rows(w, levels, columns=keys)
        wd = without_published_total_rows(wd, levels, columns=keys)
    return w, wd, exits


def _path_of(tables: Mapping[str, pd.DataFrame] | EpisodeData | pd.DataFrame, rules: PairingRules,
             instruments: Mapping[str, Instrument] | None = None) -> pd.DataFrame:
    """The funnel path of what a funnel function was given: a :func:`participant_path` frame as it is (it has a
    column per funnel step), a participants table or canonical tables or prepared episodes through
    :func:`participant_path`."""
    if isinstance(tables, pd.DataFrame):
        if set(FUNNEL_STEPS) <= set(tables.columns):
            return tables
        tables = {"participants": tables}
    return participant_path(tables, rules=rules, instruments=instruments)


def take_up_funnel(
    tables: Mapping[str, pd.DataFrame] | EpisodeData | pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    across_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """The take-up funnel: referred -> offered -> took up -> attended -> minimum dose -> baseline -> paired.

    Parameters
    ----------
    tables
        Canonical tables, an :class:`~evalkit.episodes.EpisodeData`, or a
        :func:`participant_path` frame (for breakdowns).
    by
        Grouping columns (participant columns, e.g. ``("programme_id",
        "referral_source")``); ``()`` pools everyone.
    rules
        ``min_dose``, pairing rules, ``level`` and disclosure settings.
    instruments
        Instrument registry.
    across_keys
        For breakdowns (:mod:`evalkit.for_whom`): the columns of ``by`` whose
        groups' rows add up to a published total (e.g. ``("programme_id",)``
        when ``by = ("programme_id", "ethnicity_group")``); counts are then
        protected across those rows too, against the funnel by ``across_keys``
        as this function publishes it: where that hides a count, the levels'
        counts never all show (they would add up to it).

    Returns
    -------
    pandas.DataFrame
        One row per group x step: ``step``, ``step_order``, ``description``,
        ``n``, ``n_left`` (reached the previous step but not this one),
        ``pct_of_previous`` with ``pct_of_previous_ci_low/high`` and
        ``pct_of_referred`` with ``pct_of_referred_ci_low/high`` (Wilson,
        percent), ``rules``, ``suppressed``. Reasons for leaving are in
        :func:`funnel_exits`.

    Notes
    -----
    Disclosure: at every step, the number who went on and the number who
    left add up to the number at the previous step, so both are protected
    together (a small number leaving cannot be worked out by subtracting two
    published counts). When ``tables`` give the reasons for leaving (a
    :func:`participant_path` or the canonical tables) and ``across_keys`` is
    not given, the reasons of :func:`funnel_exits` (which add up to
    ``n_left``) are protected in the same disclosure problem, so the two
    tables hide the same cells: neither can undo the other's suppression.

    The outcome summary publishes, per programme and change measure, the
    number paired on that measure (``n_paired``), all of whom are normally in
    every step of the funnel (a mother paired without a recorded take-up is
    the exception: see :func:`_paired_beside_summary`). A step less that number (e.g. 'paired' less those
    paired on GAD-7: the mothers paired on another measure only) is a count
    neither table publishes, so it is protected in the same problem: where
    it would be small, a step is hidden (usually 'paired'), never the
    summary's ``n_paired``, which is taken as published wherever it is at
    least the threshold. This needs the pairing per measure, which
    :func:`participant_path` gives (its ``paired_on_<instrument>`` columns;
    a path without them, or a participants table, is protected as before).
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    w, wd, _ = _funnel_disclosure(_path_of(tables, rules, instruments), by, rules, across_keys)
    return _funnel_table(w, wd, by, rules)


def _funnel_steps_hidden(path: pd.DataFrame, *, by: Sequence[str] = ("programme_id",),
                         rules: PairingRules | None = None) -> pd.DataFrame:
    """Which step counts :func:`take_up_funnel` hides, one row per group, without building its table.

    Parameters
    ----------
    path
        A :func:`participant_path` frame.
    by
        Grouping columns, as in :func:`take_up_funnel` (no breakdown: ``across_keys`` is not given).
    rules
        Disclosure settings, as in :func:`take_up_funnel`.

    Returns
    -------
    pandas.DataFrame
        The ``by`` columns (as text, one row per group in ``take_up_funnel``'s group order) and a boolean
        column per step of :data:`FUNNEL_STEPS`: true where ``take_up_funnel(path, by=by, rules=rules)``
        lists ``n`` among that row's ``suppressed`` (the same disclosure problem, solved once).
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    w, wd, _ = _funnel_disclosure(path, by, rules, None)
    out = pd.DataFrame({k: w[k] for k in by}) if by else pd.DataFrame(index=w.index)
    for s_ in FUNNEL_STEPS:
        out[s_] = wd[s_].isna().to_numpy(dtype=bool)
    return out.reset_index(drop=True)


def _joined_flags(names: Sequence[str], masks: Sequence[np.ndarray]) -> np.ndarray:
    """Per row, the ``names`` whose ``masks`` are true, joined with ``"; "`` in that order (``""`` when none): each
    combination's text is made once and looked up by its code (the masks as bits)."""
    code = np.zeros(len(masks[0]), dtype=np.int64)
    for i, m in enumerate(masks):
        code |= np.asarray(m, dtype=bool).astype(np.int64) << i
    texts = np.array(["; ".join(nm for i, nm in enumerate(names) if c >> i & 1) for c in range(1 << len(names))],
                     dtype=object)
    return texts[code]


def _funnel_table(w: pd.DataFrame, wd: pd.DataFrame, by: list[str], rules: PairingRules) -> pd.DataFrame:
    """:func:`take_up_funnel`'s table from the funnel's counts, true (``w``) and published (``wd``), of
    :func:`_funnel_disclosure`.

    Every step's block of rows (one per group) is built at once: each column is the steps' columns of
    ``w``/``wd`` one after another (step by step, as the blocks are stacked), then sorted by group and step.
    """
    names = list(FUNNEL_STEPS)
    keys = by if by else ["_all"]
    g, k = len(w), len(names)
    rows = np.tile(np.arange(g), k)
    block = {c: w[c].take(rows).reset_index(drop=True) for c in keys}
    block["step"] = pd.Series(names).repeat(g).reset_index(drop=True)  # text, as a scalar set on each block
    block["step_order"] = np.repeat(np.arange(1, k + 1, dtype=np.int64), g)
    block["description"] = pd.Series([FUNNEL_STEPS[s_] for s_ in names]).repeat(g).reset_index(drop=True)
    block["n"] = pd.concat([wd[s_] for s_ in names], ignore_index=True).array
    block["n_left"] = pd.concat([pd.Series(pd.array([0] * g, dtype="Int64")),
                                 *[wd[f"left_{s_}"] for s_ in names[1:]]], ignore_index=True).array
    prev = [names[i - 1] if i else s_ for i, s_ in enumerate(names)]
    raw = w[names].to_numpy(dtype=float)
    raw_n, raw_prev = raw.T.reshape(-1), w[prev].to_numpy(dtype=float).T.reshape(-1)
    raw_ref = np.tile(w["referred"].to_numpy(dtype=float), k)
    pub_hidden = wd[names].isna().to_numpy()
    n_hidden = pub_hidden.T.reshape(-1)
    hidden = n_hidden | wd[prev].isna().to_numpy().T.reshape(-1)
    hidden_r = n_hidden | np.tile(wd["referred"].isna().to_numpy(), k)
    left_hidden = np.concatenate([np.zeros(g, bool), wd[[f"left_{s_}" for s_ in names[1:]]].isna().to_numpy()
                                  .T.reshape(-1)])
    for col, base, mask in (("pct_of_previous", raw_prev, hidden), ("pct_of_referred", raw_ref, hidden_r)):
        pct, lo, hi = _wilson_pct(raw_n, base, rules.level)
        block[col], block[f"{col}_ci_low"], block[f"{col}_ci_high"] = (
            np.where(mask, np.nan, pct), np.where(mask, np.nan, lo), np.where(mask, np.nan, hi))
    block["suppressed"] = _joined_flags(("n", "n_left", "pct_of_previous", "pct_of_referred"),
                                        (n_hidden, left_hidden, hidden, hidden_r))
    out = pd.DataFrame(block).sort_values([*keys, "step_order"]).reset_index(drop=True)
    if not by:
        out = out.drop(columns=["_all"])
    out["suppressed"] = out["suppressed"].astype("string")
    out.attrs["disclosure"] = wd.attrs.get("disclosure", "")
    return _rules_col(out, rules)


def funnel_exits(
    tables: Mapping[str, pd.DataFrame] | EpisodeData | pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Coded reasons for leaving the funnel at each step, disclosure-controlled.

    Returns
    -------
    pandas.DataFrame
        One row per group x step x reason (plus a ``total`` row per step,
        ``is_total``): ``step`` (the step *not* reached), ``reason`` (the
        ``decline_reason``, the ``ending`` or ``ongoing``, ``no_valid_score``,
        ``no_baseline_in_window`` or an unpaired reason), ``n``, ``pct`` of
        those leaving at that step, ``rules``, ``suppressed``.

    Notes
    -----
    Disclosure: a step's reasons add up to the funnel's ``n_left`` at that
    step (the ``total`` row *is* that cell), so the reasons and the funnel
    are protected in one disclosure problem, shared with
    :func:`take_up_funnel` for the same ``by``: both tables hide the same
    cells, and no funnel cell hidden there can be worked out from the
    totals or reasons here (nor the other way round).
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    w, wd, c = _funnel_disclosure(_path_of(tables, rules, instruments), by, rules, None)
    return _exits_table(w, wd, c, by, rules)


def _exits_table(w: pd.DataFrame, wd: pd.DataFrame, c: pd.DataFrame, by: list[str],
                 rules: PairingRules) -> pd.DataFrame:
    """:func:`funnel_exits`'s table from the funnel's counts, true (``w``) and published (``wd``), and the exit
    reasons' cells ``c`` of :func:`_funnel_disclosure` (without ``across_keys``)."""
    names = list(FUNNEL_STEPS)
    keys = by if by else ["_all"]
    # each reason's cell and each step's total (the funnel's left_<step>), true and published, by group: the
    # group's row in ``w`` (``c`` holds the groups' rows in their sorted order, as ``w``), and the step's number
    row = group_index(w, keys).get_indexer(group_index(c, keys))
    cols = c["col"].astype(str).to_numpy()
    col_pos = {k: j for j, k in enumerate(dict.fromkeys(cols))}
    pub_x = wd[list(col_pos)].to_numpy(dtype=float, na_value=np.nan) if col_pos else np.zeros((len(w), 0))
    j = np.array([col_pos[k] for k in cols], dtype=np.int64)
    n_c = len(c)
    order = {s_: i for i, s_ in enumerate(names)}
    step = np.array([order[s_] for s_ in c["step"].to_numpy(dtype=object)], dtype=np.int64)
    # a total row per group x step with a reason (after its reasons), made from that step's first reason row
    pair = row * len(names) + step
    first = np.sort(np.unique(pair, return_index=True)[1])
    left_cols = [f"left_{s_}" for s_ in names[1:]]
    raw_left = w[left_cols].to_numpy(dtype=float)
    pub_left = wd[left_cols].to_numpy(dtype=float, na_value=np.nan)
    src = np.concatenate([np.arange(n_c), first])
    is_total = np.arange(len(src)) >= n_c
    n = np.concatenate([c["n"].to_numpy(dtype=float), raw_left[row[first], step[first] - 1]])
    n_pub = np.concatenate([pub_x[row, j], pub_left[row[first], step[first] - 1]])
    # rows by group, step (in the funnel's order), the reasons (in their sorted order, as ``c`` holds them) then
    # the total
    at = np.lexsort((src, is_total, step[src], row[src]))
    src, is_total, n, n_pub = src[at], is_total[at], n[at], n_pub[at]
    # each row's step total: the largest count of its group x step (its total row's), hidden where that is
    _, pid = np.unique(pair[src], return_inverse=True)
    total_n = np.full(pid.max(initial=-1) + 1, -np.inf)
    np.maximum.at(total_n, pid, n)
    n_hidden = np.isnan(n_pub)
    total_hidden = np.zeros(len(total_n), dtype=bool)
    total_hidden[pid[is_total & n_hidden]] = True
    pct_hidden = n_hidden | total_hidden[pid]
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(pct_hidden, np.nan, 100 * n / total_n[pid])
    reason = c["reason"].to_numpy(dtype=object)[src]
    reason[is_total] = "total"
    sup = np.where(n_hidden, "n", "").astype(object)
    sup = np.where(pct_hidden, np.where(n_hidden, "n; pct", "pct"), sup)
    out = pd.DataFrame({
        **{k: c[k].array.take(src) for k in by}, "step": c["step"].array.take(src),
        "reason": pd.array(reason, dtype="string"),
        "n": pd.array(np.where(n_hidden, None, n_pub), dtype="Float64").round().astype("Int64"),
        "is_total": is_total, "pct": pct, "suppressed": pd.array(sup.astype(str), dtype="string")})
    out.attrs["disclosure"] = wd.attrs.get("disclosure", "")
    return _rules_col(out, rules)


def take_up_rate(
    tables: Mapping[str, pd.DataFrame] | EpisodeData | pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    across_keys: Sequence[str] | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Share of referrals who took up the offer, with a Wilson interval.

    ``tables``: canonical tables, prepared episodes, a participants table, or the path
    :func:`participant_path` gives (a frame with a column per funnel step). ``across_keys`` and
    ``instruments``: as in :func:`take_up_funnel` (the same path, so the same disclosure problem).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n_referred``, ``n_took_up``, ``pct_took_up``
        (percent of referrals), ``pct_took_up_ci_low``, ``pct_took_up_ci_high``,
        ``rules``, ``suppressed``.

    Notes
    -----
    Denominator: every referral (as the example generator's
    ``take_up_rate``); referrals never offered count as not taking up. For
    the rate among those offered use :func:`take_up_funnel`
    (``pct_of_previous`` at ``took_up``).

    Disclosure: ``n_referred`` and ``n_took_up`` are the funnel's 'referred'
    and 'took up' cells, decided in the funnel's disclosure problem for the
    same ``by`` (and ``across_keys``), to which the number not taking up
    (``n_referred - n_took_up``) belongs too: this table hides exactly the
    cells :func:`take_up_funnel` hides, so neither undoes the other (e.g. a
    'took up' the funnel hides to protect a few mothers offered support who
    declined it).
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    # the counts are the funnel's 'referred' and 'took up', published as take_up_funnel publishes them (one
    # disclosure problem, with the funnel's breakdown totals when ``across_keys`` is given)
    w, wd, _ = _funnel_disclosure(_path_of(tables, rules, instruments), by, rules, across_keys)
    return _rate_table(w, wd, by, rules)


def _rate_table(w: pd.DataFrame, wd: pd.DataFrame, by: list[str], rules: PairingRules) -> pd.DataFrame:
    """:func:`take_up_rate`'s table from the funnel's counts, true (``w``) and published (``wd``), of
    :func:`_funnel_disclosure`."""
    out = w[by].copy() if by else pd.DataFrame(index=w.index)
    out["n_referred"] = wd["referred"].array
    out["n_took_up"] = wd["took_up"].array
    pct = _wilson_pct(w["took_up"].to_numpy(dtype=float), w["referred"].to_numpy(dtype=float), rules.level)
    rates = ("pct_took_up", "pct_took_up_ci_low", "pct_took_up_ci_high")
    either = hidden_mask(wd, "referred") | hidden_mask(wd, "took_up")
    for col, values in zip(rates, pct, strict=True):
        out[col] = np.where(either, np.nan, np.asarray(values, dtype=float))
    sources = {"n_referred": "referred", "n_took_up": "took_up", **dict.fromkeys(rates, ("referred", "took_up"))}
    out["suppressed"] = pd.array(carried_hidden(wd, sources).astype(str), dtype="string")
    out.attrs["disclosure"] = wd.attrs.get("disclosure", "")
    return _rules_col(out, rules)


@dataclass(frozen=True)
class FunnelTables:
    """The take-up funnel, its reasons for leaving and the take-up rate, from one disclosure problem.

    Attributes
    ----------
    funnel
        The table of :func:`take_up_funnel`.
    exits
        The table of :func:`funnel_exits`.
    take_up_rate
        The table of :func:`take_up_rate`.
    """

    funnel: pd.DataFrame
    exits: pd.DataFrame
    take_up_rate: pd.DataFrame


def funnel_tables(
    tables: Mapping[str, pd.DataFrame] | EpisodeData | pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> FunnelTables:
    """:func:`take_up_funnel`, :func:`funnel_exits` and :func:`take_up_rate` together, for one grouping.

    The three tables publish cells of one disclosure problem (the funnel's
    steps, those leaving each step and their reasons, those not taking up),
    so each of them solves it. Here it is solved once and the three tables
    are made from that one solution: for the same arguments, each table is
    the one its own function returns.

    Parameters
    ----------
    tables
        Canonical tables, an :class:`~evalkit.episodes.EpisodeData`, or a
        :func:`participant_path` frame (computed once for the three tables).
    by
        Grouping columns (participant columns); ``()`` pools everyone.
    rules
        ``min_dose``, pairing rules, ``level`` and disclosure settings.
    instruments
        Instrument registry.

    Returns
    -------
    FunnelTables
        ``funnel`` (as :func:`take_up_funnel`), ``exits`` (as
        :func:`funnel_exits`) and ``take_up_rate`` (as :func:`take_up_rate`).

    See Also
    --------
    take_up_funnel, funnel_exits, take_up_rate : each table on its own (and,
        for the funnel and the take-up rate, breakdowns with ``across_keys``).
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    w, wd, c = _funnel_disclosure(_path_of(tables, rules, instruments), by, rules, None)
    return FunnelTables(funnel=_funnel_table(w, wd, by, rules), exits=_exits_table(w, wd, c, by, rules),
                        take_up_rate=_rate_table(w, wd, by, rules))


def _dose_distribution(p: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per group of ``by``, the attended contacts of the participants who attended at least once.

    ``p`` holds one row per participant with ``_n`` (her attended contacts) and ``_src`` (where they were
    counted from). Returns, indexed by the groups: ``n_attended``, ``contacts_mean``, ``contacts_sd``,
    ``contacts_median``, ``contacts_q1``, ``contacts_q3``, ``contacts_p90``, the dose bins ``n_dose_1``,
    ``n_dose_2_3``, ``n_dose_4_7``, ``n_dose_8_plus`` and ``dose_source``.
    """
    a = p[p["_n"] >= 1]
    g = a.groupby(by, sort=True, dropna=False)["_n"]
    out = pd.DataFrame({
        "n_attended": g.size(), "contacts_mean": g.mean(), "contacts_sd": g.std(),
        "contacts_median": g.median(), "contacts_q1": g.quantile(0.25), "contacts_q3": g.quantile(0.75),
        "contacts_p90": g.quantile(0.9),
    })
    bins = pd.cut(a["_n"], [0, 1, 3, 7, np.inf], labels=["n_dose_1", "n_dose_2_3", "n_dose_4_7", "n_dose_8_plus"])
    dist = a.assign(_b=bins).groupby([*by, "_b"], sort=True, dropna=False, observed=False).size().unstack("_b")
    out = out.join(dist.reindex(columns=["n_dose_1", "n_dose_2_3", "n_dose_4_7", "n_dose_8_plus"], fill_value=0))
    # where a group's doses were counted from: "contacts", "sessions_attended" or both, joined in name order
    src = a.assign(_c=a["_src"].eq("contacts"), _r=a["_src"].eq("sessions_attended")) \
        .groupby(by, sort=True, dropna=False)[["_c", "_r"]].any()
    counted, reported = src["_c"].to_numpy(dtype=bool), src["_r"].to_numpy(dtype=bool)
    out["dose_source"] = pd.Series(np.where(counted & reported, "contacts+sessions_attended",
                                            np.where(counted, "contacts", "sessions_attended")), index=src.index)
    return out


def _attendance_published(out: pd.DataFrame, rules: PairingRules) -> pd.DataFrame:
    """The attendance figures per group (indexed by the groups) as :func:`attendance_summary` publishes them.

    Columns a group's data could not give are added as missing; ``n_contacts_booked`` and the did-not-attend
    rate with its Wilson interval are derived; every count is disclosure-controlled (with the dose bins and
    the contact outcomes as partitions of their totals), and the rules column added.
    """
    out = out.reset_index()
    for col in ("gap_days_median", "gap_days_q1", "gap_days_q3", "n_gaps", "weeks_engaged_median",
                "weeks_engaged_q1", "weeks_engaged_q3", "n_contacts_offered", "n_contacts_attended",
                "n_contacts_dna", "n_contacts_cancelled"):
        if col not in out.columns:
            out[col] = np.nan
    out["n_contacts_booked"] = out["n_contacts_dna"] + out["n_contacts_attended"]
    out["pct_dna"], out["pct_dna_ci_low"], out["pct_dna_ci_high"] = _wilson_pct(
        out["n_contacts_dna"], out["n_contacts_booked"], rules.level)
    dist_cols = ["contacts_mean", "contacts_sd", "contacts_median", "contacts_q1", "contacts_q3", "contacts_p90",
                 "weeks_engaged_median", "weeks_engaged_q1", "weeks_engaged_q3"]
    derived = {c_: ["n_attended"] for c_ in dist_cols}
    derived.update({c_: ["n_gaps"] for c_ in ("gap_days_median", "gap_days_q1", "gap_days_q3")})
    derived.update({c_: ["n_contacts_dna", "n_contacts_attended"] for c_ in ("n_contacts_booked", "pct_dna",
                                                                              "pct_dna_ci_low", "pct_dna_ci_high")})
    out = apply_disclosure(
        out, counts=["n_attended", "n_dose_1", "n_dose_2_3", "n_dose_4_7", "n_dose_8_plus", "n_gaps",
                     "n_contacts_offered", "n_contacts_attended", "n_contacts_dna", "n_contacts_cancelled"],
        partitions=[Partition(("n_dose_1", "n_dose_2_3", "n_dose_4_7", "n_dose_8_plus"), total="n_attended"),
                    Partition(("n_contacts_attended", "n_contacts_dna", "n_contacts_cancelled"),
                              total="n_contacts_offered")],
        derived=derived, rules=rules)
    out["n_contacts_booked"] = out["n_contacts_attended"] + out["n_contacts_dna"]  # the parts as published
    return _rules_col(out, rules)


def attendance_summary(
    tables: Mapping[str, pd.DataFrame],
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
) -> pd.DataFrame:
    """Attendance patterns per group: contacts per participant, gaps, weeks engaged, did-not-attend rate.

    Parameters
    ----------
    tables
        Canonical tables (``participants``, ``contacts``).
    by
        Grouping columns (participant columns).
    rules
        ``level`` and disclosure settings.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n_attended`` (participants with at least one
        attended contact), ``contacts_mean``, ``contacts_sd``,
        ``contacts_median``, ``contacts_q1``, ``contacts_q3``,
        ``contacts_p90``; ``n_dose_1``, ``n_dose_2_3``, ``n_dose_4_7``,
        ``n_dose_8_plus`` (participants by attended contacts);
        ``gap_days_median``, ``gap_days_q1``, ``gap_days_q3`` (days between
        consecutive attended contacts of a participant), ``n_gaps``;
        ``weeks_engaged_median``, ``weeks_engaged_q1``, ``weeks_engaged_q3``
        (first to last attended contact); ``n_contacts_offered``,
        ``n_contacts_attended``, ``n_contacts_dna``,
        ``n_contacts_cancelled``, ``n_contacts_booked`` (attended + did not
        attend: the base of ``pct_dna``), ``pct_dna`` (did not attend /
        booked) with Wilson CI; ``dose_source``; ``rules``, ``suppressed``.

    Notes
    -----
    Programmes without contact rows use ``sessions_attended`` for the
    distribution of contacts; gaps, weeks engaged and DNA are then missing.

    ``n_contacts_booked`` is the sum of the published ``n_contacts_attended``
    and ``n_contacts_dna`` (rounded as they are), hidden wherever either is:
    it tells a reader nothing the two do not.
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    t = coerce_tables(tables)
    from evalkit.episodes import _arrow_strings, _participant_frame, _positions

    # grouped on text (the participant frame holds descriptive text as categoricals): the groups that occur,
    # every dose bin for each, and text columns in the table; only the columns used (each filter copies them)
    p = _participant_frame(t)
    p = categories_as_text(p[list(dict.fromkeys(["participant_id", "programme_id", "sessions_attended", *by]))], by)
    c = t.get("contacts")
    if c is None:
        c = pd.DataFrame(columns=["programme_id", "participant_id", "contact_date", "status"])
    with_rows = set(pd.Series(c["programme_id"].unique()).dropna().astype(str))
    # each contact as its participant's position in `p` (-1: unknown participant, ignored) and its status as flags;
    # every per-contact step below works on these integers, not on the contacts' text (at a million participants,
    # 10.6M contacts, copies of the contacts with their text participant ids cost about 2 GB)
    pos = _positions(c["participant_id"], _arrow_strings(p["participant_id"]))
    known = pos >= 0
    is_att, is_dna, is_can = _status_flags(c["status"])
    att_pos = pos[known & is_att]
    no_rows = ~p["programme_id"].astype(str).isin(with_rows).to_numpy(dtype=bool)
    n_att = np.bincount(att_pos, minlength=len(p)).astype(np.float64)
    reported = _as_float(p["sessions_attended"])
    p = p.assign(_n=np.where(no_rows, reported, n_att), _src=np.where(no_rows, "sessions_attended", "contacts"))
    out = _dose_distribution(p, by)
    if len(att_pos):
        # the groups as codes of the participants (one look-up per participant, by position per contact)
        grouped = p.groupby(by, sort=True, dropna=False)
        gcode = grouped.ngroup().to_numpy(dtype=np.int64)
        keys = grouped.size().index
        # contacts offered, attended, did not attend, cancelled: per participant, then per group
        counts = [np.bincount(gcode, weights=np.bincount(pos[known & f], minlength=len(p)), minlength=len(keys))
                  for f in (known, is_att, is_dna, is_can)]
        sums = pd.DataFrame(np.column_stack(counts).astype(np.int64),
                            columns=["n_contacts_offered", "n_contacts_attended", "n_contacts_dna",
                                     "n_contacts_cancelled"])
        date = c["contact_date"].to_numpy(dtype="datetime64[ns]")[known & is_att]
        del pos, known, is_att, is_dna, is_can, counts
        # the attended contacts with a date by participant and date (contacts without a date make no gap: a sort
        # put them last and a difference with them is missing); gaps between consecutive ones of a participant,
        # weeks engaged from her first to her last
        dated = ~np.isnat(date)
        if not dated.all():
            att_pos, date = att_pos[dated], date[dated]
        del dated
        order = np.lexsort((date.view(np.int64), att_pos))
        sp = att_pos[order]  # one copy at a time: these are 9.4 million contacts at a million participants
        del att_pos
        sd = date.view(np.int64)[order]
        del date, order
        first = np.flatnonzero(np.r_[True, sp[1:] != sp[:-1]]) if len(sp) else np.zeros(0, dtype=np.int64)
        last = np.r_[first[1:] - 1, len(sp) - 1] if len(sp) else first
        weeks = _group_quartiles((sd[last] - sd[first]) // _DAY_NS / 7.0, gcode[sp[first]], len(keys))
        del first, last
        same = sp[1:] == sp[:-1]
        gap_code = gcode[sp[1:][same]]
        del sp
        days = np.diff(sd)[same]
        del sd, same
        days //= _DAY_NS
        gap = days.astype(np.float64)
        del days
        gaps = _group_quartiles(gap, gap_code, len(keys))
        del gap, gap_code
        out = out.join(_keyed(gaps.set_axis(["gap_days_median", "gap_days_q1", "gap_days_q3", "n_gaps"], axis=1),
                              keys))
        out = out.join(_keyed(weeks[["median", "q1", "q3"]].set_axis(
            ["weeks_engaged_median", "weeks_engaged_q1", "weeks_engaged_q3"], axis=1), keys))
        out = out.join(_keyed(sums[sums["n_contacts_offered"] > 0], keys))
    return _attendance_published(out, rules)


def endings_summary(
    tables: Mapping[str, pd.DataFrame] | pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    across_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """How support ended, among participants who attended at least once.

    ``across_keys``: as in :func:`take_up_funnel`, for breakdowns (each ending
    group's counts across the levels add up to the programme's count).

    Returns
    -------
    pandas.DataFrame
        Per group, one row per ending group -- ``planned`` (planned ending),
        ``moved_on_coping`` (moved on because coping / no longer needed),
        ``stopped_attending`` (stopped without a planned ending), ``other``
        (moved away, referred elsewhere, returned to work, programme ended,
        other, unknown), ``ongoing`` (no ending recorded) -- and a ``total``
        row: ``ending_group``, ``n``, ``pct`` (of the group's total) with
        Wilson ``pct_ci_low``/``pct_ci_high``, ``rules``, ``suppressed``.
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    path = _path_of(tables, rules)
    a = path[path["attended"].astype(bool)]
    cat = pd.Categorical(a["ending_group"].astype("string"), categories=list(_ENDING_ORDER))
    a = a.assign(ending_group=cat)
    if by:
        a = categories_as_text(a, by)  # every ending group for each group of values that occur
        c = a.groupby([*by, "ending_group"], sort=True, dropna=False, observed=False).size().rename("n").reset_index()
        tot = c.groupby(by, sort=True, dropna=False)["n"].sum().reset_index()
    else:
        c = a["ending_group"].value_counts().reindex(list(_ENDING_ORDER), fill_value=0).rename("n") \
            .rename_axis("ending_group").reset_index()
        tot = pd.DataFrame({"n": [int(c["n"].sum())]})
    c["ending_group"] = c["ending_group"].astype("string")
    tot["ending_group"] = "total"
    c["is_total"] = False
    tot["is_total"] = True
    out = pd.concat([c, tot], ignore_index=True)
    order = {k: i for i, k in enumerate([*_ENDING_ORDER, "total"])}
    out = out.assign(_o=out["ending_group"].map(order)).sort_values([*by, "_o"]).drop(columns="_o") \
        .reset_index(drop=True)
    total_n = out.groupby(by, sort=False, dropna=False)["n"].transform("max") if by else \
        pd.Series(out["n"].max(), index=out.index)
    out["n_group"] = total_n
    out["pct"], out["pct_ci_low"], out["pct_ci_high"] = _wilson_pct(out["n"], total_n, rules.level)
    across = [Across("n", tuple(by), total_rows="is_total")]
    hidden = None
    levels = out
    if across_keys is not None:
        # the levels add up to the table by ``across_keys`` as published: never to a count it hides
        out, hidden, totals = with_published_totals(
            out, endings_summary(path, by=list(across_keys), rules=rules), keys=list(across_keys),
            category="ending_group", count="n", group_total="n_group",
            breakdown=[c for c in by if c not in across_keys])
        across.append(totals)
    out = apply_disclosure(out, counts=["n", "n_group"], across=across,
                           derived={k: ["n", "n_group"] for k in ("pct", "pct_ci_low", "pct_ci_high")}, rules=rules,
                           hidden_elsewhere=hidden)
    if across_keys is not None:
        out = without_published_total_rows(out, levels, columns=by)
    out = out.drop(columns=["n_group"])
    out["suppressed"] = out["suppressed"].str.replace(r"(^|; )n_group(?=;|$)", "", regex=True) \
        .str.strip("; ").astype("string")
    return _rules_col(out, rules)


def head_counts(
    tables: Mapping[str, pd.DataFrame],
    *,
    per_session: bool = False,
    rules: PairingRules | None = None,
) -> pd.DataFrame:
    """Group sessions: the head count at the session against the named (recorded) attendance.

    Parameters
    ----------
    tables
        Canonical tables with ``group_sessions`` and ``contacts``.
    per_session
        One row per session (``True``) or a summary per programme (default).
    rules
        Disclosure settings.

    Returns
    -------
    pandas.DataFrame
        Per session: ``programme_id``, ``group_session_id``, ``session_date``,
        ``head_count``, ``n_named`` (participants with an attended contact
        at that session), ``n_unnamed`` (head count minus named, floored at
        0), ``named_exceeds_head_count`` (a data-quality flag). Per programme:
        ``n_sessions``, ``total_head_count``, ``total_named``,
        ``total_unnamed``, ``pct_named`` (named / head count), ``head_count_mean``,
        ``head_count_median``, ``n_sessions_named_exceeds``. Both with
        ``rules``, ``suppressed``.

    Notes
    -----
    Drop-in groups often count mothers without naming them, so outcome data
    (named participants only) cover part of those who came; ``pct_named``
    shows how much.
    """
    rules = PairingRules() if rules is None else rules
    t = coerce_tables(tables)
    gs = t.get("group_sessions")
    if gs is None or not len(gs):
        cols = ["programme_id", "group_session_id", "session_date", "head_count", "n_named", "n_unnamed"] \
            if per_session else ["programme_id", "n_sessions", "total_head_count", "total_named", "pct_named"]
        return _rules_col(pd.DataFrame(columns=cols), rules)
    c = t.get("contacts", pd.DataFrame(columns=["group_session_id", "status", "participant_id"]))
    att = c[(c["status"].astype("string") == "attended").fillna(False) & c["group_session_id"].notna()]
    named = att.drop_duplicates(["group_session_id", "participant_id"]).groupby("group_session_id").size()
    s = gs[["programme_id", "group_session_id", "session_date", "head_count"]].copy()
    s["n_named"] = s["group_session_id"].map(named).fillna(0).astype(int)
    hc = pd.to_numeric(s["head_count"], errors="coerce").astype(float)
    s["n_unnamed"] = np.maximum(hc - s["n_named"], 0)
    s["named_exceeds_head_count"] = (s["n_named"] > hc).fillna(False)
    s = s.sort_values(["programme_id", "session_date", "group_session_id"]).reset_index(drop=True)
    if per_session:
        s["head_count"] = hc
        out = apply_disclosure(s, counts=["head_count", "n_named", "n_unnamed"],
                               partitions=[Partition(("n_named", "n_unnamed"), total="head_count")], rules=rules)
        out.attrs["note"] = ("Sessions where the named attendance exceeds the head count are flagged; their "
                             "unnamed count is floored at 0, so named + unnamed may exceed the head count there.")
        return _rules_col(out, rules)
    g = s.assign(_hc=hc).groupby("programme_id", sort=True)
    out = pd.DataFrame({
        "n_sessions": g.size(), "total_head_count": g["_hc"].sum(), "total_named": g["n_named"].sum(),
        "head_count_mean": g["_hc"].mean(), "head_count_median": g["_hc"].median(),
        "n_sessions_named_exceeds": g["named_exceeds_head_count"].sum(),
    }).reset_index()
    out["total_unnamed"] = np.maximum(out["total_head_count"] - out["total_named"], 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["pct_named"] = 100 * out["total_named"] / out["total_head_count"]
    out = apply_disclosure(out, counts=["n_sessions", "total_head_count", "total_named", "total_unnamed",
                                        "n_sessions_named_exceeds"],
                           partitions=[Partition(("total_named", "total_unnamed"), total="total_head_count")],
                           derived={"pct_named": ["total_named", "total_head_count"],
                                    "head_count_mean": ["n_sessions"], "head_count_median": ["n_sessions"]},
                           rules=rules)
    return _rules_col(out, rules)
