"""Turn run artifacts into the plain numbers and tables each report section shows.

Each ``*_section`` function takes what it needs and returns a dict for the template, or
``None`` when its artifact was not produced in this run.
"""

from __future__ import annotations

import base64
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.analyse.plots import figure_data_uri, scores_figure, similarity_figure
from preference_dissect.report.artifacts import Artifact, read_agreement, read_any_table

#: Thresholds that flag a fit in the convergence table.
RHAT_MAX = 1.01
ESS_MIN = 400.0
PARETO_K_MAX = 0.7
#: Attribute NA rate (excluding "not triggered") above which the annotation table warns.
NA_WARN = 0.10
TEXT_LIMIT = 1200
TABLE_ROW_LIMIT = 60
#: Analysis plots the report draws itself from fit.nc (not embedded twice).
REDRAWN_ANALYSIS_PLOTS = ("scores_", "similarity.")
#: Rows of the per-group score table (judges x attributes) shown in the report.
GROUP_TABLE_LIMIT = 300
#: A fit on fewer pairs is flagged in the convergence table.
FEW_PAIRS = 30
#: A weight informed by fewer pairs (where the attribute comparison is not 0) is flagged.
FEW_INFORMATIVE = 10


def file_to_data_uri(path: Path) -> str:
    """Return a PNG or SVG file as a ``data:`` URI (SVG is shown through ``<img>``, so any
    script inside it never runs)."""
    mime = "image/svg+xml" if path.suffix.lower() == ".svg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def truncate(text: Any, limit: int = TEXT_LIMIT) -> str:
    """Return ``text`` cut to ``limit`` characters with a note of how much was left out."""
    text = "" if text is None else str(text)
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… [{len(text) - limit:,} more characters]"


# --------------------------------------------------------------------------- data summary


def _scenario_provenance(pairs: pd.DataFrame) -> dict[str, int]:
    """Where the pairs' scenario groups come from: the offline keyword rules, the LLM
    classifier, or the source itself."""
    counts = {"rules": 0, "llm": 0, "source": 0}
    for scenario, meta in zip(pairs["scenario"], pairs["meta"], strict=True):
        if not isinstance(scenario, str):
            continue
        try:
            method = json.loads(meta).get("scenario_method") if isinstance(meta, str) else None
        except (ValueError, AttributeError):
            method = None
        counts[method if method in ("rules", "llm") else "source"] += 1
    return counts


def data_section(pairs: Artifact, features: Artifact) -> dict[str, Any] | None:
    """Pairs, judges with their label split, scenarios (and who assigned them), multi-turn
    share, feature rows and the pairs each comparison step kept."""
    if not pairs.ok and not features.ok:
        return None
    out: dict[str, Any] = {"judge_names": []}
    if pairs.ok:
        ds = pairs.value
        summary = ds.summary()
        out["summary"] = summary
        labels = ds.labels_with_gold()
        split = {
            str(j): {w: int((g["winner"] == w).sum()) for w in ("a", "b", "tie", "both_bad")}
            for j, g in labels.groupby("judge", sort=False)
        }
        out["judges"] = [
            {"judge": j, **counts, "total": sum(counts.values())} for j, counts in split.items()
        ]
        out["judge_names"] = list(split)
        scen = summary["scenarios"]
        out["scenarios"] = list(scen.items())[:TABLE_ROW_LIMIT]
        out["scenarios_left_out"] = max(0, len(scen) - TABLE_ROW_LIMIT)
        out["unlabelled_scenario"] = summary["pairs"] - sum(scen.values())
        out["scenario_methods"] = _scenario_provenance(ds.pairs)
    if features.ok:
        df = features.value.keys
        if {"judge", "group", "y"} <= set(df.columns):
            y = pd.to_numeric(df["y"], errors="coerce")
            g = y.groupby([df["judge"], df["group"]], sort=False)
            table = pd.DataFrame({"rows": g.size(), "share_a": g.mean()}).reset_index()
            out["feature_rows"] = table.to_dict("records")[: TABLE_ROW_LIMIT * 4]
            out["feature_attributes"] = features.value.attributes
            out["feature_covariates"] = features.value.covariates
            seen = [str(j) for j in dict.fromkeys(df["judge"].tolist())]
            out["judge_names"] = list(dict.fromkeys([*out["judge_names"], *seen]))
        out["pair_flow"] = features.value.report.get("pair_flow")
    return out


