"""Statistical disclosure control for every aggregate output.

Order of operations (always this order):

1. **Primary suppression** -- a count ``c`` with ``1 <= c < threshold`` is
   hidden (and ``c == 0`` too when ``show_zero=False``). By default zeros are
   shown: a true zero is not a small number about anyone, and hiding zeros
   would hide the very gaps a service needs to see (e.g. 'no mother was
   referred by social care'). Set ``show_zero=False`` where a zero itself would
   disclose something (e.g. 'none of the 12 recovered' about a named group).
2. **Secondary (complementary) suppression** -- every set of cells that adds
   up to a published total (a row or column of a table and its margin, the
   categories of a breakdown and the group's n, the exits from a funnel step)
   must not have exactly one hidden cell, otherwise it could be worked out by
   subtraction. While some set has exactly one hidden cell, the smallest other
   published cell of that set (preferring non-zero cells, and never a zero
   anyone can work out, such as a count out of a published 0) is hidden too;
   if there is none, the set's total is hidden, and where that is published
   elsewhere (another table, or the total rows :func:`with_published_total_rows`
   joins: those are never hidden here) :func:`apply_disclosure` warns that the
   cell stays unprotected. This repeats until no set has a single hidden cell.
3. **Rounding** (optional) -- published counts are rounded to the nearest
   multiple of ``rounding_base`` (half up), *after* suppression: suppression is
   decided on the true counts.
4. **Derived figures** -- percentages, confidence intervals, means and any
   other figure computed from a hidden count are hidden as well.

Hidden cells become missing (``<NA>``); a ``suppressed`` column lists, per row,
the names of the hidden columns, and :func:`mark_suppressed` renders them as
``[c]`` (the ONS marker for 'confidential') for tables people read. Primary
and secondary suppressions are shown the same way on purpose: telling them
apart would tell a reader which hidden cells are below the threshold.

References
----------
Office for National Statistics (2021). *Statistical disclosure control
guidance for the 2021 Census* (cell suppression and rounding; the ``[c]``
marker: GSS 'Symbols in tables', 2021).
NHS Digital (2023). *Disclosure control method for the NHS Talking Therapies
monthly statistics* (suppression of small counts with secondary suppression,
then rounding to the nearest 5).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "NOT_COMPUTED_MARKER",
    "SUPPRESSED_MARKER",
    "TOTAL_LEVEL",
    "TOTAL_ROW",
    "Across",
    "Partition",
    "apply_disclosure",
    "carried_hidden",
    "disclosure_note",
    "group_index",
    "hidden_columns",
    "hidden_mask",
    "hidden_masks",
    "mark_suppressed",
    "with_published_total_rows",
    "with_published_totals",
    "without_published_total_rows",
    "primary_suppression",
    "round_counts",
    "scrub_small_counts",
    "secondary_suppression",
    "suppress_table",
    "warn_unprotected_relations",
]

SUPPRESSED_MARKER = "[c]"
"""How a hidden cell is shown in rendered tables (GSS 'confidential' symbol). Only for hidden cells."""

NOT_COMPUTED_MARKER = "\u2013"
"""How a figure that is missing for another reason than disclosure control (not computed, not estimable, not
applicable: no paired mothers, a pooled estimate from one programme) is shown: an en dash, never
:data:`SUPPRESSED_MARKER`."""


@dataclass(frozen=True)
class Partition:
    """Within one row: ``members`` columns add up to the ``total`` column.

    ``total=None`` means the total is published elsewhere (treated as known).
    ``remainder=True`` means the members do not exhaust the total: the rest
    (``total - sum(members)``) is a further, unpublished cell that is
    protected too (e.g. 'recovered' out of 'at caseness': the number *not*
    recovered can be worked out by subtraction, so it must not be small
    either).
    """

    members: tuple[str, ...]
    total: str | None = None
    remainder: bool = False


@dataclass(frozen=True)
class Across:
    """Across rows: within each group of rows sharing ``keys``, column ``column`` adds up to a known total.

    ``total_rows`` optionally names a boolean column marking the row of each
    group that holds the total (e.g. an 'All' row); without it the total is
    treated as published elsewhere (e.g. the programme's n in another table).
    """

    column: str
    keys: tuple[str, ...] = ()
    total_rows: str | None = None


def _settings(rules: object | None, threshold: int | None, show_zero: bool | None,
              rounding_base: int | None | bool) -> tuple[int, bool, int | None]:
    t = threshold if threshold is not None else getattr(rules, "suppression_threshold", 5)
    z = show_zero if show_zero is not None else getattr(rules, "show_zero", True)
    if rounding_base is False:
        r = None
    elif rounding_base is None:
        r = getattr(rules, "rounding_base", None)
    else:
        r = rounding_base
    if isinstance(t, bool) or not isinstance(t, (int, np.integer)) or t < 1:
        raise ValueError(f"threshold must be a whole number >= 1; got {t!r}")
    if r is not None and (isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1):
        raise ValueError(f"rounding_base must be None or a whole number >= 1; got {r!r}")
    return int(t), bool(z), (None if r is None or r == 1 else int(r))


def primary_suppression(values: np.ndarray, *, threshold: int = 5, show_zero: bool = True) -> np.ndarray:
    """Cells hidden because they are small counts.

    Parameters
    ----------
    values
        Counts (float; NaN = no value, never suppressed).
    threshold
        Counts below it are hidden.
    show_zero
        Whether zeros stay published.

    Returns
    -------
    numpy.ndarray of bool
        ``True`` where ``1 <= value < threshold`` (or ``0 <= value <
        threshold`` with ``show_zero=False``).

    Examples
    --------
    >>> primary_suppression(np.array([0, 1, 4, 5, np.nan])).tolist()
    [False, True, True, False, False]
    """
    v = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        small = v < threshold
        return np.where(np.isnan(v), False, small & ((v > 0) | (not show_zero)))


def _unprotected(values: np.ndarray, sup: np.ndarray, g: np.ndarray, c: np.ndarray, tot: np.ndarray,
                 threshold: float | None) -> np.ndarray:
    """Per equation of :func:`secondary_suppression`: whether a hidden cell of it can still be worked out.

    True where exactly one cell (member or total) is hidden, or (with ``threshold``) where the hidden members
    of an equation whose total is not hidden add up to a count from 1 to ``threshold - 1``.
    """
    n_groups = len(tot)
    n_sup = np.bincount(g, weights=sup[c].astype(float), minlength=n_groups)
    total_hidden = np.where(tot >= 0, sup[np.maximum(tot, 0)], False)
    need = (n_sup + total_hidden) == 1
    if threshold is not None:
        hidden_sum = np.bincount(g, weights=np.where(sup[c], np.nan_to_num(values[c]), 0.0), minlength=n_groups)
        need |= ~total_hidden & (n_sup >= 2) & (hidden_sum > 0) & (hidden_sum < threshold)
    return need


def _known_zeros(values: np.ndarray, sup: np.ndarray, g: np.ndarray, c: np.ndarray, tot: np.ndarray,
                 unpublished: np.ndarray | None) -> np.ndarray:
    """Per cell: a zero whose value anyone can work out, so that hiding it protects nothing.

    Counts are never negative, so when an equation's published total equals the sum of its published
    members (a total of 0, say), each of its other members is 0, and a zero member stays known even if it
    is hidden ('[c] of 0'); an ``unpublished`` member (a rest) counts as not shown. Only equations whose
    total is a cell here (not one published elsewhere) and whose members all have a value are looked at.
    """
    n_groups = len(tot)
    has_total = tot >= 0
    t = np.maximum(tot, 0)
    total_value = np.where(has_total, values[t], np.nan)
    member = np.nan_to_num(values[c])
    shown = ~sup[c] if unpublished is None else ~sup[c] & ~unpublished[c]
    published_sum = np.bincount(g, weights=np.where(shown, member, 0.0), minlength=n_groups)
    complete = np.bincount(g, weights=np.isnan(values[c]).astype(float), minlength=n_groups) == 0
    settled = has_total & ~np.where(has_total, sup[t], True) & complete & (total_value == published_sum)
    known = np.zeros(len(values), dtype=bool)
    known[c[settled[g] & (member == 0) & ~np.isnan(values[c])]] = True
    return known


def secondary_suppression(
    values: np.ndarray,
    suppressed: np.ndarray,
    member_group: np.ndarray,
    member_cell: np.ndarray,
    group_total: np.ndarray,
    threshold: float | None = None,
    cost: np.ndarray | None = None,
    unpublished: np.ndarray | None = None,
    published: np.ndarray | None = None,
) -> np.ndarray:
    """Complementary suppression so no hidden cell can be recovered by subtraction.

    Parameters
    ----------
    values
        Cell values (float), length ``n_cells``.
    suppressed
        Primary suppression mask (bool), length ``n_cells``.
    member_group, member_cell
        Group membership as parallel arrays: cell ``member_cell[k]`` belongs
        to group ``member_group[k]`` (groups are numbered ``0..n_groups-1``).
    group_total
        For each group, the cell id of its total, or -1 when the total is
        published elsewhere (it can then never be hidden here).
    threshold
        When given, the hidden members of a group whose total is published
        must not add up to a count from 1 to ``threshold - 1`` either (their
        sum is ``total - published members``); another member is hidden until
        they do not.
    cost
        Optional order in which published members are taken as complements
        (length ``n_cells``; smallest first, zeros last; NaN = never hidden).
        Default: the values themselves. A caller can make cells it needs
        dear (a large cost) or unpublished cells free (a negative cost)
        without changing the values the ``threshold`` rule adds up.
    unpublished
        Optional (bool, length ``n_cells``): cells never published, only
        known through their equations (e.g. the rest of a total); an
        equation with one of them shown tells nothing about a zero member.
    published
        Optional (bool, length ``n_cells``): cells published elsewhere as they
        are (e.g. the total rows of :func:`with_published_total_rows` that
        the table publishing them shows). They are never hidden here, as a
        complement nor as the total of an equation with no member left:
        hiding one here would not hide it there. Such an equation stays
        unprotected (:func:`apply_disclosure` then warns).

    Returns
    -------
    numpy.ndarray of bool
        The final suppression mask (a superset of ``suppressed``).

    Notes
    -----
    Each group is one linear equation, members adding up to the total, so
    the total counts as a cell of the equation like its members. Invariant on
    return: every equation has either no hidden cell or at least two (a
    hidden total whose members are all published would equal their sum, and
    could then unlock another equation it belongs to). While an equation has
    exactly one hidden cell (or, with ``threshold``, hidden members adding
    up to a small count), the cheapest published member is hidden (by
    ``cost``, default the value: non-zero members first, then zeros, ties by
    cell id); an equation with no published member left has its total
    hidden. A zero whose value is known anyway is never taken as a
    complement: a member of an equation whose published total equals the
    sum of its published members (a total of 0, say) is 0, hidden or not,
    so hiding it protects nothing (``[c]`` of 0). Both rules are applied in
    the same pass: applying the second
    only after the first has settled lets a total be hidden first, which
    switches the second off for that equation while a chained equation
    around it still needs it (x + y = T, T + z = U with x, y, z small: T
    hidden alone leaves U - published members = x + y + z). Suppression
    only grows, so the loop ends. Vectorised over groups; the number of
    passes is small (each pass fixes every group that needs it).

    Examples
    --------
    A row (3, 10, 12) with total 25 published: hiding 3 alone would leave it
    recoverable (25 - 10 - 12), so 10 is hidden as well.

    >>> v = np.array([3, 10, 12, 25.0])
    >>> secondary_suppression(v, primary_suppression(v), np.array([0, 0, 0]), np.array([0, 1, 2]),
    ...                       np.array([3])).tolist()
    [True, True, False, False]
    """
    v = np.asarray(values, dtype=float)
    sup = np.asarray(suppressed, dtype=bool).copy()
    g = np.asarray(member_group, dtype=np.int64)
    c = np.asarray(member_cell, dtype=np.int64)
    tot = np.asarray(group_total, dtype=np.int64)
    n_groups = len(tot)
    if n_groups == 0 or len(g) == 0:
        return sup
    if unpublished is not None:
        unpublished = np.asarray(unpublished, dtype=bool)
    k = v if cost is None else np.asarray(cost, dtype=float)
    if k.shape != v.shape:
        raise ValueError(f"cost must have the shape of values {v.shape}; got {k.shape}")
    unavailable = np.isnan(v) | np.isnan(k)
    fixed = np.zeros(len(v), dtype=bool)  # published elsewhere: never hidden here
    if published is not None:
        fixed = np.asarray(published, dtype=bool) & ~sup
        if fixed.shape != v.shape:
            raise ValueError(f"published must have the shape of values {v.shape}; got {fixed.shape}")
        unavailable |= fixed
    vv = np.where(unavailable, np.inf, k)
    for _ in range(10 * (len(v) + 1)):
        need = _unprotected(v, sup, g, c, tot, threshold)
        if not need.any():
            break
        total_hidden = np.where(tot >= 0, sup[np.maximum(tot, 0)], False)
        cand = need[g] & ~sup[c] & ~unavailable[c] & ~_known_zeros(v, sup, g, c, tot, unpublished)[c]
        # cheapest published member per needy group, non-zero first
        order = np.lexsort((c, vv[c], vv[c] == 0, g))
        order = order[cand[order]]
        first = np.ones(len(order), dtype=bool)
        first[1:] = g[order][1:] != g[order][:-1]
        chosen = c[order][first]
        sup[chosen] = True
        helped = np.zeros(n_groups, dtype=bool)
        helped[g[order][first]] = True
        stuck = need & ~helped
        if stuck.any():
            fixable = stuck & (tot >= 0) & ~total_hidden & ~fixed[np.maximum(tot, 0)]
            sup[tot[fixable]] = True
            if not fixable.any() and len(chosen) == 0:
                break  # only groups with an outside total and no other member: nothing more can be done here
    return sup


def round_counts(values: np.ndarray, base: int | None) -> np.ndarray:
    """Round counts to the nearest multiple of ``base`` (half up); ``None`` or 1 leaves them unchanged.

    Examples
    --------
    >>> round_counts(np.array([0, 2, 3, 7, 12.5, np.nan]), 5).tolist()
    [0.0, 0.0, 5.0, 5.0, 15.0, nan]
    """
    v = np.asarray(values, dtype=float)
    if not base or base == 1:
        return v
    return np.floor(v / base + 0.5) * base


def _published_counts(values: np.ndarray) -> pd.api.extensions.ExtensionArray:
    """Published counts (NaN where hidden or missing) as ``Int64``, each rounded to a whole number (half to even).

    The integers and the mask are made directly; with an infinite value, through ``Float64`` (which refuses it).
    """
    missing = np.isnan(values)
    if np.isinf(values).any():
        return pd.array(np.where(missing, None, values), dtype="Float64").round().astype("Int64")
    return pd.arrays.IntegerArray(np.where(missing, 0.0, np.round(values)).astype(np.int64), missing)


def _count_values(frame: pd.DataFrame, counts: Sequence[str]) -> np.ndarray:
    """The ``counts`` columns of ``frame`` as a float matrix (a column per count, NaN where missing or not a
    number): numeric columns read at once, a frame with any other count column (text, say) column by column
    through :func:`pandas.to_numeric`."""
    if not len(counts):
        return np.zeros((len(frame), 0))
    dtypes = dict(zip(frame.columns, frame.dtypes.tolist(), strict=True))
    if frame.columns.is_unique and all(pd.api.types.is_numeric_dtype(dtypes[c]) for c in counts):
        return frame[list(counts)].to_numpy(dtype=float, na_value=np.nan)
    return np.column_stack([pd.to_numeric(frame[c], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
                            for c in counts])


def _with_columns_replaced(frame: pd.DataFrame, columns: Mapping[str, object]) -> pd.DataFrame:
    """``frame`` with each of ``columns`` (columns of ``frame``, by name: arrays, or Series on its index) in place
    of its own, as :meth:`pandas.DataFrame.assign` gives it, the frame made once (not a column set at a time)."""
    if not frame.columns.is_unique or not all(isinstance(c, str) for c in frame.columns):
        return frame.assign(**columns)
    # the columns kept as Series (their dtypes as they are: an array of text objects would be read as text)
    out = pd.DataFrame({c: columns[c] if c in columns else frame[c] for c in frame.columns}, index=frame.index)
    out.columns = frame.columns
    return out


def _hidden_where(column: pd.Series, mask: np.ndarray) -> pd.Series:
    """``column`` with the rows of ``mask`` hidden: ``NaN`` in a float column, ``<NA>`` in any other (a boolean
    column becomes ``boolean``, an object one ``string``, to hold it)."""
    if column.dtype == np.float64:
        return pd.Series(np.where(mask, np.nan, column.to_numpy()), index=column.index, name=column.name)
    s = column
    if pd.api.types.is_bool_dtype(s.dtype) and not isinstance(s.dtype, pd.BooleanDtype):
        s = s.astype("boolean")
    elif pd.api.types.is_object_dtype(s.dtype):
        s = s.astype("string")
    s = s.copy()
    s[mask] = pd.NA if not pd.api.types.is_float_dtype(s.dtype) or isinstance(s.dtype, pd.Float64Dtype) else np.nan
    return s


def disclosure_note(*, threshold: int = 5, show_zero: bool = True, rounding_base: int | None = None) -> str:
    """Plain-English statement of the disclosure control applied."""
    if threshold <= 1:
        text = "No small-number suppression."
    else:
        lo = 1 if show_zero else 0
        text = (f"{SUPPRESSED_MARKER} = hidden: counts from {lo} to {threshold - 1}, and other cells hidden so "
                "that these cannot be worked out from totals; figures derived from hidden counts are hidden too.")
    if rounding_base and rounding_base > 1:
        text += f" Published counts are rounded to the nearest {rounding_base} (after suppression)."
    return text


def _group_codes(frame: pd.DataFrame, keys: Sequence[str]) -> np.ndarray:
    """One group number per row for the rows sharing ``keys`` (compared as text; missing is its own value).

    Each key is factorised on its own and the rows' code tuples numbered
    with :func:`numpy.unique` (vectorised; zero rows give an empty array).
    """
    n = len(frame)
    per_key = [pd.factorize(frame[k].astype("string").fillna("\x00<NA>"), sort=False)[0].astype(np.int64)
               for k in keys]
    if len(per_key) == 1:
        return per_key[0]
    stacked = np.column_stack(per_key) if n else np.zeros((0, len(per_key)), dtype=np.int64)
    _, inverse = np.unique(stacked, axis=0, return_inverse=True)
    return np.asarray(inverse, dtype=np.int64).reshape(n)


def _warn_unprotected(unprotected: np.ndarray, member_group: np.ndarray, member_name: np.ndarray,
                      names: Sequence[str] | np.ndarray, *, sets: Literal["total", "relation"], what: str | None = None,
                      stacklevel: int) -> None:
    """Warn (:class:`~evalkit.errors.DisclosureWarning`) about the equations in which a hidden count can still be
    worked out, naming their counts.

    Parameters
    ----------
    unprotected
        Per equation, whether it is left unprotected (:func:`_unprotected`); no warning when none is.
    member_group, member_name
        Per member, its equation and the position in ``names`` of the name the warning gives it.
    names
        The names of the counts.
    sets
        ``"total"``: sets of counts adding up to a total published elsewhere, which secondary suppression could
        not protect (:func:`apply_disclosure`). ``"relation"``: a count and its parts
        (:func:`warn_unprotected_relations`).
    what
        The output, for the message (``"relation"`` only).
    stacklevel
        As for :func:`warnings.warn` called where this is called.
    """
    if not unprotected.any():
        return
    import warnings

    from evalkit.errors import DisclosureWarning

    shown = ", ".join(sorted({str(names[k]) for k in np.unique(member_name[unprotected[member_group]])}))
    if sets == "total":
        where, kind = "", f"set(s) of counts adding up to a total published elsewhere (columns {shown})"
        how = ("from that total, and no other published cell that would hide it is left (the others are known "
               "zeros or missing). Hide that total where it is published, or do not publish this table.")
    else:
        where, kind = f" in {what}", f"relation(s) between counts (a count and its parts: {shown})"
        how = ("by subtraction from the published ones. Do not publish these figures as they are, and report this "
               "to the evalkit maintainers.")
    warnings.warn(f"disclosure control could not protect every hidden count{where}: in {int(unprotected.sum())} "
                  f"{kind}, a hidden count can still be worked out {how}", DisclosureWarning,
                  stacklevel=stacklevel + 1)


def warn_unprotected_relations(values: np.ndarray, suppressed: np.ndarray, member_group: np.ndarray,
                               member_cell: np.ndarray, *, threshold: int, names: Sequence[str] | np.ndarray,
                               what: str = "these figures") -> np.ndarray:
    """Warn about relations between counts in which a hidden count can still be worked out by subtraction.

    For callers that give :func:`secondary_suppression` each relation as one equation with no total
    (``group_total`` -1) whose *first* member is the parent count and whose other members are its disjoint
    parts, the rest (parent minus the published parts) among them: parent - parts - rest = 0
    (:func:`evalkit.summary.disclose`, the Talking Therapies rows beside the outcome summary). Such a relation
    gives a hidden count away when exactly one of its cells is hidden (the parent is the sum of its parts, a
    part the parent minus the others), or when its parent is published and its hidden parts add up to a count
    from 1 to ``threshold - 1`` (the parent minus its published parts): the rule :func:`secondary_suppression`
    applies, with the parent as the total of the other members. A relation with every cell hidden, or with a
    cell that has no value, tells nothing and is not reported.

    Parameters
    ----------
    values, suppressed, member_group, member_cell
        As for :func:`secondary_suppression`; ``suppressed`` is its result (rests a reader cannot work out
        counted as hidden).
    threshold
        The suppression threshold.
    names
        Per cell (length ``n_cells``), the name the warning gives it (e.g. ``result.n_paired``).
    what
        The output, for the message.

    Returns
    -------
    numpy.ndarray of bool
        Per relation, whether it is left unprotected. When any is, a
        :class:`~evalkit.errors.DisclosureWarning` names their counts.
    """
    v = np.asarray(values, dtype=float)
    sup = np.asarray(suppressed, dtype=bool)
    g = np.asarray(member_group, dtype=np.int64)
    c = np.asarray(member_cell, dtype=np.int64)
    n_groups = int(g.max()) + 1 if len(g) else 0
    if not n_groups:
        return np.zeros(0, dtype=bool)
    # parent = parts + rest: the equation of secondary_suppression with the parent (the first member listed) as
    # its total, so that _unprotected judges it
    listed, first = np.unique(g, return_index=True)
    parent = np.full(n_groups, -1, dtype=np.int64)
    parent[listed] = c[first]
    part = np.ones(len(g), dtype=bool)
    part[first] = False
    complete = np.bincount(g, weights=np.isnan(v[c]).astype(float), minlength=n_groups) == 0
    left = complete & _unprotected(v, sup, g[part], c[part], parent, threshold)
    _warn_unprotected(left, g, c, names, sets="relation", what=what, stacklevel=3)
    return left


def apply_disclosure(
    frame: pd.DataFrame,
    *,
    counts: Sequence[str],
    partitions: Sequence[Partition] = (),
    across: Sequence[Across] = (),
    derived: Mapping[str, Sequence[str]] | None = None,
    keep: Sequence[str] = (),
    rules: object | None = None,
    threshold: int | None = None,
    show_zero: bool | None = None,
    rounding_base: int | None | bool = None,
    hidden_elsewhere: Mapping[str, np.ndarray] | None = None,
    published_elsewhere: Sequence[str] = (),
) -> pd.DataFrame:
    """Suppress, then round, the counts of an aggregate frame, and hide what is derived from hidden counts.

    Parameters
    ----------
    frame
        One row per aggregate cell group (e.g. programme x instrument).
    counts
        The count columns.
    partitions
        Within-row sets of count columns adding up to a total column (or to a
        total published elsewhere), e.g. ``Partition(("n_improved",
        "n_deteriorated", "n_no_change"), total="n_paired")``.
    across
        Across-row sets: within each group of rows sharing ``keys``, a count
        column adds up to a known total (e.g. the levels of a breakdown).
    derived
        Derived column -> the count columns it was computed from; hidden when
        any of them is hidden.
    keep
        Count columns taken last when a complementary cell must be chosen
        (the figures a reader needs most, e.g. ``n_paired``): the other
        published cells of the set go first. Primary suppression is unchanged.
    rules
        A :class:`~evalkit.rules.PairingRules` supplying ``suppression_threshold``,
        ``show_zero`` and ``rounding_base`` (explicit arguments win).
    threshold, show_zero, rounding_base
        Override the rules (``rounding_base=False`` turns rounding off).
    hidden_elsewhere
        Count column -> boolean array over the rows: cells that must be
        hidden for a reason outside this frame (another published output of
        the same people, e.g. a total row holding a count the table
        publishing it hides), hidden like small counts before secondary
        suppression whatever their value, so that the rest of the frame
        protects them too. Missing cells stay missing. On the total rows of
        :func:`with_published_total_rows` (a true :data:`TOTAL_ROW` column),
        every count not hidden here is taken as published by the table they
        come from: secondary suppression never hides one of them (another
        cell is hidden instead; when none is left, it warns as for any total
        published elsewhere).
    published_elsewhere
        Count columns that another table publishes as it is, taken into the problem only for the equations
        they are part of (e.g. the outcome summary's n paired beside the funnel's 'paired'): hidden where
        primary suppression or ``hidden_elsewhere`` hides them, and otherwise never hidden here (hiding
        one here would not hide it there), so that another cell of their equations is hidden instead.

    Returns
    -------
    pandas.DataFrame
        A copy: count columns as ``Int64`` (rounded, ``<NA>`` where hidden),
        derived columns ``<NA>``/NaN where hidden, a ``suppressed`` column
        (names of the hidden columns in that row joined by ``"; "``, empty
        when none) and ``attrs["disclosure"]`` (the note of
        :func:`disclosure_note`). Missing counts stay missing and are never
        treated as small.

    Examples
    --------
    >>> f = pd.DataFrame({"level": ["a", "b", "c"], "n": [3, 10, 12], "mean": [1.0, 2.0, 3.0]})
    >>> out = apply_disclosure(f, counts=["n"], across=[Across("n")], derived={"mean": ["n"]})
    >>> out["n"].tolist(), out["suppressed"].tolist()
    ([<NA>, <NA>, 12], ['n; mean', 'n; mean', ''])
    """
    t, z, r = _settings(rules, threshold, show_zero, rounding_base)
    counts = list(dict.fromkeys(counts))
    missing = [c for c in counts if c not in frame.columns]
    if missing:
        raise ValueError(f"count column(s) {missing} not in the frame (columns: {list(frame.columns)})")
    derived = dict(derived or {})
    out = frame  # read here; the table returned is made at the end, with the new columns in their places
    n_rows, n_cols = len(out), len(counts)
    col_idx = {c: j for j, c in enumerate(counts)}
    values = _count_values(frame, counts)
    rows = np.arange(n_rows)
    # virtual remainder cells (total - sum(members)) are appended as extra columns, never published
    virtual: list[np.ndarray] = []
    for p in partitions:
        bad = [m for m in (*p.members, *([p.total] if p.total else [])) if m not in col_idx]
        if bad:
            raise ValueError(f"partition column(s) {bad} are not among counts={counts}")
        if p.remainder:
            if not p.total:
                raise ValueError("a partition with remainder=True needs a total column")
            rest = values[:, col_idx[p.total]] - values[:, [col_idx[m] for m in p.members]].sum(axis=1)
            virtual.append(rest)
    n_all = n_cols + len(virtual)
    allv = np.column_stack([values, *virtual]) if virtual else values
    flat = allv.ravel() if n_all else np.zeros(0)  # cell id = row * n_all + col
    sup = primary_suppression(flat, threshold=t, show_zero=z) if t > 1 else np.zeros(len(flat), dtype=bool)
    for name, mask in (hidden_elsewhere or {}).items():
        if name not in col_idx:
            raise ValueError(f"hidden_elsewhere column {name!r} is not among counts={counts}")
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != (n_rows,):
            raise ValueError(f"hidden_elsewhere[{name!r}] has shape {mask.shape}; expected ({n_rows},)")
        cells = rows[mask] * n_all + col_idx[name]
        sup[cells[~np.isnan(flat[cells])]] = True
    # the total rows of with_published_total_rows hold a table published elsewhere: what it does not hide is
    # public, and hiding it here would hide it nowhere (only the counts: a rest is never published)
    published_cells = None
    total_row = out[TOTAL_ROW].fillna(False).to_numpy(dtype=bool) if TOTAL_ROW in out.columns else None
    elsewhere = [col_idx[c] for c in dict.fromkeys(published_elsewhere) if c in col_idx]
    if len(elsewhere) != len(dict.fromkeys(published_elsewhere)):
        raise ValueError(f"published_elsewhere column(s) {[c for c in published_elsewhere if c not in col_idx]} "
                         f"are not among counts={counts}")
    if total_row is not None or elsewhere:
        fixed = np.zeros((n_rows, n_all), dtype=bool)
        if total_row is not None:
            fixed[total_row, :n_cols] = True
        fixed[:, elsewhere] = True
        published_cells = fixed.ravel() & ~sup & ~np.isnan(flat)

    groups_g: list[np.ndarray] = []
    groups_c: list[np.ndarray] = []
    totals: list[np.ndarray] = []
    next_group = 0
    v_next = n_cols
    for p in partitions:
        member_cols = [col_idx[m] for m in p.members]
        if p.remainder:
            member_cols.append(v_next)
            v_next += 1
        k = len(member_cols)
        gid = next_group + rows
        groups_g.append(np.repeat(gid, k))
        groups_c.append((rows[:, None] * n_all + np.array(member_cols)[None, :]).ravel())
        totals.append(rows * n_all + col_idx[p.total] if p.total else np.full(n_rows, -1))
        next_group += n_rows
    for a in across:
        if a.column not in col_idx:
            raise ValueError(f"across column {a.column!r} is not among counts={counts}")
        keys = list(a.keys)
        if keys:
            gcode = _group_codes(out, keys)
        else:
            gcode = np.zeros(n_rows, dtype=np.int64)
        n_g = int(gcode.max()) + 1 if n_rows else 0
        is_total = out[a.total_rows].fillna(False).to_numpy(dtype=bool) if a.total_rows else np.zeros(n_rows, bool)
        member_rows = ~is_total
        groups_g.append(next_group + gcode[member_rows])
        groups_c.append(rows[member_rows] * n_all + col_idx[a.column])
        tot = np.full(n_g, -1, dtype=np.int64)
        if a.total_rows:
            tot[gcode[is_total]] = rows[is_total] * n_all + col_idx[a.column]
        totals.append(tot)
        next_group += n_g
    if groups_g and t > 1:
        cost = None
        keep_cols = [col_idx[k] for k in dict.fromkeys(keep) if k in col_idx]
        unknown = [k for k in keep if k not in col_idx]
        if unknown:
            raise ValueError(f"keep column(s) {unknown} are not among counts={counts}")
        if keep_cols:  # kept cells cost more than any other (zeros stay last, as zeros)
            finite = np.abs(flat[np.isfinite(flat)])
            bump = 2.0 * (float(finite.max()) if len(finite) else 0.0) + 1.0
            kept = np.zeros((n_rows, n_all), dtype=bool)
            kept[:, keep_cols] = True
            kept = kept.ravel()
            cost = np.where(kept & (flat > 0), flat + bump, flat)
        gg, cc, tt = np.concatenate(groups_g), np.concatenate(groups_c), np.concatenate(totals)
        virtual_cell = np.zeros((n_rows, n_all), dtype=bool)
        virtual_cell[:, n_cols:] = True
        sup = secondary_suppression(flat, sup, gg, cc, tt, threshold=t, cost=cost, unpublished=virtual_cell.ravel(),
                                    published=published_cells)
        # an equation with a missing cell cannot be solved for the hidden one: only whole ones are reported, and
        # only those of two or more members (a lone member is the total itself, hidden by the same rules there)
        whole = np.bincount(gg, weights=np.isnan(flat[cc]).astype(float), minlength=len(tt)) == 0
        whole &= np.bincount(gg, minlength=len(tt)) >= 2
        whole &= ~np.isnan(np.where(tt >= 0, flat[np.maximum(tt, 0)], 0.0))
        # nor one whose members do not add up to its total (people in no level: subtraction gives no count
        # exactly), nor one made only of the total rows of with_published_total_rows (the published table's own)
        member_sum = np.bincount(gg, weights=np.nan_to_num(flat[cc]), minlength=len(tt))
        whole &= (tt < 0) | (member_sum == np.where(tt >= 0, flat[np.maximum(tt, 0)], 0.0))
        if total_row is not None:
            mine = np.repeat(~total_row, n_all)  # a cell of this table's own rows
            whole &= (np.bincount(gg, weights=mine[cc].astype(float), minlength=len(tt)) > 0) | \
                np.where(tt >= 0, mine[np.maximum(tt, 0)], False)
        _warn_unprotected(_unprotected(flat, sup, gg, cc, tt, t) & whole, gg, cc % n_all, [*counts, *(
            f"the rest of {p.total}" for p in partitions if p.remainder)], sets="total", stacklevel=2)
    sup_all = sup.reshape(n_rows, n_all) if n_all else np.zeros((n_rows, 0), dtype=bool)
    sup2 = sup_all[:, :n_cols]
    published = np.where(sup2, np.nan, round_counts(values, r))

    hidden_names = np.full(n_rows, "", dtype=object)

    def note(mask: np.ndarray, name: str) -> None:
        cur = hidden_names[mask]
        hidden_names[mask] = np.where(cur == "", name, cur + "; " + name)

    # the new columns gathered, then put in the frame at once (each in its place)
    columns: dict[str, object] = {}
    for j, c in enumerate(counts):
        columns[c] = _published_counts(published[:, j])
        note(sup2[:, j], c)
    for d, deps in derived.items():
        if d not in out.columns:
            continue
        unknown = [x for x in deps if x not in col_idx]
        if unknown:
            raise ValueError(f"derived column {d!r} depends on {unknown}, which are not among counts={counts}")
        mask = np.zeros(n_rows, dtype=bool)
        for x in deps:
            mask |= sup2[:, col_idx[x]]
        if mask.any():
            columns[d] = _hidden_where(out[d] if d not in columns else pd.Series(columns[d], index=out.index),
                                       mask)
        note(mask, d)
    out = _with_columns_replaced(frame, columns)  # (names are text: the notes join them)
    out["suppressed"] = pd.array(hidden_names.astype(str), dtype="string")
    out.attrs = dict(frame.attrs)
    out.attrs["disclosure"] = disclosure_note(threshold=t, show_zero=z, rounding_base=r)
    return out


def suppress_table(
    table: pd.DataFrame,
    *,
    margins: bool = True,
    rules: object | None = None,
    threshold: int | None = None,
    show_zero: bool | None = None,
    rounding_base: int | None | bool = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Disclosure control for a two-way table of counts, with row and column totals.

    Parameters
    ----------
    table
        Counts (rows x columns), without margins.
    margins
        Add (and protect) row totals, column totals and the grand total.

    Returns
    -------
    (published, hidden)
        ``published``: the table (with ``Total`` row and column when
        ``margins``) as ``Int64``, rounded, ``<NA>`` where hidden;
        ``hidden``: a boolean frame of the same shape.

    Examples
    --------
    >>> t = pd.DataFrame({"x": [2, 10], "y": [8, 9]}, index=["a", "b"])
    >>> pub, hid = suppress_table(t)
    >>> pub.loc["a"].tolist()
    [<NA>, <NA>, 10]
    """
    t, z, r = _settings(rules, threshold, show_zero, rounding_base)
    body = table.apply(pd.to_numeric, errors="coerce").astype(float)
    if margins:
        full = body.copy()
        full["Total"] = body.sum(axis=1, min_count=1)
        full.loc["Total"] = full.sum(axis=0, min_count=1)
    else:
        full = body
    v = full.to_numpy(dtype=float)
    nr, nc = v.shape
    flat = v.ravel()
    sup = primary_suppression(flat, threshold=t, show_zero=z) if t > 1 else np.zeros(len(flat), dtype=bool)
    if margins and t > 1:
        ids = np.arange(nr * nc).reshape(nr, nc)
        gg, cc, tt = [], [], []
        gid = 0
        for i in range(nr):  # each row (body rows and the margin row): members are the non-total columns
            gg.append(np.full(nc - 1, gid))
            cc.append(ids[i, : nc - 1])
            tt.append(ids[i, nc - 1])
            gid += 1
        for j in range(nc):  # each column (body columns and the margin column)
            gg.append(np.full(nr - 1, gid))
            cc.append(ids[: nr - 1, j])
            tt.append(ids[nr - 1, j])
            gid += 1
        sup = secondary_suppression(flat, sup, np.concatenate(gg), np.concatenate(cc), np.array(tt))
    pub = np.where(sup, np.nan, round_counts(flat, r)).reshape(nr, nc)
    published = pd.DataFrame(pub, index=full.index, columns=full.columns)
    published = published.apply(lambda s: pd.array(np.where(np.isnan(s), None, s), dtype="Float64").round()
                                .astype("Int64"))
    hidden = pd.DataFrame(sup.reshape(nr, nc), index=full.index, columns=full.columns)
    published.attrs["disclosure"] = disclosure_note(threshold=t, show_zero=z, rounding_base=r)
    return published, hidden


def hidden_columns(row: Mapping[str, object]) -> frozenset[str]:
    """The columns disclosure control hid in one row of a library table (from its ``suppressed`` column).

    A value missing in a column named here is a hidden small number (show
    :data:`SUPPRESSED_MARKER`); a value missing in any other column was not
    computed (show :data:`NOT_COMPUTED_MARKER`).

    Examples
    --------
    >>> sorted(hidden_columns({"n": None, "pct": None, "suppressed": "n; pct"}))
    ['n', 'pct']
    >>> hidden_columns({"n": 0, "suppressed": None})
    frozenset()
    """
    text = row.get("suppressed")
    if text is None or text is pd.NA or (isinstance(text, float) and np.isnan(text)) or not str(text).strip():
        return frozenset()
    return frozenset(p.strip() for p in str(text).split(";") if p.strip())


TOTAL_LEVEL = "\x00all levels"
"""The breakdown value of the rows :func:`with_published_totals` adds (never shown: they are dropped again)."""

TOTAL_ROW = "_published_total"
"""The helper column :func:`with_published_totals` adds: true on its total rows (counts another table publishes:
:func:`apply_disclosure` never hides one that table shows)."""


def group_index(frame: pd.DataFrame, keys: Sequence[str]) -> pd.Index:
    """The rows' keys as an index to look rows up in (compared as text; missing is its own key)."""
    text = frame[list(keys)].astype("string").fillna("\x00<NA>")
    return pd.MultiIndex.from_frame(text) if len(keys) > 1 else pd.Index(text[keys[0]])


def with_published_total_rows(
    levels: pd.DataFrame,
    published: pd.DataFrame,
    *,
    keys: Sequence[str],
    counts: Sequence[str],
    breakdown: Sequence[str],
    totals: pd.DataFrame | None = None,
) -> tuple[pd.DataFrame, dict[str, np.ndarray], list[Across]]:
    """A breakdown's rows with the table it breaks down, as published, joined as its total rows.

    A breakdown by a field (first-time mothers, say) within programmes adds up, count by count, to the table
    by programme alone. When that table hides a count, the levels must not add up to it. Its rows are
    appended to the levels (their ``breakdown`` columns :data:`TOTAL_LEVEL`, so that they never join a
    level's own groups), marked hidden wherever ``published`` hides them, and one :class:`Across` rule per
    count makes each ``keys`` group's levels add up to its total row: secondary suppression then hides levels
    until no hidden count can be worked out, and a count the table publishes protects the levels as a known
    total.

    Parameters
    ----------
    levels
        The breakdown before disclosure control, one row per ``keys`` x breakdown level.
    published
        The table by ``keys`` alone as it is published (hidden counts missing). A total it has no row for,
        or a count it has no column for, is treated as hidden.
    keys, counts, breakdown
        Column names: the keys shared by both tables, the count columns that add up across the levels, and
        the breakdown's own columns.
    totals
        The table by ``keys`` before disclosure control (its columns shared with ``levels`` are taken).
        Default: the levels' counts added up within ``keys``.

    Returns
    -------
    frame : pandas.DataFrame
        ``levels`` then the total rows (row ``len(levels)`` on), with the boolean helper column
        :data:`TOTAL_ROW`; after disclosure control keep the levels' rows with
        :func:`without_published_total_rows`.
    hidden_elsewhere : dict
        For :func:`apply_disclosure`: per count, the total rows ``published`` hides.
    across : list of Across
        One rule per count tying each ``keys`` group's levels to its total row.

    Examples
    --------
    >>> lv = pd.DataFrame({"p": ["A", "A"], "lvl": ["x", "y"], "n": [6, 7]})
    >>> frame, hidden, across = with_published_total_rows(lv, pd.DataFrame({"p": ["A"], "n": [pd.NA]}),
    ...                                                   keys=["p"], counts=["n"], breakdown=["lvl"])
    >>> out = apply_disclosure(frame, counts=["n"], across=across, hidden_elsewhere=hidden)
    >>> out.iloc[:2]["n"].tolist()  # the hidden 13 is not 6 + 7
    [<NA>, 7]
    """
    keys, counts, breakdown = list(keys), list(counts), list(breakdown)
    if totals is None:
        if keys:
            totals = levels.groupby(keys, sort=False, dropna=False)[counts].sum(min_count=1).reset_index()
        else:
            totals = levels[counts].sum(min_count=1).to_frame().T
    top = totals[[c for c in levels.columns if c in totals.columns]].copy()
    for c in breakdown:
        top[c] = TOTAL_LEVEL
    for c in levels.columns:  # the levels' other columns missing on the totals, in the levels' dtype
        if c not in top.columns:
            top[c] = levels[c].iloc[:0].reindex(top.index)
    if keys:
        at = group_index(published, keys).get_indexer(group_index(top, keys))
    else:
        at = np.zeros(len(top), dtype=np.int64) if len(published) == 1 else np.full(len(top), -1)
    pad = np.zeros(len(levels), dtype=bool)
    hidden = {}
    for c in counts:
        shown = published[c].notna().to_numpy(dtype=bool) if c in published.columns else \
            np.zeros(len(published), dtype=bool)
        hidden[c] = np.concatenate([pad, (at < 0) | ~shown[np.maximum(at, 0)] if len(shown) else
                                    np.ones(len(top), dtype=bool)])
    frame = pd.concat([levels.assign(**{TOTAL_ROW: False}), top[levels.columns.tolist()].assign(**{TOTAL_ROW: True})],
                      ignore_index=True)
    return frame, hidden, [Across(c, tuple(keys), total_rows=TOTAL_ROW) for c in counts]


def without_published_total_rows(frame: pd.DataFrame, levels: pd.DataFrame, *, columns: Sequence[str]) -> pd.DataFrame:
    """The breakdown's own rows of a :func:`with_published_total_rows` frame, after disclosure control.

    Parameters
    ----------
    frame
        :func:`with_published_total_rows` (or :func:`with_published_totals`) ``frame``, or a frame made from
        it row for row (e.g. by :func:`apply_disclosure`): the levels' rows first, then the total rows.
    levels
        The ``levels`` given to :func:`with_published_total_rows` (its length and dtypes are read).
    columns
        The columns to give back their dtype in ``levels`` (the keys and the breakdown's columns: joined to
        the totals' :data:`TOTAL_LEVEL`, a categorical or boolean column becomes text); those ``frame``
        lacks are passed over.

    Returns
    -------
    pandas.DataFrame
        The first ``len(levels)`` rows of ``frame``, without the :data:`TOTAL_ROW` column, on a fresh
        ``RangeIndex``.

    Examples
    --------
    >>> lv = pd.DataFrame({"p": ["A", "A"], "lvl": pd.Categorical(["x", "y"]), "n": [6, 7]})
    >>> frame, hidden, across = with_published_total_rows(lv, pd.DataFrame({"p": ["A"], "n": [13]}),
    ...                                                   keys=["p"], counts=["n"], breakdown=["lvl"])
    >>> len(frame), isinstance(frame["lvl"].dtype, pd.CategoricalDtype)  # the total row's level is text
    (3, False)
    >>> out = without_published_total_rows(frame, lv, columns=["p", "lvl"])
    >>> out.columns.tolist(), out["n"].tolist(), out["lvl"].dtype == lv["lvl"].dtype
    (['p', 'lvl', 'n'], [6, 7], True)
    """
    out = frame.iloc[:len(levels)].drop(columns=TOTAL_ROW).reset_index(drop=True)
    return out.astype({c: levels[c].dtype for c in columns if c in out.columns})


def with_published_totals(
    levels: pd.DataFrame,
    published: pd.DataFrame,
    *,
    keys: Sequence[str],
    category: str,
    count: str,
    group_total: str,
    breakdown: Sequence[str],
) -> tuple[pd.DataFrame, dict[str, np.ndarray], Across]:
    """:func:`with_published_total_rows` for a breakdown in long form (one row per category, a ``total`` row).

    Parameters
    ----------
    levels
        The breakdown, one row per ``keys`` x breakdown level x ``category`` (a ``total`` category row per
        group, whose ``count`` the ``group_total`` column repeats).
    published
        The same table by ``keys`` alone, as it is published (hidden counts missing).
    keys, category, count, group_total, breakdown
        Column names: the keys shared by both tables, the category column, the count, the group total, and
        the breakdown's own columns.

    Returns
    -------
    frame : pandas.DataFrame
        ``levels`` then the totals (row ``len(levels)`` on); after disclosure control,
        :func:`without_published_total_rows` gives the levels back (without the helper column :data:`TOTAL_ROW`).
    hidden_elsewhere : dict
        For :func:`apply_disclosure`: ``count`` hidden on the totals ``published`` hides (or lacks), and
        ``group_total`` on every total row of a group whose total is hidden.
    across : Across
        The rule tying each ``keys`` x ``category`` cell's levels to its total row.
    """
    keys, breakdown = list(keys), list(breakdown)
    top = levels.groupby([*keys, category], sort=False, dropna=False)[count].sum().reset_index()
    top_n = top.groupby(keys, sort=False, dropna=False)[count].transform("max") if keys else \
        pd.Series(top[count].max(), index=top.index)
    top = top.assign(**{group_total: top_n.to_numpy(dtype=float), "is_total": top[category] == "total"})
    frame, hidden, across = with_published_total_rows(levels, published, keys=[*keys, category], counts=[count],
                                                      breakdown=breakdown, totals=top)
    top_hidden = hidden[count][len(levels):]
    total_hidden = top_hidden & frame["is_total"].to_numpy(dtype=bool)[len(levels):]
    tk = frame.iloc[len(levels):]
    group_hidden = pd.Series(total_hidden).groupby(
        [tk[k].astype("string").fillna("\x00<NA>").to_numpy() for k in keys] or [np.zeros(len(tk))],
        sort=False).transform("any").to_numpy(dtype=bool)
    hidden[group_total] = np.concatenate([np.zeros(len(levels), dtype=bool), group_hidden])
    return frame, hidden, across[0]


def hidden_mask(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Per row of a library table: whether disclosure control hid ``column`` there (vectorised
    :func:`hidden_columns`).

    A frame without a ``suppressed`` column hid nothing. For several columns of one frame,
    :func:`hidden_masks` reads the ``suppressed`` column once.

    Examples
    --------
    >>> f = pd.DataFrame({"n": [None, 4, None], "suppressed": ["n; pct", "", None]})
    >>> hidden_mask(f, "n").tolist(), hidden_mask(f, "pct").tolist()
    ([True, False, False], [True, False, False])
    """
    return hidden_masks(frame, [column])[column]


def hidden_masks(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, np.ndarray]:
    """Per column of ``columns``: :func:`hidden_mask` of ``frame``, its ``suppressed`` column split once.

    A column is hidden in a row when it is one of the names that row's ``suppressed`` text lists,
    separated by ``;`` (white space around a name ignored).

    Examples
    --------
    >>> f = pd.DataFrame({"n": [None, 4, None], "suppressed": ["n; pct", "pct", None]})
    >>> {c: m.tolist() for c, m in hidden_masks(f, ["n", "pct", "sd"]).items()}
    {'n': [True, False, False], 'pct': [True, True, False], 'sd': [False, False, False]}
    """
    columns = list(dict.fromkeys(columns))
    if "suppressed" not in frame.columns or not len(frame):
        return {c: np.zeros(len(frame), dtype=bool) for c in columns}
    # each row's names as (row position, name) pairs: Python text (object) so that the white space stripped is
    # Python's str.strip (the white space of the regular expression \s this reading replaced)
    named = pd.Series(frame["suppressed"].astype("string").fillna("").to_numpy(dtype=object), dtype=object)
    pairs = named.str.split(";").explode()
    names = pairs.str.strip().to_numpy(dtype=object)
    rows = pairs.index.to_numpy()
    out = {}
    for c in columns:
        mask = np.zeros(len(frame), dtype=bool)
        mask[rows[names == c]] = True
        out[c] = mask
    return out


def carried_hidden(rows: pd.DataFrame, renamed: Mapping[str, str | Sequence[str]], *,
                   masks: Mapping[str, np.ndarray] | None = None) -> np.ndarray:
    """A ``suppressed`` column for a frame drawn from ``rows``: per row, the new names (keys of ``renamed``)
    whose source column (its value) disclosure control hid in that row, joined by ``"; "``.

    A value may name several source columns (a figure made from them, such as a rate from its numerator
    and denominator): the new name is then listed where any of them is hidden.

    Examples
    --------
    >>> rows = pd.DataFrame({"n_paired": [None, 12], "suppressed": ["n_paired", ""]})
    >>> carried_hidden(rows, {"n": "n_paired"}).tolist()
    ['n', '']
    >>> rows = pd.DataFrame({"a": [None, 7, 9], "b": [5, None, 8], "suppressed": ["a", "b", ""]})
    >>> carried_hidden(rows, {"n_a": "a", "pct": ("a", "b")}).tolist()
    ['n_a; pct', 'pct', '']

    ``masks``: the rows' :func:`hidden_masks` when already read (several frames drawn from the same rows read
    their ``suppressed`` column once); source columns they lack are read here.
    """
    sources = [s for old in renamed.values() for s in ((old,) if isinstance(old, str) else old)]
    missing = [s for s in sources if masks is None or s not in masks]
    masks = {**(masks or {}), **(hidden_masks(rows, missing) if missing else {})}
    names = np.full(len(rows), "", dtype=object)
    for new, old in renamed.items():
        hid = np.zeros(len(rows), dtype=bool)
        for source in ((old,) if isinstance(old, str) else old):
            hid = hid | masks[source]
        names = np.where(hid, np.where(names == "", new, names + "; " + new), names)
    return names


def mark_suppressed(frame: pd.DataFrame, *, marker: str = SUPPRESSED_MARKER) -> pd.DataFrame:
    """Render a disclosure-controlled frame for people: hidden cells become ``marker``.

    Uses the ``suppressed`` column written by :func:`apply_disclosure`; returns
    a frame of strings (other missing values become empty strings) without the
    ``suppressed`` column.

    Each column is converted to text as ``DataFrame.astype("string")`` converts it (the same conversion of its
    array), and the frame is assembled once: the dashboard renders every table it shows through this, and
    converting and assigning column by column through the frame was most of that time. A frame whose column
    names repeat is converted through the frame (:func:`_mark_suppressed_by_frame`), as before.
    """
    if not frame.columns.is_unique:
        return _mark_suppressed_by_frame(frame, marker=marker)
    hidden = _hidden_positions(frame)
    bare = frame.copy(deep=False)
    bare.attrs = {}  # not deep-copied into every column taken out below
    text_dtype = pd.api.types.pandas_dtype("string")
    arrays = []
    for c, column in bare.items():
        if c == "suppressed":
            continue
        values = column.array.astype(text_dtype).fillna("")
        rows = hidden.get(c)
        if rows is not None:
            values = values.copy()
            values[rows] = marker
        arrays.append(values)
    text = pd.DataFrame(dict(enumerate(arrays)), index=frame.index, copy=False)
    text.columns = frame.columns.drop("suppressed") if "suppressed" in frame.columns else frame.columns
    text.attrs = dict(frame.attrs)
    return text


def _hidden_positions(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per column of ``frame`` hidden in some row: the row positions hiding it, read from its ``suppressed``
    column as :func:`hidden_masks` reads it (names separated by ``;``, as :func:`hidden_columns` reads one row)."""
    if "suppressed" not in frame.columns or not len(frame):
        return {}
    masks = hidden_masks(frame, [c for c in frame.columns if c != "suppressed"])
    return {c: np.flatnonzero(m) for c, m in masks.items() if m.any()}


def _mark_suppressed_by_frame(frame: pd.DataFrame, *, marker: str = SUPPRESSED_MARKER) -> pd.DataFrame:
    """:func:`mark_suppressed` through ``DataFrame.astype`` and column assignment (the general path, for frames
    whose column names repeat)."""
    out = frame.drop(columns="suppressed") if "suppressed" in frame.columns else frame
    text = out.astype("string").fillna("")
    if "suppressed" not in frame.columns or not len(frame):
        text.attrs = dict(frame.attrs)
        return text
    for c, rows in _hidden_positions(frame).items():
        if c in text.columns:
            col = text[c].copy()
            col.iloc[rows] = marker
            text[c] = col
    text.attrs = dict(frame.attrs)
    return text


_SMALL_COUNT = re.compile(
    r"(?<![\w.])(\d[\d,]*)(?=\s+(?:mothers?\b|mother\(s\)|score\(s\)|scores?\b|referrals?\b|paired baselines?\b|"
    r"questionnaires?\b|participants?\b))")
_PAREN_COUNT = re.compile(r"(?<=\s)\((\d[\d,]*)\)")


def scrub_small_counts(text: str, threshold: int, *, brackets: bool = False) -> str:
    """Replace counts of people below the threshold in a library sentence with the disclosure marker.

    Library notes quote counts (``not fitted: 3 participants with a score ...``);
    a sentence shown or published next to disclosure-controlled tables must not
    give away a count the tables hide.

    Only numbers directly followed by a word for people or questionnaires
    (``3 mothers``, ``4 score(s)``) are touched, and with ``brackets=True``
    also numbers standing alone in brackets (``(3)``, as the limitation
    sentences quote counts); zero stays (a true zero is published, as in the
    tables).

    Examples
    --------
    >>> scrub_small_counts("not estimated: 3 mothers with complete data, fewer than 50", 5)
    'not estimated: [c] mothers with complete data, fewer than 50'
    >>> scrub_small_counts("at the end date (4); 12 mothers", 5, brackets=True)
    'at the end date ([c]); 12 mothers'
    """
    if threshold <= 1:
        return text

    def swap(m: re.Match[str]) -> str:
        v = int(m.group(1).replace(",", ""))
        return SUPPRESSED_MARKER if 1 <= v < threshold else m.group(1)

    text = _SMALL_COUNT.sub(swap, text)
    return _PAREN_COUNT.sub(lambda m: f"({swap(m)})", text) if brackets else text
