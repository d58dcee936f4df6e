"""Every CLI command answers --help, and the documented public commands exist."""

from __future__ import annotations

import pytest

from evalkit.cli import build_parser, main

DOCUMENTED = ("score", "examples", "validate", "ingest", "uploads", "rollback", "template", "outcomes",
              "summary", "compare", "dashboard", "map", "report", "mechanisms", "quarantine", "resubmit", "accounts")


def _commands() -> list[str]:
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return sorted(sub.choices)  # type: ignore[arg-type]


def test_documented_commands_exist() -> None:
    assert set(DOCUMENTED) <= set(_commands())


@pytest.mark.parametrize("command", _commands())
def test_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main([command, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: evalkit " + command) and len(out) > 150
    assert "%%" not in out  # argparse formats help strings, not descriptions: a description says "95%" itself


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "COMMAND" in capsys.readouterr().out


def test_unknown_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["frobnicate"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
