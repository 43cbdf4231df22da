"""The definitions the toolkit ships as data, beside ``data/``:

``annotators/``
    One folder per annotator: ``annotator.yaml`` (an attribute set, or the judge's and the
    scenario classifier's settings) and ``prompts/*.jinja``; ``annotators/_shared/prompts``
    holds the prompts every rating / pairwise attribute set uses (and the conversation
    partial). Adding an attribute set is adding one YAML file (here or anywhere: a path works
    wherever a name does).
``models/``
    The statistical model specifications (``logistic.yaml``, ``linear.yaml``: likelihood,
    prior, sampler defaults) and the LLM price tables (``models/prices/openai.yaml``).
``interventions/``
    The prompts and settings of the interventions and probes (``manipulate``,
    ``counterfactual``, ``best-of-n``, ``probe sycophancy``): one folder each, with
    ``prompts/*.jinja`` and a settings YAML.

In a source checkout they are the repository's top-level folders; in a wheel they are
installed as ``preference_dissect/bundled_annotators``, ``preference_dissect/bundled_models`` and
``preference_dissect/bundled_interventions`` (like ``data/`` -> ``bundled_data``), found here
either way.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

import jinja2
import yaml

from preference_dissect.errors import InputError

KINDS = ("annotators", "models", "interventions")
#: The file that defines an annotator inside its folder.
ANNOTATOR_FILE = "annotator.yaml"
#: Prompts shared by every attribute set of a mode (and the conversation partial).
SHARED = "_shared"
YAML_SUFFIXES = (".yaml", ".yml")


def definitions_root(kind: str) -> Path:
    """The folder holding the bundled definitions of ``kind`` (one of :data:`KINDS`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown definitions kind {kind!r} (use {', '.join(KINDS)})")
    installed = Path(str(resources.files("preference_dissect"))) / f"bundled_{kind}"
    if installed.is_dir():
        return installed
    checkout = Path(__file__).resolve().parent.parent / kind
    if checkout.is_dir():
        return checkout
    raise InputError(f"bundled {kind} definitions not found (reinstall preference-dissect)")


def load_yaml_file(path: str | os.PathLike[str]) -> Any:
    """Read a YAML file, turning syntax errors into :class:`InputError` (file and line)."""
    path = Path(path)
    if not path.is_file():
        raise InputError("file not found", file=path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise InputError("is not UTF-8 text", file=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = mark.line + 1 if mark is not None else None
        raise InputError(
            f"invalid YAML ({getattr(exc, 'problem', exc)})", file=path, row=row
        ) from None


@functools.cache
def _cached_yaml(path: str, mtime_ns: int) -> Any:
    return load_yaml_file(path)


def read_yaml(path: str | os.PathLike[str]) -> Any:
    """:func:`load_yaml_file`, cached until the file changes."""
    p = Path(path)
    if not p.is_file():
        raise InputError("file not found", file=p)
    return _cached_yaml(str(p), p.stat().st_mtime_ns)


def _is_path(name_or_path: str | os.PathLike[str]) -> bool:
    text = str(name_or_path)
    return Path(text).suffix.lower() in YAML_SUFFIXES or os.sep in text or Path(text).exists()


def annotator_names() -> list[str]:
    """Names of the bundled annotator folders (``gair29``, ``rules``, ``judge``...)."""
    root = definitions_root("annotators")
    return sorted(
        p.name for p in root.iterdir() if (p / ANNOTATOR_FILE).is_file() and p.name != SHARED
    )


def annotator_file(name_or_path: str | os.PathLike[str]) -> Path:
    """The ``annotator.yaml`` of a bundled annotator name, of a folder, or a YAML file itself.

    Raises
    ------
    InputError
        An unknown name (listing the bundled ones) or a missing file or folder.
    """
    if not _is_path(name_or_path):
        folder = definitions_root("annotators") / str(name_or_path)
        if not (folder / ANNOTATOR_FILE).is_file():
            known = ", ".join(annotator_names())
            raise InputError(
                f"unknown annotator {str(name_or_path)!r} (bundled: {known}; or give the path "
                "of an annotator folder or attribute-set YAML file)",
                field="annotator",
            )
        return folder / ANNOTATOR_FILE
    path = Path(os.path.expanduser(str(name_or_path)))
    if path.is_dir():
        if not (path / ANNOTATOR_FILE).is_file():
            raise InputError(f"an annotator folder needs an {ANNOTATOR_FILE}", file=path)
        return path / ANNOTATOR_FILE
    if not path.is_file():
        raise InputError("file not found", file=path)
    return path


def shared_prompts() -> Path:
    """The folder of prompts every attribute set of a mode can use."""
    return definitions_root("annotators") / SHARED / "prompts"


@functools.cache
def _environment(search: tuple[str, ...]) -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(list(search)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=False,
        autoescape=False,  # prompts are plain text sent to an LLM, never HTML
        trim_blocks=True,
        lstrip_blocks=True,
    )


def prompt_environment(search: Sequence[str | os.PathLike[str]]) -> jinja2.Environment:
    """A Jinja environment over prompt folders, searched in order (first match wins)."""
    return _environment(tuple(str(Path(p)) for p in search if Path(p).is_dir()))


def prompt_template(env: jinja2.Environment, name: str) -> jinja2.Template:
    """The template ``NAME.jinja`` of ``env``; an unknown name is an :class:`InputError`."""
    try:
        return env.get_template(f"{name}.jinja")
    except jinja2.TemplateNotFound:
        folders = ", ".join(getattr(env.loader, "searchpath", []))
        raise InputError(f"no prompt template {name}.jinja in {folders}") from None


def prompt_source(env: jinja2.Environment, name: str) -> str:
    """The raw text of a prompt template (hashed into annotator versions and manifests)."""
    assert env.loader is not None
    return env.loader.get_source(env, f"{name}.jinja")[0]


def classifier_file(key: str) -> Path:
    """A file the bundled scenario classifier names in its ``annotator.yaml`` (``taxonomy``,
    ``rules``)."""
    spec = read_yaml(annotator_file("classifier"))
    return annotator_file("classifier").parent / str(spec[key])


def taxonomy() -> dict[str, Any]:
    """GAIR's scenario groups (fine Auto-J labels per group) and query-specific groups."""
    return read_yaml(classifier_file("taxonomy")) or {}


def scenario_group_names() -> list[str]:
    """The 11 scenario groups of :func:`taxonomy`."""
    return list(taxonomy().get("groups", {}) or {})


def query_group_names() -> list[str]:
    """The query-specific groups (``intent_unclear``...) of :func:`taxonomy`."""
    return list(taxonomy().get("query_groups", {}) or {})


def model_names() -> list[str]:
    """Names of the bundled model specifications (``logistic``, ``linear``...)."""
    root = definitions_root("models")
    return sorted(p.stem for p in root.glob("*.yaml"))


def model_spec_file(name_or_path: str | os.PathLike[str]) -> Path:
    """The YAML file of a bundled model specification, or a user's own file."""
    if _is_path(name_or_path):
        path = Path(os.path.expanduser(str(name_or_path)))
        if not path.is_file():
            raise InputError("file not found", file=path)
        return path
    path = definitions_root("models") / f"{name_or_path}.yaml"
    if not path.is_file():
        raise InputError(
            f"unknown model specification {str(name_or_path)!r} (bundled: "
            f"{', '.join(model_names())}; or give a YAML file)",
            field="model_spec",
        )
    return path


@functools.cache
def model_families() -> dict[str, list[str]]:
    """Family -> name patterns (``models/families/default.yaml``), in matching order."""
    data = read_yaml(definitions_root("models") / "families" / "default.yaml") or {}
    return {str(k): [str(p).lower() for p in v] for k, v in data.items()}


def model_family(name: str | None) -> str | None:
    """The family of a model or judge name (the first family with a pattern in it), or
    ``None``."""
    if not name:
        return None
    text = str(name).lower()
    for family, patterns in model_families().items():
        if any(p in text for p in patterns):
            return family
    return None


def price_table(name_or_path: str | os.PathLike[str] = "openai") -> dict[str, Any]:
    """An LLM price table: ``models/prices/NAME.yaml``, or a user's YAML file."""
    if _is_path(name_or_path):
        return read_yaml(name_or_path) or {}
    path = definitions_root("models") / "prices" / f"{name_or_path}.yaml"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in path.parent.glob("*.yaml")))
        raise InputError(f"unknown price table {str(name_or_path)!r} (bundled: {known})")
    return read_yaml(path) or {}
