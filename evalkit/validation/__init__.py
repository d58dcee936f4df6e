"""Validate raw frames against the data contract in ``schemas/``.

* :func:`validate` - raw frames in, :class:`~evalkit.canonical.ValidationResult` out;
* :func:`report_to_csv`, :func:`report_to_xlsx` - write the report safely for a spreadsheet;
* :func:`safe_cell_text` - the formula-injection guard used by every export;
* :func:`validation_summary` - rows read, valid and set aside per table.

Report rule codes, and the module that implements each:

==============================  =========  ========================================
rule                            severity   module
==============================  =========  ========================================
required, type, enum,           error      :mod:`evalkit.validation.fields`
minimum, maximum, pattern,
ambiguous_date, future_date
date_order_from_file,           warning    :mod:`evalkit.validation.fields`
excel_date_number
unknown_instrument, item_type,  error      :mod:`evalkit.validation.measures`
item_range, total_range
no_responses, not_checked,      warning    :mod:`evalkit.validation.measures`
total_mismatch
unique, primary_key,            error      :mod:`evalkit.validation.keys`
participant_in_two_programmes
already_stored                  warning    :mod:`evalkit.validation.keys`
foreign_key                     error      :mod:`evalkit.validation.links`
before_referral                 error on participants' own dates, warning on
                                contacts/measures (:mod:`evalkit.validation.links`)
after_ending,                   warning    :mod:`evalkit.validation.links`
head_count_below_named,
not_checked
unknown_column,                 warning    readers (:mod:`evalkit.readers`)
identifier_column (the upload
is then refused whole:
:func:`evalkit.pseudonymise.refuse_identifier_columns`),
duplicate_column,
unknown_sheet, not_read,
hidden_sheet
extra_cells, unknown_instrument error      readers (CSV ragged rows; FHIR)
unclosed_quote                  error      readers (a CSV quote mark left open that
                                           swallows later lines into one cell)
item_order                      error      readers (FHIR answers to unnumbered questions,
                                           not every item answered: not placed)
answered_twice                  error      readers (a FHIR question with two different
                                           answers; a warning when they are the same)
==============================  =========  ========================================
"""

from __future__ import annotations

import pandas as pd

from evalkit.canonical import ValidationResult
from evalkit.safe_export import safe_cell_text
from evalkit.validation.core import validate
from evalkit.validation.export import report_to_csv, report_to_xlsx

__all__ = ["report_to_csv", "report_to_xlsx", "safe_cell_text", "validate", "validation_summary"]


def validation_summary(result: ValidationResult) -> pd.DataFrame:
    """Rows read, valid and set aside, and errors and warnings, per table.

    Returns
    -------
    pandas.DataFrame
        Columns ``table``, ``rows_read``, ``rows_valid``, ``rows_set_aside``,
        ``errors``, ``warnings``; one row per table in the result.
    """
    report = result.report
    records = []
    for name in result.tables:
        valid = len(result.tables[name])
        aside = len(result.quarantine.get(name, ()))
        mine = report[report["table"] == name]
        records.append({
            "table": name, "rows_read": valid + aside, "rows_valid": valid, "rows_set_aside": aside,
            "errors": int((mine["severity"] == "error").sum()), "warnings": int((mine["severity"] == "warning").sum()),
        })
    return pd.DataFrame(records, columns=["table", "rows_read", "rows_valid", "rows_set_aside", "errors", "warnings"])
