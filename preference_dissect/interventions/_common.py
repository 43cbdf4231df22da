"""What the interventions share: their prompts (``interventions/<name>/``), free-text
generation on the model engine, judging a variant against its baseline in both orders on the
judge engine, bootstrap intervals, and the output folder."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.definitions import definitions_root, read_yaml
from preference_dissect.judges.prompt import side_history
from preference_dissect.llm import LLMEngine, LLMRequest, LLMResult
from preference_dissect.load.schema import make_pair_id
from preference_dissect.prompts import Prompts

#: Bootstrap resamples behind every interval of the interventions.
N_BOOT = 2000
#: Columns of a judged comparison (:func:`judge_versus`).
VERSUS_COLUMNS = ("p_variant", "winner_ab", "winner_ba", "judge_rule", "judge_na")


def prompts_of(name: str) -> Prompts:
    """The prompt templates of the intervention ``name`` (``interventions/<name>/prompts``)."""
    return Prompts([definitions_root("interventions") / name / "prompts"])


def settings_of(name: str) -> dict[str, Any]:
    """The settings file ``interventions/<name>/<name>.yaml``."""
    return dict(read_yaml(definitions_root("interventions") / name / f"{name}.yaml") or {})


def history(conversation: Any) -> list[dict[str, str]]:
    """The earlier turns a generator sees: the shared ones and side A's own."""
    return side_history(list(conversation if conversation is not None else []), "a")


def answer_messages(item: Mapping[str, Any], system: str | None) -> list[dict[str, str]]:
    """Chat messages that ask for an answer to an item's prompt, after its earlier turns,
    with an optional system message (the manipulation instruction)."""
    head = [{"role": "system", "content": system}] if system else []
    return [*head, *history(item.get("conversation")), {"role": "user", "content": item["prompt"]}]


def free_text_request(key: str, messages: list[dict[str, str]], version: str) -> LLMRequest:
    """A free-text request (the engine's cache key includes ``version``)."""
    return LLMRequest(key=key, messages=messages, schema=None, version=version)


def answer_text(result: LLMResult) -> str | None:
    """The answer's text, ``None`` when NA or empty."""
    if not result.ok or result.text is None or not result.text.strip():
        return None
    return result.text.strip()


def generate(
    engine: LLMEngine, requests: Sequence[LLMRequest], description: str
) -> dict[str, LLMResult]:
    """Run free-text requests on ``engine``: ``{key: result}``."""
    return {r.key: r for r in engine.run(list(requests), description=description)}


@dataclass(frozen=True)
class JudgeSettings:
    """The judge of an intervention: its engine (configured for judging, see
    :func:`~preference_dissect.judges.llm_judge.judge_config_fields`) and its name."""

    engine: LLMEngine
    name: str


def versus_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """The canonical pair table of baseline (A) vs variant (B), one row per distinct pair."""
    pair_ids = [
        make_pair_id(p, a, b, list(c) if c is not None else None)
        for p, a, b, c in zip(
            frame["prompt"],
            frame["baseline"],
            frame["variant"],
            frame["conversation"],
            strict=True,
        )
    ]
    pairs = pd.DataFrame(
        {
            "pair_id": pair_ids,
            "conversation": [list(c) if c is not None else [] for c in frame["conversation"]],
            "prompt": frame["prompt"].to_numpy(),
            "response_a": frame["baseline"].to_numpy(),
            "response_b": frame["variant"].to_numpy(),
            "model_a": None,
            "model_b": None,
            "scenario": None,
            "source": "intervention",
            "gold": None,
            "meta": "{}",
        }
    )
    return pairs


