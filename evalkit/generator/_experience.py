r"""Experience questionnaires (``pex_group``, ``pex_one_to_one``) with known relations to outcomes and ending.

Called by :func:`evalkit.generator.generate_programmes` when ``experience=True``.
Everything here draws from its **own** random stream (seeded by ``seed`` and
:data:`STREAM`), so switching experience on adds rows to ``measures`` and
``true_effects`` and changes nothing else: every other row and value is the
same as with ``experience=False``.

The model
---------
Mothers who attended at least once carry two latent experience scores, drawn
*given* her symptom-change factor :math:`v_i` (standard normal, higher =
less improvement; the factor behind every instrument's change, see the
generator's outcome model):

.. math::

   (\eta_i, \xi_i) \mid v_i \sim N\bigl((c_\eta v_i,\; \mu_p + c_\xi v_i),\; R - c c^\top\bigr),
   \quad c = (-0.45, 0.30),\; R = \begin{pmatrix}1 & -0.35\\ -0.35 & 1\end{pmatrix}

so :math:`(v, \eta, \xi - \mu_p)` is standard trivariate normal with
correlations :math:`\operatorname{corr}(v, \eta) = -0.45` (a better experience
goes with more improvement), :math:`\operatorname{corr}(v, \xi) = 0.30` (more
negative experience, less improvement) and :math:`\operatorname{corr}(\eta, \xi)
= -0.35`. Drawing the experience given the change is the same joint
distribution as a model in which the mechanisms drive the change, with the
same coefficients; it leaves every outcome value untouched. :math:`\mu_p` is 0
except in ``P-OUTLIER`` (0.7: a group with a gloomier feel).

Item *k* (answered 0-4) is an ordered probit on its factor :math:`f` (η for
positive items, ξ for negative items):

.. math::

   y_{ik} = \#\{c : a_k + \lambda_k f_i + \varepsilon_{ik} > \tau_c\},\quad
   \varepsilon_{ik} \sim N(0, 1) \text{ fresh on each occasion},\quad \tau = (-2, -1, 0, 1.2)

so :math:`P(y \ge 3) = \Phi\bigl((a_k + \lambda_k \mu_f) / \sqrt{1 + \lambda_k^2}\bigr)`
(:math:`\tau_3 = 0`). Item locations differ by variant: comparison with others
is endorsed far more often in groups (about 20% against 6%). The ending item
(worry or upset about support ending) is :math:`a_e + 0.5\,\eta + 0.9\,U + \varepsilon`
with *U* = 1 for a questionnaire completed on or after her last attended
contact when her support ended **unplanned** (any ending other than
``planned_ending``, ``moved_on_coping`` or ``unknown``): about 15% agree after
a planned ending and 40% after an unplanned one.

When questionnaires are completed
---------------------------------
* at half of the outcome reviews (same day, timepoint ``T<k>``);
* at the ending, for 60% of mothers whose support ended before the extract,
  **whatever the ending** (an exit call or text): on the last attended contact
  after a planned or coping ending, otherwise on a day between the last
  contact and the closing of the case (timepoint ``end``).

Neither depends on the latent scores, so respondents are a random sample of
mothers who attended (given programme and format) and the endorsement rates
below hold among them. (Real services reach fewer mothers after unplanned
endings; the docs say what that does.) Blank items: 2% of questionnaires have
one unanswered item and 0.5% two to four, as for the other instruments.

True effects (added to ``true_effects``; all exact)
---------------------------------------------------
===============================================  =====================================================================
quantity (instrument column)                     meaning
===============================================  =====================================================================
``endorse_<mechanism>`` (pex variant)            P(item answered 3 or 4) among respondents of the programme (review
                                                 questionnaires for the ending item)
``ending_worry_planned`` / ``_unplanned`` (pex)  P(ending item 3 or 4) in questionnaires completed on or after the
                                                 last attended contact, after a planned / unplanned ending
``<variant>_positive_slope`` (outcome instr.)    slope of the 12-week latent change of the outcome instrument per
                                                 point of the positive subscale mean (0-4), holding the negative
                                                 subscale mean fixed: the best linear predictor within a programme
``<variant>_negative_slope`` (outcome instr.)    the same per point of the negative subscale mean
``endorse_any_negative`` (pex variant)           P(at least one negative item answered 3 or 4) among respondents
``take_up_log_odds_<context>`` (blank)           log odds ratio of take-up for the context (programme intercepts,
                                                 all five drivers in the model); 0 for first_time_mother,
                                                 prior_mh_support and deprivation_decile, which do not affect
                                                 take-up given the drivers
===============================================  =====================================================================

The slopes are :math:`\tau_j \lambda_j r_j \cdot \Sigma_{XX}^{-1}\operatorname{Cov}(X, v)` with
:math:`X` = (positive mean, negative mean), :math:`r_j` = 1 for symptom
instruments and -0.82 (the change-factor correlation) for wellbeing and
recovery instruments; the moments of *X* are computed by Gauss-Hermite
quadrature over (η, ξ) with the exact ordered-probit item moments. They are
the coefficients an ordinary least-squares regression of the change (baseline
to an endpoint at least 8 weeks after the first contact, e.g.
``PairingRules(endpoint_rule="window")``) on the two subscale means, with
programme intercepts, estimates; floor and ceiling effects on the reported
scores shrink them slightly (about 5%).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cache

import numpy as np
import pandas as pd
from scipy import stats

from evalkit.generator import _parameters as par
from evalkit.generator._measures import MAX_ITEMS, Measures, Occasions, _blank_items
from evalkit.generator._parameters import OUTCOME_MODELS, Programme
from evalkit.generator._sampling import MISSING, to_weekday

STREAM = 0x50455831
"""Second entropy word of the experience stream: ``default_rng([seed, STREAM])``."""

VARIANTS: tuple[str, str] = ("pex_group", "pex_one_to_one")
THRESHOLDS = np.array([-2.0, -1.0, 0.0, 1.2])
"""Ordered-probit thresholds between answers 0|1, 1|2, 2|3 and 3|4 (noise SD 1)."""
C_ETA, C_XI, R_ETA_XI = -0.45, 0.30, -0.35
"""corr(v, eta), corr(v, xi), corr(eta, xi): v is the symptom-change factor (higher = less improvement)."""
NEGATIVE_SHIFT: dict[str, float] = {"P-OUTLIER": 0.7}
"""Mean of xi by programme id (0 elsewhere)."""
REVIEW_P = 0.5
"""Share of outcome reviews with an experience questionnaire."""
ENDING_P = 0.6
"""Share of ended episodes with an experience questionnaire at the ending (any kind of ending)."""
ENDING_ETA_LOADING = 0.5
UNPLANNED_SHIFT = 0.9
PLANNED_ENDINGS: tuple[str, ...] = ("planned_ending", "moved_on_coping")
"""Endings that count as planned; ``unknown`` is neither, every other ending is unplanned."""
ENDING_AT_LAST_CONTACT: tuple[str, ...] = ("planned_ending", "moved_on_coping")


@dataclass(frozen=True)
class ItemSpec:
    """One item: its mechanism code, valence, factor loading and location."""

    code: str
    valence: str  # positive | negative | ending
    location: float
    loading: float


# Item order = item number in the instrument file (schemas/instruments/<variant>.json).
ITEMS: dict[str, tuple[ItemSpec, ...]] = {
    "pex_group": (
        ItemSpec("listened", "positive", 1.7, 1.1),
        ItemSpec("accepted", "positive", 1.6, 1.1),
        ItemSpec("same_as_others", "positive", 1.9, 1.0),
        ItemSpec("hope", "positive", 1.0, 1.2),
        ItemSpec("coping_ideas", "positive", 0.9, 1.0),
        ItemSpec("connection", "positive", 0.7, 1.2),
        ItemSpec("helping_others", "positive", 0.2, 1.0),
        ItemSpec("reason_to_go_out", "positive", 1.2, 0.9),
        ItemSpec("not_taken_seriously", "negative", -2.09, 1.1),
        ItemSpec("compared_worse", "negative", -1.31, 1.2),
        ItemSpec("upset_by_others", "negative", -1.66, 1.0),
        ItemSpec("negative_group", "negative", -1.91, 1.1),
        ItemSpec("judged", "negative", -2.43, 1.2),
        ItemSpec("ending_worry", "ending", -1.15, ENDING_ETA_LOADING),
    ),
    "pex_one_to_one": (
        ItemSpec("listened", "positive", 2.1, 1.1),
        ItemSpec("accepted", "positive", 1.9, 1.1),
        ItemSpec("same_as_others", "positive", 1.2, 1.0),
        ItemSpec("hope", "positive", 1.1, 1.2),
        ItemSpec("coping_ideas", "positive", 1.1, 1.0),
        ItemSpec("connection", "positive", 1.3, 1.2),
        ItemSpec("matched_peer", "positive", 0.6, 1.0),
        ItemSpec("own_pace", "positive", 1.6, 0.9),
        ItemSpec("not_taken_seriously", "negative", -2.31, 1.1),
        ItemSpec("compared_worse", "negative", -2.43, 1.2),
        ItemSpec("judged", "negative", -2.73, 1.2),
        ItemSpec("directive", "negative", -1.99, 1.0),
        ItemSpec("obliged", "negative", -1.53, 1.0),
        ItemSpec("ending_worry", "ending", -1.15, ENDING_ETA_LOADING),
    ),
}

TAKE_UP_CONTEXTS: dict[str, str] = {
    "trusted": "trusted referrer or self-referral",
    "barriers": "any practical barrier recorded",
    "help_wanted": "wanted professional help",
    "interpreter": "needs an interpreter",
    "format_mismatch": "prefers a different format from the one offered",
    "first_time_mother": "first-time mother (no effect given the drivers)",
    "prior_mh_support": "had mental health support before (no effect given the drivers)",
    "deprivation_decile": "per IMD decile (no effect given the drivers)",
}


# --------------------------------------------------------------------------- sampling
def _latents(rng: np.random.Generator, v: np.ndarray, shift: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(eta, xi) given the symptom-change factor ``v`` (see the module docstring)."""
    cov = np.array([[1 - C_ETA**2, R_ETA_XI - C_ETA * C_XI], [R_ETA_XI - C_ETA * C_XI, 1 - C_XI**2]])
    noise = rng.standard_normal((v.size, 2)) @ np.linalg.cholesky(cov).T
    return C_ETA * v + noise[:, 0], shift + C_XI * v + noise[:, 1]


