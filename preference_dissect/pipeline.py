"""The main job: ``load -> classify -> annotate -> features -> fit -> analyze -> audit -> report``.

:func:`run_pipeline` writes one run directory (docs/artifacts.md section 6). It is resumable:
each stage records a fingerprint of its settings and of the stage before it in
``manifest.json``; a re-run with the same settings reuses every artifact that is already
there, and a stage whose settings changed is redone together with everything after it.
LLM answers are also cached (``--cache-dir``), so nothing already paid for is paid twice.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError
from preference_dissect.llm.config import CacheConfig, LLMConfig

DEFAULT_SOURCE = "bundled:hh-rlhf"
PAIRS = "pairs.parquet"
ANNOTATIONS = "annotations.parquet"
FEATURES = "features.parquet"
JUDGE_LABELS = "judge_labels.parquet"
FIT = "fit.nc"
ANALYSIS = "analysis"
AUDIT = "audit"
SUMMARY = "summary.json"


@dataclass(frozen=True)
class RunConfig:
    """Settings of one ``prefdissect run``.

    Attributes
    ----------
    source : str
        Anything :func:`preference_dissect.load.load_source` accepts.
    out : pathlib.Path
        The run directory.
    fmt, limit, seed :
        Loader options (format override, first N pairs, A/B side seed).
    annotator : str, optional
        ``rules``, ``gair29``, ``sharma24`` or a YAML path; default ``gair29`` when a
        model is configured, else ``rules`` (offline).
    classify : {"auto", "always", "never"}
        Assign GAIR scenario groups (LLM when a model is configured, else offline rules);
        ``auto`` classifies only sources that carry no scenario of their own.
    judges : list of str, optional
        Judges to fit (default: all judges with labels).
    prior, model, sampler, draws : str, str, str, int
        Fit settings (see ``prefdissect fit``).
    na : {"drop", "impute"}
        Missing-feature policy of the comparator.
    not_applicable : {"zero", "drop"}
        Error checks answered "not applicable": feature 0, or drop the pair (GAIR).
    labels : tuple of str
        Extra judge-label files (``prefdissect judge`` output) merged at load.
    min_group_size : int
        (judge, group) cells with fewer labelled pairs are not fitted (the fit lists them
        with the reason): a 29-weight regression on a handful of pairs says nothing.
    report : bool
        Write ``report.html`` at the end.
    resume : bool
        Reuse artifacts of an earlier run with the same settings.
    generate, cache : LLMConfig or None, CacheConfig
        The LLM model/server and answer cache; no ``generate`` means offline.
    judge : LLMConfig or None
        An LLM judge to label the pairs (both orders, answer-letter log-probs): its labels
        become the judge named after the model, so a pair set without labels can be
        dissected for that judge.
    """

    source: str = DEFAULT_SOURCE
    out: Path = Path("runs/latest")
    fmt: str | None = None
    limit: int | None = None
    seed: int = 0
    annotator: str | None = None
    classify: str = "auto"
    judges: tuple[str, ...] | None = None
    prior: str = "laplace:0.1"
    model: str = "logistic"
    sampler: str = "auto"
    draws: int = 500
    na: str = "drop"
    not_applicable: str = "zero"
    labels: tuple[str, ...] = ()
    min_group_size: int = 30
    report: bool = True
    resume: bool = True
    generate: LLMConfig | None = None
    judge: LLMConfig | None = None
    cache: CacheConfig = field(default_factory=CacheConfig)

    def annotator_name(self, has_model: bool) -> str:
        """The annotator to use: the configured one, else gair29 with a model, else rules."""
        return self.annotator or ("gair29" if has_model else "rules")


def _fingerprint(*parts: Any) -> str:
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def _failures(engine: Any) -> dict[str, int]:
    """The engine's NA counts so far (every run), or none offline."""
    return dict(engine.total_stats.failures) if engine is not None else {}


def _retryable_since(engine: Any, before: dict[str, int]) -> dict[str, int]:
    """NAs since ``before`` that a re-run may fix (transport errors, cost cap, batch): a stage
    that has them is redone by the next run, which re-asks only those (the rest is cached)."""
    if engine is None:
        return {}
    from preference_dissect.llm.calls import retryable_failures

    return retryable_failures(engine.total_stats.failures, before)


