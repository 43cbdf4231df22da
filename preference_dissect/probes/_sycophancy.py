"""``probe_sycophancy``: the four SycophancyEval probes against one model."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from preference_dissect.errors import NoUsableOutputError
from preference_dissect.io import strict_json
from preference_dissect.llm import LLMEngine, LLMRequest
from preference_dissect.probes import _answer, _are_you_sure, _feedback, _mimicry
from preference_dissect.probes._calls import RESPONSE_COLUMNS, Call, run_calls
from preference_dissect.probes._data import (
    TASKS,
    ProbeSettings,
    SycophancyRecord,
    group_items,
    load_settings,
    read_sycophancy_file,
)
from preference_dissect.probes._stats import METRIC_COLUMNS

TaskInput = str | os.PathLike[str] | Sequence[SycophancyRecord]
FIRST_CALLS = {
    "answer": _answer.first_calls,
    "are_you_sure": _are_you_sure.first_calls,
    "feedback": _feedback.first_calls,
    "mimicry": _mimicry.first_calls,
}
#: The ``command`` of the summary (the report's name for these outputs).
COMMAND = "probe sycophancy"
PAPER = "Sharma et al. 2023, Towards Understanding Sycophancy in Language Models (SycophancyEval)"


@dataclass
class SycophancyResult:
    """What :func:`probe_sycophancy` measured.

    Attributes
    ----------
    responses : pandas.DataFrame
        One row per call (model turns and judge verdicts): ``task, item_id, variant, dataset,
        template, round, caller, order, prompt, response, answer, correct, score, na_reason,
        cached``.
    metrics : pandas.DataFrame
        ``task, metric, template, dataset, value, low, high, n, interval`` (95% intervals,
        ``wilson`` or percentile ``bootstrap``; ``dataset`` is ``"all"`` or a ``base.dataset``).
    summary : dict
        The metrics, counts, the admission rule, the pre-flight estimate and engine usage
        (JSON-ready; never an API key).
    """

    responses: pd.DataFrame
    metrics: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)

    def plot(self) -> Any:
        """One matplotlib Figure: metric bars with 95% interval whiskers, coloured by task."""
        from preference_dissect.probes._plot import sycophancy_figure

        return sycophancy_figure(self.metrics)

    def save(self, out: str | os.PathLike[str]) -> list[Path]:
        """Write ``metrics.parquet``, ``responses.parquet``, ``summary.json`` and
        ``sycophancy.png`` into the folder ``out``, all or none (atomically)."""
        from preference_dissect.interventions._common import write_outputs
        from preference_dissect.io import check_output_folder

        tables = {"metrics": self.metrics, "responses": self.responses}
        folder = check_output_folder(out)
        paths = write_outputs(folder, tables, self.summary, self.plot(), plot_name="sycophancy")
        return list(paths.values())


def _records(value: TaskInput, name: str) -> list[SycophancyRecord]:
    if isinstance(value, str | os.PathLike):
        return read_sycophancy_file(value)
    records = list(value)
    if not records or not all(isinstance(r, SycophancyRecord) for r in records):
        raise TypeError(f"{name} must be a file path or a non-empty list of SycophancyRecord")
    return records


def _check(
    tasks: dict[str, TaskInput | None], judge_engine: LLMEngine | None, limit: int | None
) -> None:
    if all(v is None for v in tasks.values()):
        raise ValueError("give at least one of answer, are_you_sure, feedback, mimicry")
    if limit is not None and (isinstance(limit, bool) or int(limit) != limit or limit < 1):
        raise ValueError(f"limit must be a positive integer, not {limit!r}")
    if tasks.get("feedback") is not None and judge_engine is None:
        raise ValueError(
            "feedback needs judge_engine (a judge compares the positivity of two feedbacks)"
        )


def _planned_follow_ups(
    firsts: list[Call], model: LLMEngine, judge: LLMEngine | None, settings: ProbeSettings
) -> tuple[list[LLMRequest], list[LLMRequest]]:
    """Stand-ins of the follow-up calls of first turns not cached yet (second turns, judge
    calls), their unknown texts counted as ``max_tokens`` tokens each."""
    hit = model.cached([c.request for c in firsts])
    fresh = [c for c, h in zip(firsts, hit, strict=True) if not h]
    tokens = model.config.max_tokens
    ays = [c for c in fresh if c.task == _are_you_sure.TASK]
    seconds = _are_you_sure.second_calls(ays, settings, max_tokens=tokens)
    judged: list[Call] = []
    if judge is not None:
        fresh_keys = {c.request.key for c in fresh}
        feedback = [c for c in firsts if c.task == _feedback.TASK]
        pairs = _feedback.judge_calls(feedback, settings, max_tokens=tokens)
        judged = [
            j
            for j in pairs
            if {j.links["variant"].request.key, j.links["baseline"].request.key} & fresh_keys
        ]
        judged += _are_you_sure.admission_calls(seconds, settings, max_tokens=tokens)
    return [c.request for c in seconds], [c.request for c in judged]


def _preflight(
    firsts: list[Call], model: LLMEngine, judge: LLMEngine | None, settings: ProbeSettings
) -> dict[str, Any]:
    """Gate every planned call before anything is sent (see :func:`probe_sycophancy`)."""
    from preference_dissect.llm.preflight import preflight_engines

    seconds, judged = _planned_follow_ups(firsts, model, judge, settings)
    plans = {"model": (model, [c.request for c in firsts] + seconds)}
    if judge is not None:
        plans["judge"] = (judge, judged)
    return preflight_engines(plans)


def _run_model(
    calls: dict[str, list[Call]], model: LLMEngine, settings: ProbeSettings
) -> list[Call]:
    """First turns, then are_you_sure's second turns; returns the second turns."""
    firsts = [c for cs in calls.values() for c in cs]
    run_calls(model, firsts, "sycophancy: first turns")
    _answer.score(calls.get("answer", []))
    _are_you_sure.score(calls.get("are_you_sure", []))
    _mimicry.score(calls.get("mimicry", []))
    seconds = _are_you_sure.second_calls(calls.get("are_you_sure", []), settings)
    if seconds:
        model.preflight([c.request for c in seconds])
        run_calls(model, seconds, "sycophancy: are-you-sure second turns")
        _are_you_sure.score(seconds)
    return seconds


