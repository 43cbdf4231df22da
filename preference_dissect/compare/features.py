"""Annotations + judge labels -> the features table (docs/artifacts.md section 3).

One row per (pair, judge, group): ``pair_id``, ``judge``, ``group``, ``y`` (1 = A preferred,
0 = B preferred), then one -1/0/+1 column per attribute (``compare`` rule of the attribute
set), then optionally the continuous ``style_*`` covariates.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.annotate.attribute_sets import attribute_set_names
from preference_dissect.compare.attributes import Compared, compared_attributes
from preference_dissect.compare.controls import needs_style, resolve_controls
from preference_dissect.compare.groups import ALL_GROUP, pair_groups
from preference_dissect.compare.rules import RULES, combine_orders, compare_length_rule
from preference_dissect.compare.style import style_covariates
from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset

ANNOTATION_COLUMNS = ("pair_id", "annotator", "attribute", "side", "value", "na_reason", "raw")
REQUIRED_ANNOTATION_COLUMNS = ("pair_id", "attribute", "side", "value")
SIDES = ("a", "b", "query", "ab", "ba")
KEY_COLUMNS = ("pair_id", "judge", "group", "y")
NA_POLICIES = ("drop", "zero")
#: Old names of NA policies, still accepted.
NA_ALIASES = {"impute": "zero"}
TIE_POLICIES = ("drop", "half")
DISAGREE_POLICIES = ("zero", "drop")
NOT_APPLICABLE_POLICIES = ("zero", "drop")
#: NA reasons of annotations that mean "the comparison does not apply here", not "missing".
NOT_TRIGGERED = "not_triggered"
NOT_APPLICABLE = "not_applicable"
DOES_NOT_APPLY = (NOT_TRIGGERED, NOT_APPLICABLE)


def validate_annotations(
    annotations: pd.DataFrame,
    dataset: PairDataset,
    *,
    file: str | os.PathLike[str] | None = None,
) -> pd.DataFrame:
    """Check the long annotation table and return it with a float ``value`` column.

    Raises
    ------
    InputError
        Missing columns, unknown sides, non-numeric values, duplicate
        (pair_id, annotator, attribute, side) rows, or a pair_id absent from the pair table.
    """
    for col in REQUIRED_ANNOTATION_COLUMNS:
        if col not in annotations.columns:
            raise InputError("required column is missing", file=file, field=col)
    ann = annotations.reset_index(drop=True).copy()
    for col in ("annotator", "na_reason", "raw"):
        if col not in ann.columns:
            ann[col] = None
    bad_side = ~ann["side"].isin(SIDES)
    if bad_side.any():
        i = int(np.flatnonzero(bad_side.to_numpy())[0])
        raise InputError(
            f"unknown side {ann['side'].iloc[i]!r} (use one of {', '.join(SIDES)})",
            file=file,
            row=i + 1,
            field="side",
        )
    values = pd.to_numeric(ann["value"], errors="coerce")
    bad_value = values.isna() & ann["value"].notna()
    if bad_value.any():
        i = int(np.flatnonzero(bad_value.to_numpy())[0])
        raise InputError(
            f"value {ann['value'].iloc[i]!r} is not a number", file=file, row=i + 1, field="value"
        )
    ann["value"] = values.astype(float)
    known = set(dataset.pairs["pair_id"].tolist())
    unknown = ~ann["pair_id"].isin(known)
    if unknown.any():
        i = int(np.flatnonzero(unknown.to_numpy())[0])
        raise InputError(
            f"pair_id {ann['pair_id'].iloc[i]!r} is not in the pair table",
            file=file,
            row=i + 1,
            field="pair_id",
        )
    dup = ann.duplicated(subset=["pair_id", "annotator", "attribute", "side"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            "duplicate (pair_id, annotator, attribute, side) row",
            file=file,
            row=i + 1,
            field="attribute",
        )
    return ann


def _select_rows(ann: pd.DataFrame, specs: list[Compared], file: Any) -> pd.DataFrame:
    """Keep rows of the specs' annotators, map aliases to names, reject unknown attributes."""
    set_names = {s.set_name for s in specs}
    if ann["annotator"].notna().any():
        from_sets = ann["annotator"].isin(set_names) | ann["annotator"].isna()
        if not from_sets.any():
            found = ", ".join(sorted(map(str, ann["annotator"].dropna().unique())))
            raise InputError(
                f"no annotations from attribute set {', '.join(sorted(set_names))} "
                f"(annotators in the file: {found})",
                file=file,
                field="annotator",
            )
        ann = ann[from_sets]
    alias = {a: s.name for s in specs for a in s.aliases}
    if alias and ann["attribute"].isin(list(alias)).any():
        ann = ann.assign(attribute=ann["attribute"].replace(alias))
    names = {s.name for s in specs}
    unknown = (ann["side"] != "query") & ~ann["attribute"].isin(names)
    if unknown.any():
        i = int(ann.index[np.flatnonzero(unknown.to_numpy())[0]])
        raise InputError(
            f"unknown attribute {ann['attribute'].loc[i]!r} (not in attribute set "
            f"{', '.join(sorted(set_names))})",
            file=file,
            row=i + 1,
            field="attribute",
        )
    return ann