# ------------------------------------------------------------------- annotation quality


def annotation_section(annotations: Artifact, manifest: Artifact) -> dict[str, Any] | None:
    """NA and parse-failure rates by annotator and attribute; tokens and cost of the run."""
    usage = None
    if manifest.ok and isinstance(manifest.value, dict):
        usage = manifest.value.get("usage")
    if not annotations.ok:
        return {"rows": None, "usage": usage} if usage else None
    df = annotations.value
    need = {"annotator", "attribute", "value"}
    if not need <= set(df.columns):
        return {"error": f"annotations lack columns {sorted(need - set(df.columns))}"}
    reason = (
        df["na_reason"].astype("object")
        if "na_reason" in df.columns
        else pd.Series([None] * len(df), index=df.index, dtype="object")
    )
    from preference_dissect.compare.features import DOES_NOT_APPLY

    value_na = pd.to_numeric(df["value"], errors="coerce").isna()
    reason = reason.where(reason.notna() | ~value_na, "unspecified")
    work = pd.DataFrame(
        {
            "annotator": df["annotator"].astype(str),
            "attribute": df["attribute"].astype(str),
            "na": value_na & ~reason.isin(DOES_NOT_APPLY),
            "parse_failed": reason == "parse_failed",
            "not_triggered": reason.isin(DOES_NOT_APPLY),
            "reason": reason,
        }
    )
    rows = []
    for (annotator, attribute), grp in work.groupby(["annotator", "attribute"], sort=False):
        other = grp["reason"][grp["na"] & ~grp["parse_failed"]].value_counts()
        rows.append(
            {
                "annotator": annotator,
                "attribute": attribute,
                "count": len(grp),
                "na_rate": float(grp["na"].mean()),
                "parse_failed_rate": float(grp["parse_failed"].mean()),
                "not_triggered_rate": float(grp["not_triggered"].mean()),
                "other_reasons": ", ".join(f"{k} ({v})" for k, v in other.items()),
                "warn": bool(grp["na"].mean() > NA_WARN),
            }
        )
    totals = {
        "count": len(work),
        "pairs": int(df["pair_id"].nunique()) if "pair_id" in df.columns else None,
        "na_rate": float(work["na"].mean()) if len(work) else float("nan"),
        "parse_failed_rate": float(work["parse_failed"].mean()) if len(work) else float("nan"),
        "annotators": sorted(work["annotator"].unique().tolist()),
    }
    return {"rows": rows, "totals": totals, "usage": usage, "na_warn": NA_WARN}


# --------------------------------------------------------------------------- weights


def unreliable_attributes(agreement: Artifact | None) -> dict[str, float]:
    """Attribute -> alpha of the attributes an agreement table (``prefdissect agreement
    --out``) gives an alpha below :data:`~preference_dissect.analyse.agreement.UNRELIABLE`
    (0.4), lowest first; ``{}`` without a readable table."""
    from preference_dissect.analyse.agreement import UNRELIABLE

    if agreement is None or not agreement.ok:
        return {}
    table = agreement.value
    low = table[table["alpha"] < UNRELIABLE].sort_values("alpha", kind="stable")
    return {str(a): float(v) for a, v in zip(low["attribute"], low["alpha"], strict=True)}


def _agreement_of(fit: Artifact, agreement: Artifact | None) -> Artifact | None:
    """``agreement``, else the table in the fit's run directory (when the fit has one)."""
    return agreement if agreement is not None else read_agreement(fit.path.parent)


