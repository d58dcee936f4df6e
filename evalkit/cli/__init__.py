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
  retries); nothing was changed, and the same command can simply be run again;
* 141 - the program reading the output closed it early (``evalkit ... | head``):
  evalkit stops quietly, as other command-line tools do (128 + SIGPIPE).
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import shutil
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
EXIT_BROKEN_PIPE = 141


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
    # on a terminal: wrapped at spaces to its width (at most 100 columns), paths and URLs never broken across
    # lines (they can be copied whole); to a file, a pipe or a log: one line, so that no phrase is split and the
    # message can be searched for whole
    width = min(shutil.get_terminal_size().columns, 100) if sys.stderr.isatty() else sys.maxsize
    sys.stderr.write(textwrap.fill(message, width=width, break_long_words=False, break_on_hyphens=False) + "\n")


def _output_closed() -> int:
    """The reader of standard output went away (``| head``): stop quietly, without a message or traceback.

    Standard output is pointed at the null device so that Python's final
    flush of what is still buffered cannot fail again at exit.
    """
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # stdout is not a real file (replaced in tests): nothing to flush later
        pass
    return EXIT_BROKEN_PIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code.

    When the program reading standard output closes it early (``evalkit
    compare ... | head``), the command stops quietly with exit code 141, for
    every command and for ``--help`` alike.
    """
    try:
        code = _main(argv)
        sys.stdout.flush()  # a reader that went away shows here, not later in the interpreter's exit
        return code
    except BrokenPipeError:
        return _output_closed()
    except SystemExit:  # argparse's --help, --version and usage errors leave through here
        try:
            sys.stdout.flush()
        except BrokenPipeError:
            raise SystemExit(_output_closed()) from None
        raise


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except BrokenPipeError:
        raise
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
