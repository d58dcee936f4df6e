"""The ingest stage measures the analysis commands on the database, each as a process of its own."""

from __future__ import annotations

from pathlib import Path

from conftest import example_frames, result_of

from benchmarks import common, stage_ingest
from evalkit.ingest import ingest
from evalkit.store import open_store


def test_each_command_is_recorded_with_its_own_peak(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    store = open_store(url)
    try:
        ingest(result_of(example_frames("North", n=30)), store, provider="North", file_name="a.csv",
               sha256="ab" * 32)
    finally:
        store.close()
    monkeypatch.setattr(common, "RECORDS", [])
    stage_ingest.analysis_commands("ingest_sqlite", 30, url, 100, tmp_path)
    steps = {r["step"]: r for r in common.RECORDS}
    assert list(steps) == ["command: evalkit outcomes", "command: evalkit report", "command: evalkit summary"]
    for rec in steps.values():
        assert "error" not in rec, rec.get("error")
        assert rec["seconds"] > 0 and rec["cpu_s"] > 0
        assert 30 < rec["peak_mb"] < 2000  # a Python process with pandas loaded, measured in the child
    assert (tmp_path / "report.html").stat().st_size > 1000
    assert (tmp_path / "summary.json").exists()


def test_a_failing_command_is_recorded_with_its_error(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setattr(common, "RECORDS", [])
    monkeypatch.setattr(stage_ingest, "COMMANDS", (("outcomes", ["outcomes", "--no-models"]),))
    stage_ingest.analysis_commands("ingest_sqlite", 1, f"sqlite:///{tmp_path / 'missing' / 'no.sqlite'}", 1, tmp_path)
    (rec,) = common.RECORDS
    assert rec["error"].startswith("exit ")
