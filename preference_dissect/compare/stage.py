"""The features stage of the main job: compare the annotations pair by pair and attach the
judges' verdicts into ``features.parquet`` (the report of what was dropped and why is saved
with it)."""

from __future__ import annotations

from typing import Any

from preference_dissect.artifacts import ARTIFACTS
from preference_dissect.stages import STAGES, RunContext, Stage


def flow_line(report: dict[str, Any]) -> str:
    """One line on the pairs the comparison kept and why the others were dropped."""
    dropped = [
        f"{row['dropped']} at '{row['step']}'" + (f" ({row['why']})" if row["why"] else "")
        for row in report["pair_flow"][1:]
        if row["dropped"]
    ]
    kept = f"features: kept {report['pairs_used']} of {report['pairs']} pairs"
    return kept + (": dropped " + "; ".join(dropped) if dropped else "")


@STAGES.register("features")
class FeaturesStage(Stage):
    """``prefdissect features`` of the run's annotations, pairs and labels."""

    name = "features"
    order = 40
    outputs = ("features",)

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        cfg = ctx.cfg
        return {
            "na": cfg.na,
            "judges": cfg.judges,
            "not_applicable": cfg.not_applicable,
            "ties": cfg.ties,
            "controls": list(cfg.controls),
        }

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.annotate.stage import run_annotator
        from preference_dissect.compare import build_features

        cfg = ctx.cfg
        features, report = build_features(
            ctx.values["annotations"],
            ctx.values["pairs"],
            run_annotator(ctx).attribute_set,  # also a user's YAML set
            judges=list(cfg.judges) if cfg.judges else None,
            na=cfg.na,
            ties=cfg.ties,
            not_applicable=cfg.not_applicable,
            controls=list(cfg.controls),
        )
        ARTIFACTS["features"].write(features, ctx.artifact("features"))
        ctx.values["features"] = features
        ctx.say(flow_line(report))
        return {"report": report}

    def finish(self, ctx: RunContext) -> str:
        features = ctx.values["features"]
        ctx.summary["features"] = len(features)
        return f"features: {len(features)} rows x {features.shape[1] - 4} attributes"
