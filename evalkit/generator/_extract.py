"""The data extract: what a provider's records hold on the day the data are taken.

Contacts, group sessions and questionnaires after the extract day have not
happened yet; support still running on that day is *ongoing* (blank
``end_date`` and ``ending``).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from evalkit.generator._contacts import Contacts, GroupSessions
from evalkit.generator._measures import Occasions
from evalkit.generator._sampling import MISSING


def censor_contacts(contacts: Contacts, sessions: GroupSessions,
                    extract_day: int) -> tuple[Contacts, GroupSessions]:
    """Drop contacts and group sessions after ``extract_day`` (session indices renumbered)."""
    keep_s = sessions.day <= extract_day
    new_index = np.cumsum(keep_s) - 1
    kept_sessions = GroupSessions(sessions.session_id[keep_s], sessions.programme[keep_s], sessions.day[keep_s],
                                  sessions.facilitators[keep_s], sessions.head_count[keep_s])
    keep = contacts.day <= extract_day
    session = contacts.session[keep]
    session = np.where(session >= 0, new_index[np.maximum(session, 0)], MISSING)
    kept = replace(
        contacts,
        participant=contacts.participant[keep], day=contacts.day[keep], kind=contacts.kind[keep],
        status=contacts.status[keep], duration=contacts.duration[keep], session=session,
        supporter=contacts.supporter[keep],
    )
    return kept, kept_sessions


def censor_occasions(occasions: Occasions, extract_day: int) -> Occasions:
    """Drop questionnaire occasions after ``extract_day``."""
    keep = occasions.day <= extract_day
    return Occasions(occasions.taker[keep], occasions.day[keep], occasions.kind[keep], occasions.review_number[keep])


def censor_days(days: np.ndarray, extract_day: int) -> np.ndarray:
    """Blank (:data:`MISSING`) the days after ``extract_day``."""
    return np.where(days > extract_day, MISSING, days)
