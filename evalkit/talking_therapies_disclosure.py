"""Disclosure control of the Talking Therapies rates published beside the outcome summary.

:func:`~evalkit.outcomes.evaluate_outcomes` publishes two tables of the same episodes: the outcome
summary (one row per programme x instrument, :func:`~evalkit.outcomes.disclose_statistics`) and the
Talking Therapies rates (one row per programme x measure set,
:func:`~evalkit.talking_therapies.disclose_rates`). Each hides its small counts on its own, but their
counts overlap, so a reader holding both can subtract one table's figures from the other's and find a
count of fewer mothers than the suppression threshold. This module protects the rates against the
summary's published cells; the summary's cells stay as they are (it is published on its own too), so
only Talking Therapies cells are ever hidden here.

Two overlaps, two steps (:func:`published_talking_therapies_rates` runs both):

* **Joint PHQ-9 + GAD-7 rows** count the mothers with both measures, finished when paired on both. For
  each of the two instruments the summary's n paired = the joint row's n finished + the single-measure
  row's n finished + a rest (paired on that instrument but not on the other); on the example data
  P-PHONE's summary showed 30 PHQ-9 and 29 GAD-7 paired next to 28 finished both, giving away rests of
  2 and 1. Those equations, the summary's own partitions and the rows' own are solved as one
  secondary-suppression problem (:func:`_joint_sets_beside_summary`;
  ``tests/test_talking_therapies_joint_disclosure.py``).
* **Single-measure rows** (EPDS; PHQ-9 or GAD-7 where a programme has no joint set) count the same
  mothers with the same definitions as a summary row, yet disclosed separately they hid different cells
  of the same figures (P-PAID EPDS: reliable recovery hidden in the summary, shown here next to recovery
  shown in both). Such a row is published as the summary's row re-labelled
  (:func:`_same_people_as_summary`).

The engagement funnel's steps, with the summary's n paired, could bound a hidden joint n finished from
both sides (``tests/test_tt_joint_funnel_bounds.py``); the funnel is disclosed beside the summary's n paired
of each measure (:func:`evalkit.engagement.take_up_funnel`), so a step less a published n paired is never a
small count.

Its own module rather than part of :mod:`evalkit.talking_therapies`: it needs the outcome summary's
disclosure problem (:func:`~evalkit.outcomes.summary_disclosure_spec`), and the Talking Therapies
metrics do not depend on the outcome summary. :mod:`evalkit.outcomes` re-exports
:func:`published_talking_therapies_rates`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from evalkit.disclosure import hidden_masks
from evalkit.rules import PairingRules

__all__ = ["published_talking_therapies_rates"]


def published_talking_therapies_rates(people: pd.DataFrame, rates: pd.DataFrame, statistics: pd.DataFrame,
                                      summary: pd.DataFrame, *, rules: PairingRules) -> pd.DataFrame:
    """The Talking Therapies rates by programme and measure set as
    :func:`~evalkit.outcomes.evaluate_outcomes` publishes them.

    The rates disclosure-controlled so that, next to the outcome summary of the same episodes, no small
    count shows: protected against the summary's cells (:func:`_joint_sets_beside_summary`), and each row
    of a single-measure set that counts the same people as a summary row taken from that row
    (:func:`_same_people_as_summary`).

    Parameters
    ----------
    people
        :func:`~evalkit.talking_therapies.talking_therapies_outcomes` of the episodes' change (other
        columns, e.g. context merged in for a breakdown, are passed over).
    rates
        :func:`~evalkit.talking_therapies.talking_therapies_rates` of ``people`` by programme and measure
        set (its default ``by``), before disclosure control (``disclose=False``).
    statistics
        :func:`~evalkit.outcomes.change_statistics` of the same episodes by programme and instrument,
        before disclosure control.
    summary
        The disclosure-controlled outcome summary made from ``statistics`` (e.g.
        :func:`~evalkit.outcomes.disclose_statistics` of it; its cells stay as they are).
    rules
        Threshold, zeros and rounding.

    Returns
    -------
    pandas.DataFrame
        ``rates`` disclosure-controlled (hidden counts ``<NA>``, derived percentages hidden, a
        ``suppressed`` column), the table :attr:`~evalkit.outcomes.OutcomeResult.talking_therapies`
        holds. Breakdowns (:func:`evalkit.for_whom.talking_therapies_by`) take it as the table their
        levels add up to.

    See Also
    --------
    evalkit.talking_therapies.disclose_rates : the rates' disclosure control on their own.
    """
    return _same_people_as_summary(_joint_sets_beside_summary(rates, statistics, summary, rules), rates,
                                   summary, people)


#: Talking Therapies count -> the outcome summary's count of the same people (a single-measure set)
_TT_FROM_SUMMARY: dict[str, str] = {
    "n_finished": "n_paired", "n_caseness_start": "n_caseness_baseline", "n_recovery": "n_recovered",
    "n_reliable_recovery": "n_reliable_recovery", "n_reliable_improvement": "n_reliable_improvement",
    "n_reliable_deterioration": "n_reliable_deterioration", "n_no_reliable_change": "n_no_reliable_change"}
#: the equations within one Talking Therapies row: a count -> its disjoint parts ("rest_*": the unpublished rest)
_TT_ROW_EQUATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("n_finished", ("n_caseness_start", "n_not_caseness_start")),
    ("n_finished", ("n_reliable_improvement", "n_reliable_deterioration", "n_no_reliable_change")),
    ("n_caseness_start", ("n_recovery", "rest_recovery")),
    ("n_caseness_start", ("n_reliable_recovery", "rest_reliable_recovery")),
)

_Equation = tuple[str, tuple[str, ...]]


def _substituted(start: Sequence[_Equation], others: Sequence[_Equation], depth: int) -> list[_Equation]:
    """``start`` and the equations made from them by putting, up to ``depth`` times, one equation into another.

    An equation ``(parent, parts)`` says the count ``parent`` is made of the disjoint counts ``parts``. When a
    part of one is the parent of another, its parts can stand in its place (and the other way round): each
    such equation is a further subtraction a reader can do.
    """
    seen = {(p, frozenset(k)) for p, k in start}
    out, frontier = list(start), list(start)
    pool = [*others, *start]
    for _ in range(depth):
        new = []
        for p, kids in frontier:
            for q, q_kids in pool:
                made = []
                if q in kids:
                    made.append((p, tuple(x for x in kids if x != q) + q_kids))
                if p in q_kids:
                    made.append((q, tuple(x for x in q_kids if x != p) + kids))
                for e in made:
                    key = (e[0], frozenset(e[1]))
                    if e[0] in e[1] or len(set(e[1])) != len(e[1]) or key in seen:
                        continue
                    seen.add(key)
                    new.append(e)
        out += new
        frontier = new
    return out


def _joint_sets_beside_summary(raw: pd.DataFrame, statistics: pd.DataFrame | None, summary: pd.DataFrame,
                               rules: PairingRules) -> pd.DataFrame:
    """Talking Therapies rates disclosure-controlled so that, next to the outcome summary, no small count shows.

    Parameters
    ----------
    raw
        :func:`~evalkit.talking_therapies.talking_therapies_rates` by programme and measure set, before
        disclosure control (``disclose=False``).
    statistics
        :func:`~evalkit.outcomes.change_statistics` by programme and instrument, before disclosure control.
    summary
        The disclosure-controlled outcome summary made from ``statistics`` (its cells stay as they are).
    rules
        Threshold, zeros and rounding.

    Returns
    -------
    pandas.DataFrame
        ``raw`` disclosure-controlled as :func:`evalkit.talking_therapies.talking_therapies_rates` does it,
        with the cells below hidden as well where needed.

    Notes
    -----
    A joint PHQ-9 + GAD-7 row counts the mothers with both measures, finished when paired on both. For
    each instrument ``i`` of the two, the summary's ``n_paired`` of ``i`` = the joint row's ``n_finished``
    + the ``i``-only row's ``n_finished`` (mothers with that measure alone; 0 without such a row) + a rest
    (paired on ``i`` but not on the other measure): on the example data P-PHONE's summary showed 30 PHQ-9
    and 29 GAD-7 paired next to 28 finished both, so the rests, 2 and 1, could be read off. Each count of an
    ``i``-only row (caseness, not at caseness, recovery, reliable change) also lies inside the summary's
    count of ``i`` with the same definition, the rest being mothers with both measures.

    These equations, and those made from them with the summary's own equations
    (:func:`~evalkit.outcomes.summary_disclosure_spec`) and the Talking Therapies rows'
    (:data:`_TT_ROW_EQUATIONS`) put in
    (:func:`_substituted`: e.g. PHQ-9 n paired = the joint row's caseness at the start + not at caseness +
    the rest), are one disclosure problem for :func:`~evalkit.disclosure.secondary_suppression` (no
    equation with exactly one hidden cell, hidden cells never adding up to a small count). The summary's
    cells are fixed, published or hidden as they are (the summary is published on its own too). The rests
    are never published nor chosen: a reader knows one when every other cell of the equation that defines
    it is published (a small one is then hidden from the start, so that another cell of that equation is
    hidden too), and does not otherwise. The Talking Therapies cells this hides are then
    hidden before the rates' own disclosure control, and the two steps repeat until neither hides anything
    more (each only adds hidden cells, so this ends). Should an equation still give a hidden count away at
    the end (only the Talking
    Therapies cells can be hidden here), :func:`~evalkit.disclosure.warn_unprotected_relations` raises a
    :class:`~evalkit.errors.DisclosureWarning` naming its counts instead of staying silent.
    """
    from evalkit import disclosure
    from evalkit.disclosure import primary_suppression
    from evalkit.outcomes import summary_disclosure_spec  # here: evalkit.outcomes imports this module
    from evalkit.talking_therapies import RATE_COUNTS, disclose_rates

    tt = disclose_rates(raw, rules=rules)
    t, show_zero = rules.suppression_threshold, rules.show_zero
    ms = raw["measure_set"].astype(str).to_numpy(dtype=object)
    pid = raw["programme_id"].astype(str).to_numpy(dtype=object)
    joint = np.flatnonzero(ms == "phq9+gad7")
    if t <= 1 or not len(joint) or statistics is None or summary.empty or "suppressed" not in summary.columns:
        return tt
    n_rows, n_c = len(raw), len(RATE_COUNTS)
    n_tt = n_rows * n_c
    col = {c: j for j, c in enumerate(RATE_COUNTS)}
    tt_vals = np.column_stack([pd.to_numeric(raw[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                               for c in RATE_COUNTS]).ravel()
    values: list[np.ndarray] = [tt_vals]
    costs: list[np.ndarray] = [tt_vals]  # the Talking Therapies cells: smallest first, as apply_disclosure
    starts: list[np.ndarray] = [np.zeros(n_tt, dtype=bool)]  # the Talking Therapies cells': set each round
    # per cell, its name in a warning
    labels: list[np.ndarray] = [np.tile(np.array([f"Talking Therapies {c}" for c in RATE_COUNTS], dtype=object),
                                        n_rows)]
    # the rests (never published, never chosen): unknown to a reader when a cell of their equation is hidden
    rests: list[tuple[np.ndarray, list[np.ndarray]]] = []
    n_cells = n_tt

    def add(v: np.ndarray, cost: float, hidden: np.ndarray, label: str) -> np.ndarray:
        nonlocal n_cells
        idx = np.arange(n_cells, n_cells + len(v))
        n_cells += len(v)
        values.append(v)
        costs.append(np.full(len(v), cost))
        starts.append(np.asarray(hidden, dtype=bool))
        labels.append(np.full(len(v), label, dtype=object))
        return idx

    spec = summary_disclosure_spec()
    s_counts = [c for c in spec["counts"] if c in summary.columns and c in statistics.columns]
    s_key = pd.MultiIndex.from_arrays([summary["programme_id"].astype(str), summary["instrument"].astype(str)])
    st_key = pd.MultiIndex.from_arrays([statistics["programme_id"].astype(str),
                                        statistics["instrument"].astype(str)])
    tt_key = pd.MultiIndex.from_arrays([pid, ms])
    s_hidden = hidden_masks(summary, s_counts)
    groups: list[np.ndarray] = []
    for inst in ("phq9", "gad7"):
        wanted = pd.MultiIndex.from_arrays([pid[joint], np.full(len(joint), inst, dtype=object)])
        s_pos, st_pos, o_pos = s_key.get_indexer(wanted), st_key.get_indexer(wanted), tt_key.get_indexer(wanted)
        sel = np.flatnonzero((s_pos >= 0) & (st_pos >= 0))
        if not len(sel):
            continue
        k = len(sel)
        cells: dict[str, np.ndarray] = {}
        # the summary's cells of this instrument (fixed: never chosen) and the rests of its partitions
        for c in s_counts:
            v = pd.to_numeric(statistics[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)[st_pos[sel]]
            cells[f"S.{c}"] = add(v, np.nan, s_hidden[c][s_pos[sel]], f"outcome summary {c}")
        flat = np.concatenate(values)
        hidden = np.concatenate(starts)
        equations: list[_Equation] = []
        for i, part in enumerate(spec["partitions"]):
            names = [f"S.{m}" for m in (*part.members, *([part.total] if part.total else []))]
            if not part.total or any(n not in cells for n in names):
                continue
            kids = [f"S.{m}" for m in part.members]
            if part.remainder:
                rest = flat[cells[f"S.{part.total}"]] - sum(flat[cells[n]] for n in kids)
                cells[f"S.rest{i}"] = add(rest, np.nan, np.any([hidden[cells[n]] for n in names], axis=0),
                                          f"the rest of outcome summary {part.total}")
                kids.append(f"S.rest{i}")
            equations.append((f"S.{part.total}", tuple(kids)))
        case_rest = next((f"S.rest{i}" for i, part in enumerate(spec["partitions"])
                          if part.members == ("n_caseness_baseline",) and part.total == "n_paired"
                          and part.remainder), None)
        # the joint row (J) and the single-measure row (O; a published 0 where the programme has none)
        zero = add(np.zeros(k), np.nan, np.zeros(k, dtype=bool), "Talking Therapies (no single-measure row) 0")
        for row, rows in (("J", joint[sel]), ("O", o_pos[sel])):
            for c in RATE_COUNTS:
                cells[f"{row}.{c}"] = np.where(rows >= 0, np.maximum(rows, 0) * n_c + col[c], zero)
            flat = np.concatenate(values)
            for parent, kids in _TT_ROW_EQUATIONS:
                for kid in kids:
                    if kid.startswith("rest_"):
                        shown = [cells[f"{row}.{x}"] for x in kids if x != kid]
                        rest = flat[cells[f"{row}.{parent}"]] - sum(flat[x] for x in shown)
                        cells[f"{row}.{kid}"] = add(rest, np.nan, np.zeros(k, dtype=bool),
                                                    f"the rest of Talking Therapies {parent}")
                        rests.append((cells[f"{row}.{kid}"], [cells[f"{row}.{parent}"], *shown]))
                equations.append((f"{row}.{parent}", tuple(f"{row}.{x}" for x in kids)))
        # the links between the two tables, each with its rest (R)
        cross: list[_Equation] = [("S.n_paired", ("J.n_finished", "O.n_finished", "R.n_paired"))]
        cross += [(f"S.{sc}", (f"O.{tc}", f"R.{sc}")) for tc, sc in _TT_FROM_SUMMARY.items()
                  if tc != "n_finished" and f"S.{sc}" in cells]
        if case_rest is not None:
            cross.append((case_rest, ("O.n_not_caseness_start", "R.not_caseness")))
        cross = [(p, kids) for p, kids in cross if p in cells]
        flat = np.concatenate(values)
        for parent, kids in cross:
            rest = flat[cells[parent]] - sum(flat[cells[x]] for x in kids[:-1])
            cells[kids[-1]] = add(rest, np.nan, primary_suppression(rest, threshold=t, show_zero=show_zero),
                                  f"the rest of {parent.replace('S.', 'outcome summary ')}")
            rests.append((cells[kids[-1]], [cells[parent], *(cells[x] for x in kids[:-1])]))
        for p, kids in _substituted(cross, equations, depth=2):
            groups.append(np.column_stack([cells[p], *(cells[x] for x in kids)]))
    if not groups:
        return tt
    flat = np.concatenate(values)
    cost = np.concatenate(costs)
    start = np.concatenate(starts)
    # a group with a cell that is not available tells nobody anything
    groups = [g[~np.isnan(flat[g]).any(axis=1)] for g in groups]
    groups = [g for g in groups if len(g)]
    if not groups:
        return tt
    sizes = np.concatenate([np.full(len(g), g.shape[1]) for g in groups])
    member_cell = np.concatenate([g.ravel() for g in groups])
    member_group = np.repeat(np.arange(len(sizes)), sizes)
    no_total = np.full(len(sizes), -1)
    def hidden_beside(published: pd.DataFrame) -> np.ndarray:
        """Per cell, whether a reader of ``published`` and the summary lacks it: the rates' hidden cells, the
        summary's, and each rest with a hidden cell in its equation."""
        now = start.copy()
        masks = hidden_masks(published, RATE_COUNTS)
        now[:n_tt] = np.column_stack([masks[c] for c in RATE_COUNTS]).ravel()
        for rest, parts in rests:
            now[rest] |= np.any([now[x] for x in parts], axis=0)
        return now

    forced = np.zeros((n_rows, n_c), dtype=bool)
    for _ in range(n_tt + 1):
        now = hidden_beside(tt)
        protected = disclosure.secondary_suppression(flat, now, member_group, member_cell, no_total, threshold=t,
                                                     cost=cost)
        more = (protected[:n_tt] & ~now[:n_tt]).reshape(n_rows, n_c)
        if not more.any():
            break
        forced |= more
        tt = disclose_rates(raw, rules=rules, hidden_elsewhere={c: forced[:, j] for c, j in col.items()})
    else:  # the rounds ran out: judge what the last one publishes
        protected = hidden_beside(tt)
    disclosure.warn_unprotected_relations(flat, protected, member_group, member_cell, threshold=t,
                                          names=np.concatenate(labels),
                                          what="the Talking Therapies rates beside the outcome summary")
    return tt


