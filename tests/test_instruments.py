"""The instrument registry: shipped files, custom instruments as data, overrides."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evalkit._resources import resource_dir
from evalkit.errors import InstrumentError
from evalkit.instruments import get_instrument, load_instruments
from evalkit.scoring import score

SHIPPED = ("epds", "phq9", "gad7", "wemwbs", "swemwbs", "qpr15", "core10", "ons4", "ucla3", "whooley")


def test_every_shipped_instrument_loads_with_required_metadata() -> None:
    registry = load_instruments()
    assert set(SHIPPED) <= set(registry)
    for code in SHIPPED:
        inst = registry[code]
        definition = inst.definition
        assert definition["licence"]["ships"].startswith("scoring metadata"), code
        for key in ("reliability", "reference_sd", "reliable_change", "meaningful_change"):
            assert definition[key]["status"] in {"verified", "secondary", "unverified", "derived"}, (code, key)
        assert definition["sources"], code


def test_no_item_wording_is_shipped() -> None:
    # Instrument files carry numbers, codes and citations only: no field holds item text.
    for path in (resource_dir("schemas") / "instruments").glob("*.json"):
        raw = json.loads(path.read_text())
        forbidden = {"text", "wording", "question", "questions", "prompt", "item_text", "stem"}

        def keys(node: object) -> set[str]:
            if isinstance(node, dict):
                return set(node) | set().union(*(keys(v) for v in node.values()))
            if isinstance(node, list):
                return set().union(*(keys(v) for v in node)) if node else set()
            return set()

        assert not keys(raw) & forbidden, path.name
        assert not any(isinstance(v, list) and v and isinstance(v[0], str) for v in raw.get("items", {}).values())


def test_epds_facts_match_reference() -> None:
    epds = get_instrument("epds")
    assert epds.n_items == 10 and epds.item_min == (0.0,) * 10 and epds.item_max == (3.0,) * 10
    assert epds.reverse_keyed == (3, 5, 6, 7, 8, 9, 10)
    assert epds.default_cutoff is not None and epds.default_cutoff.value == 13
    assert epds.reliable_change.value == 4 and epds.reliable_change.status == "verified"
    assert epds.reliability.status == "unverified"  # Cox 1987 alpha is not in the abstract
    assert [s.code for s in epds.subscales] == ["epds_3a"] and epds.subscales[0].items == (3, 4, 5)
    assert epds.safety_items[0].item == 10


def test_swemwbs_conversion_table_endpoints_and_disputed_value() -> None:
    table = get_instrument("swemwbs").conversion_table
    assert table is not None
    assert (table[7], table[21], table[29], table[35]) == (7.0, 19.25, 26.02, 35.0)
    assert all(table[k] < table[k + 1] for k in range(7, 35))


def _write(folder: Path, definition: dict) -> None:
    (folder / f"{definition['code']}.json").write_text(json.dumps(definition))


def test_adding_an_instrument_is_adding_a_file(tmp_path: Path) -> None:
    custom = {
        "code": "kpcs_demo", "name": "A custom 4-item scale", "role": "wellbeing",
        "items": {"count": 4, "min": 0, "max": 3}, "reverse_keyed": [2],
        "scoring": {"method": "sum"}, "score_range": [0, 12], "higher_is_better": True,
        "missing_items": {"max_missing": 1, "prorate": True},
        "cutoffs": [{"name": "low", "operator": "<=", "value": 5, "default": True}],
        "reliability": {"value": 0.8, "status": "unverified"},
    }
    _write(tmp_path, custom)
    registry = load_instruments([tmp_path])
    assert "kpcs_demo" in registry and "epds" in registry
    m = pd.DataFrame({"instrument": ["kpcs_demo", "kpcs_demo", "kpcs_demo"],
                      "item_1": [3, 1, 1], "item_2": [3, 0, None], "item_3": [3, 1, 1], "item_4": [2, 1, 2]})
    s = score(m, instruments=registry)
    assert s["score"].tolist()[:2] == [11.0, 3.0]
    assert s["score"].iloc[2] == pytest.approx(4 / 3 * 4)  # prorated: mean of 3 answered x 4
    assert s["score_status"].tolist() == ["complete", "complete", "prorated"]
    assert s["caseness"].tolist() == [False, True, False]  # 5.33 is above the <= 5 cut-off
    # Response positions: item 2 is reverse keyed, 0..3 -> 3..0.
    s2 = score(m.iloc[:1], instruments=registry, item_coding="response_position")
    assert s2["score"].iloc[0] == 3 + 0 + 3 + 2


def test_cutoff_label_is_read_from_the_file_else_the_name_in_words(tmp_path: Path) -> None:
    _write(tmp_path, {"code": "labelled", "name": "Labelled", "role": "symptom", "items": {"count": 2, "min": 0, "max": 3},
                      "scoring": {"method": "sum"}, "higher_is_better": False,
                      "missing_items": {"max_missing": 0, "prorate": False},
                      "cutoffs": [{"name": "low_mood", "operator": ">=", "value": 3, "default": True,
                                   "label": "Low mood (local audit)"},
                                  {"name": "high_risk", "operator": ">=", "value": 5}],
                      "subscales": [{"code": "first", "items": [1],
                                     "cutoffs": [{"name": "first_screen", "operator": ">=", "value": 2,
                                                  "label": "First-item screen"}]}]})
    inst = load_instruments([tmp_path])["labelled"]
    assert [c.label for c in inst.cutoffs] == ["Low mood (local audit)", "high risk"]
    assert inst.subscales[0].cutoffs[0].label == "First-item screen"


def test_every_shipped_cutoff_has_its_words_in_the_file() -> None:
    for path in (resource_dir("schemas") / "instruments").glob("*.json"):
        raw = json.loads(path.read_text())
        cutoffs = [*raw.get("cutoffs", ()), *(c for s in raw.get("subscales", ()) for c in s.get("cutoffs", ()))]
        assert all(c.get("label") for c in cutoffs), path.name


def test_env_folder_and_extends_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write(tmp_path, {"code": "epds", "extends": "epds", "reliability": {"value": 0.8, "status": "verified", "source": "local study"},
                      "missing_items": {"max_missing": 1, "prorate": True}})
    monkeypatch.setenv("EVALKIT_INSTRUMENTS_DIR", str(tmp_path))
    epds = load_instruments()["epds"]
    assert epds.reliability.value == 0.8 and epds.max_missing == 1
    assert epds.n_items == 10 and epds.default_cutoff is not None  # everything else inherited


def test_python_override() -> None:
    epds = get_instrument("epds").with_overrides(reliability=0.82)
    assert epds.reliability.value == 0.82 and epds.reliability.status == "user override"
    with pytest.raises(ValueError, match="unknown instrument field"):
        get_instrument("epds").with_overrides(colour="red")


@pytest.mark.parametrize(
    "broken, message",
    [
        ({"items": {"count": 3, "min": 0, "max": 3}, "subscales": [{"code": "s", "items": [4]}]}, "refers to item 4"),
        ({"scoring": {"method": "magic"}}, "scoring/method"),
        ({"items": {"count": 3, "min": 5, "max": 3}}, "min is above its max"),
        ({"cutoffs": [{"name": "low", "operator": ">=", "value": 2, "label": ""}]}, "cutoffs/0/label"),
        ({"cutoffs": [{"name": "low", "operator": ">=", "value": 2, "label": 2}]}, "cutoffs/0/label"),
    ],
)
def test_malformed_definitions_give_clear_errors(tmp_path: Path, broken: dict, message: str) -> None:
    base = {"code": "bad", "name": "Bad", "role": "symptom", "items": {"count": 3, "min": 0, "max": 3},
            "scoring": {"method": "sum"}, "higher_is_better": False, "missing_items": {"max_missing": 0, "prorate": False}}
    _write(tmp_path, {**base, **broken})
    with pytest.raises(InstrumentError, match=message):
        load_instruments([tmp_path])


def test_unknown_code_lists_known_codes() -> None:
    with pytest.raises(InstrumentError, match="known codes: .*epds"):
        get_instrument("nope")


def test_reliable_change_figures_are_consistent_with_their_derivation() -> None:
    # WEMWBS: 1.96 * sqrt(2) * SD * sqrt(1 - alpha) with SHeS SD 8.96 and alpha 0.91 -> 7.45 (file: 7.5).
    w = get_instrument("wemwbs")
    derived = 1.96 * np.sqrt(2) * w.reference_sd.value * np.sqrt(1 - w.reliability.value)
    assert derived == pytest.approx(7.45, abs=0.01) and w.reliable_change.value == pytest.approx(derived, abs=0.1)
    # SWEMWBS: reliability derived from SEM 1.03 and SD 3.92.
    s = get_instrument("swemwbs")
    assert 1 - (1.03 / s.reference_sd.value) ** 2 == pytest.approx(s.reliability.value, abs=0.005)


def test_usable_instruments_leave_out_each_broken_file_naming_it_and_what_is_wrong(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Where load_instruments stops at the first broken file, load_usable_instruments reads on: each broken file
    is left out as if it were not there (a broken replacement of a shipped instrument leaves the shipped one),
    each named with what is wrong; a missing folder is passed over."""
    from evalkit.instruments import load_usable_instruments

    shipped = load_instruments()
    good = {"code": "kept", "name": "Kept", "role": "symptom", "items": {"count": 2, "min": 0, "max": 3},
            "scoring": {"method": "sum"}, "higher_is_better": False,
            "missing_items": {"max_missing": 0, "prorate": False}}
    files = {"a_unreadable.json": '{"code": ', "b_list.json": "[1, 2]", "c_no_code.json": json.dumps({"name": "X"}),
             "d_unknown_base.json": json.dumps({"extends": "nope"}),
             "e_epds.json": json.dumps({"extends": "epds", "higher_is_better": "yes"}),
             "f_phq9.json": json.dumps({**good, "code": "phq9", "items": {"count": 2, "min": 4, "max": 3}}),
             "kept.json": json.dumps(good)}
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    monkeypatch.setenv("EVALKIT_INSTRUMENTS_DIR", str(tmp_path / "missing"))
    instruments, problems = load_usable_instruments([tmp_path])
    assert sorted(instruments) == sorted([*shipped, "kept"])
    assert instruments["epds"] == shipped["epds"] and instruments["phq9"] == shipped["phq9"]
    assert problems[0] == f"instrument folder {tmp_path / 'missing'} does not exist"
    wrong = ["Expecting value", "expected a JSON object", "missing 'code'", "extends unknown instrument 'nope'",
             "higher_is_better", "min is above its max"]
    assert len(problems) == 1 + len(wrong)
    for (name, _), problem, what in zip(files.items(), problems[1:], wrong, strict=False):
        assert str(tmp_path / name) in problem and what in problem, problem
    monkeypatch.delenv("EVALKIT_INSTRUMENTS_DIR")
    assert load_usable_instruments() == (shipped, [])
