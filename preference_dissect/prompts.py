"""Prompt templates as data: the Jinja prompts of one annotator definition.

An annotator folder's ``prompts/`` is searched first, then the default prompts of its mode
(for ``gair``: the bundled ``gair29`` prompts), then ``annotators/_shared/prompts`` (the
generic rating / pairwise prompts and the conversation partial). So a user's copy of an
annotator folder with edited prompts is used as it is, and a lone attribute-set YAML file
gets the shared prompts.

Text before a ``<<<USER>>>`` line is the system message, the rest the user message.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from preference_dissect.definitions import (
    annotator_file,
    prompt_environment,
    prompt_source,
    prompt_template,
    shared_prompts,
)

USER_MARKER = "<<<USER>>>"


class Prompts:
    """The prompt templates visible to one annotator (see the module docstring).

    Parameters
    ----------
    folders : sequence of path
        Prompt folders, searched in order (missing ones are skipped).

    Examples
    --------
    >>> p = Prompts.of_annotator("judge")
    >>> sorted(p.hashes(["pairwise"]))
    ['pairwise']
    """

    def __init__(self, folders: Sequence[str | os.PathLike[str]]) -> None:
        self.folders = [Path(f) for f in folders if Path(f).is_dir()]
        self.env = prompt_environment(self.folders)

    @classmethod
    def of_annotator(
        cls, name_or_path: str | os.PathLike[str], defaults: Iterable[str] = ()
    ) -> Prompts:
        """The prompts of an annotator (bundled name, folder or YAML file), then the prompts
        of the bundled annotators named in ``defaults``, then the shared prompts."""
        own = annotator_file(name_or_path).parent / "prompts"
        fallback = [annotator_file(d).parent / "prompts" for d in defaults]
        return cls([own, *fallback, shared_prompts()])

    def render(self, name: str, **context: Any) -> str:
        """Render template ``name`` (no extension) with ``context``."""
        return prompt_template(self.env, name).render(**context).strip()

    def messages(self, name: str, **context: Any) -> list[dict[str, str]]:
        """Render ``name`` into chat messages (a system message before ``<<<USER>>>``)."""
        text = self.render(name, **context)
        if USER_MARKER in text:
            system, user = text.split(USER_MARKER, 1)
            return [
                {"role": "system", "content": system.strip()},
                {"role": "user", "content": user.strip()},
            ]
        return [{"role": "user", "content": text}]

    def source(self, name: str) -> str:
        """The raw text of template ``name``."""
        return prompt_source(self.env, name)

    def hashes(self, names: Iterable[str]) -> dict[str, str]:
        """``{template: sha256 of its text}`` (the manifest's prompt hashes)."""
        return {n: hashlib.sha256(self.source(n).encode("utf-8")).hexdigest() for n in names}

    def fingerprint(self, names: Iterable[str]) -> str:
        """One hash over the names and texts of some templates (part of annotator versions)."""
        h = hashlib.sha256()
        for name in names:
            h.update(b"\0" + name.encode() + b"\0" + self.source(name).encode("utf-8"))
        return h.hexdigest()
