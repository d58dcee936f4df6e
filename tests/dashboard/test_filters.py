"""Sidebar: the pairing rules built from the widgets and the filters reach the library calls."""

from __future__ import annotations

from evalkit.access import Scope
from evalkit.outcomes import evaluate_outcomes
from evalkit.rules import PairingRules
from evalkit.store import load_tables, open_store

from .conftest import assert_clean, frame_with, texts
from .helpers import same_values


def test_minimum_dose_and_programme_filter_change_the_figures(app, example_db) -> None:  # noqa: ANN001
    at = app()
    at.number_input(key="ek_r_min_dose").set_value(4)
    at.multiselect(key="ek_f_programmes").set_value(["P-PAID"])
    at.run()
    assert_clean(at)
    rules = PairingRules(min_dose=4)
    assert "Paired only with at least 4 attended contacts" in texts(at)  # the rules are shown in words
    store = open_store(example_db)
    try:
        tables = load_tables(store, Scope.admin(), programmes=["P-PAID"])
    finally:
        store.close()
    lib = evaluate_outcomes(tables, rules=rules, models=False).summary
    shown = frame_with(at, "mean_change", "n_engaged", "instrument")
    assert set(shown["programme_id"]) == {"P-PAID"}
    same_values(shown, lib, ["instrument", "n_engaged", "n_paired", "mean_change", "ci_low"], key=["instrument"])

    # rules the library refuses (tolerance not below the follow-up) fall back to the defaults, and say so
    at.radio(key="ek_r_endpoint").set_value("window")
    at.run()
    at.number_input(key="ek_r_followup_tolerance").set_value(20.0)
    at.run()
    assert not at.exception
    assert any("default rules are used instead" in e.value for e in at.error)
