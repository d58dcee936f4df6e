"""Plain-English words for the dashboard: the metric terms (kept in :mod:`evalkit.glossary`, shared with the
HTML report and re-exported here) and each page's one-paragraph introduction."""

from __future__ import annotations

from typing import Final

from evalkit.glossary import TERMS, explain, explain_columns, label  # noqa: F401 - the terms live in the library

PAGE_INTROS: Final[dict[str, str]] = {
    "upload": "Add your data. evalkit checks every row, stores the good rows, and keeps any row with a problem "
              "aside so you can correct it; nothing is lost.",
    "overview": "The headline figures for each programme, each with the number of mothers it is based on.",
    "symptom_change": "How depression and anxiety scores changed between the first and a later questionnaire.",
    "wellbeing": "How wellbeing and personal recovery changed, and recovery *from* symptoms versus recovery "
                 "*within* them.",
    "engagement": "Who was referred, who came, how often, and how support ended.",
    "for_whom": "Every headline split by one thing about the mothers or the programme. Small groups are hidden "
                "and shown as [c].",
    "safety": "Mothers whose answers need a follow-up: self-harm items and reliable deterioration. Only the "
              "provider's own staff see this page.",
    "compare": "Programmes side by side, from this database or from summary files other programmes shared.",
    "report": "Download a self-contained report and every table.",
    "accounts": "Who can sign in, and what each person can see.",
}

SINGLE_USER_NOTICE: Final = "Single-user mode: no login; everyone who can open this page sees all data."
