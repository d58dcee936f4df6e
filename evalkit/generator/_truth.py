"""Exact true-effect quantities implied by the generating model.

Nothing here samples: every number is an expectation over the model's
distributions, computed by enumeration (take-up drivers, dose, prior support)
and numerical integration over normal latent scores. The samplers read the
same parameters, so a large enough sample recovers these values.
"""

from __future__ import annotations

import itertools
import math
from functools import cache

import numpy as np
import pandas as pd

from evalkit.generator import _parameters as par
from evalkit.generator._parameters import OUTCOME_MODELS, OutcomeModel, Programme
from evalkit.generator._sampling import expit
from evalkit.instruments import Instrument, get_instrument

TRUE_EFFECT_COLUMNS: tuple[str, ...] = ("programme_id", "instrument", "quantity", "value", "description")

_QUANTITY_TEXT = {
    "take_up_rate": "P(took_up = yes) over the programme's referral population (exact expectation of the take-up model)",
    "start_rate": "P(at least one attended contact | took up)",
    "mean_dose": "expected attended contacts among mothers with at least one (d-bar)",
    "baseline_mean": "expected reported score at the first attended contact (t = 0), mothers who attended at least once",
    "baseline_sd": "SD of the reported score at t = 0 (between people, including occasion and item noise)",
    "mean_change_12w": (
        "expected change in the reported score from t = 0 to 12 weeks after the first attended contact, "
        "mothers who attended at least once (post - pre; negative = lower score)"
    ),
    "standardised_change_12w": "mean_change_12w / baseline_sd",
    "latent_change_12w": "delta: mean change of the latent raw-sum score at 12 weeks (at the mean dose; before floor/ceiling)",
    "change_per_session": "gamma: latent change per attended contact above the programme's mean dose",
    "change_sd": "tau: SD of individual latent change around the programme mean",
}
QUANTITIES: tuple[str, ...] = tuple(_QUANTITY_TEXT)
"""Quantities reported in the true-effects table, in order."""


# ---------------------------------------------------------------------------
# Take-up
# ---------------------------------------------------------------------------
def trusted_p(programme: Programme) -> float:
    """P(trusted referrer or self-referral) for one programme's referrals."""
    trust = np.asarray(par.TRUSTED_BY_SOURCE)
    ante = programme.antenatal_share
    return float(
        ante * np.dot(par.SOURCE_BY_STAGE["antenatal"], trust)
        + (1 - ante) * np.dot(par.SOURCE_BY_STAGE["postnatal"], trust)
    )


def barriers_p(programme: Programme) -> float:
    """P(at least one practical barrier)."""
    dec = np.arange(1, 11)
    any_barrier = 1.0 - np.prod(1.0 - par.barrier_p(programme, dec), axis=1)
    return float(np.dot(par.deprivation_p(programme), any_barrier))


def interpreter_p(programme: Programme) -> float:
    """P(needs an interpreter)."""
    non_english = 1.0 - par.language_matrix()[:, par.LANGUAGES.index("en")]
    return float(np.dot(par.ethnicity_p(programme.region), non_english) * par.INTERPRETER_RATE)


def driver_p(programme: Programme) -> dict[str, float]:
    """Marginal probability of each take-up driver (drivers are independent by construction)."""
    return {
        "trusted": trusted_p(programme),
        "barriers": barriers_p(programme),
        "help_wanted": par.HELP_WANTED_RATE,
        "interpreter": interpreter_p(programme),
        "format_mismatch": programme.format_mismatch,
    }


def expected_take_up(programme: Programme, intercept: float) -> float:
    """E[logistic(intercept + beta . x)] over the 2^5 driver combinations."""
    p = driver_p(programme)
    names = par.TAKE_UP_DRIVERS
    total = 0.0
    for combo in itertools.product((0, 1), repeat=len(names)):
        weight = math.prod(p[n] if x else 1 - p[n] for n, x in zip(names, combo, strict=True))
        eta = intercept + sum(par.TAKE_UP_BETA[n] * x for n, x in zip(names, combo, strict=True))
        total += weight * float(expit(eta))
    return float(total)


