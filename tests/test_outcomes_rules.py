"""PairingRules: one frozen configuration object, validated, with a plain-English statement."""

from __future__ import annotations

import dataclasses

import pytest

from evalkit.change import instrument_parameters
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.rules import PairingRules


def test_defaults_and_describe() -> None:
    r = PairingRules()
    assert (r.baseline_days_before, r.baseline_days_after, r.endpoint_rule, r.min_dose) == (28, 14, "last", 2)
    assert r.valid_statuses == ("complete", "prorated", "total_only")
    assert r.suppression_threshold == 5 and r.rounding_base is None and r.show_zero
    text = r.describe()
    for phrase in ("28 days before to 14 days after the first attended contact", "last valid score",
                   "at least 2 attended contacts", "published reliable-change threshold", "Counts from 1 to 4",
                   "95% confidence"):
        assert phrase in text
    assert "nearest 5" in r.replace(rounding_base=5).describe()
    assert "Counts from 0 to 9" in r.replace(suppression_threshold=10, show_zero=False).describe()
    assert str(r) == text and "min dose 2" in r.short()


@pytest.mark.parametrize("given", [(1, 2.5), (2.5,), (1, float("nan")), (1, float("inf")), (1, -1), (True, 2), ("2",), (), 3, None, "2"])
def test_dose_thresholds_are_refused_not_cut_to_whole_numbers(given: tuple) -> None:
    """A fraction (2.5) was made 2 without a word, so the dose table showed another threshold than asked for."""
    with pytest.raises(ValueError, match="PairingRules.dose_thresholds must be a non-empty tuple of whole numbers"):
        PairingRules(dose_thresholds=given)
    with pytest.raises(ValueError, match="PairingRules.dose_thresholds"):  # as a rules file gives them
        PairingRules.from_dict({"dose_thresholds": list(given) if isinstance(given, tuple) else given})


def test_dose_thresholds_written_as_whole_floats_are_those_numbers() -> None:
    import numpy as np

    rules = PairingRules(dose_thresholds=[1.0, np.int64(2), 3])
    assert rules.dose_thresholds == (1, 2, 3) and all(type(d) is int for d in rules.dose_thresholds)


def test_frozen_validated_and_round_trips() -> None:
    r = PairingRules(min_dose=3, endpoint_rule="window", dose_thresholds=[1, 2])
    assert r.dose_thresholds == (1, 2)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.min_dose = 4  # type: ignore[misc]
    assert PairingRules.from_dict(r.to_dict()) == r
    for bad in ({"min_dose": -1}, {"endpoint_rule": "first"}, {"valid_statuses": ("invalid",)},
                {"reliability_source": "magic"}, {"suppression_threshold": 0}, {"rounding_base": 0},
                {"followup_tolerance_weeks": 20.0}, {"level": 1.5}, {"mi_imputations": 1}):
        with pytest.raises(ValueError, match="PairingRules"):
            PairingRules(**bad)
    with pytest.raises(ValueError, match="unknown rule"):
        r.replace(min_doze=2)
    with pytest.raises(ValueError, match="unknown rule"):
        PairingRules.from_dict({"nope": 1})


def test_sample_reliability_from_baseline_items() -> None:
    d = generate_programmes(800, seed=9)
    rules = PairingRules(reliability_source="sample")
    ed = prepare_episodes(d.tables, rules=rules)
    p = instrument_parameters(ed.episodes, rules=rules, scored_measures=ed.scored_measures).set_index("instrument")
    assert p.loc["epds", "reliability_source"].startswith("sample: Cronbach's alpha")
    assert 0.8 < p.loc["epds", "reliability_used"] < 0.97  # the generator's items give alpha about 0.88-0.93
    assert p.loc["epds", "sd_source"].startswith("sample")
    assert p.loc["wemwbs", "sd_source"].startswith("sample")  # 'sample' uses the sample SD even with a file SD


#: every whole-number setting of PairingRules but dose_thresholds, with a value each may take
_WHOLE_NUMBER_SETTINGS = {"baseline_days_before": 21, "baseline_days_after": 7, "min_days_between": 10,
                          "min_dose": 3, "min_alpha_n": 40, "mm_session_max_obs": 200, "mi_imputations": 10,
                          "seed": 7, "suppression_threshold": 10, "rounding_base": 5}


def test_the_whole_number_settings_listed_here_are_every_one() -> None:
    import typing

    from evalkit.rules import WHOLE_NUMBER_SETTINGS

    hints = typing.get_type_hints(PairingRules)
    typed = {name for name, hint in hints.items() if hint in (int, int | None)}
    assert typed == set(_WHOLE_NUMBER_SETTINGS) == WHOLE_NUMBER_SETTINGS  # summary files check the library's list


@pytest.mark.parametrize("name, value", _WHOLE_NUMBER_SETTINGS.items())
def test_a_whole_number_written_with_a_decimal_point_is_that_number(name: str, value: int) -> None:
    """Rules files written by spreadsheets or JSON libraries give ``2.0``: it is the setting 2, as for
    ``dose_thresholds``, stored as the int (the rules text is the one ``2`` gives), directly or from a dict."""
    import numpy as np

    want = PairingRules(**{name: value})
    for given in (float(value), np.float64(value), np.int64(value)):
        for rules in (PairingRules(**{name: given}), PairingRules.from_dict({name: given}),
                      PairingRules().replace(**{name: given})):
            assert rules == want and type(getattr(rules, name)) is int
            assert rules.describe() == want.describe() and rules.short() == want.short()
            assert rules.to_dict() == want.to_dict()


@pytest.mark.parametrize("name", _WHOLE_NUMBER_SETTINGS)
@pytest.mark.parametrize("given", [2.5, True, False, "5", float("nan"), float("inf"), -float("inf"), None, [5]])
def test_a_whole_number_setting_refuses_what_is_no_whole_number(name: str, given: object) -> None:
    """A fraction is refused, never cut to a whole number; so are true/false, text, NaN and infinity, each with
    the rules' ValueError naming the setting (never a TypeError or OverflowError from deeper down)."""
    if given is None and name == "rounding_base":
        return  # None: no rounding
    with pytest.raises(ValueError, match=rf"^PairingRules\.{name} must be (None or )?a whole number >= \d"):
        PairingRules(**{name: given})
