"""The ``evalkit`` command line: a thin shell over the library.

Each sub-command lives in its own module ``evalkit/cli/cmd_<name>.py`` that
defines ``register(subparsers)``; this module discovers them, parses the
arguments, and turns every expected failure into a one-paragraph message and
an exit code, never a traceback:

* 0 - success;
* 1 - the data have errors (e.g. ``validate`` found problems);
* 2 - usage error (bad arguments, missing file);
* 3 - unexpected internal error (run again with ``--debug`` for details);
* 4 - the database is down, unreachable or locked by another program (after
  retries); nothing was changed, and the same command can simply be run again.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import textwrap
from collections.abc import Sequence

from evalkit import __version__
from evalkit.errors import EvalkitError, InputFileError, StoreUnavailable

EXIT_OK = 0
EXIT_DATA_ERRORS = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_DATABASE_UNAVAILABLE = 4


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # noqa: D102 - argparse hook
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every discovered sub-command."""
    parser = _Parser(
        prog="evalkit",
        description="Outcome measurement for community perinatal mental health peer support.",
    )
    parser.add_argument("--version", action="version", version=f"evalkit {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks for internal errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    package = importlib.import_module("evalkit.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cmd_"):
            module = importlib.import_module(f"evalkit.cli.{info.name}")
            module.register(sub)
    return parser


def _say(message: str) -> None:
    # paths and URLs are never broken across lines (they can be copied whole)
    sys.stderr.write(textwrap.fill(message, width=100, break_long_words=False, break_on_hyphens=False) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except InputFileError as exc:
        _say(f"evalkit {args.command}: {exc}")
        return EXIT_USAGE
    except StoreUnavailable as exc:
        _say(f"evalkit {args.command}: {exc}")
        return EXIT_DATABASE_UNAVAILABLE
    except (EvalkitError, ValueError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        _say(f"evalkit {args.command}: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:
        _say("evalkit: interrupted; nothing was changed by the interrupted step.")
        return 130
    except Exception as exc:  # noqa: BLE001 - last line of defence against tracebacks
        if args.debug:
            raise
        _say(
            f"evalkit {args.command}: an unexpected internal error occurred ({type(exc).__name__}: {exc}). "
            "Nothing already stored was changed. Please run again with --debug and report the output."
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
