"""Locate the data files (schemas, example data, dashboard) that travel with evalkit.

In a wheel they are bundled under ``evalkit/_bundled/``; in a source checkout
(editable install or running from the repository) they are the top-level
``schemas/``, ``examples/data/`` and ``dashboards/`` folders.
"""

from __future__ import annotations

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent
_BUNDLED = _PACKAGE_DIR / "_bundled"
_REPO_ROOT = _PACKAGE_DIR.parent


def resource_dir(name: str) -> Path:
    """Return the folder holding a bundled resource.

    Parameters
    ----------
    name
        One of ``"schemas"``, ``"examples/data"`` or ``"dashboards"``.

    Returns
    -------
    Path
        The bundled copy when evalkit is installed from a wheel, otherwise the
        folder of the source checkout.
    """
    for base in (_BUNDLED, _REPO_ROOT):
        candidate = base / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(
        f"evalkit could not find its bundled folder {name!r} (looked in {_BUNDLED} and {_REPO_ROOT}); "
        "the installation is incomplete - reinstall evalkit"
    )
