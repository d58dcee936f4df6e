"""The curated public API: every exported name resolves, and importing evalkit stays light."""

from __future__ import annotations

import subprocess
import sys

import evalkit


def test_every_exported_name_resolves() -> None:
    for name in evalkit.__all__:
        assert getattr(evalkit, name) is not None, name


def test_import_evalkit_imports_no_streamlit_or_database_driver() -> None:
    code = (
        "import sys, evalkit\n"
        "from evalkit import score, outcome_summary, validate\n"
        "heavy = [m for m in ('streamlit', 'psycopg', 'psycopg2', 'altair') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "", f"importing evalkit pulled in {out}"


def test_talking_therapies_rates_beside_the_summary_stay_importable_from_outcomes() -> None:
    # the disclosure control lives in evalkit.talking_therapies_disclosure; evalkit.outcomes re-exports its
    # public function. A fresh interpreter imports that module first, so a module-level import cycle shows.
    code = (
        "import evalkit.talking_therapies_disclosure as tt\n"
        "import evalkit.outcomes as o\n"
        "from evalkit.outcomes import published_talking_therapies_rates\n"
        "assert published_talking_therapies_rates is tt.published_talking_therapies_rates\n"
        "assert 'published_talking_therapies_rates' in o.__all__\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
