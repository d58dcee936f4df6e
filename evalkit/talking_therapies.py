"""NHS Talking Therapies (formerly IAPT) outcome metrics, and the same logic 'IAPT-style' for the EPDS.

One job: turn per-episode change (:func:`evalkit.change.episode_change`) into
the NHS Talking Therapies per-person outcomes and their rates, with the
official joint rules for PHQ-9 + GAD-7 and the official denominators
(instruments.md section 11.1; NHS England 2025 metadata [S60], NHS Digital
[S41], OHID glossary [S42]).

Measure sets (``measure_set``):

* ``phq9+gad7`` -- **NHS Talking Therapies**: a participant with any valid
  score on both the PHQ-9 and the GAD-7. Finished (in the denominator) when
  paired on both (the official construction needs a last score on both).
* ``phq9`` or ``gad7`` -- **IAPT-style**, single measure: participants with
  only one of the two.
* ``epds`` -- **IAPT-style** with the EPDS cut-off (>= 13) and Matthey's
  reliable-change threshold (4): perinatal services mirror the IAPT metrics
  with the EPDS, which are not NHS Talking Therapies outcomes.

Definitions (per participant in a set; caseness, reliable improvement and
deterioration come from the episode change columns, i.e. the instrument
files' cut-offs and published thresholds: PHQ-9 >= 10 / 6, GAD-7 >= 8 / 4):

* ``caseness_start``: at caseness on the first score of **either** measure;
* ``recovery``: ``caseness_start`` and **not** at caseness on the last score
  of **both** measures;
* ``reliable_improvement``: a reliable fall on **either** measure and a
  reliable rise on **neither** (with last scores on both);
* ``reliable_deterioration``: a reliable rise on **either** measure (the
  official metadata do not spell out the joint rule; this is the common
  reading, instruments.md section 11.1, status U);
* ``no_reliable_change``: neither of the two above;
* ``reliable_recovery``: ``recovery`` and ``reliable_improvement``.

Rates: recovery and reliable recovery are divided by *finished minus not at
caseness at the start*; reliable improvement, reliable deterioration and no
reliable change by *all finished* (e.g. 27,884 / (57,060 - 3,200) = 51.8%).
'Finished a course of treatment' is mirrored by being paired under the
rules, which need at least ``min_dose`` attended contacts (default 2, as NHS
Talking Therapies' 'at least two treatment appointments').
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from evalkit.disclosure import Across, Partition, apply_disclosure
from evalkit.rules import PairingRules

__all__ = ["MEASURE_SETS", "RATE_COUNTS", "disclose_rates", "rate", "talking_therapies_outcomes",
           "talking_therapies_rates"]

MEASURE_SETS: dict[str, str] = {
    "phq9+gad7": "NHS Talking Therapies (PHQ-9 + GAD-7)",
    "phq9": "IAPT-style (PHQ-9 only)",
    "gad7": "IAPT-style (GAD-7 only)",
    "epds": "IAPT-style (EPDS >= 13, reliable change 4)",
}
"""Measure-set codes and their labels."""


_SET_CODES: tuple[str, ...] = ("phq9+gad7", "phq9", "gad7", "epds")
"""The measure sets in the order of :func:`talking_therapies_outcomes`' rows before sorting."""


