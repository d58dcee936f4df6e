"""Parameters of the data-generating model: programmes, context mixes, outcome model.

Everything the generator draws from is defined here, as data, so that the
true-effect calculations in :mod:`evalkit.generator._truth` read exactly the
same numbers as the samplers. The distributions are plausible for English
community perinatal peer support; they are invented for testing, not
estimates of any real service.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from types import MappingProxyType
from typing import Literal

import numpy as np

Template = Literal["group", "phone", "home", "paid"]

RAMP_WEEKS = 8.0
"""Weeks after the first attended contact over which the change accrues linearly (then a plateau)."""
MAX_DOSE = 60
"""Largest number of attended contacts in one episode."""
PRIOR_SUPPORT_RATE = 0.45
"""Share of referrals who had mental health support before (raises baseline severity)."""
HELP_WANTED_RATE = 0.30
"""Share of referrals who wanted professional rather than peer help (lowers take-up)."""
INTERPRETER_RATE = 0.40
"""Share of mothers whose main language is not English who need an interpreter."""

# ---------------------------------------------------------------------------
# Take-up model: logit P(take up) = alpha_programme + sum(beta * driver)
# ---------------------------------------------------------------------------
TAKE_UP_DRIVERS: tuple[str, ...] = ("trusted", "barriers", "help_wanted", "interpreter", "format_mismatch")
TAKE_UP_BETA: Mapping[str, float] = MappingProxyType({
    "trusted": 0.55,  # referred by someone she trusts, or self-referred
    "barriers": -0.75,  # any practical barrier (time, travel, cost, childcare, health)
    "help_wanted": -0.60,  # wanted professional help rather than peer support
    "interpreter": -0.50,  # needs an interpreter
    "format_mismatch": -1.00,  # prefers a different format from the one offered
})

# ---------------------------------------------------------------------------
# Referral context
# ---------------------------------------------------------------------------
REFERRAL_SOURCES: tuple[str, ...] = (
    "self", "midwife", "health_visitor", "gp", "perinatal_mental_health_team", "talking_therapies",
    "other_health_professional", "social_care", "other_organisation", "friend_or_family", "other",
)
SOURCE_BY_STAGE: Mapping[str, tuple[float, ...]] = MappingProxyType({
    "antenatal": (0.15, 0.40, 0.05, 0.12, 0.07, 0.04, 0.05, 0.03, 0.05, 0.03, 0.01),
    "postnatal": (0.18, 0.07, 0.36, 0.12, 0.05, 0.05, 0.04, 0.04, 0.05, 0.03, 0.01),
})
TRUSTED_BY_SOURCE: tuple[float, ...] = (1.0, 0.72, 0.72, 0.55, 0.65, 0.55, 0.50, 0.40, 0.60, 0.90, 0.50)
"""P(she trusts the referrer) by source; self-referral counts as trusted (the field is left blank)."""
TRUST_NOT_ASKED = 0.12

ETHNICITIES: tuple[str, ...] = (
    "asian_indian", "asian_pakistani", "asian_bangladeshi", "asian_chinese", "asian_other",
    "black_caribbean", "black_african", "black_other",
    "mixed_white_black_caribbean", "mixed_white_black_african", "mixed_white_asian", "mixed_other",
    "white_british", "white_irish", "white_gypsy_irish_traveller", "white_roma", "white_other",
    "other_arab", "other_any", "not_stated",
)
_ETHNICITY_ENGLAND = (0.022, 0.032, 0.008, 0.006, 0.010, 0.006, 0.018, 0.003, 0.010, 0.004, 0.006, 0.005,
                      0.775, 0.004, 0.002, 0.002, 0.055, 0.005, 0.007, 0.020)
_ETHNICITY_LONDON = (0.070, 0.035, 0.045, 0.018, 0.050, 0.040, 0.085, 0.020, 0.015, 0.008, 0.014, 0.018,
                     0.330, 0.020, 0.001, 0.004, 0.160, 0.015, 0.035, 0.020)
REGION_DIVERSITY: Mapping[str, float] = MappingProxyType({
    "London": 1.0, "West Midlands": 0.45, "Yorkshire and The Humber": 0.30, "North West": 0.30,
    "East Midlands": 0.25, "East of England": 0.20, "South East": 0.20, "North East": 0.05,
    "South West": 0.05, "Wales": 0.05,
})
"""Weight of the London ethnicity mix blended into the England mix, by region (rough, for realism)."""

LANGUAGES: tuple[str, ...] = (
    "en", "ur", "pa", "bn", "syl", "gu", "hi", "ta", "pl", "ro", "lt", "pt", "es", "bg", "cs", "sk",
    "so", "ar", "fr", "ti", "zh", "fa", "ps", "ku", "tr",
)
_LANGUAGE_BY_ETHNICITY: Mapping[str, Mapping[str, float]] = MappingProxyType({
    "asian_indian": {"en": 0.75, "gu": 0.10, "pa": 0.10, "hi": 0.05},
    "asian_pakistani": {"en": 0.60, "ur": 0.30, "pa": 0.10},
    "asian_bangladeshi": {"en": 0.55, "bn": 0.25, "syl": 0.20},
    "asian_chinese": {"en": 0.55, "zh": 0.45},
    "asian_other": {"en": 0.60, "ta": 0.15, "fa": 0.10, "ps": 0.15},
    "black_african": {"en": 0.75, "so": 0.10, "fr": 0.08, "ti": 0.07},
    "white_roma": {"ro": 0.55, "cs": 0.20, "sk": 0.20, "en": 0.05},
    "white_other": {"en": 0.35, "pl": 0.28, "ro": 0.20, "lt": 0.05, "pt": 0.05, "es": 0.04, "bg": 0.03},
    "other_arab": {"ar": 0.70, "en": 0.30},
    "other_any": {"en": 0.55, "ku": 0.15, "tr": 0.15, "fa": 0.15},
    "not_stated": {"en": 0.92, "pl": 0.04, "ur": 0.04},
})
"""Main language by ethnicity; groups not listed speak English."""

AGE_BANDS: tuple[str, ...] = ("under_20", "20_24", "25_29", "30_34", "35_39", "40_plus")
AGE_BAND_P: tuple[float, ...] = (0.04, 0.14, 0.26, 0.32, 0.19, 0.05)
PARTNER_BY_AGE: tuple[float, ...] = (0.45, 0.70, 0.82, 0.87, 0.87, 0.85)
FIRST_TIME_BY_STAGE: Mapping[str, float] = MappingProxyType({"antenatal": 0.50, "postnatal": 0.42})
PROFESSIONAL_SUPPORT_BY_PRIOR: tuple[float, float] = (0.12, 0.35)

BARRIERS: tuple[str, ...] = ("time", "travel", "cost", "childcare", "health")
BARRIER_P: Mapping[str, float] = MappingProxyType(
    {"time": 0.16, "travel": 0.12, "cost": 0.06, "childcare": 0.16, "health": 0.06}
)
BARRIER_DEPRIVATION_SLOPE = 0.08
"""Relative rise in each barrier's probability per decile below the middle (5.5)."""
BARRIERS_NOT_RECORDED = 0.08