class _Stages:
    """Skip-or-run bookkeeping over the manifest's stage records."""

    def __init__(self, manifest: Any, out: Path, resume: bool, say: Callable[[str], None]):
        self.manifest = manifest
        self.out = out
        self.resume = resume
        self.say = say
        self.previous = ""
        self.redo = not resume

    def reusable(self, name: str, settings: dict[str, Any], *outputs: str) -> bool:
        """Advance the fingerprint chain; True if ``name``'s outputs can be reused."""
        self.previous = _fingerprint(self.previous, name, settings)
        old = self.manifest.data["stages"].get(name, {})
        ok = (
            not self.redo
            and old.get("fingerprint") == self.previous
            and all((self.out / o).exists() for o in outputs)
        )
        retry = old.get("retryable_failures") or {}
        if ok and retry:
            ok = False
            self.say(
                f"{name}: the earlier run left {sum(retry.values())} answer(s) to retry "
                f"({', '.join(f'{r} {n}' for r, n in retry.items())}); redoing it "
                "(cached answers are not asked again)"
            )
        elif ok:
            self.say(f"{name}: reusing {', '.join(outputs)} from an earlier run")
        if not ok:
            self.redo = True  # every later stage is redone too
        return ok


def flow_line(report: dict[str, Any]) -> str:
    """One line on the pairs the comparison kept and why the others were dropped."""
    dropped = [
        f"{row['dropped']} at '{row['step']}'" + (f" ({row['why']})" if row["why"] else "")
        for row in report["pair_flow"][1:]
        if row["dropped"]
    ]
    kept = f"features: kept {report['pairs_used']} of {report['pairs']} pairs"
    return kept + (": dropped " + "; ".join(dropped) if dropped else "")


def _check_texts(dataset: Any, source: str) -> None:
    """A source without response texts (the bundled GAIR folder) cannot be annotated."""
    if dataset.info.get("texts_available") is False:
        raise InputError(
            f"{source} has no response texts (GAIR's texts are gated on Hugging Face), so "
            "there is nothing to annotate: use `prefdissect reproduce gair` for GAIR's fitted "
            "weights, `prefdissect audit bundled:gair` for its 30 judges, or run on "
            "hf:GAIR/preference-dissection once you have access"
        )


def _judge_stage(
    cfg: RunConfig, dataset: Any, stages: _Stages, manifest: Any, out: Path, say: Any
) -> Any:
    """Label the pairs with the LLM judge of ``cfg.judge``; return the dataset with them."""
    from preference_dissect.compare.inputs import add_labels
    from preference_dissect.io import write_parquet
    from preference_dissect.judges.llm_judge import JudgeOptions, judge_pairs
    from preference_dissect.llm import LLMEngine

    assert cfg.judge is not None
    options = JudgeOptions(judge_name=cfg.judge.model)
    settings = {"judge": cfg.judge.answer_settings(), "version": options.version}
    if stages.reusable("judge", settings, JUDGE_LABELS):
        import pandas as pd

        return add_labels(dataset, pd.read_parquet(out / JUDGE_LABELS), file=out / JUDGE_LABELS)
    engine = LLMEngine(cfg.judge, cfg.cache)
    manifest.add_secret(os.environ.get(cfg.judge.api_key_env))
    with manifest.stage("judge") as facts:
        before = _failures(engine)
        outcome = judge_pairs(dataset.pairs, engine, options)
        write_parquet(outcome.labels, out / JUDGE_LABELS)
        manifest.add_engine("judge", engine.describe())
        facts.update(
            fingerprint=stages.previous,
            labels=len(outcome.labels),
            retryable_failures=_retryable_since(engine, before),
        )
    say(f"judge: {cfg.judge.model}, {len(outcome.labels)} labels of {len(dataset.pairs)} pairs")
    return add_labels(dataset, outcome.labels, file=out / JUDGE_LABELS)


