"""Questionnaires: when they were completed (or missed) and the keyed item responses."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.generator import _parameters as par
from evalkit.generator._outcomes import Latents
from evalkit.generator._parameters import OUTCOME_MODELS, Programme
from evalkit.generator._sampling import MISSING
from evalkit.generator._truth import _item_layout, item_means
from evalkit.instruments import get_instrument

_ATTENDED = par.CONTACT_STATUSES.index("attended")
_START, _REVIEW, _END = 0, 1, 2
_END_QUESTIONNAIRE_P = {"planned_ending": 0.65, "moved_on_coping": 0.35}
_POSTAL_RETURN_P = 0.06
_REVIEW_WINDOW_DAYS = 21
_INSTRUMENT_SKIP_P = {"epds": 0.02}
_OTHER_SKIP_P = 0.05
ONE_BLANK_P = 0.02
"""Share of questionnaires with exactly one unanswered item."""
SEVERAL_BLANK_P = 0.005
"""Share of questionnaires with two to four unanswered items."""
MAX_ITEMS = 20
"""Item columns in the measures table."""
_DAY_BITS = 17


@dataclass(frozen=True)
class Occasions:
    """Questionnaire occasions: who (taker position), when, and the provider's timepoint label."""

    taker: np.ndarray
    day: np.ndarray
    kind: np.ndarray  # 0 start, 1 review, 2 end
    review_number: np.ndarray


@dataclass(frozen=True)
class Measures:
    """Measure rows, sorted by participant, date and instrument order."""

    participant: np.ndarray
    day: np.ndarray
    instrument: np.ndarray  # index into ``instrument_codes``
    timepoint: np.ndarray  # codes into timepoint_names()
    items: np.ndarray  # rows x (MAX_ITEMS + 1), Fortran order: item_1..item_20 then total; NaN = blank
    instrument_codes: tuple[str, ...]


