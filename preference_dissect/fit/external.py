"""Read externally fitted weights (GAIR's released files) into the fit ``InferenceData``.

GAIR released one file per group, ``model_<group>_fitted_paras.jsonl``, each line
``{"model_name": str, "parameters": [29 floats]}`` in the order of the ``gair29`` attribute
set. They become a posterior with a single draw (no uncertainty) so that every analysis and
plot runs on them unchanged.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

from preference_dissect.errors import InputError
from preference_dissect.fit.idata import build_idata

WEIGHT_FILE = re.compile(r"^model_(?P<group>.+)_fitted_paras\.jsonl$")


def gair_attributes() -> tuple[list[str], list[str]]:
    """Names and labels of the ``gair29`` attribute set, in file order."""
    from preference_dissect.annotate.attribute_sets import load_attribute_set

    attrs = load_attribute_set("gair29").attributes
    return [a.name for a in attrs], [a.label or a.name for a in attrs]


def read_weight_file(path: str | os.PathLike[str], n_attributes: int) -> dict[str, np.ndarray]:
    """Read one ``model_<group>_fitted_paras.jsonl`` file: ``{model_name: weights}``."""
    path = Path(path)
    out: dict[str, np.ndarray] = {}
    for row, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            name = str(record["model_name"])
            params = np.asarray(record["parameters"], dtype=float)
        except (ValueError, KeyError, TypeError):
            raise InputError(
                'expected {"model_name": str, "parameters": [numbers]}', file=path, row=row
            ) from None
        if params.shape != (n_attributes,):
            raise InputError(
                f"has {params.size} parameters, expected {n_attributes}",
                file=path,
                row=row,
                field="parameters",
            )
        if name in out:
            raise InputError(
                f"duplicate model_name {name!r}", file=path, row=row, field="model_name"
            )
        out[name] = params
    return out


def read_gair_weights(folder: str | os.PathLike[str], *, groups: list[str] | None = None) -> Any:
    """Read a folder of GAIR weight files into an ``InferenceData`` (chain = draw = 1).

    Parameters
    ----------
    folder : path
        Folder with ``model_<group>_fitted_paras.jsonl`` files. A ``groups.json`` in its parent
        (group -> pair indices) supplies the number of pairs per group, if present.
    groups : list of str, optional
        Groups to read (default: all files, in sorted order).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("weights folder not found", file=folder)
    files = {}
    for p in sorted(folder.iterdir()):
        m = WEIGHT_FILE.match(p.name)
        if m:
            files[m.group("group")] = p
    if not files:
        raise InputError("no model_<group>_fitted_paras.jsonl files", file=folder)
    wanted = groups or list(files)
    missing = [g for g in wanted if g not in files]
    if missing:
        raise InputError(f"no weight file for group {missing[0]!r}", file=folder)
    names, labels = gair_attributes()
    per_group = {g: read_weight_file(files[g], len(names)) for g in wanted}
    judges = list(dict.fromkeys(j for g in wanted for j in per_group[g]))
    sizes: dict[str, int] = {}
    groups_json = folder.parent / "groups.json"
    if groups_json.exists():
        sizes = {k: len(v) for k, v in json.loads(groups_json.read_text(encoding="utf-8")).items()}
    cells = {}
    for g in wanted:
        for judge, w in per_group[g].items():
            cells[(judge, g)] = SimpleNamespace(
                weight=w.reshape(1, 1, -1),
                intercept=None,
                sigma=None,
                n=sizes.get(g, 0),
                rhat_max=float("nan"),
                ess_bulk_min=float("nan"),
                divergences=0,
                pareto_k=float("nan"),
                accuracy=float("nan"),
                method="external",
                ppc_p_share=float("nan"),
                ppc_p_agree=np.full(len(names), np.nan),
                seconds=float("nan"),
            )
    return build_idata(
        judges,
        wanted,
        names,
        1,
        1,
        cells,
        attrs={"source": f"external weights: {folder}", "warnings": []},
        labels=labels,
    )
