"""Judge audits: agreement with a reference, order consistency, first-slot bias, gold accuracy.

Definitions (per judge, over the pairs it labelled):

``agreement``
    share of pairs where the judge and the reference pick the same response, over pairs where
    both gave an ``a``/``b`` verdict (RLAIF's "AI labeler alignment").
``kappa``
    Cohen's kappa of the same a/b verdicts.
``consistency``
    share of pairs whose two single-order verdicts (``winner_ab``, ``winner_ba``, both in
    original terms) pick the same response, over pairs with both verdicts present.
``first_slot_rate``
    share of single-order verdicts that pick the slot shown first (``winner_ab == "a"`` or
    ``winner_ba == "b"``), over all single-order verdicts present.
``tie_rate``
    share of the judge's ``winner`` labels that are ``tie``.
``gold_accuracy`` / ``gold_wrong_rate``
    on pairs with a ``gold`` answer: share of labels equal to gold / share of a/b labels that
    pick the other response (ties count in neither).
``flip_rate``
    share of pairs with an a/b verdict in both orders whose two verdicts pick different
    responses (``n_flip`` such pairs).
``length_bias`` / ``reference_longer_rate``
    over pairs whose responses differ in length (words), the share of the judge's a/b
    verdicts that pick the longer one / the same share of the reference's verdicts (= the
    agreement of a "pick the longer" baseline with the reference); ``n_length``.
``self_preference`` / ``reference_self_rate``
    for a judge whose model family (``models/families/default.yaml``) made exactly one of the
    two responses (``model_a``/``model_b``): the share of its a/b verdicts that pick its own
    family's response / the reference's share on the same pairs; ``n_self``.

Intervals are percentile bootstrap 95% intervals over pairs (the same resampled pairs for
every judge and metric; vectorised numpy, seeded).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.schema import PairDataset

METRICS = (
    "agreement",
    "kappa",
    "consistency",
    "first_slot_rate",
    "tie_rate",
    "gold_accuracy",
    "gold_wrong_rate",
    "flip_rate",
    "length_bias",
    "reference_longer_rate",
    "self_preference",
    "reference_self_rate",
)
_CODES = {"a": 0, "b": 1, "tie": 2, "both_bad": 3}
_MISSING = -1
#: Rough cap on bootstrap weight-matrix elements held in memory at once.
_CHUNK_ELEMENTS = 4_000_000


def _codes(values: pd.Series) -> np.ndarray:
    return values.map(_CODES).fillna(_MISSING).to_numpy(dtype=np.int64)


@dataclass
class _Judge:
    winner: np.ndarray
    ab: np.ndarray
    ba: np.ndarray
    #: per pair, the code (0 a, 1 b) of the response from the judge's own family, else -1
    own: np.ndarray | None = None


def _judge_arrays(dataset: PairDataset, judge: str, pair_index: pd.Index) -> _Judge:
    lab = dataset.labels[dataset.labels["judge"] == judge].set_index("pair_id")
    lab = lab.reindex(pair_index)
    return _Judge(_codes(lab["winner"]), _codes(lab["winner_ab"]), _codes(lab["winner_ba"]))


def _share_terms(
    terms: dict[str, np.ndarray], name: str, verdict: np.ndarray, side: np.ndarray
) -> None:
    """``{name}_num`` / ``{name}_den``: of the a/b ``verdict`` s where ``side`` names a
    response (0 or 1), those that pick it."""
    den = (verdict >= 0) & (verdict <= 1) & (side >= 0)
    terms[f"{name}_den"] = den.astype(float)
    terms[f"{name}_num"] = (den & (verdict == side)).astype(float)


def _bias_terms(j: _Judge, ref: np.ndarray | None, longer: np.ndarray) -> dict[str, np.ndarray]:
    """Per-pair terms of the flip rate, the length bias and the self-preference."""
    terms: dict[str, np.ndarray] = {}
    both = (j.ab >= 0) & (j.ab <= 1) & (j.ba >= 0) & (j.ba <= 1)
    terms["flip_den"] = both.astype(float)
    terms["flip_num"] = (both & (j.ab != j.ba)).astype(float)
    _share_terms(terms, "len", j.winner, longer)
    own = j.own if j.own is not None else np.full(len(j.winner), _MISSING)
    _share_terms(terms, "own", j.winner, own)
    if ref is not None:
        _share_terms(terms, "rlen", ref, np.where(longer >= 0, longer, _MISSING))
        _share_terms(terms, "rown", ref, own)
    return terms


def _ratio_terms(
    j: _Judge, ref: np.ndarray | None, gold: np.ndarray, longer: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Per-pair numerator and denominator vectors of every metric of one judge."""
    labelled = j.winner != _MISSING
    decisive = j.winner <= 1
    terms: dict[str, np.ndarray] = {
        "n": labelled.astype(float),
        "tie_num": (j.winner == 2).astype(float),
    }
    if ref is not None:
        both = decisive & (ref <= 1) & (ref >= 0)
        terms["agree_den"] = both.astype(float)
        terms["agree_num"] = (both & (j.winner == ref)).astype(float)
        terms["judge_a"] = (both & (j.winner == 0)).astype(float)
        terms["ref_a"] = (both & (ref == 0)).astype(float)
    has_ab, has_ba = j.ab != _MISSING, j.ba != _MISSING
    pair_both = has_ab & has_ba
    terms["cons_den"] = pair_both.astype(float)
    terms["cons_num"] = (pair_both & (j.ab == j.ba) & (j.ab <= 1)).astype(float)
    terms["slot_den"] = has_ab.astype(float) + has_ba.astype(float)
    terms["slot_num"] = (j.ab == 0).astype(float) + (j.ba == 1).astype(float)
    with_gold = labelled & (gold >= 0)
    terms["gold_den"] = with_gold.astype(float)
    terms["gold_num"] = (with_gold & (j.winner == gold)).astype(float)
    terms["wrong_num"] = (with_gold & decisive & (j.winner != gold)).astype(float)
    if longer is None:
        longer = np.full(len(j.winner), _MISSING)
    return {**terms, **_bias_terms(j, ref, longer)}


