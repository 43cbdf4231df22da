"""``prefdissect report RUN_DIR [--out report.html]``: the self-contained HTML report."""

from __future__ import annotations

import argparse
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``report`` sub-command."""
    parser = subparsers.add_parser(
        "report",
        help="write the self-contained HTML report of a run directory",
        description=(
            "Write one self-contained HTML file (plots inline, no network requests) from the "
            "artifacts of a run directory. Sections whose artifact is missing say so."
        ),
    )
    parser.add_argument("run_dir", metavar="RUN_DIR", help="run directory (from `prefdissect run`)")
    parser.add_argument(
        "--out", metavar="FILE", default=None, help="output HTML file (default RUN_DIR/report.html)"
    )
    parser.add_argument(
        "--examples",
        type=int,
        default=3,
        metavar="N",
        help="number of example pairs to show (default 3)",
    )
    add_json_flag(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Build the report; print its path (or a JSON object with ``--json``)."""
    import time
    from pathlib import Path

    from rich.console import Console

    from preference_dissect.errors import InputError
    from preference_dissect.io import check_output_file, write_text
    from preference_dissect.report import build_context, render_report
    from preference_dissect.report.render import report_target

    if args.examples < 0:
        raise InputError("must be 0 or more", field="--examples")
    target = report_target(args.run_dir, args.out)
    if args.out is not None or Path(args.run_dir).is_dir():  # else the run dir is reported
        check_output_file(target, what="the report")
    start = time.perf_counter()
    console = Console(stderr=True)
    with console.status("report: starting") as status:
        context = build_context(
            args.run_dir,
            examples=args.examples,
            progress=lambda step: status.update(f"report: {step}"),
        )
    path = write_text(render_report(context), target)
    statuses = {a["name"]: a["status"] for a in context["overview"]["artifacts"]}
    seconds = time.perf_counter() - start
    if args.json:
        emit_json(
            {
                "report": str(path),
                "bytes": path.stat().st_size,
                "seconds": round(seconds, 2),
                "artifacts": statuses,
            }
        )
    else:
        print(path)
    return 0
