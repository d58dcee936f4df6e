"""Safety page: the library's follow-up list, for providers and admins only."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pandas as pd
import pytest
from streamlit.delta_generator import DeltaGenerator

from dashboards import data, ui
from evalkit.access import Scope
from evalkit.errors import AccessDenied
from evalkit.safety import safety_list

from .conftest import assert_clean, frames, texts
from .helpers import library_outcomes, same_values

NORTH = "Northside Mums Charity"


def test_safety_page_lists_the_library_signals(app, example_db) -> None:  # noqa: ANN001
    at = app("views/safety.py")
    assert_clean(at)
    assert at.title[0].value == "Safety follow-up"
    assert "Single-user mode" in texts(at)
    res = library_outcomes(example_db)
    lib = safety_list(res.data.scored_measures, res)
    shown = [f for f in frames(at) if "signal" in f.columns]
    for signal in ("self_harm_item", "reliable_deterioration"):
        part = next((f for f in shown if set(f["signal"]) == {signal}), None)
        expected = lib[lib["signal"] == signal]
        if expected.empty:
            assert part is None
        else:
            same_values(part, expected, ["participant_id", "instrument", "score"],
                        key=["participant_id", "instrument", "score"])


# --------------------------------------------------------------------------- a long list, a page at a time


def _library_part(url: str, signal: str) -> pd.DataFrame:
    """The library's rows of one signal, as the page shows them (the answer as given only when it differs)."""
    res = library_outcomes(url)
    lib = safety_list(res.data.scored_measures, res)
    part = lib[lib["signal"] == signal]
    return part.drop(columns=[c for c in ("item_as_given",) if part[c].isna().all()])


def _shown(at, signal: str) -> pd.DataFrame:  # noqa: ANN001
    found = [f for f in frames(at) if "signal" in f.columns and set(f["signal"]) == {signal}]
    assert len(found) == 1, [len(f) for f in frames(at)]
    return found[0]


def _rows(frame: pd.DataFrame) -> list[tuple[str, str, str]]:
    """The rows in their order, by what tells them apart (a mother, a date, a questionnaire)."""
    return list(zip(frame["participant_id"].astype(str), pd.to_datetime(frame["date"]).astype(str),
                    frame["instrument"].astype(str), strict=True))