def weights_section(
    fit: Artifact, top_k: int = 3, agreement: Artifact | None = None
) -> dict[str, Any] | None:
    """Per-group plots of preference scores and top/bottom attribute tables.

    Scores come from :func:`preference_dissect.analyse.scores.weight_summary` (posterior-mean
    score, 95% HDI), the same numbers the analysis stage writes. Attributes an agreement table
    rates below alpha 0.4 (``agreement``, default: the run directory's, see
    :data:`~preference_dissect.report.artifacts.AGREEMENT_FILES`) are marked unreliable.
    """
    if not fit.ok:
        return None
    from preference_dissect.analyse.scores import has_draws, top_bottom, weight_summary

    scores = weight_summary(fit.value)
    found = _agreement_of(fit, agreement)
    unreliable = unreliable_attributes(found)
    if scores.empty:
        return {"groups": [], "scores": scores, "note": "every fit in fit.nc is empty (NaN)"}
    point_only = not has_draws(fit.value)
    attributes = list(dict.fromkeys(scores["attribute"]))
    labels = dict(zip(scores["attribute"], scores["label"], strict=True))
    ends = top_bottom(scores, top_k)
    groups = []
    for group, rows in scores.groupby("group", sort=False):
        ranked = []
        for judge, jr in ends[ends["group"] == group].groupby("judge", sort=False):
            ranked.append(
                {
                    "judge": judge,
                    "top": jr[jr["end"] == "top"].to_dict("records"),
                    "bottom": jr[jr["end"] == "bottom"].to_dict("records"),
                }
            )
        groups.append(
            {
                "group": group,
                "plot": figure_data_uri(scores_figure(rows, attributes, str(group), labels)),
                "ranked": ranked,
                "judges": list(dict.fromkeys(rows["judge"])),
                "table": rows.head(GROUP_TABLE_LIMIT).to_dict("records"),
                "table_left_out": max(0, len(rows) - GROUP_TABLE_LIMIT),
            }
        )
    return {
        "groups": groups,
        "scores": scores,
        "top_k": top_k,
        "attributes": attributes,
        "point_estimates": point_only,
        "few": FEW_INFORMATIVE,
        "unreliable": {a: v for a, v in unreliable.items() if a in attributes},
        "agreement_file": _relative(found.path, fit.path.parent) if unreliable else None,
    }


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return path.name


def _used_groups(idata: Any) -> tuple[list[str], str]:
    from preference_dissect.analyse.scores import averaged_groups
    from preference_dissect.definitions import scenario_group_names

    used = averaged_groups(idata)
    known = set(scenario_group_names())
    return used, "the scenario groups" if set(used) <= known else "the fitted groups"


def error_sensitivity_section(fit: Artifact) -> dict[str, Any] | None:
    """Mean preference score of the three error attributes over scenario groups, per judge
    (:func:`preference_dissect.analyse.scores.error_sensitivity`)."""
    if not fit.ok:
        return None
    from preference_dissect.analyse.scores import ERROR_ATTRIBUTES, error_sensitivity

    table = error_sensitivity(fit.value)
    if table.empty:
        return {"rows": [], "note": "the attribute set has no error attributes"}
    attrs = [a for a in ERROR_ATTRIBUTES if a in set(table["attribute"])]
    rows = []
    for judge, jr in table.groupby("judge", sort=False):
        by_attr = {r["attribute"]: r for r in jr.to_dict("records")}
        rows.append({"judge": judge, "cells": [by_attr.get(a) for a in attrs]})
    groups, used = _used_groups(fit.value)
    return {"attributes": attrs, "rows": rows, "groups": groups, "used": used}


