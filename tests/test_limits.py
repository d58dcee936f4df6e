"""Upload limits: configurable in one place (``evalkit.limits``, ``EVALKIT_MAX_*``), enforced at every door,
refused with a clear message, cheaply (a file over the size limit is never read; a zip bomb is never opened).
"""

from __future__ import annotations

import io
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
from badinput.helpers import cli, diff, snapshot

from evalkit.errors import InputFileError
from evalkit.limits import DEFAULTS, ENV_VARS, env_limit, read_limits
from evalkit.readers import ReadLimits, read_file

MB = 1024 * 1024
HEADER = "participant_id,programme_id,referral_date,referral_source,deprivation_decile,baby_age_weeks\n"


def _rows(n: int) -> str:
    return "".join(f"N{1000 + i},P-N1,2025-01-{i % 28 + 1:02d},self,{i % 10 + 1},{i % 40}\n" for i in range(n))


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "up").mkdir()
    return tmp_path / "up"


def test_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert ReadLimits() == ReadLimits(max_bytes=200 * MB, max_rows=5_000_000, max_columns=1_000,
                                      max_uncompressed_bytes=1024 * MB)
    assert set(ENV_VARS) == set(DEFAULTS)
    monkeypatch.setenv("EVALKIT_MAX_UPLOAD_MB", "0.5")
    monkeypatch.setenv("EVALKIT_MAX_ROWS", "1,000")
    monkeypatch.setenv("EVALKIT_MAX_COLUMNS", " 40 ")
    monkeypatch.setenv("EVALKIT_MAX_UNCOMPRESSED_MB", "64")
    assert ReadLimits() == ReadLimits(max_bytes=MB // 2, max_rows=1000, max_columns=40, max_uncompressed_bytes=64 * MB)
    assert ReadLimits(max_rows=7).max_rows == 7  # an explicit value wins
    assert read_limits(max_columns=3).max_columns == 3
    assert read_limits({}).max_rows == 5_000_000  # an explicit environment mapping
    monkeypatch.setenv("EVALKIT_MAX_ROWS", "")
    assert env_limit("max_rows") == 5_000_000  # blank = default


@pytest.mark.parametrize("var,value", [("EVALKIT_MAX_ROWS", "lots"), ("EVALKIT_MAX_ROWS", "-5"),
                                       ("EVALKIT_MAX_ROWS", "2.5"), ("EVALKIT_MAX_COLUMNS", "0"),
                                       ("EVALKIT_MAX_UPLOAD_MB", "inf"), ("EVALKIT_MAX_UPLOAD_MB", "nan")])
def test_a_bad_setting_is_named(var: str, value: str, monkeypatch: pytest.MonkeyPatch, folder: Path, capsys) -> None:  # noqa: ANN001
    monkeypatch.setenv(var, value)
    with pytest.raises(ValueError, match=var):
        ReadLimits()
    (folder / "participants.csv").write_text(HEADER + _rows(2))
    code, _, err = cli(capsys, "validate", folder / "participants.csv")
    assert code == 2 and var in err and "evalkit validate:" in err


def _ingest_refused(capsys, folder: Path, db: Path, path: Path, needle: str) -> None:  # noqa: ANN001
    """Both CLI doors refuse ``path`` (exit 2, ``needle`` in the message) and the store is unchanged."""
    before = snapshot(str(db))
    for argv in (("validate", path), ("ingest", path, "--provider", "North", "--db", db)):
        code, out, err = cli(capsys, *argv)
        assert code == 2, err
        assert needle in err and path.name in err, err
    assert diff(before, snapshot(str(db))) == {}


@pytest.fixture
def db(tmp_path: Path, capsys) -> Path:  # noqa: ANN001
    path = tmp_path / "store.sqlite"
    prog = tmp_path / "seed" / "programmes.csv"
    prog.parent.mkdir()
    prog.write_text("programme_id,name,provider,format,mode,delivered_by\nP-N1,G,North,group,in_person,volunteer_peers\n")
    assert cli(capsys, "ingest", prog, "--provider", "North", "--db", path)[0] == 0
    return path


def test_upload_size_limit(monkeypatch: pytest.MonkeyPatch, folder: Path, db: Path, capsys) -> None:  # noqa: ANN001
    path = folder / "participants.csv"
    path.write_text(HEADER + _rows(100))  # about 3.5 KB
    monkeypatch.setenv("EVALKIT_MAX_UPLOAD_MB", "0.002")  # about 2 KB
    _ingest_refused(capsys, folder, db, path, "MB evalkit reads at once. Split it into smaller files")
    monkeypatch.setenv("EVALKIT_MAX_UPLOAD_MB", "0.01")
    assert cli(capsys, "ingest", path, "--provider", "North", "--db", db)[0] == 0


def test_row_limit(monkeypatch: pytest.MonkeyPatch, folder: Path, db: Path, capsys) -> None:  # noqa: ANN001
    import openpyxl

    path = folder / "participants.csv"
    path.write_text(HEADER + _rows(6))
    book = folder / "participants.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "participants"
    for line in (HEADER + _rows(6)).splitlines():
        wb.active.append(line.split(","))
    wb.save(book)
    monkeypatch.setenv("EVALKIT_MAX_ROWS", "5")
    _ingest_refused(capsys, folder, db, path, "more than 5 rows")
    _ingest_refused(capsys, folder, db, book, "more than 5 rows")
    monkeypatch.setenv("EVALKIT_MAX_ROWS", "6")  # at the limit: read
    assert len(read_file(path)["participants"]) == 6 and len(read_file(book)["participants"]) == 6


def test_column_limit(monkeypatch: pytest.MonkeyPatch, folder: Path, db: Path, capsys) -> None:  # noqa: ANN001
    path = folder / "participants.csv"
    path.write_text(HEADER + _rows(3))  # 6 columns
    monkeypatch.setenv("EVALKIT_MAX_COLUMNS", "5")
    _ingest_refused(capsys, folder, db, path, "6 columns, more than the 5 evalkit reads")
    monkeypatch.setenv("EVALKIT_MAX_COLUMNS", "6")
    assert cli(capsys, "ingest", path, "--provider", "North", "--db", db)[0] == 0


def test_workbook_expansion_limit(monkeypatch: pytest.MonkeyPatch, folder: Path, db: Path, capsys) -> None:  # noqa: ANN001
    """A workbook whose parts expand past EVALKIT_MAX_UNCOMPRESSED_MB is refused before it is opened."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.title = "participants"
    wb.active.append(HEADER.strip().split(","))
    for i in range(3000):  # about 2 MB of sheet XML, ordinary compression
        wb.active.append([f"N{i:05d}", "P-N1", "2025-01-02", "self", i % 10 + 1, i % 40])
    path = folder / "participants.xlsx"
    wb.save(path)
    monkeypatch.setenv("EVALKIT_MAX_UNCOMPRESSED_MB", "0.5")
    _ingest_refused(capsys, folder, db, path, "MB evalkit allows")


def test_score_honours_the_limits(monkeypatch: pytest.MonkeyPatch, folder: Path, capsys) -> None:  # noqa: ANN001
    path = folder / "measures.csv"
    path.write_text("instrument,item_1,item_2\n" + "epds,1,1\n" * 10)
    monkeypatch.setenv("EVALKIT_MAX_ROWS", "5")
    code, _, err = cli(capsys, "score", path, "-o", folder / "out.csv")
    assert code == 2 and "more than 5 rows" in err
    monkeypatch.setenv("EVALKIT_MAX_UPLOAD_MB", "0.0001")
    code, _, err = cli(capsys, "score", path, "-o", folder / "out.csv")
    assert code == 2 and "evalkit reads at once" in err


def test_two_hundred_mb_file_is_refused_without_reading_it(tmp_path: Path) -> None:
    for name, head in (("participants.csv", HEADER.encode()), ("participants.xlsx", b"PK\x03\x04"),
                       ("measures.json", b"[")):
        path = tmp_path / name
        with path.open("wb") as fh:  # sparse: costs no disk
            fh.write(head)
            fh.truncate(200 * MB + 1)
        tracemalloc.start()
        started = time.process_time()
        with pytest.raises(InputFileError, match=r"200\.0 MB, more than the 200\.0 MB evalkit reads at once"):
            read_file(path)
        used = time.process_time() - started
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert used < 2 and peak < 20 * MB, (name, used, peak)


def _bomb(part: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("xl/workbook.xml", "<workbook/>")
        z.writestr(part, b"<x>" + b"A" * (8 * MB) + b"</x>")
    return out.getvalue()


@pytest.mark.parametrize("part", ["xl/sharedStrings.xml", "xl/worksheets/sheet1.xml", "xl/styles.xml"])
def test_zip_bombs_are_refused_before_anything_opens_them(part: str, tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    import openpyxl

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("openpyxl opened a workbook the zip-bomb guard should have refused first")

    monkeypatch.setattr(openpyxl, "load_workbook", never)
    path = tmp_path / "participants.xlsx"
    path.write_bytes(_bomb(part))
    with pytest.raises(InputFileError, match=f"{part} is compressed"):
        read_file(path)


def test_dashboard_upload_honours_the_limits(monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("streamlit")
    from dashboards import data

    monkeypatch.setenv("EVALKIT_MAX_ROWS", "2")
    with pytest.raises(InputFileError, match="more than 2 rows"):
        data.read_uploaded([("participants.csv", (HEADER + _rows(3)).encode())])
