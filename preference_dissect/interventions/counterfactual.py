"""Counterfactual attribute effects on a judge: rewrite one attribute of a response, rewrite
the rewrite back, and let the judge compare the two rewrites (RATE, Reber et al. 2024).

For a response ``x`` and attribute ``X`` the *add* path asks for ``add(x)`` (has ``X``) and
then ``remove(add(x))`` (lacks it); the *remove* path ``remove(x)`` and ``add(remove(x))``.
Both texts of a path went through the rewriter, so its artefacts (style drift, shortening)
cancel and only ``X`` differs. The judge compares them in both orders; the effect is the mean
probability that it prefers the version with ``X``, with a percentile-bootstrap 95% interval
over responses, and the same on the log-odds scale, where it is comparable to a fitted
weight: for a pair that differs only in ``X`` the logistic model says
``P(with X preferred) = sigmoid(weight)``. An effect whose interval does not overlap the
weight's HDI, or that has the opposite sign with both intervals excluding 0, is flagged.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.interventions import _common as common
from preference_dissect.interventions.result import InterventionResult
from preference_dissect.llm import LLMEngine, LLMRequest
from preference_dissect.llm.preflight import preflight_engines

NAME = "counterfactual"
REVERSE = {"add": "remove", "remove": "add"}


def response_table(pairs: Any, sides: Sequence[str], limit: int | None) -> pd.DataFrame:
    """One row per response of the first ``limit`` pairs and chosen ``sides``:
    ``response_id`` (``PAIR:SIDE``), ``prompt``, ``conversation``, ``text``."""
    if not sides or any(s not in ("a", "b") for s in sides):
        raise InputError("must be a, b or both", field="sides")
    if limit is not None and limit < 1:
        raise InputError("must be at least 1", field="limit")
    frame = pairs.pairs if hasattr(pairs, "pairs") else pairs
    frame = frame.head(limit) if limit is not None else frame
    rows = [
        {
            "response_id": f"{pair['pair_id']}:{side}",
            "prompt": pair["prompt"],
            "conversation": pair["conversation"],
            "text": pair[f"response_{side}"],
        }
        for pair in frame.to_dict("records")
        for side in sides
    ]
    return pd.DataFrame(rows)


def _rewrite(key: str, row: dict, attribute: dict, direction: str, text: str) -> LLMRequest:
    prompts = common.prompts_of(NAME)
    content = prompts.render(
        "rewrite", direction=direction, attribute=attribute, prompt=row["prompt"], response=text
    )
    digest = hashlib.sha256(prompts.source("rewrite").encode()).hexdigest()[:12]
    messages = [{"role": "user", "content": content}]
    return common.free_text_request(key, messages, f"{NAME}/{digest}")


def _round(
    responses: pd.DataFrame,
    attributes: list[dict],
    directions: Sequence[str],
    texts: dict[str, str | None] | None,
) -> list[LLMRequest]:
    """Round 1 (``texts`` None): rewrite each original; round 2: rewrite round 1 back."""
    requests = []
    for row in responses.to_dict("records"):
        for attr in attributes:
            for d in directions:
                stem = f"{row['response_id']}:{attr['name']}:{d}"
                if texts is None:
                    requests.append(_rewrite(f"{stem}:1", row, attr, d, row["text"]))
                elif texts.get(f"{stem}:1") is not None:
                    requests.append(
                        _rewrite(f"{stem}:2", row, attr, REVERSE[d], texts[f"{stem}:1"])
                    )
    return requests


def _versus_frame(
    responses: pd.DataFrame, attributes: list[dict], directions: Sequence[str], texts: dict
) -> pd.DataFrame:
    """One comparison per response, attribute and path: baseline lacks the attribute,
    variant has it."""
    rows = []
    for row in responses.to_dict("records"):
        for attr in attributes:
            for d in directions:
                stem = f"{row['response_id']}:{attr['name']}:{d}"
                first, second = texts.get(f"{stem}:1"), texts.get(f"{stem}:2")
                has, lacks = (first, second) if d == "add" else (second, first)
                rows.append(
                    {
                        "response_id": row["response_id"],
                        "attribute": attr["name"],
                        "direction": d,
                        "prompt": row["prompt"],
                        "conversation": row["conversation"],
                        "original": row["text"],
                        "baseline": lacks,
                        "variant": has,
                    }
                )
    frame = pd.DataFrame(rows)
    frame["row"] = range(len(frame))
    return frame


def observational(weights: Any, target_judge: str | None, group: str) -> pd.DataFrame | None:
    """The fit's weight (mean, HDI) per attribute for one judge and group (``None``
    without weights)."""
    if weights is None:
        return None
    if target_judge is None:
        raise InputError("is needed with weights", field="target_judge")
    rows = common.judge_weights(common.open_weights(weights), target_judge, group)
    return rows[["attribute", "mean", "hdi_low", "hdi_high"]].rename(
        columns={"mean": "weight", "hdi_low": "weight_low", "hdi_high": "weight_high"}
    )


def effect_table(judged: pd.DataFrame, weights: pd.DataFrame | None) -> pd.DataFrame:
    """Per attribute: the preference for the version with it (``effect_p`` and interval), the
    same as log-odds, the share of paths where the rewrites differ, the fit's weight and the
    disagreement flag."""
    rows = []
    for attr, part in judged.groupby("attribute", sort=False):
        p, low, high, n = common.bootstrap_mean(part["p_variant"].to_numpy())
        differ = part["baseline"].notna() & part["variant"].notna()
        changed = (part.loc[differ, "baseline"] != part.loc[differ, "variant"]).mean()
        rows.append(
            {
                "attribute": attr,
                "effect_p": p,
                "p_low": low,
                "p_high": high,
                "effect_logit": common.logit(p),
                "logit_low": common.logit(low),
                "logit_high": common.logit(high),
                "n": n,
                "changed_share": float(changed) if differ.any() else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    if weights is None:
        return table
    table = table.merge(weights, on="attribute", how="left")
    table["disagreement"] = [_disagreement(r) for r in table.to_dict("records")]
    return table


def _disagreement(r: dict) -> str | None:
    """``sign``, ``magnitude`` or ``None`` (see the module docstring)."""
    lo, hi, wlo, whi = r["logit_low"], r["logit_high"], r["weight_low"], r["weight_high"]
    if not all(np.isfinite(v) or np.isinf(v) for v in (lo, hi)) or np.isnan(r["weight"]):
        return None
    if np.isnan(wlo) or np.isnan(whi):  # a point estimate (GAIR's released weights)
        wlo = whi = r["weight"]
    if (lo > 0 and whi < 0) or (hi < 0 and wlo > 0):
        return "sign"
    if hi < wlo or lo > whi:
        return "magnitude"
    return None


def counterfactual(
    pairs: Any,
    *,
    attributes: Sequence[str],
    model: LLMEngine,
    judge: common.JudgeSettings,
    attribute_set: str | Path = "gair29",
    weights: Any = None,
    target_judge: str | None = None,
    group: str = "all",
    sides: Sequence[str] = ("a", "b"),
    directions: Sequence[str] | None = None,
    limit: int | None = None,
) -> InterventionResult:
    """Measure each attribute's interventional effect on the judge (module docstring).

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
        The responses to rewrite (both sides of each pair by default).
    attributes : sequence of str
        Attribute names of ``attribute_set`` (their definitions instruct the rewriter).
    model : LLMEngine
        The rewriting model.
    judge : JudgeSettings
        The judge.
    attribute_set : str or path
        The attribute set the names come from.
    weights : InferenceData or str or path, optional
        A fit (or GAIR's weights) whose ``target_judge`` / ``group`` weights are shown beside
        the effects.
    target_judge : str, optional
        The judge of ``weights`` (usually the same model as ``judge``).
    group : str
        The group of ``weights``.
    sides : sequence of {"a", "b"}
        Which responses of each pair to rewrite.
    directions : sequence of {"add", "remove"}, optional
        The paths (default both).
    limit : int, optional
        At most this many pairs.

    Returns
    -------
    InterventionResult
        Tables ``rewrites`` (one row per response, attribute and path with both rewrites and
        the verdicts) and ``effects`` (one row per attribute).

    Examples
    --------
    >>> from preference_dissect.interventions.counterfactual import REVERSE
    >>> REVERSE["add"]
    'remove'
    """
    chosen = list(dict.fromkeys(directions or common.settings_of(NAME)["directions"]))
    if not chosen or any(d not in REVERSE for d in chosen):
        raise InputError("must be add, remove or both", field="directions")
    attrs = _attributes(attributes, attribute_set)
    obs = observational(weights, target_judge, group)
    responses = response_table(pairs, sides, limit)
    first = _round(responses, attrs, chosen, None)
    planned = {r.key: f"{common.placeholder(model)} {r.key}" for r in first}
    estimate = preflight_engines(
        {
            "model": (model, first + _round(responses, attrs, chosen, planned)),
            "judge": (
                judge.engine,
                common.judge_plan(_versus_frame(responses, attrs, chosen, {}), judge, model),
            ),
        }
    )
    texts = {
        k: common.answer_text(r) for k, r in common.generate(model, first, "rewriting").items()
    }
    second = _round(responses, attrs, chosen, texts)
    texts |= {
        k: common.answer_text(r)
        for k, r in common.generate(model, second, "rewriting back").items()
    }
    judged = common.judge_versus(_versus_frame(responses, attrs, chosen, texts), judge)
    effects = effect_table(judged, obs)
    tables = {"effects": effects, "rewrites": judged.drop(columns=["conversation"])}
    summary = {
        "command": NAME,
        "attributes": [a["name"] for a in attrs],
        "directions": chosen,
        "responses": len(responses),
        "rewrites_missing": int(sum(v is None for v in texts.values())),
        "judged": int(judged["p_variant"].notna().sum()),
        "target_judge": target_judge,
        "group": group if obs is not None else None,
        "effects": common.records(effects),
        "disagreements": (
            common.records(effects[effects["disagreement"].notna()][["attribute", "disagreement"]])
            if obs is not None
            else []
        ),
        "preflight": estimate,
        "usage": common.usage(model, judge.engine),
    }
    return InterventionResult(NAME, tables, summary)


def _attributes(names: Sequence[str], attribute_set: str | Path) -> list[dict]:
    from preference_dissect.annotate.attribute_sets import load_attribute_set

    known = [a.name for a in load_attribute_set(attribute_set).attributes]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise InputError(
            f"unknown attribute(s) {', '.join(unknown) or '(none)'} in {attribute_set} "
            f"(known: {', '.join(known)})",
            field="attributes",
        )
    return common.attribute_text(list(dict.fromkeys(names)), attribute_set)