@pytest.fixture
def downloads(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """What each download button of a run was given, by key: the file's bytes, or the call that makes them."""
    given: dict[str, Any] = {}
    original = DeltaGenerator.download_button

    def recording(self, label, payload, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        given[kwargs["key"]] = payload
        return original(self, label, payload, *args, **kwargs)

    monkeypatch.setattr(DeltaGenerator, "download_button", recording)
    return given


def _file(given: dict[str, Any], key: str) -> bytes:
    payload = given[key]
    return payload() if callable(payload) else payload


def test_a_long_list_is_shown_a_page_at_a_time_and_downloaded_whole(app, example_db, monkeypatch,  # noqa: ANN001
                                                                      downloads) -> None:  # noqa: ANN001
    """More rows than a page: a page selector naming each page's rows, only that page drawn, in the library's
    order; the downloads hold every row of the signal, made only when clicked."""
    monkeypatch.setattr(ui, "PAGE_ROWS", 100, raising=False)
    harm = _library_part(example_db, "self_harm_item")
    assert len(harm) == 213  # three pages of 100 rows in the example data
    at = app("views/safety.py")
    assert_clean(at)
    pager = at.selectbox(key="sf_self_harm_item_page")
    assert pager.options == ["rows 1-100 of 213", "rows 101-200 of 213", "rows 201-213 of 213"]
    assert _rows(_shown(at, "self_harm_item")) == _rows(harm.iloc[:100])
    said = texts(at)
    assert "The table shows one page, rows 1-100 of 213" in said
    assert "The CSV and Excel downloads hold all 213 rows." in said
    assert "by programme, mother and date, not by urgency" in said
    # the files are made when a button is clicked, not on every run
    assert callable(downloads["sf_self_harm_item_csv"]) and callable(downloads["sf_self_harm_item_xlsx"])

    pager.set_value(1)
    at.run()
    assert_clean(at)
    second = _shown(at, "self_harm_item")
    assert _rows(second) == _rows(harm.iloc[100:200])
    assert list(second.columns) == list(harm.columns)
    assert "The table shows one page, rows 101-200 of 213" in texts(at)
    at.selectbox(key="sf_self_harm_item_page").set_value(2)
    at.run()
    assert _rows(_shown(at, "self_harm_item")) == _rows(harm.iloc[200:])

    # every row of the signal, whichever page is shown: the file the whole table gave before it was paged
    assert _file(downloads, "sf_self_harm_item_csv") == data.frame_bytes(ui.readable(harm), "csv")
    workbook = pd.read_excel(io.BytesIO(_file(downloads, "sf_self_harm_item_xlsx")))
    assert len(workbook) == 213
    assert list(workbook["participant_id"]) == list(harm["participant_id"])


def test_a_long_list_can_be_narrowed_to_a_programme(app, example_db, monkeypatch, downloads) -> None:  # noqa: ANN001
    """A list longer than a page offers its programmes: both tables and their downloads hold that programme's
    rows only, in the library's order."""
    monkeypatch.setattr(ui, "PAGE_ROWS", 100, raising=False)
    at = app("views/safety.py")
    assert_clean(at)
    chooser = at.selectbox(key="sf_programme")
    assert chooser.options == ["Every programme", "P-GROUP", "P-HOME", "P-PAID", "P-PHONE"]
    chooser.set_value("P-PHONE")
    at.run()
    assert_clean(at)
    for signal in ("self_harm_item", "reliable_deterioration"):
        part = _library_part(example_db, signal)
        part = part[part["programme_id"] == "P-PHONE"]
        part = part.drop(columns=[c for c in ("item_as_given",) if c in part and part[c].isna().all()])
        if part.empty:
            assert not any("signal" in f.columns and set(f["signal"]) == {signal} for f in frames(at))
            continue
        assert _rows(_shown(at, signal)) == _rows(part.iloc[:100])
        assert _file(downloads, f"sf_{signal}_csv") == data.frame_bytes(ui.readable(part), "csv")


def test_a_list_of_one_page_looks_as_before(app, example_db, downloads) -> None:  # noqa: ANN001
    """At most a page of rows: the whole table, no page selector and no word of pages; the downloads hold it."""
    at = app("views/safety.py")
    assert_clean(at)
    assert not at.selectbox  # no page selector, no programme chooser
    assert "one page" not in texts(at)
    for signal in ("self_harm_item", "reliable_deterioration"):
        part = _library_part(example_db, signal)
        assert 0 < len(part) <= 500  # ui.PAGE_ROWS
        assert _rows(_shown(at, signal)) == _rows(part)
        assert _file(downloads, f"sf_{signal}_csv") == data.frame_bytes(ui.readable(part), "csv")


# --------------------------------------------------------------------------- one shared list per key, by role


@pytest.mark.usefixtures("empty_caches")
def test_the_list_is_one_shared_object_per_key(ctx_for, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: ANN001
    """Made once per key and shared (not a pickled copy per call); a page's copy never changes the shared one."""
    import evalkit.safety

    made = []
    original = evalkit.safety.safety_list
    monkeypatch.setattr(evalkit.safety, "safety_list", lambda *a, **k: made.append(1) or original(*a, **k))
    admin = ctx_for(Scope.admin())
    first, again = data.safety_list(admin), data.safety_list(admin)
    assert len(made) == 1
    assert first is not again
    assert np.shares_memory(first["score"].to_numpy(), again["score"].to_numpy())
    kept = again.copy()
    first["score"] = -1.0
    first.loc[first.index[0], "reason"] = "changed by a page"
    pd.testing.assert_frame_equal(data.safety_list(admin), kept)
    assert len(made) == 1


@pytest.mark.usefixtures("empty_caches")
def test_the_shared_list_keeps_the_role_check_and_the_scope(ctx_for) -> None:  # noqa: ANN001
    """Each scope its own list; roles without the safety list are refused even once another role's is made."""
    everything = data.safety_list(ctx_for(Scope.admin()))
    north_ctx = ctx_for(Scope.for_provider(NORTH))
    north = data.safety_list(north_ctx)
    own = set(data.programmes(north_ctx)["programme_id"])
    assert len(north) and set(north["programme_id"]) <= own < set(everything["programme_id"])
    for scope in (Scope.for_evaluator(sorted(own)), Scope("researcher")):
        with pytest.raises(AccessDenied):
            data.safety_list(ctx_for(scope))