FORMATS: tuple[str, ...] = ("group", "one_to_one_in_person", "telephone", "online", "no_preference")
NO_PREFERENCE_SHARE = 0.30

DECLINE_REASONS: tuple[str, ...] = (
    "practical_barriers", "format_not_suitable", "wanted_professional_help", "already_supported",
    "feeling_better", "worried_about_judgement", "cultural_or_language", "not_ready", "could_not_contact",
    "not_eligible", "other", "unknown",
)
DECLINE_BASE_WEIGHT: tuple[float, ...] = (0.2, 0.2, 0.2, 0.5, 0.6, 0.7, 0.1, 1.0, 0.9, 0.15, 0.3, 0.5)
DECLINE_DRIVER_WEIGHT: Mapping[str, tuple[str, float]] = MappingProxyType({
    "barriers": ("practical_barriers", 3.0),
    "format_mismatch": ("format_not_suitable", 3.0),
    "help_wanted": ("wanted_professional_help", 2.5),
    "interpreter": ("cultural_or_language", 2.0),
})

ENDINGS: tuple[str, ...] = (
    "planned_ending", "moved_on_coping", "stopped_attending", "moved_away", "referred_elsewhere",
    "returned_to_work", "programme_ended", "other", "unknown",
)
ENDING_OPEN_WEIGHT: tuple[float, ...] = (0.20, 0.25, 0.33, 0.03, 0.04, 0.10, 0.0, 0.02, 0.03)
"""Endings in open-ended (drop-in) support."""
ENDING_DROPOUT_WEIGHT: tuple[float, ...] = (0.0, 0.17, 0.58, 0.04, 0.08, 0.05, 0.0, 0.03, 0.05)
"""Endings before the planned number of sessions."""
ENDING_COMPLETED_WEIGHT: tuple[float, ...] = (0.88, 0.10, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.02)
"""Endings after the planned number of sessions."""
ENDING_NOT_STARTED_WEIGHT: tuple[float, ...] = (0.0, 0.0, 0.70, 0.05, 0.05, 0.0, 0.0, 0.0, 0.20)
"""Endings of mothers who took up the offer but never attended."""
ENDING_IMPROVEMENT_TILT: Mapping[str, float] = MappingProxyType({"moved_on_coping": -0.6, "referred_elsewhere": 0.8})
"""Log-weight change per SD of the symptom-change factor (negative = improving)."""

