"""Helpers shared by CLI sub-commands."""

from __future__ import annotations

import json
import sys
from typing import Any


def emit_json(obj: Any) -> None:
    """Print one JSON object on stdout (the ``--json`` contract; NaN and infinities, which
    JSON has no literal for, are ``null``)."""
    from preference_dissect.io import strict_json

    sys.stdout.write(json.dumps(strict_json(obj), ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


def named_files(values: list[str], field: str) -> dict[str, str]:
    """``NAME=FILE`` or ``FILE`` (named by its stem) arguments as ``{name: path}``; two of
    one name are an error naming ``field``."""
    from pathlib import Path

    from preference_dissect.errors import InputError

    named: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        name, path = (name, path) if sep else (Path(value).stem, value)
        if name in named:
            raise InputError(f"two {field} are called {name!r}: name them NAME=FILE", field=field)
        named[name] = path
    return named


def add_json_flag(parser: Any) -> None:
    """Add the standard ``--json`` flag."""
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")


#: (flag, FitSpec field, type, help) of the fit settings shared by ``fit`` and ``run``; every
#: default comes from the model specification (``models/*.yaml``), so an unset flag is None.
FIT_FLAGS = (
    ("--prior", "prior", str, "FAMILY[:SCALE]: laplace:B, normal:S, horseshoe[:P0] or a plug-in's"),
    ("--sampler", "sampler", str, "auto: Laplace + importance sampling, NUTS fallback; nuts"),
    ("--draws", "draws", int, "posterior draws per chain"),
    ("--chains", "chains", int, "chains"),
    ("--tune", "tune", int, "NUTS warm-up draws per chain"),
    ("--folds", "folds", int, "k of the k-fold holdout accuracy"),
    ("--min-group-size", "min_group_size", int, "cells with fewer pairs are not fitted (listed)"),
    (
        "--pooling",
        "pooling",
        str,
        "none, groups, judges or both: partial pooling of the scenario "
        "groups' weights (hierarchical model)",
    ),
    ("--pooling-scale", "pooling_scale", float, "half-normal prior scale of the pooling spreads"),
)


def add_fit_arguments(parser: Any, *, likelihood_alias: str) -> None:
    """Add the fit flags (``--likelihood``, ``--model-spec``, the :data:`FIT_FLAGS`,
    ``--intercept``); ``likelihood_alias`` is the old, deprecated spelling of
    ``--likelihood`` (``--model`` in ``fit``, ``--model-type`` in ``run``)."""
    import argparse

    from preference_dissect.definitions import model_names

    g = parser.add_argument_group("model (defaults: the model specification)")
    g.add_argument(
        "--likelihood",
        default=None,
        help="logistic, linear or a plug-in's (default: the model specification's)",
    )
    g.add_argument(likelihood_alias, dest="likelihood_alias", default=None, help=argparse.SUPPRESS)
    g.add_argument(
        "--model-spec",
        default=None,
        metavar="NAME|FILE",
        help=f"model specification: {', '.join(model_names())} or a YAML file "
        "(default: the likelihood's own, else logistic)",
    )
    for flag, field, kind, text in FIT_FLAGS:
        g.add_argument(flag, dest=field, type=kind, default=None, help=text)
    g.add_argument(
        "--intercept",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="add a position intercept",
    )


def fit_settings(args: Any, alias: str) -> dict[str, Any]:
    """The FitSpec settings the user gave on the command line (a deprecated alias of
    ``--likelihood`` still works, with one warning line)."""
    import sys

    settings = {f: getattr(args, f) for _, f, _, _ in FIT_FLAGS if getattr(args, f) is not None}
    likelihood = args.likelihood
    if args.likelihood_alias is not None:
        print(
            f"prefdissect: warning: {alias} is deprecated, use --likelihood "
            f"(it will be removed in the next release)",
            file=sys.stderr,
        )
        likelihood = likelihood or args.likelihood_alias
    if likelihood is not None:
        settings["likelihood"] = likelihood
    if args.model_spec is not None:
        settings["model_spec"] = args.model_spec
    if args.intercept is not None:
        settings["intercept"] = args.intercept
    return settings