def take_up_intercept(programme: Programme) -> float:
    """The intercept ``alpha`` at which the expected take-up equals ``programme.take_up_target`` (bisection)."""
    lo, hi = -10.0, 10.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if expected_take_up(programme, mid) < programme.take_up_target:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


# ---------------------------------------------------------------------------
# Reported scores
# ---------------------------------------------------------------------------
def _item_layout(instrument: Instrument) -> tuple[int, float, float]:
    n = instrument.n_items
    lo, hi = float(instrument.item_min[0]), float(instrument.item_max[0])
    if len(set(instrument.item_min)) != 1 or len(set(instrument.item_max)) != 1:
        raise ValueError(f"the generator needs one item range per instrument; {instrument.code!r} has several")
    return n, lo, hi


def item_means(theta: np.ndarray, model: OutcomeModel, instrument: Instrument) -> np.ndarray:
    """Expected keyed item scores (rows x items) given the latent raw sum ``theta``.

    ``m_k = lo + v + b_k * s(v)`` with ``v = (theta - n*lo)/n`` and
    ``s(v) = 2*min(v, R - v)/R``: every item mean stays inside the item range and
    the item means add up to ``theta`` exactly.
    """
    n, lo, hi = _item_layout(instrument)
    rng_width = hi - lo
    v = (np.asarray(theta, dtype=float) - n * lo) / n
    shrink = 2.0 * np.minimum(v, rng_width - v) / rng_width
    b = np.asarray(model.item_profile)
    return lo + v[:, None] + b[None, :] * shrink[:, None]


def _item_pmf(means: np.ndarray, model: OutcomeModel, lo: float, hi: float) -> np.ndarray:
    """P(item = lo + c), c = 0..R, for each item mean (the binomial/rounding mixture)."""
    width = int(round(hi - lo))
    x = np.clip(means - lo, 0.0, width)
    c = np.arange(width + 1)
    q = (x / width)[..., None]
    binom = np.array([math.comb(width, k) for k in c]) * q**c * (1 - q) ** (width - c)
    floor = np.floor(x)
    frac = x - floor
    rounding = (c == floor[..., None]) * (1 - frac[..., None]) + (c == floor[..., None] + 1) * frac[..., None]
    return model.binomial_share * binom + (1 - model.binomial_share) * rounding


def _score_of_raw(instrument: Instrument, raw: np.ndarray) -> np.ndarray:
    """Reported score of a complete raw sum (conversion table where the instrument has one)."""
    if instrument.method == "sum_then_convert" and instrument.conversion_table:
        table = instrument.conversion_table
        return np.array([table[int(round(r))] for r in raw])
    if instrument.method == "sum":
        return raw.astype(float)
    raise ValueError(f"the generator supports sum and sum_then_convert instruments; {instrument.code!r} is {instrument.method}")


