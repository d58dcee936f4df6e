"""What a command loads before it starts: the parser and ``evalkit validate`` leave the heavy libraries alone."""

from __future__ import annotations

import inspect
import json
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.cli import main

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "data"

#: libraries (and evalkit modules loading them) that only some commands need: SciPy (comparison, outcomes),
#: SQLAlchemy (the store), statsmodels (the mixed model), Streamlit and Altair (the dashboard)
HEAVY = ("scipy", "sqlalchemy", "statsmodels", "streamlit", "altair", "evalkit.compare", "evalkit.ingest")


def _loaded_after(code: str) -> list[str]:
    """The modules of :data:`HEAVY` loaded in a fresh interpreter after running ``code``."""
    probe = f"import sys\n{code}\nprint(__import__('json').dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert done.stderr == "" or "Traceback" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_building_the_parser_loads_no_heavy_library():
    assert _loaded_after("from evalkit.cli import build_parser\nbuild_parser()") == []


def test_validate_loads_no_heavy_library():
    files = ", ".join(repr(str(p)) for p in sorted(EXAMPLE.glob("*.csv")))
    code = (f"from evalkit.cli import main\nimport contextlib, io\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n    code = main(['validate', {files}])\n"
            f"assert code == 1, code")  # the example data hold seeded errors
    assert _loaded_after(code) == []


def test_compare_help_quotes_the_library_defaults(capsys):
    from evalkit.compare import compare_summaries

    with pytest.raises(SystemExit):
        main(["compare", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    default = {name: p.default for name, p in inspect.signature(compare_summaries).parameters.items()}
    for option, name in (("--instrument CODE", "instrument"), ("--measure", "measure"), ("--method", "method"),
                         ("--scale", "proportion_scale"), ("--min-per-level N", "min_per_level"),
                         ("--funnel-method", "funnel_method")):
        assert f"(default {default[name]})" in out.split(option, 2)[-1], option
    assert f"(default {default['level']:g};" in out and "95% and 99.8%" in out
    assert not [name for name in default if "{" + name in out]  # no field left unfilled


def test_compare_choices_are_the_library_s():
    from evalkit import compare, compare_options

    assert (compare.MEASURES, compare.METHODS, compare.BY_CHOICES) == (
        compare_options.MEASURES, compare_options.METHODS, compare_options.BY_CHOICES)
    assert set(compare.MEASURES) == set(compare.PROPORTION_MEASURES) | set(compare.CONTINUOUS_MEASURES)
