"""The HTML report for funders and commissioners, and every table in it (workbook, CSV).

:func:`build_report` lays out what the library computed -- headline figures per
programme, symptom and wellbeing change per questionnaire (completers, mixed
model, multiple imputation, dose sensitivity), recovery from and within,
engagement, for whom, what works for whom, and a methods appendix (rules,
questionnaires, definitions, completeness, disclosure control, limitations,
data hash, version, time) -- as one self-contained HTML page. Every figure
states its n and its confidence interval; small counts are hidden as in every
other evalkit output; no individual-level list is ever part of it.

==================================  =================================================================
function                            what it gives
==================================  =================================================================
:func:`build_report`                a :class:`Report` from canonical tables
:func:`report_from_store`           a :class:`Report` from the database, for any role (researchers
                                    too: rows are read inside the library, only aggregates leave)
:func:`html_report`                 just the HTML text (for the dashboard's download button)
==================================  =================================================================
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from evalkit.report._build import DEFAULT_BREAKDOWNS, DEFAULT_TITLE, Report, build_report
from evalkit.report._figures import renderer_available

__all__ = ["DEFAULT_BREAKDOWNS", "DEFAULT_TITLE", "Report", "build_report", "html_report", "renderer_available",
           "report_from_store"]


def html_report(tables: Mapping[str, pd.DataFrame], **kwargs: Any) -> str:
    """The report's HTML text: ``build_report(tables, **kwargs).html``."""
    return build_report(tables, **kwargs).html


def report_from_store(
    store: Any,
    scope: Any,
    *,
    programmes: Sequence[str] | None = None,
    date_range: tuple[object, object] | None = None,
    **kwargs: Any,
) -> Report:
    """The report of the programmes a scope may count, built inside the library (researchers too).

    Parameters
    ----------
    store
        An open :class:`evalkit.store.Store`.
    scope
        The reader's :class:`~evalkit.access.Scope`. Providers and evaluators
        get their own programmes (access applied in the SQL query). A
        researcher, who may not load individual rows, gets every programme (or
        ``scope.programmes`` when set): the rows are read here and only the
        report -- aggregate and disclosure-controlled -- leaves this function,
        as with :func:`evalkit.summary.summary_from_store`.
    programmes, date_range
        As :func:`evalkit.store.load_tables`.
    **kwargs
        Passed to :func:`build_report` (``rules``, ``title``, ``models`` ...).

    Returns
    -------
    Report
    """
    from evalkit.store._read import load_tables_to_count

    return build_report(load_tables_to_count(store, scope, programmes=programmes, date_range=date_range), scope=scope,
                        **kwargs)
