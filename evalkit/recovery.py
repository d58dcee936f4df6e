"""Recovery 'from' symptoms versus recovery 'within' them: one cross-classification per participant.

Peer support may help a mother feel better and cope (wellbeing, personal
recovery) while her symptom score stays above the cut-off. Counting only
symptom recovery misses this; counting only wellbeing hides whether
symptoms lifted. Each participant at caseness at baseline, with a paired
symptom measure and a paired wellbeing or recovery measure, gets exactly one
category:

* ``reliably_worse`` -- a reliable deterioration on any of her measures
  (checked first, so a safety-relevant change is never hidden in another
  category);
* ``both`` -- recovered from symptoms **and** reliably better on wellbeing or
  recovery;
* ``recovered_from`` -- recovered from symptoms only;
* ``recovery_within`` -- reliably better on wellbeing or recovery while the
  symptom measure(s) remain at caseness at endpoint;
* ``neither`` -- none of these.

'Recovered from symptoms' follows NHS Talking Therapies' joint logic over
her paired symptom measures (EPDS, PHQ-9, GAD-7, CORE-10): at caseness on any
at baseline, at caseness on none at endpoint, and -- with
``rules.recovery_from == "reliable"`` (default) -- a reliable improvement on
at least one and a reliable deterioration on none (reliable recovery). With
``"any"`` crossing below the cut-off is enough. 'Reliably better' on
wellbeing (WEMWBS, SWEMWBS) or recovery (QPR) uses the episode's headline
reliable-change criterion (published threshold where there is one,
otherwise the Jacobson-Truax RCI; for QPR the RCI from its reliability 0.89
and the sample SD).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pac

from evalkit.categorical_text import categories_as_text
from evalkit.disclosure import Across, apply_disclosure, with_published_totals, without_published_total_rows
from evalkit.rules import PairingRules

__all__ = ["RECOVERY_CATEGORIES", "RECOVERY_LABELS", "RECOVERY_TERMS", "recovery_classification",
           "recovery_from_within"]

RECOVERY_CATEGORIES: tuple[str, ...] = ("both", "recovered_from", "recovery_within", "neither", "reliably_worse")
"""The categories, in reporting order."""

RECOVERY_LABELS: dict[str, str] = {
    "both": "Recovered from symptoms and better within",
    "recovered_from": "Recovered from symptoms only",
    "recovery_within": "Recovery within (symptoms still above cut-off)",
    "neither": "Neither",
    "reliably_worse": "Reliably worse",
}
"""What each category is called wherever it is shown (report, dashboard); ``recovered_from`` is recovered from
symptoms *without* being reliably better within, so its label says 'only'."""

RECOVERY_TERMS: dict[str, str] = {
    "both": "recovery_both",
    "recovered_from": "recovery_from_only",
    "recovery_within": "recovery_within",
    "neither": "recovery_neither",
    "reliably_worse": "reliably_worse",
}
"""The :data:`evalkit.glossary.TERMS` entry that explains each category."""

_SYMPTOM_ROLES = ("symptom",)
_WITHIN_ROLES = ("wellbeing", "recovery")


def _role_in(role: pd.Series, roles: Sequence[str]) -> np.ndarray:
    """Whether each episode's instrument role (as text) is one of ``roles``; a missing role is none. A
    categorical column is compared by its categories, once each, not as text once per row."""
    if isinstance(role.dtype, pd.CategoricalDtype):
        # one flag per category, and a last one (False) that a missing value's code -1 reads
        wanted = np.append(np.asarray(role.cat.categories.astype("string").isin(roles), dtype=bool), False)
        return wanted[role.cat.codes.to_numpy()]
    return role.astype("string").isin(roles).fillna(False).to_numpy(dtype=bool)


def _changes_of(outcomes: object) -> pd.DataFrame:
    ch = getattr(outcomes, "changes", outcomes)
    if not isinstance(ch, pd.DataFrame):
        raise ValueError(f"outcomes must be a DataFrame of episode changes or an OutcomeResult; got {type(outcomes).__name__}")
    need = {"participant_id", "programme_id", "role", "paired", "caseness_baseline", "caseness_endpoint",
            "reliable_improvement", "reliable_deterioration", "cutoff"}
    missing = need - set(ch.columns)
    if missing:
        raise ValueError(f"outcomes lacks column(s) {sorted(missing)}; pass the output of "
                         "evalkit.change.episode_change or evalkit.outcomes.evaluate_outcomes")
    return ch


def _joined_codes(gid: np.ndarray, n_groups: int, code: pd.api.extensions.ExtensionArray) -> np.ndarray:
    """Per group ``0..n_groups-1`` (``gid``: each row's, -1 for none), its rows' codes sorted and joined by '+'.

    The join is vectorised: rows are ordered by group and code, cut into one list per group and joined
    with :func:`pyarrow.compute.binary_join` -- the same text as ``"+".join(sorted(codes))`` per group
    (pyarrow compares UTF-8 bytes, which orders as Python orders code points).
    """
    rows = np.flatnonzero(gid >= 0)
    code = code[rows]
    order = np.lexsort((pd.factorize(code, sort=True)[0], gid[rows]))
    offsets = np.concatenate([[0], np.cumsum(np.bincount(gid[rows], minlength=n_groups))]).astype(np.int64)
    texts = pa.array(code)
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    texts = texts.cast(pa.large_string()).take(pa.array(order, type=pa.int64()))
    joined = pac.binary_join(pa.LargeListArray.from_arrays(pa.array(offsets), texts),
                             pa.scalar("+", pa.large_string()))
    return np.asarray(joined.to_numpy(zero_copy_only=False), dtype=object)


def _any_and_codes(frame: pd.DataFrame, keys: list[str], flags: list[str], name: str) -> pd.DataFrame:
    """Per group of ``keys`` (sorted): ``any`` of each flag, and the group's codes sorted and joined by '+'
    (:func:`_joined_codes`)."""
    g = frame.groupby(keys, sort=True)
    out = g[flags].any()
    gid_f = g.ngroup().to_numpy(dtype=float)  # NaN: a missing key, no group
    gid = np.where(np.isnan(gid_f), -1, gid_f).astype(np.int64)
    out[name] = _joined_codes(gid, len(out), frame["code"].astype("string").array)
    return out


def _people(programme: pd.Series, participant: pd.Series) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray,
                                                                    pd.api.extensions.ExtensionArray]:
    """Each row's mother as one integer, ordered as (programme, participant) sort (-1 where either is missing),
    and the sorted distinct programmes and participants it is made of (``person // len(participants)``,
    ``person % len(participants)``)."""
    # the Series, not its array: a plain numpy array (object or integer ids) cannot be factorised sorted
    prog, progs = pd.factorize(programme, sort=True)
    part, parts = pd.factorize(participant, sort=True)
    person = prog.astype(np.int64) * max(len(parts), 1) + part
    return np.where((prog >= 0) & (part >= 0), person, -1), progs, parts


def _per_person(person: np.ndarray, rows: np.ndarray, flags: dict[str, np.ndarray],
                code: pd.api.extensions.ExtensionArray) -> tuple[np.ndarray, dict[str, np.ndarray], np.ndarray]:
    """For the mothers of ``rows`` (those with a key), sorted: who they are, ``any`` of each flag, their codes
    joined (:func:`_joined_codes`)."""
    rows = rows[person[rows] >= 0]
    who, gid = np.unique(person[rows], return_inverse=True)
    anyof = {f: np.bincount(gid[v[rows]], minlength=len(who)) > 0 for f, v in flags.items()}
    return who, anyof, _joined_codes(gid, len(who), code[rows])


def recovery_classification(outcomes: object, *, rules: PairingRules | None = None,
                            context: Sequence[str] = ()) -> pd.DataFrame:
    """One recovery category per participant (see the module docstring).

    Parameters
    ----------
    outcomes
        Episode changes (:func:`evalkit.change.episode_change`) or an
        :class:`~evalkit.outcomes.OutcomeResult`.
    rules
        ``recovery_from`` ('reliable' or 'any').
    context
        Episode columns to carry along (first value per participant), for
        breakdowns.

    Returns
    -------
    pandas.DataFrame
        One row per participant with a paired symptom measure with a
        cut-off and a paired wellbeing or recovery measure:
        ``programme_id``, ``participant_id``, ``symptom_measures``,
        ``within_measures`` (codes joined by '+'), ``caseness_baseline``,
        ``caseness_endpoint``, ``recovered_from_symptoms``, ``within_better``,
        ``any_reliable_deterioration``, ``in_population`` (at caseness at
        baseline), ``category`` (missing outside the population), context
        columns and ``rules``. Individual level.
    """
    rules = PairingRules() if rules is None else rules
    ch = _changes_of(outcomes)
    # the mothers as integers (programme and participant sorted), the rows as positions: each mother's flags and
    # codes as counts by her number, the two sets of measures matched by number (no frames grouped or joined)
    paired = ch["paired"].astype(bool).to_numpy()
    sym = np.flatnonzero(paired & _role_in(ch["role"], _SYMPTOM_ROLES) & ch["cutoff"].notna().to_numpy())
    wit = np.flatnonzero(paired & _role_in(ch["role"], _WITHIN_ROLES))
    keys = ["programme_id", "participant_id"]
    person, progs, parts = _people(ch["programme_id"], ch["participant_id"])
    code = ch["instrument"].astype("string").array

    def _b(column: str) -> np.ndarray:  # missing is false
        if isinstance(ch[column].dtype, pd.BooleanDtype):
            return ch[column].array.to_numpy(dtype=bool, na_value=False)
        return ch[column].astype("boolean").fillna(False).astype(bool).to_numpy()

    ri, rd = _b("reliable_improvement"), _b("reliable_deterioration")
    s_who, s_any, s_codes = _per_person(person, sym, {"cb": _b("caseness_baseline"), "ce": _b("caseness_endpoint"),
                                                      "ri": ri, "rd": rd}, code)
    w_who, w_any, w_codes = _per_person(person, wit, {"wb": ri, "wd": rd}, code)
    who, s_at, w_at = np.intersect1d(s_who, w_who, assume_unique=True, return_indices=True)
    j = pd.DataFrame({**{f: v[s_at] for f, v in s_any.items()}, "symptom_measures": s_codes[s_at],
                      **{f: v[w_at] for f, v in w_any.items()}, "within_measures": w_codes[w_at]})
    crossed = j["cb"] & ~j["ce"]
    reliable = j["ri"] & ~j["rd"]
    rec_from = crossed & reliable if rules.recovery_from == "reliable" else crossed
    worse = j["rd"] | j["wd"]
    cat = np.select([worse, rec_from & j["wb"], rec_from, j["wb"] & j["ce"]],
                    ["reliably_worse", "both", "recovered_from", "recovery_within"], default="neither").astype(object)
    in_pop = j["cb"].to_numpy(dtype=bool)
    cat[~in_pop] = None
    out = pd.DataFrame({
        "programme_id": pd.Index(progs.take(who // max(len(parts), 1))).astype("string"),
        "participant_id": pd.Index(parts.take(who % max(len(parts), 1))).astype("string"),
        "symptom_measures": j["symptom_measures"].astype("string").to_numpy(),
        "within_measures": j["within_measures"].astype("string").to_numpy(),
        "caseness_baseline": j["cb"].to_numpy(), "caseness_endpoint": j["ce"].to_numpy(),
        "recovered_from_symptoms": rec_from.to_numpy(), "within_better": j["wb"].to_numpy(),
        "any_reliable_deterioration": worse.to_numpy(), "in_population": in_pop,
        "category": pd.Categorical(cat, categories=list(RECOVERY_CATEGORIES)),
    })
    if context:
        ctx = ch[list(dict.fromkeys([*keys, *context]))].drop_duplicates(keys)[[*keys, *context]]
        out = out.merge(ctx, on=keys, how="left")
    rules.stamp(out)
    out.attrs["individual_level"] = True
    return out


def recovery_from_within(
    outcomes: object,
    *,
    by: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    disclose: bool = True,
    across_keys: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Counts and percentages of the recovery categories, with Wilson intervals.

    Parameters
    ----------
    outcomes
        Episode changes or an :class:`~evalkit.outcomes.OutcomeResult`.
    by
        Grouping columns (episode columns, e.g. ``("programme_id",
        "perinatal_stage")``); ``()`` pools everyone.
    rules
        ``recovery_from``, ``level`` and disclosure settings.
    disclose
        Apply disclosure control (default True).
    across_keys
        For breakdowns: columns of ``by`` whose groups' rows add up to a
        published total (each category's count across the levels adds up to
        the programme's count), protected too, against the table by
        ``across_keys`` as this function publishes it: where that hides a
        count, the levels' counts never all show (they would add up to it).

    Returns
    -------
    pandas.DataFrame
        Per group, one row per category of :data:`RECOVERY_CATEGORIES` plus a
        ``total`` row (``is_total``): ``category``, ``n``, ``pct`` (of the
        total, percent), ``pct_ci_low``, ``pct_ci_high`` (Wilson),
        ``recovery_from_rule`` ('reliable' or 'any'), ``rules`` and
        ``suppressed``. Category counts are protected against recovery from
        the total by secondary suppression.

    Examples
    --------
    >>> import pandas as pd
    >>> from evalkit.change import episode_change
    >>> ep = pd.DataFrame({"programme_id": "P", "participant_id": ["a", "a"], "instrument": ["epds", "wemwbs"],
    ...     "role": ["symptom", "wellbeing"], "higher_is_better": [False, True], "paired": True,
    ...     "unpaired_reason": pd.NA, "baseline_score": [18.0, 35.0], "endpoint_score": [16.0, 45.0],
    ...     "baseline_date": pd.Timestamp("2025-01-01")})
    >>> rc = recovery_from_within(episode_change(ep), disclose=False)
    >>> rc.loc[rc["n"] > 0, ["category", "n"]]
              category  n
    2  recovery_within  1
    5            total  1
    """
    from evalkit.stats import wilson_ci

    rules = PairingRules() if rules is None else rules
    by = list(by)
    cls = recovery_classification(outcomes, rules=rules, context=[c for c in by if c not in
                                                                   ("programme_id", "participant_id")])
    pop = cls[cls["in_population"]]
    if by:
        # every recovery category for each group of values that occur (not for unused context categories)
        pop = categories_as_text(pop, by)
        counts = pop.groupby([*by, "category"], sort=True, observed=False, dropna=False).size()
        counts = counts.rename("n").reset_index()
        if not len(pop):
            counts = counts.iloc[0:0]
    else:
        counts = pop["category"].value_counts().reindex(list(RECOVERY_CATEGORIES), fill_value=0)
        counts = counts.rename("n").rename_axis("category").reset_index()
    counts["category"] = counts["category"].astype("string")
    totals = counts.groupby(by, sort=True, dropna=False)["n"].sum().reset_index() if by else \
        pd.DataFrame({"n": [int(counts["n"].sum())]})
    totals["category"] = "total"
    totals["is_total"] = True
    counts["is_total"] = False
    out = pd.concat([counts, totals], ignore_index=True)
    order = {c: i for i, c in enumerate([*RECOVERY_CATEGORIES, "total"])}
    out = out.assign(_o=out["category"].map(order)).sort_values([*by, "_o"]).drop(columns="_o").reset_index(drop=True)
    tot = out.groupby(by, sort=False, dropna=False)["n"].transform("max") if by else \
        pd.Series(out["n"].max(), index=out.index)
    x = out["n"].to_numpy(dtype=float)
    n = tot.to_numpy(dtype=float)
    ok = n > 0
    pct = np.full(len(x), np.nan)
    lo = np.full(len(x), np.nan)
    hi = np.full(len(x), np.nan)
    if ok.any():
        pct[ok] = 100 * x[ok] / n[ok]
        a, b = wilson_ci(x[ok], n[ok], rules.level)
        lo[ok], hi[ok] = 100 * a, 100 * b
    out["pct"], out["pct_ci_low"], out["pct_ci_high"] = pct, lo, hi
    out["n_total"] = n
    out["recovery_from_rule"] = rules.recovery_from
    if disclose:
        across = [Across("n", tuple(by), total_rows="is_total")]
        hidden = None
        levels = out
        if across_keys is not None:
            # the levels add up to the table by ``across_keys`` as this function publishes it: its rows join
            # the problem as the totals (their breakdown columns a value no level has), hidden where it hides
            # them, so that the levels never add up to a count it hides
            out, hidden, totals = with_published_totals(
                out, recovery_from_within(outcomes, by=list(across_keys), rules=rules), keys=list(across_keys),
                category="category", count="n", group_total="n_total",
                breakdown=[c for c in by if c not in across_keys])
            across.append(totals)
        out = apply_disclosure(out, counts=["n", "n_total"], across=across,
                               derived={"pct": ["n", "n_total"], "pct_ci_low": ["n", "n_total"],
                                        "pct_ci_high": ["n", "n_total"]}, rules=rules, hidden_elsewhere=hidden)
        if across_keys is not None:
            out = without_published_total_rows(out, levels, columns=by)
        # the total column mirrors the total row; keep the row, drop the helper
    out = out.drop(columns=["n_total"])
    if "suppressed" in out.columns:
        out["suppressed"] = out["suppressed"].str.replace(r"(^|; )n_total(?=;|$)", "", regex=True) \
            .str.strip("; ").astype("string")
    rules.stamp(out)
    return out