def similarity_section(fit: Artifact, scores: pd.DataFrame | None) -> dict[str, Any] | None:
    """Judge-by-judge similarity heatmap (needs at least two fitted judges), from
    :func:`preference_dissect.analyse.similarity.judge_similarity`."""
    if not fit.ok or scores is None or scores.empty:
        return None
    judges = list(dict.fromkeys(scores["judge"]))
    if len(judges) < 2:
        return {"note": "only one judge was fitted; similarity needs two or more"}
    from preference_dissect.analyse.plots import SIMILARITY_POINT_TITLE, SIMILARITY_TITLE
    from preference_dissect.analyse.similarity import judge_similarity

    sim = judge_similarity(fit.value)
    matrix = sim.matrix.loc[judges, judges]
    groups, used = _used_groups(fit.value)
    title = SIMILARITY_POINT_TITLE if sim.point_estimates else SIMILARITY_TITLE
    pairs = sim.pairs[sim.pairs["judge_a"].isin(judges) & sim.pairs["judge_b"].isin(judges)]
    return {
        "plot": figure_data_uri(similarity_figure(matrix, title)),
        "judges": judges,
        "matrix": matrix.to_numpy().tolist(),
        "pairs": pairs.head(TABLE_ROW_LIMIT * 4).to_dict("records"),
        "point_estimates": sim.point_estimates,
        "used": used,
        "groups": groups,
    }


def prior_section(fit: Artifact) -> dict[str, Any] | None:
    """Scores that move by more than :data:`~.scores.PRIOR_SHIFT_FLAG` points under a wide
    prior (:func:`preference_dissect.analyse.scores.prior_sensitivity`)."""
    if not fit.ok:
        return None
    from preference_dissect.analyse.scores import PRIOR_SHIFT_FLAG, prior_sensitivity
    from preference_dissect.fit.idata import spec_of

    table = prior_sensitivity(fit.value)
    if table.empty:
        return None
    flagged = table[table["flagged"]].sort_values("shift", key=abs, ascending=False)
    return {
        "prior": spec_of(fit.value).get("prior", "the default prior"),
        "wide": str(table["prior"].iloc[0]),
        "checked": len(table),
        "flagged": flagged.head(TABLE_ROW_LIMIT).to_dict("records"),
        "n_flagged": len(flagged),
        "threshold": PRIOR_SHIFT_FLAG,
    }


# ----------------------------------------------------------------------- convergence


#: Column order of the convergence table (other per-fit variables follow).
DIAGNOSTIC_ORDER = (
    "method",
    "n",
    "rhat_max",
    "ess_bulk_min",
    "ess_tail_min",
    "divergences",
    "pareto_k",
    "accuracy",
    "ppc_p_share",
    "seconds",
)


def _per_fit_variables(idata: Any) -> dict[str, Any]:
    """Variables outside the posterior with dims within judge, group (and chain, draw)."""
    found: dict[str, Any] = {}
    for group_name in idata.groups():
        if group_name in ("posterior", "prior", "observed_data", "constant_data"):
            continue
        ds = getattr(idata, group_name)
        for name, da in ds.data_vars.items():
            dims = set(da.dims)
            if not dims or not dims <= {"judge", "group", "chain", "draw"}:
                continue
            red = [d for d in ("chain", "draw") if d in dims]
            if red:
                if name not in ("diverging", "divergences"):
                    continue
                da = da.astype(float).sum(red)
            key = "divergences" if name == "diverging" else str(name)
            found.setdefault(key, da)
    return found


def _computed_diagnostics(post: Any) -> dict[str, Any]:
    """R-hat (two or more chains) and bulk/tail ESS of the weights, per fit."""
    import arviz as az

    filled = post.fillna(0.0)  # missing fits (NaN) are left out of the table anyway
    table: dict[str, Any] = {}
    if post.sizes.get("draw", 1) < 4:
        return table
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if post.sizes.get("chain", 1) >= 2:
            table["rhat_max"] = az.rhat(filled)["weight"].max("attribute")
        table["ess_bulk_min"] = az.ess(filled, method="bulk")["weight"].min("attribute")
        table["ess_tail_min"] = az.ess(filled, method="tail")["weight"].min("attribute")
    return table


