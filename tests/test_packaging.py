"""The built wheel carries schemas, example data and the dashboard, and finds them when installed."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-w", str(out), str(ROOT)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (found,) = out.glob("evalkit-*.whl")
    return found


def test_wheel_contains_every_schema(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for folder in ("schemas/tables", "schemas/instruments"):
        for path in (ROOT / folder).glob("*.json"):
            assert f"evalkit/_bundled/{folder}/{path.name}" in names, path
    assert "evalkit/_bundled/schemas/instrument.schema.json" in names


def test_installed_wheel_finds_its_schemas(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)  # a wheel is a zip laid out as site-packages
    code = (
        "import evalkit, pathlib, sys\n"
        "from evalkit.schemas import table_schemas\n"
        "from evalkit.instruments import load_instruments\n"
        "from evalkit._resources import resource_dir\n"
        f"assert pathlib.Path(evalkit.__file__).is_relative_to({str(target)!r}), evalkit.__file__\n"
        "assert str(resource_dir('schemas')).startswith(str(pathlib.Path(evalkit.__file__).parent / '_bundled'))\n"
        "print(len(table_schemas()), len(load_instruments()))\n"
    )
    env = {"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-I", "-c", code.replace("import evalkit,", f"import sys; sys.path.insert(0, {str(target)!r}); import evalkit,")],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    n_tables, n_instruments = map(int, proc.stdout.split())
    assert n_tables == 5 and n_instruments == len(list((ROOT / "schemas" / "instruments").glob("*.json")))