def _text_at(values: pd.Series, rows: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """``values`` at ``rows`` as ``string`` text, taken in Arrow (no Python string per row).

    The same text as ``values.to_numpy(dtype=object)[rows]`` turned into ``string``: the conversion is cell by
    cell, so converting first and taking the rows after gives the same cells.
    """
    return values.astype("string").array.take(rows)


def _sort_order(frame: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """The row order ``frame.sort_values(keys)`` gives on two keys or more (ascending, stable, a missing value last
    in each key).

    Each key's values as integer codes in sorted order (missing: after all), the rows ordered on them by a stable
    lexicographic sort, as pandas orders rows on several keys.
    """
    codes = []
    for k in keys:
        code, uniques = pd.factorize(frame[k], sort=True)
        codes.append(np.where(code < 0, len(uniques), code))
    return np.lexsort(codes[::-1]) if codes else np.arange(len(frame))


def _sorted(frame: pd.DataFrame, columns: Sequence[str], keys: Sequence[str]) -> pd.DataFrame:
    """``frame[columns].sort_values(keys).reset_index(drop=True)``, taking one column at a time.

    Each column is taken in the sorted order and dropped from ``frame`` (which is emptied), so that one column
    is copied at a time: at a million participants ``sort_values`` copied the whole table while every column
    of it was still held (this step's peak).
    """
    if len(keys) < 2:  # on one key pandas sorts by an unstable quicksort: its order of tied rows is its own
        return frame[list(columns)].sort_values(list(keys)).reset_index(drop=True)
    order = _sort_order(frame, keys)
    taken = {c: frame.pop(c).array.take(order) for c in columns}
    return pd.DataFrame(taken, index=pd.RangeIndex(len(order)), copy=False)


def _set_text(codes: np.ndarray, labels: Sequence[str]) -> pd.api.extensions.ExtensionArray:
    """The text of ``labels`` at each of ``codes`` (positions into ``labels``), as ``string`` text.

    Taken from a ``string`` array of the few labels, so that no Python string is made per row.
    """
    return pd.array(list(labels), dtype="string").take(np.asarray(codes, dtype=np.int64))

_FLAGS = ("caseness_start", "caseness_end", "recovery", "reliable_improvement", "reliable_deterioration",
          "no_reliable_change", "reliable_recovery")


def rate(numerator: float, finished: float, not_at_caseness: float = 0.0) -> float:
    """An NHS Talking Therapies rate: ``numerator / (finished - not_at_caseness)``.

    Pass ``not_at_caseness`` for recovery and reliable recovery, leave it 0 for
    reliable improvement, deterioration and no reliable change.

    Examples
    --------
    The published example (NHS Digital 2020; instruments.md section 11.1):

    >>> round(100 * rate(27_884, 57_060, 3_200), 1)
    51.8
    >>> round(100 * rate(39_417, 57_060), 1)
    69.1
    """
    den = finished - not_at_caseness
    return float("nan") if den <= 0 else numerator / den


def _with_unfinished_missing(flags: dict[str, pd.arrays.BooleanArray],
                             finished: np.ndarray) -> dict[str, pd.arrays.BooleanArray]:
    """Each flag with ``<NA>`` where the person did not finish (a copy; the flags given are left as they are)."""
    out = {}
    for k, v in flags.items():
        arr = v.copy()
        arr[~finished] = pd.NA
        out[k] = arr
    return out


def _single_flags(cb: pd.arrays.BooleanArray, ce: pd.arrays.BooleanArray, ri: pd.arrays.BooleanArray,
                  rd: pd.arrays.BooleanArray, paired: np.ndarray) -> dict[str, pd.arrays.BooleanArray]:
    """The flags of :data:`_FLAGS` of single-measure episodes (one per row; missing where not paired)."""
    rec = cb & ~ce
    return _with_unfinished_missing(
        {"caseness_start": cb, "caseness_end": ce, "recovery": rec, "reliable_improvement": ri,
         "reliable_deterioration": rd, "no_reliable_change": ~ri & ~rd, "reliable_recovery": rec & ri}, paired)


def _one_of_each(ep: pd.DataFrame, person: np.ndarray, both: np.ndarray, inst: pd.Series) -> None:
    """Raise ``ValueError`` naming the first mother of the joint set with more than one PHQ-9 or GAD-7 row.

    The joint set pairs each mother's one PHQ-9 episode with her one GAD-7 episode (as
    :func:`evalkit.episodes.prepare_episodes` makes them: one per participant x instrument); with two of
    either, which one counts would be a matter of row order.
    """
    for code, label in (("phq9", "PHQ-9"), ("gad7", "GAD-7")):
        rows = np.flatnonzero(both & (inst == code).fillna(False).to_numpy(dtype=bool))
        n = np.bincount(person[rows], minlength=person.max(initial=-1) + 1)
        extra = rows[n[person[rows]] > 1]
        if len(extra):
            first = ep.iloc[extra[0]]
            raise ValueError(
                f"participant {first['participant_id']!r} of programme {first['programme_id']!r} has "
                f"{int(n[person[extra[0]]])} {label} rows in the changes; talking_therapies_outcomes needs one "
                "episode per participant and instrument, as prepare_episodes makes them.")


def talking_therapies_outcomes(changes: pd.DataFrame, *, rules: PairingRules | None = None) -> pd.DataFrame:
    """Per-participant NHS Talking Therapies (and IAPT-style) outcomes.

    Parameters
    ----------
    changes
        Episodes with change columns (:func:`evalkit.change.episode_change`).
    rules
        Only used for the ``rules`` column.

    Returns
    -------
    pandas.DataFrame
        One row per participant x measure set (see the module docstring):
        ``programme_id``, ``participant_id``, ``measure_set``,
        ``measure_set_label``, ``finished`` (bool: paired on every measure of
        the set), ``not_finished_reason``, and the nullable booleans
        ``caseness_start``, ``caseness_end``, ``recovery``,
        ``reliable_improvement``, ``reliable_deterioration``,
        ``no_reliable_change``, ``reliable_recovery`` (missing when not
        finished), plus ``rules``. Individual level: for the provider only.

    Raises
    ------
    ValueError
        When a participant of a programme has two PHQ-9 or two GAD-7 rows (one episode per
        participant and instrument is what the joint PHQ-9 + GAD-7 set pairs).

    Examples
    --------
    Two mothers with PHQ-9 and GAD-7: the first falls 7 on the PHQ-9 but rises
    4 on the GAD-7 -- a reliable deterioration, so not a reliable
    improvement; the second goes from caseness on the GAD-7 only (9) to below
    it on both -- recovery, and a reliable improvement (GAD-7 falls 5).

    >>> import pandas as pd
    >>> from evalkit.change import episode_change
    >>> ep = pd.DataFrame({
    ...     "programme_id": "P", "participant_id": ["a", "a", "b", "b"],
    ...     "instrument": ["phq9", "gad7", "phq9", "gad7"], "role": "symptom", "higher_is_better": False,
    ...     "paired": True, "unpaired_reason": pd.NA,
    ...     "baseline_score": [15.0, 5.0, 8.0, 9.0], "endpoint_score": [8.0, 9.0, 7.0, 4.0],
    ...     "baseline_date": pd.Timestamp("2025-01-01")})
    >>> tt = talking_therapies_outcomes(episode_change(ep))
    >>> tt[["participant_id", "recovery", "reliable_improvement", "reliable_deterioration"]]
      participant_id  recovery  reliable_improvement  reliable_deterioration
    0              a     False                 False                    True
    1              b      True                  True                   False
    """
    rules = PairingRules() if rules is None else rules
    # the columns used here only, so that the row selections below do not copy the wide change frame
    ep = changes[[c for c in ("programme_id", "participant_id", "instrument", "paired", "unpaired_reason",
                              "caseness_baseline", "caseness_endpoint", "reliable_improvement",
                              "reliable_deterioration") if c in changes.columns]]
    # the rows of the people (programme x participant) with both a PHQ-9 and a GAD-7 episode, on integer codes
    # of the pairs (not an index of a million pairs of text); a pair with a missing id is never one of them
    prog = pd.factorize(ep["programme_id"])[0].astype(np.int64)
    part = pd.factorize(ep["participant_id"])[0].astype(np.int64)
    known = (prog >= 0) & (part >= 0)
    person = np.full(len(ep), -1, dtype=np.int64)
    person[known] = pd.factorize(prog[known] * (part.max(initial=-1) + 1) + part[known])[0]
    inst = ep["instrument"].astype("string")
    has_phq = np.zeros(person.max(initial=-1) + 2, dtype=bool)  # last slot: person -1, never set
    has_gad = has_phq.copy()
    has_phq[person[(inst == "phq9").fillna(False).to_numpy(dtype=bool) & known]] = True
    has_gad[person[(inst == "gad7").fillna(False).to_numpy(dtype=bool) & known]] = True
    both = known & has_phq[person] & has_gad[person]
    _one_of_each(ep, person, both, inst)
    del prog, part
    # every episode's own flags once (missing where not paired): the single-measure sets take their rows, the
    # joint set combines those of each person's PHQ-9 and GAD-7 rows
    paired = ep["paired"].astype(bool).to_numpy()
    single = _single_flags(*(ep[c].astype("boolean").array for c in (
        "caseness_baseline", "caseness_endpoint", "reliable_improvement", "reliable_deterioration")), paired)
    reason_all = ep["unpaired_reason"].astype("string").array
    is_phq = (inst == "phq9").fillna(False).to_numpy(dtype=bool)
    is_gad = (inst == "gad7").fillna(False).to_numpy(dtype=bool)
    p_rows = np.flatnonzero(both & is_phq)
    # each person's GAD-7 row beside her PHQ-9 row (a person of the joint set has one of each)
    gad_of = np.full(person.max(initial=-1) + 1, -1, dtype=np.int64)
    g_all = np.flatnonzero(both & is_gad)
    gad_of[person[g_all]] = g_all
    g_rows = gad_of[person[p_rows]]
    del known, person, inst, has_phq, has_gad, gad_of, g_all
    fin = paired[p_rows] & paired[g_rows]
    reason = reason_all[p_rows].copy()
    gap = reason.isna()
    reason[gap] = reason_all[g_rows][gap]
    reason[fin] = pd.NA
    p, g = ({k: v[rows] for k, v in single.items()} for rows in (p_rows, g_rows))
    cs = p["caseness_start"] | g["caseness_start"]
    ce = p["caseness_end"] | g["caseness_end"]
    ri_any = p["reliable_improvement"] | g["reliable_improvement"]
    rd_any = p["reliable_deterioration"] | g["reliable_deterioration"]
    rec = cs & ~ce
    ri = ri_any & ~rd_any
    joint = _with_unfinished_missing(
        {"caseness_start": cs, "caseness_end": ce, "recovery": rec, "reliable_improvement": ri,
         "reliable_deterioration": rd_any, "no_reliable_change": ~ri & ~rd_any, "reliable_recovery": rec & ri}, fin)
    # the single-measure sets: PHQ-9 or GAD-7 alone (people without both), and the EPDS of everyone
    only_phq, only_gad = np.flatnonzero(~both & is_phq), np.flatnonzero(~both & is_gad)
    only_epds = np.flatnonzero((ep["instrument"] == "epds").fillna(False).to_numpy(dtype=bool))
    only = np.concatenate([only_phq, only_gad, only_epds])
    # each output row's measure set as a code into _SET_CODES: the joint rows, then the single-measure rows in
    # the order of ``only``
    set_code = np.repeat(np.arange(len(_SET_CODES)), [len(p_rows), len(only_phq), len(only_gad), len(only_epds)])
    rows_out = np.concatenate([p_rows, only])

    def stacked(joint_part: pd.arrays.BooleanArray, rows_part: pd.arrays.BooleanArray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(
            np.concatenate([joint_part.to_numpy(dtype=bool, na_value=False),
                            rows_part.to_numpy(dtype=bool, na_value=False)]),
            np.concatenate([joint_part.isna(), rows_part.isna()]))

    # the text columns taken as text (Arrow strings), not as a Python string object per row: at a million
    # participants object arrays of the ids were the largest part of this step's 800 MB peak
    out = pd.DataFrame({
        "programme_id": _text_at(ep["programme_id"], rows_out),
        "participant_id": _text_at(ep["participant_id"], rows_out),
        "measure_set": _set_text(set_code, list(_SET_CODES)),
        "measure_set_label": _set_text(set_code, [MEASURE_SETS[c] for c in _SET_CODES]),
        "finished": np.concatenate([fin, paired[only]]),
        "not_finished_reason": type(reason)._concat_same_type([reason, reason_all[only]]),
        **{k: stacked(joint[k], single[k][only]) for k in _FLAGS},
    })
    cols = ["programme_id", "participant_id", "measure_set", "measure_set_label", "finished", "not_finished_reason",
            *_FLAGS]
    for c in ("programme_id", "participant_id", "measure_set", "measure_set_label", "not_finished_reason"):
        out[c] = out[c].astype("string")
    out["finished"] = out["finished"].astype(bool)
    for c in _FLAGS:
        out[c] = out[c].astype("boolean")
    del ep, single, joint, p, g, cs, ce, ri_any, rd_any, rec, ri, paired, reason, reason_all, fin, both, is_phq, \
        is_gad, p_rows, g_rows, only, rows_out, set_code  # the episode-level intermediates, before the sort
    out = _sorted(out, cols, ["programme_id", "measure_set", "participant_id"])
    rules.stamp(out)
    out.attrs["individual_level"] = True
    return out


#: each rate's numerator metric -> its denominator count
RATE_DENOMINATORS: dict[str, str] = {
    "recovery": "n_caseness_start", "reliable_recovery": "n_caseness_start", "reliable_improvement": "n_finished",
    "reliable_deterioration": "n_finished", "no_reliable_change": "n_finished"}

RATE_COUNTS: tuple[str, ...] = ("n_finished", "n_caseness_start", "n_not_caseness_start", "n_recovery",
                                "n_reliable_recovery", "n_reliable_improvement", "n_reliable_deterioration",
                                "n_no_reliable_change")
"""The count columns of :func:`talking_therapies_rates`, in order: the counts of mothers that
:func:`disclose_rates` protects (and that a breakdown's levels add up to, e.g.
:func:`evalkit.for_whom.talking_therapies_by`)."""


def disclose_rates(
    rates: pd.DataFrame,
    *,
    rules: PairingRules | None = None,
    hidden_elsewhere: Mapping[str, np.ndarray] | None = None,
    across: Sequence[Across] = (),
) -> pd.DataFrame:
    """Disclosure control of :func:`talking_therapies_rates` computed with ``disclose=False``.

    The counts of :data:`RATE_COUNTS` are protected. Within each row: caseness at the start and not at caseness add up to n
    finished; reliable improvement, deterioration and no reliable change add
    up to n finished; recovery and reliable recovery lie inside caseness at
    the start (their rests are protected too). A percentage and its interval
    are hidden with either count it comes from
    (:func:`evalkit.disclosure.apply_disclosure`).

    Parameters
    ----------
    rates
        The rates before disclosure control.
    rules
        Threshold, zeros and rounding (default ``PairingRules()``).
    hidden_elsewhere
        Count column -> boolean array over the rows of ``rates``: cells to hide
        because another output of the same people would otherwise give them
        away (see :func:`evalkit.disclosure.apply_disclosure`).
    across
        Rules tying rows together (a breakdown's levels to their totals, as
        :func:`evalkit.disclosure.with_published_total_rows` gives them).

    Returns
    -------
    pandas.DataFrame
        ``rates`` with hidden counts ``<NA>``, derived percentages hidden and
        a ``suppressed`` column.

    See Also
    --------
    talking_therapies_rates : with ``disclose=True`` (the default), the rates through this function.
    evalkit.disclosure.with_published_total_rows : a breakdown's levels joined to their published totals.

    Examples
    --------
    >>> rates = pd.DataFrame({"programme_id": ["P"], "measure_set": ["epds"], "n_finished": [12],
    ...                       "n_caseness_start": [9], "n_not_caseness_start": [3], "n_recovery": [6],
    ...                       "n_reliable_recovery": [5], "n_reliable_improvement": [8],
    ...                       "n_reliable_deterioration": [0], "n_no_reliable_change": [4]})
    >>> out = disclose_rates(rates)
    >>> out[["n_finished", "n_caseness_start", "n_not_caseness_start"]].iloc[0].tolist()  # 3 is small
    [12, <NA>, <NA>]
    """
    rules = PairingRules() if rules is None else rules
    derived = {f"pct_{m}{suffix}": [f"n_{m}", den] for m, den in RATE_DENOMINATORS.items()
               for suffix in ("", "_ci_low", "_ci_high")}
    out = apply_disclosure(rates, counts=list(RATE_COUNTS), derived=derived, rules=rules,
                            hidden_elsewhere=hidden_elsewhere, across=across, partitions=[
                                Partition(("n_caseness_start", "n_not_caseness_start"), total="n_finished"),
                                Partition(("n_reliable_improvement", "n_reliable_deterioration",
                                           "n_no_reliable_change"), total="n_finished"),
                                Partition(("n_recovery",), total="n_caseness_start", remainder=True),
                                Partition(("n_reliable_recovery",), total="n_caseness_start", remainder=True),
                            ])
    if "rules" in out.columns:  # the rules stamp stays the last column
        out = out[[*(c for c in out.columns if c != "rules"), "rules"]]
    return out


def talking_therapies_rates(
    outcomes: pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id", "measure_set"),
    rules: PairingRules | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """NHS Talking Therapies rates with Wilson intervals, disclosure-controlled.

    Parameters
    ----------
    outcomes
        Output of :func:`talking_therapies_outcomes` (possibly with context
        columns merged in for breakdowns).
    by
        Grouping columns (must include ``measure_set``).
    rules
        ``level`` and disclosure settings.
    disclose
        Apply disclosure control (default True).

    Returns
    -------
    pandas.DataFrame
        One row per group: ``measure_set_label``, ``n_finished``,
        ``n_caseness_start``, ``n_not_caseness_start``, and for each of
        ``recovery``, ``reliable_recovery`` (denominator ``n_finished -
        n_not_caseness_start``) and ``reliable_improvement``,
        ``reliable_deterioration``, ``no_reliable_change`` (denominator
        ``n_finished``): ``n_<metric>``, ``pct_<metric>``,
        ``pct_<metric>_ci_low``, ``pct_<metric>_ci_high`` (Wilson, percent);
        ``rules``, ``suppressed``.
    """
    from evalkit.stats import wilson_ci

    rules = PairingRules() if rules is None else rules
    by = list(by)
    metrics = tuple(RATE_DENOMINATORS)
    # the columns counted, then the finished rows (not a copy of every column of the outcomes)
    counted = list(dict.fromkeys([*by, "caseness_start", *metrics]))
    fin = outcomes[counted][outcomes["finished"].astype(bool).to_numpy()]
    f = pd.DataFrame({k: fin[k] for k in by})
    f["n_finished"] = 1
    f["n_caseness_start"] = fin["caseness_start"].fillna(False).astype(int)
    f["n_not_caseness_start"] = 1 - f["n_caseness_start"]
    for m in metrics:
        f[f"n_{m}"] = fin[m].fillna(False).astype(int)
    out = f.groupby(by, sort=True, dropna=False).sum().reset_index()
    if "measure_set" in by:
        out.insert(by.index("measure_set") + 1, "measure_set_label", out["measure_set"].map(MEASURE_SETS))
    for m, den in RATE_DENOMINATORS.items():
        x = out[f"n_{m}"].to_numpy(dtype=float)
        n = out[den].to_numpy(dtype=float)
        ok = n > 0
        pct = np.full(len(x), np.nan)
        lo = np.full(len(x), np.nan)
        hi = np.full(len(x), np.nan)
        if ok.any():
            pct[ok] = 100 * x[ok] / n[ok]
            lo_ok, hi_ok = wilson_ci(x[ok], n[ok], rules.level)
            lo[ok], hi[ok] = 100 * lo_ok, 100 * hi_ok
        out[f"pct_{m}"], out[f"pct_{m}_ci_low"], out[f"pct_{m}_ci_high"] = pct, lo, hi
    if disclose:
        out = disclose_rates(out, rules=rules)
    rules.stamp(out)
    return out
