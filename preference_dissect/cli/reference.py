"""Render the CLI reference (every ``--help`` text) as Markdown for the README.

``python -m preference_dissect.cli.reference --write README.md`` replaces the block between
``<!-- cli-reference:start -->`` and ``<!-- cli-reference:end -->``; a test checks that the
README is up to date.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from preference_dissect.cli.main import build_parser

START = "<!-- cli-reference:start -->"
END = "<!-- cli-reference:end -->"


def cli_reference() -> str:
    """Return the Markdown CLI reference (help texts rendered at 100 columns)."""
    old = os.environ.get("COLUMNS")
    os.environ["COLUMNS"] = "100"
    try:
        parser = build_parser()
        blocks = ["```text", parser.format_help().rstrip(), "```"]
        blocks += _sub_commands(parser, "prefdissect", "###")
        return "\n".join(blocks) + "\n"
    finally:
        if old is None:
            os.environ.pop("COLUMNS", None)
        else:
            os.environ["COLUMNS"] = old


def _sub_commands(parser: argparse.ArgumentParser, prefix: str, level: str) -> list[str]:
    """The help of each sub-command, each followed by its own sub-commands one level down
    (``prefdissect probe``, then ``prefdissect probe sycophancy``)."""
    sub = next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)
    blocks: list[str] = []
    for name, subparser in sub.choices.items() if sub else ():
        blocks += ["", f"{level} `{prefix} {name}`", "", "```text"]
        blocks += [subparser.format_help().rstrip(), "```"]
        blocks += _sub_commands(subparser, f"{prefix} {name}", level + "#")
    return blocks


def replace_block(text: str, block: str) -> str:
    """Return ``text`` with the reference block replaced by ``block``."""
    head, sep, rest = text.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"markers {START} ... {END} not found")
    _, _, tail = rest.partition(END)
    return f"{head}{START}\n{block}{END}{tail}"


def main(argv: list[str] | None = None) -> int:
    """Print the reference, or write it into a README with ``--write PATH``."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--write", type=Path, help="README to update in place")
    args = ap.parse_args(argv)
    block = cli_reference()
    if args.write:
        args.write.write_text(replace_block(args.write.read_text(encoding="utf-8"), block))
    else:
        sys.stdout.write(block)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
