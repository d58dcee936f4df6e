"""``cmo_outcomes(prepared=...)`` uses episodes already prepared instead of building them again; the mechanism
analyses read only the experience questionnaires' participants' attended contacts.

The report hands the outcome result's episodes over, so that it needs neither the contacts nor the other
instruments' measures when it fits the exploratory outcome models (at a million participants of issue #8's
volume: 1.9 GB it can let go of, and a second preparation of the episodes it does not make).
"""

from __future__ import annotations

import pandas as pd
import pytest

import evalkit.episodes as episodes_module
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.mechanisms import cmo_outcomes, experience_instruments
from evalkit.mechanisms._data import _attended
from evalkit.rules import PairingRules

OUTCOMES = ("change", "improvement", "reliable_improvement", "recovery_from", "recovery_within")


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    return dict(generate_programmes(3000, seed=5, experience=True).tables)


def _experience_only(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables without contacts, and with only the experience questionnaires' measures."""
    m = tables["measures"]
    pex = m["instrument"].astype("string").str.strip().str.lower().isin(list(experience_instruments()))
    rest = {k: v for k, v in tables.items() if k != "contacts"}
    return {**rest, "measures": m[pex.fillna(False).to_numpy(dtype=bool)].reset_index(drop=True)}


@pytest.mark.parametrize("outcome", OUTCOMES)
@pytest.mark.parametrize("rules", [PairingRules(), PairingRules(endpoint_rule="window")])
def test_prepared_episodes_give_the_same_models(tables, outcome, rules) -> None:
    expected = cmo_outcomes(tables, outcome=outcome, rules=rules)
    prepared = prepare_episodes(tables, rules=rules, keep_attended=False)
    got = cmo_outcomes(_experience_only(tables), outcome=outcome, rules=rules, prepared=prepared)
    pd.testing.assert_frame_equal(got, expected)
    assert got.attrs == expected.attrs


def test_prepared_episodes_are_not_built_again(tables, monkeypatch) -> None:
    prepared = prepare_episodes(tables, keep_attended=False)

    def refuse(*args, **kwargs):
        raise AssertionError("episodes built again")

    monkeypatch.setattr(episodes_module, "build_episodes", refuse)
    monkeypatch.setattr(episodes_module, "prepare_episodes", refuse)
    assert len(cmo_outcomes(_experience_only(tables), prepared=prepared))


def test_prepared_with_other_rules_is_refused(tables) -> None:
    prepared = prepare_episodes(tables, rules=PairingRules(endpoint_rule="window"), keep_attended=False)
    with pytest.raises(ValueError, match="other rules"):
        cmo_outcomes(tables, rules=PairingRules(), prepared=prepared)


def test_attended_contacts_among_some_participants_are_theirs_of_all(tables) -> None:
    """The attended contacts of the participants asked for, each by the position of her id among them."""
    among = pd.Series(tables["measures"]["participant_id"].astype("string").iloc[::7].unique(), dtype="string")
    some = _attended(tables, among)
    c = tables["contacts"]
    mine = (c["status"] == "attended") & c["participant_id"].astype("string").isin(set(among))
    ref = c[mine.to_numpy(dtype=bool)]
    position = pd.Series(range(len(among)), index=among.to_numpy())
    expected = pd.DataFrame({"participant": position.loc[ref["participant_id"].astype(str)].to_numpy(dtype="int64"),
                             "date": pd.to_datetime(ref["contact_date"]).to_numpy(dtype="datetime64[ns]"),
                             "group_session_id": ref["group_session_id"].astype("string").to_numpy()})
    expected["group_session_id"] = expected["group_session_id"].astype("string")
    assert 0 < len(some) < (c["status"] == "attended").sum()
    pd.testing.assert_frame_equal(some, expected)


def test_the_command_hands_prepared_episodes_over_and_lets_go_of_the_contacts(tables, tmp_path, monkeypatch,
                                                                               capsys) -> None:
    """``evalkit mechanisms --what cmo`` fits the take-up model on every table, then prepares the episodes once
    (the contacts let go of once read) and hands them to the outcome models: the JSON is the library's on whole
    tables."""
    import json

    import evalkit.mechanisms as mx
    from evalkit.cli import main as cli_main
    from evalkit.generator import write_examples

    folder = tmp_path / "data"
    write_examples(generate_programmes(3000, seed=5, experience=True), folder)
    seen: list[tuple[object, bool]] = []
    library = mx.cmo_outcomes

    def spy(data, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append((kwargs.get("prepared"), "contacts" in data))
        return library(data, **kwargs)

    monkeypatch.setattr(mx, "cmo_outcomes", spy)
    assert cli_main(["mechanisms", "--data", str(folder), "--what", "cmo", "--format", "json"]) == 0
    got = json.loads(capsys.readouterr().out)
    (prepared, has_contacts), = seen
    assert prepared is not None and not has_contacts
    from evalkit.data_source import load_tables

    expected = library(load_tables(data=folder), rules=PairingRules())
    rows = pd.DataFrame(got["tables"]["outcomes"]["rows"])
    assert len(rows) == len(expected) > 0
    assert rows["term"].tolist() == expected["term"].tolist()
    assert rows["effect"].astype(float).to_numpy() == pytest.approx(expected["effect"].to_numpy(dtype=float),
                                                                    nan_ok=True)


@pytest.mark.parametrize("what", ["profile", "signals"])
def test_the_command_keeps_only_the_experience_questionnaires_measures(tmp_path, monkeypatch, capsys,
                                                                       what: str) -> None:
    """``evalkit mechanisms`` (profile, signals) hands the analyses only the experience questionnaires' rows of the
    measures, all they read of them: the JSON is the same as on whole tables."""
    import evalkit.mechanisms._data as data_module
    from evalkit.cli import main as cli_main
    from evalkit.generator import write_examples

    folder = tmp_path / "data"
    write_examples(generate_programmes(2000, seed=7, experience=True), folder)
    args = ["mechanisms", "--data", str(folder), "--what", what, "--format", "json"]
    library = data_module.experience_responses
    seen: list[set[str]] = []

    def spy(tables, **kwargs):  # noqa: ANN001, ANN003, ANN202
        seen.append(set(tables["measures"]["instrument"].astype("string").str.strip().str.lower()))
        return library(tables, **kwargs)

    for module in ("evalkit.mechanisms._data", "evalkit.mechanisms._profile", "evalkit.mechanisms._cmo"):
        monkeypatch.setattr(f"{module}.experience_responses", spy, raising=False)
    assert cli_main(args) == 0
    got = capsys.readouterr().out
    assert seen and all(codes <= set(experience_instruments()) for codes in seen)
    for module in ("evalkit.mechanisms._profile", "evalkit.mechanisms._cmo"):
        monkeypatch.setattr(f"{module}.experience_responses", library)
    import evalkit.mechanisms as mx

    monkeypatch.setattr(mx, "experience_measures", lambda measures, instruments=None: measures)  # whole tables
    assert cli_main(args) == 0
    assert capsys.readouterr().out == got