def _run_judge(
    calls: dict[str, list[Call]], seconds: list[Call], judge: LLMEngine | None,
    settings: ProbeSettings,
) -> tuple[list[Call], list[Call]]:  # fmt: skip
    """Positivity comparisons and admissions (the phrase rule without a judge)."""
    if judge is None:
        phrases = list(settings.raw["admission_phrases"])
        _are_you_sure.read_admissions(seconds, None, phrases)
        return [], []
    compare = _feedback.judge_calls(calls.get("feedback", []), settings)
    admit = _are_you_sure.admission_calls(seconds, settings)
    if compare or admit:
        judge.preflight([c.request for c in compare + admit])
        run_calls(judge, compare + admit, "sycophancy: judge")
    _feedback.score(compare)
    _are_you_sure.read_admissions(seconds, admit, [])
    return compare, admit


def _metrics(
    calls: dict[str, list[Call]], seconds: list[Call], compare: list[Call],
    settings: ProbeSettings,
) -> pd.DataFrame:  # fmt: skip
    rows: list[dict[str, Any]] = []
    if "answer" in calls:
        rows += _answer.metrics(calls["answer"], settings)
    if "are_you_sure" in calls:
        rows += _are_you_sure.metrics(calls["are_you_sure"], seconds)
    if "feedback" in calls:
        rows += _feedback.metrics(compare, settings)
    if "mimicry" in calls:
        rows += _mimicry.metrics(calls["mimicry"], settings)
    frame = pd.DataFrame(rows, columns=list(METRIC_COLUMNS))
    frame["template"] = frame["template"].astype(object).where(frame["template"].notna(), None)
    return frame


def _summary(
    items: dict[str, list[list[SycophancyRecord]]],
    responses: pd.DataFrame,
    metrics: pd.DataFrame,
    engines: tuple[LLMEngine, LLMEngine | None],
    extra: dict[str, Any],
) -> dict[str, Any]:
    model, judge = engines
    tasks = {}
    for task, groups in items.items():
        rows = responses[responses["task"] == task]
        na = rows["na_reason"].dropna().value_counts()
        source = groups[0][0].file if groups else None
        tasks[task] = {
            "source": source,
            **_release_check(source, extra["release_sha256"]),
            "items": len(groups),
            "records": sum(len(g) for g in groups),
            "calls": len(rows),
            "cached": int(rows["cached"].sum()),
            "na": {str(k): int(v) for k, v in na.items()},
        }
    usage = [e.total_stats for e in engines if e is not None]
    return {
        "command": COMMAND,
        "probe": "sycophancy",
        "paper": PAPER,
        "version": extra["version"],
        "tasks": tasks,
        "admission_rule": extra["admission_rule"],
        "metrics": strict_json(metrics.to_dict(orient="records")),
        "estimate": extra["estimate"],
        "requests": sum(u.requests for u in usage),
        "cache_hits": sum(u.cache_hits for u in usage),
        "cost_usd": round(sum(u.cost_usd for u in usage), 6),
        "model": model.describe(),
        "judge": judge.describe() if judge is not None else None,
    }


def _release_check(source: str | None, pins: dict[str, str]) -> dict[str, Any]:
    """The file's sha256 and whether it is the released file of that name (``None``: no
    pin for the name, or not a local file)."""
    import hashlib

    path = Path(source) if source else None
    if path is None or not path.is_file():
        return {"sha256": None, "matches_release": None}
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    pin = pins.get(path.name)
    return {"sha256": digest, "matches_release": None if pin is None else digest == pin}


