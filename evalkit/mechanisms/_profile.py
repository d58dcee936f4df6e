"""Mechanism profiles, quality signals, ending distress and the provider's conversation list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from evalkit.access import Scope
from evalkit.disclosure import Partition, apply_disclosure
from evalkit.errors import AccessDenied
from evalkit.instruments import Instrument
from evalkit.mechanisms._data import (
    CONCERN_VALENCES,
    VALENCE_ORDER,
    check_by,
    endorse_value,
    experience_instruments,
    experience_responses,
    item_catalogue,
    normalise_by,
)
from evalkit.stats import wilson_ci

UNVALIDATED_NOTE = ("The peer-support experience measure is new and unvalidated (no reliability or validity "
                    "study yet): read shares as a conversation starter, not as a score.")
ANY_NEGATIVE = "any_negative"
"""The ``measure`` code, in quality signals, for 'at least one negative-mechanism item endorsed'."""


def _settings(rules: Any, level: float | None, threshold: int | None) -> tuple[float, int]:
    conf = level if level is not None else float(getattr(rules, "level", 0.95))
    sup = threshold if threshold is not None else int(getattr(rules, "suppression_threshold", 5))
    if not 0 < conf < 1:
        raise ValueError(f"level must be between 0 and 1; got {conf!r}")
    return conf, sup


def _share_columns(frame: pd.DataFrame, endorsed: str, total: str, conf: float) -> pd.DataFrame:
    e = frame[endorsed].to_numpy(dtype=float)
    t = frame[total].to_numpy(dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["share"] = np.where(t > 0, e / np.where(t > 0, t, 1), np.nan)
    lo, hi = wilson_ci(e, t, level=conf) if len(frame) else (np.zeros(0), np.zeros(0))
    frame["ci_low"], frame["ci_high"] = lo, hi
    return frame


def _disclose(frame: pd.DataFrame, endorsed: str, others: str, total: str, rules: Any, threshold: int | None,
              extra_derived: Sequence[str] = ()) -> pd.DataFrame:
    derived = {c: [endorsed, others] for c in ("share", "ci_low", "ci_high", *extra_derived) if c in frame.columns}
    return apply_disclosure(frame, counts=[endorsed, others, total], partitions=[Partition((endorsed, others), total)],
                            derived=derived, rules=rules, threshold=threshold)


def _item_counts(grp: pd.DataFrame, keys: tuple[str, ...], numbers: np.ndarray, answered: np.ndarray,
                 endorsed: np.ndarray) -> pd.DataFrame:
    """Answered and endorsed counts per group of ``keys`` (missing as ``(not recorded)``) and item, sorted by both.

    The frame a group-by of one row per questionnaire and item gives (``keys``, ``item``, ``n_answered``,
    ``n_endorsed``), counted a questionnaire at a time: at a million participants the long frame held 5.5 million
    rows of text.
    """
    labels = {k: grp[k].astype("string").fillna("(not recorded)").to_numpy() for k in keys}
    if not keys:
        long = pd.DataFrame({"item": np.tile(numbers, len(grp)), "answered": answered.ravel(),
                             "endorsed": endorsed.ravel()})
        return long.groupby(["item"], sort=True).agg(n_answered=("answered", "sum"),
                                                      n_endorsed=("endorsed", "sum")).reset_index()
    by_item = np.argsort(numbers, kind="stable")
    per = pd.DataFrame(labels)
    width = numbers.size
    flags = pd.DataFrame(np.concatenate([answered[:, by_item], endorsed[:, by_item]], axis=1),
                         columns=range(2 * width))
    sums = pd.concat([per, flags], axis=1).groupby(list(keys), sort=True).sum()
    counts = sums.to_numpy(dtype=np.int64)
    out = pd.DataFrame({k: np.repeat(sums.index.get_level_values(k).to_numpy(), width) for k in keys})
    out["item"] = np.tile(numbers[by_item], len(sums))
    out["n_answered"] = counts[:, :width].ravel()
    out["n_endorsed"] = counts[:, width:].ravel()
    return out


def mechanism_profile(
    tables: Mapping[str, pd.DataFrame],
    *,
    by: str | Sequence[str] = ("programme_id",),
    threshold: float | None = None,
    rules: Any = None,
    level: float | None = None,
    suppression_threshold: int | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    responses: str = "latest",
) -> pd.DataFrame:
    """The share of mothers endorsing each mechanism, per programme (or format, or any context), concerns first.

    Parameters
    ----------
    tables
        Canonical tables (``measures``, ``participants``; ``programmes`` and ``contacts`` when present).
    by
        Grouping columns of :func:`~evalkit.mechanisms.experience_responses`,
        e.g. ``("programme_id",)`` or ``("format",)`` (the format offered to
        her: group, one-to-one in person, telephone ...); ``"programme"`` is
        an alias. The instrument is always part of the grouping (the group
        and one-to-one questionnaires ask different things).
    threshold
        Answer at or above which an item counts as endorsed (default: the
        instrument file's ``endorsement``, 3 = agree or strongly agree).
    rules
        :class:`~evalkit.rules.PairingRules` supplying ``level`` and the
        disclosure settings; ``level`` and ``suppression_threshold`` override them.
    responses
        ``"latest"`` (default): each mother's latest questionnaire (shares of
        mothers); ``"all"``: every questionnaire (shares of questionnaires).

    Returns
    -------
    pandas.DataFrame
        One row per group x instrument x item, **negative-mechanism and
        ending items first** (``concern`` true), then positive ones:
        the grouping columns, ``instrument``, ``item``, ``mechanism``,
        ``valence``, ``concern``, ``theme``, ``statement``, ``n_answered``,
        ``n_endorsed``, ``n_not_endorsed``, ``share`` (endorsed / answered),
        ``ci_low``, ``ci_high`` (Wilson), ``suppressed``. Counts below the
        suppression threshold, the other count of the same item (so it
        cannot be worked out from ``n_answered``), and the share and interval
        computed from them are hidden. ``attrs``: ``disclosure``,
        ``measure_note`` (unvalidated), ``threshold``, ``unit``.

    Examples
    --------
    >>> from evalkit.generator import generate_programmes
    >>> data = generate_programmes(1500, seed=3, experience=True)
    >>> prof = mechanism_profile(data.tables, by="format")
    >>> bool(prof["concern"].iloc[0]), list(prof.columns[:3])
    (True, ['format', 'instrument', 'item'])
    """
    if responses not in ("latest", "all"):
        raise ValueError(f"responses must be 'latest' or 'all'; got {responses!r}")
    conf, _ = _settings(rules, level, suppression_threshold)
    keys = normalise_by(by)
    resp = experience_responses(tables, instruments=instruments, latest=responses == "latest")
    catalogue = item_catalogue(instruments)
    out_cols = [*keys, "instrument", "item", "mechanism", "valence", "concern", "theme", "statement",
                "n_answered", "n_endorsed", "n_not_endorsed", "share", "ci_low", "ci_high"]
    if resp.empty:
        frame = pd.DataFrame(columns=out_cols)
        frame["suppressed"] = pd.Series(dtype="string")
    else:
        check_by(resp, keys)
        parts = []
        registry = experience_instruments(instruments)
        for code, grp in resp.groupby("instrument", sort=True):
            inst = registry[str(code)]
            cut = endorse_value(inst) if threshold is None else float(threshold)
            cat = catalogue[catalogue["instrument"] == code]
            numbers = cat["item"].to_numpy(dtype=np.int64)
            x = grp[[f"item_{i}" for i in numbers]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
            answered = ~np.isnan(x)
            endorsed = answered & (np.nan_to_num(x, nan=-np.inf) >= cut)
            agg = _item_counts(grp, keys, numbers, answered, endorsed)
            agg["instrument"] = str(code)
            parts.append(agg.merge(cat, on=["instrument", "item"], how="left"))
        frame = pd.concat(parts, ignore_index=True)
        frame["n_not_endorsed"] = frame["n_answered"] - frame["n_endorsed"]
        frame = _share_columns(frame, "n_endorsed", "n_answered", conf)
        frame["_rank"] = frame["valence"].map(VALENCE_ORDER).fillna(9)
        frame = frame.sort_values([*keys, "instrument", "_rank", "item"], kind="stable").drop(columns="_rank")
        frame = frame[out_cols].reset_index(drop=True)
        frame = _disclose(frame, "n_endorsed", "n_not_endorsed", "n_answered", rules, suppression_threshold)
    frame.attrs.update(
        threshold="instrument default (3 = agree)" if threshold is None else threshold,
        unit="mothers (latest questionnaire each)" if responses == "latest" else "questionnaires",
        measure_note=UNVALIDATED_NOTE,
        level=conf,
    )
    frame.attrs.setdefault("disclosure", "")
    return frame


def quality_signals(
    tables: Mapping[str, pd.DataFrame],
    *,
    level: float = 0.25,
    by: str | Sequence[str] = ("programme_id", "period"),
    threshold: float | None = None,
    rules: Any = None,
    confidence: float | None = None,
    suppression_threshold: int | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Where negative-mechanism endorsement rises above a chosen level: per group session or month (aggregate).

    Parameters
    ----------
    level
        The share of questionnaires endorsing a negative mechanism above which
        a programme lead wants to know (default 0.25).
    by
        ``("programme_id", "period")`` (calendar month of completion,
        default) or ``("programme_id", "group_session_id")`` (the group
        session she attended that day, or her last within 14 days before it;
        of two that day, the one whose id sorts last);
        any columns of :func:`~evalkit.mechanisms.experience_responses`.
    threshold
        Endorsement value (default: the instrument's, 3).
    confidence
        Level of the Wilson intervals (default ``rules.level`` or 0.95).

    Returns
    -------
    pandas.DataFrame
        One row per group x ``measure``: ``any_negative`` (at least one
        negative-mechanism item endorsed) and each negative mechanism
        (``compared_worse``, ``judged`` ...), with ``n_responses`` (answered),
        ``n_endorsed``, ``n_not_endorsed``, ``share``, ``ci_low``,
        ``ci_high``, ``level`` and ``signal``: ``above level`` when the whole
        interval is above the level, ``may be above level`` when the share is
        above it but the interval reaches below, empty otherwise. Signals
        come first. Each mother counts once per group (her latest
        questionnaire in it). Suppressed as :func:`mechanism_profile`; a
        hidden share has no signal.
    """
    if not 0 < level < 1:
        raise ValueError(f"level must be between 0 and 1; got {level!r}")
    conf, _ = _settings(rules, confidence, suppression_threshold)
    keys = normalise_by(by)
    resp = experience_responses(tables, instruments=instruments)
    cols = [*keys, "measure", "mechanism_theme", "n_responses", "n_endorsed", "n_not_endorsed", "share", "ci_low",
            "ci_high", "level", "signal"]
    if resp.empty:
        out = pd.DataFrame(columns=cols)
        out["suppressed"] = pd.Series(dtype="string")
        out.attrs.update(level=level, measure_note=UNVALIDATED_NOTE)
        return out
    check_by(resp, keys)
    resp = resp.dropna(subset=list(keys)) if keys else resp
    resp = resp.sort_values("completed_on").drop_duplicates([*keys, "participant_id"], keep="last")
    catalogue = item_catalogue(instruments)
    registry = experience_instruments(instruments)
    records = []
    for code, grp in resp.groupby("instrument", sort=True):
        cut = endorse_value(registry[str(code)]) if threshold is None else float(threshold)
        neg = catalogue[(catalogue["instrument"] == code) & (catalogue["valence"] == "negative")]
        x = grp[[f"item_{i}" for i in neg["item"]]].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
        ans = ~np.isnan(x)
        endorsed = ans & (np.nan_to_num(x, nan=-1) >= cut)
        base = grp[list(keys)].reset_index(drop=True) if keys else pd.DataFrame(index=range(len(grp)))
        block = base.copy()
        block["measure"] = ANY_NEGATIVE
        block["mechanism_theme"] = "At least one negative-mechanism item"
        block["answered"] = ans.any(axis=1)
        block["endorsed"] = endorsed.any(axis=1)
        records.append(block)
        for j, (mech, theme) in enumerate(zip(neg["mechanism"], neg["theme"], strict=True)):
            b = base.copy()
            b["measure"], b["mechanism_theme"] = str(mech), str(theme)
            b["answered"], b["endorsed"] = ans[:, j], endorsed[:, j]
            records.append(b)
    long = pd.concat(records, ignore_index=True)
    long = long[long["answered"]]
    grouped = long.groupby([*keys, "measure", "mechanism_theme"], sort=True, dropna=False)
    out = grouped.agg(n_responses=("answered", "sum"), n_endorsed=("endorsed", "sum")).reset_index()
    out["n_not_endorsed"] = out["n_responses"] - out["n_endorsed"]
    out = _share_columns(out, "n_endorsed", "n_responses", conf)
    out["level"] = level
    out["signal"] = np.where(out["ci_low"] > level, "above level", np.where(out["share"] > level, "may be above level", ""))
    out["_any"] = (out["measure"] != ANY_NEGATIVE).astype(int)
    out = out.sort_values([*keys, "_any", "measure"], kind="stable").drop(columns=["_any"])
    out = out[cols].reset_index(drop=True)
    out = _disclose(out, "n_endorsed", "n_not_endorsed", "n_responses", rules, suppression_threshold,
                    extra_derived=("signal",))
    hidden = out["suppressed"].astype("string").str.contains("signal").fillna(False).to_numpy(dtype=bool)
    signal = out["signal"].astype("string").fillna("")
    signal[hidden] = pd.NA
    out["signal"] = signal
    # Signals first -- ordered only after suppression, so a hidden cell's place says nothing about it.
    rank = signal.map({"above level": 0, "may be above level": 1}).astype("Float64").fillna(2).to_numpy()
    out = out.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)
    out.attrs.update(level=level, measure_note=UNVALIDATED_NOTE, confidence=conf,
                     rule=("above level: the whole confidence interval is above the level; may be above level: the "
                           "share is above it but the interval reaches below it"))
    return out