CONTACT_KINDS: tuple[str, ...] = ("group_session", "one_to_one_in_person", "telephone", "online", "text")
CONTACT_STATUSES: tuple[str, ...] = ("attended", "did_not_attend", "cancelled_by_participant", "cancelled_by_programme")
MISSED_STATUS_P_ONE_TO_ONE: tuple[float, float, float] = (0.50, 0.35, 0.15)
MISSED_STATUS_P_GROUP: tuple[float, float, float] = (0.65, 0.35, 0.0)

GROUP_SIZE_TARGET = 8.0
"""Named mothers per group session the venue count is sized for."""
DROP_IN_MEAN = 1.0
"""Mean number of unnamed drop-in mothers counted at a group session (Poisson)."""
CASELOAD = 12.0
"""Mothers per one-to-one peer supporter over the whole period (sizes the pool)."""


# ---------------------------------------------------------------------------
# Outcome model, per instrument (raw-sum metric of keyed item scores)
# ---------------------------------------------------------------------------
FACTORS: tuple[str, ...] = ("symptom", "wellbeing")
FACTOR_CORRELATION = np.array([
    # z_symptom, z_wellbeing, v_symptom, v_wellbeing   (z: baseline, v: change)
    [1.00, -0.60, -0.30, 0.20],
    [-0.60, 1.00, 0.20, -0.30],
    [-0.30, 0.20, 1.00, -0.82],
    [0.20, -0.30, -0.82, 1.00],
])
"""Correlation of the person-level baseline (z) and change (v) factors.

Symptom factors are oriented 'higher = worse', wellbeing factors 'higher = better'.
"""
BASELINE_CHANGE_CORRELATION = -0.30
"""corr(z_j, v_j) within every instrument: higher baselines change more (down for symptoms, up for wellbeing)."""


@dataclass(frozen=True)
class OutcomeModel:
    """Latent-score parameters of one instrument, on its raw-sum metric (sum of keyed items, e.g. WEMWBS 14-70).

    Attributes
    ----------
    code
        Instrument registry code.
    factor
        ``"symptom"`` (higher = worse) or ``"wellbeing"`` (higher = better).
    loading
        Loading ``lambda`` of the instrument's person scores on its factor.
    baseline_mean
        ``mu``: latent baseline mean for a mother without prior support in a programme with no severity shift.
    baseline_sd
        ``sigma_b``: SD of the person's latent baseline.
    prior_support_shift
        ``kappa``: points added in the 'worse' direction when she had prior mental health support.
    occasion_sd
        ``sigma_e``: SD of the occasion (person x time) deviation shared by all items.
    change_sd
        ``tau``: SD of the person's deviation from the programme's mean change.
    change_per_session
        ``gamma``: change per attended contact above the programme's mean dose (points, signed).
    item_profile
        Offsets ``b_k`` of item means from the average item (sum zero), in item points.
    binomial_share
        ``w``: share of item responses drawn binomially (wider) instead of by stochastic rounding.
    """

    code: str
    factor: Literal["symptom", "wellbeing"]
    loading: float
    baseline_mean: float
    baseline_sd: float
    prior_support_shift: float
    occasion_sd: float
    change_sd: float
    change_per_session: float
    item_profile: tuple[float, ...]
    binomial_share: float = 0.12

    @property
    def worse(self) -> int:
        """+1 when a higher score is worse (symptoms), -1 when it is better."""
        return 1 if self.factor == "symptom" else -1


