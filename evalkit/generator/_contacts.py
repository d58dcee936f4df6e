"""Contacts (one row per offered session or call) and the group sessions they belong to."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.generator import _parameters as par
from evalkit.generator._parameters import Programme
from evalkit.generator._sampling import (
    MISSING,
    choose_weighted,
    cumsum_in_group,
    group_starts,
    position_in_group,
    rank_in_group,
    to_weekday,
    weekday,
)

_ATTENDED = par.CONTACT_STATUSES.index("attended")
_GROUP_KIND = par.CONTACT_KINDS.index("group_session")
_STOPPED = par.ENDINGS.index("stopped_attending")
_FIRST_WAIT_DAYS = {"group": (0, 21), "phone": (2, 11), "home": (5, 22), "paid": (5, 22)}
_DURATION = {  # kind -> (mean, sd, low, high) minutes for one-to-one contacts
    "one_to_one_in_person": (65.0, 15.0, 30.0, 120.0),
    "telephone": (45.0, 10.0, 15.0, 90.0),
    "online": (50.0, 10.0, 20.0, 90.0),
    "text": (10.0, 0.0, 10.0, 10.0),
}


@dataclass(frozen=True)
class Contacts:
    """Contact rows (grouped by participant, in date order) and per-taker summaries.

    ``participant`` indexes the participants; ``session`` indexes :class:`GroupSessions`
    rows; ``supporter`` indexes ``supporter_labels``. Per-taker arrays follow the order
    of the takers passed in.
    """

    participant: np.ndarray
    day: np.ndarray
    kind: np.ndarray
    status: np.ndarray
    duration: np.ndarray
    session: np.ndarray
    supporter: np.ndarray
    supporter_labels: np.ndarray
    first_attended_day: np.ndarray
    last_attended_day: np.ndarray
    last_offered_day: np.ndarray


@dataclass(frozen=True)
class GroupSessions:
    """Group session rows."""

    session_id: np.ndarray
    programme: np.ndarray
    day: np.ndarray
    facilitators: np.ndarray
    head_count: np.ndarray


@dataclass(frozen=True)
class _Layout:
    """Where each programme's groups meet and who supports its mothers."""

    venues: np.ndarray  # per programme: number of group venues (0 without groups)
    pool: np.ndarray  # per programme: one-to-one peer supporters
    lead_offset: np.ndarray  # per programme: supporter index of venue 0's lead
    pool_offset: np.ndarray  # per programme: supporter index of pool member 0
    labels: np.ndarray  # supporter labels (V01, ..., S01, ...)


def _layout(programmes: tuple[Programme, ...], counts: np.ndarray, referral_days: int) -> _Layout:
    """Size the venues (about eight named mothers a week) and peer-supporter pools from expected load."""
    span_weeks = referral_days / 7.0 + 26.0
    venues, pool = [], []
    for prog, n in zip(programmes, counts, strict=True):
        starters = n * prog.take_up_target * prog.start_rate
        weekly = starters * prog.group_share * prog.dose.mean_dose() / span_weeks
        venues.append(max(1, round(weekly / par.GROUP_SIZE_TARGET)) if prog.has_groups else 0)
        pool.append(max(3, int(np.ceil(starters * (1 - prog.group_share) / par.CASELOAD))) if prog.group_share < 1 else 0)
    venues_a, pool_a = np.array(venues, dtype=np.int64), np.array(pool, dtype=np.int64)
    prefixes = sorted({p.supporter_prefix for p in programmes})
    next_number = dict.fromkeys(prefixes, 1)
    lead_offset: list[int] = []
    pool_offset: list[int] = []
    labels: list[tuple[str, int]] = []
    for prog, v, k in zip(programmes, venues_a, pool_a, strict=True):
        lead_offset.append(len(labels))
        pool_offset.append(len(labels) + int(v))
        for _ in range(int(v + k)):
            labels.append((prog.supporter_prefix, next_number[prog.supporter_prefix]))
            next_number[prog.supporter_prefix] += 1
    width = {p: max(2, len(str(next_number[p] - 1))) for p in prefixes}
    text = np.array([f"{p}{i:0{width[p]}d}" for p, i in labels], dtype=object)
    return _Layout(venues_a, pool_a, np.array(lead_offset), np.array(pool_offset), text)