def probe_sycophancy(
    model_engine: LLMEngine,
    *,
    answer: TaskInput | None = None,
    are_you_sure: TaskInput | None = None,
    feedback: TaskInput | None = None,
    mimicry: TaskInput | None = None,
    judge_engine: LLMEngine | None = None,
    limit: int | None = None,
) -> SycophancyResult:
    """Run the SycophancyEval probes (Sharma et al. 2023) against one model.

    Every call goes through the engines (cache, retries, the ``max_cost_usd`` cap, NA
    reasons); give both engines one :class:`~preference_dissect.llm.calls.SpendLedger` so
    that the cap covers the model and the judge together. Before anything is sent, every
    planned call is estimated and gated (``engine.preflight``): the first turns exactly; the
    follow-ups (are_you_sure's second turns, the judge calls), whose prompts hold answers not
    known yet, approximately, each unknown answer counted as ``max_tokens`` tokens (follow-ups
    of first turns already cached are assumed cached). Each later round is gated again,
    exactly, before it is sent.

    Parameters
    ----------
    model_engine : LLMEngine
        The model probed.
    answer, are_you_sure, feedback, mimicry : path or list of SycophancyRecord, optional
        The task files (``.jsonl``, ``.jsonl.gz`` or ``hf:OWNER/NAME/FILE``, see
        :func:`read_sycophancy_file`) or their records; at least one.
    judge_engine : LLMEngine, optional
        The judge: needed by ``feedback`` (which of two feedbacks is more positive, asked in
        both orders); for ``are_you_sure`` it decides whether a second-turn reply admits a
        mistake (without it, the phrase rule of ``probe.yaml`` does).
    limit : int, optional
        Only the first ``limit`` items of each task (an item: one ``base`` with all its
        templates).

    Returns
    -------
    SycophancyResult
        Per-call responses, the metrics with 95% intervals, a summary; ``plot()``, ``save()``.

    Raises
    ------
    ValueError
        No task given, ``feedback`` without ``judge_engine``, or a bad ``limit``.
    InputError
        A bad file or record (file, row and field named).
    CostCapError
        The estimate is above the engines' ``max_cost_usd`` (before anything is spent).
    NoUsableOutputError
        Every first-turn call is NA (its ``output`` is the result).

    Examples
    --------
    >>> import json, pathlib, tempfile
    >>> from preference_dissect.llm import LLMConfig, LLMEngine
    >>> from preference_dissect.testing.openai_server import OpenAIServer
    >>> line = {"prompt": [{"type": "human", "content": "I love this poem by Emily Dickinson."}],
    ...         "base": {"attribution": "Robert Frost", "text": "..."},
    ...         "metadata": {"incorrect_attribution": "Emily Dickinson"}}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "mimicry.jsonl"
    >>> _ = path.write_text(json.dumps(line) + "\\n")
    >>> with OpenAIServer(responder=lambda req: "Dickinson's dashes shine here.") as server:
    ...     cfg = LLMConfig(model="m", base_url=server.base_url, cache=False)
    ...     result = probe_sycophancy(LLMEngine(cfg, progress=False), mimicry=path)
    >>> result.metrics[["metric", "value", "n"]].to_dict(orient="records")[0]
    {'metric': 'mimicry', 'value': 1.0, 'n': 1}
    """
    given = {"answer": answer, "are_you_sure": are_you_sure, "feedback": feedback}
    given["mimicry"] = mimicry
    _check(given, judge_engine, limit)
    settings = load_settings()
    items = {
        task: group_items(_records(value, task), limit)
        for task, value in given.items()
        if value is not None
    }
    calls = {task: FIRST_CALLS[task](groups, settings) for task, groups in items.items()}
    firsts = [c for task in TASKS for c in calls.get(task, [])]
    estimate = _preflight(firsts, model_engine, judge_engine, settings)
    seconds = _run_model(calls, model_engine, settings)
    compare, admit = _run_judge(calls, seconds, judge_engine, settings)
    every = firsts + seconds + compare + admit
    responses = pd.DataFrame([c.row() for c in every], columns=list(RESPONSE_COLUMNS))
    metrics = _metrics(calls, seconds, compare, settings)
    rule = None
    if "are_you_sure" in items:
        rule = "judge" if judge_engine is not None else "phrases"
    extra = {
        "version": settings.version,
        "admission_rule": rule,
        "estimate": estimate,
        "release_sha256": dict(settings.raw.get("release_sha256") or {}),
    }
    summary = _summary(items, responses, metrics, (model_engine, judge_engine), extra)
    result = SycophancyResult(responses, metrics, summary)
    if not any(c.ok for c in firsts):
        reasons = responses["na_reason"].dropna().value_counts().to_dict()
        raise NoUsableOutputError(
            f"probe sycophancy: all {len(firsts)} first-turn calls are NA", reasons, output=result
        )
    return result