def _answers(rng: np.random.Generator, specs: tuple[ItemSpec, ...], eta: np.ndarray, xi: np.ndarray,
             unplanned_end: np.ndarray) -> np.ndarray:
    """Item answers 0-4 (rows x items) from the ordered-probit model."""
    loc = np.array([s.location for s in specs])
    lam = np.array([s.loading for s in specs])
    factor = np.column_stack([eta if s.valence != "negative" else xi for s in specs])
    ending = np.array([s.valence == "ending" for s in specs])
    star = loc + lam * factor + np.where(ending, UNPLANNED_SHIFT, 0.0) * unplanned_end[:, None]
    star = star + rng.standard_normal(star.shape)
    return (star[:, :, None] > THRESHOLDS[None, None, :]).sum(axis=2).astype(float)


def _occasions(rng: np.random.Generator, occasions: Occasions, started: np.ndarray, ending: np.ndarray,
               last_att: np.ndarray, end_day: np.ndarray, extract_day: int) -> tuple[np.ndarray, ...]:
    """Experience occasions: (taker, day, is_ending, review_number), one per taker and day, ending first."""
    review = (occasions.kind == 1) & (rng.random(occasions.taker.size) < REVIEW_P)
    r_taker, r_day, r_num = occasions.taker[review], occasions.day[review], occasions.review_number[review]
    n = started.size
    closed = started & (ending != MISSING) & (end_day != MISSING) & (end_day <= extract_day)
    asked = closed & (rng.random(n) < ENDING_P)
    at_last = np.isin(ending, [par.ENDINGS.index(e) for e in ENDING_AT_LAST_CONTACT])
    span = np.maximum(end_day - last_att, 0)
    later = to_weekday(last_att + np.floor(rng.random(n) * (span + 1)).astype(np.int64))
    day = np.where(at_last, last_att, np.minimum(later, end_day))
    e_taker = np.flatnonzero(asked)
    taker = np.concatenate([e_taker, r_taker])
    days = np.concatenate([day[e_taker], r_day])
    is_end = np.concatenate([np.ones(e_taker.size, bool), np.zeros(r_taker.size, bool)])
    number = np.concatenate([np.zeros(e_taker.size, np.int64), r_num])
    keep = (days <= extract_day) & (days != MISSING)
    taker, days, is_end, number = taker[keep], days[keep], is_end[keep], number[keep]
    key = (taker.astype(np.int64) << 17) | days
    _, first = np.unique(key, return_index=True)  # ending rows come first, so they win a same-day clash
    return taker[first], days[first], is_end[first], number[first]


