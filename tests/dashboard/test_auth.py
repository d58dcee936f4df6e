"""Local accounts (evalkit.auth): argon2 hashes, scopes, file handling."""

from __future__ import annotations

import json
import stat

import pytest

from evalkit import auth
from evalkit.access import Scope


def test_create_verify_and_scope(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "acc.json"
    assert not auth.accounts_configured(path=path)
    acc = auth.create_account("North.Admin", "correct horse battery", "provider", providers=["North"], path=path)
    assert acc.username == "north.admin"
    assert auth.accounts_configured(path=path)
    ok = auth.verify("north.admin", "correct horse battery", path=path)
    assert ok is not None and ok.scope() == Scope.for_provider("North")
    assert auth.verify("NORTH.ADMIN", "correct horse battery", path=path) is not None
    assert auth.verify("north.admin", "wrong password", path=path) is None
    assert auth.verify("nobody", "correct horse battery", path=path) is None
    stored = json.loads(path.read_text())
    hashed = stored["accounts"]["north.admin"]["password_hash"]
    assert hashed.startswith("$argon2id$") and "correct horse" not in path.read_text()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_rules_for_accounts(tmp_path) -> None:  # noqa: ANN001
    path = tmp_path / "acc.json"
    with pytest.raises(auth.AccountsError, match="at least"):
        auth.create_account("a", "short", "admin", path=path)
    with pytest.raises(ValueError, match="role must be one of"):
        auth.create_account("a", "long enough password", "boss", path=path)
    with pytest.raises(ValueError, match="provider scope needs"):
        auth.create_account("a", "long enough password", "provider", path=path)
    auth.create_account("a", "long enough password", "admin", path=path)
    with pytest.raises(auth.AccountsError, match="already exists"):
        auth.create_account("a", "long enough password", "admin", path=path)
    auth.create_account("a", "another long password", "evaluator", programmes=["P-1"], path=path, replace=True)
    assert auth.verify("a", "another long password", path=path).scope() == Scope.for_evaluator(["P-1"])
    auth.set_password("a", "a third long password", path=path)
    assert auth.verify("a", "another long password", path=path) is None
    oidc = auth.create_account("ana@example.org", None, "researcher", path=path)
    assert not oidc.has_password and auth.verify("ana@example.org", "", path=path) is None
    assert auth.get_account("Ana@Example.org", path=path).role == "researcher"
    assert [a.username for a in auth.list_accounts(path=path)] == ["a", "ana@example.org"]
    assert auth.delete_account("a", path=path) and not auth.delete_account("a", path=path)


def test_environment_names_the_file(tmp_path, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(auth.ACCOUNTS_ENV, str(tmp_path / "x.json"))
    assert auth.accounts_path() == tmp_path / "x.json"
    (tmp_path / "x.json").write_text("not json")
    with pytest.raises(auth.AccountsError, match="cannot read"):
        auth.accounts_configured()


def test_accounts_cli(tmp_path, monkeypatch, capsys) -> None:  # noqa: ANN001
    import io

    from evalkit.cli import main

    path = str(tmp_path / "acc.json")
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(["accounts", "--file", path, "add", "north", "--role", "provider", "--provider", "North",
                 "--password-stdin"]) == 0
    assert main(["accounts", "--file", path, "add", "ana@example.org", "--role", "researcher", "--no-password"]) == 0
    assert main(["accounts", "--file", path, "list"]) == 0
    out = capsys.readouterr().out
    assert "north\tprovider\tNorth\tpassword" in out and "ana@example.org\tresearcher\t-\tsingle sign-on" in out
    assert auth.verify("north", "a long enough password", path=path) is not None
    assert main(["accounts", "--file", path, "add", "x", "--role", "provider", "--no-password"]) == 2
    assert main(["accounts", "--file", path, "remove", "north"]) == 0
    assert main(["accounts", "--file", path, "remove", "north"]) == 2


def test_removing_the_last_account_says_the_login_is_off(tmp_path, capsys) -> None:  # noqa: ANN001
    from evalkit.cli import main

    path = str(tmp_path / "acc.json")
    auth.create_account("boss", "a long enough password", "admin", path=path)
    auth.create_account("north", None, "provider", providers=["North"], path=path)
    with pytest.raises(auth.AccountsError, match="last account"):
        auth.delete_account("boss", path=path, keep_login=True) and auth.delete_account("north", path=path,
                                                                                         keep_login=True)
    assert [a.username for a in auth.list_accounts(path=path)] == ["north"]
    assert main(["accounts", "--file", path, "remove", "north"]) == 0
    assert "single-user mode" in capsys.readouterr().out and not auth.accounts_configured(path=path)
