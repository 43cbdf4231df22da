"""The annotate stage of the main job: annotate every pair into ``annotations.parquet``."""

from __future__ import annotations

from typing import Any

from preference_dissect.artifacts import ARTIFACTS
from preference_dissect.stages import STAGES, RunContext, Stage


def run_annotator_name(ctx: RunContext) -> str:
    """The run's annotator: the configured one, else gair29 with a model, else the one that
    reads the annotations the loaded source carries (GAIR's table: ``gair_released``), else
    rules (:meth:`~preference_dissect.config.RunConfig.annotator_name`)."""
    pairs = ctx.values.get("pairs")
    carried = pairs.info.get("annotations") if pairs is not None else None
    return ctx.cfg.annotator_name(carried)


def run_annotator(ctx: RunContext) -> Any:
    """The run's :class:`~preference_dissect.annotate.base.Annotator` (made once)."""
    from preference_dissect.annotate.runner import resolve_annotator

    if "_annotator" not in ctx.values:
        ctx.values["_annotator"] = resolve_annotator(run_annotator_name(ctx))
    return ctx.values["_annotator"]


@STAGES.register("annotate")
class AnnotateStage(Stage):
    """``prefdissect annotate`` with the run's annotator (``rules`` offline, ``gair29`` with a
    model unless another is named, GAIR's own annotations for GAIR's annotated table)."""

    name = "annotate"
    order = 30
    outputs = ("annotations",)

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        cfg = ctx.cfg
        return {
            "annotator": run_annotator_name(ctx),
            # prompts, attribute set (a file's content), code
            "version": run_annotator(ctx).version,
            "engine": cfg.llm.answer_settings() if cfg.llm else None,
        }

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.annotate.runner import annotate_pairs

        ann = run_annotator(ctx)
        engine = ctx.engine("llm") if ann.needs_llm else None
        before = ctx.failures(engine)
        table, summary = annotate_pairs(ctx.values["pairs"].pairs, ann, engine)
        retry = ctx.retryable(engine, before)
        ARTIFACTS["annotations"].write(table, ctx.artifact("annotations"))
        ctx.values["annotations"] = table
        llm = ctx.cfg.llm if ann.needs_llm else None
        ctx.manifest.add_annotator(
            ann.name,
            version=ann.version,
            prompt_hashes=ann.prompt_hashes(),
            model=llm.model if llm else None,
            base_url=llm.base_url if llm else None,
        )
        if engine is not None:
            ctx.manifest.add_engine("annotate", engine.describe())
        return {"annotation": summary, "retryable_failures": retry}

    def finish(self, ctx: RunContext) -> str:
        name = run_annotator_name(ctx)
        ctx.summary["annotator"] = name
        rows = len(ctx.values["annotations"])
        return f"annotate: {name}, {rows} annotation rows"