def ending_distress(
    tables: Mapping[str, pd.DataFrame],
    *,
    by: str | Sequence[str] = ("programme_id",),
    rules: Any = None,
    level: float | None = None,
    suppression_threshold: int | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Worry or upset about support ending, after planned against unplanned endings, with Wilson intervals.

    Uses each mother's latest experience questionnaire completed at ending
    (on or after her last attended contact, once her support has ended; see
    :func:`~evalkit.mechanisms.experience_responses`). Planned endings are
    ``planned_ending`` and ``moved_on_coping``; ``unknown`` is left out; every
    other ending is unplanned.

    Returns
    -------
    pandas.DataFrame
        The grouping columns, ``ending_class`` (planned / unplanned),
        ``n_responses``, ``n_distressed`` (ending item agree or strongly
        agree), ``n_not_distressed``, ``share``, ``ci_low``, ``ci_high``,
        ``suppressed``.
    """
    conf, _ = _settings(rules, level, suppression_threshold)
    keys = normalise_by(by)
    resp = experience_responses(tables, instruments=instruments)
    cols = [*keys, "ending_class", "n_responses", "n_distressed", "n_not_distressed", "share", "ci_low", "ci_high"]
    if resp.empty:
        out = pd.DataFrame(columns=cols)
        out["suppressed"] = pd.Series(dtype="string")
        return out
    check_by(resp, keys)
    at_end = resp[resp["at_ending"] & resp["ending_class"].notna() & resp["ending_distress"].notna()]
    at_end = at_end.sort_values("completed_on").drop_duplicates("participant_id", keep="last")
    grouped = at_end.assign(d=at_end["ending_distress"].astype(bool)).groupby([*keys, "ending_class"], sort=True)
    out = grouped.agg(n_responses=("d", "size"), n_distressed=("d", "sum")).reset_index()
    out["n_not_distressed"] = out["n_responses"] - out["n_distressed"]
    out = _share_columns(out, "n_distressed", "n_responses", conf)[cols]
    out = _disclose(out, "n_distressed", "n_not_distressed", "n_responses", rules, suppression_threshold)
    out.attrs.update(measure_note=UNVALIDATED_NOTE, level=conf,
                     rule="planned = planned_ending or moved_on_coping; unknown endings left out; others unplanned")
    return out


CONVERSATION_ROLES: tuple[str, ...] = ("provider", "admin")
"""Roles that may see the individual conversation list: the provider's own staff (and a deployment's admin)."""


def responses_needing_conversation(
    tables: Mapping[str, pd.DataFrame],
    scope: Scope,
    *,
    threshold: float | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """The individual questionnaires a provider should follow up with a conversation (provider role only).

    A questionnaire needs a conversation when any negative-mechanism item or
    the ending item is answered at or above ``threshold`` (default 3: agree
    or strongly agree).

    Parameters
    ----------
    scope
        The user's :class:`~evalkit.access.Scope`. Only a provider (rows of its
        own programmes) or an admin may see this list; an evaluator or a
        researcher gets :class:`~evalkit.errors.AccessDenied`.

    Returns
    -------
    pandas.DataFrame
        One row per questionnaire, latest first: ``programme_id``,
        ``participant_id`` (a pseudonym), ``instrument``, ``completed_on``,
        ``timepoint``, ``reasons`` (the endorsed statements' mechanisms and
        answers, e.g. ``compared_worse (4); ending_worry (3)``),
        ``n_negative_endorsed``, ``ending_distress``, ``at_ending``, ``ending``.
    """
    if not isinstance(scope, Scope):
        raise TypeError("scope must be an evalkit.access.Scope")
    if scope.role not in CONVERSATION_ROLES:
        raise AccessDenied(f"the list of individual answers that need a conversation is for the provider's own staff "
                           f"(roles: {', '.join(CONVERSATION_ROLES)}); the {scope.role} role sees the aggregate "
                           "quality signals instead")
    scope.require_individual_rows()
    tables = dict(tables)
    if scope.role == "provider":
        progs = tables.get("programmes")
        if progs is None or "provider" not in progs.columns:
            raise AccessDenied("cannot check which programmes belong to this provider: the programmes table is missing")
        mine = list(scope.own_programmes(progs))
        tables = {k: (v[v["programme_id"].astype("string").isin(mine).fillna(False).to_numpy(dtype=bool)]
                      if isinstance(v, pd.DataFrame) and "programme_id" in v.columns else v)
                  for k, v in tables.items()}
    resp = experience_responses(tables, instruments=instruments)
    cols = ["programme_id", "participant_id", "instrument", "completed_on", "timepoint", "reasons",
            "n_negative_endorsed", "ending_distress", "at_ending", "ending"]
    if resp.empty:
        return pd.DataFrame(columns=cols)
    catalogue = item_catalogue(instruments)
    registry = experience_instruments(instruments)
    reasons = pd.Series("", index=resp.index, dtype=object)
    needs = pd.Series(False, index=resp.index)
    for code, grp in resp.groupby("instrument"):
        cut = endorse_value(registry[str(code)]) if threshold is None else float(threshold)
        concern = catalogue[(catalogue["instrument"] == code) & catalogue["valence"].isin(CONCERN_VALENCES)]
        for item, mech in zip(concern["item"], concern["mechanism"], strict=True):
            x = pd.to_numeric(grp[f"item_{item}"], errors="coerce")
            hit = (x >= cut).fillna(False)
            idx = hit[hit].index
            text = mech + " (" + x[idx].astype(int).astype(str) + ")"
            reasons[idx] = np.where(reasons[idx] == "", text, reasons[idx] + "; " + text)
            needs[idx] = True
    out = resp[needs.to_numpy()].copy()
    out["reasons"] = reasons[needs].astype("string")
    if "timepoint" not in out.columns:
        out["timepoint"] = pd.array([pd.NA] * len(out), dtype="string")
    out = out.sort_values(["completed_on", "participant_id"], ascending=[False, True])[cols].reset_index(drop=True)
    out.attrs.update(level="individual", note=("Individual answers for the provider's own follow-up: pseudonymous ids, "
                                              "look them up in your own records. " + UNVALIDATED_NOTE))
    return out
