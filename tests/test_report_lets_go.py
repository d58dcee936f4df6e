"""The report lets go of the tables it has read before it computes the outcomes, and reads the same either way.

At a million participants of issue #8's volume the contacts hold about 1.3 GB; ``evalkit report`` hands the
tables over, and the report drops the contacts once their last readers (attendance, head counts, limitations, and
the worry about support ending when the experience questionnaires hold answers) have been computed ahead of their
place. These tests check the memory is let go (the contacts' numbers no longer referenced when the outcomes
start), with or without the mechanism analyses, that these read the same, and that computing ahead leaves the
report's notes in the order they had.
"""

from __future__ import annotations

import gc
import warnings
import weakref

import pandas as pd
import pytest
from conftest import buffer_ref

import evalkit.engagement as engagement
import evalkit.outcomes as outcomes
from evalkit.data_source import example_tables
from evalkit.errors import EvalkitWarning
from evalkit.mechanisms import experience_instruments
from evalkit.report import build_report


def _without_experience(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    m = tables["measures"]
    pex = m["instrument"].astype("string").str.lower().isin(set(experience_instruments())).fillna(False)
    return {**tables, "measures": m[~pex.to_numpy()].reset_index(drop=True)}



def _contacts_alive_at_outcomes(monkeypatch: pytest.MonkeyPatch, tables_box: list) -> bool:
    ref = buffer_ref(tables_box[0]["contacts"]["duration_minutes"])
    seen: dict[str, bool] = {}
    real = outcomes.evaluate_outcomes

    def spy(*args, **kwargs):
        gc.collect()
        seen.setdefault("alive", ref() is not None)  # at the first call: the report's own
        return real(*args, **kwargs)

    monkeypatch.setattr(outcomes, "evaluate_outcomes", spy)
    build_report(tables_box.pop(), models=False, figures=False, generated_at="2026-01-01")
    return seen["alive"]


def test_contacts_let_go_before_the_outcomes_without_experience_answers(monkeypatch):
    assert not _contacts_alive_at_outcomes(monkeypatch, [_without_experience(example_tables())])


def test_contacts_let_go_before_the_outcomes_with_experience_answers(monkeypatch):
    """The worry about ending, the mechanism analyses' one reader of the contacts, is computed ahead; the outcome
    models take the outcome result's episodes."""
    box = [example_tables()]
    assert len(box[0]["measures"]) > len(_without_experience(box[0])["measures"])  # the example has answers
    assert not _contacts_alive_at_outcomes(monkeypatch, box)


def test_mechanism_tables_are_the_libraries_on_the_whole_tables():
    """Computed ahead or from the episodes and the experience rows, the mechanism tables are what the library
    gives for the whole tables."""
    from evalkit.mechanisms import cmo_outcomes, ending_distress, mechanism_profile
    from evalkit.report._context import protect_model_table, protect_text
    from evalkit.rules import PairingRules

    rules = PairingRules()
    report = build_report(example_tables(), models=False, figures=False, generated_at="2026-01-01")
    tables = example_tables()
    expected = {"ending_distress": ending_distress(tables, rules=rules),
                "mechanism_profile": mechanism_profile(tables, rules=rules),
                "cmo_outcomes": protect_model_table(cmo_outcomes(tables, rules=rules), rules)}
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(report.tables[name], protect_text(frame, rules.suppression_threshold))


def test_a_caller_that_keeps_its_tables_keeps_them_whole():
    tables = _without_experience(example_tables())
    before = {k: v.copy() for k, v in tables.items()}
    build_report(tables, models=False, figures=False, generated_at="2026-01-01")
    assert list(tables) == list(before)
    for k, v in before.items():
        pd.testing.assert_frame_equal(tables[k], v)


def test_tables_computed_ahead_keep_their_place_in_the_notes(monkeypatch):
    """A warning of the outcomes comes before one of the attendance summary, and a head-count error is a note."""
    real_outcomes, real_attendance = outcomes.evaluate_outcomes, engagement.attendance_summary

    def outcomes_warning(*args, **kwargs):
        warnings.warn("first, from the outcomes", EvalkitWarning, stacklevel=1)
        return real_outcomes(*args, **kwargs)

    def attendance_warning(*args, **kwargs):
        warnings.warn("second, from the attendance summary", EvalkitWarning, stacklevel=1)
        return real_attendance(*args, **kwargs)

    def head_counts_error(*args, **kwargs):
        raise ValueError("no group sessions to count")

    monkeypatch.setattr(outcomes, "evaluate_outcomes", outcomes_warning)
    monkeypatch.setattr(engagement, "attendance_summary", attendance_warning)
    monkeypatch.setattr(engagement, "head_counts", head_counts_error)
    report = build_report(_without_experience(example_tables()), models=False, figures=False,
                          generated_at="2026-01-01")
    notes = list(report.notes)
    assert notes.index("first, from the outcomes") < notes.index("second, from the attendance summary")
    assert "Group head counts could not be produced from these data: no group sessions to count" in notes
    assert "head_counts" not in report.tables
    assert "attendance" in report.tables


def test_participant_paths_made_once_and_let_go_before_what_works(monkeypatch):
    """The breakdowns by field reuse the report's participant paths, which are let go of once they are made."""
    import evalkit.report._mechanisms as mechanisms_part

    calls: list[weakref.ref] = []
    real_path = engagement.participant_path

    def counting(*args, **kwargs):
        path = real_path(*args, **kwargs)
        calls.append(buffer_ref(path["attended_total"]))
        return path

    seen: dict[str, bool] = {}
    real_section = mechanisms_part.what_works_section

    def spy(ctx):
        gc.collect()
        seen.setdefault("alive", any(ref() is not None for ref in calls))
        return real_section(ctx)

    monkeypatch.setattr(engagement, "participant_path", counting)
    monkeypatch.setattr(mechanisms_part, "what_works_section", spy)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EvalkitWarning)
        build_report(example_tables(), models=False, figures=False, generated_at="2026-01-01",
                     breakdowns=("perinatal_stage", "ethnicity_group"))
    assert len(calls) == 1
    assert seen == {"alive": False}


def _measures_alive_at_outcomes(monkeypatch: pytest.MonkeyPatch, rules: object) -> bool:
    """Whether the handed-over measures' numbers (a change measure's item) are still referenced when the outcomes
    start (in the scored measures of the prepared episodes)."""
    box = [example_tables()]
    ref = buffer_ref(box[0]["measures"]["item_1"])
    seen: dict[str, bool] = {}
    real = outcomes.evaluate_outcomes

    def spy(*args, **kwargs):
        gc.collect()
        seen.setdefault("alive", ref() is not None)
        return real(*args, **kwargs)

    monkeypatch.setattr(outcomes, "evaluate_outcomes", spy)
    build_report(box.pop(), rules=rules, models=False, figures=False, generated_at="2026-01-01")
    return seen["alive"]


def test_the_scored_measures_let_go_before_the_outcomes(monkeypatch):
    from evalkit.rules import PairingRules

    assert not _measures_alive_at_outcomes(monkeypatch, PairingRules())


def test_the_scored_measures_kept_for_a_sample_reliability(monkeypatch):
    """A sample reliability is worked out from the scored measures' baseline items: the report keeps them."""
    from evalkit.rules import PairingRules

    assert _measures_alive_at_outcomes(monkeypatch, PairingRules(reliability_source="sample"))
