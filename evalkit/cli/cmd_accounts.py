"""``evalkit accounts add|list|remove|passwd``: local dashboard accounts (see :mod:`evalkit.auth`).

With no account the dashboard runs in single-user mode (no login, everything
visible); adding the first account turns the login on, so add an admin first.
Passwords are read without echo (or from standard input with
``--password-stdin``) and stored only as Argon2id hashes.
"""

from __future__ import annotations

import argparse
import getpass
import sys

from evalkit.access import ROLES

__all__ = ["register", "run"]


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``accounts`` sub-command."""
    parser = subparsers.add_parser(
        "accounts",
        help="manage dashboard sign-in accounts",
        description="Manage the dashboard's local accounts (kept in a file outside the database; "
                    "EVALKIT_ACCOUNTS_FILE or ~/.config/evalkit/accounts.json).",
    )
    parser.add_argument("--file", metavar="PATH", help="accounts file (default: EVALKIT_ACCOUNTS_FILE or per-user)")
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    add = sub.add_parser("add", help="add an account")
    add.add_argument("username", help="login name (an e-mail address for single sign-on)")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--provider", action="append", default=[], metavar="NAME",
                     help="provider organisation a provider account may see (repeat for several)")
    add.add_argument("--programme", action="append", default=[], metavar="ID",
                     help="programme id an evaluator may see (repeat for several)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    add.add_argument("--no-password", action="store_true", help="single sign-on (OIDC) only; no password")
    add.add_argument("--replace", action="store_true", help="overwrite an existing account of that name")
    sub.add_parser("list", help="list accounts")
    rm = sub.add_parser("remove", help="remove an account")
    rm.add_argument("username")
    pw = sub.add_parser("passwd", help="set a new password")
    pw.add_argument("username")
    pw.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    parser.set_defaults(func=run)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Again: ") != first:
        raise ValueError("the two passwords differ; nothing was changed")
    return first


def run(args: argparse.Namespace) -> int:
    """Carry out one accounts action; returns the exit code."""
    from evalkit import auth

    path = args.file
    if args.action == "add":
        password = None if args.no_password else _password(args.password_stdin)
        acc = auth.create_account(args.username, password, args.role, providers=args.provider,
                                  programmes=args.programme, path=path, replace=args.replace)
        sys.stdout.write(f"account {acc.username} ({acc.role}) added to {auth.accounts_path(path)}\n")
    elif args.action == "list":
        for a in auth.list_accounts(path=path):
            scope = ", ".join(sorted(a.providers | a.programmes)) or "-"
            login = "password" if a.has_password else "single sign-on"
            sys.stdout.write(f"{a.username}\t{a.role}\t{scope}\t{login}\n")
    elif args.action == "remove":
        if not auth.delete_account(args.username, path=path):
            raise ValueError(f"no account named {args.username!r}")
        sys.stdout.write(f"account {args.username} removed\n")
        if not auth.accounts_configured(path=path):
            sys.stdout.write("no account is left: the dashboard now runs in single-user mode (no login; everyone "
                             "who can open it sees every row). Add an admin account to turn the login on again.\n")
    elif args.action == "passwd":
        auth.set_password(args.username, _password(args.password_stdin), path=path)
        sys.stdout.write(f"password of {args.username} changed\n")
    return 0
