"""Validation finishes each table (valid rows, quarantine) right after its own checks, or all at the end when
checked against stored rows (:func:`evalkit.validation.core._finish_early`): both give the same result."""

from __future__ import annotations

import pandas as pd
import pytest

from evalkit.generator import generate_programmes, write_examples
from evalkit.readers import read_files
from evalkit.validation import core, validate


@pytest.fixture(scope="module")
def messy_upload(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """A generated upload with errors in every table: repeated and unknown ids, bad dates and codes, a head
    count below the mothers named, contacts after an ending, scores out of range."""
    out = tmp_path_factory.mktemp("messy")
    paths = [p for p in write_examples(generate_programmes(n_participants=120, seed=5), out)
             if p.suffix == ".csv" and p.stem != "true_effects"]
    frames = {p.stem: pd.read_csv(p, dtype=str, keep_default_na=False) for p in paths}
    part, cont, meas, sess = (frames[t] for t in ("participants", "contacts", "measures", "group_sessions"))
    part.loc[3, "participant_id"] = part.loc[2, "participant_id"]  # a repeated id
    part.loc[5, "referral_date"] = "31/02/2025"
    cont.loc[0, "participant_id"] = "NOBODY"
    cont.loc[1, "status"] = "maybe"
    cont.loc[2, "contact_date"] = "2099-01-01"
    attended = cont[(cont["status"] == "attended") & (cont["group_session_id"] != "")]
    busiest = attended["group_session_id"].value_counts().index[0]
    sess.loc[sess["group_session_id"] == busiest, "head_count"] = "1"
    meas.loc[0, "item_1"] = "9"
    meas.loc[1, "participant_id"] = part.loc[3, "participant_id"]
    meas.loc[2, "completed_on"] = "not a date"
    for name, frame in frames.items():
        frame.to_csv(out / f"{name}.csv", index=False)
    return read_files([out / f"{n}.csv" for n in frames])


def _validated(raw: dict[str, pd.DataFrame], early: bool, monkeypatch: pytest.MonkeyPatch, **kwargs):  # noqa: ANN202
    monkeypatch.setattr(core, "_finish_early", lambda against_stored: early)
    return validate(raw, today="2026-06-01", **kwargs)


@pytest.mark.parametrize("tables", [None, ("participants", "contacts", "measures"), ("group_sessions", "contacts"),
                                    ("programmes", "group_sessions")])
def test_finishing_each_table_early_or_at_the_end_gives_the_same_result(messy_upload, tables,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    raw = messy_upload if tables is None else {t: messy_upload[t] for t in tables}
    early, late = (_validated(raw, flag, monkeypatch) for flag in (True, False))
    assert list(early.tables) == list(late.tables) == [t for t in core.TABLE_NAMES if t in raw]
    for name in early.tables:
        pd.testing.assert_frame_equal(early.tables[name], late.tables[name])
        pd.testing.assert_frame_equal(early.quarantine[name], late.quarantine[name])
    pd.testing.assert_frame_equal(early.report, late.report)
    assert early.absent_columns == late.absent_columns
    if tables is None:  # the upload's errors are all found (the fixture is not clean by accident)
        rules = set(early.report["rule"])
        assert {"participant_in_two_programmes", "foreign_key", "enum", "future_date", "head_count_below_named",
                "item_range", "type"} <= rules
        assert all(len(early.quarantine[t]) for t in ("participants", "contacts", "measures"))


def test_a_re_upload_finishes_its_tables_at_the_end() -> None:
    assert core._finish_early(against_stored=False) is True
    assert core._finish_early(against_stored=True) is False
