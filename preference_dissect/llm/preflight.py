"""One pre-flight gate over several engines (a command's generator, judge, annotator...).

Each engine's own :meth:`~preference_dissect.llm.LLMEngine.preflight` checks its calls
against its cap; engines that share a spending ledger share one cap, so their calls are
checked together: for every engine with a cap, the summed estimate of all the engines on its
ledger must fit what the ledger has left.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from typing import Any

from preference_dissect.errors import CostCapError
from preference_dissect.llm.config import LLMRequest
from preference_dissect.llm.engine import LLMEngine


def preflight_engines(
    plans: Mapping[str, tuple[LLMEngine, Sequence[LLMRequest]]],
) -> dict[str, Any]:
    """Estimate every engine's planned calls and raise
    :class:`~preference_dissect.errors.CostCapError` before anything is sent when the calls
    on one ledger are above its cap (unless that engine's ``allow_partial``).

    Calls whose prompts depend on answers not known yet are planned with stand-in texts as
    long as the completion limit, so their estimate is an upper bound.

    Parameters
    ----------
    plans : mapping of str to (LLMEngine, sequence of LLMRequest)
        Role (``model``, ``judge``...) -> its engine and planned requests (roles with no
        request are left out).

    Returns
    -------
    dict
        ``usd`` (the summed worst case) and, per role, its model and estimate.
    """
    estimates = {
        role: (engine, engine.estimate(list(requests)))
        for role, (engine, requests) in plans.items()
        if requests
    }
    for role, (engine, est) in estimates.items():
        if engine.progress:
            print(f"pre-flight, {role} ({engine.config.model}): {est.describe()}", file=sys.stderr)
    for engine, _ in estimates.values():
        shared = [e for e in estimates.values() if e[0].ledger is engine.ledger]
        total = sum(est.usd for _, est in shared)
        cap = engine.remaining_cap()
        if cap is not None and total > cap + 1e-12 and not engine.config.allow_partial:
            raise CostCapError(
                f"the pre-flight estimate is up to ${total:.4f} for "
                f"{sum(est.calls for _, est in shared)} call(s) over {len(shared)} model(s), "
                f"above --max-cost ${engine.config.max_cost_usd:.4f} (max_cost_usd): raise "
                "--max-cost, lower --limit or --max-tokens, or pass --allow-partial "
                "(allow_partial=True)"
            )
    out: dict[str, Any] = {"usd": round(sum(est.usd for _, est in estimates.values()), 6)}
    for role, (engine, est) in estimates.items():
        out[role] = {"model": engine.config.model, **est.as_dict()}
    return out
