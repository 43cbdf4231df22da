"""``prefdissect`` entry point.

Each sub-command lives in ``preference_dissect/cli/<name>.py`` and exposes
``register(subparsers)``, which adds its parser and sets ``func(args) -> int``.
User errors (:class:`~preference_dissect.errors.InputError`, including a pre-flight cost
estimate above ``--max-cost``) print one line on stderr and exit with code 2, without a
traceback; a stage that produced nothing usable
(:class:`~preference_dissect.errors.NoUsableOutputError`) prints one line and exits with code 1.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from preference_dissect._version import __version__
from preference_dissect.errors import InputError, NoUsableOutputError

#: Sub-commands in pipeline order.
COMMANDS = (
    "load",
    "annotate",
    "classify",
    "judge",
    "features",
    "fit",
    "analyze",
    "compare_models",
    "audit",
    "agreement",
    "discover",
    "manipulate",
    "counterfactual",
    "best_of_n",
    "probe",
    "export",
    "reproduce",
    "report",
    "run",
)


def build_parser() -> argparse.ArgumentParser:
    """Build the ``prefdissect`` argument parser with every available sub-command."""
    parser = argparse.ArgumentParser(
        prog="prefdissect",
        description="Explain why a judge prefers one response over another.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        modname = f"preference_dissect.cli.{name}"
        if importlib.util.find_spec(modname) is None:
            continue
        importlib.import_module(modname).register(sub)
    return parser


def flag_names(parser: argparse.ArgumentParser, command: str | None) -> dict[str, str]:
    """Library parameter name -> the command's flag (``format`` and ``fmt`` -> ``--format``,
    ``min_group_size`` -> ``--min-group-size``): how the CLI names a library error's field.
    The flags of a command's own sub-commands (``probe sycophancy``) count too."""
    sub = _subparsers(parser)
    if sub is None or command not in sub.choices:
        return {}
    out: dict[str, str] = {}
    pending = [sub.choices[command]]
    while pending:
        current = pending.pop()
        nested = _subparsers(current)
        pending += list(nested.choices.values()) if nested is not None else []
        for action in current._actions:
            longs = [o for o in action.option_strings if o.startswith("--")]
            if longs:
                out.setdefault(action.dest, longs[0])
                out.setdefault(longs[0][2:].replace("-", "_"), longs[0])
    return out


def _subparsers(parser: argparse.ArgumentParser) -> argparse._SubParsersAction | None:
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def user_error(exc: InputError, parser: argparse.ArgumentParser, command: str | None) -> str:
    """The one line of a user error, its field named as the command's flag when it is one
    (a field of a file, such as a column, stays as it is)."""
    if exc.file is None and exc.field is not None:
        flag = flag_names(parser, command).get(exc.field.lstrip("-").replace("-", "_"))
        if flag is not None:
            exc = InputError(exc.message, row=exc.row, field=flag)
    return f"prefdissect {command}: error: {exc.one_line()}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and return the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as exc:
        print(user_error(exc, parser, args.command), file=sys.stderr)
        return 2
    except NoUsableOutputError as exc:
        print(f"prefdissect {args.command}: error: {exc.one_line()}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"prefdissect {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
