"""``prefdissect discover``: propose attributes that explain a judge and keep what survives."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    """Add the ``discover`` sub-command."""
    from preference_dissect.cli.common import add_json_flag
    from preference_dissect.llm.cli_args import OPTIONAL_FLAGS, add_llm_arguments

    p = subparsers.add_parser(
        "discover",
        help="let an LLM propose attributes that explain a judge; keep those that hold up",
        description=(
            "Split the judge's decided pairs into train and validation, show --model some "
            "train pairs (random, or those --fit explains worst) with the judge's choice, ask "
            "for candidate attributes with a +1/0/-1 rubric, merge near-duplicates, annotate "
            "the pairs with them (both orders), fit the judge on train, and keep the "
            "attributes whose 95%% HDI excludes 0 and whose removal lowers the validation "
            "log predictive density. Writes NAME.yaml (the kept attributes: an attribute set "
            "'annotate --annotator' reads), candidates.yaml, selection.parquet, "
            "proposals.parquet, shown.parquet, summary.json and discover.png into --out. "
            "Defaults: annotators/discover/discover.yaml."
        ),
    )
    p.add_argument("pairs", metavar="PAIRS", help="pairs parquet (with labels) or any SOURCE")
    p.add_argument("--judge", default=None, help="the judge to explain (default: the only one)")
    p.add_argument("--labels", default=None, help="extra judge labels ('prefdissect judge')")
    p.add_argument("--max-candidates", type=int, default=None, help="candidates after merging")
    p.add_argument("--sample", type=int, default=None, help="pairs shown to the proposer")
    p.add_argument("--per-call", dest="pairs_per_call", type=int, default=None,
                   help="pairs per proposer call")  # fmt: skip
    p.add_argument("--validation-share", type=float, default=None, help="held-out share")
    p.add_argument("--seed", type=int, default=None, help="split and sample seed")
    p.add_argument("--name", default="discovered", help="name of the written attribute set")
    p.add_argument(
        "--embedding-model",
        default=None,
        help="merge near-duplicate proposals by their embeddings (the server's /v1/embeddings) "
        "before the LLM merge step",
    )
    p.add_argument("--fit", default=None, help="a fit: show the pairs it explains worst")
    p.add_argument("--features", default=None, help="the features table of --fit")
    p.add_argument("--limit", type=int, default=None, metavar="N", help="only the first N pairs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_llm_arguments(p, exclude=OPTIONAL_FLAGS[2:])
    add_json_flag(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run ``prefdissect discover``."""
    from preference_dissect.cli._interventions import finish
    from preference_dissect.compare import add_labels
    from preference_dissect.discover import discover, explained_by_fit
    from preference_dissect.errors import InputError
    from preference_dissect.io import check_output_folder, read_table
    from preference_dissect.llm import LLMEngine, configs_from_args
    from preference_dissect.load import load_source

    if (args.fit is None) != (args.features is None):
        raise InputError("--fit and --features go together", field="--fit")
    if args.fit and not args.judge:
        raise InputError("--fit needs --judge (whose choices it explains)", field="--judge")
    if args.limit is not None and args.limit < 1:
        raise InputError("must be at least 1", field="--limit")
    config, cache = configs_from_args(args)
    check_output_folder(args.out)
    ds = load_source(args.pairs, limit=args.limit)
    if args.labels:
        ds = add_labels(ds, read_table(args.labels), file=args.labels)
    explained = None
    if args.fit:
        from preference_dissect.fit.idata import load_fit

        explained = explained_by_fit(load_fit(args.fit), read_table(args.features), args.judge)
    result = discover(
        ds,
        engine=LLMEngine(config, cache, progress=not args.no_progress),
        judge=args.judge,
        max_candidates=args.max_candidates,
        sample=args.sample,
        pairs_per_call=args.pairs_per_call,
        validation_share=args.validation_share,
        seed=args.seed,
        explained=explained,
        name=args.name,
        embedding_model=args.embedding_model,
    )
    lines = [
        f"{'kept' if r['kept'] else 'dropped'} {r['attribute']}: weight {r['weight']:.3f} "
        f"[{r['hdi_low']:.3f}, {r['hdi_high']:.3f}], coverage {r['coverage']:.2f}"
        for r in result.summary["selection"]
    ]
    return finish(args, result, lines)
