"""What works, for whom, and what can go wrong: context, mechanism and experience capture.

Built on the peer-support experience measure (``pex_group`` for group
sessions, ``pex_one_to_one`` for one-to-one support; see
``docs/EXPERIENCE_MEASURE.md``): short statements answered 0-4 (strongly
disagree to strongly agree) about the positive mechanisms of peer support
(being listened to, accepted, normalisation, hope, ideas, real relationships,
helping others, a reason to go out), the negative ones (not being taken
seriously, unfavourable comparison, being upset by others, a gloomy group,
being judged or told what to do, appointments as a pressure) and worry about
support ending. An item is *endorsed* when answered 3 or 4.

==========================================  ===========================================================
function                                    what it gives (who may see it)
==========================================  ===========================================================
:func:`mechanism_profile`                   share of mothers endorsing each mechanism per programme or
                                            format, Wilson CIs, suppressed; concerns first (aggregate)
:func:`quality_signals`                     negative-mechanism endorsement above a chosen level, per
                                            month or group session (aggregate)
:func:`ending_distress`                     worry about ending after planned vs unplanned endings (aggregate)
:func:`responses_needing_conversation`      individual answers to follow up (provider's own staff only)
:func:`cmo_take_up`                         exploratory logistic regression of take-up on contexts
:func:`cmo_outcomes`                        exploratory regression of outcomes on mechanism scores
:func:`experience_responses`                one row per questionnaire with scores and context (individual)
==========================================  ===========================================================

The measure is unvalidated; the C-M-O models are exploratory and say so in
every output. Aggregates go through :mod:`evalkit.disclosure`.
"""

from evalkit.mechanisms._cmo import (
    EXPLORATORY,
    OUTCOME_CONTEXTS,
    OUTCOMES,
    RESULT_COLUMNS,
    TAKE_UP_CONTEXTS,
    cmo_outcomes,
    cmo_take_up,
)
from evalkit.mechanisms._data import (
    CONCERN_VALENCES,
    CONTEXT_LABELS,
    PLANNED_ENDINGS,
    derive_contexts,
    ending_class,
    experience_instruments,
    experience_measures,
    experience_responses,
    experience_rows,
    item_catalogue,
    statements,
)
from evalkit.mechanisms._profile import (
    ANY_NEGATIVE,
    CONVERSATION_ROLES,
    UNVALIDATED_NOTE,
    ending_distress,
    mechanism_profile,
    quality_signals,
    responses_needing_conversation,
)

EXPLANATIONS: dict[str, str] = {
    "profile": (
        "For each statement, the share of mothers who agreed or strongly agreed (their latest questionnaire), with "
        "a 95% confidence interval. Statements about what can go wrong come first: a high share there is worth a "
        "conversation in the team, even when the positive statements look good. Small numbers are hidden [c]."),
    "signals": (
        "Where the share of questionnaires agreeing with at least one 'what can go wrong' statement (or with one "
        "particular statement) is above the level you chose, in a month or a group session. 'Above level': the "
        "whole confidence interval is above it. 'May be above level': the share is above it but it could be chance. "
        "A signal is a prompt to look and listen, not a verdict."),
    "ending": (
        "How many mothers felt worried or upset about their support ending, after a planned ending and after an "
        "unplanned one (stopped coming, moved away, referred elsewhere ...). Higher worry after unplanned endings "
        "suggests endings need more care: a goodbye call, a plan, a way back."),
    "take_up": (
        "EXPLORATORY. Which circumstances at referral go with taking up the offer, each compared with mothers "
        "without it in the same programme (odds ratio above 1 = more likely to take it up). Associations, not "
        "causes; only contexts, because mechanisms come after take-up."),
    "outcomes": (
        "EXPLORATORY. How mothers' experience of the support goes with how much their scores changed: the change "
        "for each extra point on the positive (or negative) statements' average, with everything else in the model "
        "held equal. Associations, not causes: mothers who are getting better may also rate the support more "
        "warmly."),
    "conversations": (
        "Individual answers that need a conversation: she agreed with a 'what can go wrong' statement or said she "
        "is worried about the support ending. For the provider's own staff only; ids are pseudonyms."),
    "measure": UNVALIDATED_NOTE,
}
"""Plain-English explanation of each output, for the CLI, the dashboard and reports."""

__all__ = [
    "ANY_NEGATIVE",
    "CONCERN_VALENCES",
    "CONTEXT_LABELS",
    "CONVERSATION_ROLES",
    "EXPLANATIONS",
    "EXPLORATORY",
    "OUTCOMES",
    "OUTCOME_CONTEXTS",
    "PLANNED_ENDINGS",
    "RESULT_COLUMNS",
    "TAKE_UP_CONTEXTS",
    "UNVALIDATED_NOTE",
    "cmo_outcomes",
    "cmo_take_up",
    "derive_contexts",
    "ending_class",
    "ending_distress",
    "experience_instruments",
    "experience_measures",
    "experience_responses",
    "experience_rows",
    "item_catalogue",
    "mechanism_profile",
    "quality_signals",
    "responses_needing_conversation",
    "statements",
]
