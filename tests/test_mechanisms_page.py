"""The 'What works for whom' dashboard page (AppTest, no browser) on generated data with experience questionnaires.

The page is run on its own with the data context the router would set, so it is tested whether or not the
router lists it. Its data come through the dashboard's own loader (:mod:`dashboards.data`); only the database
read underneath is replaced by the generated tables, filtered by scope as the store would (the store and its
scoping are tested with the dashboard), which keeps this test fast.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from evalkit.access import Scope

PAGE = str(Path(__file__).resolve().parents[1] / "dashboards" / "views" / "what_works.py")


@pytest.fixture(scope="module")
def tables() -> dict[str, pd.DataFrame]:
    from evalkit.generator import generate_programmes

    return generate_programmes(1200, seed=5, experience=True).tables


@pytest.fixture
def run(tables: dict[str, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> Iterator:
    from dashboards import data

    def scoped(url, data_version, key, progs, date_range):  # noqa: ANN001, ANN202
        role, providers, programmes = key
        p = tables["programmes"]
        keep = set(p["programme_id"])
        if role == "provider":
            keep = set(p.loc[p["provider"].isin(providers), "programme_id"])
        elif role == "evaluator":
            keep &= set(programmes)
        if progs is not None:
            keep &= set(progs)
        return {k: v[v["programme_id"].isin(keep)].reset_index(drop=True) for k, v in tables.items()}

    monkeypatch.setattr(data, "_tables", scoped)
    monkeypatch.setattr(data, "version", lambda url: "test")

    def go(scope: Scope) -> AppTest:
        from dashboards import pages

        st.cache_data.clear()
        at = AppTest.from_file(PAGE, default_timeout=90)
        at.session_state[pages.CONTEXT] = data.Context(url="sqlite:///unused.sqlite", scope=scope)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        assert not [e.value for e in at.error], [e.value for e in at.error]
        return at

    yield go
    st.cache_data.clear()


def _text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "info", "warning", "success", "subheader")
                     for e in at.get(kind))


def _frames_with(at: AppTest, *columns: str) -> list:
    return [f.value for f in at.dataframe if all(c in f.value.columns for c in columns)]


def test_page_shows_profile_signals_ending_and_exploratory_tables(run) -> None:  # noqa: ANN001
    at = run(Scope.admin())
    text = _text(at)
    assert at.title[0].value == "What works for whom"
    assert "not yet validated" in text and "EXPLORATORY" in text
    profile = _frames_with(at, "mechanism", "share", "ci_low")
    assert profile, "no profile table"
    first = profile[-1]
    assert first["valence"].iloc[0] in ("negative", "ending")  # concerns first
    assert _frames_with(at, "measure", "signal")
    assert _frames_with(at, "ending_class", "n_responses")
    cmo = _frames_with(at, "label", "effect", "exploratory")
    assert len(cmo) == 2 and all(f["exploratory"].str.startswith("EXPLORATORY").all() for f in cmo)
    charts = at.get("vega_lite_chart")
    assert charts and "#D55E00" in charts[0].proto.spec  # Okabe-Ito vermillion for what can go wrong
    # single-user (admin) mode: the conversation list is shown with pseudonymous ids
    assert _frames_with(at, "participant_id", "reasons")
    # by format, and signals per group session
    at.radio(key="ek_ww_by").set_value("format")
    at.radio(key="ek_ww_period").set_value("group_session_id").run()
    assert not at.exception
    assert _frames_with(at, "format", "mechanism", "share")
    assert _frames_with(at, "group_session_id", "measure", "signal")


def test_provider_sees_own_conversations_and_evaluator_none(run) -> None:  # noqa: ANN001
    provider = run(Scope.for_provider("Northside Mums Charity"))
    lists = _frames_with(provider, "participant_id", "reasons")
    assert lists and set(lists[0]["programme_id"]) == {"P-GROUP"}
    evaluator = run(Scope.for_evaluator(["P-GROUP", "P-PHONE"]))
    assert not _frames_with(evaluator, "participant_id", "reasons")
    assert _frames_with(evaluator, "mechanism", "share")
