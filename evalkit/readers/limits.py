"""Size limits that keep an upload from exhausting memory, and the checks that enforce them."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from evalkit.errors import InputFileError

__all__ = ["ReadLimits", "check_file_size", "check_shape"]

_MB = 1024 * 1024


@dataclass(frozen=True)
class ReadLimits:
    """Largest file evalkit agrees to read.

    Defaults come from the environment (``EVALKIT_MAX_UPLOAD_MB``, ``EVALKIT_MAX_ROWS``,
    ``EVALKIT_MAX_COLUMNS``, ``EVALKIT_MAX_UNCOMPRESSED_MB``; see :mod:`evalkit.limits`), else the
    values below, so one setting applies to the CLI, the dashboard and the library alike.

    Attributes
    ----------
    max_bytes
        Size of the file on disk (default 200 MB).
    max_rows
        Data rows in one table of one file (default 5,000,000).
    max_columns
        Columns in one table of one file (default 1,000).
    max_uncompressed_bytes
        Total uncompressed size of the parts of an ``.xlsx`` workbook (default 1 GB);
        guards against "zip bombs".
    max_compression_ratio
        Largest uncompressed/compressed ratio of one workbook part above 1 MB (default 200).
    """

    max_bytes: int = field(default_factory=lambda: _configured("max_bytes"))
    max_rows: int = field(default_factory=lambda: _configured("max_rows"))
    max_columns: int = field(default_factory=lambda: _configured("max_columns"))
    max_uncompressed_bytes: int = field(default_factory=lambda: _configured("max_uncompressed_bytes"))
    max_compression_ratio: float = 200.0


def _configured(name: str) -> int:
    """The deployment's limit (``EVALKIT_MAX_*`` environment variables; see :mod:`evalkit.limits`)."""
    from evalkit.limits import env_limit

    return env_limit(name)


def _mb(n: float) -> str:
    return f"{n / _MB:,.1f} MB"


def check_file_size(path: Path, limits: ReadLimits) -> int:
    """Return the size of ``path``; raise :class:`InputFileError` if it is empty or too large."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise InputFileError("the file does not exist (check the name and folder).", file=str(path)) from None
    except OSError as exc:
        raise InputFileError(f"the file cannot be opened ({exc.strerror}).", file=str(path)) from None
    if path.is_dir():
        raise InputFileError("this is a folder, not a file; name the files inside it.", file=path.name)
    if size == 0:
        raise InputFileError(
            "the file is empty (0 bytes). Expected a spreadsheet with a header row naming the columns.",
            file=path.name,
        )
    if size > limits.max_bytes:
        raise InputFileError(
            f"the file is {_mb(size)}, more than the {_mb(limits.max_bytes)} evalkit reads at once. "
            "Split it into smaller files (for example one per year) and upload them together.",
            file=path.name,
        )
    return size


def check_shape(n_rows: int, n_columns: int, *, file_label: str, limits: ReadLimits) -> None:
    """Raise :class:`InputFileError` when a table has more rows or columns than the limits allow."""
    if n_columns > limits.max_columns:
        raise InputFileError(
            f"it has {n_columns:,} columns, more than the {limits.max_columns:,} evalkit reads. "
            "Expected one column per field of a table (a few dozen at most).",
            file=file_label,
        )
    if n_rows > limits.max_rows:
        raise InputFileError(
            f"it has more than {limits.max_rows:,} rows, more than evalkit reads from one file. "
            "Split it into smaller files and upload them together.",
            file=file_label,
        )
