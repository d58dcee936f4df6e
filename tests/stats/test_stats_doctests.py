"""Run the Examples sections of evalkit.stats as tests, so CI covers them too.

(The same examples also run under ``pytest --doctest-modules evalkit/stats``.)
"""

from __future__ import annotations

import doctest
import importlib

import pytest

MODULES = [
    "evalkit.stats.reliable_change",
    "evalkit.stats.proportions",
    "evalkit.stats.effect_sizes",
    "evalkit.stats.meta_analysis",
    "evalkit.stats.meta_regression",
    "evalkit.stats.funnel",
    "evalkit.stats.welch",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0, f"{name} has no examples"
    assert result.failed == 0


def test_public_api_is_declared():
    import evalkit.stats as st

    for name in st.__all__:
        assert hasattr(st, name), name
        assert getattr(st, name).__doc__, f"{name} lacks a docstring"