def _baselines(rng: np.random.Generator, programmes: tuple[Programme, ...], prog: np.ndarray,
               started: np.ndarray, offered: np.ndarray, first_att: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Baseline questionnaires: near the first attended contact (never before the offer).

    55% on the day of the first contact, 37% in the four weeks before it (at the
    assessment), 8% in the two weeks after it. A few mothers who took up the
    offer but never came completed one at the assessment.
    """
    n = prog.size
    rate = np.array([p.baseline_rate for p in programmes])[prog]
    u = rng.random(n)
    offset = np.where(u < 0.55, 0, np.where(u < 0.85, -rng.integers(1, 15, n),
                                            np.where(u < 0.92, -rng.integers(15, 29, n), rng.integers(1, 15, n))))
    day = np.where(started, np.maximum(first_att + offset, offered), offered + rng.integers(0, 8, n))
    done = rng.random(n) < np.where(started, rate, 0.4 * rate)
    taker = np.flatnonzero(done)
    return taker, day[taker]


def _attended_keys(owner: np.ndarray, day: np.ndarray) -> np.ndarray:
    return (owner.astype(np.int64) << _DAY_BITS) | day


def _reviews(rng: np.random.Generator, programmes: tuple[Programme, ...], prog: np.ndarray, started: np.ndarray,
             first_att: np.ndarray, last_att: np.ndarray, att_owner: np.ndarray,
             att_day: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reviews every ``review_weeks`` after the first contact, at the next attended contact within three weeks.

    A review can only happen while she is still attending (so mothers who stop
    early have none); a due review is completed with probability ``review_rate``.
    """
    interval = 7 * np.array([p.review_weeks for p in programmes])[prog]
    rate = np.array([p.review_rate for p in programmes])[prog]
    keys = _attended_keys(att_owner, att_day)
    takers, days, numbers = [], [], []
    k = 1
    active = np.flatnonzero(started)
    while active.size:
        target = first_att[active] + k * interval[active]
        active = active[target <= last_att[active]]
        target = first_att[active] + k * interval[active]
        idx = np.searchsorted(keys, _attended_keys(active, target))
        idx = np.minimum(idx, max(keys.size - 1, 0))
        found = (att_owner[idx] == active) & (att_day[idx] >= target) & (att_day[idx] <= target + _REVIEW_WINDOW_DAYS)
        done = found & (rng.random(active.size) < rate[active])
        takers.append(active[done])
        days.append(att_day[idx[done]])
        numbers.append(np.full(int(done.sum()), k))
        k += 1
    if not takers:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(takers), np.concatenate(days), np.concatenate(numbers)


def _endings(rng: np.random.Generator, started: np.ndarray, ending: np.ndarray,
             last_att: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ending questionnaires: at the last session of a planned or coping ending; a few returned by post."""
    n = started.size
    p = np.zeros(n)
    for name, prob in _END_QUESTIONNAIRE_P.items():
        p[ending == par.ENDINGS.index(name)] = prob
    at_last = started & (rng.random(n) < p)
    postal = started & (ending == par.ENDINGS.index("stopped_attending")) & (rng.random(n) < _POSTAL_RETURN_P)
    day = np.where(postal, last_att + rng.integers(14, 36, n), last_att)
    taker = np.flatnonzero(at_last | postal)
    return taker, day[taker]


def schedule(rng: np.random.Generator, programmes: tuple[Programme, ...], prog: np.ndarray, started: np.ndarray,
             offered: np.ndarray, ending: np.ndarray, first_att: np.ndarray, last_att: np.ndarray,
             att_owner: np.ndarray, att_day: np.ndarray) -> Occasions:
    """All questionnaire occasions of the takers, one per taker and day (start > end > review).

    Parameters
    ----------
    att_owner, att_day
        Taker position and day of every attended contact, sorted by taker then day.
    """
    b_taker, b_day = _baselines(rng, programmes, prog, started, offered, first_att)
    r_taker, r_day, r_num = _reviews(rng, programmes, prog, started, first_att, last_att, att_owner, att_day)
    e_taker, e_day = _endings(rng, started, ending, last_att)
    taker = np.concatenate([b_taker, e_taker, r_taker])
    day = np.concatenate([b_day, e_day, r_day])
    kind = np.concatenate([np.full(b_taker.size, _START), np.full(e_taker.size, _END), np.full(r_taker.size, _REVIEW)])
    number = np.concatenate([np.zeros(b_taker.size + e_taker.size, np.int64), r_num])
    key = _attended_keys(taker, day)
    _, keep = np.unique(key, return_index=True)  # first occurrence = highest priority; sorted by key
    return Occasions(taker[keep], day[keep], kind[keep], number[keep])


def _responses(rng: np.random.Generator, theta: np.ndarray, code: str) -> np.ndarray:
    """Keyed item responses (rows x items) whose expected sum is ``theta``.

    Each response is, with probability ``binomial_share``, ``lo + Binomial(R, m/R)``
    and otherwise the item mean ``m`` rounded up or down at random (up with
    probability equal to its fractional part); both have mean ``m``.
    """
    instrument = get_instrument(code)
    model = OUTCOME_MODELS[code]
    n, lo, hi = _item_layout(instrument)
    width = int(round(hi - lo))
    x = np.clip(item_means(theta, model, instrument) - lo, 0.0, width)
    u = rng.random(x.shape)
    use_binomial = u < model.binomial_share
    floor = np.floor(x)
    out = floor + ((u - model.binomial_share) / (1.0 - model.binomial_share) < (x - floor))
    out[use_binomial] = rng.binomial(width, x[use_binomial] / width)
    return lo + out


def _blank_items(rng: np.random.Generator, items: np.ndarray) -> None:
    """Leave one item unanswered in ~2% of questionnaires and two to four in ~0.5% (in place)."""
    rows, n_items = items.shape
    u = rng.random(rows)
    blanks = np.where(u < ONE_BLANK_P, 1, np.where(u < ONE_BLANK_P + SEVERAL_BLANK_P, rng.integers(2, 5, rows), 0))
    hit = np.flatnonzero(blanks)
    if hit.size == 0:
        return
    order = np.argsort(rng.random((hit.size, n_items)), axis=1)
    chosen = order < blanks[hit][:, None]
    sub = items[hit]
    sub[chosen] = np.nan
    items[hit] = sub


def sample_measures(rng: np.random.Generator, programmes: tuple[Programme, ...], takers: np.ndarray,
                    prog: np.ndarray, started: np.ndarray, first_att: np.ndarray, occasions: Occasions,
                    latents: Latents) -> Measures:
    """Instrument rows for every occasion, with item responses from the latent score at that time.

    ``theta = clip(baseline + change * min(t / RAMP_WEEKS, 1) + sigma_e * e)`` with ``t``
    the weeks since the first attended contact (0 before it, and for mothers who
    never attended). Rows come out ordered by occasion (participant, date), then
    instrument in registry order.
    """
    codes = tuple(OUTCOME_MODELS)
    occ_prog = prog[occasions.taker]
    uses = np.array([[code in p.instruments for code in codes] for p in programmes], dtype=bool)[occ_prog]
    skip = np.array([_INSTRUMENT_SKIP_P.get(code, _OTHER_SKIP_P) for code in codes])[None, :]
    skip = skip * np.where(occasions.kind == _START, 0.5, 1.0)[:, None]
    present = uses & (rng.random(uses.shape) >= skip)  # occasion x instrument
    position = np.cumsum(present.ravel()).reshape(present.shape) - 1
    n_rows = int(present.sum())
    items = np.full((n_rows, MAX_ITEMS + 1), np.nan, order="F")  # item_1..item_20, total
    for j, code in enumerate(codes):
        rows = np.flatnonzero(present[:, j])
        t = occasions.taker[rows]
        weeks = np.where(started[t], (occasions.day[rows] - first_att[t]) / 7.0, 0.0)
        ramp = np.clip(weeks / par.RAMP_WEEKS, 0.0, 1.0)
        model = OUTCOME_MODELS[code]
        n, lo, hi = _item_layout(get_instrument(code))
        noise = model.occasion_sd * rng.standard_normal(rows.size)
        theta = np.clip(latents.baseline[code][t] + latents.change[code][t] * ramp + noise, n * lo, n * hi)
        block = _responses(rng, theta, code)
        _blank_items(rng, block)
        items[position[rows, j], :n] = block
    occasion = np.repeat(np.arange(present.shape[0]), present.sum(axis=1))
    instrument = np.nonzero(present)[1]
    return Measures(takers[occasions.taker[occasion]], occasions.day[occasion], instrument,
                    _timepoint_codes(occasions)[occasion], items, codes)


def last_occasion_day(occasions: Occasions, n_takers: int) -> np.ndarray:
    """Day of each taker's last questionnaire occasion (:data:`MISSING` if none)."""
    last = np.full(n_takers, MISSING, dtype=np.int64)
    np.maximum.at(last, occasions.taker, occasions.day)
    return last


def timepoint_names(max_review: int) -> list[str]:
    """Label names indexed by :func:`_timepoint_codes`: ``start``, ``end``, ``T1`` .. ``T<max_review>``."""
    return ["start", "end"] + [f"T{k}" for k in range(1, max_review + 1)]


def _timepoint_codes(occasions: Occasions) -> np.ndarray:
    """The provider's labels as codes into :func:`timepoint_names`: start, end, or review number."""
    return np.where(occasions.kind == _START, 0, np.where(occasions.kind == _END, 1, 1 + occasions.review_number))
