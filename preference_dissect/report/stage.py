"""The report stage of the main job: ``report.html`` of the run directory, rebuilt on every
run (it is cheap and shows the latest manifest)."""

from __future__ import annotations

from typing import Any

from preference_dissect.stages import STAGES, RunContext, Stage


@STAGES.register("report")
class ReportStage(Stage):
    """``prefdissect report`` of the run directory."""

    name = "report"
    order = 90
    outputs = ("report",)
    always = True

    def applies(self, ctx: RunContext) -> bool:
        return bool(ctx.cfg.report)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.report import build_report

        ctx.write_summary()  # the report shows summary.json and the manifest as they are now
        path = build_report(ctx.out)
        ctx.summary["report"] = str(path)
        ctx.say(f"report: {path}")
        return {}
