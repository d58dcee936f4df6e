"""Reading an upload's files ahead of validation (:mod:`evalkit.readers.ahead`): the same frames, the same
results and the same first error as reading every file first (:func:`evalkit.readers.read_files`)."""

from __future__ import annotations

import threading
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli import main
from evalkit.errors import InputFileError
from evalkit.generator import generate_programmes, write_examples
from evalkit.readers import ahead as ahead_module
from evalkit.readers import read_files
from evalkit.readers.ahead import TablesReadAhead, planned_tables, read_files_ahead
from evalkit.validation import validate

TODAY = "2026-01-01"


@pytest.fixture(scope="module")
def upload(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The five tables of a small generated upload, as CSV files (contacts first: not validation's order)."""
    out = tmp_path_factory.mktemp("upload")
    written = write_examples(generate_programmes(n_participants=60, seed=3), out)
    tables = {p.stem: p for p in written if p.suffix == ".csv" and p.stem != "true_effects"}
    return [tables[t] for t in ("contacts", "measures", "participants", "programmes", "group_sessions")]


def _same_results(a, b) -> None:  # noqa: ANN001
    for name in a.tables:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name])
        pd.testing.assert_frame_equal(a.quarantine[name], b.quarantine[name])
    assert list(a.tables) == list(b.tables)
    pd.testing.assert_frame_equal(a.report, b.report)


def test_tables_read_ahead_are_read_files_frames_and_validate_alike(upload: list[Path]) -> None:
    expected = read_files(upload)
    with read_files_ahead(upload) as raw:
        assert isinstance(raw, TablesReadAhead)
        assert list(raw) == list(expected) and len(raw) == len(expected)  # keys in the files' order
        result = validate(raw, today=TODAY)
        for name, frame in expected.items():
            pd.testing.assert_frame_equal(raw[name], frame)
            assert raw[name].attrs == frame.attrs  # the reader's notes travel too
    _same_results(result, validate(expected, today=TODAY))


def test_several_files_of_one_table_are_merged_in_the_order_given(upload: list[Path], tmp_path: Path) -> None:
    participants = pd.read_csv(upload[2], dtype=str, keep_default_na=False)
    first, second = tmp_path / "participants_north.csv", tmp_path / "participants_south.csv"
    participants.iloc[::2].to_csv(first, index=False)
    participants.iloc[1::2].to_csv(second, index=False)
    paths = [second, upload[0], first, upload[3]]
    expected = read_files(paths)
    with read_files_ahead(paths) as raw:
        assert isinstance(raw, TablesReadAhead)
        pd.testing.assert_frame_equal(raw["participants"], expected["participants"])
        assert raw["participants"]["source_file"].iloc[0] == second.name
        _same_results(validate(raw, today=TODAY), validate(expected, today=TODAY))


def test_the_first_file_in_the_order_given_that_cannot_be_read_is_the_error(upload: list[Path],
                                                                            tmp_path: Path) -> None:
    # the measures file comes first in the order given but is read last (validation's order): its error is
    # still the one raised, as read_files raises it, whichever table validation asks for first
    bad_measures, bad_participants = tmp_path / "measures.csv", tmp_path / "participants.csv"
    bad_measures.write_bytes(b"")
    bad_participants.write_bytes(b"\x00\x01\x02binary")
    paths = [upload[0], bad_measures, bad_participants, upload[3]]
    with pytest.raises(InputFileError) as expected:
        read_files(paths)
    assert "measures.csv" in str(expected.value)
    with read_files_ahead(paths) as raw, pytest.raises(InputFileError) as got:
        validate(raw, today=TODAY)
    assert str(got.value) == str(expected.value)


