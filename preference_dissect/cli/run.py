"""``prefdissect run``: the main job, from a source to a report, in one run directory.

A thin layer over :func:`preference_dissect.run`: the flags and a ``--config`` YAML fill the
same :class:`~preference_dissect.config.RunConfig` (flags win); every unset flag keeps the
configuration's default.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from preference_dissect.cli.common import add_fit_arguments, add_json_flag, emit_json, fit_settings

#: Flag dest -> RunConfig key, for the flags whose names differ.
_RENAMED = {"fmt": "format"}
#: RunConfig keys the run flags set directly.
_DIRECT = ("source", "out", "fmt", "limit", "seed", "annotator", "classify", "na")
_DIRECT += ("not_applicable", "ties", "labels", "judges", "controls")


def _names(text: str) -> tuple[str, ...]:
    from preference_dissect.compare.controls import split_names

    return tuple(split_names(text))


def register(subparsers: Any) -> None:
    """Add the ``run`` sub-command."""
    p = subparsers.add_parser(
        "run",
        help="run the whole pipeline (load, annotate, features, fit, analyze, audit, report)",
        description=(
            "Run load -> judge -> annotate -> features -> fit -> analyze -> audit -> report "
            "into one run directory. Without SOURCE it dissects the bundled hh-rlhf harmless "
            "test set offline with the `rules` annotator. With --model it annotates with "
            "gair29 (or --annotator) through an OpenAI-compatible server; with --judge-model an "
            "LLM judge labels the pairs. Settings may come from --config run.yaml (the keys of "
            "preference_dissect.run); flags win. Re-running with the same settings reuses "
            "finished stages."
        ),
    )
    p.add_argument(
        "source",
        nargs="?",
        default=None,
        metavar="SOURCE",
        help="path, bundled:NAME or hf:ORG/NAME (default: bundled:hh-rlhf)",
    )
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        metavar="RUN.yaml",
        help="settings file (keys of RunConfig; flags override it)",
    )
    _add_data_arguments(p)
    add_fit_arguments(p, likelihood_alias="--model-type")
    p.add_argument(
        "--no-report", dest="report", action="store_false", default=None, help="skip report.html"
    )
    p.add_argument(
        "--fresh",
        dest="resume",
        action="store_false",
        default=None,
        help="redo every stage even if an earlier run left its artifacts",
    )
    from preference_dissect.llm.cli_args import add_judge_llm_arguments, add_llm_arguments

    add_llm_arguments(p, model_required=False)
    add_judge_llm_arguments(
        p, help_model="add an LLM judge stage: label every pair with this model (both orders)"
    )
    add_json_flag(p)
    p.set_defaults(func=run)


def _add_data_arguments(p: argparse.ArgumentParser) -> None:
    """Run directory, loading, annotation and comparison flags."""
    p.add_argument("--out", type=Path, default=None, help="run directory (default: runs/latest)")
    p.add_argument("--format", dest="fmt", default=None, help="loader format override")
    p.add_argument("--limit", type=int, default=None, help="use only the first N pairs")
    p.add_argument("--seed", type=int, default=None, help="seed for A/B sides and the fit (0)")
    p.add_argument(
        "--labels",
        action="append",
        default=None,
        metavar="FILE",
        help="extra judge labels (labels.parquet from 'prefdissect judge'); repeatable",
    )
    p.add_argument(
        "--annotator",
        default=None,
        help=(
            "a bundled annotator, folder or FILE.yaml (default: gair29 with --model, else"
            " the source's own annotations if it carries them, else rules)"
        ),
    )
    p.add_argument(
        "--classify",
        choices=("auto", "always", "never"),
        default=None,
        help="assign GAIR scenario groups (default auto: when the source has none)",
    )
    p.add_argument("--judges", nargs="+", default=None, help="judges to fit (default: all)")
    p.add_argument(
        "--na",
        choices=("drop", "zero", "impute"),
        default=None,
        help="missing features: drop the pair or use 0 (default: drop; impute is the "
        "old name of zero)",
    )
    p.add_argument(
        "--not-applicable",
        dest="not_applicable",
        choices=("zero", "drop"),
        default=None,
        help="error checks answered 'not applicable': feature 0 (default), or drop "
        "the pair as GAIR did",
    )
    p.add_argument(
        "--ties",
        choices=("drop", "half"),
        default=None,
        help="ties: exclude (default), or keep as y = 0.5",
    )
    p.add_argument(
        "--controls",
        type=_names,
        default=None,
        metavar="A,B",
        help="attributes the fit adjusts for with a wide prior, reported apart: length, "
        "markdown or attribute names",
    )


def _llm_sections(args: argparse.Namespace, file: dict[str, Any]) -> dict[str, Any]:
    """The ``llm`` and ``judge_llm`` settings: the file's, overridden by the flags."""
    from preference_dissect.judges.llm_judge import JudgeOptions, judge_config_fields
    from preference_dissect.llm.cli_args import judge_llm_settings, llm_settings

    flags = llm_settings(args)
    out: dict[str, Any] = {}
    base = {**(file.get("llm") or {}), **flags}
    if base.get("model"):
        out["llm"] = base
    judge_model = args.judge_model or (file.get("judge_llm") or {}).get("model")
    if judge_model:
        judge = judge_llm_settings(args, {**base, **(file.get("judge_llm") or {})}, judge_model)
        judge.update(judge_config_fields(JudgeOptions(judge_name=judge_model)))
        out["judge_llm"] = judge
    return out


def run_settings(args: argparse.Namespace) -> dict[str, Any]:
    """The run's settings: ``--config``'s, then every flag that was given."""
    from preference_dissect.config import read_run_config

    file = read_run_config(args.config) if args.config else {}
    flags = {_RENAMED.get(k, k): getattr(args, k) for k in _DIRECT if getattr(args, k) is not None}
    if args.na == "impute":
        print("prefdissect: warning: --na impute is deprecated, use --na zero", file=sys.stderr)
    flags.update(fit_settings(args, "--model-type"))
    flags.update(
        {k: getattr(args, k) for k in ("report", "resume") if getattr(args, k) is not None}
    )
    return {**file, **flags, **_llm_sections(args, file)}


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect run``."""
    from preference_dissect.config import RunConfig
    from preference_dissect.io import check_output_folder
    from preference_dissect.pipeline import run_pipeline

    cfg = RunConfig(**run_settings(args))
    check_output_folder(cfg.out)
    say = (lambda msg: print(msg, file=sys.stderr)) if args.json else print
    summary = run_pipeline(cfg, say=say)
    if args.json:
        emit_json(summary)
    else:
        print(f"done: {summary['out']}")
    return 0
