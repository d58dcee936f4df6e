"""Deployment limits in one place: how large an upload evalkit agrees to read.

Every door (library, CLI, dashboard) reads files through :mod:`evalkit.readers`, whose
:class:`~evalkit.readers.limits.ReadLimits` takes its defaults from here, so one setting applies
everywhere. Set them in the environment of the process (a number; blank or unset = the default):

=================================  ===========  ================================================
variable                           default      limit
=================================  ===========  ================================================
``EVALKIT_MAX_UPLOAD_MB``          200          size of one file on disk, in MB (decimals allowed)
``EVALKIT_MAX_ROWS``               5,000,000    data rows in one table of one file
``EVALKIT_MAX_COLUMNS``            1,000        columns in one table of one file
``EVALKIT_MAX_UNCOMPRESSED_MB``    1,024        total uncompressed size of an ``.xlsx`` (zip-bomb guard)
=================================  ===========  ================================================

A file over a limit is refused whole with a message that names the file, its size (or row or column
count) and the limit; nothing is stored. A value that is not a positive number raises ``ValueError``
naming the variable (the CLI prints it and exits with code 2).

In code, pass an explicit :class:`~evalkit.readers.limits.ReadLimits` (or :func:`read_limits` with
overrides) to :func:`evalkit.readers.read_file` instead.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:  # pragma: no cover
    from evalkit.readers.limits import ReadLimits

__all__ = ["DEFAULTS", "ENV_VARS", "env_limit", "read_limits"]

_MB: Final = 1024 * 1024

ENV_VARS: Final = {
    "max_bytes": "EVALKIT_MAX_UPLOAD_MB",
    "max_rows": "EVALKIT_MAX_ROWS",
    "max_columns": "EVALKIT_MAX_COLUMNS",
    "max_uncompressed_bytes": "EVALKIT_MAX_UNCOMPRESSED_MB",
}
"""The environment variable of each :class:`ReadLimits` field that can be configured."""

DEFAULTS: Final = {
    "max_bytes": 200 * _MB,
    "max_rows": 5_000_000,
    "max_columns": 1_000,
    "max_uncompressed_bytes": 1024 * _MB,
}
"""Built-in limits (bytes for the sizes)."""

_IN_MB: Final = frozenset({"max_bytes", "max_uncompressed_bytes"})


def env_limit(name: str, environ: Mapping[str, str] | None = None) -> int:
    """The limit ``name`` (a key of :data:`DEFAULTS`) from its environment variable, else the default.

    Sizes are given in MB in the environment and returned in bytes.

    Raises
    ------
    ValueError
        The variable is set to something that is not a positive number.
    """
    environ = os.environ if environ is None else environ
    var = ENV_VARS[name]
    text = (environ.get(var) or "").strip().replace(",", "").replace("_", "")
    if not text:
        return DEFAULTS[name]
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        unit = "a size in MB such as 50" if name in _IN_MB else "a whole number such as 100000"
        raise ValueError(f"{var}={environ.get(var)!r} is not a valid limit; expected {unit} (or leave it unset).")
    if name in _IN_MB:
        return max(1, int(value * _MB))
    if not value.is_integer():
        raise ValueError(f"{var}={environ.get(var)!r} is not a whole number.")
    return int(value)


def read_limits(environ: Mapping[str, str] | None = None, **overrides: int | float) -> ReadLimits:
    """:class:`~evalkit.readers.limits.ReadLimits` from the environment, with explicit ``overrides`` on top.

    Examples
    --------
    >>> read_limits({"EVALKIT_MAX_ROWS": "1000"}).max_rows
    1000
    >>> read_limits({}, max_columns=50).max_columns
    50
    """
    from evalkit.readers.limits import ReadLimits

    values: dict[str, int | float] = {name: env_limit(name, environ) for name in ENV_VARS}
    values.update(overrides)
    return ReadLimits(**values)  # type: ignore[arg-type]