def add_experience(seed: int, programmes: tuple[Programme, ...], measures: Measures, takers: np.ndarray,
                   prog: np.ndarray, started: np.ndarray, group: np.ndarray, ending: np.ndarray,
                   symptom_change_factor: np.ndarray, occasions: Occasions, last_att: np.ndarray,
                   end_day: np.ndarray, extract_day: int) -> Measures:
    """Append experience questionnaires to the generator's measure rows (sorted as the others).

    Parameters
    ----------
    seed
        The generator's seed (the experience stream is ``default_rng([seed, STREAM])``).
    takers, prog, started, group, ending, symptom_change_factor, last_att, end_day
        Per taker: participant index, programme index, attended at least once,
        offered a group, ending code (uncensored), symptom-change factor, last
        attended day and the day the case closed (uncensored).
    occasions
        The outcome questionnaire occasions (already cut at the extract day).
    """
    rng = np.random.default_rng([int(seed), STREAM])
    shift = np.array([NEGATIVE_SHIFT.get(p.programme_id, 0.0) for p in programmes])[prog]
    eta, xi = _latents(rng, symptom_change_factor, shift)
    t, day, is_end, number = _occasions(rng, occasions, started, ending, last_att, end_day, extract_day)
    unplanned = (day >= last_att[t]) & ~np.isin(ending[t], [par.ENDINGS.index(e) for e in (*PLANNED_ENDINGS, "unknown")])
    codes = tuple(measures.instrument_codes) + VARIANTS
    items = np.full((t.size, MAX_ITEMS + 1), np.nan)
    variant = np.where(group[t], 0, 1)
    for v_index, code in enumerate(VARIANTS):
        rows = np.flatnonzero(variant == v_index)
        block = _answers(rng, ITEMS[code], eta[t[rows]], xi[t[rows]], unplanned[rows].astype(float))
        _blank_items(rng, block)
        items[rows, : block.shape[1]] = block
    timepoint = np.where(is_end, 1, 1 + number)
    participant = np.concatenate([measures.participant, takers[t]])
    all_day = np.concatenate([measures.day, day])
    position = np.arange(participant.size)  # existing rows first within a participant-day
    order = np.lexsort((position, all_day, participant))
    return replace(
        measures,
        participant=participant[order],
        day=all_day[order],
        instrument=np.concatenate([measures.instrument, len(measures.instrument_codes) + variant])[order],
        timepoint=np.concatenate([measures.timepoint, timepoint])[order],
        items=np.asfortranarray(np.vstack([measures.items, items])[order]),
        instrument_codes=codes,
    )


