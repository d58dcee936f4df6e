"""evalkit: outcome measurement for community perinatal mental health peer support.

The public API is flat and curated here; implementation lives in modules with
one job each. Names are imported on first use, so ``import evalkit`` is quick
and never imports Streamlit or a database driver.

>>> import evalkit
>>> sorted(evalkit.__all__)[:3]
['AccessDenied', 'Across', 'ApproximationWarning']
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS: dict[str, str] = {
    # data contract and instruments
    "table_schema": "evalkit.schemas",
    "table_schemas": "evalkit.schemas",
    "TABLE_NAMES": "evalkit.schemas",
    "load_instruments": "evalkit.instruments",
    "get_instrument": "evalkit.instruments",
    "Instrument": "evalkit.instruments",
    "score": "evalkit.scoring",
    # reading, mapping, validating
    "read_file": "evalkit.readers",
    "read_files": "evalkit.readers",
    "read_files_ahead": "evalkit.readers.ahead",
    "ColumnMapping": "evalkit.column_mapping",
    "propose_mapping": "evalkit.mapping_proposal",
    "validate": "evalkit.validation",
    "ValidationResult": "evalkit.canonical",
    # storing
    "open_store": "evalkit.store",
    "ingest": "evalkit.ingest",
    "check_upload": "evalkit.ingest",
    "split_raw_by_provider": "evalkit.ingest",
    "rollback": "evalkit.ingest",
    "Scope": "evalkit.access",
    "load_tables": "evalkit.data_source",
    "write_template": "evalkit.templates",
    # outcomes
    "PairingRules": "evalkit.rules",
    "build_episodes": "evalkit.episodes",
    "evaluate_outcomes": "evalkit.outcomes",
    "outcome_summary": "evalkit.outcomes",
    "recovery_from_within": "evalkit.recovery",
    "safety_list": "evalkit.safety",
    "for_whom": "evalkit.for_whom",
    "take_up_funnel": "evalkit.engagement",
    "take_up_rate": "evalkit.engagement",
    "funnel_tables": "evalkit.engagement",
    "attendance_summary": "evalkit.engagement",
    "endings_summary": "evalkit.engagement",
    "head_counts": "evalkit.engagement",
    "apply_disclosure": "evalkit.disclosure",
    "Across": "evalkit.disclosure",
    "Partition": "evalkit.disclosure",
    # what works for whom
    "mechanism_profile": "evalkit.mechanisms",
    "quality_signals": "evalkit.mechanisms",
    # comparing programmes and reporting
    "build_summary": "evalkit.summary",
    "read_summary": "evalkit.summary",
    "write_summary": "evalkit.summary",
    "compare_summaries": "evalkit.compare",
    "compare_from_tables": "evalkit.compare",
    "build_report": "evalkit.report",
    # examples
    "generate_programmes": "evalkit.generator",
    # errors and warnings
    "EvalkitError": "evalkit.errors",
    "InputFileError": "evalkit.errors",
    "StoreError": "evalkit.errors",
    "StoreUnavailable": "evalkit.errors",
    "AccessDenied": "evalkit.errors",
    "SmallSampleWarning": "evalkit.errors",
    "ApproximationWarning": "evalkit.errors",
}

__all__ = sorted([*_EXPORTS, "stats", "__version__"])


def __getattr__(name: str) -> Any:
    if name == "stats":
        return importlib.import_module("evalkit.stats")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evalkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:  # pragma: no cover - for type checkers and IDEs only
    from evalkit import stats as stats
    from evalkit.access import Scope as Scope
    from evalkit.outcomes import evaluate_outcomes as evaluate_outcomes
    from evalkit.outcomes import outcome_summary as outcome_summary
    from evalkit.rules import PairingRules as PairingRules
    from evalkit.scoring import score as score