def _value_at(da: Any, judge: str, group: str, ji: int, gi: int) -> Any:
    sel: dict[str, Any] = {}
    for dim, label, idx in (("judge", judge, ji), ("group", group, gi)):
        if dim in da.dims:
            sel[dim] = label if dim in da.coords else idx
    try:
        picked = da.sel(sel) if all(d in da.coords for d in sel) else da.isel(sel)
        value = picked.values.item()
    except (KeyError, ValueError, TypeError, IndexError):
        return float("nan")
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return value if isinstance(value, str) else float(value)


def diagnostics_table(idata: Any) -> pd.DataFrame:
    """One row per existing fit: the fit's own diagnostics (``fit_diagnostics`` group), else
    R-hat and ESS computed from the draws, plus divergences, Pareto k and other facts."""
    post = idata.posterior[["weight"]]
    for dim, default in (("judge", "judge"), ("group", "all")):
        if dim not in post.dims:
            post = post.expand_dims({dim: [default]})
    valid = np.isfinite(post["weight"]).any(dim=["chain", "draw", "attribute"])
    extra = _per_fit_variables(idata)
    if not {"rhat_max", "ess_bulk_min"} & set(extra):
        extra = {**_computed_diagnostics(post), **extra}
    judges = [str(j) for j in post.coords["judge"].values]
    groups = [str(g) for g in post.coords["group"].values]
    records = []
    for ji, judge in enumerate(judges):
        for gi, group in enumerate(groups):
            if not bool(valid.values[ji, gi]):
                continue
            rec: dict[str, Any] = {"judge": judge, "group": group}
            for key, da in extra.items():
                rec[key] = _value_at(da, judge, group, ji, gi)
            records.append(rec)
    frame = pd.DataFrame.from_records(records)
    if frame.empty:
        return frame
    first = ["judge", "group", *[c for c in DIAGNOSTIC_ORDER if c in frame.columns]]
    return frame[first + [c for c in frame.columns if c not in first]]


def _thresholds(idata: Any) -> dict[str, float]:
    out = {"rhat": RHAT_MAX, "ess": ESS_MIN, "pareto_k": PARETO_K_MAX}
    try:
        spec = json.loads(idata.posterior.attrs.get("spec") or "{}")
    except (TypeError, ValueError):
        spec = {}
    for key, name in (("rhat", "rhat_max"), ("ess", "ess_min"), ("pareto_k", "pareto_k_max")):
        if isinstance(spec.get(name), int | float):
            out[key] = float(spec[name])
    return out


def _finite(rec: dict[str, Any], key: str) -> float | None:
    val = rec.get(key)
    return float(val) if isinstance(val, int | float) and np.isfinite(val) else None


def _flags(rec: dict[str, Any], th: dict[str, float]) -> list[str]:
    flags = []
    if (v := _finite(rec, "n")) is not None and v < FEW_PAIRS:
        flags.append(f"only {v:.0f} pairs: too few to trust its weights")
    if (v := _finite(rec, "rhat_max")) is not None and v > th["rhat"]:
        flags.append(f"R-hat {v:.3f} > {th['rhat']:g}")
    if (v := _finite(rec, "ess_bulk_min")) is not None and v < th["ess"]:
        flags.append(f"bulk ESS {v:.0f} < {th['ess']:.0f}")
    if (v := _finite(rec, "ess_tail_min")) is not None and v < th["ess"]:
        flags.append(f"tail ESS {v:.0f} < {th['ess']:.0f}")
    if (v := _finite(rec, "divergences")) is not None and v > 0:
        flags.append(f"{v:.0f} divergences")
    refitted = str(rec.get("method", "")).lower() in ("nuts", "external")  # k of a replaced IS
    if not refitted and (v := _finite(rec, "pareto_k")) is not None and v > th["pareto_k"]:
        flags.append(f"Pareto k {v:.2f} > {th['pareto_k']:g}")
    return flags


