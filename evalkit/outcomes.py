"""Programme-level outcome statistics: the outcome summary and the analyses behind it.

The flow is ``tables -> episodes -> change per episode -> statistics per
group``, each step a function:

* :func:`evaluate_outcomes` runs everything and returns an
  :class:`OutcomeResult` (individual-level frames for the provider, and
  disclosure-controlled aggregates);
* :func:`outcome_summary` -- one row per programme x instrument, the table the
  CLI, the summary exporter and the dashboard show;
* :func:`change_statistics` -- the same statistics for any grouping (used by
  :mod:`evalkit.for_whom`), before disclosure control;
* :func:`dose_sensitivity`, :func:`attrition_check`, :func:`adjusted_change`;
* :func:`outcome_talking_therapies` -- the NHS Talking Therapies-style rates of
  an :class:`OutcomeResult`, the table ``evaluate_outcomes`` publishes beside
  the summary (for a result made with ``talking_therapies=False``).

Every aggregate that leaves this module has been through
:func:`evalkit.disclosure.apply_disclosure` (``suppressed`` column) and
states its rules (``rules`` column and ``attrs["rules"]``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.categorical_text import categories_as_text
from evalkit.change import episode_change, instrument_parameters
from evalkit.disclosure import Across, Partition, apply_disclosure
from evalkit.episodes import UNPAIRED_REASONS, EpisodeData, engaged_mask, prepare_episodes
from evalkit.instruments import Instrument, builtin_instruments
from evalkit.memory import release_freed_memory
from evalkit.rules import PairingRules
from evalkit.stats.welch import sample_mean_variance, welch_t_test
from evalkit.talking_therapies_disclosure import published_talking_therapies_rates

__all__ = [
    "SUMMARY_COLUMNS",
    "OutcomeResult",
    "adjusted_change",
    "attrition_check",
    "change_statistics",
    "disclose_parameters",
    "disclose_statistics",
    "dose_sensitivity",
    "evaluate_outcomes",
    "outcome_summary",
    "outcome_talking_therapies",
    "published_talking_therapies_rates",
    "summary_disclosure_spec",
    "trajectories",
]

_REASON_COLS = tuple(f"n_unpaired_{r}" for r in UNPAIRED_REASONS)
_RATE_METRICS = (  # (count column, denominator column, percentage stem)
    ("n_reliable_improvement", "n_paired", "reliable_improvement"),
    ("n_reliable_deterioration", "n_paired", "reliable_deterioration"),
    ("n_no_reliable_change", "n_paired", "no_reliable_change"),
    ("n_jt_reliable_improvement", "n_paired", "jt_reliable_improvement"),
    ("n_meaningful_improvement", "n_paired", "meaningful_improvement"),
    ("n_caseness_baseline", "n_paired", "caseness_baseline"),
    ("n_recovered", "n_caseness_baseline", "recovered"),
    ("n_reliable_recovery", "n_caseness_baseline", "reliable_recovery"),
)
_PAIRED_STATS = (
    "baseline_mean", "baseline_sd", "endpoint_mean", "endpoint_sd", "pre_post_r", "mean_change", "sd_change",
    "ci_low", "ci_high", "d_z", "d_z_ci_low", "d_z_ci_high", "g_z", "d_av", "d_av_ci_low", "d_av_ci_high", "g_av",
    "adj_mean_change", "adj_ci_low", "adj_ci_high", "adj_reference_baseline", "adj_slope",
)
_ATTRITION = ("baseline_mean_unpaired", "attrition_diff", "attrition_t", "attrition_p")

SUMMARY_COLUMNS: tuple[str, ...] = (
    "programme_id", "instrument", "instrument_name", "role", "higher_is_better",
    "n_episodes", "n_engaged", "n_paired", "completeness", "completeness_ci_low", "completeness_ci_high",
    *_REASON_COLS, "n_engaged_no_score",
    *_PAIRED_STATS,
    "rc_threshold", "rc_threshold_source", "cutoff",
    *[c for m in _RATE_METRICS for c in (m[0], f"pct_{m[2]}", f"pct_{m[2]}_ci_low", f"pct_{m[2]}_ci_high")],
    "n_unpaired_with_baseline", *_ATTRITION,
    "mm_change", "mm_ci_low", "mm_ci_high", "mm_n_participants", "mm_converged",
    "mi_mean_change", "mi_ci_low", "mi_ci_high", "mi_n", "mi_n_imputed", "mi_m",
    "rules", "suppressed",
)
"""Columns of :func:`outcome_summary`, in order (see its docstring for meanings)."""


# ---------------------------------------------------------------------------
# building blocks
# ---------------------------------------------------------------------------
def _wilson_pct(x: np.ndarray, n: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    from evalkit.stats import wilson_ci

    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    ok = np.isfinite(x) & np.isfinite(n) & (n > 0) & (x <= n)
    lo = np.full(len(x), np.nan)
    hi = np.full(len(x), np.nan)
    if ok.any():
        lo[ok], hi[ok] = wilson_ci(x[ok], n[ok], level)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(ok, 100 * x / np.where(n > 0, n, 1), np.nan)
    return pct, 100 * lo, 100 * hi


def _group_keys(frame: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    return frame[list(by)].drop_duplicates().sort_values(list(by)).reset_index(drop=True)


def _bool(s: pd.Series) -> pd.Series:
    if s.dtype == bool:
        return s
    if isinstance(s.dtype, pd.BooleanDtype):  # missing is false, without the casts
        return pd.Series(s.array.to_numpy(dtype=bool, na_value=False), index=s.index, name=s.name, copy=False)
    return s.astype("boolean").fillna(False).astype(bool)


def _paired_block(pre: np.ndarray, post: np.ndarray, level: float) -> dict[str, float]:
    """Mean change (t CI) and standardised effect sizes for one group of paired episodes (their baseline and
    endpoint scores, as floats)."""
    from evalkit.stats import paired_effect_size, paired_mean_change

    n = len(pre)
    out: dict[str, float] = {
        "baseline_mean": float(pre.mean()) if n else np.nan,
        "baseline_sd": float(pre.std(ddof=1)) if n > 1 else np.nan,
        "endpoint_mean": float(post.mean()) if n else np.nan,
        "endpoint_sd": float(post.std(ddof=1)) if n > 1 else np.nan,
    }
    if n > 2 and pre.std() > 0 and post.std() > 0:
        out["pre_post_r"] = float(np.corrcoef(pre, post)[0, 1])
    if n >= 2:
        pmc = paired_mean_change(pre, post, level=level)
        out.update(mean_change=pmc.mean_change, sd_change=pmc.sd_change, ci_low=pmc.ci_low, ci_high=pmc.ci_high)
    for kind, stem in (("dz", "d_z"), ("dav", "d_av")):
        try:
            es = paired_effect_size(pre, post, kind=kind, level=level)
        except ValueError as exc:
            if n >= 3 and np.std(post - pre) > 0:
                # The interval search of evalkit.stats can fail for very large |t| (scipy's noncentral t cdf
                # returns NaN far in the tail). Keep the point estimate (the definition, Lakens 2013) and
                # leave the interval missing, saying why.
                from evalkit.stats import hedges_correction

                d = post - pre
                sdz = d.std(ddof=1) if kind == "dz" else (pre.std(ddof=1) + post.std(ddof=1)) / 2
                est = float(d.mean() / sdz)
                out.update({stem: est, "g_" + stem[2:]: float(hedges_correction(n - 1)) * est})
                out["es_note"] = f"effect-size intervals unavailable ({exc})"
            continue
        out.update({stem: es.estimate, f"{stem}_ci_low": es.ci_low, f"{stem}_ci_high": es.ci_high,
                    "g_" + stem[2:]: es.hedges_g})
    return out


def _is_each(column: pd.Series, values: Sequence[str]) -> list[np.ndarray]:
    """For each of ``values``, whether each row's text is it (a missing value is none of them): a categorical
    column compared by its codes, once per category rather than once per row."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = column.cat.categories.astype("string")
        codes = column.cat.codes.to_numpy()
        return [np.isin(codes, np.flatnonzero((categories == v).fillna(False).to_numpy(dtype=bool)))
                for v in values]
    text = column.astype("string")
    return [(text == v).fillna(False).to_numpy(dtype=bool) for v in values]


def _first_in_group(gid: np.ndarray, present: np.ndarray, n_groups: int) -> np.ndarray:
    """Per group ``0..n_groups-1`` (``gid``: each row's), the position of its first row where ``present`` is true;
    -1 for a group with none (as ``GroupBy.first`` skips missing values)."""
    rows = np.flatnonzero(present)
    at = np.full(n_groups, -1, dtype=np.int64)
    found, where = np.unique(gid[rows], return_index=True)
    at[found] = rows[where]
    return at