def test_a_file_that_cannot_be_read_comes_before_what_fails_after(upload: list[Path], tmp_path: Path) -> None:
    # validation's own setup (the instrument registry, the date) fails before it looks up the unreadable table:
    # read_files would have raised the file's error before validation began, and so does reading ahead
    empty = tmp_path / "participants.csv"
    empty.write_bytes(b"")
    paths = [upload[3], empty, upload[4]]
    with pytest.raises(InputFileError) as expected:
        read_files(paths)
    with pytest.raises(InputFileError) as got, read_files_ahead(paths):
        raise ValueError("instrument folder does not exist")
    assert str(got.value) == str(expected.value)
    with pytest.raises(ValueError, match="instrument folder"), read_files_ahead(upload):  # files fine: its own error
        raise ValueError("instrument folder does not exist")
    with pytest.raises(KeyboardInterrupt), read_files_ahead(paths):  # an interrupt is not held up
        raise KeyboardInterrupt


def test_uploads_whose_tables_are_not_known_by_name_are_read_first(upload: list[Path], tmp_path: Path) -> None:
    unnamed = tmp_path / "export_2025.csv"
    unnamed.write_bytes(upload[2].read_bytes())
    assert planned_tables([unnamed, upload[0]]) is None  # its table only its headers can tell
    assert planned_tables([upload[0], tmp_path / "participants.csv"]) is None  # reading it says it is missing
    assert planned_tables([unnamed], table="participants") == [(unnamed, "participants")]
    # one row per mother with her scores: named after one table, read as two
    wide = tmp_path / "mums_2025.csv"
    wide.write_text("participant_id,programme_id,referral_date,EPDS at start,EPDS at end\n"
                    "M1,P1,2025-01-02,12,8\nM2,P1,2025-01-03,15,10\n")
    assert planned_tables([wide, upload[0]]) is None
    for paths, kwargs in (([unnamed, upload[0]], {}), ([upload[2]], {}), ([upload[2], upload[0]], {"sheet": "x"}),
                          ([wide, upload[0]], {})):
        with read_files_ahead(paths, **kwargs) as raw:
            assert type(raw) is dict
            expected = read_files(paths, **kwargs)
            assert list(raw) == list(expected)


def test_closing_stops_the_tables_not_yet_begun(upload: list[Path], monkeypatch: pytest.MonkeyPatch) -> None:
    import evalkit.readers as readers

    started, release = threading.Event(), threading.Event()
    read: list[str] = []
    real = readers.read_file

    def slow_read_file(path, **kwargs):  # noqa: ANN001, ANN202
        read.append(Path(path).stem)
        started.set()
        release.wait(10)
        return real(path, **kwargs)

    monkeypatch.setattr(readers, "read_file", slow_read_file)
    tables = TablesReadAhead(planned_tables(upload), limits=None)
    assert started.wait(10)  # the first table in validation's order is being read; the others wait
    threading.Timer(0.2, release.set).start()
    tables.close()
    assert read == ["programmes"]
    assert len(tables["programmes"]) > 0  # the table being read when closed is there
    with pytest.raises(RuntimeError, match="the participants table was not read"):
        tables["participants"]
    with pytest.raises(KeyError):
        tables["not_a_table"]
    assert "participants" in tables and "not_a_table" not in tables


def test_evalkit_validate_reads_ahead_and_says_the_same(upload: list[Path], capsys: pytest.CaptureFixture,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[str] = []
    real_init = TablesReadAhead.__init__

    def counting_init(self, *args, **kwargs):  # noqa: ANN001, ANN202
        made.append("read ahead")
        real_init(self, *args, **kwargs)

    monkeypatch.setattr(TablesReadAhead, "__init__", counting_init)
    code = main(["validate", *map(str, upload), "--today", TODAY, "--format", "json"])
    ahead_out = capsys.readouterr().out
    assert made == ["read ahead"]
    monkeypatch.setattr(ahead_module, "planned_tables", lambda *a, **k: None)  # every file read first
    assert main(["validate", *map(str, upload), "--today", TODAY, "--format", "json"]) == code
    assert capsys.readouterr().out == ahead_out
    assert made == ["read ahead"]
