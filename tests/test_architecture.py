"""The shape of the package, checked from its source: no import cycles, short functions, a
short main job, every stage in its own package; and the behaviour the stage framework
promises: the manifest's prompt hashes are the templates' own, a user's copy of an annotator
folder is its own annotator, model specs and the deprecated flags."""

from __future__ import annotations

import ast
import hashlib
import json
import shutil
import sys
from pathlib import Path

import pytest
from conftest import REPO

PACKAGE = REPO / "preference_dissect"
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return getattr(test, "id", None) == "TYPE_CHECKING" or getattr(test, "attr", None) == (
        "TYPE_CHECKING"
    )


def _imports(tree: ast.AST) -> set[str]:
    """Package modules a module imports, at the top or inside functions (not those imported
    only for type checking)."""
    found: set[str] = set()
    todo = list(ast.iter_child_nodes(tree))
    while todo:
        node = todo.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            todo.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                found.add(full if full in MODULES else node.module)
        todo.extend(ast.iter_child_nodes(node))
    return {m for m in found if m in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop()
                        on_stack.discard(top)
                        comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        found.append(sorted(comp))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                work.append((child, iter(sorted(graph[child]))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])
    return found


def test_no_module_is_in_an_import_cycle():
    graph = {m: _imports(ast.parse(p.read_text(encoding="utf-8"))) for m, p in MODULES.items()}
    assert len(graph) > 100 and graph["preference_dissect.pipeline"]
    assert _cycles(graph) == []
    # the checker finds a cycle where there is one
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_function_is_longer_than_80_lines():
    long = []
    for name, path in MODULES.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                body = node.body
                has_doc = isinstance(body[0], ast.Expr) and isinstance(
                    getattr(body[0], "value", None), ast.Constant
                )
                start = body[1] if has_doc and len(body) > 1 else body[0]
                lines = node.end_lineno - start.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{name}.{node.name}: {lines} lines")
    assert long == []


def test_main_job_is_a_short_loop_over_registered_stages():
    from preference_dissect.stages import ordered_stages

    assert len((PACKAGE / "pipeline.py").read_text().splitlines()) < 120
    stages = ordered_stages()
    names = [s.name for s in stages]
    assert names[:8] == [
        "load", "judge", "annotate", "features", "fit", "analyze", "audit", "report"
    ]  # fmt: skip
    for stage in stages:  # each stage lives in the package of its step
        module = type(stage).__module__
        assert module.endswith(".stage") and module.count(".") == 2, module


def test_manifest_prompt_hashes_are_the_templates_own(tmp_path, cli):
    from preference_dissect.testing.openai_server import OpenAIServer

    out = tmp_path / "run"
    with OpenAIServer() as server:
        res = cli(
            "run", "bundled:arena", "--limit", "12", "--annotator", "sharma24",
            *server.cli_flags(tmp_path / "cache"), "--classify", "never",
            "--min-group-size", "5", "--no-report", "--out", out,
        )  # fmt: skip
    assert res.returncode == 0, res.stderr
    hashes = json.loads((out / "manifest.json").read_text())["annotators"]["sharma24"]
    hashes = hashes["prompt_hashes"]
    folders = [
        REPO / "annotators" / "sharma24" / "prompts",
        REPO / "annotators" / "_shared" / "prompts",
    ]
    assert hashes
    for name, digest in hashes.items():
        file = next(f / f"{name}.jinja" for f in folders if (f / f"{name}.jinja").exists())
        assert digest == hashlib.sha256(file.read_text(encoding="utf-8").encode()).hexdigest()


def test_a_copy_of_an_annotator_folder_is_its_own_annotator(tmp_path):
    from preference_dissect.annotate import get_annotator

    bundled = get_annotator("gair29")
    copy = tmp_path / "my_gair29"
    shutil.copytree(REPO / "annotators" / "gair29", copy)
    same = get_annotator(copy)
    assert same.version == bundled.version  # an unchanged copy asks the same questions
    prompt = copy / "prompts" / "errors.jinja"
    prompt.write_text(prompt.read_text() + "\nBe strict.\n", encoding="utf-8")
    edited = get_annotator(copy)
    assert edited.version != bundled.version
    assert edited.prompt_hashes()["errors"] != bundled.prompt_hashes()["errors"]
    assert "Be strict." in edited.prompts.source("errors")
    assert edited.prompt_hashes()["reference"] == bundled.prompt_hashes()["reference"]


def test_fit_model_spec_file_and_deprecated_model_flag(tmp_path, cli):
    import preference_dissect as pdx
    from preference_dissect.fit.idata import load_fit, spec_of

    pairs = pdx.load("bundled:hh-rlhf", limit=80)
    features = pdx.compare(pdx.annotate(pairs, progress=False), pairs)
    features.to_parquet(tmp_path / "features.parquet")
    spec = tmp_path / "narrow.yaml"
    text = (REPO / "models" / "logistic.yaml").read_text()
    narrow = text.replace("{family: laplace, scale: 0.1}", "{family: normal, scale: 0.05}")
    spec.write_text(narrow, encoding="utf-8")
    assert "scale: 0.05" in spec.read_text()
    res = cli(
        "fit", tmp_path / "features.parquet", "--model-spec", spec, "--draws", "100",
        "--out", tmp_path / "fit.nc",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert spec_of(load_fit(tmp_path / "fit.nc"))["prior"] == "normal:0.05"
    res = cli(
        "fit", tmp_path / "features.parquet", "--model", "linear", "--draws", "100",
        "--out", tmp_path / "linear.nc",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "--model is deprecated" in res.stderr
    assert spec_of(load_fit(tmp_path / "linear.nc"))["likelihood"] == "linear"


def test_public_plugin_face_resolves():
    import preference_dissect.plugins as plugins

    missing = [n for n in plugins.__all__ if not hasattr(plugins, n)]
    assert missing == []
    assert sys.modules["preference_dissect.plugins"] is plugins


@pytest.mark.parametrize("flag", ["--na impute", "--model-type linear"])
def test_run_keeps_its_deprecated_flags_for_one_release(tmp_path, cli, flag):
    res = cli(
        "run", "bundled:hh-rlhf", "--limit", "60", *flag.split(), "--min-group-size", "5",
        "--no-report", "--out", tmp_path / "run",
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "deprecated" in res.stderr
