"""Dashboard test fixtures: the bundled example data ingested once into a temporary SQLite database.

Every page is run with ``streamlit.testing.v1.AppTest`` (no browser) against
that database through ``EVALKIT_DB_URL``, in single-user mode unless a test
signs someone in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import TEST_SECRET
from streamlit.testing.v1 import AppTest

from evalkit._resources import resource_dir

APP = str(Path(__file__).resolve().parents[2] / "dashboards" / "app.py")
TIMEOUT = 60  # seconds; the first run imports pandas, statsmodels and fits models


@pytest.fixture(scope="session")
def example_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """URL of an SQLite database holding the bundled example data (loaded once per test session)."""
    from evalkit.cli.cmd_dashboard import load_example

    url = "sqlite:///" + str(tmp_path_factory.mktemp("dash") / "example.sqlite")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("EVALKIT_SECRET", TEST_SECRET)
        made = load_example(url, folder=resource_dir("examples/data"))
    assert made, "the example data were not loaded"
    return url


@pytest.fixture
def empty_caches() -> Iterator[None]:
    """The dashboard's data and result caches emptied before and after the test (as after an upload), for tests
    that count what a page computes or compare what the caches share (``pytest.mark.usefixtures``)."""
    from dashboards import data

    data.clear_caches()
    yield
    data.clear_caches()


@pytest.fixture
def ctx_for(example_db: str) -> Callable[..., object]:
    """Build a dashboard data context for a scope on the example database."""
    from dashboards import data

    def make(scope, **filters):  # noqa: ANN001, ANN202
        return data.Context(url=example_db, scope=scope, filters=data.Filters(**filters))

    return make


@pytest.fixture
def app(example_db: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Callable[..., AppTest]]:
    """Factory: ``app(page="views/overview.py", user=None)`` -> an AppTest that has run that page."""
    monkeypatch.setenv("EVALKIT_DB_URL", example_db)
    monkeypatch.setenv("EVALKIT_ACCOUNTS_FILE", str(tmp_path / "accounts.json"))

    def run(page: str | None = None, user: object | None = None) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        if user is not None:
            from dashboards import state

            at.session_state[state.USER] = user
        at.run()
        if page is not None:
            at.switch_page(page)
            at.run()
        return at

    yield run
    from dashboards import data

    data.clear_caches()


def assert_clean(at: AppTest, *, allow: tuple[str, ...] = ()) -> None:
    """No exception and no error message on the page (``allow``: sections with a known library problem)."""
    assert not at.exception, [e.value for e in at.exception]
    errors = [e.value for e in at.error if not any(f"**{a}**" in e.value for a in allow)]
    assert not errors, errors


def texts(at: AppTest) -> str:
    """All markdown, captions, info, warning and error texts of a run, joined (for 'is it said' checks)."""
    parts = []
    for kind in ("markdown", "caption", "info", "warning", "error", "success", "title", "subheader"):
        parts += [str(e.value) for e in at.get(kind)]
    return "\n".join(parts)


def frames(at: AppTest) -> list:
    """Every dataframe shown (AppTest does not keep st.dataframe keys, so tests find tables by columns)."""
    return [e.value for e in at.dataframe]


def frame_with(at: AppTest, *columns: str, index: int = 0):  # noqa: ANN201
    """The ``index``-th dataframe shown that has all of ``columns``."""
    found = [f for f in frames(at) if all(c in f.columns for c in columns)]
    assert len(found) > index, f"no table with columns {columns}; tables: {[list(f.columns) for f in frames(at)]}"
    return found[index]
