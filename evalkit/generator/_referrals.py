"""Referrals: context of each mother at referral, the offer, and whether she took it up."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

from evalkit.generator import _parameters as par
from evalkit.generator._parameters import Programme
from evalkit.generator._sampling import MISSING, choose_rows, choose_weighted, expit, to_weekday
from evalkit.generator._truth import take_up_intercept


@dataclass(frozen=True)
class Referrals:
    """Per-referral arrays (one element per participant row); codes index the tuples in ``_parameters``.

    Day numbers count from 1970-01-01; :data:`MISSING` (-1) marks a blank.
    """

    programme: np.ndarray
    referral_day: np.ndarray
    antenatal: np.ndarray
    weeks_pregnant: np.ndarray
    baby_age_weeks: np.ndarray
    source: np.ndarray
    trusted: np.ndarray
    trusted_recorded: np.ndarray
    ethnicity: np.ndarray
    language: np.ndarray
    interpreter: np.ndarray
    deprivation_decile: np.ndarray
    age_band: np.ndarray
    has_partner: np.ndarray
    first_time_mother: np.ndarray
    prior_mh_support: np.ndarray
    professional_support: np.ndarray
    help_wanted: np.ndarray
    barriers: np.ndarray
    barriers_recorded: np.ndarray
    format_offered: np.ndarray
    format_preferred: np.ndarray
    format_mismatch: np.ndarray
    take_up_p: np.ndarray
    took_up: np.ndarray
    decline_reason: np.ndarray
    offered_day: np.ndarray
    started: np.ndarray
    dose: np.ndarray
    peer_matched: np.ndarray

    def __len__(self) -> int:
        return int(self.programme.size)


def _context(rng: np.random.Generator, prog: Programme, index: int, n: int, start_day: int,
             referral_days: int) -> dict[str, np.ndarray]:
    """Who was referred: dates, stage, source, demographics, needs and barriers."""
    out: dict[str, np.ndarray] = {"programme": np.full(n, index, dtype=np.int16)}
    out["referral_day"] = to_weekday(start_day + rng.integers(0, referral_days, n))
    ante = rng.random(n) < prog.antenatal_share
    out["antenatal"] = ante
    out["weeks_pregnant"] = np.where(ante, rng.integers(12, 39, n), MISSING)
    baby = np.minimum(np.floor(rng.gamma(1.3, 11.0, n)), 52).astype(np.int64)
    out["baby_age_weeks"] = np.where(ante, MISSING, baby)
    source_table = np.array([par.SOURCE_BY_STAGE["postnatal"], par.SOURCE_BY_STAGE["antenatal"]])
    source = choose_rows(rng, source_table, ante.astype(np.int64))
    out["source"] = source
    trusted = rng.random(n) < np.asarray(par.TRUSTED_BY_SOURCE)[source]
    out["trusted"] = trusted
    not_asked = (source == par.REFERRAL_SOURCES.index("self")) | (rng.random(n) < par.TRUST_NOT_ASKED)
    out["trusted_recorded"] = np.where(not_asked, MISSING, trusted.astype(np.int64))
    eth = rng.choice(len(par.ETHNICITIES), size=n, p=par.ethnicity_p(prog.region))
    out["ethnicity"] = eth
    lang = choose_rows(rng, par.language_matrix(), eth)
    out["language"] = lang
    out["interpreter"] = (lang != par.LANGUAGES.index("en")) & (rng.random(n) < par.INTERPRETER_RATE)
    decile = rng.choice(10, size=n, p=par.deprivation_p(prog)) + 1
    out["deprivation_decile"] = decile
    age = rng.choice(len(par.AGE_BANDS), size=n, p=par.AGE_BAND_P)
    out["age_band"] = age
    out["has_partner"] = rng.random(n) < np.asarray(par.PARTNER_BY_AGE)[age]
    first_p = np.where(ante, par.FIRST_TIME_BY_STAGE["antenatal"], par.FIRST_TIME_BY_STAGE["postnatal"])
    out["first_time_mother"] = rng.random(n) < first_p
    prior = rng.random(n) < par.PRIOR_SUPPORT_RATE
    out["prior_mh_support"] = prior
    out["professional_support"] = rng.random(n) < np.asarray(par.PROFESSIONAL_SUPPORT_BY_PRIOR)[prior.astype(int)]
    out["help_wanted"] = rng.random(n) < par.HELP_WANTED_RATE
    has = rng.random((n, len(par.BARRIERS))) < par.barrier_p(prog, decile)
    out["barriers"] = (has * (1 << np.arange(len(par.BARRIERS)))).sum(axis=1)
    out["barriers_recorded"] = rng.random(n) >= par.BARRIERS_NOT_RECORDED
    return out


def _formats(rng: np.random.Generator, prog: Programme, n: int) -> dict[str, np.ndarray]:
    """Format offered, the format she preferred, and whether they clash."""
    one_to_one = par.FORMATS.index("telephone" if prog.template == "phone" else "one_to_one_in_person")
    offered = np.where(rng.random(n) < prog.group_share, par.FORMATS.index("group"), one_to_one)
    mismatch = rng.random(n) < prog.format_mismatch
    other = rng.integers(0, 3, n)  # one of the three other concrete formats
    other = other + (other >= offered)
    same_or_none = np.where(rng.random(n) < par.NO_PREFERENCE_SHARE, par.FORMATS.index("no_preference"), offered)
    return {"format_offered": offered, "format_preferred": np.where(mismatch, other, same_or_none),
            "format_mismatch": mismatch}


def _take_up(rng: np.random.Generator, prog: Programme, ctx: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Take-up from the logistic model, then starting (attended at least once) and dose."""
    n = ctx["programme"].size
    drivers = {
        "trusted": ctx["trusted"],
        "barriers": ctx["barriers"] > 0,
        "help_wanted": ctx["help_wanted"],
        "interpreter": ctx["interpreter"],
        "format_mismatch": ctx["format_mismatch"],
    }
    eta = take_up_intercept(prog) + sum(par.TAKE_UP_BETA[k] * drivers[k].astype(float) for k in par.TAKE_UP_DRIVERS)
    p = expit(eta)
    took = rng.random(n) < p
    started = took & (rng.random(n) < prog.start_rate)
    dose = np.where(started, rng.choice(par.MAX_DOSE + 1, size=n, p=prog.dose.pmf()), 0)
    return {"take_up_p": p, "took_up": took, "started": started, "dose": dose, **_decline(rng, ctx, drivers, took)}


