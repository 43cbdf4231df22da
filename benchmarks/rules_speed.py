"""Speed of the offline ``rules`` annotator on the bundled hh-rlhf test split (2,312 pairs).

Usage::

    python benchmarks/rules_speed.py [--repeat N] [--target-s SECONDS]

Prints one JSON object (pairs, rows, best seconds, pairs per second) and exits 1 when the
best time exceeds the target (default 5 s: "a few seconds").
"""

from __future__ import annotations

import argparse
import json
import sys
import time


def main(argv: list[str] | None = None) -> int:
    """Time the rules annotator and print JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--target-s", type=float, default=5.0)
    args = parser.parse_args(argv)

    from preference_dissect.annotate import get_annotator
    from preference_dissect.load import load_source

    pairs = load_source("bundled:hh-rlhf").pairs
    annotator = get_annotator("rules")
    times = []
    rows = 0
    for _ in range(args.repeat):
        start = time.perf_counter()
        rows = len(annotator.annotate(pairs))
        times.append(time.perf_counter() - start)
    best = min(times)
    report = {
        "pairs": len(pairs),
        "rows": rows,
        "best_s": round(best, 3),
        "all_s": [round(t, 3) for t in times],
        "pairs_per_s": round(len(pairs) / best, 1),
        "target_s": args.target_s,
        "ok": best <= args.target_s,
    }
    json.dump(report, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