def convergence_section(fit: Artifact) -> dict[str, Any] | None:
    """Diagnostics per fit, with fits that break a threshold listed first and highlighted."""
    if not fit.ok:
        return None
    idata = fit.value
    table = diagnostics_table(idata)
    th = _thresholds(idata)
    attrs = idata.posterior.attrs
    notes: list[str] = []
    try:
        notes = [str(n) for n in json.loads(attrs.get("warnings") or "[]")]
    except (TypeError, ValueError):
        notes = [str(attrs.get("warnings"))]
    facts = {k: attrs[k] for k in ("spec", "source", "seconds") if k in attrs}
    if table.empty:
        return {
            "rows": [],
            "columns": [],
            "warned": 0,
            "thresholds": th,
            "notes": notes,
            "attrs": facts,
            "skipped": _skipped_cells(idata),
            "few_pairs": FEW_PAIRS,
        }
    records = table.to_dict("records")
    for rec in records:
        rec["flags"] = _flags(rec, th)
    records.sort(key=lambda r: not r["flags"])
    return {
        "rows": records,
        "columns": [c for c in table.columns if c not in ("judge", "group")],
        "warned": sum(1 for r in records if r["flags"]),
        "thresholds": th,
        "notes": notes,
        "attrs": facts,
        "skipped": _skipped_cells(idata),
        "few_pairs": FEW_PAIRS,
    }


def _skipped_cells(idata: Any) -> list[dict[str, Any]]:
    """The (judge, group) cells the fit did not fit, with the reason."""
    from preference_dissect.fit.idata import diagnostics_frame

    diag = diagnostics_frame(idata)
    if diag.empty or "reason" not in diag:
        return []
    rows = diag[diag["method"] == "skipped"]
    return rows[["judge", "group", "n", "reason"]].to_dict("records")


# -------------------------------------------------------------- analysis and audits


def _table_block(path: Path, root: Path) -> dict[str, Any]:
    try:
        df = read_any_table(path)
    except Exception as exc:
        return {"name": str(path.relative_to(root)), "error": f"{type(exc).__name__}: {exc}"}
    return {
        "name": str(path.relative_to(root)),
        "columns": [str(c) for c in df.columns],
        "rows": df.head(TABLE_ROW_LIMIT).to_numpy().tolist(),
        "left_out": max(0, len(df) - TABLE_ROW_LIMIT),
    }