def adjusted_change(
    changes: pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id", "instrument"),
    reference: Mapping[str, float] | None = None,
    level: float = 0.95,
) -> pd.DataFrame:
    """Baseline-severity-adjusted mean change (ANCOVA on the change score), for fair comparison.

    Parameters
    ----------
    changes
        Episodes with change columns (:func:`evalkit.change.episode_change`);
        paired episodes are used.
    by
        Grouping columns; must include ``instrument``.
    reference
        Reference baseline per instrument. Default: the pooled mean baseline
        of all paired episodes of that instrument in ``changes`` (all
        programmes together), so every programme is compared at the same
        severity.
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``adj_mean_change`` (expected change for a
        participant at the reference baseline), ``adj_ci_low``,
        ``adj_ci_high`` (t, ``n - 2`` df), ``adj_reference_baseline``,
        ``adj_slope`` (change per baseline point), ``adj_n``.

    Notes
    -----
    Within each group, ordinary least squares of ``change_i = a + b (x_i -
    x_ref) + e_i`` with ``x`` the baseline score; ``a`` is the adjusted mean
    change. With ``x-bar``, ``y-bar`` the group means, ``Sxx``, ``Sxy`` the
    centred sums: ``b = Sxy / Sxx``, ``a = y-bar + b (x_ref - x-bar)``,
    ``SE(a)^2 = s^2 (1/n + (x_ref - x-bar)^2 / Sxx)``, ``s^2 = (Syy - b Sxy)
    / (n - 2)``. People with more severe baselines change more (and regress
    to the mean more), so a programme serving more severe mothers would look
    better unadjusted; this compares programmes at one severity. Equivalent
    to the ANCOVA ``endpoint ~ baseline`` within each group (the two models
    differ only by ``b`` vs ``b - 1``), computed with vectorised group sums.
    Validated against statsmodels OLS in the tests.

    References
    ----------
    Vickers, A. J., & Altman, D. G. (2001). Analysing controlled trials with
    baseline and follow up measurements. *BMJ*, 323, 1123-1124.
    """
    by = list(by)
    # the columns used only: selecting the paired rows of the whole frame would copy all of its columns
    p = changes[list(dict.fromkeys([*by, "instrument", "baseline_score", "endpoint_score"]))][
        _bool(changes["paired"])]
    g = p.groupby(by, sort=True, dropna=False)
    keys = g.size().index.to_frame(index=False)
    return pd.concat([keys, _adjusted_by_group(p, g.ngroup().to_numpy(), len(keys), reference, level)], axis=1)