@cache
def score_moments_grid(code: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and variance of the reported score given the latent raw sum, on a fine grid.

    Returns ``(theta_grid, mean, variance)``; the conditional distribution of the
    raw sum is the exact convolution of the item distributions.
    """
    instrument = get_instrument(code)
    model = OUTCOME_MODELS[code]
    n, lo, hi = _item_layout(instrument)
    grid = np.linspace(n * lo, n * hi, int(round(n * (hi - lo))) * 40 + 1)
    pmf = _item_pmf(item_means(grid, model, instrument), model, lo, hi)  # grid x items x categories
    width = pmf.shape[2] - 1
    total = np.zeros((grid.size, n * width + 1))
    total[:, 0] = 1.0
    for k in range(n):
        new = np.zeros_like(total)
        for c in range(width + 1):
            new[:, c:] += total[:, : total.shape[1] - c] * pmf[:, k, c][:, None]
        total = new
    score = _score_of_raw(instrument, n * lo + np.arange(n * width + 1))
    mean = total @ score
    var = total @ score**2 - mean**2
    return grid, mean, np.maximum(var, 0.0)


_NODES = np.linspace(-6.0, 6.0, 1201)
_WEIGHTS = np.exp(-0.5 * _NODES**2)
_WEIGHTS /= _WEIGHTS.sum()


def _clipped_moments(code: str, means: np.ndarray, sd: float, weights: np.ndarray) -> tuple[float, float]:
    """E[score] and E[score^2] when theta ~ mixture of N(means_i, sd^2) with ``weights``, clipped to range."""
    grid, m, v = score_moments_grid(code)
    theta = np.clip(np.asarray(means)[:, None] + sd * _NODES[None, :], grid[0], grid[-1])
    mean_s = np.interp(theta, grid, m)
    second = np.interp(theta, grid, v) + mean_s**2
    w = np.asarray(weights)[:, None] * _WEIGHTS[None, :]
    return float((w * mean_s).sum()), float((w * second).sum())


def baseline_location(programme: Programme, model: OutcomeModel) -> np.ndarray:
    """Latent baseline means for (no prior support, prior support)."""
    shift = model.worse * (programme.severity_shift * model.baseline_sd + np.array([0.0, model.prior_support_shift]))
    return model.baseline_mean + shift


def score_expectations(programme: Programme, code: str) -> dict[str, float]:
    """Baseline mean/SD and the 12-week mean change of the reported score for one programme x instrument."""
    model = OUTCOME_MODELS[code]
    delta = programme.effects[code]
    pmf = programme.dose.pmf()
    doses = np.flatnonzero(pmf > 0)
    d_bar = programme.dose.mean_dose()
    prior_w = np.array([1 - par.PRIOR_SUPPORT_RATE, par.PRIOR_SUPPORT_RATE])
    mu0 = baseline_location(programme, model)
    sd0 = float(np.hypot(model.baseline_sd, model.occasion_sd))
    m0, s0 = _clipped_moments(code, mu0, sd0, prior_w)
    sd12 = float(np.sqrt(model.baseline_sd**2 + model.change_sd**2 + model.occasion_sd**2
                         + 2 * par.BASELINE_CHANGE_CORRELATION * model.baseline_sd * model.change_sd))
    means12 = (mu0[:, None] + delta + model.change_per_session * (doses[None, :] - d_bar)).ravel()
    weights12 = (prior_w[:, None] * pmf[doses][None, :]).ravel()
    m12, _ = _clipped_moments(code, means12, sd12, weights12)
    baseline_sd = float(np.sqrt(s0 - m0**2))
    return {
        "baseline_mean": m0,
        "baseline_sd": baseline_sd,
        "mean_change_12w": m12 - m0,
        "standardised_change_12w": (m12 - m0) / baseline_sd,
        "latent_change_12w": delta,
        "change_per_session": model.change_per_session,
        "change_sd": model.change_sd,
    }


def true_effects(programmes: tuple[Programme, ...]) -> pd.DataFrame:
    """The true-effects table: one row per programme x quantity (and x instrument).

    Returns
    -------
    pandas.DataFrame
        Columns ``programme_id``, ``instrument`` (missing for programme-level
        rows), ``quantity``, ``value`` and ``description``.
    """
    rows: list[tuple[str, str | None, str, float]] = []
    for prog in programmes:
        rows.append((prog.programme_id, None, "take_up_rate", expected_take_up(prog, take_up_intercept(prog))))
        rows.append((prog.programme_id, None, "start_rate", prog.start_rate))
        rows.append((prog.programme_id, None, "mean_dose", prog.dose.mean_dose()))
        for code in prog.instruments:
            for quantity, value in score_expectations(prog, code).items():
                rows.append((prog.programme_id, code, quantity, value))
    frame = pd.DataFrame(rows, columns=list(TRUE_EFFECT_COLUMNS[:4]))
    frame["value"] = frame["value"].astype(float).round(6)
    frame["description"] = frame["quantity"].map(_QUANTITY_TEXT)
    return frame.astype({"programme_id": "string", "instrument": "string", "quantity": "string",
                         "description": "string"})
