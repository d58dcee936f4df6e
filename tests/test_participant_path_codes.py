"""participant_path makes its text columns from codes and sorts once: as sorting the made frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.engagement import _codes_as_text, _path_order, participant_path
from evalkit.rules import PairingRules

_TEXT = st.one_of(st.none(), st.sampled_from(["P1", "P10", "p2", "é", "Z", "", "ä1", "😀"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(_TEXT, _TEXT), max_size=40))
def test_path_order_is_sort_values_order(rows: list[tuple[str | None, str | None]]) -> None:
    """Text by code point, missing last, ties in row order (stable): as ``sort_values`` gives it."""
    frame = pd.DataFrame(rows, columns=["a", "b"], dtype="string")
    want = frame.sort_values(["a", "b"]).index.to_numpy()
    got = _path_order(frame["a"].array, frame["b"].array)
    np.testing.assert_array_equal(got, want)


def test_codes_as_text_is_texts_taken_by_code_missing_at_minus_one() -> None:
    got = _codes_as_text(["x", "y", "x"], np.array([2, -1, 0, 1], dtype=np.int64))
    pd.testing.assert_extension_array_equal(got, pd.array(["x", None, "x", "y"], dtype="string"))


def test_path_is_the_same_whatever_the_order_of_the_participants() -> None:
    """The rows come out sorted by programme and participant, each column taken in that order."""
    from evalkit.data_source import example_tables

    t = example_tables()
    parts = t["participants"]
    shuffled = parts.iloc[np.random.default_rng(1).permutation(len(parts))].reset_index(drop=True)
    a = participant_path(t, rules=PairingRules())
    b = participant_path(dict(t, participants=shuffled), rules=PairingRules())
    pd.testing.assert_frame_equal(a, b, check_exact=True)
    assert a[["programme_id", "participant_id"]].apply(tuple, axis=1).is_monotonic_increasing


def test_without_decline_reasons_those_not_taking_up_read_not_recorded() -> None:
    from evalkit.data_source import example_tables

    t = example_tables()
    path = participant_path(dict(t, participants=t["participants"].drop(columns="decline_reason")),
                            rules=PairingRules())
    early = path["last_step"].isin(["referred", "offered"]).to_numpy()
    assert early.any() and (path.loc[early, "exit_reason"] == "not_recorded").all()


def test_a_participant_twice_among_prepared_participants_is_refused() -> None:
    """Looked up in one hash table of the participants, an id that occurs twice is still an error, and the message
    names her (not pandas' "cannot reindex on an axis with duplicate labels")."""
    import dataclasses

    from evalkit.data_source import example_tables
    from evalkit.episodes import prepare_episodes

    data = prepare_episodes(example_tables(), rules=PairingRules())
    first = data.participants["participant_id"].iloc[0]
    twice = pd.concat([data.participants, data.participants.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match=f"participant_id '{first}' more than once: the funnel needs one row per"):
        participant_path(dataclasses.replace(data, participants=twice))


def test_episodes_of_unknown_or_missing_participants_count_for_nobody() -> None:
    import dataclasses

    from evalkit.data_source import example_tables
    from evalkit.episodes import prepare_episodes

    data = prepare_episodes(example_tables(), rules=PairingRules())
    ep = data.episodes
    pid = ep["participant_id"].astype("string").copy()
    pid.iloc[: len(pid) // 2] = "nobody"
    pid.iloc[len(pid) // 2:] = pd.NA
    path = participant_path(dataclasses.replace(data, episodes=ep.assign(participant_id=pid)))
    assert not path["baseline_measured"].any() and not path["paired"].any()
    assert not path.filter(like="paired_on_").to_numpy().any()
