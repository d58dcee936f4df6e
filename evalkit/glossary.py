"""Plain-English words for every figure evalkit shows, in one place (library, dashboard and HTML report).

Each entry: a short label, and one line saying what the figure means and why it
matters, written for a peer-support coordinator rather than a statistician.
:func:`explain` looks a column or metric name up; unknown names return ``""``.
The dashboard's page introductions stay in ``dashboards/glossary.py``, which
re-exports these terms.
"""

from __future__ import annotations

from typing import Final

__all__ = ["TERMS", "explain", "explain_columns", "label"]

TERMS: Final[dict[str, tuple[str, str]]] = {
    # people and journeys
    "referrals": ("Referrals", "Mothers referred to the programme in the period chosen."),
    "referred": ("Referred", "Mothers referred to the programme in the period chosen."),
    "offered": ("Offered support", "Referred mothers who were offered a place, a visit or a call."),
    "took_up": ("Took up", "Mothers who said yes to the offer of support (took up: yes), whether or not they then "
                           "came; those who came at least once are counted as attended."),
    "take_up": ("Take-up", "The share of referred mothers who took up the offer of support: how well the offer "
                           "reaches people."),
    "declined": ("Declined", "Mothers who were offered support and said no, or could not be reached."),
    "engaged": ("Engaged", "Mothers who attended at least the minimum number of sessions or calls set in the rules, "
                         "and at least one (every paired mother is engaged)."),
    "n": ("n", "How many mothers this figure is based on; small numbers mean less certainty."),
    "paired": ("Paired", "Mothers with a questionnaire at the start and another later, so change can be measured."),
    "paired_completeness": ("Paired completeness",
                            "The share of engaged mothers with a start and a later score. Low completeness means "
                            "the change figures may not speak for everyone."),
    "completeness": ("Completeness",
                     "The share of engaged mothers with a start and a later score; low completeness means the "
                     "change figures may not speak for everyone."),
    "dose": ("Dose", "Sessions or calls attended between the first and the last questionnaire."),
    "min_dose": ("Minimum dose", "The fewest sessions or calls attended for a mother's change to be counted."),
    "attended": ("Attended", "Sessions or calls a mother actually came to."),
    "did_not_attend": ("Did not attend", "Booked sessions or calls a mother missed without cancelling."),
    "gap": ("Gaps", "Days between one attended session or call and the next; long gaps can signal drifting away."),
    "ending": ("Endings", "How a mother's time with the programme ended: planned, stopped coming, moved on, "
                          "or referred elsewhere."),
    "planned_ending": ("Planned ending", "Support ended as agreed with the mother."),
    "head_count": ("Head count", "Everyone in the room at a group session, including mothers not on the list."),
    # change
    "mean_change": ("Mean change", "The average difference between the later and the first score. For symptom "
                                   "questionnaires a fall is an improvement."),
    "change": ("Change", "Later score minus first score. For symptoms a negative number is an improvement; for "
                         "wellbeing a positive number is."),
    "improvement": ("Improvement", "Change turned so that a bigger number is always better."),
    "ci": ("Confidence interval", "The range the true figure very probably lies in (95%). A wide range means "
                                  "we know less; a range that does not cross zero means the change is unlikely to "
                                  "be chance."),
    "effect_size": ("Effect size", "Change measured in standard deviations so that different questionnaires can be "
                                   "compared; about 0.2 is small, 0.5 medium, 0.8 large."),
    "reliable_improvement": ("Reliable improvement",
                             "Her score improved by more than the questionnaire's measurement error: the change "
                             "is very probably real, not a good or bad day."),
    "reliable_deterioration": ("Reliable deterioration",
                               "Her score got worse by more than measurement error. Worth a conversation; it is "
                               "not proof the support caused it."),
    "no_reliable_change": ("No reliable change", "The change was smaller than the questionnaire's measurement "
                                                 "error, so we cannot say it was real."),
    "recovered": ("Reliably recovered", "Started above the questionnaire's cut-off (likely depression or "
                                        "anxiety), ended below it, and improved reliably."),
    "improved": ("Reliably improved", "Improved by more than measurement error but did not cross the cut-off."),
    "unchanged": ("No reliable change", "Changed by less than measurement error."),
    "deteriorated": ("Reliably deteriorated", "Got worse by more than measurement error."),
    "harmed": ("Deteriorated into caseness", "Started below the cut-off and ended reliably worse and above it."),
    "caseness": ("Above cut-off", "A score at or over the questionnaire's cut-off: symptoms at a level where a "
                                  "clinician would usually look further. It is not a diagnosis."),
    "cutoff": ("Cut-off", "The score the questionnaire's authors use to separate likely cases from non-cases."),
    "rc_threshold": ("Reliable-change threshold", "The smallest change that is bigger than the questionnaire's "
                                                  "measurement error (95% confidence)."),
    "jacobson": ("Jacobson plot", "Each dot is one mother: her first score across, her later score up. Dots on the "
                                  "diagonal did not change; the grey band is change too small to be sure of; the "
                                  "dashed lines are the cut-off."),
    "completers": ("Completers only", "Uses only mothers with a start and a later score. Quick and clear, but can "
                                      "flatter a service if those who left were doing worse."),
    "mixed_model": ("Mixed model", "Uses every score from every mother, including those with only some "
                                   "questionnaires; less biased than completers-only when people drop out."),
    "multiple_imputation": ("Multiple imputation", "Fills in missing later scores many times from what we know "
                                                   "about each mother, and combines the results with honest "
                                                   "uncertainty."),
    "trajectory": ("Trajectory", "Average scores week by week since the first questionnaire."),
    "dose_threshold": ("Dose threshold", "How the average change looks if we only count mothers who attended at "
                                         "least this many times. A rising line suggests more support, more "
                                         "benefit (it does not prove it)."),
    # wellbeing and recovery
    "wellbeing": ("Wellbeing", "WEMWBS / SWEMWBS: how a mother feels and functions; higher is better."),
    "wellbeing_change": ("Wellbeing change", "The average rise in wellbeing score between the first and a later "
                                             "questionnaire; higher is better."),
    "symptom_change": ("Symptom change", "The average fall in depression or anxiety score between the first and "
                                         "a later questionnaire."),
    "meaningful_improvement": ("Meaningful improvement", "A wellbeing rise at least as large as the scale's authors "
                                                         "call meaningful (about one measurement error; smaller "
                                                         "than 'reliable')."),
    "recovery_from": ("Recovery from", "Symptoms fell below the cut-off (and improved reliably): recovery from "
                                       "depression or anxiety in the narrow, clinical sense."),
    "recovery_within": ("Recovery within", "Wellbeing or personal recovery (QPR) improved reliably even though "
                                           "symptoms stayed above the cut-off: living better with difficulties, "
                                           "which peer support often aims for."),
    "qpr": ("QPR", "Questionnaire about the Process of Recovery: a mother's own sense of recovery, hope and "
                   "control; higher is better."),
    # for whom and disclosure
    "suppressed": ("Hidden (small numbers)", "[c] means the figure is hidden, either because it rests on fewer "
                                             "than the minimum number of mothers or because a small number could "
                                             "be worked out from it (from a total and the other figures shown), "
                                             "so nobody can be identified."),
    "not_computed": ("Not computed (\u2013)", "A dash means the figure was not computed: there were no mothers to "
                                              "compute it from, or too few for the method. It never hides a "
                                              "number."),
    "for_whom": ("For whom", "The same headline figures split by one thing about the mothers or the programme, to "
                             "see whether the support works as well for everyone."),
    # safety
    "self_harm_flag": ("Self-harm item", "She answered the self-harm question (EPDS item 10 or PHQ-9 item 9) with "
                                         "anything other than 'never'. Follow your safeguarding procedure."),
    # report
    "adjusted_change": ("Adjusted change", "The mean change expected for a mother with the same starting score in "
                                           "every programme, so programmes serving more or less unwell mothers can "
                                           "be compared fairly."),
    "attrition": ("Attrition check", "Whether mothers without a later score started out different from those with "
                                     "one; a big difference means the completers' change may not speak for "
                                     "everyone."),
    "talking_therapies": ("NHS Talking Therapies-style rates", "Recovery and reliable change counted the way NHS "
                                                               "Talking Therapies reports them, so the figures can "
                                                               "be set beside local NHS services."),
    "recovery_both": ("Recovered from and within", "Symptoms fell below the cut-off with reliable improvement, and "
                                                   "wellbeing or personal recovery also improved reliably."),
    "recovery_from_only": ("Recovered from symptoms only", "Symptoms fell below the cut-off (and improved "
                                                           "reliably), but wellbeing or personal recovery did not "
                                                           "also improve reliably."),
    "recovery_neither": ("Neither", "Started above a symptom cut-off and neither recovered from symptoms nor "
                                    "reliably improved in wellbeing or recovery."),
    "reliably_worse": ("Reliably worse", "Started above a symptom cut-off and a score got reliably worse."),
    "mechanism_profile": ("Mechanism profile", "For each statement about the support, the share of mothers who "
                                               "agreed; statements about what can go wrong come first."),
    "exploratory": ("Exploratory", "Associations in observational data, not causes: a way to ask better questions, "
                                   "not evidence that something works or does not."),
    "odds_ratio": ("Odds ratio", "Above 1: more likely than mothers without this circumstance; below 1: less "
                                 "likely; 1: no difference."),
    "data_hash": ("Data fingerprint", "A code computed from the data used (SHA-256). The same data always give the "
                                      "same code, so anyone holding the same data can check a report was made from "
                                      "them (data from the database hold pseudonymised ids, not your own)."),
    # comparing
    "forest": ("Forest plot", "Each programme's result with its confidence interval; the diamond is the pooled "
                              "result across programmes."),
    "funnel": ("Funnel plot", "Each programme's result against its size. Programmes outside the dashed lines differ "
                              "from the average by more than chance alone would explain."),
    "heterogeneity": ("Heterogeneity (I²)", "How much programmes' results differ beyond chance: 0% none, above "
                                            "50% a lot."),
    "subgroup": ("Subgroup analysis", "Whether programmes of one kind (e.g. groups vs one-to-one) differ on "
                                      "average from another kind."),
    "meta_regression": ("Meta-regression", "Whether a programme feature (e.g. paid vs volunteer peers) goes with "
                                           "bigger or smaller effects across programmes."),
    "pooled": ("Pooled estimate", "The combined result across programmes, giving bigger programmes more weight."),
}


def label(name: str) -> str:
    """The short label of a term (the name itself when unknown)."""
    return TERMS.get(name, (name.replace("_", " "), ""))[0]


def explain(name: str) -> str:
    """The one-line explanation of a term, or ``""`` when there is none."""
    return TERMS.get(name, ("", ""))[1]


def explain_columns(columns: list[str]) -> dict[str, str]:
    """Explanations for those of ``columns`` that have one (for table column help)."""
    return {c: explain(c) for c in columns if explain(c)}
