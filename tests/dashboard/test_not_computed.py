"""[c] only for a hidden small number; a figure that could not be computed shows as a dash with a reason.

Also the recovery headlines: each says what it counts (the report's words) with its own explanation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from conftest import TEST_SECRET
from streamlit.testing.v1 import AppTest

from evalkit._resources import resource_dir

from .conftest import APP, TIMEOUT, assert_clean, texts


def _subset(folder: Path, keep: Callable[[pd.DataFrame], pd.DataFrame], *, baseline_only: bool = False) -> Path:
    """The example files cut down to the participants ``keep`` returns (and their programmes)."""
    src = resource_dir("examples/data")
    folder.mkdir(parents=True)
    parts = keep(pd.read_csv(src / "participants.csv", dtype=str))
    pids, ids = set(parts["programme_id"]), set(parts["participant_id"])
    progs = pd.read_csv(src / "programmes.csv", dtype=str)
    progs[progs["programme_id"].isin(pids)].to_csv(folder / "programmes.csv", index=False)
    parts.to_csv(folder / "participants.csv", index=False)
    for table in ("contacts", "measures"):
        frame = pd.read_csv(src / f"{table}.csv", dtype=str)
        frame = frame[frame["participant_id"].isin(ids)]
        if table == "measures" and baseline_only:  # one questionnaire each: nobody can be paired
            frame = frame.sort_values("completed_on").drop_duplicates(["participant_id", "instrument"])
        frame.to_csv(folder / f"{table}.csv", index=False)
    sessions = pd.read_csv(src / "group_sessions.csv", dtype=str)
    sessions[sessions["programme_id"].isin(pids)].to_csv(folder / "group_sessions.csv", index=False)
    return folder


def _store(tmp_path: Path, folder: Path) -> str:
    from evalkit.cli.cmd_dashboard import load_example

    url = "sqlite:///" + str(tmp_path / "store.sqlite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_SECRET", TEST_SECRET)
        assert load_example(url, folder=folder)
    return url


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[[str, str], AppTest]]:
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))

    def run(url: str, name: str) -> AppTest:
        monkeypatch.setenv("EVALKIT_DB_URL", url)
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.run()
        if name != "overview":
            at.switch_page(f"views/{name}.py")
            at.run()
        return at

    yield run
    from dashboards import data

    data.clear_caches()


def test_fmt_and_cell_tell_hidden_from_not_computed() -> None:
    from dashboards import ui

    row = pd.Series({"n": pd.NA, "pct": float("nan"), "mean": float("nan"), "suppressed": "n; pct"})
    assert ui.fmt(ui.cell(row, "n"), 0) == "[c]" and ui.fmt(ui.cell(row, "pct")) == "[c]"
    assert ui.fmt(ui.cell(row, "mean")) == "\u2013"  # missing but not hidden: not computed
    assert ui.fmt(None) == "\u2013" and ui.fmt(float("nan")) == "\u2013"
    assert ui.fmt(ui.cell({"n": 0, "suppressed": None}, "n"), 0) == "0"


def test_recovery_headlines_say_what_they_count(app) -> None:  # noqa: ANN001
    from evalkit.glossary import explain

    at = app()
    assert_clean(at)
    labels = [m.label for m in at.metric]
    assert "Recovered from symptoms only" in labels
    assert "Recovered from symptoms and better within" in labels
    assert "Recovery within (symptoms still above cut-off)" in labels
    assert "Recovered from symptoms" not in labels  # it is 'only': not those also better within
    shown = texts(at)
    captions = [explain("recovery_from_only"), explain("recovery_both"), explain("recovery_within")]
    assert len(set(captions)) == 3
    for caption in captions:
        assert caption in shown, caption
    # the base is the mothers the library counts: above a cut-off at the start, with both kinds of score paired
    assert "(of mothers above a symptom cut-off at the start with a paired symptom score and a paired wellbeing " \
           "or recovery score)" in shown


def test_pooled_from_one_programme_is_not_computed_not_hidden(page, tmp_path: Path) -> None:  # noqa: ANN001
    url = _store(tmp_path, _subset(tmp_path / "one", lambda p: p[p["programme_id"] == "P-GROUP"]))
    at = page(url, "compare")
    assert_clean(at)
    pooled = [m.value for m in at.markdown if m.value.startswith("**Pooled:**")]
    assert len(pooled) == 1, pooled
    assert "[c]" not in pooled[0]
    assert "\u2013" in pooled[0] and "not computed" in pooled[0] and "at least 2" in pooled[0]
    assert "1 programmes" not in pooled[0] and "1 programme" in pooled[0]


def test_no_paired_mothers_is_not_computed_not_hidden(page, tmp_path: Path) -> None:  # noqa: ANN001
    folder = _subset(tmp_path / "three", lambda p: p[p["programme_id"] == "P-PAID"].head(3), baseline_only=True)
    at = page(_store(tmp_path, folder), "overview")
    assert_clean(at)
    changes = {m.label: m.value for m in at.metric if m.label.endswith("mean change")}
    assert changes and set(changes.values()) == {"\u2013"}, changes
    assert "not computed: no paired mothers · n = 0" in texts(at)
