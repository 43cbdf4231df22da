"""``prefdissect load SOURCE``: read a preference source into the canonical pair table."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def register(subparsers: Any) -> None:
    """Add the ``load`` sub-command."""
    p = subparsers.add_parser(
        "load",
        help="read a dataset (file, folder, bundled:NAME, hf:ORG/NAME) into pairs + labels",
        description=(
            "Read a preference source into the canonical pair table and judge labels. "
            "SOURCE is a path, bundled:NAME (hh-rlhf, pandalm, llmbar, arena, alpaca-eval, "
            "gair...) or hf:ORG/NAME[:subset][@split]. The format is sniffed from the "
            "content; --format overrides it (hh-rlhf, arena, arena-55k, gair, gair-folder, "
            "pandalm, pandalm-judge, llmbar, alpaca-eval, generic, pairs)."
        ),
    )
    p.add_argument("source", metavar="SOURCE")
    p.add_argument("--format", dest="fmt", metavar="F", help="source format (default: sniffed)")
    p.add_argument("--limit", type=int, metavar="N", help="keep only the first N pairs")
    p.add_argument(
        "--out",
        metavar="PAIRS.parquet",
        help="write the pair table here and labels to PAIRS.labels.parquet",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=0,
        help="seed of the random A/B placement of chosen responses (default 0)",
    )
    p.add_argument(
        "--map",
        dest="mapping",
        action="append",
        metavar="KEY=COL[,KEY=COL]",
        help="column mapping for generic tables, e.g. "
        "prompt=question,response_a=ans1,response_b=ans2,winner=label "
        "(also chosen=, rejected=, judge=, winner.JUDGE=, pair_id=, model_a=, "
        "model_b=, scenario=, gold=, p_a=)",
    )
    p.add_argument(
        "--winner-values", metavar="V=W[,V=W]", help="extra winner spellings, e.g. 0=tie,1=a,2=b"
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def _progress() -> Any:
    if not sys.stderr.isatty():
        return None, None
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = bar.add_task("loading", total=None)
    bar.start()

    def update(done: int, total: int, what: str) -> None:
        bar.update(task, completed=done, total=total, description=f"loading {what}")

    return bar, update


def _print_summary(summary: dict[str, Any], info: dict[str, Any], out: str | None) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"[bold]{summary['pairs']}[/] pairs ({summary['multi_turn']} multi-turn, "
        f"{summary['gold']} with gold) from {info.get('source')} "
        f"(format {info.get('format')})"
    )
    if summary["judges"]:
        table = Table(title="judge labels")
        table.add_column("judge")
        for w in ("a", "b", "tie", "both_bad"):
            table.add_column(w, justify="right")
        for judge, counts in summary["judges"].items():
            table.add_row(judge, *(str(counts[w]) for w in ("a", "b", "tie", "both_bad")))
        console.print(table)
    if summary["scenarios"]:
        shown = list(summary["scenarios"].items())
        text = ", ".join(f"{k} {v}" for k, v in shown[:15])
        more = f" (+{len(shown) - 15} more)" if len(shown) > 15 else ""
        console.print(f"scenarios: {text}{more}")
    if out:
        console.print(f"wrote {out}")


def run(args: argparse.Namespace) -> int:
    """Load the source, print a summary, optionally write the dataset."""
    from preference_dissect.load import load_source
    from preference_dissect.load.generic import parse_mapping, parse_winner_values
    from preference_dissect.load.schema import (
        check_dataset_target,
        labels_path_for,
        write_dataset,
    )

    if args.out:
        check_dataset_target(args.out)
    mapping: dict[str, Any] = dict(parse_mapping(args.mapping))
    values = parse_winner_values(args.winner_values)
    if values:
        mapping["winner_values"] = values
    bar, update = _progress()
    try:
        ds = load_source(
            args.source,
            fmt=args.fmt,
            limit=args.limit,
            mapping=mapping,
            seed=args.seed,
            progress=update,
        )
        if args.out:
            write_dataset(ds, args.out)
    finally:
        if bar is not None:
            bar.stop()
    summary = ds.summary()
    if args.json:
        payload = {
            **summary,
            "format": ds.info.get("format"),
            "source": args.source,
            "seed": ds.info.get("seed"),
        }
        if args.out:
            payload["out"] = args.out
            payload["labels_out"] = str(labels_path_for(args.out))
        emit_json(payload)
    else:
        _print_summary(summary, ds.info, args.out)
    return 0