def _profile(*values: float) -> tuple[float, ...]:
    arr = np.asarray(values, dtype=float)
    return tuple(np.round(arr - arr.mean(), 4))


OUTCOME_MODELS: Mapping[str, OutcomeModel] = MappingProxyType({
    "epds": OutcomeModel("epds", "symptom", 0.92, 13.9, 3.9, 1.2, 1.6, 4.0, -0.15,
                         _profile(0.1, 0.2, 0.4, 0.5, 0.3, 0.5, 0.1, 0.3, 0.0, -1.0)),
    "phq9": OutcomeModel("phq9", "symptom", 0.90, 12.4, 4.2, 1.3, 1.8, 4.5, -0.15,
                         _profile(0.2, 0.2, 0.6, 0.7, 0.3, 0.2, 0.0, -0.4, -0.9), 0.24),
    "gad7": OutcomeModel("gad7", "symptom", 0.80, 10.8, 3.8, 1.0, 1.6, 4.0, -0.12,
                         _profile(0.3, 0.1, 0.3, 0.1, -0.3, 0.1, -0.3)),
    "wemwbs": OutcomeModel("wemwbs", "wellbeing", 0.92, 39.5, 7.0, 2.2, 2.8, 7.0, 0.25,
                           _profile(0.1, 0.3, 0.2, -0.1, 0.0, 0.2, 0.3, 0.1, -0.2, 0.2, 0.2, 0.0, -0.3, 0.0), 0.35),
    "swemwbs": OutcomeModel("swemwbs", "wellbeing", 0.92, 19.5, 4.2, 1.1, 1.4, 3.2, 0.12,
                            _profile(0.1, 0.3, 0.2, 0.1, 0.0, -0.1, 0.2), 0.30),
    "qpr15": OutcomeModel("qpr15", "wellbeing", 0.85, 29.0, 7.8, 2.5, 3.2, 8.0, 0.25,
                          _profile(0.2, 0.3, 0.1, 0.0, -0.2, 0.1, 0.3, 0.0, -0.1, 0.2, 0.0, -0.3, 0.1, 0.2, -0.1), 0.28),
})
"""Outcome models; ``baseline_mean`` is on the sum-of-keyed-items metric (WEMWBS 14-70, SWEMWBS raw 7-35)."""


# ---------------------------------------------------------------------------
# Engagement (dose) models
# ---------------------------------------------------------------------------
def negative_binomial_pmf(k: np.ndarray, mean: float, size: float) -> np.ndarray:
    """P(K = k) of the negative binomial with the given mean and size (numpy's parametrisation)."""
    prob = size / (size + mean)
    log_pmf = [math.lgamma(x + size) - math.lgamma(size) - math.lgamma(x + 1) + size * math.log(prob)
               + x * math.log1p(-prob) for x in np.asarray(k, dtype=float)]
    return np.exp(np.array(log_pmf))


@dataclass(frozen=True)
class DoseModel:
    """Distribution of attended contacts among mothers who attended at least once.

    ``kind="open"``: ``1 + NegativeBinomial`` with mean ``mean`` and size ``dispersion`` (drop-in groups).
    ``kind="planned"``: after each attended contact before ``planned`` she stops with probability
    ``dropout_hazard``; a mother who reaches ``planned`` has up to four extra contacts with probability
    ``extension``. Both are truncated at :data:`MAX_DOSE`.
    """

    kind: Literal["open", "planned"]
    mean: float = 7.0
    dispersion: float = 1.1
    planned: int = 8
    dropout_hazard: float = 0.08
    extension: float = 0.15

    def pmf(self) -> np.ndarray:
        """P(dose = d) for d = 0..MAX_DOSE (``pmf[0] == 0``)."""
        d = np.arange(MAX_DOSE + 1)
        p = np.zeros(MAX_DOSE + 1)
        if self.kind == "open":
            p[1:] = negative_binomial_pmf(d[1:] - 1, self.mean - 1.0, self.dispersion)
        else:
            k = np.arange(1, self.planned)
            p[1:self.planned] = (1 - self.dropout_hazard) ** (k - 1) * self.dropout_hazard
            reach = (1 - self.dropout_hazard) ** (self.planned - 1)
            p[self.planned] = reach * (1 - self.extension)
            p[self.planned + 1:self.planned + 5] = reach * self.extension / 4
        return p / p.sum()

    def mean_dose(self) -> float:
        """Expected attended contacts (``d-bar`` in the model)."""
        pmf = self.pmf()
        return float((np.arange(MAX_DOSE + 1) * pmf).sum())


