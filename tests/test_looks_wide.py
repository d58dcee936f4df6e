"""Which files are one row per mother: the quick test of a row before its cells are classified."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.generator import generate_programmes
from evalkit.generator._wide import wide_frame
from evalkit.readers import wide
from evalkit.readers.wide import _LOOK_COLUMNS, _rows_look_wide, classify_header, looks_wide, prefetch_headers

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "data"


def every_cell_classified(rows: list[list[object]]) -> bool:
    """The check as it was before rows were tested first: every cell of every row classified."""
    for row in rows:
        texts = [str(c).strip() for c in row[:_LOOK_COLUMNS] if c is not None and str(c).strip()]
        if len(texts) < 2:
            continue
        prefetch_headers(texts)
        roles = [classify_header(t) for t in texts]
        known = sum(1 for r in roles if r.kind not in ("unknown", "blank"))
        if any(r.kind == "score" for r in roles) and known >= 2 and 2 * known >= len(texts):
            return True
    return False


@pytest.fixture(scope="module")
def sheets() -> list[pd.DataFrame]:
    data = generate_programmes(40, seed=5)
    return [wide_frame(data, messy=messy, seed=seed) for messy in (False, True) for seed in (1, 2, 3)]


@pytest.fixture(scope="module")
def cells(sheets) -> list[str]:
    """Headers of provider-style sheets, their cells, the long tables' headers and cells, and other words."""
    pool: list[str] = []
    for frame in sheets:
        pool += [str(c) for c in frame.columns]
        pool += [str(v) for v in frame.head(8).to_numpy().ravel() if pd.notna(v)]
    for name in ("participants", "measures", "contacts"):
        long = pd.read_csv(EXAMPLE / f"{name}.csv", dtype=str, nrows=5)
        pool += list(long.columns) + [v for v in long.to_numpy().ravel() if isinstance(v, str)]
    pool += ["Notes", "Mum's name", "Postcode", "EPDS change", "PHQ-9 items", "GAD7 T1", "WEMWBS start and end",
             "Baseline date", "EPDS", "start", "Referral", "", "  "]
    return list(dict.fromkeys(pool))


def test_rows_of_provider_sheets_are_judged_as_by_classifying_every_cell(sheets):
    for frame in sheets:
        rows = [list(frame.columns)] + frame.head(30).astype(object).where(frame.head(30).notna(), None).values.tolist()
        assert _rows_look_wide([rows[0]]) is True
        for row in rows:
            assert _rows_look_wide([row]) == every_cell_classified([row])


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_any_row_of_known_cells_is_judged_as_by_classifying_every_cell(cells, data):
    row = data.draw(st.lists(st.sampled_from(cells), min_size=0, max_size=12))
    assert _rows_look_wide([row]) == every_cell_classified([row])


def test_data_rows_of_a_long_file_are_not_classified(monkeypatch):
    checked: list[list[str]] = []
    monkeypatch.setattr(wide, "prefetch_headers", lambda headers: checked.append(list(headers)))
    for name in ("participants", "measures", "contacts", "programmes"):
        assert looks_wide(EXAMPLE / f"{name}.csv") is False
    assert checked == []


def test_a_wide_csv_is_still_found(tmp_path, sheets):
    path = tmp_path / "mums.csv"
    title = "Peer support outcomes 2025\n\n"
    path.write_text(title + sheets[-1].to_csv(index=False), encoding="utf-8")
    assert looks_wide(path) is True
    sheets[-1].drop(columns=[c for c in sheets[-1].columns if "start" in str(c).lower() or "end" in str(c).lower()]
                    ).to_csv(path, index=False)
    assert looks_wide(path) == every_cell_classified([list(pd.read_csv(path, nrows=0).columns)])
