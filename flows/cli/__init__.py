"""`assay` command line. Exit codes: 0 ok, 1 failure, 2 usage error.

One module per command (`flows/cli/<command>.py`), each with HELP, `add_arguments(parser)` and
`run(args) -> int`. Only the chosen command's parser is built in full, and command modules import
nothing heavy at module level: `assay --help` must not pay for polars, the stage catalog, Prefect
or torch. Adding a command is adding a module: every module here with HELP, add_arguments and run is
a command; ORDER (an integer, default 100) places it in `assay --help`.
"""
from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import Any

USAGE, FAILURE = 2, 1


def _discover() -> tuple[str, ...]:
    import pkgutil

    found = []
    for mod in pkgutil.iter_modules(__path__):
        if mod.name.startswith("_") or mod.ispkg:
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        if all(hasattr(module, a) for a in ("HELP", "add_arguments", "run")):
            found.append((getattr(module, "ORDER", 100), mod.name))
    return tuple(name for _, name in sorted(found))


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other usage error of assay (argparse
    prints the whole usage block first, which buries the message on a command with 30 flags)."""

    def error(self, message: str) -> Any:
        self.exit(USAGE, f"{self.prog}: usage error: {message} (see '{self.prog} --help')\n")


class _Version(argparse.Action):
    """--version, computed only when asked: the code version hashes the sources."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kw: Any) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS,
                         help="print the package and code version and exit")

    def __call__(self, parser: argparse.ArgumentParser, *_: Any) -> None:
        from importlib.metadata import PackageNotFoundError, version

        from flows.fsutil import code_version

        try:
            package = version("assay")
        except PackageNotFoundError:  # run from a checkout that was never installed
            package = "(not installed)"
        print(f"assay {package} ({code_version()})")
        parser.exit(0)


def _command(name: str) -> Any:
    return importlib.import_module(f"flows.cli.{name}")


def build_parser(full: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the arguments of command `full` only."""
    parser = Parser(prog="assay", description="Curate LM training data; every decision lands in a DuckDB ledger.",
                    epilog="'assay COMMAND --help' shows a command's options.")
    parser.add_argument("--version", action=_Version)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in _discover():
        mod = _command(name)
        p = sub.add_parser(name, help=mod.HELP, description=getattr(mod, "DESCRIPTION", mod.HELP))
        if name == full:
            mod.add_arguments(p)
            p.set_defaults(handler=mod.run)
    return parser


def _chosen(argv: list[str]) -> str | None:
    # The top-level parser has only flags without values, so the first word is the command.
    return next((a for a in argv if not a.startswith("-")), None)


def _quiet_stdout() -> None:
    """The reader of our stdout went away (`assay sql ... | head`): send what is still buffered
    to /dev/null, so that neither we nor the interpreter's final flush print a traceback."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # stdout is not a real file (captured in tests): nothing to silence
        pass


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        code = _main(argv)
        sys.stdout.flush()  # here, not at interpreter exit, so a closed pipe is caught below
        return code
    except BrokenPipeError:
        _quiet_stdout()
        return 0
    except KeyboardInterrupt:  # Ctrl-C: every step is resumable, so a rerun goes on from here
        print("assay: interrupted", file=sys.stderr)
        return 130


def _main(argv: list[str]) -> int:
    parser = build_parser(_chosen(argv))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors: a code, not an exception, for callers
        code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else USAGE)
        # a command may give its usage errors another code (assay check: 3, as 2 means 'warnings')
        chosen = _chosen(argv)
        return getattr(_command(chosen), "USAGE_EXIT", USAGE) if code == USAGE and chosen in _discover() else code
    from flows.errors import InputError
    from flows.report import LedgerError
    from stages.options import ConfigError

    try:
        return args.handler(args)
    except ConfigError as exc:  # unknown stage, option or value: not any KeyError, which may be a bug
        print(f"assay: usage error: {exc}", file=sys.stderr)
        return USAGE
    except (InputError, LedgerError, FileNotFoundError) as exc:
        print(f"assay: error: {exc}", file=sys.stderr)
        return FAILURE
    except BrokenPipeError:
        raise
    except Exception as exc:  # one line for users; the traceback on request
        if os.environ.get("ASSAY_DEBUG"):
            raise
        print(f"assay: error: {type(exc).__name__}: {exc} (set ASSAY_DEBUG=1 for the traceback)", file=sys.stderr)
        return FAILURE