def _decline(rng: np.random.Generator, ctx: dict[str, np.ndarray], drivers: dict[str, np.ndarray],
             took: np.ndarray) -> dict[str, np.ndarray]:
    """Coded reason for not taking up, the offer date, and peer matching."""
    n = took.size
    weights = np.tile(np.asarray(par.DECLINE_BASE_WEIGHT), (n, 1))
    for driver, (driven_reason, w) in par.DECLINE_DRIVER_WEIGHT.items():
        weights[:, par.DECLINE_REASONS.index(driven_reason)] += w * drivers[driver]
    weights[:, par.DECLINE_REASONS.index("already_supported")] += 0.8 * ctx["professional_support"]
    reason = np.where(took, MISSING, choose_weighted(rng, weights))
    never_reached = reason == par.DECLINE_REASONS.index("could_not_contact")
    offered = to_weekday(ctx["referral_day"] + 1 + np.round(rng.gamma(2.0, 2.5, n)).astype(np.int64))
    return {"decline_reason": reason, "offered_day": np.where(never_reached, MISSING, offered)}


def _peer_matched(rng: np.random.Generator, prog: Programme, block: dict[str, np.ndarray]) -> np.ndarray:
    group = block["format_offered"] == par.FORMATS.index("group")
    matched = np.where(rng.random(group.size) < prog.peer_match_rate, 0, 1)  # yes / no
    return np.where(~block["took_up"], MISSING, np.where(group, 2, matched))  # 2 = not_applicable


def sample_referrals(rng: np.random.Generator, programmes: tuple[Programme, ...], counts: np.ndarray,
                     start_day: int, referral_days: int) -> Referrals:
    """Sample every referral, programme by programme, then order them by referral date.

    Parameters
    ----------
    counts
        Referrals per programme (same order as ``programmes``).
    start_day, referral_days
        First day of referrals (days since 1970-01-01) and the length of the referral period.
    """
    blocks: list[dict[str, np.ndarray]] = []
    for index, (prog, n) in enumerate(zip(programmes, counts, strict=True)):
        block = _context(rng, prog, index, int(n), start_day, referral_days)
        block.update(_formats(rng, prog, int(n)))
        block.update(_take_up(rng, prog, block))
        block["peer_matched"] = _peer_matched(rng, prog, block)
        blocks.append(block)
    names = [f.name for f in fields(Referrals)]
    merged = {k: np.concatenate([b[k] for b in blocks]) for k in names}
    order = np.lexsort((merged["programme"], merged["referral_day"]))
    return Referrals(**{k: v[order] for k, v in merged.items()})
