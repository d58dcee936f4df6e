"""Errors and warnings raised by evalkit.

Validation problems in uploaded data are *data*, not exceptions: they are rows
of a :class:`~evalkit.validation.ValidationReport`. The exceptions here are for
misuse of the API and for conditions a caller must handle.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd


class EvalkitError(Exception):
    """Base class of every error evalkit raises on purpose."""


class SchemaError(EvalkitError):
    """A schema or instrument definition file is malformed."""


class InstrumentError(SchemaError):
    """An instrument definition is malformed or an instrument code is unknown."""


class InputFileError(EvalkitError):
    """A provider file cannot be read at all (empty, binary, wrong format, too large)."""

    def __init__(self, message: str, *, file: str | None = None) -> None:
        self.file = file
        super().__init__(f"{file}: {message}" if file else message)


class DataValidationError(EvalkitError):
    """Raised only when a caller asks for strict validation; carries the report.

    Attributes
    ----------
    failure_cases : pandas.DataFrame
        One row per problem, with the columns of a validation report.
    """

    def __init__(self, message: str, failure_cases: pd.DataFrame) -> None:
        self.failure_cases = failure_cases
        super().__init__(message)


class StoreError(EvalkitError):
    """The database cannot be reached, is locked, refused a change, or is at the wrong schema version."""


class StoreUnavailable(StoreError):
    """The database is down, unreachable or locked by another program, after retries; nothing was changed.

    Safe to try again later (the CLI exits with 4 for it, whatever the command).
    """


class AccessDenied(EvalkitError):
    """The current role may not see the requested rows."""


class EvalkitWarning(UserWarning):
    """Base class of evalkit's domain warnings (filter by meaning)."""


class SmallSampleWarning(EvalkitWarning):
    """An estimate rests on fewer observations than its method needs to be trusted."""


class ApproximationWarning(EvalkitWarning):
    """An approximate method was used (e.g. a normal approximation or non-converged fit)."""


class UnverifiedFactWarning(EvalkitWarning):
    """A figure from an instrument file is marked unverified in its source notes."""


class InstrumentFileWarning(EvalkitWarning):
    """An instrument definition file could not be used and was left out of work that went on without it."""


class DisclosureWarning(EvalkitWarning):
    """Disclosure control could not protect every hidden count (one could still be worked out from a total)."""