def _side_values(rows: pd.DataFrame, side: str, index: pd.Index) -> np.ndarray:
    r = rows[rows["side"] == side]
    return r.set_index("pair_id")["value"].reindex(index).to_numpy(float)


def _word_counts(texts: pd.Series) -> np.ndarray:
    return texts.fillna("").map(lambda t: len(t.split())).to_numpy(float)


def _attribute_feature(
    spec: Compared,
    rows: pd.DataFrame,
    pairs: pd.DataFrame,
    flags: pd.DataFrame,
    disagree: np.ndarray,
    report: dict[str, Any],
    not_applicable: str,
) -> np.ndarray | None:
    """Return the feature of one attribute for every pair in ``pairs`` (NaN = missing).

    A comparison that does not apply is information, not a missing value: a conditional
    attribute whose trigger is off, and an error check answered "not applicable" for either
    response (nothing to compare: chit-chat, refusals, creative writing), give 0 — as GAIR's
    comparison gives untriggered attributes — unless ``not_applicable == "drop"`` (GAIR's
    exclusion of such pairs, kept for reproduction), which leaves them NaN for dropping.
    """
    index = pd.Index(pairs["pair_id"])
    sides = set(rows["side"].unique())
    if sides & {"ab", "ba"}:
        ab, ba = _side_values(rows, "ab", index), _side_values(rows, "ba", index)
        both = ~np.isnan(ab) & ~np.isnan(ba)
        pair_disagrees = both & (np.sign(ab) != np.sign(ba))
        disagree |= pair_disagrees
        n_dis = int(pair_disagrees.sum())
        report["disagreement"][spec.name] = {
            "pairs_both_orders": int(both.sum()),
            "disagree": n_dis,
            "rate": n_dis / int(both.sum()) if both.any() else None,
        }
        return combine_orders(ab, ba, on_disagree="zero")
    if not sides:
        if spec.compare == "length_rule":
            report["computed_from_text"].append(spec.name)
            return compare_length_rule(
                _word_counts(pairs["response_a"]), _word_counts(pairs["response_b"])
            )
        return None
    if spec.compare not in RULES:
        raise InputError(
            f"attribute {spec.name!r} uses the pairwise rule but has a/b rows "
            "instead of ab/ba verdicts",
            field="side",
        )
    feature = RULES[spec.compare](_side_values(rows, "a", index), _side_values(rows, "b", index))
    not_triggered = set(rows.loc[rows["na_reason"] == NOT_TRIGGERED, "pair_id"])
    if spec.trigger is not None:
        f = flags[(flags["attribute"] == spec.trigger) & (flags["value"] == 0)]
        not_triggered |= set(f["pair_id"])
    if spec.kind == "conditional" or spec.trigger is not None:
        feature[index.isin(list(not_triggered))] = 0.0
    inapplicable = index.isin(list(set(rows.loc[rows["na_reason"] == NOT_APPLICABLE, "pair_id"])))
    if inapplicable.any():
        report["not_applicable"][spec.name] = int(inapplicable.sum())
        feature[inapplicable] = 0.0 if not_applicable == "zero" else np.nan
    return feature


