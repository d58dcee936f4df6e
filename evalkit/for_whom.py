"""For whom: every outcome and funnel metric broken down by a context field, with CIs and disclosure control.

Breakdown fields are the context carried on episodes and participants
(:data:`evalkit.episodes.CONTEXT_FIELDS`): perinatal stage, first-time
mother, referral source, ethnicity (detailed ONS 2021 codes, and
``ethnicity_group``: the five ONS high-level groups plus not stated),
deprivation decile and ``deprivation_quintile``, main language and
``english_main_language``, programme format and mode, and so on.

Each breakdown is computed *within* programmes by default (``within=
("programme_id",)``); pass ``within=()`` to pool programmes. Disclosure
control protects every count within its row *and* across the levels of the
field (the levels add up to the programme's published total), so a small
group cannot be recovered by subtracting the other levels from the total.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import pandas as pd

from evalkit.categorical_text import categories_as_text
from evalkit.change import episode_change
from evalkit.disclosure import TOTAL_ROW, with_published_total_rows, without_published_total_rows
from evalkit.episodes import CONTEXT_FIELDS, EpisodeData, prepare_episodes
from evalkit.instruments import Instrument, builtin_instruments
from evalkit.outcomes import (
    OutcomeResult,
    change_statistics,
    disclose_statistics,
    outcome_talking_therapies,
    published_talking_therapies_rates,
    summary_disclosure_spec,
)
from evalkit.rules import PairingRules

__all__ = ["BREAKDOWN_FIELDS", "for_whom", "funnel_by", "outcomes_by", "recovery_by", "take_up_by",
           "talking_therapies_by", "endings_by"]

BREAKDOWN_FIELDS: tuple[str, ...] = CONTEXT_FIELDS
"""Fields available for breakdowns."""

What = Literal["outcomes", "funnel", "take_up", "recovery", "talking_therapies", "endings"]


def _fields(by: str | Sequence[str]) -> list[str]:
    fields = [by] if isinstance(by, str) else list(by)
    unknown = [f for f in fields if f not in BREAKDOWN_FIELDS]
    if unknown:
        raise ValueError(f"unknown breakdown field(s) {unknown}; choose from: {', '.join(BREAKDOWN_FIELDS)}")
    if not fields:
        raise ValueError("by must name at least one field")
    return fields


def _prepared(data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult, rules: PairingRules,
              instruments: Mapping[str, Instrument] | None) -> tuple[EpisodeData, pd.DataFrame]:
    registry = builtin_instruments() if instruments is None else instruments
    if isinstance(data, OutcomeResult):
        return data.data, data.changes
    ed = data if isinstance(data, EpisodeData) \
        else prepare_episodes(data, rules=rules, instruments=registry, keep_attended=False)
    changes = episode_change(ed.episodes, rules=rules, instruments=registry, scored_measures=ed.scored_measures)
    return ed, changes


def _finish(out: pd.DataFrame, fields: list[str], rules: PairingRules) -> pd.DataFrame:
    out = out.copy()
    out.insert(0, "breakdown", "+".join(fields))
    out.attrs["rules"] = rules.describe()
    out.attrs["breakdown"] = fields
    return out


def outcomes_by(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Outcome statistics per programme x instrument x level of a context field.

    Parameters
    ----------
    data
        Canonical tables, an :class:`~evalkit.episodes.EpisodeData` or an
        :class:`~evalkit.outcomes.OutcomeResult`.
    by
        A field (or fields) of :data:`BREAKDOWN_FIELDS`.
    within
        Grouping kept above the breakdown (default per programme; ``()``
        pools programmes).
    rules, instruments
        As everywhere.

    Returns
    -------
    pandas.DataFrame
        ``breakdown``, the ``within`` columns, ``instrument``, the field
        column(s) and the statistics of :func:`evalkit.outcomes.change_statistics`
        (completeness, mean change with CI, effect sizes, reliable
        improvement / deterioration / recovery with Wilson CIs, ...;
        no mixed-model or imputation estimates), disclosure-controlled
        (``suppressed``, ``rules``). Missing field values form their own
        level (``<NA>``). Every level with engaged mothers has its row, even
        when none of them has an episode on the instrument (nothing paired),
        so the levels' ``n_engaged`` add up to the programme's.
    """
    rules = PairingRules() if rules is None else rules
    fields = _fields(by)
    ed, changes = _prepared(data, rules, instruments)
    group = [*within, "instrument", *fields]
    st = change_statistics(changes, by=group, rules=rules, participants=ed.participants)
    # the levels add up to the statistics by ``within`` x instrument as published (by programme: the outcome
    # summary): those rows join the problem as the totals, hidden where it hides them
    keys = [*within, "instrument"]
    if tuple(within) == ("programme_id",) and isinstance(data, OutcomeResult) and data.statistics is not None:
        top_raw, top = data.statistics, data.summary
    else:
        top_raw = change_statistics(changes, by=keys, rules=rules, participants=ed.participants)
        top = disclose_statistics(top_raw, rules=rules)
    counts = [c for c in summary_disclosure_spec()["counts"] if c in st.columns]
    frame, hidden, _ = with_published_total_rows(st, top, keys=keys, counts=counts, breakdown=fields, totals=top_raw)
    out = disclose_statistics(frame, rules=rules, across_keys=keys, total_rows=TOTAL_ROW, hidden_elsewhere=hidden)
    out = without_published_total_rows(out, st, columns=[*keys, *fields])
    return _finish(out, fields, rules)


