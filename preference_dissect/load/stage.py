"""The load stage of the main job: read the source (+ extra labels), assign scenario groups
by the classification policy, write ``pairs.parquet``."""

from __future__ import annotations

from typing import Any

from preference_dissect.errors import InputError
from preference_dissect.stages import STAGES, RunContext, Stage


def check_texts(dataset: Any, source: str) -> None:
    """A source without response texts (the bundled GAIR folder) cannot be annotated."""
    if dataset.info.get("texts_available") is False:
        raise InputError(
            f"{source} has no response texts (GAIR's texts are gated on Hugging Face), so "
            "there is nothing to annotate: use `prefdissect reproduce gair` for GAIR's fitted "
            "weights, `prefdissect audit bundled:gair` for its 30 judges, or run on "
            "hf:GAIR/preference-dissection once you have access"
        )


@STAGES.register("load")
class LoadStage(Stage):
    """``prefdissect load`` (+ ``classify`` when the policy says so) into ``pairs.parquet``."""

    name = "load"
    order = 10
    outputs = ("pairs",)

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.load import resolve_source
        from preference_dissect.manifest import input_signature

        cfg = ctx.cfg
        where = resolve_source(cfg.source)
        return {
            "source": cfg.source,
            "files": input_signature([] if isinstance(where, str) else [where]),
            "format": cfg.format,
            "limit": cfg.limit,
            "seed": cfg.seed,
            "classify": cfg.classify,
            "classifier": cfg.llm.answer_settings() if cfg.llm else None,
            "labels": input_signature(cfg.labels),
        }

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.annotate.scenario import classify_pairs, needs_classification
        from preference_dissect.compare.inputs import add_labels
        from preference_dissect.io import read_table
        from preference_dissect.load import load_source, resolve_source
        from preference_dissect.load.schema import write_dataset

        cfg = ctx.cfg
        dataset = load_source(cfg.source, cfg.format, cfg.limit, seed=cfg.seed)
        check_texts(dataset, cfg.source)
        for path in cfg.labels:
            dataset = add_labels(dataset, read_table(path), file=path)
        where = resolve_source(cfg.source)
        ctx.manifest.set_input([] if isinstance(where, str) else [where], source=cfg.source)
        ctx.manifest.set_seed("ab_sides", cfg.seed)
        facts: dict[str, Any] = {}
        if needs_classification(dataset.pairs, cfg.classify):
            engine = ctx.engine("llm")
            before = ctx.failures(engine)
            dataset.pairs, facts["classify"] = classify_pairs(dataset.pairs, engine)
            facts["retryable_failures"] = ctx.retryable(engine, before)
            if engine is not None:
                ctx.manifest.add_engine("classify", engine.describe())
        ctx.values["pairs"] = dataset
        write_dataset(dataset, ctx.artifact("pairs"))
        facts["loader"] = {k: v for k, v in dataset.info.items() if k != "path"}
        return {**facts, **dataset.summary()}

    def finish(self, ctx: RunContext) -> str:
        """A run needs a judge to dissect: labels, gold answers, or an LLM judge to come."""
        dataset = ctx.values["pairs"]
        judges = dataset.dissectable_judges
        ctx.summary.update(pairs=len(dataset.pairs), judges=judges)
        if not judges and ctx.cfg.judge_llm is None:
            raise InputError(
                "the source has no judge labels and no gold answers to dissect: add an LLM "
                "judge (judge_llm, --judge-model MODEL), pass labels (labels, --labels FILE) "
                "or label it with `prefdissect judge`"
            )
        return f"load: {len(dataset.pairs)} pairs, judges {', '.join(judges) or 'none'}"
