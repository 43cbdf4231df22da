"""The fit stage of the main job: fit every (judge, group) cell into ``fit.nc`` (cells below
the minimum group size are skipped by the fit itself, with the reason)."""

from __future__ import annotations

from typing import Any

from preference_dissect.stages import STAGES, RunContext, Stage


def _spec(ctx: RunContext) -> Any:
    from preference_dissect.fit.spec import FitSpec

    return FitSpec(**ctx.cfg.fit_settings())


@STAGES.register("fit")
class FitStage(Stage):
    """``prefdissect fit`` of the run's features with the run's fit settings."""

    name = "fit"
    order = 50
    outputs = ("fit",)

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        return _spec(ctx).to_dict()

    def run(self, ctx: RunContext) -> dict[str, Any]:
        from preference_dissect.fit.features import validate_features
        from preference_dissect.fit.runner import fit_features

        spec = _spec(ctx)
        path = ctx.artifact("features")
        table = validate_features(ctx.values["features"], file=path)
        ctx.manifest.set_seed("fit", spec.seed)
        ctx.manifest.set_setting("fit", spec.to_dict())
        outcome = fit_features(table, spec, ctx.artifact("fit"), source=str(path))
        ctx.values["fit"] = outcome.idata
        fitted = sum(v for k, v in outcome.methods.items() if k != "skipped")
        ctx.say(f"fit: {fitted} fits in {outcome.seconds:.1f} s")
        return {"fits": fitted, "methods": outcome.methods, "warnings": len(outcome.notes)}

    def finish(self, ctx: RunContext) -> str | None:
        from preference_dissect.fit.idata import diagnostics_frame

        diag = diagnostics_frame(ctx.values["fit"])
        skipped = diag[diag["method"] == "skipped"]
        ctx.summary["fits"] = int((diag["method"] != "skipped").sum())
        ctx.summary["skipped_cells"] = [
            {"judge": r.judge, "group": r.group, "n": int(r.n), "reason": r.reason}
            for r in skipped.itertuples(index=False)
        ]
        if len(skipped):
            return f"fit: {len(skipped)} cell(s) not fitted (too few pairs; see the report)"
        return None