def run_pipeline(cfg: RunConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Run every stage into ``cfg.out`` and return the run summary (also ``summary.json``).

    Parameters
    ----------
    cfg : RunConfig
        The run's settings.
    say : callable
        Receives one-line progress messages.

    Returns
    -------
    dict
        ``{"out", "pairs", "judges", "annotator", "features", "fits", "report", ...}``.
    """
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    import pandas as pd

    from preference_dissect.io import write_json, write_parquet
    from preference_dissect.load import load_source, resolve_source
    from preference_dissect.load.schema import read_dataset, write_dataset
    from preference_dissect.manifest import Manifest, input_signature

    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    manifest = Manifest.load(out)
    stages = _Stages(manifest, out, cfg.resume, say)
    model = cfg.generate.model if cfg.generate else None
    engine = None
    if cfg.generate is not None:
        from preference_dissect.llm import LLMEngine

        engine = LLMEngine(cfg.generate, cfg.cache)
    if engine is not None:
        manifest.add_secret(os.environ.get(engine.config.api_key_env))
    summary: dict[str, Any] = {"out": str(out), "source": cfg.source}
    skip = ("generate", "judge", "cache", "out")
    summary["settings"] = {k: v for k, v in asdict(cfg).items() if k not in skip}

    # load (+ scenario groups)
    where = resolve_source(cfg.source)
    load_settings = {
        "source": cfg.source,
        "files": input_signature([] if isinstance(where, str) else [where]),
        "format": cfg.fmt,
        "limit": cfg.limit,
        "seed": cfg.seed,
        "classify": cfg.classify,
        "classifier": cfg.generate.answer_settings() if cfg.generate else None,
        "labels": input_signature(cfg.labels),
    }
    if stages.reusable("load", load_settings, PAIRS):
        dataset = read_dataset(out / PAIRS)
    else:
        with manifest.stage("load") as facts:
            manifest.set_input([] if isinstance(where, str) else [where], source=cfg.source)
            manifest.set_seed("ab_sides", cfg.seed)
            dataset = load_source(cfg.source, cfg.fmt, cfg.limit, seed=cfg.seed)
            _check_texts(dataset, cfg.source)
            for path in cfg.labels:
                from preference_dissect.compare.inputs import add_labels
                from preference_dissect.io import read_table

                dataset = add_labels(dataset, read_table(path), file=path)
            has_scenarios = dataset.pairs["scenario"].notna().any()
            if cfg.classify == "always" or (cfg.classify == "auto" and not has_scenarios):
                from preference_dissect.annotate.scenario import classify_pairs

                before = _failures(engine)
                pairs, classified = classify_pairs(dataset.pairs, engine)
                dataset.pairs = pairs
                facts["classify"] = classified
                facts["retryable_failures"] = _retryable_since(engine, before)
                if engine is not None:
                    manifest.add_engine("classify", engine.describe())
            write_dataset(dataset, out / PAIRS)
            facts.update(fingerprint=stages.previous, **dataset.summary())
            facts["loader"] = {k: v for k, v in dataset.info.items() if k != "path"}
        judges = dataset.dissectable_judges
        say(f"load: {len(dataset.pairs)} pairs, judges {', '.join(judges) or 'none'}")
    summary["pairs"] = len(dataset.pairs)
    if cfg.judge is not None:
        dataset = _judge_stage(cfg, dataset, stages, manifest, out, say)
    summary["judges"] = dataset.dissectable_judges
    if not summary["judges"]:
        raise InputError(
            "the source has no judge labels and no gold answers to dissect: add an LLM judge "
            "(--judge-model MODEL), pass labels (--labels FILE) or label it with "
            "`prefdissect judge`",
            file=where if not isinstance(where, str) else None,
        )

    # annotate
    annotator = cfg.annotator_name(engine is not None)
    from preference_dissect.annotate.runner import annotate_pairs, resolve_annotator

    ann = resolve_annotator(annotator)
    ann_settings = {
        "annotator": annotator,
        "version": ann.version,  # prompts, attribute set (a YAML file's content), code
        "engine": cfg.generate.answer_settings() if cfg.generate else None,
    }
    if stages.reusable("annotate", ann_settings, ANNOTATIONS):
        annotations = pd.read_parquet(out / ANNOTATIONS)
    else:
        with manifest.stage("annotate") as facts:
            before = _failures(engine)
            annotations, ann_summary = annotate_pairs(dataset.pairs, ann, engine)
            facts["retryable_failures"] = retry = _retryable_since(engine, before)
            if retry:
                say(
                    f"annotate: {sum(retry.values())} answer(s) failed for a reason a re-run may "
                    "fix; run the same command again to ask only those"
                )
            write_parquet(annotations, out / ANNOTATIONS)
            info = annotations.attrs.get("annotator", {})
            manifest.add_annotator(
                ann.name,
                version=info.get("version"),
                prompts=info.get("prompt_hashes"),
                model=model if ann.needs_llm else None,
                base_url=cfg.generate.base_url if ann.needs_llm and cfg.generate else None,
            )
            if ann.needs_llm and engine is not None:
                manifest.add_engine("annotate", engine.describe())
            facts.update(fingerprint=stages.previous, annotation=ann_summary)
        say(f"annotate: {annotator}, {len(annotations)} annotation rows")
    summary["annotator"] = annotator

    # features
    feat_settings = {"na": cfg.na, "judges": cfg.judges, "not_applicable": cfg.not_applicable}
    if stages.reusable("features", feat_settings, FEATURES):
        features = pd.read_parquet(out / FEATURES)
    else:
        from preference_dissect.compare import build_features

        with manifest.stage("features") as facts:
            features, report = build_features(
                annotations,
                dataset,
                ann.attribute_set,  # also a user YAML set, which has no bundled name
                judges=list(cfg.judges) if cfg.judges else None,
                na=cfg.na,
                not_applicable=cfg.not_applicable,
            )
            write_parquet(features, out / FEATURES)
            facts.update(fingerprint=stages.previous, report=report)
            say(flow_line(report))
        say(f"features: {len(features)} rows x {features.shape[1] - 4} attributes")
    summary["features"] = len(features)

    # fit
    from preference_dissect.fit.features import validate_features
    from preference_dissect.fit.idata import load_fit
    from preference_dissect.fit.spec import FitSpec, Prior

    spec = FitSpec(
        likelihood=cfg.model,
        prior=Prior.parse(cfg.prior),
        sampler=cfg.sampler,
        draws=cfg.draws,
        seed=cfg.seed,
        min_group_size=cfg.min_group_size,
    )
    if stages.reusable("fit", spec.to_dict(), FIT):
        idata = load_fit(out / FIT)
    else:
        from preference_dissect.fit.runner import fit_features

        with manifest.stage("fit") as facts:
            table = validate_features(features, file=out / FEATURES)
            manifest.set_seed("fit", cfg.seed)
            manifest.set_setting("fit", spec.to_dict())
            outcome = fit_features(table, spec, out / FIT, source=str(out / FEATURES))
            idata = outcome.idata
            fitted = sum(v for k, v in outcome.methods.items() if k != "skipped")
            facts.update(
                fingerprint=stages.previous,
                fits=fitted,
                methods=outcome.methods,
                warnings=len(outcome.notes),
            )
            skipped = outcome.methods.get("skipped", 0)
            say(
                f"fit: {fitted} fits in {outcome.seconds:.1f} s"
                + (f"; {skipped} cell(s) not fitted (too few pairs)" if skipped else "")
            )
    from preference_dissect.fit.idata import diagnostics_frame

    diag = diagnostics_frame(idata)
    summary["fits"] = int((diag["method"] != "skipped").sum())
    summary["skipped_cells"] = [
        {"judge": r.judge, "group": r.group, "n": int(r.n), "reason": r.reason}
        for r in diag[diag["method"] == "skipped"].itertuples(index=False)
    ]

    # analyze
    if not stages.reusable("analyze", {}, ANALYSIS):
        from preference_dissect.analyse.run import analyse_fit

        with manifest.stage("analyze") as facts:
            result = analyse_fit(idata, out / ANALYSIS)
            facts.update(fingerprint=stages.previous, files=len(result.get("files", [])))
        say(f"analyze: {len(result.get('files', []))} files in {out / ANALYSIS}")

    # audit (when there is something to audit against)
    has_reference = len(dataset.judges) > 1 and "human" in dataset.judges
    has_gold = dataset.pairs["gold"].notna().any() and bool(dataset.judges)
    if (has_reference or has_gold) and not stages.reusable("audit", {}, AUDIT):
        from preference_dissect.analyse.audit import audit_judges, write_audit

        with manifest.stage("audit") as facts:
            result = audit_judges(
                dataset, reference="human" if has_reference else "gold", seed=cfg.seed
            )
            files = write_audit(result, out / AUDIT)
            facts.update(fingerprint=stages.previous, files=len(files))
        say(f"audit: {len(files)} files in {out / AUDIT}")

    write_json(summary, out / SUMMARY)
    manifest.write()
    # report (always rebuilt: cheap, and it shows the latest manifest)
    if cfg.report:
        from preference_dissect.report import build_report

        with manifest.stage("report"):
            path = build_report(out)
        summary["report"] = str(path)
        say(f"report: {path}")
        write_json(summary, out / SUMMARY)
    return summary
