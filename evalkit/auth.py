"""Local dashboard accounts: usernames, argon2-hashed passwords, and the access scope each may use.

Where a deployment has no single sign-on (OIDC) configured, the dashboard asks
for a username and password checked here. Accounts live in a small JSON file
**outside** the evalkit database, so copying or sharing the database never
carries password hashes with it:

1. the file named by the environment variable ``EVALKIT_ACCOUNTS_FILE``;
2. otherwise ``$XDG_CONFIG_HOME/evalkit/accounts.json`` (default
   ``~/.config/evalkit/accounts.json``), beside the pseudonymisation key.

The file is written atomically with permissions 0600. Passwords are hashed
with Argon2id (``argon2-cffi``'s defaults, RFC 9106 low-memory profile) and
re-hashed on the next successful login when those parameters change. An
account created without a password can only sign in through OIDC (its
username is then the e-mail address the identity provider reports).

No accounts at all means *single-user mode*: the dashboard opens without a
login and shows every row (see the dashboard's notice).

Examples
--------
>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "accounts.json"
>>> acc = create_account("north.admin", "correct horse battery", "provider",
...                      providers=["Northside Mums Charity"], path=path)
>>> verify("north.admin", "correct horse battery", path=path).scope().role
'provider'
>>> verify("north.admin", "wrong", path=path) is None
True
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from evalkit.access import ROLES, Scope
from evalkit.errors import EvalkitError

__all__ = [
    "ACCOUNTS_ENV",
    "Account",
    "AccountsError",
    "MIN_PASSWORD_LENGTH",
    "accounts_configured",
    "accounts_path",
    "create_account",
    "delete_account",
    "get_account",
    "list_accounts",
    "set_password",
    "verify",
]

ACCOUNTS_ENV: Final = "EVALKIT_ACCOUNTS_FILE"
"""Environment variable naming the accounts file."""

MIN_PASSWORD_LENGTH: Final = 10
"""Shortest password accepted (characters)."""

_FORMAT_VERSION: Final = 1
_HASHER = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the username is unknown, so a wrong username takes as long as a wrong password."""
    return _HASHER.hash("evalkit-no-such-account")


class AccountsError(EvalkitError):
    """The accounts file cannot be read or written, or an account request is invalid."""


@dataclass(frozen=True)
class Account:
    """One dashboard user (never holds the password or its hash).

    Attributes
    ----------
    username
        Login name, stored in lower case (an e-mail address for OIDC sign-in).
    role
        One of :data:`evalkit.access.ROLES`.
    providers, programmes
        What the role may see (see :class:`evalkit.access.Scope`).
    has_password
        False for accounts that can sign in through OIDC only.
    """

    username: str
    role: str
    providers: frozenset[str] = field(default_factory=frozenset)
    programmes: frozenset[str] = field(default_factory=frozenset)
    has_password: bool = True
    created_at: str = ""

    def scope(self) -> Scope:
        """The :class:`~evalkit.access.Scope` this account loads data with."""
        return Scope(self.role, providers=self.providers, programmes=self.programmes)  # type: ignore[arg-type]


