"""Overview page: per programme the headline figures with their n, equal to the library's."""

from __future__ import annotations

from .conftest import assert_clean, frames, texts
from .helpers import library_outcomes


def test_overview_shows_every_programme_with_its_figures(app, example_db) -> None:  # noqa: ANN001
    at = app()
    assert_clean(at)
    lib = library_outcomes(example_db)
    programmes = sorted(lib.summary["programme_id"].astype(str).unique())
    headings = [h.value for h in at.subheader]
    for pid in programmes:
        assert any(f"({pid})" in h for h in headings), (pid, headings)
    metrics: dict[str, str] = {}
    for m in at.metric:  # programmes are shown in programme_id order: keep each label's first value
        metrics.setdefault(m.label, m.value)
    first = lib.summary[(lib.summary["programme_id"] == programmes[0]) & (lib.summary["role"] == "symptom")].iloc[0]
    label = f"{first['instrument'].upper()} mean change"
    assert metrics[label] == f"{first['mean_change']:,.1f}"
    assert f"n = {int(first['n_paired'])}" in texts(at)
    # every figure of a programme is available as a table
    tables = [f for f in frames(at) if "mean_change" in f.columns and "n_engaged" in f.columns]
    assert len(tables) == len(programmes)