def _path_breakdown(
    metric: Callable[..., pd.DataFrame],
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    within: Sequence[str],
    rules: PairingRules | None,
    instruments: Mapping[str, Instrument] | None,
    path: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Run an engagement metric over participants' paths, grouped by ``within`` and the field(s).

    ``path``, when given, is :func:`evalkit.engagement.participant_path` of ``data`` with ``rules``, used as it is
    (not computed again).
    """
    from evalkit.engagement import participant_path

    rules = PairingRules() if rules is None else rules
    fields = _fields(by)
    if path is None:
        ed, _ = _prepared(data, rules, instruments)
        path = participant_path(ed, rules=rules)
    out = metric(path, by=[*within, *fields], rules=rules, across_keys=list(within))
    return _finish(out, fields, rules)


def funnel_by(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    path: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The take-up funnel (:func:`evalkit.engagement.take_up_funnel`) per level of a field.

    Parameters
    ----------
    data, by, within, rules, instruments
        As :func:`outcomes_by`.
    path
        :func:`evalkit.engagement.participant_path` of ``data`` with these ``rules``, when the caller has it:
        used as it is instead of being computed again (the same table; saves time and, at a million
        participants, several hundred MB).
    """
    from evalkit.engagement import take_up_funnel

    return _path_breakdown(take_up_funnel, data, by, within, rules, instruments, path)


def take_up_by(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    path: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Take-up rate (:func:`evalkit.engagement.take_up_rate`) per level of a field.

    Parameters
    ----------
    data, by, within, rules, instruments, path
        As :func:`funnel_by`.
    """
    from evalkit.engagement import take_up_rate

    return _path_breakdown(take_up_rate, data, by, within, rules, instruments, path)


def endings_by(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    path: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """How support ended (:func:`evalkit.engagement.endings_summary`) per level of a field.

    Parameters
    ----------
    data, by, within, rules, instruments, path
        As :func:`funnel_by`.
    """
    from evalkit.engagement import endings_summary

    return _path_breakdown(endings_summary, data, by, within, rules, instruments, path)


def recovery_by(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """Recovery from / within (:func:`evalkit.recovery.recovery_from_within`) per level of a field."""
    from evalkit.recovery import recovery_from_within

    rules = PairingRules() if rules is None else rules
    fields = _fields(by)
    _, changes = _prepared(data, rules, instruments)
    out = recovery_from_within(changes, by=[*within, *fields], rules=rules, across_keys=list(within))
    return _finish(out, fields, rules)


def talking_therapies_by(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
) -> pd.DataFrame:
    """NHS Talking Therapies / IAPT-style rates per level of a field."""
    from evalkit.talking_therapies import (
        RATE_COUNTS,
        disclose_rates,
        talking_therapies_outcomes,
        talking_therapies_rates,
    )

    rules = PairingRules() if rules is None else rules
    fields = _fields(by)
    ed, changes = _prepared(data, rules, instruments)
    tt = talking_therapies_outcomes(changes, rules=rules)
    ctx = changes.drop_duplicates(["programme_id", "participant_id"])[["programme_id", "participant_id", *fields]]
    ctx = categories_as_text(ctx, fields)  # the rates' columns stay text (the episodes hold categoricals)
    tt = tt.merge(ctx, on=["programme_id", "participant_id"], how="left")
    raw = talking_therapies_rates(tt, by=[*within, "measure_set", *fields], rules=rules, disclose=False)
    # the levels add up to the rates by ``within`` x measure set as they are published (by programme: as
    # evaluate_outcomes publishes them, protected against the outcome summary): those rows join the problem
    # as the totals, hidden where that table hides them, so that the levels never add up to a count it hides
    keys = [*within, "measure_set"]
    top_raw = talking_therapies_rates(tt, by=keys, rules=rules, disclose=False)  # the totals' rates, made once
    if tuple(within) == ("programme_id",):
        if isinstance(data, OutcomeResult) and data.statistics is not None:
            top = data.talking_therapies if data.talking_therapies is not None else outcome_talking_therapies(data)
        else:
            statistics = change_statistics(changes, by=["programme_id", "instrument"], rules=rules,
                                           participants=ed.participants)
            top = published_talking_therapies_rates(tt, top_raw, statistics,
                                                    disclose_statistics(statistics, rules=rules), rules=rules)
    else:
        top = disclose_rates(top_raw, rules=rules)
    levels = raw.drop(columns=["rules"])
    frame, hidden, across = with_published_total_rows(levels, top, keys=keys, counts=RATE_COUNTS, breakdown=fields,
                                                      totals=top_raw)
    out = disclose_rates(frame, rules=rules, hidden_elsewhere=hidden, across=across)
    out = without_published_total_rows(out, levels, columns=[*keys, *fields])
    rules.stamp(out)
    return _finish(out, fields, rules)


_DISPATCH = {"outcomes": outcomes_by, "funnel": funnel_by, "take_up": take_up_by, "recovery": recovery_by,
             "talking_therapies": talking_therapies_by, "endings": endings_by}
_FROM_PATH = frozenset({"funnel", "take_up", "endings"})
"""The metrics read from the participants' paths (they take a ``path``)."""


def for_whom(
    data: Mapping[str, pd.DataFrame] | EpisodeData | OutcomeResult,
    by: str | Sequence[str],
    *,
    what: What = "outcomes",
    within: Sequence[str] = ("programme_id",),
    rules: PairingRules | None = None,
    instruments: Mapping[str, Instrument] | None = None,
    path: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Break any outcome or funnel metric down by context field(s).

    Parameters
    ----------
    data
        Canonical tables, an :class:`~evalkit.episodes.EpisodeData` or an
        :class:`~evalkit.outcomes.OutcomeResult` (reusing it saves time).
    by
        Field(s) of :data:`BREAKDOWN_FIELDS`, e.g. ``"ethnicity_group"`` or
        ``("perinatal_stage", "first_time_mother")``.
    what
        ``"outcomes"`` (:func:`outcomes_by`), ``"funnel"`` (:func:`funnel_by`),
        ``"take_up"``, ``"recovery"``, ``"talking_therapies"`` or ``"endings"``.
    within
        Grouping above the breakdown (default per programme).
    path
        :func:`evalkit.engagement.participant_path` of ``data`` with these ``rules``, when the caller has it:
        ``"funnel"``, ``"take_up"`` and ``"endings"`` use it as it is instead of computing it again (the same
        table); the other metrics do not read it.

    Returns
    -------
    pandas.DataFrame
        The chosen metric's frame with a ``breakdown`` column,
        disclosure-controlled.

    Examples
    --------
    >>> from evalkit.generator import generate_programmes
    >>> from evalkit.for_whom import for_whom
    >>> t = for_whom(generate_programmes(400, seed=2).tables, "perinatal_stage", what="take_up")
    >>> sorted(t["perinatal_stage"].dropna().unique().tolist())
    ['antenatal', 'postnatal']
    """
    if what not in _DISPATCH:
        raise ValueError(f"what must be one of {sorted(_DISPATCH)}; got {what!r}")
    if what in _FROM_PATH:
        return _DISPATCH[what](data, by, within=within, rules=rules, instruments=instruments, path=path)
    return _DISPATCH[what](data, by, within=within, rules=rules, instruments=instruments)
