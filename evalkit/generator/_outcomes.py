"""Person-level latent outcomes: baseline severity and change, per instrument, and how episodes end."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from evalkit.generator import _parameters as par
from evalkit.generator._parameters import OUTCOME_MODELS, Programme
from evalkit.generator._sampling import MISSING, choose_weighted
from evalkit.generator._truth import baseline_location


@dataclass(frozen=True)
class Latents:
    """Latent baseline and 12-week change per taker and instrument (raw-sum metric).

    ``baseline[code][i]`` is ``mu + shift + sigma_b * z`` and ``change[code][i]`` is
    ``delta + gamma * (dose - d_bar) + tau * v`` for the i-th mother who took up
    the offer; ``symptom_change_factor`` is her ``v`` on the symptom factor.
    """

    baseline: dict[str, np.ndarray]
    change: dict[str, np.ndarray]
    symptom_change_factor: np.ndarray


def sample_latents(rng: np.random.Generator, programmes: tuple[Programme, ...], programme: np.ndarray,
                   dose: np.ndarray, prior: np.ndarray) -> Latents:
    """Draw correlated factors, then each instrument's baseline and change for every taker.

    Parameters
    ----------
    programme, dose, prior
        Programme index, attended contacts and prior support of each taker.
    """
    n = programme.size
    chol = np.linalg.cholesky(par.FACTOR_CORRELATION)
    factors = rng.standard_normal((n, 4)) @ chol.T  # z_symptom, z_wellbeing, v_symptom, v_wellbeing
    rho = par.BASELINE_CHANGE_CORRELATION
    d_bar = np.array([p.dose.mean_dose() for p in programmes])[programme]
    baseline: dict[str, np.ndarray] = {}
    change: dict[str, np.ndarray] = {}
    for code, model in OUTCOME_MODELS.items():
        z_f, v_f = (factors[:, 0], factors[:, 2]) if model.factor == "symptom" else (factors[:, 1], factors[:, 3])
        own_z = rng.standard_normal(n)
        own_v = rho * own_z + np.sqrt(1 - rho**2) * rng.standard_normal(n)
        unique = np.sqrt(1 - model.loading**2)
        z = model.loading * z_f + unique * own_z
        v = model.loading * v_f + unique * own_v
        location = np.array([baseline_location(p, model) for p in programmes])  # programme x prior support
        baseline[code] = location[programme, prior.astype(np.int64)] + model.baseline_sd * z
        delta = np.array([p.effects.get(code, 0.0) for p in programmes])[programme]
        change[code] = delta + model.change_per_session * (dose - d_bar) + model.change_sd * v
    return Latents(baseline, change, factors[:, 2])


def sample_endings(rng: np.random.Generator, programmes: tuple[Programme, ...], programme: np.ndarray,
                   started: np.ndarray, dose: np.ndarray, symptom_change: np.ndarray) -> np.ndarray:
    """How each taker's support ended (index into :data:`ENDINGS`).

    Open-ended support ends in any of the usual ways; planned support ends as
    planned once the planned sessions are reached, otherwise as a drop-out.
    Improving mothers (negative symptom-change factor) more often 'move on
    coping', worsening ones are more often referred elsewhere.
    """
    planned = np.array([p.dose.planned if p.dose.kind == "planned" else 0 for p in programmes])[programme]
    weights = np.where(
        (~started)[:, None], np.asarray(par.ENDING_NOT_STARTED_WEIGHT),
        np.where((planned == 0)[:, None], np.asarray(par.ENDING_OPEN_WEIGHT),
                 np.where((dose < planned)[:, None], np.asarray(par.ENDING_DROPOUT_WEIGHT),
                          np.asarray(par.ENDING_COMPLETED_WEIGHT))),
    ).astype(float)
    for ending, tilt in par.ENDING_IMPROVEMENT_TILT.items():
        col = par.ENDINGS.index(ending)
        weights[:, col] *= np.where(started, np.exp(tilt * symptom_change), 1.0)
    if weights.shape[0] == 0:
        return np.full(0, MISSING, dtype=np.int64)
    return choose_weighted(rng, weights)
