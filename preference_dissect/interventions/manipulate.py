"""GAIR's manipulation experiment: answer each query normally and again with an instruction
to exhibit (or avoid) the target judge's most (or least) preferred attributes, and measure how
often the judge prefers the manipulated answer.

An arm (``interventions/manipulate/manipulate.yaml``) names which end of the judge's ranking
in the group its instruction asks for (``exhibit: top``) or against (``avoid: bottom``). For
each query and arm the judge compares the manipulated answer with the normal one in both
orders; the arm's *win rate* is the mean of the judge's probability of preferring the
manipulated answer, and its *shift* the win rate minus 0.5 (no effect), each with a
percentile-bootstrap 95% interval over queries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.interventions import _common as common
from preference_dissect.interventions.result import InterventionResult
from preference_dissect.llm import LLMEngine
from preference_dissect.llm.preflight import preflight_engines

NAME = "manipulate"


def arm_definitions(arms: Sequence[str] | None) -> dict[str, dict[str, str | None]]:
    """The chosen arms' definitions (default: the settings file's ``default_arms``)."""
    settings = common.settings_of(NAME)
    known = settings["arms"]
    chosen = list(arms) if arms else list(settings["default_arms"])
    unknown = [a for a in chosen if a not in known]
    if unknown or not chosen:
        raise InputError(
            f"unknown arm(s) {', '.join(unknown) or '(none)'} (known: {', '.join(known)})",
            field="arms",
        )
    return {a: known[a] for a in dict.fromkeys(chosen)}


def target_attributes(
    weights: pd.DataFrame, top_k: int, attribute_set: str | Path
) -> dict[str, list[dict[str, Any]]]:
    """The ``top_k`` highest- and lowest-scored attributes of one judge and group, with their
    label, definition and weight: ``{"top": [...], "bottom": [...]}``."""
    if top_k < 1 or 2 * top_k > len(weights):
        raise InputError(
            f"must be between 1 and {len(weights) // 2} (half the {len(weights)} attributes)",
            field="top_k",
        )
    ordered = weights.sort_values("mean", ascending=False, kind="stable")
    ends = {"top": ordered.head(top_k), "bottom": ordered.tail(top_k).iloc[::-1]}
    out = {}
    for end, rows in ends.items():
        texts = common.attribute_text(rows["attribute"].tolist(), attribute_set)
        out[end] = [{**t, "weight": float(w)} for t, w in zip(texts, rows["mean"], strict=True)]
    return out


def _instruction(arm: dict[str, str | None], targets: dict[str, list[dict]]) -> str:
    return common.prompts_of(NAME).render(
        "manipulated",
        exhibit=targets[arm["exhibit"]] if arm.get("exhibit") else [],
        avoid=targets[arm["avoid"]] if arm.get("avoid") else [],
    )


def _requests(items: pd.DataFrame, systems: dict[str, str]) -> list[Any]:
    """One answer request per item and arm (``normal`` included)."""
    requests = []
    for item in items.to_dict("records"):
        for arm, system in systems.items():
            digest = hashlib.sha256(system.encode()).hexdigest()[:12]
            requests.append(
                common.free_text_request(
                    f"{item['item_id']}:{arm}",
                    common.answer_messages(item, system),
                    f"{NAME}/{arm}/{digest}",
                )
            )
    return requests


def _versus_frame(items: pd.DataFrame, arms: Sequence[str], texts: dict) -> pd.DataFrame:
    rows = []
    for item in items.to_dict("records"):
        for arm in arms:
            rows.append(
                {
                    "item_id": item["item_id"],
                    "scenario": item["scenario"],
                    "arm": arm,
                    "prompt": item["prompt"],
                    "conversation": item["conversation"],
                    "baseline": texts.get(f"{item['item_id']}:normal"),
                    "variant": texts.get(f"{item['item_id']}:{arm}"),
                }
            )
    frame = pd.DataFrame(rows)
    frame["row"] = range(len(frame))
    return frame


def win_rates(judged: pd.DataFrame, by: Sequence[str]) -> pd.DataFrame:
    """Per group of ``by``: the win rate of the variant (mean ``p_variant``), its bootstrap
    95% interval, the shift from 0.5 and ``n`` (rows with a verdict)."""
    rows = []
    for key, part in judged.groupby(list(by), sort=False):
        mean, low, high, n = common.bootstrap_mean(part["p_variant"].to_numpy())
        keys = key if isinstance(key, tuple) else (key,)
        rows.append(
            {
                **dict(zip(by, keys, strict=True)),
                "win_rate": mean,
                "low": low,
                "high": high,
                "shift": mean - 0.5,
                "shift_low": low - 0.5,
                "shift_high": high - 0.5,
                "n": n,
            }
        )
    return pd.DataFrame(rows)


def attribute_checks(
    judged: pd.DataFrame, annotated: pd.DataFrame, targets: dict[str, list[dict]], arms: dict
) -> pd.DataFrame:
    """Did the manipulation change the targeted attributes? Per arm and targeted attribute:
    the mean change of the annotator's value (manipulated - normal), its interval, and
    whether the arm asked for it to go up (``exhibit``) or down (``avoid``)."""
    merged = annotated.merge(judged[["row", "arm"]], on="row")
    rows = []
    for arm, spec in arms.items():
        for role, sign in (("exhibit", 1), ("avoid", -1)):
            for attr in targets.get(spec.get(role) or "", []):
                values = merged[(merged["arm"] == arm) & (merged["attribute"] == attr["name"])]
                mean, low, high, n = common.bootstrap_mean(values["change"].to_numpy())
                moved = low > 0 if sign > 0 else high < 0
                rows.append(
                    {
                        "arm": arm,
                        "attribute": attr["name"],
                        "asked": role,
                        "change": mean,
                        "low": low,
                        "high": high,
                        "n": n,
                        "moved_as_asked": bool(moved) if n else None,
                    }
                )
    return pd.DataFrame(rows)


def manipulate(
    pairs: Any,
    weights: Any,
    *,
    target_judge: str,
    group: str,
    model: LLMEngine,
    judge: common.JudgeSettings,
    top_k: int = 3,
    arms: Sequence[str] | None = None,
    attribute_set: str | Path = "gair29",
    annotator: str | Path | None = None,
    annotator_engine: LLMEngine | None = None,
    limit: int | None = None,
) -> InterventionResult:
    """Run GAIR's manipulation experiment (see the module docstring).

    Parameters
    ----------
    pairs : PairDataset or pandas.DataFrame
        Where the queries come from (each distinct prompt once).
    weights : InferenceData or str or path
        A fit (``fit.nc``), a folder of GAIR's weight files, or ``bundled:gair-weights``.
    target_judge, group : str
        Whose ranking, in which group, picks the attributes.
    model : LLMEngine
        The generator.
    judge : JudgeSettings
        The judge comparing manipulated and normal answers.
    top_k : int
        Attributes at each end of the ranking.
    arms : sequence of str, optional
        Arms of ``manipulate.yaml`` (default ``exhibit_top``, ``avoid_bottom``).
    attribute_set : str or path
        Where the attributes' definitions come from (the fit's attribute set).
    annotator : str or path, optional
        Annotate normal and manipulated answers to check the targeted attributes moved.
    annotator_engine : LLMEngine, optional
        The annotator's model (not needed by ``rules``).
    limit : int, optional
        At most this many queries.

    Returns
    -------
    InterventionResult
        Tables ``answers`` (one row per query and arm, with both texts and the verdicts),
        ``effects`` (win rate and shift per arm, overall and per scenario), ``targets`` and,
        with an annotator, ``checks``.

    Examples
    --------
    >>> from preference_dissect.interventions import arm_definitions
    >>> sorted(arm_definitions(None))
    ['avoid_bottom', 'exhibit_top']
    """
    idata = common.open_weights(weights)
    targets = target_attributes(
        common.judge_weights(idata, target_judge, group), top_k, attribute_set
    )
    chosen = arm_definitions(arms)
    items = common.item_table(pairs, limit)
    normal = common.prompts_of(NAME).render("normal")
    systems = {"normal": normal, **{a: _instruction(s, targets) for a, s in chosen.items()}}
    requests = _requests(items, systems)
    plan = common.judge_plan(_versus_frame(items, list(chosen), {}), judge, model)
    estimate = preflight_engines({"model": (model, requests), "judge": (judge.engine, plan)})
    results = common.generate(model, requests, "answering")
    texts = {key: common.answer_text(r) for key, r in results.items()}
    judged = common.judge_versus(_versus_frame(items, list(chosen), texts), judge)
    tables = {  # the headline table first
        "effects": _effects(judged),
        "answers": judged.drop(columns=["conversation"]),
        "targets": _target_table(targets),
    }
    if annotator is not None:
        annotated = common.annotate_versus(judged, annotator, annotator_engine)
        tables["checks"] = attribute_checks(judged, annotated, targets, chosen)
    summary = _summary(tables, targets, chosen, texts, estimate, target_judge, group)
    summary["usage"] = common.usage(model, judge.engine, *filter(None, [annotator_engine]))
    return InterventionResult(NAME, tables, summary)


def _effects(judged: pd.DataFrame) -> pd.DataFrame:
    overall = win_rates(judged, ["arm"]).assign(scenario="all")
    per = win_rates(judged, ["arm", "scenario"])
    per = per[per["scenario"] != "all"]
    frame = pd.concat([overall, per], ignore_index=True)
    return frame[["arm", "scenario", *[c for c in frame.columns if c not in ("arm", "scenario")]]]


def _target_table(targets: dict[str, list[dict]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"end": end, "rank": i + 1, **a}
            for end, attrs in targets.items()
            for i, a in enumerate(attrs)
        ]
    )


def _summary(tables, targets, arms, texts, estimate, judge_name, group) -> dict[str, Any]:
    effects = tables["effects"]
    overall = effects[effects["scenario"] == "all"]
    return {
        "command": NAME,
        "target_judge": judge_name,
        "group": group,
        "arms": {a: dict(s) for a, s in arms.items()},
        "targets": {end: [a["name"] for a in attrs] for end, attrs in targets.items()},
        "queries": int(tables["answers"]["item_id"].nunique()),
        "answers_missing": int(sum(v is None for v in texts.values())),
        "judged": int(tables["answers"]["p_variant"].notna().sum()),
        "win_rate": common.records(overall.drop(columns="scenario")),
        "checks": common.records(tables["checks"]) if "checks" in tables else None,
        "preflight": estimate,
    }