def _adjusted_by_group(p: pd.DataFrame, gid: np.ndarray, n_groups: int, reference: Mapping[str, float] | None,
                       level: float) -> pd.DataFrame:
    """:func:`adjusted_change`'s columns (without the keys) of the paired episodes ``p`` (``instrument``,
    ``baseline_score``, ``endpoint_score``), one row per group ``0..n_groups-1`` (``gid``: each episode's,
    every group with an episode)."""
    x = p["baseline_score"].astype(float)
    y = (p["endpoint_score"] - p["baseline_score"]).astype(float)
    if reference is None:
        ref = x.groupby(p["instrument"]).mean()
    else:
        ref = pd.Series(dict(reference), dtype=float)
    xr = p["instrument"].map(ref).astype(float)
    # the means per group, then each episode's deviations from its group's means (by group number), their sums
    # per group (pandas' compensated sums, as a groupby of the key columns gives them)
    means = pd.DataFrame({"x": x.to_numpy(), "y": y.to_numpy()}).groupby(gid, sort=True).mean()
    n = np.bincount(gid, minlength=n_groups)
    xm, ym = means["x"].to_numpy(), means["y"].to_numpy()
    dx, dy = x.to_numpy() - xm[gid], y.to_numpy() - ym[gid]
    sums = pd.DataFrame({"sxx": dx ** 2, "sxy": dx * dy, "syy": dy ** 2}).groupby(gid, sort=True).sum()
    sxx, sxy, syy = sums["sxx"].to_numpy(), sums["sxy"].to_numpy(), sums["syy"].to_numpy()
    # each group's reference baseline: that of its first episode with one (missing where none has)
    xr = xr.to_numpy()
    at = _first_in_group(gid, ~np.isnan(xr), n_groups)
    xref = np.where(at >= 0, xr[np.maximum(at, 0)], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        b = sxy / sxx
        a = ym + b * (xref - xm)
        s2 = (syy - b * sxy) / (n - 2)
        se = np.sqrt(s2 * (1 / n + (xref - xm) ** 2 / sxx))
    ok = (n >= 3) & (sxx > 0)
    crit = stats.t.ppf(0.5 + level / 2, np.maximum(n - 2, 1))
    return pd.DataFrame({
        "adj_mean_change": np.where(ok, a, np.nan), "adj_ci_low": np.where(ok, a - crit * se, np.nan),
        "adj_ci_high": np.where(ok, a + crit * se, np.nan), "adj_reference_baseline": xref,
        "adj_slope": np.where(ok, b, np.nan), "adj_n": n,
    })


def attrition_check(changes: pd.DataFrame, *, by: Sequence[str] = ("programme_id", "instrument")) -> pd.DataFrame:
    """Do people without an endpoint differ at baseline? Welch's t-test of baseline scores.

    Parameters
    ----------
    changes
        Episodes (with or without change columns).
    by
        Grouping columns.

    Returns
    -------
    pandas.DataFrame
        One row per group: ``n_paired``, ``n_unpaired_with_baseline``,
        ``baseline_mean_paired``, ``baseline_mean_unpaired``,
        ``attrition_diff`` (unpaired minus paired), ``attrition_t``,
        ``attrition_p`` (two-sided Welch t-test; NaN with fewer than 2 in
        either set).

    Notes
    -----
    Welch (1947) unequal-variance t-test, as :func:`scipy.stats.ttest_ind` with
    ``equal_var=False`` gives it (:func:`evalkit.stats.welch.welch_t_test`: every
    group's test in one call). A difference suggests the completers' change may not
    represent everyone who started (e.g. those who stop early were more
    severe); the mixed-model and multiple-imputation estimates address this
    under missing at random.
    """
    by = list(by)
    has_base = changes["baseline_score"].notna()
    # the grouping columns, the score and the paired flag only: each group's rows are taken from a narrow frame
    narrow = pd.DataFrame({**{k: changes[k] for k in by}, "_score": changes["baseline_score"],
                           "_paired": _bool(changes["paired"])})[has_base]
    groups = narrow.groupby(by, sort=True, dropna=False)
    keys = [key if isinstance(key, tuple) else (key,) for key in groups.size().index]
    return _attrition_by_group(by, keys, groups.ngroup().to_numpy(), narrow["_score"].to_numpy(dtype=float),
                               narrow["_paired"].to_numpy(dtype=bool))


def _attrition_by_group(by: list[str], keys: Sequence[tuple[object, ...]], gid: np.ndarray, score: np.ndarray,
                        paired: np.ndarray) -> pd.DataFrame:
    """:func:`attrition_check`'s table of the episodes with a baseline (their ``score`` and whether ``paired``),
    one row per group ``0..len(keys)-1`` (``gid``: each episode's; ``keys``: each group's values of ``by``)."""
    # each group's rows in their order (as the groupby gives them), one slice per group
    order = np.argsort(gid, kind="stable")
    cuts = np.cumsum(np.bincount(gid, minlength=len(keys)))[:-1]
    scores = np.split(score[order], cuts) if len(keys) else []
    pairs = np.split(paired[order], cuts) if len(keys) else []
    rows = []
    tested: list[int] = []  # rows with a t-test, and the two samples' summaries: one vectorised test below
    summaries: list[tuple[float, float, int, float, float, int]] = []
    for key, sc, pm in zip(keys, scores, pairs, strict=True):
        a = sc[pm]
        u = sc[~pm]
        row = dict(zip(by, key, strict=True))
        row.update(n_paired=len(a), n_unpaired_with_baseline=len(u),
                   baseline_mean_paired=a.mean() if len(a) else np.nan,
                   baseline_mean_unpaired=u.mean() if len(u) else np.nan)
        row["attrition_diff"] = row["baseline_mean_unpaired"] - row["baseline_mean_paired"]
        row.update(attrition_t=np.nan, attrition_p=np.nan)
        if len(a) >= 2 and len(u) >= 2 and (a.std() > 0 or u.std() > 0):
            tested.append(len(rows))
            summaries.append((*sample_mean_variance(u), len(u), *sample_mean_variance(a), len(a)))
        rows.append(row)
    if tested:
        m1, v1, n1, m2, v2, n2 = (np.array(c) for c in zip(*summaries, strict=True))
        t, p = welch_t_test(m1, v1, n1, m2, v2, n2)
        for i, ti, pi in zip(tested, t, p, strict=True):
            rows[i].update(attrition_t=float(ti), attrition_p=float(pi))
    cols = [*by, "n_paired", "n_unpaired_with_baseline", "baseline_mean_paired", "baseline_mean_unpaired",
            "attrition_diff", "attrition_t", "attrition_p"]
    return pd.DataFrame(rows, columns=cols)


def _codes(*columns: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Integer codes of the values of ``columns`` one after another (a missing value a value of its own, as a
    merge matches it), and the distinct values. Columns of one dtype are coded in it (text in Arrow, without a
    Python object per value); columns of several dtypes are coded as Python objects."""
    if len({str(c.dtype) for c in columns}) == 1:
        values = pd.concat([c.reset_index(drop=True) for c in columns], ignore_index=True)
    else:
        values = pd.Series(np.concatenate([c.to_numpy(dtype=object) for c in columns]), dtype=object)
    codes, uniques = values.factorize(use_na_sentinel=False)
    return np.asarray(codes), uniques


def _key_codes(frame: pd.DataFrame, other: pd.DataFrame, by: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """The ``by`` values of each row of ``frame`` and of ``other`` as one integer code (equal codes: equal values,
    a missing value equal to a missing value, as a merge on ``by`` matches them)."""
    n = len(frame)
    key = np.zeros(n + len(other), dtype=np.int64)
    for k in by:
        codes, values = _codes(frame[k], other[k])
        key = key * (len(values) + 1) + codes
        key = pd.factorize(key)[0]  # kept small: the codes of the columns so far, together
    return key[:n], key[n:]


def _rows_in(frame: pd.DataFrame, other: pd.DataFrame, by: Sequence[str]) -> np.ndarray:
    """Whether each row of ``frame`` has its ``by`` values in a row of ``other`` (as a left merge on ``by``
    matches them: a missing value matches a missing value), from the keys' integer codes."""
    if not len(frame) or not len(other):
        return np.zeros(len(frame), dtype=bool)
    mine, theirs = _key_codes(frame, other, by)
    return np.isin(mine, theirs)


def _with_engaged(out: pd.DataFrame, engaged: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``out`` (one row per group) with ``n_engaged`` and ``n_engaged_no_score`` of its group in ``engaged``
    (:func:`_engaged_counts`: one row per group), 0 for a group with none: as :func:`_with_engaged_merged`.

    Each group's row in ``engaged`` is found by the keys' integer codes, the two columns added on the right; where
    a key column's dtype differs between the two, the merge is made (its keys come out as the merge gives them).
    """
    if any(out[k].dtype != engaged[k].dtype for k in by):
        return _with_engaged_merged(out, engaged, by)
    at = np.full(len(out), -1, dtype=np.int64)
    if len(out) and len(engaged):
        mine, theirs = _key_codes(out, engaged, by)
        at = pd.Index(theirs).get_indexer(mine)
    found = at >= 0
    columns = {c: np.where(found, engaged[c].to_numpy(dtype=np.int64)[np.maximum(at, 0)] if len(engaged) else 0, 0)
               .astype(int) for c in ("n_engaged", "n_engaged_no_score")}
    return pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)


def _with_engaged_merged(out: pd.DataFrame, engaged: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """``out`` left-joined on ``by`` with the engaged counts, a group without any counting 0."""
    out = out.merge(engaged, on=by, how="left")
    out["n_engaged"] = out["n_engaged"].fillna(0).astype(int)
    out["n_engaged_no_score"] = out["n_engaged_no_score"].fillna(0).astype(int)
    return out


def _engaged_counts(participants: pd.DataFrame, changes: pd.DataFrame, by: Sequence[str],
                    rules: PairingRules) -> pd.DataFrame:
    """Engaged participants (:func:`evalkit.episodes.engaged_mask`) per group, and those with no valid score."""
    by = list(by)
    part_keys = [k for k in by if k != "instrument"]
    # only what is counted by, then the engaged rows (not a copy of every column of the participants)
    eng = participants[list(dict.fromkeys(["programme_id", "participant_id", *part_keys]))][
        engaged_mask(participants, rules.min_dose)]
    eng = categories_as_text(eng, part_keys)  # grouped on text, as the episodes' groups are
    # one row per engaged participant x instrument used in her programme, and whether she has an episode of
    # it: programmes, participants and instruments as integer codes shared by both frames (a missing id is a
    # value of its own, as a merge matches it), tables of them in place of merges on text
    n_eng = len(eng)
    prog = _codes(eng["programme_id"], changes["programme_id"])[0]
    part, part_values = _codes(eng["participant_id"], changes["participant_id"])
    inst, inst_values = _codes(changes["instrument"])
    used = np.zeros((int(prog.max(initial=-1)) + 1, len(inst_values)), dtype=bool)
    used[prog[n_eng:], inst] = True
    has = np.zeros((len(part_values), len(inst_values)), dtype=bool)
    has[part[n_eng:], inst] = True
    who, which = np.nonzero(used[prog[:n_eng]])  # each engaged row x each instrument of her programme
    first_row = np.unique(inst, return_index=True)[1]  # each instrument's first episode: its value and dtype
    none = ~has[part[:n_eng][who], which]
    del has, part, prog, used
    keys = [*part_keys, "instrument"] if "instrument" in by else part_keys
    # the engaged x instrument rows are counted on integer groups, and only one row per group (with its keys) is
    # grouped on the keys, so that the groups' order and the keys' dtypes are those of grouping all the rows: at a
    # million participants the rows are three million, and grouping them on their text keys made a 600 MB transient
    part_frame = eng[list(dict.fromkeys(part_keys))]
    group, first = _row_groups(part_frame, who, which if "instrument" in by else None, len(inst_values))
    rep = part_frame.iloc[who[first]].reset_index(drop=True)
    rep["instrument"] = changes["instrument"].array.take(first_row[which[first]])
    rep["_n"] = np.bincount(group, minlength=len(first)).astype(np.int64)
    rep["_none"] = np.bincount(group, weights=none, minlength=len(first)).astype(np.int64)
    g = rep.groupby(keys, sort=True, dropna=False)
    return pd.DataFrame({"n_engaged": g["_n"].sum(), "n_engaged_no_score": g["_none"].sum()}).reset_index()


def _row_groups(keys: pd.DataFrame, who: np.ndarray, which: np.ndarray | None, n_values: int
                ) -> tuple[np.ndarray, np.ndarray]:
    """Integer groups of rows that take their keys from rows ``who`` of ``keys`` (and, unless ``which`` is None, a
    code below ``n_values``): each row's group and each group's first row.

    The rows of ``keys`` are grouped (``groupby(dropna=False)``: a missing value a value of its own) once, and the
    rows taken from them take their group, combined with ``which``: no key of text per row.

    Parameters
    ----------
    keys
        The key columns (none: one group for all).
    who
        For each row, its row of ``keys``.
    which
        For each row, a further key code (from 0 below ``n_values``), or None.
    n_values
        How many codes ``which`` has.

    Returns
    -------
    tuple of numpy.ndarray
        Each row's group (from 0, in the order of the groups' integer keys) and each group's first row.
    """
    if len(keys.columns):
        of_key = keys.groupby(list(keys.columns), sort=False, dropna=False).ngroup().to_numpy(dtype=np.int64)
    else:
        of_key = np.zeros(len(keys), dtype=np.int64)
    key = of_key[who] if which is None else of_key[who] * max(n_values, 1) + which
    del of_key
    _, first, group = np.unique(key, return_index=True, return_inverse=True)
    return group.reshape(-1), first


def _with_groups_of_no_episode(out: pd.DataFrame, engaged: pd.DataFrame, changes: pd.DataFrame,
                               by: Sequence[str]) -> pd.DataFrame:
    """The counts per group with a row added for each group of engaged mothers none of whom has an episode.

    A group is made by the episodes (one per instrument a mother has a score on), but its engaged mothers by
    the participants: within a programme using an instrument, a level of a breakdown (mothers of one ethnic
    group, say) whose engaged mothers all lack an episode on that instrument has engaged mothers and no
    episode. Its row counts them (all engaged with no score), nothing paired; its instrument's own columns
    (role, thresholds, cut-off) are those of the instrument's episodes in its programme. Without it the
    levels' engaged mothers would fall short of the programme's.

    Parameters
    ----------
    out
        The counts per ``by`` group of episodes, with ``n_engaged``, ``n_engaged_no_score`` and the
        instrument's columns (:func:`change_statistics` before its paired statistics).
    engaged
        The engaged counts per ``by`` group (:func:`_engaged_counts`).
    changes
        The episodes the counts come from, categorical keys as text.
    by
        The grouping columns (``instrument`` among them).

    Returns
    -------
    pandas.DataFrame
        ``out`` itself when every group of engaged mothers has a row; else ``out`` with the new rows,
        sorted by ``by`` as the groups are.
    """
    by = list(by)
    seen = _rows_in(engaged, out, by)
    new = engaged.loc[~seen, [*by, "n_engaged", "n_engaged_no_score"]].reset_index(drop=True)
    if new.empty:
        return out
    # the instrument's columns in the programme (or over the programmes pooled), and whether it has a caseness
    # cut-off or meaningful-change threshold: a count that needs one is 0 of 0 with it, missing without
    inst_keys = [k for k in ("programme_id", "instrument") if k in by]
    inst = changes.groupby(inst_keys, sort=False, dropna=False, observed=True).agg(
        rc_threshold=("rc_threshold", "first"), rc_threshold_source=("rc_threshold_source", "first"),
        cutoff=("cutoff", "first"), role=("role", "first"), higher_is_better=("higher_is_better", "first"),
        _cut=("cutoff", "count"), _mc=("meaningful_change_threshold", "count"),
    ).reset_index()
    inst = categories_as_text(inst, ["role"])
    new = new.merge(inst, on=inst_keys, how="left")
    counts = [c for c in out.columns if c.startswith("n_") and c not in new.columns]
    new = new.assign(**{c: 0 for c in counts})
    for c in ("n_caseness_baseline", "n_recovered", "n_reliable_recovery"):
        new[c] = new[c].astype(float).where(new["_cut"] > 0)
    new["n_meaningful_improvement"] = new["n_meaningful_improvement"].astype(float).where(new["_mc"] > 0)
    new = new.reindex(columns=out.columns).astype(out.dtypes.to_dict())  # any statistics: missing
    both = pd.concat([out, new], ignore_index=True)
    return both.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)


def _left_joins(groups: pd.DataFrame, by: list[str],
                tables: Sequence[tuple[pd.DataFrame, np.ndarray]]) -> pd.DataFrame:
    """``groups`` left-joined on ``by`` with each table in turn (the positions beside them unused)."""
    for table, _ in tables:
        groups = groups.merge(table, on=by, how="left")
    return groups


def _beside_groups(groups: pd.DataFrame, by: list[str],
                   tables: Sequence[tuple[pd.DataFrame, np.ndarray]]) -> pd.DataFrame:
    """``groups`` (one row per group, keys ``by``) with the columns of each table beside: as left joins on ``by``.

    Each table has one row per group it has, in the groups' sorted order, and comes with the position in
    ``groups`` of each of its rows; its rows are put there by position, the other groups' values missing
    (filled as :meth:`pandas.DataFrame.merge` fills a left join). The key columns come out in the dtype the
    joins give them: as they are, or text of two kinds (pandas' ``string`` and ``str``) as ``object``. Where a
    table's keys are not those of its positions, or their dtypes are another mix, the left joins are made.
    """
    def _text(dtype: object) -> bool:
        return isinstance(dtype, pd.StringDtype) or pd.api.types.is_object_dtype(dtype)

    placed = all(
        len(at) == len(table) and (not len(at) or at[-1] < len(groups)) and all(
            pd.Index(groups[k].to_numpy(dtype=object)[at]).equals(pd.Index(table[k].to_numpy(dtype=object)))
            for k in by)
        for table, at in tables)
    mixed = {k for table, _ in tables for k in by if table[k].dtype != groups[k].dtype}
    if not placed or not all(_text(groups[k].dtype) and all(_text(t[k].dtype) for t, _ in tables) for k in mixed):
        return _left_joins(groups, by, tables)
    columns = [table.drop(columns=by).set_axis(at).reindex(np.arange(len(groups))).set_axis(groups.index)
               for table, at in tables]
    out = pd.concat([groups, *columns], axis=1)
    # the mixed key columns as objects, in their places (the other columns as they are)
    return out.assign(**{k: out[k].astype(object) for k in mixed}) if mixed else out


# ---------------------------------------------------------------------------
# statistics per group
# ---------------------------------------------------------------------------
def change_statistics(
    changes: pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id", "instrument"),
    rules: PairingRules | None = None,
    participants: pd.DataFrame | None = None,
    reference: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Outcome statistics for groups of episodes, *before* disclosure control.

    Parameters
    ----------
    changes
        Episodes with change columns (:func:`evalkit.change.episode_change`).
    by
        Grouping columns; must include ``instrument`` (change is per
        instrument).
    rules
        The rules (``min_dose`` for 'engaged', ``level``).
    participants
        Participants with ``attended_total`` (``EpisodeData.participants``),
        for the completeness denominator; without it ``n_engaged`` counts
        engaged participants *with an episode* only.
    reference
        Reference baselines for :func:`adjusted_change`.

    Returns
    -------
    pandas.DataFrame
        One row per group with the columns of :data:`SUMMARY_COLUMNS` that do
        not need the longitudinal models (no ``mm_*``/``mi_*``), unsuppressed.
        With ``participants``, a group of engaged mothers none of whom has an
        episode (within a programme using the instrument) has its row too:
        its ``n_engaged`` (all of them ``n_engaged_no_score``), zero counts
        and no paired statistics, so that the groups' engaged mothers add up
        to those of any coarser grouping (a breakdown's levels to their
        programme). Never publish this frame as it is: pass it through
        :func:`disclose_statistics`.
    """
    rules = PairingRules() if rules is None else rules
    by = list(by)
    if "instrument" not in by:
        raise ValueError(f"by must include 'instrument'; got {by}")
    missing = [c for c in by if c not in changes.columns]
    if missing:
        raise ValueError(f"grouping column(s) {missing} not in the episodes; available: {list(changes.columns)}")
    ch = categories_as_text(changes, by)  # categorical keys grouped as their text: same groups, text columns out
    # the groups once: each episode's group number (in the sorted order of the groups), every count a bincount
    groups = ch.groupby(by, sort=True, dropna=False)
    gid = groups.ngroup().to_numpy()
    index = groups.size().index
    out = index.to_frame(index=False)
    n_groups = len(out)

    def count(mask: np.ndarray | pd.Series) -> np.ndarray:
        return np.bincount(gid[np.asarray(mask, dtype=bool)], minlength=n_groups)

    def first(column: str) -> pd.api.extensions.ExtensionArray | np.ndarray:
        """Each group's first value that is not missing (missing where none is), as ``GroupBy.first``."""
        at = _first_in_group(gid, ch[column].notna().to_numpy(dtype=bool), n_groups)
        return ch[column].array.take(at, allow_fill=True)

    paired = _bool(ch["paired"]).to_numpy()
    engaged_ep = np.asarray(engaged_mask(ch, rules.min_dose), dtype=bool)
    # the counts gathered as arrays, the frame made once (not a column inserted at a time)
    counts: dict[str, np.ndarray] = {"n_episodes": count(np.ones(len(ch), dtype=bool)), "n_paired": count(paired),
                                     "n_engaged_ep": count(engaged_ep)}
    for r, is_r in zip(UNPAIRED_REASONS, _is_each(ch["unpaired_reason"], UNPAIRED_REASONS), strict=True):
        counts[f"n_unpaired_{r}"] = count(is_r & engaged_ep)
    counts["n_unpaired_with_baseline"] = count(~paired & ch["baseline_score"].notna().to_numpy())
    for col, name in (("reliable_improvement", "n_reliable_improvement"),
                      ("reliable_deterioration", "n_reliable_deterioration"),
                      ("no_reliable_change", "n_no_reliable_change"),
                      ("jt_reliable_improvement", "n_jt_reliable_improvement"),
                      ("meaningful_improvement", "n_meaningful_improvement")):
        counts[name] = count(_bool(ch[col]).to_numpy() & paired)
    cb = _bool(ch["caseness_baseline"]).to_numpy() & paired
    ce = _bool(ch["caseness_endpoint"]).to_numpy()
    counts["n_caseness_baseline"] = count(cb)
    counts["n_recovered"] = count(cb & ~ce & ch["caseness_endpoint"].notna().to_numpy())
    counts["n_reliable_recovery"] = count(_is_each(ch["cs_category"], ["recovered"])[0])
    # a count that needs a caseness cut-off or a meaningful-change threshold is missing in a group without one
    cut_any = count(ch["cutoff"].notna()) > 0
    mc_any = count(ch["meaningful_change_threshold"].notna()) > 0
    for c in ("n_caseness_baseline", "n_recovered", "n_reliable_recovery"):
        counts[c] = np.where(cut_any, counts[c].astype(float), np.nan)
    counts["n_meaningful_improvement"] = np.where(mc_any, counts["n_meaningful_improvement"].astype(float), np.nan)
    del engaged_ep, cb, ce
    # instrument-level columns: each group's first
    meta = pd.DataFrame({c: first(c) for c in ("rc_threshold", "rc_threshold_source", "cutoff", "role",
                                                "higher_is_better")})
    meta = categories_as_text(meta, ["role"])  # the table's text stays text (the episodes hold a categorical)
    out = pd.concat([out, pd.DataFrame(counts), meta], axis=1)
    # engaged denominators
    if participants is not None:
        eng = _engaged_counts(participants, ch, by, rules)
        out = _with_engaged(out, eng, by)
    else:
        out["n_engaged"] = out["n_engaged_ep"]
        out["n_engaged_no_score"] = 0
    release_freed_memory()  # what the engaged counts of a million participants left in the pools
    # the paired episodes and those with a baseline: their groups (positions in ``out``) and each episode's
    # group among them, numbered in the groups' order (as groupbys of those episodes number them)
    has_base = ch["baseline_score"].notna().to_numpy()
    in_paired, paired_gid = np.unique(gid[paired], return_inverse=True)
    in_base, base_gid = np.unique(gid[has_base], return_inverse=True)
    keys = [key if isinstance(key, tuple) else (key,) for key in index]
    # paired statistics, one group at a time (few groups; each call is vectorised), on each group's scores in
    # their order
    pe = ch.loc[paired, ["instrument", "baseline_score", "endpoint_score"]]
    order = np.argsort(paired_gid, kind="stable")
    cuts = np.cumsum(np.bincount(paired_gid, minlength=len(in_paired)))[:-1]
    pre, post = ([] if not len(in_paired) else np.split(pe[c].to_numpy(dtype=float)[order], cuts)
                 for c in ("baseline_score", "endpoint_score"))
    stats_rows = [{**dict(zip(by, keys[i], strict=True)), **_paired_block(x, y, rules.level)}
                  for i, x, y in zip(in_paired, pre, post, strict=True)]
    ps = pd.DataFrame(stats_rows, columns=[*by, *[c for c in _PAIRED_STATS if not c.startswith("adj_")], "es_note"])
    ps["es_note"] = ps["es_note"].astype("string").fillna("")
    adj = pd.concat([index.take(in_paired).to_frame(index=False),
                     _adjusted_by_group(pe, paired_gid, len(in_paired), reference, rules.level)
                     .drop(columns=["adj_n"])], axis=1)
    att = _attrition_by_group(by, [keys[i] for i in in_base], base_gid,
                              ch["baseline_score"].to_numpy(dtype=float)[has_base], paired[has_base]).drop(
        columns=["n_paired", "n_unpaired_with_baseline", "baseline_mean_paired"])
    # each of the three has a row per group of some of the episodes (paired; with a baseline), in the groups'
    # sorted order: its rows go to those groups' rows by group number, missing for the other groups
    out = _beside_groups(out, by, [(ps, in_paired), (adj, in_paired), (att, in_base)])
    if participants is not None:
        out = _with_groups_of_no_episode(out, eng, ch, by)
    out = out.drop(columns=["n_engaged_ep"])
    # rates with Wilson intervals (percent): every rate of every group in one call, the columns added at once
    rates = [("n_paired", "n_engaged", "completeness"),
             *((num, den, f"pct_{stem}") for num, den, stem in _RATE_METRICS)]
    pct, lo, hi = (np.split(a, len(rates)) for a in _wilson_pct(
        np.concatenate([np.asarray(out[num], dtype=float) for num, _, _ in rates]),
        np.concatenate([np.asarray(out[den], dtype=float) for _, den, _ in rates]), rules.level))
    columns = {}
    for i, (_, _, name) in enumerate(rates):
        columns.update({name: pct[i], f"{name}_ci_low": lo[i], f"{name}_ci_high": hi[i]})
    out = pd.concat([out, pd.DataFrame(columns, index=out.index)], axis=1)
    out.attrs["rules"] = rules.describe()
    return out


def summary_disclosure_spec(across_keys: Sequence[str] | None = None) -> dict[str, object]:
    """The disclosure problem of a :func:`change_statistics` frame: what :func:`disclose_statistics` protects.

    Parameters
    ----------
    across_keys
        For breakdowns: the columns whose groups' rows add up to a published total (as in
        :func:`disclose_statistics`); default none.

    Returns
    -------
    dict
        The arguments of :func:`evalkit.disclosure.apply_disclosure` (before the choice of complements):
        ``"counts"``, the count columns of people or episodes, in order; ``"partitions"``, the equations
        that tie them together within a row (:class:`~evalkit.disclosure.Partition`; e.g. paired and each
        unpaired reason add up to the episodes); ``"derived"``, each figure computed from counts -> those
        counts (hidden with any of them); ``"across"``, one :class:`~evalkit.disclosure.Across` per count
        over ``across_keys`` (empty without them).

    Examples
    --------
    >>> spec = summary_disclosure_spec()
    >>> spec["counts"][:3], spec["derived"]["completeness"], spec["across"]
    (['n_episodes', 'n_engaged', 'n_paired'], ['n_paired', 'n_engaged'], [])
    """
    counts = ["n_episodes", "n_engaged", "n_paired", *_REASON_COLS, "n_engaged_no_score",
              *[m[0] for m in _RATE_METRICS], "n_unpaired_with_baseline", "mm_n_participants", "mi_n",
              "mi_n_imputed"]
    partitions = [
        Partition(("n_paired", *_REASON_COLS, "n_engaged_no_score"), total="n_engaged"),
        Partition(("n_paired", *_REASON_COLS), total="n_episodes", remainder=True),
        Partition(("n_reliable_improvement", "n_reliable_deterioration", "n_no_reliable_change"), total="n_paired"),
        Partition(("n_caseness_baseline",), total="n_paired", remainder=True),
        Partition(("n_recovered",), total="n_caseness_baseline", remainder=True),
        Partition(("n_reliable_recovery",), total="n_caseness_baseline", remainder=True),
        # reliable recovery = recovered with reliable improvement: inside both, and the differences are people
        Partition(("n_reliable_recovery",), total="n_recovered", remainder=True),
        Partition(("n_reliable_recovery",), total="n_reliable_improvement", remainder=True),
        Partition(("n_meaningful_improvement",), total="n_paired", remainder=True),
        Partition(("n_jt_reliable_improvement",), total="n_paired", remainder=True),
        Partition(("n_paired", "n_unpaired_with_baseline"), total="n_episodes", remainder=True),
        Partition(("mi_n_imputed",), total="mi_n", remainder=True),
    ]
    derived: dict[str, list[str]] = {c: ["n_paired"] for c in _PAIRED_STATS}
    derived.update({"completeness": ["n_paired", "n_engaged"], "completeness_ci_low": ["n_paired", "n_engaged"],
                    "completeness_ci_high": ["n_paired", "n_engaged"]})
    for num, den, stem in _RATE_METRICS:
        for suffix in ("", "_ci_low", "_ci_high"):
            derived[f"pct_{stem}{suffix}"] = [num, den]
    for c in _ATTRITION:
        derived[c] = ["n_unpaired_with_baseline", "n_paired"]
    for c in ("mm_change", "mm_ci_low", "mm_ci_high", "mm_se", "mm_converged", "mm_mean_dose", "mm_n_obs"):
        derived[c] = ["mm_n_participants"]
    for c in ("mi_mean_change", "mi_ci_low", "mi_ci_high", "mi_se", "mi_df", "mi_fmi", "mi_m"):
        derived[c] = ["mi_n", "mi_n_imputed"]
    across = []
    if across_keys is not None:
        across = [Across(c, tuple(across_keys)) for c in counts]
    return {"counts": counts, "partitions": partitions, "derived": derived, "across": across}


def disclose_statistics(
    frame: pd.DataFrame,
    *,
    rules: PairingRules | None = None,
    across_keys: Sequence[str] | None = None,
    total_rows: str | None = None,
    hidden_elsewhere: Mapping[str, np.ndarray] | None = None,
) -> pd.DataFrame:
    """Apply disclosure control to a frame of :func:`change_statistics` (plus model columns).

    Parameters
    ----------
    frame
        Output of :func:`change_statistics`, optionally with ``mm_*`` and
        ``mi_*`` columns.
    rules
        Threshold, zeros and rounding (:class:`~evalkit.rules.PairingRules`).
    across_keys
        For breakdowns: the columns identifying the group whose rows (the
        levels of a breakdown) add up to a published total, e.g.
        ``("programme_id", "instrument")``; each count column is then also
        protected across those rows.
    total_rows
        With ``across_keys``: a boolean column marking the rows that hold
        each group's total (e.g. the programme-level statistics appended to a
        breakdown's levels); without it the totals are taken as published.
    hidden_elsewhere
        Count column -> boolean array over the rows: cells hidden for a reason
        outside this frame (e.g. a total row whose count the published
        summary hides), as in :func:`evalkit.disclosure.apply_disclosure`.

    Returns
    -------
    pandas.DataFrame
        The frame with counts suppressed/rounded, derived figures hidden, a
        ``suppressed`` column and a ``rules`` column.
    """
    rules = PairingRules() if rules is None else rules
    f = frame.copy()
    for c in ("mm_n_participants", "mi_n", "mi_n_imputed"):
        if c not in f.columns:
            f[c] = np.nan
    spec = summary_disclosure_spec(across_keys)
    if total_rows is not None and across_keys is not None:
        spec["across"] = [Across(a.column, a.keys, total_rows=total_rows) for a in spec["across"]]
    # complements: the counts evalkit.summary keeps (a comparison needs them) are taken last, as there, so the
    # two outputs tend to hide the same cells (evalkit.summary hides whatever this hides)
    recovered = "n_reliable_recovery" if getattr(rules, "recovery_from", "reliable") == "reliable" else "n_recovered"
    keep = ["n_paired", "n_reliable_improvement", "n_caseness_baseline", recovered]
    out = apply_disclosure(f, counts=spec["counts"], partitions=spec["partitions"], across=spec["across"],
                           derived=spec["derived"], keep=keep, rules=rules, hidden_elsewhere=hidden_elsewhere)
    rules.stamp(out)
    return out


# ---------------------------------------------------------------------------
# dose sensitivity
# ---------------------------------------------------------------------------
def dose_sensitivity(
    changes: pd.DataFrame,
    *,
    by: Sequence[str] = ("programme_id", "instrument"),
    rules: PairingRules | None = None,
    thresholds: Sequence[int] | None = None,
    disclose: bool = True,
) -> pd.DataFrame:
    """The headline mean change re-estimated for several minimum doses.

    Parameters
    ----------
    changes
        Episodes with change columns. Candidates are paired episodes and
        those unpaired only for ``below_minimum_dose`` (their endpoints are
        kept for this purpose), so thresholds below ``rules.min_dose`` work.
    by
        Grouping columns.
    rules
        ``dose_thresholds`` (default 1, 2, 3, 4, 6, 8), ``level`` and the
        disclosure settings.
    thresholds
        Override ``rules.dose_thresholds``.
    disclose
        Apply disclosure control (default True).

    Returns
    -------
    pandas.DataFrame
        One row per group x threshold: ``min_dose``, ``n``, ``mean_change``,
        ``ci_low``, ``ci_high`` (paired t interval,
        :func:`evalkit.stats.paired_mean_change`), ``pct_reliable_improvement``,
        and ``rules``/``suppressed``.

    Notes
    -----
    Dose = attended contacts between baseline and endpoint, both included
    (``sessions_attended`` for programmes without contact rows). If the
    change grows steadily with the threshold, the headline depends on who is
    counted as having 'had the support'; state the threshold with the result.
    """
    from evalkit.stats import paired_mean_changes

    rules = PairingRules() if rules is None else rules
    by = list(by)
    ths = tuple(rules.dose_thresholds if thresholds is None else thresholds)
    # the rows with both scores, paired or below the minimum dose only, of the columns used only
    keep = (_bool(changes["paired"]).to_numpy() | _is_each(changes["unpaired_reason"], ["below_minimum_dose"])[0]) \
        & changes["endpoint_score"].notna().to_numpy() & changes["baseline_score"].notna().to_numpy()
    cand = changes[[*dict.fromkeys([*by, "dose", "baseline_score", "endpoint_score", "higher_is_better",
                                    *(["rc_threshold"] if "rc_threshold" in changes.columns else [])])]][keep]
    rows = []
    # each group's rows (in their order) by group number: columns taken once, not a frame per group
    groups = cand.groupby(by, sort=True, dropna=False)
    gid = groups.ngroup().to_numpy()
    keys = groups.size().index.tolist()
    sizes = np.bincount(gid, minlength=len(keys))
    ends = np.cumsum(sizes)
    in_order = np.argsort(gid, kind="stable")
    dose_all = cand["dose"].to_numpy(dtype=float)
    pre_all = cand["baseline_score"].to_numpy(dtype=float)
    post_all = cand["endpoint_score"].to_numpy(dtype=float)
    hib_all = cand["higher_is_better"].array
    thr_all = cand["rc_threshold"].to_numpy(dtype=float) if "rc_threshold" in cand.columns else None
    estimated: list[int] = []  # the rows with a mean change, and their samples: all estimated in one call below
    samples: list[tuple[np.ndarray, np.ndarray]] = []
    for key, size, end in zip(keys, sizes, ends, strict=True):
        key = key if isinstance(key, tuple) else (key,)
        own = in_order[end - size:end]
        dose, pre, post = dose_all[own], pre_all[own], post_all[own]
        hib = bool(hib_all[own[0]])
        thr = float(thr_all[own[0]]) if thr_all is not None else np.nan
        for k in ths:
            m = dose >= k
            row = {**dict(zip(by, key, strict=True)), "min_dose": int(k), "n": int(m.sum())}
            if m.sum() >= 2:
                estimated.append(len(rows))
                samples.append((pre[m], post[m]))
                if np.isfinite(thr):
                    imp = (post[m] - pre[m]) * (1 if hib else -1) >= thr - 1e-9
                    row["n_reliable_improvement"] = int(imp.sum())
            rows.append(row)
    for i, r in zip(estimated, paired_mean_changes(samples, level=rules.level), strict=True):
        rows[i].update(mean_change=r.mean_change, ci_low=r.ci_low, ci_high=r.ci_high)
    cols = [*by, "min_dose", "n", "mean_change", "ci_low", "ci_high", "n_reliable_improvement"]
    out = pd.DataFrame(rows, columns=cols)
    out = out.sort_values([*by, "min_dose"], kind="stable").reset_index(drop=True)
    out["pct_reliable_improvement"] = _wilson_pct(out["n_reliable_improvement"], out["n"], rules.level)[0]
    if disclose:
        raw = out
        out = apply_disclosure(
            out, counts=["n", "n_reliable_improvement"],
            partitions=[Partition(("n_reliable_improvement",), total="n", remainder=True)],
            derived={"mean_change": ["n"], "ci_low": ["n"], "ci_high": ["n"],
                     "pct_reliable_improvement": ["n", "n_reliable_improvement"]},
            rules=rules)
        out = _nested_dose_suppression(raw, out, by, rules)
    rules.stamp(out)
    return out


_DOSE_ROW = ("n", "mean_change", "ci_low", "ci_high", "n_reliable_improvement", "pct_reliable_improvement")
_DOSE_RI = ("n_reliable_improvement", "pct_reliable_improvement")


def _nested_dose_suppression(raw: pd.DataFrame, out: pd.DataFrame, by: Sequence[str],
                             rules: PairingRules) -> pd.DataFrame:
    """Secondary suppression between the nested rows of a dose-sensitivity table.

    Parameters
    ----------
    raw
        The table before disclosure control, rows sorted by group and ``min_dose``.
    out
        The same rows after :func:`~evalkit.disclosure.apply_disclosure` (primary and within-row
        suppression).
    by
        The grouping columns (e.g. programme x instrument).
    rules
        ``suppression_threshold`` (``t``).

    Returns
    -------
    pandas.DataFrame
        ``out`` with further cells hidden and named in ``suppressed``.

    Notes
    -----
    Within a group, the mothers counted at a higher minimum dose are among those counted at every lower
    one, so two published rows differ by a group of real mothers (those with a dose between the two
    minimums), whose number, reliable improvements and summed change a reader can work out by
    subtraction (n = 17 at '>= 2' and 15 at '>= 3': 2 mothers with exactly 2 contacts). The rule: starting
    from the row of the rules' own minimum dose (``rules.min_dose``: its mothers are those of the outcome
    summary, which publishes them, so it is never hidden for this) and moving away from it, up in
    ``min_dose`` and then down, a row is compared with the *last published row* of its group on that side
    (true counts); when their n differ by 1 to ``t - 1`` the row further away is hidden whole (n, mean
    change, interval, reliable improvement). Without a row at the rules' minimum the walk starts at the
    lowest. Likewise a row's reliable-improvement count is hidden when, against the last
    row whose n and count are both published, the difference group's improvers or non-improvers number
    1 to ``t - 1``. Every pair of published rows then differs by 0 or at least ``t`` mothers, and by 0
    or at least ``t`` (non-)improvers: the difference of any two published rows is itself a cell that
    would be published (the rows are nested, so any two published rows bound a union of the hidden
    differences between them, which adds up to at least ``t``). A row whose n is already hidden is never
    a reference. Vectorised over groups; one pass per threshold position.
    """
    t = int(getattr(rules, "suppression_threshold", 5))
    if t <= 1 or not len(out):
        return out
    by = list(by)
    gid = raw.groupby(by, sort=False, dropna=False).ngroup().to_numpy() if by else np.zeros(len(raw), dtype=np.int64)
    pos = raw.groupby(by, sort=False, dropna=False).cumcount().to_numpy() if by else np.arange(len(raw))
    n = pd.to_numeric(raw["n"], errors="coerce").to_numpy(dtype=float)
    ri = pd.to_numeric(raw["n_reliable_improvement"], errors="coerce").to_numpy(dtype=float)
    n_hidden = out["n"].isna().to_numpy() & ~np.isnan(n)
    ri_hidden = out["n_reliable_improvement"].isna().to_numpy() & ~np.isnan(ri)
    n_groups = int(gid.max()) + 1
    # each group's walk starts at the rules' own minimum dose: that row's mothers are the outcome summary's
    # (published there under its own suppression), so it is the first reference, not a row to hide
    anchor = np.zeros(n_groups, dtype=np.int64)
    at_rule = pd.to_numeric(raw["min_dose"], errors="coerce").to_numpy(dtype=float) == float(rules.min_dose)
    anchor[gid[at_rule]] = pos[at_rule]
    rel = pos - anchor[gid]  # 0: the rules' row; 1, 2, ...: higher doses (fewer mothers); -1, -2, ...: lower
    last_n = np.full(n_groups, np.nan)  # the last published n of each group
    last_rn = np.full(n_groups, np.nan)  # the last row with n and reliable improvement published: its n ...
    last_ri = np.full(n_groups, np.nan)  # ... and its count
    hide_row = np.zeros(len(raw), dtype=bool)
    hide_ri = np.zeros(len(raw), dtype=bool)

    def walk(rows: np.ndarray, sign: float) -> None:
        """One layer of rows (one per group at most), compared with their group's last published row.

        ``sign`` is 1 going up in dose (the reference holds more mothers) and -1 going down (fewer)."""
        g = gid[rows]
        d = sign * (last_n[g] - n[rows])
        row_out = ~n_hidden[rows] & ~np.isnan(n[rows]) & (d >= 1) & (d < t)
        hide_row[rows[row_out]] = True
        shown = rows[~n_hidden[rows] & ~row_out & ~np.isnan(n[rows])]
        last_n[gid[shown]] = n[shown]
        cand = shown[~ri_hidden[shown] & ~np.isnan(ri[shown])]
        gc = gid[cand]
        dn = sign * (last_rn[gc] - n[cand])
        dri = sign * (last_ri[gc] - ri[cand])
        with np.errstate(invalid="ignore"):
            small = ((dri >= 1) & (dri < t)) | ((dn - dri >= 1) & (dn - dri < t))
        hide_ri[cand[small]] = True
        keep = cand[~small]
        last_rn[gid[keep]] = n[keep]
        last_ri[gid[keep]] = ri[keep]

    walk(np.flatnonzero(rel == 0), 1.0)
    start = (last_n.copy(), last_rn.copy(), last_ri.copy())
    for k in range(1, int(rel.max()) + 1):
        walk(np.flatnonzero(rel == k), 1.0)
    last_n[:], last_rn[:], last_ri[:] = start
    for k in range(1, int(-rel.min()) + 1):
        walk(np.flatnonzero(rel == -k), -1.0)
    if not (hide_row.any() or hide_ri.any()):
        return out
    return _hide_dose_cells(out, hide_row, hide_ri & ~hide_row)


def _hide_dose_cells(dose: pd.DataFrame, rows: np.ndarray, reliable: np.ndarray) -> pd.DataFrame:
    """A copy of a dose-sensitivity table with the figures of ``rows`` (every count and statistic) and the
    reliable improvements of ``reliable`` hidden, each newly hidden shown cell named in ``suppressed``."""
    out = dose.copy()
    names = out["suppressed"].astype("string").fillna("").to_numpy(dtype=object)
    for cols, mask in ((_DOSE_ROW, rows), (_DOSE_RI, reliable)):
        for c in cols:
            if c not in out.columns:
                continue
            m = mask & out[c].notna().to_numpy()
            col = out[c].copy()
            col[m] = pd.NA if isinstance(col.dtype, pd.api.extensions.ExtensionDtype) else np.nan
            out[c] = col
            names = np.where(m, np.where(names == "", c, names + "; " + c), names)  # a shown cell: not yet named
    out["suppressed"] = pd.array(names.astype(str), dtype="string")
    return out


# ---------------------------------------------------------------------------
# everything
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class OutcomeResult:
    """Everything :func:`evaluate_outcomes` produced.

    Individual-level frames (for the provider's own use; never publish):
    ``changes`` (one row per episode with change columns) and ``data`` (the
    :class:`~evalkit.episodes.EpisodeData`; when prepared here from tables,
    without the attended contacts: ``data.attended`` is ``None``). Aggregates (disclosure-controlled):
    ``summary`` (:func:`outcome_summary`), ``dose_sensitivity``,
    ``talking_therapies`` (the NHS Talking Therapies-style rates of
    :func:`outcome_talking_therapies`; ``None`` when ``evaluate_outcomes`` was
    asked to leave them out) and ``recovery`` (:func:`evalkit.recovery.recovery_from_within`).
    ``parameters`` lists the reliability, SD and thresholds used per
    instrument, its count of paired baselines disclosure-controlled
    (:func:`disclose_parameters`). ``rules`` are the rules that produced all of it.
    """

    changes: pd.DataFrame
    summary: pd.DataFrame
    dose_sensitivity: pd.DataFrame
    talking_therapies: pd.DataFrame | None
    recovery: pd.DataFrame
    parameters: pd.DataFrame
    rules: PairingRules
    data: EpisodeData = field(repr=False)
    statistics: pd.DataFrame | None = field(default=None, repr=False)
    """:func:`change_statistics` per programme x instrument *before* disclosure control (never publish)."""
    instruments: Mapping[str, Instrument] | None = field(default=None, repr=False)

    def describe_rules(self) -> str:
        """The rules in plain English."""
        return self.rules.describe()

    def summary_with_models(self, instruments: Sequence[str] | None = None) -> pd.DataFrame:
        """The outcome summary with the mixed-model and multiple-imputation estimates.

        The same frame as ``outcome_summary(self.data, rules=self.rules, models=True)``
        (with the same instrument registry), without pairing the episodes or
        computing the statistics again: only the models are fitted.

        Parameters
        ----------
        instruments
            Only these instruments' rows (codes, e.g. ``["epds"]``), fitting
            only their models: the same rows as the whole summary's, as every
            (programme, instrument) group is fitted on its own data and draws
            its imputations from its own key
            (:func:`evalkit.longitudinal.group_generator`).
        """
        registry = builtin_instruments() if self.instruments is None else self.instruments
        changes, statistics, data = self.changes, self.statistics, self.data
        if instruments is not None:
            wanted = list(instruments)
            changes = changes[changes["instrument"].isin(wanted).to_numpy(dtype=bool)]
            if statistics is not None:
                statistics = statistics[statistics["instrument"].isin(wanted).to_numpy(dtype=bool)]
            data = replace(data, scores=data.scores[data.scores["instrument"].isin(wanted).to_numpy(dtype=bool)])
        if statistics is None:
            return _summary(data, changes, self.rules, registry, True)
        return _disclosed_summary(statistics, data, changes, self.rules, registry, True)


def _prepare(tables: Mapping[str, pd.DataFrame] | EpisodeData, rules: PairingRules,
             instruments: Mapping[str, Instrument] | None) -> EpisodeData:
    if isinstance(tables, EpisodeData):
        return tables
    # no analysis here reads the attended contacts (about 400 MB at a million participants): not kept
    return prepare_episodes(tables, rules=rules, instruments=instruments, keep_attended=False)


def _models(data: EpisodeData, changes: pd.DataFrame, rules: PairingRules, by: Sequence[str]) -> pd.DataFrame:
    from evalkit.longitudinal import mixed_model_change, multiple_imputation_change

    mm = mixed_model_change(data.scores, changes, by=by, rules=rules)
    release_freed_memory()  # what its fits freed, before the imputations
    mi = multiple_imputation_change(changes, by=by, rules=rules)
    return mm.merge(mi, on=list(by), how="outer")


def _summary(data: EpisodeData, changes: pd.DataFrame, rules: PairingRules,
             registry: Mapping[str, Instrument], models: bool) -> pd.DataFrame:
    by = ["programme_id", "instrument"]
    st = change_statistics(changes, by=by, rules=rules, participants=data.participants)
    return _disclosed_summary(st, data, changes, rules, registry, models)


def _disclosed_summary(st: pd.DataFrame, data: EpisodeData, changes: pd.DataFrame, rules: PairingRules,
                       registry: Mapping[str, Instrument], models: bool) -> pd.DataFrame:
    by = ["programme_id", "instrument"]
    if models and len(changes):
        st = st.merge(_models(data, changes, rules, by), on=by, how="left")
    names = {c: registry[c].name for c in registry}
    st = st.assign(instrument_name=st["instrument"].map(names).astype("string"))  # st is kept by OutcomeResult
    out = disclose_statistics(st, rules=rules)
    cols = [c for c in SUMMARY_COLUMNS if c in out.columns]
    extra = [c for c in out.columns if c not in cols and c not in ("rules", "suppressed")]
    out = out[[*cols[:-2], *extra, "rules", "suppressed"]]
    out.attrs["rules"] = rules.describe()
    return out


def evaluate_outcomes(
    tables: Mapping[str, pd.DataFrame] | EpisodeData,
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    models: bool = True,
    talking_therapies: bool = True,
) -> OutcomeResult:
    """Episodes, change, and every programme-level outcome, in one call.

    Parameters
    ----------
    tables
        Canonical tables (``participants``, ``measures``, optionally
        ``contacts``, ``programmes``), or an already prepared
        :class:`~evalkit.episodes.EpisodeData`.
    rules
        :class:`~evalkit.rules.PairingRules` (default ``PairingRules()``).
    instruments
        Instrument registry (default: built-in).
    models
        Fit the mixed model and the multiple imputation (default True; they
        take most of the time).
    talking_therapies
        Compute the NHS Talking Therapies-style rates
        (:attr:`OutcomeResult.talking_therapies`; default True). With False
        that attribute is ``None``, and :func:`outcome_talking_therapies` of
        the result gives the same table later, when it is wanted.

    Returns
    -------
    OutcomeResult
    """
    from evalkit.recovery import recovery_from_within

    rules = PairingRules() if rules is None else rules
    registry = builtin_instruments() if instruments is None else instruments
    data = _prepare(tables, rules, registry)
    # each step's intermediates are given back to the operating system before the next (at a million
    # participants they are hundreds of MB, which glibc and Arrow would otherwise keep)
    release_freed_memory()
    # the instruments' parameters once: the change uses them, and they are published as they are
    parameters = instrument_parameters(data.episodes, rules=rules, instruments=registry,
                                       scored_measures=data.scored_measures)
    changes = episode_change(data.episodes, rules=rules, instruments=registry,
                             scored_measures=data.scored_measures, parameters=parameters)
    release_freed_memory()
    statistics = change_statistics(changes, by=["programme_id", "instrument"], rules=rules,
                                   participants=data.participants)
    release_freed_memory()
    summary = _disclosed_summary(statistics, data, changes, rules, registry, models)
    dose = _dose_as_summary(dose_sensitivity(changes, rules=rules), summary)
    release_freed_memory()
    tt = _talking_therapies(changes, statistics, summary, rules) if talking_therapies else None
    release_freed_memory()
    rec = recovery_from_within(changes, rules=rules)
    release_freed_memory()
    params = disclose_parameters(parameters, rules=rules)
    return OutcomeResult(changes=changes, summary=summary, dose_sensitivity=dose, talking_therapies=tt,
                         recovery=rec, parameters=params, rules=rules, data=data, statistics=statistics,
                         instruments=instruments)


def _talking_therapies(changes: pd.DataFrame, statistics: pd.DataFrame, summary: pd.DataFrame,
                       rules: PairingRules) -> pd.DataFrame:
    """The Talking Therapies rates by programme and measure set of ``changes``, protected beside ``summary``."""
    from evalkit.talking_therapies import talking_therapies_outcomes, talking_therapies_rates

    people = talking_therapies_outcomes(changes, rules=rules)
    return published_talking_therapies_rates(people, talking_therapies_rates(people, rules=rules, disclose=False),
                                             statistics, summary, rules=rules)


def outcome_talking_therapies(result: OutcomeResult) -> pd.DataFrame:
    """The NHS Talking Therapies-style rates of an outcome result, as :func:`evaluate_outcomes` publishes them.

    The same table :attr:`OutcomeResult.talking_therapies` holds when
    :func:`evaluate_outcomes` computes it (its default), made from the
    result's episode changes, statistics and summary without pairing the
    episodes again: for a result made with ``talking_therapies=False``
    (e.g. where the rates are shown only on request).

    Parameters
    ----------
    result
        An :class:`OutcomeResult` (with or without its ``talking_therapies``;
        the table is computed anew either way).

    Returns
    -------
    pandas.DataFrame
        One row per programme x measure set
        (:func:`evalkit.talking_therapies.talking_therapies_rates`),
        disclosure-controlled on its own and beside the result's outcome
        summary (:func:`published_talking_therapies_rates`), with ``rules``
        and ``suppressed`` columns.

    Examples
    --------
    >>> from evalkit.generator import generate_programmes
    >>> from evalkit.outcomes import evaluate_outcomes, outcome_talking_therapies
    >>> result = evaluate_outcomes(generate_programmes(300, seed=1).tables, models=False,
    ...                            talking_therapies=False)
    >>> rates = outcome_talking_therapies(result)  # the table evaluate_outcomes would have filled
    """
    statistics = result.statistics
    if statistics is None:  # a result made without its statistics: the summary's, made again
        statistics = change_statistics(result.changes, by=["programme_id", "instrument"], rules=result.rules,
                                       participants=result.data.participants)
    return _talking_therapies(result.changes, statistics, result.summary, result.rules)


def _dose_as_summary(dose: pd.DataFrame, summary: pd.DataFrame) -> pd.DataFrame:
    """The dose-sensitivity table with the cells hidden that the outcome summary hides for the same people.

    Parameters
    ----------
    dose
        :func:`dose_sensitivity` per programme x instrument, disclosure-controlled.
    summary
        The disclosure-controlled outcome summary of the same output.

    Returns
    -------
    pandas.DataFrame
        ``dose`` with, for each programme x instrument whose ``n_paired`` the summary hides, every row hidden
        whole (``n``, mean change, interval, reliable improvement), and where the summary hides only
        ``n_reliable_improvement``, every row's reliable improvement; each named in ``suppressed``.

    Notes
    -----
    The row at the rules' minimum dose counts the summary's paired mothers, and
    :func:`_nested_dose_suppression` controls the other rows against it as a published figure. When the
    summary hides it (secondary suppression, e.g. protecting a small count of one unpaired reason), showing
    it here would undo that protection, and the other rows differ from it by mothers of known doses; so the
    whole group's rows go (its reliable improvements likewise).
    """
    keys = ["programme_id", "instrument"]
    if not len(dose) or not set(keys) <= set(dose.columns) or not set(keys) <= set(summary.columns):
        return dose
    s = summary[[*keys, "n_paired", "n_reliable_improvement"]].astype({k: "string" for k in keys})
    at = pd.MultiIndex.from_frame(s[keys]).get_indexer(pd.MultiIndex.from_frame(dose[keys].astype("string")))
    found = at >= 0
    pos = np.where(found, at, 0)
    n_hidden = found & s["n_paired"].isna().to_numpy()[pos]
    ri_hidden = found & s["n_reliable_improvement"].isna().to_numpy()[pos] & ~n_hidden
    if not (n_hidden.any() or ri_hidden.any()):
        return dose
    return _hide_dose_cells(dose, n_hidden, ri_hidden)


def disclose_parameters(params: pd.DataFrame, *, rules: PairingRules | None = None) -> pd.DataFrame:
    """Instrument parameters with the count of paired baselines behind a sample SD (``n_sd``) protected.

    ``n_sd`` counts the mothers whose baseline scores gave the reference SD when
    the instrument file has none; it is a count of people like any other, so
    it is hidden from 1 to ``suppression_threshold - 1``
    (:func:`evalkit.disclosure.apply_disclosure`). Where the SD came from the
    sample and ``n_sd`` is hidden, the figures computed from that SD
    (``sd_used``, ``s_diff``, ``jt_threshold`` and a computed ``rc_threshold``)
    are hidden too, and ``sd_source`` quotes the marker instead of the count.

    Parameters
    ----------
    params
        :func:`evalkit.change.instrument_parameters` output.
    rules
        Supplies ``suppression_threshold``, ``show_zero``, ``rounding_base``.

    Returns
    -------
    pandas.DataFrame
        ``params`` with hidden cells missing and a ``suppressed`` column naming them.
    """
    from evalkit.disclosure import SUPPRESSED_MARKER

    rules = PairingRules() if rules is None else rules
    if params.empty or "n_sd" not in params.columns:
        out = params.copy()
        out["suppressed"] = pd.Series([""] * len(out), dtype="string", index=out.index)
        return out
    out = apply_disclosure(params, counts=["n_sd"], rules=rules)
    sample = params["sd_source"].astype("string").str.startswith("sample").fillna(False).to_numpy(dtype=bool)
    computed = params["rc_threshold_source"].astype("string").str.startswith("computed").fillna(False) \
        .to_numpy(dtype=bool)
    hidden = (out["n_sd"].isna().to_numpy() & params["n_sd"].notna().to_numpy()) & sample
    sup = out["suppressed"].astype("string").fillna("")
    if hidden.any():
        derived = [c for c in ("sd_used", "s_diff", "jt_threshold") if c in out.columns]
        out.loc[hidden, derived] = np.nan
        rc = hidden & computed
        if "rc_threshold" in out.columns:
            out.loc[rc, "rc_threshold"] = np.nan
        out.loc[hidden, "sd_source"] = f"sample: SD of {SUPPRESSED_MARKER} paired baselines"
        extra = pd.Series(np.where(rc, "; ".join([*derived, "rc_threshold"]), "; ".join(derived)), index=out.index,
                          dtype="string")
        sup = sup.where(~hidden, (sup + "; " + extra).str.removeprefix("; "))
    out["suppressed"] = sup
    out.attrs = dict(params.attrs)
    return out


def outcome_summary(
    tables: Mapping[str, pd.DataFrame] | EpisodeData,
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    models: bool = True,
) -> pd.DataFrame:
    """The outcome summary: one row per programme x instrument, disclosure-controlled.

    Parameters
    ----------
    tables
        Canonical tables (``participants``, ``measures``, optionally
        ``contacts``, ``programmes``) or a prepared
        :class:`~evalkit.episodes.EpisodeData`.
    rules
        :class:`~evalkit.rules.PairingRules` (default ``PairingRules()``).
    instruments
        Instrument registry (default: built-in).
    models
        Include the mixed-model and multiple-imputation estimates (default
        True; set False for a fast summary).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`SUMMARY_COLUMNS` (``mm_*``/``mi_*`` only with
        ``models=True``). Counts are ``Int64`` (``<NA>`` where hidden);
        percentages are 0-100.

        Identity: ``programme_id``, ``instrument``, ``instrument_name``,
        ``role``, ``higher_is_better``.

        Completeness: ``n_episodes`` (participants with any valid score),
        ``n_engaged`` (participants of the programme who attended at least
        ``min_dose`` contacts, and at least one, over the referral:
        :func:`evalkit.episodes.engaged_mask`; every paired mother is
        engaged), ``n_paired``,
        ``completeness`` = ``100 n_paired / n_engaged`` with Wilson CI,
        ``n_unpaired_<reason>`` (engaged participants unpaired for each
        reason of :data:`evalkit.episodes.UNPAIRED_REASONS`) and
        ``n_engaged_no_score`` (engaged, but no valid score on the instrument).

        Paired change (completers): ``baseline_mean``, ``baseline_sd``,
        ``endpoint_mean``, ``endpoint_sd``, ``pre_post_r``, ``mean_change``
        (endpoint - baseline) with ``ci_low``/``ci_high`` (paired t),
        ``sd_change``; ``d_z`` (mean change / SD of change) and ``d_av``
        (mean change / mean of the pre and post SDs) with CIs (noncentral t;
        Algina-Keselman for d_av) and Hedges-corrected ``g_z``, ``g_av``
        (:func:`evalkit.stats.paired_effect_size`); ``adj_mean_change`` with
        CI at ``adj_reference_baseline`` (:func:`adjusted_change`) and
        ``adj_slope``.

        Categories (each ``n_*``, ``pct_*`` and Wilson ``pct_*_ci_low/high``):
        ``reliable_improvement``, ``reliable_deterioration``,
        ``no_reliable_change`` (of ``n_paired``; by ``rc_threshold`` from
        ``rc_threshold_source``), ``jt_reliable_improvement`` (the computed
        Jacobson-Truax RCI), ``meaningful_improvement`` (scale authors'
        guidance; wellbeing measures only), ``caseness_baseline`` (of
        ``n_paired``; ``cutoff``), ``recovered`` (at caseness at baseline and
        not at endpoint) and ``reliable_recovery`` (recovered with reliable
        improvement), both of ``n_caseness_baseline``.

        Attrition: ``n_unpaired_with_baseline``, ``baseline_mean_unpaired``,
        ``attrition_diff`` (unpaired - paired baseline mean), ``attrition_t``,
        ``attrition_p`` (Welch; :func:`attrition_check`).

        Everyone's observations: ``mm_change`` with ``mm_ci_low``/``mm_ci_high``,
        ``mm_n_participants``, ``mm_converged`` (mixed model, change to the
        follow-up window; :func:`evalkit.longitudinal.mixed_model_change`);
        ``mi_mean_change`` with ``mi_ci_low``/``mi_ci_high``, ``mi_n``,
        ``mi_n_imputed``, ``mi_m`` (multiple imputation of missing endpoints,
        Rubin's rules; :func:`evalkit.longitudinal.multiple_imputation_change`).
        Further model columns (``mm_se``, ``mm_note``, ``mi_fmi``, ...) follow.

        ``rules`` (text of ``rules.describe()``, also ``attrs["rules"]``) and
        ``suppressed`` (hidden columns in the row).

    Notes
    -----
    Disclosure control (:mod:`evalkit.disclosure`): counts below
    ``rules.suppression_threshold`` are hidden, with secondary suppression
    across the sets that add up (paired + unpaired reasons + no score =
    engaged; improvement + deterioration + no change = paired; recovered and
    not recovered = at caseness; ...), then optional rounding; every mean,
    percentage and interval computed from a hidden count is hidden.

    Examples
    --------
    >>> from evalkit.outcomes import outcome_summary
    >>> from evalkit.generator import generate_programmes
    >>> s = outcome_summary(generate_programmes(300, seed=1).tables, models=False)
    >>> s[["programme_id", "instrument", "n_paired"]].head(2)  # doctest: +SKIP
    """
    rules = PairingRules() if rules is None else rules
    registry = builtin_instruments() if instruments is None else instruments
    data = _prepare(tables, rules, registry)
    changes = episode_change(data.episodes, rules=rules, instruments=registry,
                             scored_measures=data.scored_measures)
    return _summary(data, changes, rules, registry, models)


def trajectories(
    tables: Mapping[str, pd.DataFrame] | EpisodeData,
    *,
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    bin_weeks: int = 2,
    max_weeks: int = 26,
) -> pd.DataFrame:
    """Mean score week by week since the baseline, per programme x instrument (disclosure-controlled).

    Parameters
    ----------
    tables
        Canonical tables or a prepared :class:`~evalkit.episodes.EpisodeData`.
    rules
        Pairing rules (who has a baseline) and disclosure settings.
    instruments
        Instrument registry.
    bin_weeks
        Width of the time bins in weeks (default 2).
    max_weeks
        Last week shown (default 26).

    Returns
    -------
    pandas.DataFrame
        One row per programme x instrument x bin: ``week`` (weeks since the
        baseline: 0 is the baseline itself, later bins are shown at their
        midpoints, e.g. 1, 3, 5 for 2-week bins), ``n``
        (participants with a score in the bin; the first score in the bin
        counts), ``mean``, ``sd``, ``ci_low``, ``ci_high`` (t interval),
        ``rules``, ``suppressed``.

    Notes
    -----
    Descriptive: who is still giving questionnaires changes over time
    (those who stop early are missing later), so a falling curve mixes change
    with attrition. The model-based estimates of :func:`outcome_summary`
    address that.
    """
    rules = PairingRules() if rules is None else rules
    if not isinstance(bin_weeks, int) or bin_weeks < 1:
        raise ValueError(f"bin_weeks must be a whole number >= 1; got {bin_weeks!r}")
    data = _prepare(tables, rules, instruments)
    s = data.scores
    s = s[(s["weeks_since_baseline"] >= 0) & (s["weeks_since_baseline"] <= max_weeks)]
    t = s["weeks_since_baseline"].to_numpy(dtype=float)
    # 0 = the baseline itself; later scores go to the midpoint of their bin (1, 3, 5, ... for 2-week bins)
    s = s.assign(week=np.where(t == 0, 0.0, np.floor(t / bin_weeks) * bin_weeks + bin_weeks / 2))
    s = s.sort_values(["participant_id", "instrument", "date"]).drop_duplicates(
        ["participant_id", "instrument", "week"])
    g = s.groupby(["programme_id", "instrument", "week"], sort=True)["score"]
    out = pd.DataFrame({"n": g.size(), "mean": g.mean(), "sd": g.std()}).reset_index()
    with np.errstate(invalid="ignore", divide="ignore"):
        half = stats.t.ppf(0.5 + rules.level / 2, np.maximum(out["n"] - 1, 1)) * out["sd"] / np.sqrt(out["n"])
    out["ci_low"] = (out["mean"] - half).where(out["n"] > 1)
    out["ci_high"] = (out["mean"] + half).where(out["n"] > 1)
    out = apply_disclosure(out, counts=["n"], derived={c: ["n"] for c in ("mean", "sd", "ci_low", "ci_high")},
                           rules=rules)
    rules.stamp(out)
    return out
