"""Render a run directory into one self-contained HTML file.

The page needs nothing from the network: plots are ``data:`` URIs, the CSS is inline and the
page has no scripts. All dataset text goes through Jinja2 autoescaping.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Callable
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2

from preference_dissect._version import __version__
from preference_dissect.io import write_text
from preference_dissect.report import sections
from preference_dissect.report.artifacts import read_run

REPORT_NAME = "report.html"


def fmt_number(value: Any, digits: int = 2) -> str:
    """Format a number for a table: fixed decimals, thousands separators, ``–`` for NaN."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    try:
        x = float(value)
    except (TypeError, ValueError):
        return str(value)
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "-∞"
    if x.is_integer() and abs(x) >= 1000:
        return f"{int(x):,}"
    return f"{x:,.{digits}f}"


def fmt_percent(value: Any, digits: int = 1) -> str:
    """Format a rate in [0, 1] as a percentage."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        return "–"
    return "–" if math.isnan(x) else f"{100 * x:.{digits}f}%"


def fmt_cell(value: Any) -> str:
    """Format any table cell: numbers rounded, long text cut."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        return fmt_number(value, 3 if isinstance(value, float) and abs(value) < 10 else 2)
    if value is None:
        return "–"
    return sections.truncate(value, 300)


def _environment(plugin_sources: dict[str, str]) -> jinja2.Environment:
    templates = resources.files("preference_dissect.report") / "templates"
    env = jinja2.Environment(
        loader=jinja2.ChoiceLoader(
            [jinja2.FileSystemLoader(str(templates)), jinja2.DictLoader(plugin_sources)]
        ),
        autoescape=True,  # every piece of dataset text is escaped
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = fmt_number
    env.filters["pct"] = fmt_percent
    env.filters["cell"] = fmt_cell
    return env


def build_context(
    run_dir: str | os.PathLike[str],
    *,
    examples: int = 3,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Read a run directory and build every registered report section.

    Parameters
    ----------
    run_dir : str or PathLike
        The run directory.
    examples : int
        Number of example pairs to show.
    progress : callable, optional
        Called with the name of each section as it is built (for a status line).

    Returns
    -------
    dict
        The template context: each section's data under its name (``None`` when its artifact
        was not produced), ``sections`` (the registered sections in page order) and the
        page's own facts (title, run directory, time, version, CSS).
    """
    from preference_dissect.report.registry import build_order, ordered_sections

    step = progress or (lambda _name: None)
    step("reading the run directory")
    run = read_run(run_dir)
    page = ordered_sections()
    built: dict[str, Any] = {"_examples": examples}
    for section in build_order(page):
        step(section.name)
        built[section.name] = section.build(run, built)
    built.pop("_examples")
    return {
        **built,
        "sections": [
            {"name": s.name, "nav": s.nav, "template": s.template_name, "source": s.source}
            for s in page
        ],
        "title": f"preference-dissect report: {Path(run_dir).resolve().name}",
        "run_dir": str(Path(run_dir).resolve()),
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "version": __version__,
        "summary": _summary(run.summary),
        "css": _css(),
    }


def _summary(art: Any) -> str | None:
    if not art.ok:
        return None
    import json

    from preference_dissect.manifest import scrub

    return sections.truncate(json.dumps(scrub(art.value), indent=2, default=str), 8000)


@functools.cache
def _css() -> str:
    return (resources.files("preference_dissect.report") / "templates" / "report.css").read_text(
        encoding="utf-8"
    )


def render_report(context: dict[str, Any]) -> str:
    """Render the report template with a context from :func:`build_context`."""
    sources = {s["template"]: s["source"] for s in context["sections"] if s["source"]}
    return _environment(sources).get_template("report.html.j2").render(**context)


def build_report(
    run_dir: str | os.PathLike[str],
    out: str | os.PathLike[str] | None = None,
    *,
    examples: int = 3,
) -> Path:
    """Write the self-contained HTML report of a run directory (atomically).

    Parameters
    ----------
    run_dir : str or PathLike
        The run directory (docs/artifacts.md section 6).
    out : str or PathLike, optional
        Output file; default ``RUN_DIR/report.html``.
    examples : int
        Number of example pairs to show.

    Returns
    -------
    Path
        The written report.

    Raises
    ------
    InputError
        If ``run_dir`` is not a directory.
    """
    context = build_context(run_dir, examples=examples)
    return write_text(render_report(context), report_target(run_dir, out))


def report_target(run_dir: str | os.PathLike[str], out: str | os.PathLike[str] | None) -> Path:
    """Where the report goes: ``out`` (a folder means ``out/report.html``), else
    ``RUN_DIR/report.html``."""
    if out is None:
        return Path(run_dir) / REPORT_NAME
    out = Path(out)
    return out / REPORT_NAME if out.is_dir() else out
