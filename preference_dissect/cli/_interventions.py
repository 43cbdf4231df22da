"""Flags and output shared by the intervention commands (``manipulate``, ``counterfactual``,
``best-of-n``): a generating model (``--model``), a judge (``--judge-model``) on its own
server, one spending cap over both, ``--limit``, ``--out DIR`` and ``--json``."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from preference_dissect.cli.common import add_json_flag, emit_json


def add_intervention_arguments(p: argparse.ArgumentParser, *, judge_help: str) -> None:
    """``--limit``, ``--out``, ``--no-progress``, the LLM flags, the judge flags, ``--json``."""
    from preference_dissect.llm.cli_args import (
        OPTIONAL_FLAGS,
        add_judge_llm_arguments,
        add_llm_arguments,
    )

    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N items")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_llm_arguments(p, exclude=OPTIONAL_FLAGS)
    add_judge_llm_arguments(p, required=True, help_model=judge_help)
    add_json_flag(p)


def engines_from_args(args: argparse.Namespace) -> tuple[Any, Any]:
    """The generating model's engine and the judge (see
    :func:`~preference_dissect.interventions._common.make_engines`); the judge's settings are
    the LLM flags' with its own model, server and key variable."""
    from preference_dissect.errors import InputError
    from preference_dissect.interventions._common import make_engines
    from preference_dissect.llm.cli_args import check_llm_args

    check_llm_args(args)
    if args.limit is not None and args.limit < 1:
        raise InputError("--limit must be at least 1", field="--limit")
    model, judge = _configs(args)
    return make_engines(model, judge, progress=not args.no_progress)


def _configs(args: argparse.Namespace) -> tuple[Any, Any]:
    from preference_dissect.llm import LLMConfig
    from preference_dissect.llm.cli_args import judge_llm_settings, llm_settings

    settings = llm_settings(args)
    return LLMConfig(**settings), LLMConfig(**judge_llm_settings(args, settings))


def finish(args: argparse.Namespace, result: Any, headline: list[str]) -> int:
    """Write the result into ``--out``; print the summary (``--json``) or ``headline``."""
    paths = result.save(args.out)
    if args.json:
        emit_json({**result.summary, "files": {k: str(v) for k, v in paths.items()}})
    else:
        for line in headline:
            print(line)
        print(f"wrote {args.out}", file=sys.stderr)
    return 0


def annotator_engine(args: argparse.Namespace, annotator: str | None, judge: Any) -> Any:
    """The engine of an LLM annotator: the judge's model and server (``None`` without an
    annotator or for ``rules``)."""
    from preference_dissect.interventions._common import annotator_engine as make

    return make(annotator, _configs(args)[1], judge)