# --------------------------------------------------------------------------- exact truth
_GH_NODES, _GH_WEIGHTS = np.polynomial.hermite_e.hermegauss(80)
_GH_WEIGHTS = _GH_WEIGHTS / _GH_WEIGHTS.sum()


def _item_moments(spec: ItemSpec, f: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """E[y | f] and Var[y | f] of one item at factor values ``f``."""
    ge = stats.norm.cdf(spec.location + spec.loading * f[:, None] - THRESHOLDS[None, :])  # P(y >= c), c = 1..4
    mean = ge.sum(axis=1)
    second = (ge * (2 * np.arange(1, 5) - 1)).sum(axis=1)
    return mean, second - mean**2


@cache
def subscale_moments(variant: str, xi_mean: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """Moments of X = (positive mean, negative mean): ``Cov(X, v)`` (2,) and ``Var(X)`` (2, 2).

    Gauss-Hermite quadrature over the standard bivariate normal (eta, xi - mu)
    with correlation ``R_ETA_XI``; items are independent given (eta, xi).
    """
    specs = ITEMS[variant]
    pos = [s for s in specs if s.valence == "positive"]
    neg = [s for s in specs if s.valence == "negative"]
    a = _GH_NODES
    mp = np.mean([_item_moments(s, a)[0] for s in pos], axis=0)  # E[P | eta] on the nodes
    vp = np.sum([_item_moments(s, a)[1] for s in pos], axis=0) / len(pos) ** 2
    mn = np.mean([_item_moments(s, a + xi_mean)[0] for s in neg], axis=0)  # E[N | xi] on xi = mu + node
    vn = np.sum([_item_moments(s, a + xi_mean)[1] for s in neg], axis=0) / len(neg) ** 2
    w = _GH_WEIGHTS
    # (eta, xi0) = (z1, r z1 + sqrt(1 - r^2) z2): E[g(eta) h(xi0)] on a grid.
    r = R_ETA_XI
    z1, z2 = np.meshgrid(a, a, indexing="ij")
    xi0 = r * z1 + np.sqrt(1 - r**2) * z2
    ww = w[:, None] * w[None, :]
    hn = np.mean([_item_moments(s, xi0.ravel() + xi_mean)[0] for s in neg], axis=0).reshape(xi0.shape)
    e_p, e_n = float(w @ mp), float(w @ mn)
    cov_pn = float((ww * mp[:, None] * hn).sum()) - e_p * e_n
    var_p = float(w @ vp) + float(w @ mp**2) - e_p**2
    var_n = float(w @ vn) + float(w @ mn**2) - e_n**2
    # E[v | eta, xi0] = b1 eta + b2 xi0 with (b1, b2) = R^-1 c.
    b = np.linalg.solve(np.array([[1.0, r], [r, 1.0]]), np.array([C_ETA, C_XI]))
    e_eta_p, e_xi_n = float(w @ (a * mp)), float(w @ (a * mn))  # E[eta P], E[xi0 N]
    cov_vp = b[0] * e_eta_p + b[1] * r * e_eta_p  # E[xi0 P] = r E[eta P]
    cov_vn = b[0] * r * e_xi_n + b[1] * e_xi_n
    return np.array([cov_vp, cov_vn]), np.array([[var_p, cov_pn], [cov_pn, var_n]])


def experience_slopes(variant: str, outcome: str, xi_mean: float = 0.0) -> tuple[float, float]:
    """Best-linear-predictor slopes of the 12-week latent change of ``outcome`` on (positive, negative) means."""
    model = OUTCOME_MODELS[outcome]
    cov_xv, var_x = subscale_moments(variant, xi_mean)
    r = 1.0 if model.factor == "symptom" else float(par.FACTOR_CORRELATION[2, 3])
    beta = np.linalg.solve(var_x, cov_xv)
    scale = model.change_sd * model.loading * r
    return float(scale * beta[0]), float(scale * beta[1])


def endorse_probability(spec: ItemSpec, *, xi_mean: float = 0.0, unplanned: float = 0.0) -> float:
    """P(item >= 3) over the factor's distribution (review questionnaires for the ending item)."""
    mu = xi_mean if spec.valence == "negative" else 0.0
    shift = UNPLANNED_SHIFT * unplanned if spec.valence == "ending" else 0.0
    return float(stats.norm.cdf((spec.location + spec.loading * mu + shift - THRESHOLDS[2])
                                / np.sqrt(1 + spec.loading**2)))


def any_negative_probability(variant: str, xi_mean: float = 0.0) -> float:
    """P(at least one negative item >= 3): quadrature over xi (items independent given xi)."""
    specs = [s for s in ITEMS[variant] if s.valence == "negative"]
    xi = xi_mean + _GH_NODES
    none = np.prod([1 - stats.norm.cdf(s.location + s.loading * xi - THRESHOLDS[2]) for s in specs], axis=0)
    return float(1 - _GH_WEIGHTS @ none)


def _variants(programme: Programme) -> tuple[str, ...]:
    out = []
    if programme.group_share > 0:
        out.append("pex_group")
    if programme.group_share < 1:
        out.append("pex_one_to_one")
    return tuple(out)


_TEXT = {
    "endorse": "P(item {item} '{code}' answered agree or strongly agree, 3-4) among respondents{note}",
    "ending_worry_planned": ("P(ending item answered 3-4) in questionnaires completed on or after the last attended "
                             "contact, after a planned ending (planned_ending, moved_on_coping)"),
    "ending_worry_unplanned": ("P(ending item answered 3-4) in questionnaires completed on or after the last attended "
                               "contact, after an unplanned ending (any other ending except unknown)"),
    "any_negative": "P(at least one negative-mechanism item answered 3-4) among respondents",
    "positive_slope": ("slope of the 12-week latent change per point of the {variant} positive-mechanism mean (0-4), "
                       "holding the negative mean fixed (best linear predictor within the programme)"),
    "negative_slope": ("slope of the 12-week latent change per point of the {variant} negative-mechanism mean (0-4), "
                       "holding the positive mean fixed (best linear predictor within the programme)"),
    "take_up": "log odds ratio of take-up: {what} (logistic model with programme intercepts)",
}


def experience_truth(programmes: tuple[Programme, ...]) -> pd.DataFrame:
    """True-effect rows for the experience questionnaires and the C-M-O relations (same columns as ``true_effects``)."""
    rows: list[tuple[str, str | None, str, float, str]] = []
    for prog in programmes:
        mu = NEGATIVE_SHIFT.get(prog.programme_id, 0.0)
        for context, what in TAKE_UP_CONTEXTS.items():
            beta = par.TAKE_UP_BETA.get(context, 0.0)
            rows.append((prog.programme_id, None, f"take_up_log_odds_{context}", beta,
                         _TEXT["take_up"].format(what=what)))
        for variant in _variants(prog):
            for k, spec in enumerate(ITEMS[variant], start=1):
                note = " (questionnaires at reviews)" if spec.valence == "ending" else ""
                rows.append((prog.programme_id, variant, f"endorse_{spec.code}", endorse_probability(spec, xi_mean=mu),
                             _TEXT["endorse"].format(item=k, code=spec.code, note=note)))
                if spec.valence == "ending":
                    for label, u in (("planned", 0.0), ("unplanned", 1.0)):
                        rows.append((prog.programme_id, variant, f"ending_worry_{label}",
                                     endorse_probability(spec, unplanned=u), _TEXT[f"ending_worry_{label}"]))
            rows.append((prog.programme_id, variant, "endorse_any_negative", any_negative_probability(variant, mu),
                         _TEXT["any_negative"]))
            for outcome in prog.instruments:
                pos, neg = experience_slopes(variant, outcome, mu)
                rows.append((prog.programme_id, outcome, f"{variant}_positive_slope", pos,
                             _TEXT["positive_slope"].format(variant=variant)))
                rows.append((prog.programme_id, outcome, f"{variant}_negative_slope", neg,
                             _TEXT["negative_slope"].format(variant=variant)))
    frame = pd.DataFrame(rows, columns=["programme_id", "instrument", "quantity", "value", "description"])
    frame["value"] = frame["value"].astype(float).round(6)
    return frame.astype({"programme_id": "string", "instrument": "string", "quantity": "string",
                         "description": "string"})
