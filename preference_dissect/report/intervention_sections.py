"""The report's interventions section: the output folders of ``manipulate``,
``counterfactual``, ``best-of-n`` and ``probe sycophancy`` found in a run directory.

A folder counts when its ``summary.json`` names its ``command`` and ``headline`` table; it is
looked for in ``RUN/interventions/*/`` and in the run directory itself (``prefdissect report``
on a command's ``--out`` folder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from preference_dissect.report.sections import _table_block, file_to_data_uri

#: Where a run directory keeps intervention outputs.
INTERVENTIONS_DIR = "interventions"
#: Summary keys shown as facts above each folder's table.
FACTS = ("target_judge", "group", "n", "scorer", "queries", "responses", "prompts", "judged")


def _summary(folder: Path) -> dict[str, Any] | None:
    path = folder / "summary.json"
    if not path.is_file():
        return None
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    ok = isinstance(summary, dict) and {"command", "headline"} <= set(summary)
    return summary if ok else None


def intervention_folders(run_dir: Path) -> list[Path]:
    """The intervention output folders of a run directory, in name order."""
    nested = run_dir / INTERVENTIONS_DIR
    candidates = [
        run_dir,
        *(sorted(p for p in nested.iterdir() if p.is_dir()) if nested.is_dir() else []),
    ]
    return [p for p in candidates if _summary(p) is not None]


def interventions_section(run_dir: Path) -> dict[str, Any] | None:
    """Per folder: the command, a few facts, its headline table and its plots (``None``
    when the run has none)."""
    blocks = []
    for folder in intervention_folders(run_dir):
        summary = _summary(folder) or {}
        table = folder / f"{summary['headline']}.parquet"
        blocks.append(
            {
                "command": str(summary["command"]),
                "folder": str(folder.relative_to(run_dir)) if folder != run_dir else ".",
                "facts": {k: summary[k] for k in FACTS if summary.get(k) is not None},
                "table": _table_block(table, folder) if table.is_file() else None,
                "images": [
                    {"name": p.name, "uri": file_to_data_uri(p)}
                    for p in sorted(folder.glob("*.png"))
                ],
            }
        )
    return {"folders": blocks} if blocks else None