def folder_section(folder: Artifact, skip_images: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """Tables (first rows) and images (PNG preferred over an SVG of the same name) of a folder.

    Images whose file name starts with one of ``skip_images`` (plots the report already
    draws itself) are counted but not embedded again.
    """
    if not folder.ok:
        return None
    root = folder.path
    files = folder.value
    shown = [p for p in files["png"] + files["svg"] if not p.name.startswith(skip_images)]
    skipped = len({p.with_suffix("") for p in files["png"] + files["svg"]}) - len(
        {p.with_suffix("") for p in shown}
    )
    pngs = {p.with_suffix("") for p in shown if p.suffix.lower() == ".png"}
    images = [
        {"name": str(p.relative_to(root)), "uri": file_to_data_uri(p)}
        for p in shown
        if p.suffix.lower() == ".png" or p.with_suffix("") not in pngs
    ]
    tables = [_table_block(p, root) for p in files["tables"]]
    documents = []
    for p in files["json"]:
        try:
            text = json.dumps(json.loads(p.read_text(encoding="utf-8")), indent=2)
        except (OSError, ValueError) as exc:
            text = f"unreadable: {exc}"
        documents.append({"name": str(p.relative_to(root)), "text": truncate(text, 6000)})
    return {"images": images, "tables": tables, "documents": documents, "skipped": skipped}


# --------------------------------------------------------------------- example pairs


def _label_text(labels: pd.DataFrame, pair_id: str) -> list[dict[str, Any]]:
    rows = labels[labels["pair_id"] == pair_id]
    return [{"judge": r.judge, "winner": r.winner} for r in rows.itertuples()]


def _feature_text(features: pd.DataFrame | None, pair_id: str) -> dict[str, list[str]] | None:
    if features is None or "pair_id" not in features.columns:
        return None
    rows = features[features["pair_id"] == pair_id]
    if rows.empty:
        return None
    if "group" in rows.columns and (rows["group"] == "all").any():
        rows = rows[rows["group"] == "all"]
    row = rows.iloc[0]
    meta = {"pair_id", "judge", "group", "y"}
    attrs = [c for c in rows.columns if c not in meta and not str(c).startswith("style_")]
    vals = pd.to_numeric(row[attrs], errors="coerce")
    return {
        "a": [str(a) for a in attrs if vals[a] > 0],
        "b": [str(a) for a in attrs if vals[a] < 0],
    }


def examples_section(
    pairs: Artifact, features: Artifact, n: int = 3, limit: int = TEXT_LIMIT
) -> dict[str, Any] | None:
    """A few pairs (earlier turns, prompt, both responses, labels) so readers see the data."""
    if not pairs.ok or n <= 0:
        return None
    ds = pairs.value
    shown = ds.pairs.head(n)
    feats = features.value.rows_for(shown["pair_id"].tolist()) if features.ok else None
    out = []
    for row in shown.itertuples(index=False):
        turns = [
            {
                "role": t.get("role"),
                "side": t.get("side"),
                "content": truncate(t.get("content"), limit // 2),
            }
            for t in (row.conversation or [])
        ]
        out.append(
            {
                "pair_id": row.pair_id,
                "source": row.source,
                "scenario": row.scenario,
                "model_a": row.model_a,
                "model_b": row.model_b,
                "gold": row.gold,
                "turns": turns,
                "prompt": truncate(row.prompt, limit),
                "response_a": truncate(row.response_a, limit),
                "response_b": truncate(row.response_b, limit),
                "labels": _label_text(ds.labels, row.pair_id),
                "features": _feature_text(feats, row.pair_id),
            }
        )
    return {"pairs": out, "total": len(ds.pairs)}


# ------------------------------------------------------------------------- manifest


def manifest_section(manifest: Artifact) -> dict[str, Any] | None:
    """The manifest, split into the parts the report shows as tables."""
    if not manifest.ok or not isinstance(manifest.value, dict):
        return None
    from preference_dissect.manifest import scrub

    m = scrub(manifest.value)  # a manifest written by another tool may still hold a key
    stages = m.get("stages") or {}
    if isinstance(stages, list):  # tolerate a list of {"name", "seconds", ...}
        stages = {str(s.get("name", i)): s for i, s in enumerate(stages)}
    stage_rows = []
    for name, facts in stages.items():
        facts = dict(facts) if isinstance(facts, dict) else {"seconds": facts}
        seconds = facts.pop("seconds", None)
        facts.pop("finished_at", None)
        stage_rows.append(
            {
                "stage": name,
                "seconds": seconds,
                "facts": truncate(json.dumps(facts, default=str), 240),
            }
        )
    known = {
        "input",
        "annotators",
        "models",
        "servers",
        "seeds",
        "settings",
        "packages",
        "usage",
        "stages",
        "command",
    }

    def shown(part: Any) -> dict[str, str]:
        if not isinstance(part, dict):
            return {}
        return {
            str(k): truncate(json.dumps(v, default=str) if isinstance(v, dict | list) else v, 400)
            for k, v in part.items()
        }

    return {
        "input": m.get("input") or {},
        "annotators": m.get("annotators") or {},
        "models": shown(m.get("models")),
        "servers": shown(m.get("servers")),
        "seeds": shown(m.get("seeds")),
        "settings": shown(m.get("settings")),
        "packages": shown(m.get("packages")),
        "usage": m.get("usage") or {},
        "stages": stage_rows,
        "total_seconds": m.get("total_seconds"),
        "command": " ".join(map(str, m.get("command") or [])),
        "other": {k: v for k, v in m.items() if k not in known},
        "raw": json.dumps(m, indent=2, ensure_ascii=False, default=str),
    }