def accounts_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The accounts file: ``path`` if given, else ``EVALKIT_ACCOUNTS_FILE``, else the per-user default."""
    if path is not None:
        return Path(path).expanduser()
    env = os.environ.get(ACCOUNTS_ENV)
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "evalkit" / "accounts.json"


def _normalise(username: str) -> str:
    if not isinstance(username, str) or not username.strip():
        raise AccountsError("username must be a non-blank string")
    name = username.strip().lower()
    if any(c.isspace() for c in name) or len(name) > 200:
        raise AccountsError(f"username must have no spaces and at most 200 characters; got {username!r}")
    return name


def _read(path: Path) -> dict[str, dict[str, Any]]:
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise AccountsError(f"cannot read the accounts file {path}: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("accounts"), dict):
        raise AccountsError(f"the accounts file {path} is not an evalkit accounts file (no 'accounts' object)")
    return data["accounts"]


def _write(path: Path, accounts: dict[str, dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = json.dumps({"version": _FORMAT_VERSION, "accounts": accounts}, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=".accounts-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(payload)
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise AccountsError(f"cannot write the accounts file {path}: {exc}") from exc


def _account(name: str, rec: dict[str, Any]) -> Account:
    return Account(
        username=name,
        role=str(rec.get("role", "")),
        providers=frozenset(rec.get("providers") or ()),
        programmes=frozenset(rec.get("programmes") or ()),
        has_password=bool(rec.get("password_hash")),
        created_at=str(rec.get("created_at", "")),
    )


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        raise AccountsError(f"password must have at least {MIN_PASSWORD_LENGTH} characters")


def create_account(
    username: str,
    password: str | None,
    role: str,
    providers: Iterable[str] = (),
    programmes: Iterable[str] = (),
    *,
    path: str | os.PathLike[str] | None = None,
    replace: bool = False,
) -> Account:
    """Add an account (or replace one with ``replace=True``).

    Parameters
    ----------
    username
        Login name (stored in lower case); an e-mail address for OIDC sign-in.
    password
        At least :data:`MIN_PASSWORD_LENGTH` characters; ``None`` for an
        account that signs in through OIDC only.
    role
        One of ``provider``, ``evaluator``, ``researcher``, ``admin``.
    providers
        For a provider: the provider organisations (``programmes.provider``) it may see.
    programmes
        For an evaluator: the assigned programme ids (for a provider, an optional restriction).
    path
        Accounts file (default :func:`accounts_path`).
    replace
        Overwrite an existing account of that name.

    Returns
    -------
    Account

    Raises
    ------
    AccountsError
        The name is taken (without ``replace``), the password is too short,
        or the file cannot be written.
    ValueError
        The role and scope do not fit together (e.g. a provider without providers).
    """
    name = _normalise(username)
    if role not in ROLES:
        raise ValueError(f"role must be one of {list(ROLES)}; got {role!r}")
    if isinstance(providers, str) or isinstance(programmes, str):
        raise ValueError("providers and programmes must be collections of names, not a single string")
    providers, programmes = sorted(set(providers)), sorted(set(programmes))
    Scope(role, providers=frozenset(providers), programmes=frozenset(programmes))  # type: ignore[arg-type]
    if password is not None:
        _check_password(password)
    file = accounts_path(path)
    accounts = _read(file)
    if name in accounts and not replace:
        raise AccountsError(f"an account named {name!r} already exists (use replace=True to overwrite it)")
    accounts[name] = {
        "password_hash": _HASHER.hash(password) if password is not None else None,
        "role": role,
        "providers": providers,
        "programmes": programmes,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    _write(file, accounts)
    return _account(name, accounts[name])


def verify(username: str, password: str, *, path: str | os.PathLike[str] | None = None) -> Account | None:
    """The account if ``password`` is right for ``username``, else ``None`` (never says which was wrong)."""
    try:
        name = _normalise(username)
    except AccountsError:
        return None
    file = accounts_path(path)
    accounts = _read(file)
    rec = accounts.get(name)
    stored = rec.get("password_hash") if rec else None
    try:
        _HASHER.verify(stored or _dummy_hash(), password or "")
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if not stored or rec is None:
        return None
    if _HASHER.check_needs_rehash(stored):
        rec["password_hash"] = _HASHER.hash(password)
        try:
            _write(file, accounts)
        except AccountsError:
            pass  # a stale hash parameter is not a reason to refuse a correct login
    return _account(name, rec)


def get_account(username: str, *, path: str | os.PathLike[str] | None = None) -> Account | None:
    """The account of that name (e.g. the e-mail an OIDC provider reported), or ``None``."""
    try:
        name = _normalise(username)
    except AccountsError:
        return None
    rec = _read(accounts_path(path)).get(name)
    return _account(name, rec) if rec else None


def list_accounts(*, path: str | os.PathLike[str] | None = None) -> list[Account]:
    """Every account, by username."""
    return [_account(n, r) for n, r in sorted(_read(accounts_path(path)).items())]


def delete_account(username: str, *, path: str | os.PathLike[str] | None = None, keep_login: bool = False) -> bool:
    """Remove an account; returns whether it existed.

    With ``keep_login=True`` (the dashboard's Accounts page) the only account is not removed: without accounts the
    dashboard runs in single-user mode, where everyone who can open it sees every row.

    Raises
    ------
    AccountsError
        ``keep_login`` and ``username`` is the only account; or the file cannot be read or written.
    """
    name = _normalise(username)
    file = accounts_path(path)
    accounts = _read(file)
    if name not in accounts:
        return False
    if keep_login and len(accounts) == 1:
        raise AccountsError(
            f"{name!r} is the last account: removing it would turn the dashboard's login off (single-user mode, "
            "where everyone who can open the dashboard sees every row). Add another account first, or remove it "
            "with 'evalkit accounts remove' on the server."
        )
    del accounts[name]
    _write(file, accounts)
    return True


def set_password(username: str, password: str, *, path: str | os.PathLike[str] | None = None) -> None:
    """Give an existing account a new password."""
    name = _normalise(username)
    _check_password(password)
    file = accounts_path(path)
    accounts = _read(file)
    if name not in accounts:
        raise AccountsError(f"no account named {name!r}")
    accounts[name]["password_hash"] = _HASHER.hash(password)
    _write(file, accounts)


def accounts_configured(*, path: str | os.PathLike[str] | None = None) -> bool:
    """Whether any account exists (otherwise the dashboard runs in single-user mode)."""
    return bool(_read(accounts_path(path)))