# ---------------------------------------------------------------------------
# Programmes
# ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Programme:
    """One generated programme: the row of the programmes table plus its generating parameters."""

    programme_id: str
    name: str
    provider: str
    format: str
    mode: str
    delivered_by: str
    facilitation: str
    planned_sessions: int | None
    eligibility: str
    region: str
    template: Template
    referral_weight: float
    take_up_target: float
    start_rate: float
    dose: DoseModel
    attend_prob: float
    effects: Mapping[str, float]
    severity_shift: float
    antenatal_share: float
    deprivation_slope: float
    barrier_scale: Mapping[str, float]
    format_mismatch: float
    review_weeks: int
    baseline_rate: float
    review_rate: float
    group_share: float = 0.0
    session_minutes: int = 120
    one_to_one_kinds: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({}))
    gap_days: Mapping[int, float] = field(default_factory=lambda: MappingProxyType({7: 1.0}))
    peer_match_rate: float = 0.4
    supporter_prefix: str = "V"

    @property
    def instruments(self) -> tuple[str, ...]:
        """Instruments this programme collects, EPDS first."""
        return tuple(self.effects)

    @property
    def has_groups(self) -> bool:
        """Whether some participants are offered group sessions."""
        return self.group_share > 0


def _m(**kw: float) -> Mapping[str, float]:
    return MappingProxyType(dict(kw))


