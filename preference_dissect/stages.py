"""The stages of the main job: registered objects that
:func:`~preference_dissect.pipeline.run_pipeline` loops over, in ``order``.

Each stage lives in the package it belongs to (``load/stage.py``, ``fit/stage.py``...) and owns
its rules (the classification policy, the minimum group size, when an audit applies): a stage
only calls its package's library functions, the same ones the CLI verbs call, so running the
verbs one after another into a folder gives the artifacts ``prefdissect run`` gives.

A stage declares what it writes (``outputs``, names in
:data:`~preference_dissect.artifacts.ARTIFACTS`), the settings its result depends on
(``settings``: the resume fingerprint), and how to
``run`` (compute, write its artifacts, return the facts for the manifest) and ``reuse`` (read
its artifacts back) itself.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from preference_dissect.artifacts import ARTIFACTS, artifact_path
from preference_dissect.registry import Registry

BUILTIN_STAGES = (
    "preference_dissect.load.stage",
    "preference_dissect.judges.stage",
    "preference_dissect.annotate.stage",
    "preference_dissect.compare.stage",
    "preference_dissect.fit.stage",
    "preference_dissect.analyse.stage",
    "preference_dissect.report.stage",
)


class Stage:
    """One step of the main job (see the module docstring)."""

    name: str = ""
    order: int = 0
    outputs: tuple[str, ...] = ()
    #: A stage that is cheap and shows the latest state is redone on every run (the report).
    always: bool = False

    def applies(self, ctx: RunContext) -> bool:
        """Whether the stage runs at all in this run."""
        return True

    def settings(self, ctx: RunContext) -> dict[str, Any]:
        """What the stage's result depends on, besides the stages before it."""
        return {}

    def run(self, ctx: RunContext) -> dict[str, Any]:
        """Do the work, write the outputs, put the results in ``ctx.values``; return facts."""
        raise NotImplementedError

    def reuse(self, ctx: RunContext) -> None:
        """Read the outputs an earlier run wrote into ``ctx.values``."""
        for name in self.outputs:
            spec = ARTIFACTS[name]
            if spec.read is not None:
                ctx.values[name] = spec.read(spec.path(ctx.out))

    def finish(self, ctx: RunContext) -> str | None:
        """After ``run`` or ``reuse``: check what later stages need, fill the summary, and
        return the line to print (``None``: nothing)."""
        return None


STAGES: Registry[Stage] = Registry("stage", "stage", builtins=BUILTIN_STAGES, instantiate=True)


def ordered_stages() -> list[Stage]:
    """Every registered stage, in ``order``."""
    return sorted((s for _, s in STAGES.items()), key=lambda s: s.order)


@dataclass
class RunContext:
    """What the stages of one run share: settings, run directory, manifest, engines, values.

    Attributes
    ----------
    cfg : RunConfig
    out : Path
    manifest : Manifest
    say : callable
        Receives one-line progress messages.
    values : dict
        Stage results by artifact name (``pairs``, ``annotations``, ``features``, ``fit``...).
    summary : dict
        The run's summary (``summary.json``).
    """

    cfg: Any
    out: Path
    manifest: Any
    say: Callable[[str], None]
    values: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    _engines: dict[str, Any] = field(default_factory=dict)
    _ledger: Any = None

    def engine(self, role: str = "llm") -> Any:
        """The run's LLM engine of ``role`` (``llm`` or ``judge``), made once; ``None`` when
        the run has no such model. Engines of one run share one spending ledger."""
        config = self.cfg.llm if role == "llm" else self.cfg.judge_llm
        if config is None:
            return None
        if role not in self._engines:
            from preference_dissect.llm import LLMEngine
            from preference_dissect.llm.calls import SpendLedger

            self._ledger = self._ledger or SpendLedger()
            self._engines[role] = LLMEngine(config, ledger=self._ledger)
            self.manifest.add_secret(os.environ.get(config.api_key_env))
        return self._engines[role]

    def artifact(self, name: str) -> Path:
        """The path of an artifact in the run directory."""
        return artifact_path(self.out, name)

    def write_summary(self) -> Path:
        """Write ``summary.json`` as it stands."""
        from preference_dissect.io import write_json

        return write_json(self.summary, self.artifact("summary"))

    @staticmethod
    def failures(engine: Any) -> dict[str, int]:
        """An engine's NA counts so far (``{}`` offline): pass to :meth:`retryable`."""
        return dict(engine.total_stats.failures) if engine is not None else {}

    def retryable(self, engine: Any, before: dict[str, int]) -> dict[str, int]:
        """NAs since ``before`` that a re-run may fix (transport errors, the cost cap): a stage
        that has them is redone by the next run, which asks only those again."""
        if engine is None:
            return {}
        from preference_dissect.llm.calls import retryable_failures

        retry = retryable_failures(engine.total_stats.failures, before)
        if retry:
            self.say(
                f"{sum(retry.values())} answer(s) failed for a reason a re-run may fix; run the "
                "same command again to ask only those"
            )
        return retry


def fingerprint(*parts: Any) -> str:
    """A short stable hash of JSON-able parts."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Fingerprints:
    """The resume rule: a stage is reused when its settings and those of every stage before it
    are unchanged, its outputs exist and it left no answers a re-run may fix."""

    def __init__(self, manifest: Any, resume: bool, say: Callable[[str], None]) -> None:
        self.manifest = manifest
        self.say = say
        self.current = ""
        self.redo = not resume

    def reusable(self, stage: Stage, settings: dict[str, Any], out: Path) -> bool:
        """Advance the chain; True if ``stage``'s outputs can be reused."""
        self.current = fingerprint(self.current, stage.name, settings)
        old = self.manifest.data["stages"].get(stage.name, {})
        outputs = [artifact_path(out, n) for n in stage.outputs]
        ok = not (self.redo or stage.always) and old.get("fingerprint") == self.current
        ok = ok and all(p.exists() for p in outputs)
        retry = old.get("retryable_failures") or {}
        if ok and retry:
            ok = False
            listed = ", ".join(f"{r} {n}" for r, n in retry.items())
            self.say(
                f"{stage.name}: the earlier run left {sum(retry.values())} answer(s) to retry "
                f"({listed}); redoing it (cached answers are not asked again)"
            )
        elif ok:
            names = ", ".join(p.name for p in outputs)
            self.say(f"{stage.name}: reusing {names} from an earlier run")
        if not ok and not stage.always:
            self.redo = True  # every later stage is redone too
        return ok