def judge_versus(frame: pd.DataFrame, judge: JudgeSettings) -> pd.DataFrame:
    """Ask the judge, in both orders, whether each row's variant beats its baseline.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``prompt``, ``conversation``, ``baseline``, ``variant`` (texts; ``None`` when
        that text could not be generated).
    judge : JudgeSettings

    Returns
    -------
    pandas.DataFrame
        ``frame`` with :data:`VERSUS_COLUMNS`: ``p_variant`` is the judge's probability that
        the variant is preferred, the mean over the answered orders (soft labels from the
        answer-letter log-probs; 1 / 0 from sampled letters); ``winner_ab`` / ``winner_ba``
        the verdict of each order in original terms (``a`` = baseline). A variant identical
        to its baseline is not asked about (``p_variant`` 0.5, rule ``identical``); a row with
        a missing text or no judge answer has NaN and the reason in ``judge_na``.
    """
    from preference_dissect.judges.llm_judge import JudgeOptions, judge_pairs

    out = frame.copy()
    for col in VERSUS_COLUMNS:
        out[col] = np.nan if col == "p_variant" else None
    present = out["baseline"].notna() & out["variant"].notna()
    out.loc[~present, "judge_na"] = "no_text"
    same = present & (out["baseline"] == out["variant"])
    out.loc[same, ["p_variant", "judge_rule"]] = [0.5, "identical"]
    ask = present & ~same
    if ask.any():
        pairs = versus_pairs(out[ask])
        distinct = pairs.drop_duplicates("pair_id").reset_index(drop=True)
        run = judge_pairs(distinct, judge.engine, JudgeOptions(judge_name=judge.name))
        labels = run.labels.set_index("pair_id")
        calls = run.calls.groupby("pair_id")["na_reason"].agg(
            lambda s: ",".join(sorted({r for r in s if isinstance(r, str)})) or None
        )
        idx = out.index[ask]
        ids = pairs["pair_id"].to_numpy()
        got = labels.reindex(ids)
        out.loc[idx, "p_variant"] = 1.0 - got["p_a"].to_numpy(dtype=float)
        out.loc[idx, "winner_ab"] = got["winner_ab"].to_numpy()
        out.loc[idx, "winner_ba"] = got["winner_ba"].to_numpy()
        out.loc[idx, "judge_rule"] = got["rule"].to_numpy()
        out.loc[idx, "judge_na"] = np.where(
            got["p_a"].isna().to_numpy(), calls.reindex(ids).fillna("no_verdict").to_numpy(), None
        )
    out["p_variant"] = out["p_variant"].astype(float)
    return out