def _metrics_from_sums(s: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Metric values from (possibly bootstrap-weighted) sums of the per-pair terms."""

    def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(den > 0, num / den, np.nan)

    out = {
        "tie_rate": ratio(s["tie_num"], s["n"]),
        "consistency": ratio(s["cons_num"], s["cons_den"]),
        "first_slot_rate": ratio(s["slot_num"], s["slot_den"]),
        "gold_accuracy": ratio(s["gold_num"], s["gold_den"]),
        "gold_wrong_rate": ratio(s["wrong_num"], s["gold_den"]),
        "flip_rate": ratio(s["flip_num"], s["flip_den"]),
        "length_bias": ratio(s["len_num"], s["len_den"]),
        "self_preference": ratio(s["own_num"], s["own_den"]),
    }
    if "rlen_den" in s:
        out["reference_longer_rate"] = ratio(s["rlen_num"], s["rlen_den"])
        out["reference_self_rate"] = ratio(s["rown_num"], s["rown_den"])
    if "agree_den" in s:
        po = ratio(s["agree_num"], s["agree_den"])
        pj, pr = ratio(s["judge_a"], s["agree_den"]), ratio(s["ref_a"], s["agree_den"])
        pe = pj * pr + (1 - pj) * (1 - pr)
        with np.errstate(invalid="ignore", divide="ignore"):
            kappa = np.where(pe < 1, (po - pe) / (1 - pe), np.nan)
        out["agreement"], out["kappa"] = po, kappa
    return out


def _bootstrap_sums(matrix: np.ndarray, n_boot: int, seed: int) -> np.ndarray:
    """Return (n_boot, k) sums of ``matrix`` (n, k) rows over bootstrap resamples of rows."""
    n = matrix.shape[0]
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_boot, _CHUNK_ELEMENTS // max(n, 1)))
    out = np.empty((n_boot, matrix.shape[1]))
    for start in range(0, n_boot, chunk):
        size = min(chunk, n_boot - start)
        idx = rng.integers(0, n, size=(size, n))
        offsets = (np.arange(size)[:, None] * n + idx).ravel()
        weights = np.bincount(offsets, minlength=size * n).reshape(size, n).astype(float)
        out[start : start + size] = weights @ matrix
    return out


def _clean(x: float) -> float | None:
    return None if x is None or not np.isfinite(x) else round(float(x), 6)


def audit_subset(
    judges: dict[str, _Judge],
    refs: dict[str, np.ndarray | None],
    gold: np.ndarray,
    *,
    bootstrap: int,
    seed: int,
    longer: np.ndarray | None = None,
) -> dict[str, dict[str, Any]]:
    """Audit every judge on one set of pairs (arrays aligned on the same pairs) against its
    reference verdicts ``refs[judge]`` (the same for every judge, except a leave-one-out
    majority for a judge that is part of the reference majority); ``longer`` is the code of
    each pair's longer response (-1: same length)."""
    names = list(judges)
    per_judge = [_ratio_terms(judges[name], refs.get(name), gold, longer) for name in names]
    keys = list(per_judge[0]) if per_judge else []
    matrix = np.column_stack([t[k] for t in per_judge for k in keys]) if per_judge else None
    results: dict[str, dict[str, Any]] = {}
    boot = None
    if matrix is not None and bootstrap > 0 and matrix.shape[0] > 0:
        boot = _bootstrap_sums(matrix, bootstrap, seed)
    for i, name in enumerate(names):
        terms = per_judge[i]
        point = _metrics_from_sums({k: np.array(v.sum()) for k, v in terms.items()})
        entry: dict[str, Any] = {
            "n": int(terms["n"].sum()),
            "n_agreement": int(terms["agree_den"].sum()) if "agree_den" in terms else 0,
            "n_consistency": int(terms["cons_den"].sum()),
            "n_gold": int(terms["gold_den"].sum()),
            "n_flip": int(terms["flip_den"].sum()),
            "n_length": int(terms["len_den"].sum()),
            "n_self": int(terms["own_den"].sum()),
        }
        cols = {}
        if boot is not None:
            base = i * len(keys)
            cols = {k: boot[:, base + j] for j, k in enumerate(keys)}
            boot_metrics = _metrics_from_sums(cols)
        for metric in METRICS:
            if metric not in point:
                continue
            entry[metric] = _clean(float(point[metric]))
            if boot is not None and entry[metric] is not None:
                values = boot_metrics[metric]
                values = values[np.isfinite(values)]
                lo, hi = np.percentile(values, [2.5, 97.5]) if len(values) else (np.nan, np.nan)
                entry[f"{metric}_ci"] = [_clean(lo), _clean(hi)]
        results[name] = entry
    return results


@dataclass
class AuditResult:
    """The outcome of :func:`audit_judges`.

    Attributes
    ----------
    summary : dict
        The ``--json`` object: ``{"reference", "pairs", "bootstrap", "seed", "judges": {...},
        "groups": {...}, "gold_subsets": {...}}``.
    """

    summary: dict[str, Any] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per judge with every metric and its interval bounds."""
        return _flatten(self.summary["judges"])

    def group_table(self) -> pd.DataFrame:
        """One row per (group, judge); empty without ``by_group``."""
        return _flatten_nested(self.summary.get("groups", {}), "group")

    def gold_subset_table(self) -> pd.DataFrame:
        """One row per (gold subset, judge); empty when the pairs have no gold answers."""
        return _flatten_nested(self.summary.get("gold_subsets", {}), "subset")


def _flatten(judges: dict[str, dict[str, Any]]) -> pd.DataFrame:
    rows = []
    for name, entry in judges.items():
        row: dict[str, Any] = {"judge": name}
        for k, v in entry.items():
            if isinstance(v, list):  # "agreement_ci": [lo, hi] -> agreement_low/_high
                row[f"{k.removesuffix('_ci')}_low"], row[f"{k.removesuffix('_ci')}_high"] = v
            else:
                row[k] = v
        rows.append(row)
    return pd.DataFrame(rows)


def _flatten_nested(nested: dict[str, dict[str, dict[str, Any]]], key: str) -> pd.DataFrame:
    frames = [_flatten(judges).assign(**{key: name}) for name, judges in nested.items()]
    if not frames:
        return pd.DataFrame()
    df = pd.concat(frames, ignore_index=True)
    return df[[key, *[c for c in df.columns if c != key]]]


def gold_subset_of(pairs: pd.DataFrame) -> pd.Series:
    """Return each pair's gold subset (LLMBar: ``Natural``, ``Adversarial/GPTInst``...).

    Read from ``meta["subset"]`` when present, else the ``scenario`` column, else ``all``.
    """
    out = []
    for scenario, meta in zip(pairs["scenario"], pairs["meta"], strict=True):
        try:
            m = json.loads(meta) if isinstance(meta, str) else {}
        except ValueError:
            m = {}
        subset = m.get("subset") if isinstance(m, dict) else None
        out.append(str(subset or scenario or "all"))
    return pd.Series(out, index=pairs.index)


def _coarse_subset(subset: str) -> str:
    return "Adversarial" if subset.lower().startswith("adversarial") else subset


def audit_judges(
    dataset: PairDataset,
    *,
    reference: str = "human",
    judges: list[str] | None = None,
    by_group: bool = False,
    bootstrap: int = 1000,
    seed: int = 0,
) -> AuditResult:
    """Audit judges against a reference judge or the gold answers.

    Parameters
    ----------
    dataset : PairDataset
        Pairs (with ``gold`` for gold audits) and the judge labels.
    reference : str
        ``"gold"`` (the pairs' gold column), a judge name (default ``"human"``), or
        ``"none"``: only the metrics that need no reference (consistency, flip rate,
        first-slot rate, ties, length bias, self-preference).
    judges : list of str, optional
        Judges to audit (default: every judge except the reference).
    by_group : bool
        Also audit per group (``all``, scenario, query groups; see
        :func:`preference_dissect.compare.groups.pair_groups`).
    bootstrap : int
        Bootstrap resamples for the 95% intervals (0 = none).
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    AuditResult

    Raises
    ------
    InputError
        Unknown reference or judge, no gold answers for a gold reference, nothing to audit.
    """
    if bootstrap < 0:
        raise InputError("--bootstrap must be 0 or more", field="bootstrap")
    pairs = dataset.pairs.reset_index(drop=True)
    index = pd.Index(pairs["pair_id"])
    known = dataset.judges
    gold = _codes(pairs["gold"].astype("object"))
    ref: np.ndarray | None
    if reference == "none":  # only what needs no reference: order, ties, length, own family
        ref = None
    elif reference == "gold":
        if not (gold >= 0).any():
            raise InputError(
                "the pairs have no gold answers (use --reference with a judge name)",
                field="reference",
            )
        ref = gold
    elif reference in known:
        ref = _judge_arrays(dataset, reference, index).winner
    else:
        raise InputError(
            f"unknown reference {reference!r} (use gold, none or one of: "
            f"{', '.join(known) or 'no judges'})",
            field="reference",
        )
    if judges:
        for j in judges:
            if j not in known:
                raise InputError(f"unknown judge {j!r} (known: {', '.join(known)})", field="judges")
        names = list(judges)
    else:
        names = [j for j in known if j != reference]
    if not names:
        raise InputError(
            "no judge to audit besides the reference (add judge labels)", field="judges"
        )
    arrays = {name: _judge_arrays(dataset, name, index) for name in names}
    longer, families = longer_response(pairs), response_families(pairs)
    for name, judged in arrays.items():
        judged.own = own_family_response(families, name)
    refs, notes = _references(dataset, reference, ref, names, index)
    for name, members in dataset.info.get("majorities", {}).items():
        others = [m for m in members if m != reference and m in known]
        if name in arrays and reference in members and others:
            votes = [_judge_arrays(dataset, m, index).winner for m in others]
            judged = arrays[name]
            arrays[name] = _Judge(leave_one_out_majority(votes), judged.ab, judged.ba, judged.own)
            notes[name] = f"{name} without {reference} (leave-one-out: {', '.join(others)})"
    summary: dict[str, Any] = {
        "reference": reference,
        "pairs": len(pairs),
        "bootstrap": bootstrap,
        "seed": seed,
        "judges": audit_subset(arrays, refs, gold, bootstrap=bootstrap, seed=seed, longer=longer),
    }
    for name, note in notes.items():
        summary["judges"][name]["reference_note"] = note
    if by_group:
        from preference_dissect.compare.groups import pair_groups

        membership = pair_groups(pairs)
        summary["groups"] = {}
        for group, members in membership.groupby("group", sort=False):
            mask = index.isin(members["pair_id"])
            summary["groups"][str(group)] = _audit_mask(
                arrays, refs, gold, longer, mask, (bootstrap, seed)
            )
    if (gold >= 0).any():
        subsets = gold_subset_of(pairs)
        summary["gold_subsets"] = {}
        names_fine = list(dict.fromkeys(subsets[gold >= 0]))
        coarse = subsets.map(_coarse_subset)
        for name in list(dict.fromkeys(coarse[gold >= 0])) + names_fine:
            if name in summary["gold_subsets"]:
                continue
            mask = ((subsets == name) | (coarse == name)).to_numpy() & (gold >= 0)
            summary["gold_subsets"][name] = _audit_mask(
                arrays, refs, gold, longer, mask, (bootstrap, seed)
            )
    return AuditResult(summary)


def leave_one_out_majority(verdicts: list[np.ndarray]) -> np.ndarray:
    """Per pair, the verdict more than half of ``verdicts`` share (codes), else missing."""
    stacked = np.vstack(verdicts)
    out = np.full(stacked.shape[1], _MISSING, dtype=np.int64)
    for code in (0, 1, 2):
        out[(stacked == code).sum(axis=0) * 2 > len(verdicts)] = code
    return out


def _references(
    dataset: PairDataset, reference: str, ref: np.ndarray, names: list[str], index: pd.Index
) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """The reference of each audited judge; a judge that is one of the annotators a
    majority reference is made of is audited against the majority of the others (else it
    agrees with itself), and a note says so."""
    members = dataset.info.get("majorities", {}).get(reference, [])
    refs: dict[str, np.ndarray] = {name: ref for name in names}
    notes: dict[str, str] = {}
    for name in names:
        others = [m for m in members if m != name and m in dataset.judges]
        if name in members and others:
            votes = [_judge_arrays(dataset, m, index).winner for m in others]
            refs[name] = leave_one_out_majority(votes)
            notes[name] = f"{reference} without {name} (leave-one-out: {', '.join(others)})"
    return refs, notes


def _audit_mask(
    arrays: dict[str, _Judge],
    refs: dict[str, np.ndarray | None],
    gold: np.ndarray,
    longer: np.ndarray,
    mask: np.ndarray,
    resampling: tuple[int, int],
) -> dict[str, dict[str, Any]]:
    sub = {
        k: _Judge(v.winner[mask], v.ab[mask], v.ba[mask], None if v.own is None else v.own[mask])
        for k, v in arrays.items()
    }
    sub_refs = {k: None if r is None else r[mask] for k, r in refs.items()}
    bootstrap, seed = resampling
    return audit_subset(
        sub, sub_refs, gold[mask], bootstrap=bootstrap, seed=seed, longer=longer[mask]
    )


def longer_response(pairs: pd.DataFrame) -> np.ndarray:
    """Per pair, the code of the response with more words (0 a, 1 b; -1 the same)."""
    words_a = pairs["response_a"].fillna("").astype(str).str.split().str.len().to_numpy()
    words_b = pairs["response_b"].fillna("").astype(str).str.split().str.len().to_numpy()
    return np.where(words_a > words_b, 0, np.where(words_b > words_a, 1, _MISSING))


def response_families(pairs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The model family of each pair's two responses (``None`` where unknown), each distinct
    model name matched once."""
    from preference_dissect.definitions import model_family

    out = []
    for column in ("model_a", "model_b"):
        models = pairs[column] if column in pairs else pd.Series([None] * len(pairs))
        names = [m if isinstance(m, str) else None for m in models]
        families = {m: model_family(m) for m in set(names)}
        out.append(np.array([families[m] for m in names], dtype=object))
    return out[0], out[1]


def own_family_response(families: tuple[np.ndarray, np.ndarray], judge: str) -> np.ndarray:
    """Per pair, the code of the response from ``judge``'s model family (0 a, 1 b), -1 when
    neither or both are (or the judge has no known family: ``human``)."""
    from preference_dissect.definitions import model_family

    family = model_family(judge)
    if family is None:
        return np.full(len(families[0]), _MISSING)
    is_a, is_b = families[0] == family, families[1] == family
    return np.where(is_a & ~is_b, 0, np.where(is_b & ~is_a, 1, _MISSING))


def write_audit(result: AuditResult, out_dir: str | os.PathLike[str]) -> list[Path]:
    """Write an audit's CSV tables, plots (PNG + SVG) and ``audit.json`` into ``out_dir``.

    Returns
    -------
    list of pathlib.Path
        The files written (tables that would be empty are skipped).
    """
    from preference_dissect.analyse.audit_plot import plot_audit
    from preference_dissect.io import atomic_path, write_json

    out = Path(out_dir)
    files: list[Path] = []
    tables = {
        "audit.csv": result.table(),
        "audit_by_group.csv": result.group_table(),
        "audit_gold_subsets.csv": result.gold_subset_table(),
    }
    for name, df in tables.items():
        if len(df):
            with atomic_path(out / name) as tmp:
                df.to_csv(tmp, index=False)
            files.append(out / name)
    files += plot_audit(result.table(), out, result.summary["reference"])
    files.append(write_json(result.summary, out / "audit.json"))
    return files