BASE_PROGRAMMES: tuple[Programme, ...] = (
    Programme(
        programme_id="P-GROUP", name="Bumps and Babes drop-in group", provider="Northside Mums Charity",
        format="group", mode="in_person", delivered_by="volunteer_peers", facilitation="co_facilitated",
        planned_sessions=None,
        eligibility="Pregnant or baby under 1; low mood, anxiety or feeling isolated; drop in any week",
        region="North West", template="group", referral_weight=0.30, take_up_target=0.46, start_rate=0.85,
        dose=DoseModel("open", mean=7.0, dispersion=1.1), attend_prob=0.80,
        effects=_m(epds=-4.0, wemwbs=6.0, qpr15=5.0), severity_shift=0.0, antenatal_share=0.25,
        deprivation_slope=0.22, barrier_scale=_m(time=1.0, travel=1.3, cost=1.0, childcare=1.2, health=1.0),
        format_mismatch=0.28, review_weeks=6, baseline_rate=0.85, review_rate=0.70,
        group_share=1.0, session_minutes=120,
    ),
    Programme(
        programme_id="P-PHONE", name="Listening Line telephone peer support", provider="Eastfield Perinatal Support",
        format="one_to_one", mode="telephone", delivered_by="volunteer_peers", facilitation="professional",
        planned_sessions=8, eligibility="Pregnant or baby under 2; mild to moderate anxiety or depression",
        region="Yorkshire and The Humber", template="phone", referral_weight=0.25, take_up_target=0.66,
        start_rate=0.92, dose=DoseModel("planned", planned=8, dropout_hazard=0.09), attend_prob=0.78,
        effects=_m(epds=-4.5, phq9=-4.0, gad7=-3.6, swemwbs=2.6), severity_shift=0.10, antenatal_share=0.30,
        deprivation_slope=0.15, barrier_scale=_m(time=1.0, travel=0.2, cost=0.5, childcare=0.4, health=0.6),
        format_mismatch=0.18, review_weeks=4, baseline_rate=0.80, review_rate=0.72,
        one_to_one_kinds=_m(telephone=0.97, text=0.03),
        gap_days=MappingProxyType({7: 0.70, 14: 0.20, 5: 0.05, 10: 0.05}),
    ),
    Programme(
        programme_id="P-HOME", name="Home visiting peer support", provider="Riverside Family Support",
        format="one_to_one", mode="in_person", delivered_by="volunteer_peers", facilitation="professional",
        planned_sessions=10, eligibility="Pregnant (from 20 weeks) or baby under 1; feeling low, anxious or isolated",
        region="West Midlands", template="home", referral_weight=0.20, take_up_target=0.60, start_rate=0.93,
        dose=DoseModel("planned", planned=10, dropout_hazard=0.08), attend_prob=0.82,
        effects=_m(epds=-5.0, swemwbs=3.0, qpr15=6.0), severity_shift=0.15, antenatal_share=0.30,
        deprivation_slope=0.25, barrier_scale=_m(time=1.0, travel=0.2, cost=0.4, childcare=0.3, health=0.6),
        format_mismatch=0.12, review_weeks=5, baseline_rate=0.88, review_rate=0.75,
        one_to_one_kinds=_m(one_to_one_in_person=0.88, telephone=0.12),
        gap_days=MappingProxyType({7: 0.55, 14: 0.30, 10: 0.10, 21: 0.05}),
    ),
    Programme(
        programme_id="P-PAID", name="Perinatal peer supporter service", provider="Southbank Maternal Wellbeing",
        format="mixed", mode="mixed", delivered_by="paid_peers", facilitation="co_facilitated",
        planned_sessions=12,
        eligibility="Pregnant or baby under 2; moderate anxiety or depression, including mothers under specialist care",
        region="London", template="paid", referral_weight=0.25, take_up_target=0.56, start_rate=0.90,
        dose=DoseModel("planned", planned=12, dropout_hazard=0.08), attend_prob=0.80,
        effects=_m(epds=-4.8, wemwbs=7.0), severity_shift=0.25, antenatal_share=0.35,
        deprivation_slope=0.20, barrier_scale=_m(time=1.0, travel=0.8, cost=0.8, childcare=0.8, health=1.0),
        format_mismatch=0.15, review_weeks=6, baseline_rate=0.85, review_rate=0.70,
        group_share=0.35, session_minutes=90,
        one_to_one_kinds=_m(one_to_one_in_person=0.80, telephone=0.15, online=0.05),
        gap_days=MappingProxyType({7: 0.40, 14: 0.45, 21: 0.15}), peer_match_rate=0.6, supporter_prefix="S",
    ),
)
"""The four base programmes (ids stable), mirroring formats described in the literature."""

OUTLIER_EFFECT_SCALE = 0.1
"""P-OUTLIER's mean changes are this fraction of P-GROUP's (far worse than every other programme)."""

EXTRA_REGIONS: tuple[str, ...] = (
    "North East", "East Midlands", "East of England", "South East", "South West", "Wales",
    "London", "West Midlands", "Yorkshire and The Humber", "North West",
)
EXTRA_PROVIDERS: tuple[str, ...] = (
    "Hillside Mothers Together", "Valley Family Hub", "Harbour Parents Network", "Meadowbank Mums",
    "Castlegate Community Trust", "Brookside Children's Centre Friends", "Oakfield Perinatal Peers",
    "Moorland Mothers' Circle",
)
PROGRAMME_VARIATION_SEED = 20260
"""Seed of the programme-variation stream: true effects depend on the programme's position only."""


