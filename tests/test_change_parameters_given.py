"""episode_change with the instruments' parameters given (as evaluate_outcomes passes them, worked out once for
the change and the published parameters) gives what it gives working them out itself, and uses the ones given."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evalkit.change import episode_change, instrument_parameters
from evalkit.episodes import prepare_episodes
from evalkit.generator import generate_programmes
from evalkit.rules import PairingRules


@pytest.fixture(scope="module")
def data():
    return prepare_episodes(generate_programmes(400, seed=3).tables, rules=PairingRules())


@pytest.mark.parametrize("rules", [PairingRules(), PairingRules(use_published_threshold=False)])
def test_given_parameters_give_the_same_change(data, rules: PairingRules) -> None:
    params = instrument_parameters(data.episodes, rules=rules, scored_measures=data.scored_measures)
    given = episode_change(data.episodes, rules=rules, scored_measures=data.scored_measures, parameters=params)
    own = episode_change(data.episodes, rules=rules, scored_measures=data.scored_measures)
    pd.testing.assert_frame_equal(given, own)
    assert given.attrs == own.attrs


def test_the_parameters_given_are_the_ones_used(data) -> None:
    rules = PairingRules()
    params = instrument_parameters(data.episodes, rules=rules, scored_measures=data.scored_measures)
    assert (params["instrument"] == "epds").any()
    params.loc[params["instrument"] == "epds", "rc_threshold"] = 1000.0  # a change no score can make
    out = episode_change(data.episodes, rules=rules, scored_measures=data.scored_measures, parameters=params)
    epds = (out["instrument"] == "epds").to_numpy(dtype=bool) & out["paired"].to_numpy(dtype=bool)
    assert epds.any()
    assert np.all(out.loc[epds, "rc_threshold"] == 1000.0)
    assert not out.loc[epds, "reliable_improvement"].any()
    own = episode_change(data.episodes, rules=rules, scored_measures=data.scored_measures)
    assert own.loc[epds, "reliable_improvement"].any()
