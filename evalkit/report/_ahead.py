"""Library tables the report computes ahead of their place, so that the tables they alone read can be let go.

At a million participants the contacts table is about 1.3 GB. The attendance summary, the group head counts and
the limitations are the report's last readers of it but for the episodes (and the worry about support ending, when
the experience questionnaires' answers are present); computed before the episodes, the contacts can be let go of once
the episodes have read them, and are not held beside the outcome result. The report stays the same: each table's
warnings are replayed, and its error raised, where the table is placed, so the notes come in the same order as
when it was computed there.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Ahead:
    """What a library call gave when it was made ahead of its place: its value or error, and its warnings."""

    value: Any = None
    error: Exception | None = None
    warned: list[warnings.WarningMessage] = field(default_factory=list)


def compute_ahead(build: Callable[[], Any]) -> Ahead:
    """Call ``build`` now, keeping its warnings and a data problem it reports (``ValueError``, ``EvalkitError``).

    Any other exception is raised at once, as it would have been in place: it stops the report either way.
    """
    from evalkit.errors import EvalkitError

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return Ahead(value=build(), warned=list(caught))
        except (ValueError, EvalkitError) as exc:
            return Ahead(error=exc, warned=list(caught))


def in_place(ahead: Ahead) -> Any:
    """The value computed ahead, its warnings issued again now (and its error raised now), where it is placed."""
    for w in ahead.warned:
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno, source=w.source)
    if ahead.error is not None:
        raise ahead.error
    return ahead.value
