"""The main job: every registered stage (:mod:`preference_dissect.stages`) in order, into one
run directory (``load -> judge -> annotate -> features -> fit -> analyze -> audit -> report``).

It is resumable: each stage records a fingerprint of its settings and of the stages before it
in ``manifest.json``; a re-run with the same settings reuses every artifact that is already
there, and a stage whose settings changed is redone together with everything after it. LLM
answers are also cached, so nothing already paid for is paid twice.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from preference_dissect.config import RunConfig
from preference_dissect.threads import single_blas_thread

#: RunConfig keys the summary leaves out (models carry their own records in the manifest).
_NOT_IN_SUMMARY = ("llm", "judge_llm", "out")


@single_blas_thread
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
        ``{"out", "source", "settings", "pairs", "judges", "annotator", "features", "fits",
        "skipped_cells", "report"}``.
    """
    from preference_dissect.io import check_output_folder
    from preference_dissect.manifest import Manifest
    from preference_dissect.stages import Fingerprints, RunContext, ordered_stages

    out = check_output_folder(cfg.out, what="out")
    manifest = Manifest.load(out)
    ctx = RunContext(cfg, out, manifest, say)
    settings = cfg.model_dump(mode="json", exclude=set(_NOT_IN_SUMMARY))
    ctx.summary.update(out=str(out), source=cfg.source, settings=settings)
    chain = Fingerprints(manifest, cfg.resume, say)
    for stage in ordered_stages():
        if not stage.applies(ctx):
            continue
        if chain.reusable(stage, stage.settings(ctx), out):
            stage.reuse(ctx)
        else:
            with manifest.stage(stage.name) as facts:
                facts.update(stage.run(ctx), fingerprint=chain.current)
        line = stage.finish(ctx)
        if line:
            say(line)
    ctx.write_summary()
    manifest.write()
    return ctx.summary
