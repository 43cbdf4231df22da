"""``prefdissect annotate``: measure attributes of both responses of every pair."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def add_engine_arguments(p: argparse.ArgumentParser, *, default_max_tokens: int = 1024) -> None:
    """The shared LLM flags (``--model`` optional: ``rules`` runs offline) plus ``--limit`` and
    ``--no-progress``, for ``annotate`` and ``classify``."""
    from preference_dissect.llm.cli_args import add_llm_arguments

    add_llm_arguments(p, model_required=False, default_max_tokens=default_max_tokens)
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N pairs")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")


def register(subparsers: Any) -> None:
    """Add the ``annotate`` sub-command."""
    p = subparsers.add_parser(
        "annotate",
        help="annotate attributes of both responses (rules offline, or an LLM)",
        description=(
            "Annotate every pair with an attribute set and write the long annotations table "
            "(pair_id, annotator, attribute, side, value, na_reason, raw). 'rules' runs offline; "
            "gair29, sharma24 and custom YAML sets call an OpenAI-compatible model (answers are "
            "cached, so a re-run costs nothing). A cost estimate is printed to stderr first."
        ),
    )
    p.add_argument(
        "pairs",
        metavar="PAIRS",
        help="pair dataset parquet (from 'prefdissect load') or a load source (bundled:NAME)",
    )
    p.add_argument(
        "--annotator",
        default=None,
        metavar="NAME|FILE.yaml",
        help=(
            "rules, gair29, sharma24, or an attribute-set YAML file (default: gair29 with"
            " --model, else the source's own annotations if it carries them, else rules)"
        ),
    )
    add_engine_arguments(p)
    p.add_argument("--out", required=True, help="output annotations parquet")
    add_repeat_arguments(p)
    add_json_flag(p)
    p.set_defaults(func=run)


def add_repeat_arguments(p: argparse.ArgumentParser) -> None:
    """``--repeats`` and its settings: re-ask a sample to measure run-to-run agreement."""
    g = p.add_argument_group("repeats (run-to-run agreement of an LLM annotator)")
    g.add_argument("--repeats", type=int, default=None, metavar="K",
                   help="K runs in all (2 or more): re-ask a sample of pairs K-1 more times and "
                   "write them to OUT.repeats.parquet (with a 'repeat' column 1..K-1) for "
                   "'prefdissect agreement OUT.parquet OUT.repeats.parquet'")  # fmt: skip
    g.add_argument("--repeat-sample", type=int, default=50, metavar="N",
                   help="pairs re-asked: a seeded random sample of N (all if fewer; default "
                   "50)")  # fmt: skip
    g.add_argument("--repeat-temperature", type=float, default=0.7, metavar="T",
                   help="the repeats' temperature (above 0; default 0.7)")  # fmt: skip
    g.add_argument("--repeat-seed", type=int, default=0, help="seed of the sample (default 0)")


def repeats_path(out: Any) -> Any:
    """``OUT.repeats.parquet`` beside ``OUT.parquet`` (``OUT.repeats.parquet`` for any OUT).

    Examples
    --------
    >>> str(repeats_path("run/ann.parquet"))
    'run/ann.repeats.parquet'
    """
    from pathlib import Path

    out = Path(out)
    stem = out.name[: -len(".parquet")] if out.name.endswith(".parquet") else out.name
    return out.with_name(f"{stem}.repeats.parquet")


def check_engine_args(args: argparse.Namespace) -> None:
    """Reject impossible flag values with one-line errors (also on the offline path)."""
    from preference_dissect.errors import InputError
    from preference_dissect.llm.cli_args import check_llm_args

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1")
    check_llm_args(args)


def build_engine(args: argparse.Namespace) -> Any:
    """An :class:`LLMEngine` from the shared flags (configs built by the engine's helper)."""
    from preference_dissect.llm import LLMEngine
    from preference_dissect.llm.cli_args import configs_from_args

    generate, cache = configs_from_args(args)
    return LLMEngine(generate, cache, progress=not args.no_progress)


def run(args: argparse.Namespace) -> int:
    """Annotate the pairs and write the annotations table (and, with ``--repeats``, the
    repeats beside it)."""
    check_engine_args(args)
    from preference_dissect.annotate.kinds import get_annotator
    from preference_dissect.annotate.runner import annotate_pairs, check_repeats, read_pairs
    from preference_dissect.config import default_annotator
    from preference_dissect.errors import InputError
    from preference_dissect.io import check_output_file

    out = check_output_file(args.out)
    dataset = None
    if args.annotator is None and not args.model:  # then the source's own annotations count
        dataset = read_pairs(args.pairs, args.limit)
    carried = dataset.info.get("annotations") if dataset is not None else None
    annotator = get_annotator(default_annotator(args.annotator, bool(args.model), carried))
    if args.repeats is not None:
        _check_repeat_flags(args, annotator, check_repeats)
        check_output_file(repeats_path(out), what="the repeats file of --out")
    if annotator.needs_llm and not args.model:
        raise InputError(
            f"annotator {annotator.name!r} calls a model: give --model (and --base-url)"
        )
    if dataset is None:  # read after the flags are checked
        dataset = read_pairs(args.pairs, args.limit)
    pairs = dataset.pairs

    engine = None
    note = " (later stages approximated)" if annotator.name == "gair29" else ""

    def announce(estimate: Any) -> None:
        print(f"estimate{note}: {estimate.describe()}", file=sys.stderr)

    if annotator.needs_llm:
        engine = build_engine(args)
    else:
        estimate = f"estimate: {len(pairs)} pairs, offline {annotator.name}: 0 requests, $0"
        print(estimate, file=sys.stderr)

    table, summary = annotate_pairs(pairs, annotator, engine, announce=announce)
    _write(table, summary, out, args, lambda: _repeat(pairs, annotator, engine, args))
    if args.json:
        emit_json(summary)
    else:
        _print_summary(summary)
    return 0


def _check_repeat_flags(args: argparse.Namespace, annotator: Any, check: Any) -> None:
    """:func:`check_repeats` with the flags' names in its errors."""
    from preference_dissect.errors import InputError

    flags = {"repeats": "--repeats", "repeat_sample": "--repeat-sample",
             "repeat_temperature": "--repeat-temperature"}  # fmt: skip
    try:
        check(annotator, args.repeats, args.repeat_sample, args.repeat_temperature)
    except InputError as exc:
        flag = flags.get(exc.field or "", "--repeats")
        raise InputError(exc.message, field=flag) from None


def _repeat(pairs: Any, annotator: Any, engine: Any, args: argparse.Namespace) -> Any:
    from preference_dissect.annotate.runner import annotate_repeats

    return annotate_repeats(pairs, annotator, engine, repeats=args.repeats,
                            sample=args.repeat_sample, temperature=args.repeat_temperature,
                            seed=args.repeat_seed)  # fmt: skip


def _write(table: Any, summary: dict[str, Any], out: Any, args: Any, repeat: Any) -> None:
    """Write the annotations (and the repeats, both or neither) atomically; the repeats'
    facts and ``repeat_agreement`` go into ``summary``."""
    from preference_dissect.annotate.runner import repeat_agreement
    from preference_dissect.io import atomic_paths, write_parquet

    if args.repeats is None:
        write_parquet(table, out)
        summary["out"] = str(out)
        return
    repeats, facts = repeat()
    target = repeats_path(out)
    with atomic_paths([out, target], ["--out", "the repeats file of --out"]) as (tmp, tmp_rep):
        table.to_parquet(tmp, index=False)
        repeats.to_parquet(tmp_rep, index=False)
    summary["out"] = str(out)
    summary["repeats"] = {**facts, "out": str(target)}
    summary["repeat_agreement"] = repeat_agreement(table, repeats)


def detail_lines(details: dict[str, str]) -> list[str]:
    """``  REASON: what the server said`` for each NA reason with a message."""
    return [f"  {reason}: {text}" for reason, text in sorted(details.items())]


def _print_summary(summary: dict[str, Any]) -> None:
    na = ", ".join(f"{k} {v}" for k, v in sorted(summary["na"].items())) or "none"
    failures = ", ".join(f"{k} {v}" for k, v in sorted(summary["failures"].items())) or "none"
    lines = [
        f"{summary['annotator']} (version {summary['version']}): {summary['rows']} rows for "
        f"{summary['pairs']} pairs; NA: {na}",
        f"requests {summary['requests']}, cache hits {summary['cache_hits']}, failures {failures}, "
        f"tokens {summary['tokens']}, cost ${summary['cost_usd']:.4f}",
        *detail_lines(summary.get("failure_details") or {}),
        *_repeat_lines(summary),
        f"wrote {summary['out']}",
    ]
    print("\n".join(lines))


def _repeat_lines(summary: dict[str, Any]) -> list[str]:
    """The repeats' facts and run-to-run alpha per attribute (lowest first), if any."""
    rep = summary.get("repeats")
    if not rep:
        return []
    alphas = sorted(summary["repeat_agreement"].items(), key=lambda kv: (kv[1] == kv[1], kv[1]))
    shown = ", ".join(f"{a} {v:.2f}" for a, v in alphas[:8]) or "none measurable"
    return [
        f"repeats: {rep['repeats'] - 1} more run(s) of {rep['pairs']} pairs at temperature "
        f"{rep['temperature']:g}: requests {rep['requests']}, cache hits {rep['cache_hits']}, "
        f"cost ${rep['cost_usd']:.4f}; wrote {rep['out']}",
        f"run-to-run alpha (lowest first): {shown}",
    ]
