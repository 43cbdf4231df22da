"""The judge stage of the main job: with ``judge_llm``, label every pair with the LLM judge
(both orders, answer-letter log-probs) into ``judge_labels.parquet``; the labels join the
pair set's as the judge named after the model."""

from __future__ import annotations

from typing import Any

from preference_dissect.stages import STAGES, RunContext, Stage


def _options(ctx: RunContext) -> Any:
    from preference_dissect.judges.llm_judge import JudgeOptions

    return JudgeOptions(judge_name=ctx.cfg.judge_llm.model)


@STAGES.register("judge")
class JudgeStage(Stage):
    """``prefdissect judge`` of the run's pairs (``features --labels`` then uses them)."""

    name = "judge"
    order = 20
    outputs = ("judge_labels",)

    def applies(self, ctx: RunContext) -> bool:
        return ctx.cfg.judge_llm is not None

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        return {"judge": ctx.cfg.judge_llm.answer_settings(), "version": _options(ctx).version}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.io import write_parquet
        from preference_dissect.judges.llm_judge import judge_pairs

        engine = ctx.engine("judge")
        before = ctx.failures(engine)
        outcome = judge_pairs(ctx.values["pairs"].pairs, engine, _options(ctx))
        write_parquet(outcome.labels, ctx.artifact("judge_labels"))
        ctx.values["judge_labels"] = outcome.labels
        ctx.manifest.add_engine("judge", engine.describe())
        return {
            "labels": len(outcome.labels),
            "retryable_failures": ctx.retryable(engine, before),
        }

    def finish(self, ctx: RunContext) -> str:
        from preference_dissect.compare.inputs import add_labels

        labels = ctx.values["judge_labels"]
        pairs = ctx.values["pairs"]
        ctx.values["pairs"] = add_labels(pairs, labels, file=ctx.artifact("judge_labels"))
        ctx.summary["judges"] = ctx.values["pairs"].dissectable_judges
        model = ctx.cfg.judge_llm.model
        return f"judge: {model}, {len(labels)} labels of {len(pairs.pairs)} pairs"