def bootstrap_mean(
    values: Sequence[float] | np.ndarray, *, seed: int = 0, n_boot: int = N_BOOT
) -> tuple[float, float, float, int]:
    """Mean of the finite ``values`` and its percentile-bootstrap 95% interval.

    Returns ``(mean, low, high, n)``; NaN for no values, the mean itself for one.

    Examples
    --------
    >>> bootstrap_mean([1.0, 1.0, 1.0])
    (1.0, 1.0, 1.0, 3)
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return (math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return (mean, mean, mean, 1)
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    return (mean, float(low), float(high), int(x.size))


def logit(p: float) -> float:
    """``log(p / (1 - p))``, infinite at 0 and 1, NaN for NaN."""
    if not math.isfinite(p):
        return math.nan
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log(p / (1.0 - p))


def usage(*engines: LLMEngine) -> dict[str, Any]:
    """Requests, cache hits, tokens and dollars of each engine over all its runs."""
    out: dict[str, Any] = {}
    for role, engine in zip(("model", "judge", "annotator"), engines, strict=False):
        stats = engine.total_stats.as_dict()
        out[role] = {"model": engine.config.model, "server_host": engine.host, **stats}
    return out


def write_outputs(
    out: str | Path,
    tables: Mapping[str, pd.DataFrame],
    summary: Mapping[str, Any],
    figure: Any | None = None,
    plot_name: str | None = None,
    texts: Mapping[str, str] | None = None,
) -> dict[str, Path]:
    """Write ``NAME.parquet`` per table, ``summary.json`` and the figure as
    ``PLOT_NAME.png`` (default: the summary's ``command``) and ``texts`` (file name -> text)
    into ``out``, all or nothing (temporary files renamed into place together). The summary
    gains ``tables`` and ``headline`` (the first table: the one the report shows)."""
    import json

    from preference_dissect.io import atomic_paths, strict_json

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    targets = {name: folder / f"{name}.parquet" for name in tables}
    targets["summary"] = folder / "summary.json"
    summary = {**summary, "tables": list(tables), "headline": next(iter(tables))}
    if figure is not None:
        targets["plot"] = folder / f"{plot_name or summary['command']}.png"
    for filename in texts or {}:
        targets[filename] = folder / filename
    with atomic_paths(list(targets.values())) as temps:
        paths = dict(zip(targets, temps, strict=True))
        for name, table in tables.items():
            table.to_parquet(paths[name], index=False)
        text = json.dumps(strict_json(summary), indent=2, ensure_ascii=False, allow_nan=False)
        paths["summary"].write_text(text + "\n", encoding="utf-8")
        if figure is not None:
            figure.savefig(paths["plot"], format="png", dpi=110, bbox_inches="tight")
        for filename, text in (texts or {}).items():
            paths[filename].write_text(text, encoding="utf-8")
    return targets


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A table as strict-JSON records."""
    from preference_dissect.io import strict_json

    return strict_json(frame.to_dict("records"))


def judge_plan(frame: pd.DataFrame, judge: JudgeSettings, generator: LLMEngine) -> list[LLMRequest]:
    """The judge calls a comparison table will need, for the pre-flight estimate: every row
    compared, its texts (not generated yet) stood in for by placeholders as long as the
    ``generator``'s completion limit."""
    from preference_dissect.judges.llm_judge import JudgeOptions, build_requests

    filler = placeholder(generator)
    plan = frame.assign(baseline=filler, variant=[f"{filler} {i}" for i in range(len(frame))])
    return build_requests(versus_pairs(plan), JudgeOptions(judge_name=judge.name))


def placeholder(engine: LLMEngine) -> str:
    """A stand-in for a text not generated yet: as many words as the completion limit."""
    return " ".join(["word"] * engine.config.max_tokens)


def open_weights(weights: Any) -> Any:
    """A fit's ``InferenceData`` from a fit file, a folder of GAIR's released weight files,
    ``bundled:gair-weights``, or an ``InferenceData`` itself (returned as is)."""
    from preference_dissect.errors import InputError

    if hasattr(weights, "posterior"):
        return weights
    from preference_dissect.bundled import bundled_path
    from preference_dissect.fit.external import read_gair_weights
    from preference_dissect.fit.idata import load_fit

    text = str(weights)
    if text.startswith("bundled:"):
        return read_gair_weights(bundled_path(text.split(":", 1)[1]))
    path = Path(text)
    if path.is_dir():
        return read_gair_weights(path)
    if not path.exists():
        raise InputError(
            "file not found (weights: a fit.nc, a folder or bundled:gair-weights)", file=path
        )
    return load_fit(path)


def judge_weights(idata: Any, judge: str, group: str) -> pd.DataFrame:
    """The fitted weights of one judge in one group (rows of
    :func:`~preference_dissect.analyse.scores.weight_summary`); unknown names raise an
    :class:`~preference_dissect.errors.InputError` listing the valid ones."""
    from preference_dissect.analyse.scores import weight_summary
    from preference_dissect.errors import InputError

    summary = weight_summary(idata)
    judges = sorted(summary["judge"].unique())
    if judge not in judges:
        raise InputError(
            f"judge {judge!r} is not in the weights (known: {', '.join(judges)})",
            field="target_judge",
        )
    rows = summary[summary["judge"] == judge]
    groups = sorted(rows["group"].unique())
    if group not in groups:
        raise InputError(
            f"group {group!r} has no weights for {judge!r} (known: {', '.join(groups)})",
            field="group",
        )
    return rows[rows["group"] == group].reset_index(drop=True)


def attribute_text(names: Sequence[str], attribute_set: str | Path = "gair29") -> list[dict]:
    """``{name, label, definition}`` of each attribute, from an attribute set (an attribute
    the set lacks keeps its name as label and definition)."""
    from preference_dissect.annotate.attribute_sets import load_attribute_set

    specs = {a.name: a for a in load_attribute_set(attribute_set).attributes}
    out = []
    for name in names:
        spec = specs.get(name)
        label = (spec.label or spec.name) if spec else name.replace("_", " ")
        out.append({"name": name, "label": label, "definition": spec.definition if spec else label})
    return out


def item_table(pairs: Any, limit: int | None) -> pd.DataFrame:
    """The distinct queries of a pair table (first occurrence of each prompt and earlier
    turns), at most ``limit``: ``item_id`` (the first pair's id), ``prompt``,
    ``conversation``, ``scenario``, and the pair's two responses."""
    from preference_dissect.errors import InputError

    frame = pairs.pairs if hasattr(pairs, "pairs") else pairs
    if limit is not None and limit < 1:
        raise InputError("must be at least 1", field="limit")
    keys = [
        repr((p, [(t.get("role"), t.get("content")) for t in (c if c is not None else [])]))
        for p, c in zip(frame["prompt"], frame["conversation"], strict=True)
    ]
    first = frame.loc[~pd.Series(keys, index=frame.index).duplicated()]
    first = first.head(limit) if limit is not None else first
    return pd.DataFrame(
        {
            "item_id": first["pair_id"].to_numpy(),
            "prompt": first["prompt"].to_numpy(),
            "conversation": first["conversation"].to_numpy(),
            "scenario": first["scenario"].fillna("all").to_numpy(),
            "response_a": first["response_a"].to_numpy(),
            "response_b": first["response_b"].to_numpy(),
        }
    )


def annotate_versus(
    frame: pd.DataFrame,
    annotator: str | Path,
    engine: LLMEngine | None,
    attributes: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Annotate each row's baseline (side A) and variant (side B) with an annotator.

    Parameters
    ----------
    frame : pandas.DataFrame
        ``prompt``, ``conversation``, ``baseline``, ``variant`` and a ``row`` id.
    annotator : str or path
        An annotator name or attribute-set file (``rules`` runs offline).
    engine : LLMEngine or None
        The annotating model (every annotator but ``rules``).
    attributes : sequence of str, optional
        Keep only these attributes.

    Returns
    -------
    pandas.DataFrame
        One row per (row, attribute): ``row``, ``attribute``, ``baseline``, ``variant`` (the
        numeric values; NaN when NA) and ``change`` (variant - baseline).
    """
    from preference_dissect.annotate.runner import annotate_pairs

    ok = frame[frame["baseline"].notna() & frame["variant"].notna()]
    columns = ["row", "attribute", "baseline", "variant", "change"]
    if ok.empty:
        return pd.DataFrame(columns=columns)
    pairs = versus_pairs(ok)
    pairs["row"] = ok["row"].to_numpy()
    distinct = pairs.drop_duplicates("pair_id").drop(columns="row").reset_index(drop=True)
    table, _ = annotate_pairs(distinct, annotator, engine)
    table = table[table["side"].isin(["a", "b"])]
    if attributes is not None:
        table = table[table["attribute"].isin(list(attributes))]
    table = table.assign(value=pd.to_numeric(table["value"], errors="coerce"))
    wide = table.pivot_table(
        index=["pair_id", "attribute"], columns="side", values="value", aggfunc="first"
    ).reindex(columns=["a", "b"])
    wide = wide.rename(columns={"a": "baseline", "b": "variant"}).reset_index()
    out = pairs[["pair_id", "row"]].merge(wide, on="pair_id").drop(columns="pair_id")
    out["change"] = out["variant"] - out["baseline"]
    return out[columns].reset_index(drop=True)


def make_engines(
    model: Any, judge: Any, *, progress: bool = True
) -> tuple[LLMEngine, JudgeSettings]:
    """The generating model's engine and the judge, sharing one spending ledger.

    Parameters
    ----------
    model, judge : LLMConfig
        The generator (or rewriter) and the judge. The judge is set up for verdicts: answer
        letters with log-probs (:func:`~preference_dissect.judges.llm_judge.judge_config_fields`)
        at temperature 0.
    progress : bool
        Pre-flight estimates and progress bars on stderr.
    """
    from preference_dissect.judges.llm_judge import JudgeOptions, judge_config_fields

    fields = judge_config_fields(JudgeOptions(judge_name=judge.model))
    engine, judging = engines_on_one_ledger(
        model, judge.replace(**fields, temperature=0.0), progress=progress
    )
    return engine, JudgeSettings(judging, judge.model)


def engines_on_one_ledger(
    model: Any, judge: Any | None, *, progress: bool = True
) -> tuple[LLMEngine, Any]:
    """Engines for ``model`` and ``judge`` (an LLMConfig, or ``None``: no judge engine) that
    share one spending ledger, so ``max_cost_usd`` caps their calls together."""
    from preference_dissect.llm.calls import SpendLedger

    ledger = SpendLedger()
    engine = LLMEngine(model, progress=progress, ledger=ledger)
    judging = LLMEngine(judge, progress=progress, ledger=ledger) if judge is not None else None
    return engine, judging


def annotator_engine(annotator: Any, config: Any, judge: JudgeSettings) -> LLMEngine | None:
    """The engine of an LLM annotator (``config``, usually the judge's model, at temperature
    0, on the judge's ledger); ``None`` without an annotator or for one that needs no LLM."""
    from preference_dissect.annotate.runner import resolve_annotator

    if annotator is None or not resolve_annotator(annotator).needs_llm:
        return None
    return LLMEngine(
        config.replace(temperature=0.0), progress=judge.engine.progress, ledger=judge.engine.ledger
    )