def _same_people_as_summary(tt: pd.DataFrame, tt_raw: pd.DataFrame, summary: pd.DataFrame,
                            people: pd.DataFrame) -> pd.DataFrame:
    """Talking Therapies rates whose counts are the outcome summary's, disclosed as the summary discloses them.

    Parameters
    ----------
    tt, tt_raw
        :func:`~evalkit.talking_therapies.talking_therapies_rates` disclosure-controlled on its own, and
        the same rows before disclosure control (``disclose=False``).
    summary
        The disclosure-controlled outcome summary of the same output.
    people
        :func:`~evalkit.talking_therapies.talking_therapies_outcomes` (which programmes have a joint
        PHQ-9 + GAD-7 set).

    Returns
    -------
    pandas.DataFrame
        ``tt`` with each row of a single-measure set computed on the same people as a summary row
        taken from that row.

    Notes
    -----
    A single-measure set (``epds``; ``phq9`` or ``gad7`` in a programme where nobody has both) counts
    the same episodes, with the same definitions, as the summary's row of that programme and instrument:
    finished = paired, caseness at the start, recovery, reliable recovery (the change module's
    'recovered': reliable improvement and leaving caseness), reliable improvement, deterioration, no
    reliable change. Disclosed separately, the two tables hid different cells of the same figures (P-PAID
    EPDS: reliable recovery hidden in the summary, 12 of 21 in this table, next to 14 of 21 recovered
    in both: 2 recovered without reliable improvement). Such a row is therefore the summary's row
    re-labelled: the summary's published values and hidden cells (its disclosure problem holds every
    equation of this row: the same partitions, ``n_not_caseness_start`` being its remainder of caseness
    from n paired), ``n_not_caseness_start`` published only when both its parts are, and the
    percentages hidden where a count they come from is hidden. Joint PHQ-9 + GAD-7 rows, and
    single-measure rows of a programme with a joint set, count other groups of people and keep their
    own disclosure control.
    """
    if tt.empty or summary.empty or "suppressed" not in tt.columns or "suppressed" not in summary.columns:
        return tt
    joint = people.loc[(people["measure_set"] == "phq9+gad7").fillna(False).to_numpy(dtype=bool), "programme_id"]
    ms = tt["measure_set"].astype(str)
    pid = tt["programme_id"].astype(str)
    single = (ms == "epds") | (ms.isin(["phq9", "gad7"]) & ~pid.isin(joint.astype(str).unique()))
    key = pd.MultiIndex.from_arrays([summary["programme_id"].astype(str), summary["instrument"].astype(str)])
    pos = key.get_indexer(pd.MultiIndex.from_arrays([pid, ms]))
    rows = np.flatnonzero(single.to_numpy() & (pos >= 0))
    if not len(rows):
        return tt
    out = tt.copy()
    src = summary.iloc[pos[rows]].reset_index(drop=True)
    src_hidden = "; " + src["suppressed"].astype(str) + "; "
    names = np.full(len(rows), "", dtype=object)

    def put(col: str, values: np.ndarray, hide: np.ndarray) -> None:
        nonlocal names
        cur = out[col].copy()
        if isinstance(cur.dtype, pd.Int64Dtype):
            vals = pd.array(np.where(hide, None, values), dtype="Float64").round().astype("Int64")
        else:
            vals = np.where(hide, np.nan, values)
        cur.iloc[rows] = vals
        out[col] = cur
        names = np.where(hide, np.where(names == "", col, names + "; " + col), names)

    shown: dict[str, np.ndarray] = {}
    for c, sc in _TT_FROM_SUMMARY.items():
        hide = src_hidden.str.contains(f"; {sc}; ", regex=False).to_numpy(dtype=bool)
        put(c, pd.to_numeric(src[sc], errors="coerce").to_numpy(dtype=float, na_value=np.nan), hide)
        shown[c] = ~hide
    fin = pd.to_numeric(src["n_paired"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    case = pd.to_numeric(src["n_caseness_baseline"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    put("n_not_caseness_start", fin - case, ~(shown["n_finished"] & shown["n_caseness_start"]))
    from evalkit.talking_therapies import RATE_DENOMINATORS

    for m, den in RATE_DENOMINATORS.items():
        hide = ~(shown[f"n_{m}"] & shown[den])
        for suffix in ("", "_ci_low", "_ci_high"):
            c = f"pct_{m}{suffix}"
            put(c, pd.to_numeric(tt_raw[c], errors="coerce").to_numpy(dtype=float)[rows], hide)
    sup = out["suppressed"].astype(str).to_numpy(dtype=object)
    sup[rows] = names
    out["suppressed"] = pd.array(sup.astype(str), dtype="string")
    return out
