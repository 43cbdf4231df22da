"""Accuracy of the scenario classifier on an Auto-J-style labelled file.

Usage::

    python benchmarks/scenario_accuracy.py PATH [--model M --base-url URL] [--limit N] [--stride K]

PATH is a JSONL file with ``category`` (an Auto-J fine scenario), ``instruction`` and
optional ``input``; the query is the instruction (plus the input after a blank line). Reports
fine-label and group accuracy (groups from ``gair_groups.yaml``) of the offline rules and,
with ``--model``, of the LLM path. Prints one JSON object. Nothing from PATH is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import pandas as pd


def _read(path: Path, limit: int | None, stride: int = 1) -> pd.DataFrame:
    rows = []
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip() or i % stride:
                continue
            d = json.loads(line)
            query = d.get("instruction") or ""
            if d.get("input"):
                query = f"{query}\n\n{d['input']}"
            rows.append({"category": d["category"], "prompt": query})
            if limit and len(rows) >= limit:
                break
    df = pd.DataFrame(rows)
    df["pair_id"] = [f"q{i}" for i in range(len(df))]
    df["conversation"] = [[] for _ in range(len(df))]
    df["response_a"] = ""
    df["response_b"] = ""
    return df


def _score(pred_fine: list[str], df: pd.DataFrame, group_of: dict[str, str]) -> dict[str, object]:
    gold = df["category"].tolist()
    known = [g in group_of for g in gold]
    fine_ok = [p == g for p, g, k in zip(pred_fine, gold, known, strict=True) if k]
    group_ok = [
        group_of[p] == group_of[g] for p, g, k in zip(pred_fine, gold, known, strict=True) if k
    ]
    confusions = Counter(
        (group_of[g], group_of[p])
        for p, g, k in zip(pred_fine, gold, known, strict=True)
        if k and group_of[p] != group_of[g]
    )
    return {
        "n": len(fine_ok),
        "fine_accuracy": round(sum(fine_ok) / max(len(fine_ok), 1), 4),
        "group_accuracy": round(sum(group_ok) / max(len(group_ok), 1), 4),
        "top_group_confusions": [f"{g} -> {p}: {n}" for (g, p), n in confusions.most_common(8)],
    }


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--base-url")
    parser.add_argument("--limit", type=int, help="stop after N queries")
    parser.add_argument(
        "--stride", type=int, default=1, help="use every K-th line (a spread subset)"
    )
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args(argv)

    from preference_dissect.annotate.scenario import classify_offline, load_taxonomy

    taxonomy = load_taxonomy()
    df = _read(args.path, args.limit, args.stride)
    unknown = sorted({c for c in df["category"] if c not in taxonomy.group_of})
    report: dict[str, object] = {"file_rows": len(df), "unknown_categories": unknown}
    report["offline"] = _score(
        [classify_offline(q)[0] for q in df["prompt"]], df, taxonomy.group_of
    )
    if args.model:
        from preference_dissect.annotate.scenario import scenario_requests
        from preference_dissect.llm import LLMConfig, LLMEngine

        engine = LLMEngine(
            LLMConfig(
                model=args.model,
                base_url=args.base_url,
                concurrency=args.concurrency,
                max_tokens=32,
            ),
            progress=False,
        )
        results = engine.run(scenario_requests(df))
        preds = []
        for q, res in zip(df["prompt"], results, strict=True):
            preds.append(res.parsed.scenario if res.parsed is not None else classify_offline(q)[0])
        report["llm"] = _score(preds, df, taxonomy.group_of)
        report["llm"]["failed_calls"] = sum(r.parsed is None for r in results)  # type: ignore[index]
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