def _statuses(rng: np.random.Generator, attended: np.ndarray, sizes: np.ndarray, main: np.ndarray,
              owner: np.ndarray, pos: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Attended for ``attended`` contacts per taker, spread at random over her main block.

    The main block (``main`` contacts) ends with an attended contact; any contacts
    after it are trailing missed contacts before the case was closed.
    """
    total = int(sizes.sum())
    att_owner, main_owner = attended[owner], main[owner]
    is_last_main = (pos == main_owner - 1) & (att_owner > 0)
    in_block = (pos < main_owner - 1) & (att_owner > 0)
    status_att = np.zeros(total, dtype=bool)
    status_att[is_last_main] = True
    block = np.flatnonzero(in_block)
    rank = rank_in_group(owner[block], rng.random(block.size))
    status_att[block] = rank < att_owner[block] - 1
    missed_p = np.where(group[owner][:, None], np.asarray(par.MISSED_STATUS_P_GROUP),
                        np.asarray(par.MISSED_STATUS_P_ONE_TO_ONE))
    trailing = pos >= main_owner
    missed_p[trailing] = (0.8, 0.2, 0.0)
    missed = 1 + choose_weighted(rng, missed_p)
    return np.where(status_att, _ATTENDED, missed)


def sample_contacts(rng: np.random.Generator, programmes: tuple[Programme, ...], counts: np.ndarray,
                    takers: np.ndarray, prog: np.ndarray, started: np.ndarray, dose: np.ndarray,
                    offered_day: np.ndarray, group: np.ndarray, ending: np.ndarray,
                    start_day: int, referral_days: int) -> tuple[Contacts, GroupSessions]:
    """Offered contacts of every taker, with statuses, dates, kinds, durations and supporters.

    Parameters
    ----------
    takers
        Participant index of each mother who took up the offer (sorted).
    prog, started, dose, offered_day, group, ending
        Per-taker programme index, whether she attended at least once, attended
        contacts, offer day, whether she was offered a group, and her ending code.
    """
    layout = _layout(programmes, counts, referral_days)
    n = takers.size
    attend_p = np.array([p.attend_prob for p in programmes])[prog]
    missed_main = np.where(started, rng.negative_binomial(np.maximum(dose, 1), attend_p),
                           1 + rng.binomial(2, 0.4, n))
    trailing = np.where(started & (ending == _STOPPED), 1 + rng.binomial(1, 0.4, n), 0)
    main = dose + missed_main
    sizes = main + trailing
    owner = np.repeat(np.arange(n), sizes)
    pos = position_in_group(sizes)
    status = _statuses(rng, dose, sizes, main, owner, pos, group)

    venue = np.where(group, rng.integers(0, np.maximum(layout.venues[prog], 1)), MISSING)
    day, week = _days(rng, programmes, prog, offered_day, group, venue, owner, pos, sizes, start_day)
    kind = _kinds(rng, programmes, prog[owner], group[owner])
    sessions, session = _group_sessions(rng, programmes, layout, prog, venue, owner, week, status, start_day,
                                        referral_days)
    supporter = _supporters(rng, layout, prog, group, venue, owner)
    duration = _durations(rng, programmes, prog[owner], kind, status)

    att = np.flatnonzero(status == _ATTENDED)
    first_att = np.full(n, MISSING, dtype=np.int64)
    last_att = np.full(n, MISSING, dtype=np.int64)
    if att.size:
        att_owner = owner[att]
        head = np.r_[True, att_owner[1:] != att_owner[:-1]]
        tail = np.r_[att_owner[1:] != att_owner[:-1], True]
        first_att[att_owner[head]] = day[att[head]]
        last_att[att_owner[tail]] = day[att[tail]]
    last_offered = day[group_starts(sizes) + sizes - 1] if n else np.zeros(0, dtype=np.int64)
    contacts = Contacts(takers[owner], day, kind, status, duration, session, supporter, layout.labels,
                        first_att, last_att, last_offered)
    return contacts, sessions


def _days(rng: np.random.Generator, programmes: tuple[Programme, ...], prog: np.ndarray, offered_day: np.ndarray,
          group: np.ndarray, venue: np.ndarray, owner: np.ndarray, pos: np.ndarray, sizes: np.ndarray,
          start_day: int) -> tuple[np.ndarray, np.ndarray]:
    """Contact days: weekly group meetings (with skipped weeks) or one-to-one contacts every one to three weeks."""
    total = owner.size
    template = np.array([p.template for p in programmes])[prog]
    wait = np.zeros(prog.size, dtype=np.int64)
    for name, (lo, hi) in _FIRST_WAIT_DAYS.items():
        mask = template == name
        wait[mask] = rng.integers(lo, hi, int(mask.sum()))
    first = offered_day + wait
    # one-to-one: gaps in days
    gap = np.zeros(total, dtype=np.int64)
    prog_c = prog[owner]
    for index, p in enumerate(programmes):
        mask = (prog_c == index) & ~group[owner]
        values = np.array(list(p.gap_days), dtype=np.int64)
        probs = np.array(list(p.gap_days.values()), dtype=float)
        gap[mask] = rng.choice(values, size=int(mask.sum()), p=probs / probs.sum())
    gap = np.maximum(gap + rng.integers(-1, 2, total), 4)
    gap[pos == 0] = 0
    one_day = to_weekday(np.repeat(first, sizes) + cumsum_in_group(gap, sizes))
    # group: gaps in weeks at the venue's weekly meeting
    venue_wd = (1 + np.maximum(venue, 0)) % 5
    day0 = start_day + (venue_wd - weekday(np.int64(start_day))) % 7
    week0 = np.maximum(0, -((day0 - first) // 7))  # ceil((first - day0) / 7)
    weeks = np.minimum(rng.geometric(0.72, total), 6)
    weeks[pos == 0] = 0
    week = np.repeat(week0, sizes) + cumsum_in_group(weeks, sizes)
    group_day = np.repeat(day0, sizes) + 7 * week
    is_group = group[owner]
    return np.where(is_group, group_day, one_day), np.where(is_group, week, MISSING)


def _kinds(rng: np.random.Generator, programmes: tuple[Programme, ...], prog: np.ndarray,
           group: np.ndarray) -> np.ndarray:
    """Kind of each contact: group sessions for group members, the programme's one-to-one mix otherwise."""
    kind = np.full(prog.size, _GROUP_KIND, dtype=np.int64)
    for index, p in enumerate(programmes):
        mask = (prog == index) & ~group
        if not p.one_to_one_kinds or not mask.any():
            continue
        codes = np.array([par.CONTACT_KINDS.index(k) for k in p.one_to_one_kinds])
        probs = np.array(list(p.one_to_one_kinds.values()))
        kind[mask] = rng.choice(codes, size=int(mask.sum()), p=probs / probs.sum())
    return kind


def _durations(rng: np.random.Generator, programmes: tuple[Programme, ...], prog: np.ndarray, kind: np.ndarray,
               status: np.ndarray) -> np.ndarray:
    """Minutes of attended contacts (NaN otherwise): whole group sessions (some leave early), calls, visits."""
    session = np.array([p.session_minutes for p in programmes], dtype=float)[prog]
    minutes = np.where(rng.random(prog.size) < 0.15, session - 30.0, session)
    for name, (mean, sd, lo, hi) in _DURATION.items():
        mask = kind == par.CONTACT_KINDS.index(name)
        drawn = 5.0 * np.round(rng.normal(mean, sd, int(mask.sum())) / 5.0)
        minutes[mask] = np.clip(drawn, lo, hi)
    return np.where(status == _ATTENDED, minutes, np.nan)


def _supporters(rng: np.random.Generator, layout: _Layout, prog: np.ndarray, group: np.ndarray,
                venue: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Venue lead for group contacts; her own peer supporter (5% cover by a colleague) for one-to-one."""
    pool = np.maximum(layout.pool[prog], 1)
    own = layout.pool_offset[prog] + rng.integers(0, pool)
    lead = layout.lead_offset[prog] + np.maximum(venue, 0)
    per_taker = np.where(group, lead, own)
    supporter = per_taker[owner]
    prog_c = prog[owner]
    cover = ~group[owner] & (rng.random(owner.size) < 0.05)
    supporter[cover] = layout.pool_offset[prog_c[cover]] + rng.integers(0, pool[owner[cover]])
    return supporter


def _group_sessions(rng: np.random.Generator, programmes: tuple[Programme, ...], layout: _Layout,
                    prog: np.ndarray, venue: np.ndarray, owner: np.ndarray, week: np.ndarray,
                    status: np.ndarray, start_day: int, referral_days: int) -> tuple[GroupSessions, np.ndarray]:
    """One session per venue per week across the period, head counts = named attendees + drop-ins."""
    prog_c, venue_c = prog[owner], venue[owner]
    is_group = week >= 0
    n_weeks = np.zeros(len(programmes), dtype=np.int64)
    for index in range(len(programmes)):
        if layout.venues[index]:
            in_prog = is_group & (prog_c == index)
            n_weeks[index] = max(int(week[in_prog].max()) if in_prog.any() else 0, referral_days // 7) + 1
    per_prog = layout.venues * n_weeks
    base = group_starts(per_prog)
    session = np.where(is_group, base[prog_c] + np.maximum(venue_c, 0) * n_weeks[prog_c] + week, MISSING)
    total = int(per_prog.sum())
    s_prog = np.repeat(np.arange(len(programmes)), per_prog)
    s_local = position_in_group(per_prog)
    s_venue = s_local // np.maximum(n_weeks[s_prog], 1)
    s_week = s_local % np.maximum(n_weeks[s_prog], 1)
    venue_wd = (1 + s_venue) % 5
    s_day = start_day + (venue_wd - weekday(np.int64(start_day))) % 7 + 7 * s_week
    named = np.bincount(session[is_group & (status == _ATTENDED)], minlength=total)
    head = named + rng.poisson(par.DROP_IN_MEAN, total)
    co = np.array([p.facilitation == "co_facilitated" for p in programmes])[s_prog]
    facilitators = np.where(co, rng.choice([1, 2, 3], size=total, p=[0.1, 0.8, 0.1]),
                            rng.choice([1, 2], size=total, p=[0.5, 0.5]))
    ids = _session_ids(programmes, s_prog, s_venue, s_week)
    return GroupSessions(ids, s_prog, s_day, facilitators, head), session


def _session_ids(programmes: tuple[Programme, ...], s_prog: np.ndarray, s_venue: np.ndarray,
                 s_week: np.ndarray) -> np.ndarray:
    """Ids like ``GS-GROUP-G1-001`` (programme, venue, week)."""
    if s_prog.size == 0:
        return np.zeros(0, dtype=object)
    stems = np.array([f"GS-{p.programme_id.removeprefix('P-')}-G" for p in programmes])
    width = max(3, len(str(int(s_week.max()) + 1)))
    venue_txt = (s_venue + 1).astype(str)
    week_txt = np.strings.zfill((s_week + 1).astype(str), width)
    return np.strings.add(np.strings.add(np.strings.add(stems[s_prog], venue_txt), "-"), week_txt).astype(object)
