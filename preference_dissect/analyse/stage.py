"""The analyze and audit stages of the main job: the analysis folder, and the judge audits
when there is a reference to audit against (human labels beside other judges, or gold)."""

from __future__ import annotations

from typing import Any

from preference_dissect.stages import STAGES, RunContext, Stage


def audit_reference(dataset: Any) -> str | None:
    """What a run audits its judges against: ``human`` when other judges labelled the same
    pairs, else ``gold`` when there are gold answers and judges; ``None``: no audit."""
    if len(dataset.judges) > 1 and "human" in dataset.judges:
        return "human"
    if dataset.pairs["gold"].notna().any() and dataset.judges:
        return "gold"
    return None


@STAGES.register("analyze")
class AnalyzeStage(Stage):
    """``prefdissect analyze`` of the run's fit."""

    name = "analyze"
    order = 60
    outputs = ("analysis",)

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.analyse.run import analyse_fit

        result = analyse_fit(
            ctx.values["fit"], ctx.artifact("analysis"), features=ctx.values["features"]
        )
        ctx.say(f"analyze: {len(result.get('files', []))} files in {ctx.artifact('analysis')}")
        return {"files": len(result.get("files", []))}


@STAGES.register("audit")
class AuditStage(Stage):
    """``prefdissect audit`` of the run's judges (see :func:`audit_reference`)."""

    name = "audit"
    order = 70
    outputs = ("audit",)

    def applies(self, ctx: RunContext) -> bool:
        return audit_reference(ctx.values["pairs"]) is not None

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.analyse.audit import audit_judges, write_audit

        dataset = ctx.values["pairs"]
        reference = audit_reference(dataset)
        assert reference is not None
        result = audit_judges(dataset, reference=reference, seed=ctx.cfg.seed)
        files = write_audit(result, ctx.artifact("audit"))
        ctx.say(f"audit: {len(files)} files in {ctx.artifact('audit')}")
        return {"files": len(files), "reference": reference}
