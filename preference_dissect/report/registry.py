"""The report-section registry: each section of ``report.html`` is one registered builder plus
one Jinja template.

A section is added with one file::

    from preference_dissect.plugins import register_report_section

    @register_report_section("lengths", order=55, nav="Lengths", source=\"\"\"
      <h2>Response lengths</h2><p>{{ lengths.mean | num }} words on average</p>\"\"\")
    def lengths(run, built):
        if not run.pairs.ok:
            return None
        return {"mean": run.pairs.value.pairs["response_a"].str.split().str.len().mean()}

``build(run, built)`` receives the run's artifacts (:class:`~.artifacts.RunArtifacts`) and the
data of the sections built before it (those named in ``needs`` are built first), and returns
the section's data (``None``: its artifact is absent). The template sees it under the
section's name, with the data of every other section; all text is autoescaped. Sections are
shown in ``order``; ``nav`` is the label of its link in the page's menu.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from preference_dissect.registry import Registry

#: ``build(run, built) -> data``: a section's builder.
Builder = Callable[[Any, dict[str, Any]], Any]


@dataclass(frozen=True)
class ReportSection:
    """One registered section (see the module docstring)."""

    name: str
    order: int
    build: Builder
    nav: str = ""
    template: str = ""
    source: str | None = None
    needs: tuple[str, ...] = ()

    @property
    def template_name(self) -> str:
        """The template the report includes: the built-in file, or the inline source's key."""
        return f"plugin/{self.name}.html.j2" if self.source is not None else self.template


SECTIONS: Registry[ReportSection] = Registry(
    "report section", "section", builtins=("preference_dissect.report.builtin_sections",)
)


def register_report_section(
    name: str,
    *,
    order: int,
    nav: str = "",
    template: str | None = None,
    source: str | None = None,
    needs: tuple[str, ...] = (),
) -> Callable[[Builder], Builder]:
    """Decorator: register ``build(run, built)`` as the report section ``name``.

    Parameters
    ----------
    name : str
        The section's id in the page and the name its data has in the templates.
    order : int
        Position in the page (built-in sections use 0-130 in steps of 10).
    nav : str
        Label of the section's menu link (empty: no link).
    template : str, optional
        A template file of the report's templates folder (default ``sections/NAME.html.j2``).
    source : str, optional
        The template's Jinja text itself (a plug-in's section); wins over ``template``.
    needs : tuple of str
        Sections whose data ``build`` reads from ``built``.
    """

    def decorate(
        build: Callable[[Any, dict[str, Any]], Any],
    ) -> Callable[[Any, dict[str, Any]], Any]:
        file = template or f"sections/{name}.html.j2"
        SECTIONS.add(name, ReportSection(name, order, build, nav, file, source, needs))
        return build

    return decorate


def ordered_sections() -> list[ReportSection]:
    """Every registered section in page order."""
    return sorted((s for _, s in SECTIONS.items()), key=lambda s: (s.order, s.name))


def build_order(sections: list[ReportSection]) -> list[ReportSection]:
    """The sections in an order where each comes after the ones it ``needs``."""
    done: list[ReportSection] = []
    names: set[str] = set()
    pending = list(sections)
    while pending:
        ready = [s for s in pending if set(s.needs) <= names | {x.name for x in done}]
        if not ready:  # a cycle or an unknown need: build the rest as they come
            ready = pending[:1]
        for s in ready:
            done.append(s)
            names.add(s.name)
            pending.remove(s)
    return done
