"""Tests of evalkit.stats (a package so that its conftest does not shadow tests/conftest.py)."""
