"""validate's default instrument registry is kept between calls only while its definition files are unchanged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from evalkit.instruments import load_instruments
from evalkit.validation.core import default_instruments


def _write(folder: Path, max_missing: int) -> Path:
    path = folder / "epds.json"
    path.write_text(json.dumps({"code": "epds", "extends": "epds",
                                "missing_items": {"max_missing": max_missing, "prorate": True}}), encoding="utf-8")
    return path


def test_registry_same_as_loaded_and_a_new_dict_each_call() -> None:
    first, second = default_instruments(), default_instruments()
    assert first == load_instruments() and second == first
    assert first is not second
    first.pop("epds")  # a caller changing its dict does not change the next caller's
    assert "epds" in default_instruments()


def test_registry_follows_edited_added_and_removed_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_INSTRUMENTS_DIR", str(tmp_path))
    path = _write(tmp_path, 1)
    assert default_instruments()["epds"].max_missing == 1
    _write(tmp_path, 2)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))  # a later modification time
    assert default_instruments()["epds"].max_missing == 2
    path.unlink()
    assert default_instruments()["epds"].max_missing == load_instruments()["epds"].max_missing
    monkeypatch.delenv("EVALKIT_INSTRUMENTS_DIR")
    assert default_instruments() == load_instruments()