def _vary(base: Programme, index: int, copy: int, region: str) -> Programme:
    """A further site of ``base``: same format, slightly different true effects and context."""
    rng = np.random.default_rng([PROGRAMME_VARIATION_SEED, index])
    scale = float(np.exp(rng.normal(0.0, 0.2)))
    effects = {k: round(v * scale * float(np.exp(rng.normal(0.0, 0.05))), 2) for k, v in base.effects.items()}
    dose = base.dose
    if dose.kind == "open":
        dose = replace(dose, mean=round(dose.mean * float(np.exp(rng.normal(0.0, 0.15))), 2))
    else:
        dose = replace(dose, dropout_hazard=round(dose.dropout_hazard * float(np.exp(rng.normal(0.0, 0.2))), 4))
    return replace(
        base,
        programme_id=f"{base.programme_id}-{copy}",
        name=f"{base.name} ({region})",
        provider=EXTRA_PROVIDERS[index % len(EXTRA_PROVIDERS)],
        region=region,
        referral_weight=round(base.referral_weight * float(np.exp(rng.normal(0.0, 0.35))), 4),
        take_up_target=round(float(np.clip(base.take_up_target + rng.normal(0.0, 0.06), 0.40, 0.70)), 3),
        severity_shift=round(base.severity_shift + float(rng.normal(0.0, 0.1)), 3),
        deprivation_slope=round(float(np.clip(base.deprivation_slope + rng.normal(0.0, 0.05), 0.05, 0.35)), 3),
        dose=dose,
        effects=MappingProxyType(effects),
    )


def _outlier() -> Programme:
    group = BASE_PROGRAMMES[0]
    return replace(
        group,
        programme_id="P-OUTLIER", name="Coffee and chat drop-in", provider="Westway Parents Network",
        facilitation="peer", region="South West", referral_weight=0.25, take_up_target=0.50,
        effects=MappingProxyType({k: round(v * OUTLIER_EFFECT_SCALE, 2) for k, v in group.effects.items()}),
    )


@cache
def build_programmes(n_programmes: int, outlier_programme: bool) -> tuple[Programme, ...]:
    """The programmes of a generated dataset.

    The first four are :data:`BASE_PROGRAMMES`; further ones cycle the templates
    (``P-GROUP-2``, ``P-PHONE-2``, ...) with varied regions and slightly varied
    true effects; ``outlier_programme`` appends ``P-OUTLIER``. The result depends
    only on the arguments, never on the data seed, so repeated simulations share
    one truth.
    """
    if n_programmes < 1:
        raise ValueError(f"n_programmes must be at least 1; got {n_programmes}")
    out: list[Programme] = []
    for i in range(n_programmes):
        base = BASE_PROGRAMMES[i % len(BASE_PROGRAMMES)]
        copy = i // len(BASE_PROGRAMMES) + 1
        if copy == 1:
            out.append(base)
        else:
            out.append(_vary(base, i, copy, EXTRA_REGIONS[(i - len(BASE_PROGRAMMES)) % len(EXTRA_REGIONS)]))
    if outlier_programme:
        out.append(_outlier())
    return tuple(out)


def ethnicity_p(region: str) -> np.ndarray:
    """Ethnicity probabilities (order of :data:`ETHNICITIES`) for a region."""
    w = REGION_DIVERSITY.get(region, 0.2)
    p = (1 - w) * np.asarray(_ETHNICITY_ENGLAND) + w * np.asarray(_ETHNICITY_LONDON)
    return p / p.sum()


@cache
def language_matrix() -> np.ndarray:
    """P(main language | ethnicity): rows follow :data:`ETHNICITIES`, columns :data:`LANGUAGES`."""
    m = np.zeros((len(ETHNICITIES), len(LANGUAGES)))
    for i, eth in enumerate(ETHNICITIES):
        mix = _LANGUAGE_BY_ETHNICITY.get(eth, {"en": 1.0})
        for lang, p in mix.items():
            m[i, LANGUAGES.index(lang)] = p
    m /= m.sum(axis=1, keepdims=True)
    m.setflags(write=False)
    return m


def deprivation_p(programme: Programme) -> np.ndarray:
    """P(IMD decile = 1..10), skewed towards deprived areas."""
    p = np.exp(-programme.deprivation_slope * np.arange(10))
    return p / p.sum()


def barrier_p(programme: Programme, decile: np.ndarray) -> np.ndarray:
    """P(barrier) for each decile value (rows) and barrier (columns of :data:`BARRIERS`)."""
    factor = 1.0 + BARRIER_DEPRIVATION_SLOPE * (5.5 - np.asarray(decile, dtype=float))
    base = np.array([BARRIER_P[b] * programme.barrier_scale.get(b, 1.0) for b in BARRIERS])
    return np.clip(factor[:, None] * base[None, :], 0.0, 0.9)
