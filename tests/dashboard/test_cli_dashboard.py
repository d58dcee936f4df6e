"""``evalkit dashboard``: launching Streamlit on the bundled app, and the idempotent example database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

from evalkit.cli import cmd_dashboard, main
from evalkit.store import list_uploads, open_store


class _Ran:
    """Stands in for ``subprocess.Popen``: records the command and environment; the 'server' ends at once."""

    def __init__(self) -> None:
        self.cmd: list[str] = []
        self.env: dict[str, str] = {}

    def __call__(self, cmd, env=None):  # noqa: ANN001, ANN204
        self.cmd, self.env = list(cmd), dict(env or {})
        return self

    def wait(self, timeout: float | None = None) -> int:
        return 0

    def poll(self) -> int:
        return 0


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> _Ran:
    r = _Ran()
    monkeypatch.setattr(cmd_dashboard.subprocess, "Popen", r)
    return r


def test_launches_streamlit_on_the_bundled_app(ran: _Ran, tmp_path: Path) -> None:
    assert main(["dashboard", "--db", str(tmp_path / "x.sqlite"), "--port", "8611", "--no-browser"]) == 0
    assert ran.cmd[:4] == [sys.executable, "-m", "streamlit", "run"]
    assert Path(ran.cmd[4]) == cmd_dashboard.app_path() and Path(ran.cmd[4]).name == "app.py"
    assert ran.cmd[ran.cmd.index("--server.port") + 1] == "8611"
    assert ran.env[cmd_dashboard.DB_ENV] == "sqlite:///" + str((tmp_path / "x.sqlite").resolve())


def test_example_opens_the_per_user_database(ran: _Ran, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVALKIT_HOME", str(tmp_path / "home"))
    loaded: list[str] = []
    monkeypatch.setattr(cmd_dashboard, "load_example", lambda url: loaded.append(url) or [])
    assert main(["dashboard", "--example"]) == 0
    url = "sqlite:///" + str((tmp_path / "home" / "example.sqlite").resolve())
    assert loaded == [url] and ran.env[cmd_dashboard.DB_ENV] == url
    assert main(["dashboard", "--example", "--db", "x.sqlite"]) == 2


def test_never_asks_for_an_email_and_opens_the_browser_once_the_server_answers(
        ran: _Ran, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Streamlit's first-run e-mail prompt would stop a launch with no terminal: the server is always headless."""
    import http.server
    import threading

    opened: list[str] = []
    monkeypatch.setattr("webbrowser.open", opened.append)
    assert main(["dashboard", "--db", str(tmp_path / "x.sqlite")]) == 0
    assert ran.cmd[ran.cmd.index("--server.headless") + 1] == "true"

    class Health(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            self.send_response(200 if self.path == "/_stcore/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        assert cmd_dashboard.open_browser_when_ready(url, threading.Event(), timeout=10)
        assert opened == [url]
    finally:
        server.shutdown()
        server.server_close()
    stopped = threading.Event()
    stopped.set()  # the server ended before it answered: no browser
    assert not cmd_dashboard.open_browser_when_ready("http://127.0.0.1:9", stopped, timeout=5)
    assert opened == [url]


def test_loading_the_example_twice_stores_nothing_twice(example_db: str) -> None:
    store = open_store(example_db)
    try:
        before = list_uploads(store)
        assert cmd_dashboard.load_example(example_db) == []
        after = list_uploads(store)
    finally:
        store.close()
    pd.testing.assert_frame_equal(before, after)
    assert set(before["provider"]) == set(pd.read_csv(cmd_dashboard.resource_dir("examples/data") /
                                                      "programmes.csv")["provider"])


def _children(pid: int) -> list[int]:
    with open(f"/proc/{pid}/task/{pid}/children") as f:
        return [int(p) for p in f.read().split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][:1] != "Z"  # a zombie has ended (its parent has not reaped it yet)
    except FileNotFoundError:
        return False


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds the child process through /proc")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP])
def test_stopping_the_command_stops_the_streamlit_server(tmp_path: Path, sig: signal.Signals) -> None:
    """``kill PID`` of ``evalkit dashboard`` must not leave its Streamlit child serving the port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")]),
           "HOME": str(tmp_path), "EVALKIT_ACCOUNTS_FILE": str(tmp_path / "accounts.json")}
    log = tmp_path / "stderr.txt"
    with log.open("wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "evalkit", "dashboard", "--db", str(tmp_path / "x.sqlite"),
                                 "--port", str(port), "--host", "127.0.0.1", "--no-browser"], env=env,
                                stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
    children: list[int] = []
    try:
        deadline = time.monotonic() + 90
        while True:
            assert proc.poll() is None, log.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=1) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not answer its health check"
            time.sleep(0.5)
        children = _children(proc.pid)
        assert children, "expected the Streamlit server as a child process"
        proc.send_signal(sig)
        code = proc.wait(timeout=15)
        deadline = time.monotonic() + 5
        while any(_alive(c) for c in children) or _port_open(port):
            assert time.monotonic() < deadline, ("the Streamlit server outlived the command",
                                                 [c for c in children if _alive(c)], _port_open(port))
            time.sleep(0.2)
        assert code == 128 + sig, log.read_text()  # stopped by the signal, after its server
        assert "Traceback" not in log.read_text()
    finally:
        for pid in [proc.pid, *children]:  # only the processes this test started
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        proc.wait(timeout=10)