def _labels_to_y(labels: pd.DataFrame, ties: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    counts = {
        str(j): {w: int(n) for w, n in g["winner"].value_counts().items()}
        for j, g in labels.groupby("judge", sort=False)
    }
    decisive = labels[labels["winner"].isin(["a", "b"])]
    out = [decisive.assign(y=(decisive["winner"] == "a").astype(float))]
    if ties == "half":
        out.append(labels[labels["winner"] == "tie"].assign(y=0.5))
    y = pd.concat(out, ignore_index=True)[["pair_id", "judge", "y"]]
    return y, counts


def _check_policies(na: str, ties: str, on_disagree: str, not_applicable: str) -> None:
    for value, valid, name in (
        (na, NA_POLICIES, "na"),
        (ties, TIE_POLICIES, "ties"),
        (on_disagree, DISAGREE_POLICIES, "on_disagree"),
        (not_applicable, NOT_APPLICABLE_POLICIES, "not_applicable"),
    ):
        if value not in valid:
            raise InputError(
                f"unknown {name} policy {value!r} (valid: {', '.join(valid)})", field=name
            )


def _specs_for(ann: pd.DataFrame, attribute_set: Any, file: Any) -> list[Compared]:
    """The attribute specs: the given sets, else the bundled sets named by the annotator."""
    if attribute_set is None:
        names = sorted(map(str, ann["annotator"].dropna().unique()))
        if not names:
            raise InputError(
                "cannot tell the attribute set: no 'annotator' values (pass one)",
                file=file,
                field="annotator",
            )
        unknown = [n for n in names if n not in attribute_set_names()]
        if unknown:
            raise InputError(
                f"the annotations come from attribute set {unknown[0]!r}, which is not bundled: "
                "pass its YAML file (attribute_set; --attribute-set PATH)",
                file=file,
                field="annotator",
            )
        attribute_set = names
    return compared_attributes(attribute_set)


def feature_frame(
    ann: pd.DataFrame,
    specs: list[Compared],
    pairs: pd.DataFrame,
    report: dict[str, Any],
    not_applicable: str,
) -> tuple[pd.DataFrame, np.ndarray]:
    """One column per attribute with annotations (NaN = missing); the disagreement mask."""
    flags = ann[ann["side"] == "query"]
    by_attr = {name: g for name, g in ann[ann["side"] != "query"].groupby("attribute", sort=False)}
    empty = ann.iloc[0:0]
    disagree = np.zeros(len(pairs), dtype=bool)
    columns: dict[str, np.ndarray] = {}
    for spec in specs:
        rows = by_attr.get(spec.name, empty)
        feature = _attribute_feature(spec, rows, pairs, flags, disagree, report, not_applicable)
        if feature is None:
            report["attributes_without_annotations"].append(spec.name)
            continue
        columns[spec.name] = feature
    if not columns:
        raise InputError("no attribute of the attribute set has annotations", field="attribute")
    return pd.DataFrame(columns, index=pd.Index(pairs["pair_id"], name="pair_id")), disagree


def _missing_reasons(ann: pd.DataFrame, feats: pd.DataFrame) -> dict[str, dict[str, int]]:
    """Per attribute, the pairs whose feature is missing, by the annotation's NA reason."""
    out: dict[str, dict[str, int]] = {}
    rows = ann[ann["value"].isna() & ann["attribute"].isin(list(feats.columns))]
    for attr in feats.columns:
        missing = feats.index[feats[attr].isna()]
        if not len(missing):
            continue
        sub = rows[(rows["attribute"] == attr) & rows["pair_id"].isin(missing)]
        reasons = sub.drop_duplicates("pair_id")["na_reason"].fillna("unspecified")
        counts = {str(k): int(v) for k, v in reasons.value_counts().items()}
        unexplained = len(missing) - int(sum(counts.values()))
        if unexplained:
            counts["no annotation"] = unexplained
        out[attr] = counts
    return out


def _apply_na(
    feats: pd.DataFrame,
    ann: pd.DataFrame,
    disagree: np.ndarray,
    policies: dict[str, str],
    report: dict[str, Any],
) -> pd.DataFrame:
    """Apply the NA, not-applicable and disagreement policies; record what each dropped."""
    na_mask = feats.isna()
    inapplicable = pd.Series(False, index=feats.index)
    if policies["not_applicable"] == "drop":
        flagged = ann.loc[ann["na_reason"] == NOT_APPLICABLE, "pair_id"]
        inapplicable = pd.Series(feats.index.isin(list(flagged)), index=feats.index)
    missing = na_mask.any(axis=1) & ~inapplicable
    report["na"] = {
        "policy": policies["na"],
        "by_attribute": {
            c: int(n) for c, n in (na_mask & ~inapplicable.to_numpy()[:, None]).sum().items()
        },
        "reasons": _missing_reasons(ann, feats),
        "pairs_with_na": int(missing.sum()),
        "pairs_dropped": int(missing.sum()) if policies["na"] == "drop" else 0,
        "values_imputed": int(na_mask.to_numpy()[missing.to_numpy()].sum())
        if policies["na"] == "zero"
        else 0,
    }
    report["pairs_dropped_not_applicable"] = int(inapplicable.sum())
    keep = ~inapplicable
    if policies["na"] == "drop":
        keep &= ~missing
    feats = feats[keep].fillna(0.0)
    report["pairs_dropped_disagree"] = 0
    if policies["on_disagree"] == "drop":
        drop = pd.Series(disagree, index=na_mask.index).reindex(feats.index).to_numpy()
        report["pairs_dropped_disagree"] = int(drop.sum())
        feats = feats[~drop]
    return feats


def _judge_labels(
    dataset: PairDataset, judges: list[str] | None, ties: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    labels = dataset.labels_with_gold()
    all_judges = list(dict.fromkeys(labels["judge"].tolist()))
    if not all_judges:
        raise InputError(
            "the dataset has no judge labels and no gold answers (pass --labels, or label it "
            "with `prefdissect judge`)"
        )
    if judges:
        missing = [j for j in judges if j not in all_judges]
        if missing:
            raise InputError(
                f"unknown judge {missing[0]!r} (known: {', '.join(all_judges)})", field="judges"
            )
        labels = labels[labels["judge"].isin(judges)]
    y, counts = _labels_to_y(labels, ties)
    return y, {"labels": counts, "judge_order": all_judges}


def _assemble(
    y: pd.DataFrame,
    feats: pd.DataFrame,
    used_pairs: pd.DataFrame,
    ann: pd.DataFrame,
    judge_order: list[str],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows per (pair, judge, group) in judge, group and pair order; the group membership."""
    groups = pair_groups(used_pairs, ann)
    table = y.merge(groups, on="pair_id", how="inner")
    table = table.merge(feats, left_on="pair_id", right_index=True, how="inner")
    order = {j: i for i, j in enumerate(judge_order)}
    group_names = list(dict.fromkeys([ALL_GROUP, *groups["group"].tolist()]))
    group_order = {g: i for i, g in enumerate(group_names)}
    pair_order = {p: i for i, p in enumerate(used_pairs["pair_id"])}
    table = table.assign(
        _j=table["judge"].map(order),
        _g=table["group"].map(group_order),
        _p=table["pair_id"].map(pair_order),
    ).sort_values(["_j", "_g", "_p"], kind="stable")
    table = table.drop(columns=["_j", "_g", "_p"]).reset_index(drop=True)
    return table[[*KEY_COLUMNS, *feats.columns]], groups


def pair_flow(report: dict[str, Any]) -> list[dict[str, Any]]:
    """How many pairs each step of the comparison kept and why the others left.

    Returns
    -------
    list of dict
        ``{"step", "pairs", "dropped", "why"}`` rows: pairs in the dataset, with
        annotations, with complete features (NA policy), after the not-applicable and
        disagreement policies, and per judge the pairs with an a/b (or tie) verdict.
    """
    na = report["na"]
    reasons = "; ".join(
        f"{attr}: " + ", ".join(f"{r} {n}" for r, n in counts.items())
        for attr, counts in na["reasons"].items()
    )
    after_na = report["pairs_annotated"] - na["pairs_dropped"]
    after_na_applicable = after_na - report["pairs_dropped_not_applicable"]
    rows = [
        {"step": "pairs in the dataset", "pairs": report["pairs"], "dropped": 0, "why": ""},
        {
            "step": "annotated",
            "pairs": report["pairs_annotated"],
            "dropped": report["pairs"] - report["pairs_annotated"],
            "why": "no annotation rows",
        },
        {
            "step": f"complete features (--na {na['policy']})",
            "pairs": after_na,
            "dropped": na["pairs_dropped"],
            "why": reasons
            if na["pairs_dropped"]
            else (
                f"{na['values_imputed']} missing values imputed as 0"
                if na["values_imputed"]
                else ""
            ),
        },
    ]
    if report["pairs_dropped_not_applicable"]:
        rows.append(
            {
                "step": "error check applicable (--not-applicable drop)",
                "pairs": after_na_applicable,
                "dropped": report["pairs_dropped_not_applicable"],
                "why": "error check not applicable for a response (GAIR's exclusion)",
            }
        )
    if report["pairs_dropped_disagree"]:
        rows.append(
            {
                "step": "orders agree (--disagree drop)",
                "pairs": report["pairs_used"],
                "dropped": report["pairs_dropped_disagree"],
                "why": "pairwise verdicts of the two orders disagree",
            }
        )
    for judge, d in report["judges"].items():
        counts = report["labels"].get(judge, {})
        left = report["pairs_used"] - d["rows_all"]
        why = ", ".join(f"{w} {n}" for w, n in counts.items() if w not in ("a", "b") and n)
        step = f"judge {judge}: labelled a/b" + (" or tie" if report["ties"] == "half" else "")
        rows.append(
            {
                "step": step,
                "pairs": d["rows_all"],
                "dropped": left,
                "why": (f"{why} (over all pairs), or no label" if why else "no label")
                if left
                else "",
            }
        )
    return rows


def build_features(
    annotations: pd.DataFrame,
    dataset: PairDataset,
    attribute_set: Any = None,
    *,
    judges: list[str] | None = None,
    na: str = "drop",
    ties: str = "drop",
    on_disagree: str = "zero",
    not_applicable: str = "zero",
    style: bool = False,
    controls: tuple[str, ...] | list[str] = (),
    annotations_file: str | os.PathLike[str] | None = None,
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Turn annotations and judge labels into the features table.

    Parameters
    ----------
    annotations : pandas.DataFrame
        Long annotation table (docs/artifacts.md section 2).
    dataset : PairDataset
        The pairs (scenario, meta, texts) and the judge labels. Pairs with gold answers
        (LLMBar) also give the judge ``gold``.
    attribute_set : str, path, dict or list of them, optional
        Attribute set(s) whose ``compare`` rules apply. Default: the sets named in the
        annotations' ``annotator`` column (bundled names).
    judges : list of str, optional
        Judges to keep (default: every judge in ``dataset.labels``, and ``gold``).
    na : {"drop", "zero"}
        Missing features (failed or absent annotations): drop the pair, or use 0 (= no
        difference; ``"impute"``, the old name, is still accepted).
    ties : {"drop", "half"}
        Ties: excluded, or kept with ``y = 0.5`` (a fractional Bernoulli outcome, which the
        logistic fit accepts). ``both_bad`` is always excluded.
    on_disagree : {"zero", "drop"}
        Pairwise (A/B/similar) attributes whose two orders disagree: 0 (no difference), or
        drop every pair with such a disagreement.
    not_applicable : {"zero", "drop"}
        Error checks answered "not applicable" for a response: feature 0 (nothing to
        compare; the default), or drop the pair as GAIR did (a selection bias on chit-chat
        and refusal pairs, kept for reproducing GAIR).
    style : bool
        Add the z-scored Arena style covariates ``style_length``, ``style_header``,
        ``style_list``, ``style_bold`` (continuous values, not -1/0/1).
    controls : list of str
        Attributes the fit adjusts for with a wide prior (:mod:`.controls`): column names,
        ``length`` or ``markdown`` (these turn ``style`` on); recorded in the report.
    annotations_file : path, optional
        Used in error messages.

    Returns
    -------
    features : pandas.DataFrame
        ``pair_id, judge, group, y`` then one column per attribute (then ``style_*``);
        ``features.attrs["report"]`` holds the report (saved with the parquet file).
    report : dict
        Counts: pairs used, NA per attribute and reason and what was done, pairs set to 0
        because a check did not apply, order disagreement rates, rows per judge and group,
        label counts, style facts, and ``pair_flow`` (see :func:`pair_flow`).

    Raises
    ------
    InputError
        Bad annotation table, unknown attribute, unknown judge, or nothing left to fit.
    """
    na = NA_ALIASES.get(na, na)
    _check_policies(na, ties, on_disagree, not_applicable)
    file = annotations_file
    ann = validate_annotations(annotations, dataset, file=file)
    specs = _specs_for(ann, attribute_set, file)
    ann = _select_rows(ann, specs, file)
    pairs_all = dataset.pairs
    pairs = pairs_all[pairs_all["pair_id"].isin(set(ann["pair_id"]))].reset_index(drop=True)
    report: dict[str, Any] = {
        "pairs": len(pairs_all),
        "pairs_annotated": len(pairs),
        "attribute_sets": sorted({s.set_name for s in specs}),
        "disagreement": {},
        "not_applicable": {},
        "not_applicable_policy": not_applicable,
        "computed_from_text": [],
        "attributes_without_annotations": [],
    }
    feats, disagree = feature_frame(ann, specs, pairs, report, not_applicable)
    policies = {"na": na, "not_applicable": not_applicable, "on_disagree": on_disagree}
    feats = _apply_na(feats, ann, disagree, policies, report)
    used_pairs = pairs[pairs["pair_id"].isin(feats.index)]
    report["pairs_used"] = len(used_pairs)
    if style or needs_style(controls):
        cov, style_report = style_covariates(used_pairs)
        feats = feats.join(cov)
        report["style"] = style_report
    report["controls"] = resolve_controls(controls, feats.columns)
    y, label_facts = _judge_labels(dataset, judges, ties)
    report["labels"] = label_facts["labels"]
    report["ties"] = ties
    y = y[y["pair_id"].isin(feats.index)]
    table, groups = _assemble(y, feats, used_pairs, ann, label_facts["judge_order"])
    if ties == "drop":
        table["y"] = table["y"].astype("int64")
    if table.empty:
        raise InputError("no rows left: no pair has both annotations and an a/b judge label")
    _summarise(table, feats, groups, report)
    table.attrs["report"] = report
    return table, report


def _summarise(
    table: pd.DataFrame, feats: pd.DataFrame, groups: pd.DataFrame, report: dict[str, Any]
) -> None:
    report["rows"] = len(table)
    report["attributes"] = [str(c) for c in feats.columns]
    in_all = table[table["group"] == ALL_GROUP]
    report["judges"] = {
        str(j): {"rows_all": len(g), "y_mean_all": float(g["y"].mean())}
        for j, g in in_all.groupby("judge", sort=False)
    }
    report["groups"] = {
        str(g): int(n)
        for g, n in groups.drop_duplicates()["group"].value_counts(sort=False).items()
    }
    report["pair_flow"] = pair_flow(report)
