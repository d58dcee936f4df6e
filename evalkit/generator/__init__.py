r"""Seeded generator of realistic perinatal peer-support programmes with known true effects.

:func:`generate_programmes` simulates referrals to community perinatal mental
health peer-support programmes (drop-in groups, telephone and home-visiting
support from trained volunteers, paid peer supporters), the contacts they were
offered and the questionnaires they completed, and returns them as the five
canonical tables together with the **true effects** that generated them.
:func:`write_examples` writes them as CSV files with a ``catalog.json``. The
same ``seed`` always gives identical frames; the true effects depend only on
the programmes (``n_programmes``, ``outlier_programme``), never on the seed or
the sample size, so repeated simulations share one truth.

Programmes
----------
=============  ==========  =========  ===============  =======  ============================
id             format      mode       delivered by     planned  instruments
=============  ==========  =========  ===============  =======  ============================
``P-GROUP``    group       in_person  volunteer_peers  (open)   epds, wemwbs, qpr15
``P-PHONE``    one_to_one  telephone  volunteer_peers  8        epds, phq9, gad7, swemwbs
``P-HOME``     one_to_one  in_person  volunteer_peers  10       epds, swemwbs, qpr15
``P-PAID``     mixed       mixed      paid_peers       12       epds, wemwbs
=============  ==========  =========  ===============  =======  ============================

With ``n_programmes > 4`` the templates repeat as ``P-GROUP-2``, ``P-PHONE-2``,
... in other regions, with true effects scaled by ``exp(N(0, 0.2))`` (drawn from
a fixed stream keyed by the programme's position), slightly different take-up,
severity and drop-out. ``outlier_programme=True`` adds ``P-OUTLIER``, a drop-in
group whose mean changes are a tenth of P-GROUP's (EPDS -0.4 instead of -4.0):
far fewer reliable improvements, an outlier a 99.8% funnel limit flags once it
has about 100 complete pairs.

The data-generating model
-------------------------
Notation: mother (referral) *i* in programme *p*, instrument *j*, *t* = weeks
since her first attended contact. All draws are vectorised numpy from
``numpy.random.default_rng(seed)``; parameters live in
``evalkit.generator._parameters``.

**1. Referral and context.** Referral dates are uniform over
``referral_months`` from ``start`` (weekends moved to Monday). About 30% are
antenatal (``weeks_pregnant`` 12-38), the rest postnatal (``baby_age_weeks``
0-52, mostly young babies). Referral source depends on stage (midwives
antenatally, health visitors postnatally, ~17% self-referrals); she trusts the
referrer with a source-specific probability (recorded blank for self-referrals
and for 12% not asked). Ethnicity follows a rough England mix (ONS 2021
categories) blended with a London mix by region; main language depends on
ethnicity (ISO 639 codes, mostly ``en``; 40% of non-English speakers need an
interpreter). IMD decile is skewed to deprived areas; practical barriers
(time, travel, cost, childcare, health) are more common in deprived deciles
and depend on the format (few travel barriers for telephone support).

**2. Take-up.**

.. math::

   \operatorname{logit} P(\text{took\_up}_i) = \alpha_p + 0.55\,T_i - 0.75\,B_i - 0.60\,H_i - 0.50\,I_i - 1.00\,M_i

with *T* trusted referrer or self-referral, *B* any practical barrier, *H*
wanted professional rather than peer help, *I* needs an interpreter, *M* she
prefers a different format from the one offered. The five drivers are
independent by construction, so the expected rate is an exact sum over their
32 combinations; :math:`\alpha_p` is solved so that it equals the programme's
target (35-75%; e.g. 46% for the drop-in group, 66% for telephone support). A
mother who declines gets a coded reason whose weights rise with her drivers;
``could_not_contact`` referrals were never offered (blank ``offered_date``).

**3. Engagement (dose).** A mother who took up attends at least once with
probability ``start_rate``. Her dose :math:`D_i` (attended contacts) follows
the programme's dose model, truncated at 60: open-ended groups
:math:`1 + \text{NegBin}(\text{mean}-1, \text{size})`; planned support stops
with probability *h* after each contact before the planned number and may run
up to four contacts over; :math:`\bar d_p = E[D]`. Offered contacts are her
*D* attended contacts plus :math:`\text{NegBin}(D, \text{attend\_prob})` missed
ones (did not attend, cancelled by her or by the programme) in random order,
the last of them attended; ``stopped_attending`` episodes end with one or two
further missed contacts. Group members attend their venue's weekly meeting
with skipped weeks (head count = named attendees + Poisson(1) unnamed
drop-ins); one-to-one contacts are one to three weeks apart. The ending
depends on the dose (planned ending once the planned sessions are reached)
and, for drop-outs and open groups, on her improvement (improving mothers more
often ``moved_on_coping``, worsening ones more often ``referred_elsewhere``).

**4. Outcomes.** On the raw-sum metric of keyed items (range :math:`[L_j, U_j]`),

.. math::

   \theta_{ij}(t) &= \operatorname{clip}\bigl(b_{ij} + \Delta_{ij} \min(t/8, 1) + \sigma_{\varepsilon j}\,\varepsilon_{ijt},\; L_j, U_j\bigr), \quad t \le 0 \Rightarrow \min(\cdot) = 0 \\
   b_{ij} &= \mu_j + s_j(\text{shift}_p\,\sigma_{bj} + \kappa_j\,\text{prior}_i) + \sigma_{bj}\, z_{ij} \\
   \Delta_{ij} &= \delta_{pj} + \gamma_j (D_i - \bar d_p) + \tau_j\, v_{ij}

with :math:`s_j = +1` for symptom scales (EPDS, PHQ-9, GAD-7) and -1 for
wellbeing/recovery (WEMWBS, SWEMWBS, QPR-15); *prior* = prior mental health
support. :math:`z_{ij}, v_{ij}` are standard normal with correlation -0.3
(higher baselines improve more), built from person factors (baseline and
change, symptom and wellbeing; change factors correlated -0.82, so observed
EPDS and WEMWBS changes correlate about -0.5 and a realistic group improves
reliably in wellbeing while EPDS stays at 13 or more: *recovery within*);
:math:`\varepsilon` is independent per occasion. Item means
:math:`m_{k} = L + v + b_k \cdot 2\min(v, R - v)/R` (:math:`v = (\theta - nL)/n`,
item profile :math:`b_k` summing to 0) stay in range and add up to
:math:`\theta`; each response is :math:`L + \text{Binomial}(R, (m_k - L)/R)`
with probability *w* and :math:`m_k` randomly rounded otherwise, so
:math:`E[\sum_k \text{item}_k \mid \theta] = \theta` exactly. Cronbach's alpha
is about 0.88-0.93; baseline EPDS mean about 14.5-15.5 (SD about 4.5), about 70%
at 13 or more. Reported scores are item sums (SWEMWBS: raw sum converted with
its table, as :mod:`evalkit.scoring` does).

**5. Questionnaires: the missing-data mechanism.**

* Baseline, with probability ``baseline_rate`` (completely at random): 55% on
  the day of the first attended contact, 37% up to 28 days before it (never
  before the offer), 8% 1-14 days after it. 40% x ``baseline_rate`` of mothers
  who took up but never attended completed one at assessment.
* Reviews (timepoint ``T1``, ``T2``, ...) fall due every ``review_weeks`` (4-6)
  after the first contact and are taken at the first attended contact within
  three weeks, with probability ``review_rate``. A review needs her to be still
  attending, so missing follow-ups depend on the dose and timing of attended
  contacts: missing **at random given the contact record**, not completely at
  random.
* Ending questionnaires (``end``) at the last session: 65% of planned endings,
  35% of ``moved_on_coping``; 6% of ``stopped_attending`` mothers return one by
  post 2-5 weeks later. Because endings depend on improvement, ending
  questionnaires are missing not at random unless the ending is conditioned on.
* Each instrument is skipped on 2% (EPDS) or 5% (others) of occasions; 2% of
  questionnaires have one unanswered item and 0.5% two to four (at random).
* The data are extracted ``follow_up_months`` after the referral period: later
  contacts and questionnaires are absent and support still running is ongoing
  (blank ``end_date`` and ``ending``).

**6. Experience questionnaires** (``experience=True``, off by default). The
peer-support experience measure (``pex_group`` for mothers offered a group,
``pex_one_to_one`` otherwise) at half of the reviews and at 60% of endings,
from two latent experience scores correlated with her symptom-change factor,
with exact endorsement rates, ending distress by planned/unplanned ending,
slopes of change on the mechanism scores and take-up log odds added to
``true_effects``. A separate random stream: every other row is unchanged. See
:mod:`evalkit.generator._experience`.

True effects
------------
``ExampleData.true_effects`` (``true_effects.csv``) has columns
``programme_id, instrument, quantity, value, description``; programme-level
rows have a blank instrument. All values are exact expectations of the model
(enumeration over drivers, dose and prior support; numerical integration over
the normal latent scores, floor/ceiling and item distributions):

=========================  ===================================================================
quantity                   meaning
=========================  ===================================================================
take_up_rate               P(took_up) over the programme's referral population
start_rate                 P(at least one attended contact | took up)
mean_dose                  :math:`\bar d_p`, expected attended contacts of those who started
baseline_mean              E[reported score] at t = 0, mothers who started
baseline_sd                SD of the reported score at t = 0 (people, occasion and item noise)
mean_change_12w            E[score(12 weeks) - score(0)], mothers who started (negative = lower)
standardised_change_12w    mean_change_12w / baseline_sd
latent_change_12w          :math:`\delta_{pj}` (latent, before floor/ceiling)
change_per_session         :math:`\gamma_j`, change per attended contact above :math:`\bar d_p`
change_sd                  :math:`\tau_j`, SD of individual latent change
=========================  ===================================================================

Which analysis recovers what
----------------------------
* The share of referrals with ``took_up = yes`` estimates ``take_up_rate``
  (binomial error only).
* Baseline questionnaires near the first contact estimate ``baseline_mean``
  (baseline completion is random; the 8% completed after the first contact
  carry up to a quarter of the change, a bias of well under 0.1 points).
* A **complete-case pre-post** mean (baseline, and a review 10-14 weeks after
  the first contact) estimates :math:`E[\Delta \mid \text{still attending at 12
  weeks}] = \delta + \gamma (E[D \mid \text{observed}] - \bar d)`: those still
  attending have a higher dose (about twice the mean in the drop-in groups), so
  it overstates the improvement of everyone who started (by about 1 EPDS point
  in the drop-in groups and 0.25-0.5 in planned one-to-one support).
* A regression or **mixed model with the dose** :math:`D_i - \bar d_p` as a
  covariate, fitted to the review data of closed episodes, recovers
  ``mean_change_12w`` as the intercept and ``change_per_session`` as the slope
  (missing at random given dose; floor/ceiling effects are under 0.1 points).
  Ongoing episodes have a truncated dose; leave them out of dose-adjusted
  models (their selection depends on referral date and dose only).
* Adding ending questionnaires without conditioning on the ending adds a small
  bias towards improvement.
"""

from evalkit.generator._generate import ExampleData, generate_programmes
from evalkit.generator._output import write_examples
from evalkit.generator._truth import QUANTITIES, TRUE_EFFECT_COLUMNS
from evalkit.generator._wide import write_wide_workbook

__all__ = ["QUANTITIES", "TRUE_EFFECT_COLUMNS", "ExampleData", "generate_programmes", "write_examples",
           "write_wide_workbook"]
