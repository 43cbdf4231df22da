"""A battery of bad inputs and bad output paths through the real CLI and the real writers.

Every case checks the contract of the README: exit code 2, exactly one stderr line naming the
file, the row (as a person counts it) and the field, no traceback, and nothing left on disk;
and that every artifact is created with the permissions the umask asks for.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from preference_dissect.errors import InputError
from preference_dissect.io import atomic_path, write_text
from preference_dissect.load.schema import PairDataset, labels_path_for, write_dataset

ROW = {"prompt": "q", "response_a": "a", "response_b": "b", "winner": "a"}
MAX_DEPTH = 100  # the documented nesting limit of loaded values
TURNS = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
SURROGATE = (
    "holds a lone surrogate \\ud83d (half of a character such as an emoji, cut in two by "
    "the exporter): fix or remove it in the source"
)
TOO_DEEP = f"is nested more than {MAX_DEPTH} levels deep (lists or objects inside each other)"


def error_line(result, command: str = "load") -> str:
    """Check the failure contract and return the one stderr line without its prefix."""
    assert result.returncode == 2, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    prefix = f"prefdissect {command}: error: "
    assert lines[0].startswith(prefix), lines[0]
    return lines[0][len(prefix) :]


def load_fails(cli, tmp_path: Path, *args: str) -> str:
    """``prefdissect load ARGS --out OUT``: the failure contract, nothing written."""
    out_dir = tmp_path / "out"
    result = cli("load", *args, "--out", str(out_dir / "pairs.parquet"))
    line = error_line(result)
    assert result.stdout == ""
    assert not out_dir.exists() or not any(out_dir.iterdir())
    return line


def nested(depth: int) -> str:
    """JSON text of ``depth`` lists inside each other."""
    return "[" * depth + "]" * depth


def jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def record_text(**fields: str) -> str:
    """One generic record as JSON text; ``fields`` values are inserted as raw JSON."""
    body = {**{k: json.dumps(v) for k, v in ROW.items()}, **fields}
    return "{" + ", ".join(f'"{k}": {v}' for k, v in body.items()) + "}"


# --------------------------------------------------------------------------------------
# 1. lone surrogate escapes


def test_lone_surrogate_in_jsonl_names_line_and_field(cli, tmp_path):
    f = jsonl(tmp_path / "t.jsonl", [record_text(), record_text(prompt='"hi \\ud83d"')])
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 2: field 'prompt': {SURROGATE}"


def test_lone_surrogate_in_json_array_names_record_and_field(cli, tmp_path):
    f = tmp_path / "t.json"
    bad_record = record_text(response_a='"x \\ud83d y"')
    f.write_text(f"[{record_text()},\n {bad_record}]")
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 2: field 'response_a': {SURROGATE}"


def test_lone_surrogate_in_a_nested_unmapped_key(cli, tmp_path):
    f = jsonl(tmp_path / "t.jsonl", [record_text(extra='{"note": ["ok", "\\ud83d"]}')])
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 1: field 'extra.note': {SURROGATE}"


def test_lone_surrogate_in_a_csv_json_cell(cli, tmp_path):
    good = json.dumps(TURNS)
    bad_conv = good.replace('"yo"', '"yo \\ud83d"')
    f = tmp_path / "arena.csv"
    pd.DataFrame(
        [["m", "n", "tie", good, good], ["m", "n", "tie", bad_conv, good]],
        columns=["model_a", "model_b", "winner", "conversation_a", "conversation_b"],
    ).to_csv(f, index=False)
    assert (
        load_fails(cli, tmp_path, str(f))
        == f"{f}: row 3: field 'conversation_a.content': {SURROGATE}"
    )


def test_whole_surrogate_pair_is_an_emoji_and_loads(cli, tmp_path):
    f = jsonl(tmp_path / "t.jsonl", [record_text(prompt='"hi \\ud83d\\ude00"')])
    out = tmp_path / "p.parquet"
    result = cli("load", str(f), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert pd.read_parquet(out)["prompt"].tolist() == ["hi \U0001f600"]


# --------------------------------------------------------------------------------------
# 2. deeply nested values


def test_100k_nested_lists_in_jsonl(cli, tmp_path):
    f = jsonl(tmp_path / "t.jsonl", [record_text(), record_text(x=nested(100_000))])
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 2: field 'x': {TOO_DEEP}"


def test_100k_nested_lists_on_the_first_jsonl_line(cli, tmp_path):
    # the first line is also read to sniff the format
    f = jsonl(tmp_path / "t.jsonl", [record_text(x=nested(100_000)), record_text()])
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 1: field 'x': {TOO_DEEP}"


def test_100k_nested_lists_in_json_array(cli, tmp_path):
    f = tmp_path / "t.json"
    f.write_text(f"[{record_text()},\n{record_text(x=nested(100_000))}]")
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 2: field 'x': {TOO_DEEP}"


def test_deep_value_that_json_parses_is_still_refused(cli, tmp_path):
    # 500 levels parse, but broke later (RecursionError while collecting meta)
    f = tmp_path / "t.json"
    f.write_text(
        json.dumps([ROW, {**ROW, "prompt": "q2", "extra": {"x": json.loads(nested(500))}}])
    )
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 2: field 'extra.x': {TOO_DEEP}"


def test_depth_limit_boundary(cli, tmp_path):
    ok = jsonl(tmp_path / "ok.jsonl", [record_text(x=nested(MAX_DEPTH))])
    result = cli("load", str(ok), "--out", str(tmp_path / "ok.parquet"))
    assert result.returncode == 0, result.stderr
    f = jsonl(tmp_path / "t.jsonl", [record_text(x=nested(MAX_DEPTH + 1))])
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 1: field 'x': {TOO_DEEP}"


def test_deep_json_in_a_csv_cell(cli, tmp_path):
    good = json.dumps(TURNS)
    f = tmp_path / "arena.csv"
    pd.DataFrame(
        [["m", "n", "tie", good, good], ["m", "n", "tie", good, nested(100_000)]],
        columns=["model_a", "model_b", "winner", "conversation_a", "conversation_b"],
    ).to_csv(f, index=False)
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row 3: field 'conversation_b': {TOO_DEEP}"


# --------------------------------------------------------------------------------------
# 3. corrupt labels sidecar


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    """Pairs (+ labels sidecar), annotations and features of 40 hh-rlhf pairs."""
    d = tmp_path_factory.mktemp("small_run")
    pairs, ann, feats = d / "pairs.parquet", d / "ann.parquet", d / "features.parquet"
    for args in (
        ["load", "bundled:hh-rlhf", "--limit", "40", "--out", pairs],
        ["annotate", pairs, "--out", ann, "--no-progress"],
        ["features", ann, "--pairs", pairs, "--out", feats],
    ):
        res = run_cli(*map(str, args))
        assert res.returncode == 0, res.stderr
    return pairs, ann, feats


@pytest.fixture
def dataset_with_bad_sidecar(tmp_path, small_run):
    """A copy of the small run's pairs.parquet and annotations, with its labels sidecar."""
    d = tmp_path / "d"
    d.mkdir()
    pairs, ann = d / "pairs.parquet", d / "ann.parquet"
    for src, dst in ((small_run[0], pairs), (small_run[1], ann)):
        shutil.copyfile(src, dst)
    shutil.copyfile(labels_path_for(small_run[0]), labels_path_for(pairs))
    return pairs, ann, labels_path_for(pairs)


STAGES = {
    "load": lambda p, a, o: ["load", p, "--out", o / "x.parquet"],
    "annotate": lambda p, a, o: ["annotate", p, "--out", o / "x.parquet", "--no-progress"],
    "classify": lambda p, a, o: ["classify", p, "--out", o / "x.parquet", "--no-progress"],
    "features": lambda p, a, o: ["features", a, "--pairs", p, "--out", o / "x.parquet"],
    "judge": lambda p, a, o: [
        "judge",
        p,
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--no-progress",
        "--out",
        o / "x.parquet",
    ],
    "audit": lambda p, a, o: ["audit", p, "--out", o],
    "export": lambda p, a, o: ["export", p, "--out", o / "x.jsonl"],
}


@pytest.mark.parametrize("damage", ["random", "truncated"])
@pytest.mark.parametrize("command", list(STAGES))
def test_corrupt_labels_sidecar_is_one_line_in_every_stage(
    cli, tmp_path, dataset_with_bad_sidecar, command, damage
):
    pairs, ann, sidecar = dataset_with_bad_sidecar
    data = sidecar.read_bytes()
    sidecar.write_bytes(os.urandom(600) if damage == "random" else data[: len(data) // 2])
    out = tmp_path / "out"
    line = error_line(cli(*map(str, STAGES[command](pairs, ann, out))), command)
    prefix = f"{sidecar}: labels sidecar of pairs.parquet is not a readable parquet file ("
    assert line.startswith(prefix) and line.endswith(")"), line
    assert not out.exists() or not any(out.iterdir())


# --------------------------------------------------------------------------------------
# 4. Arena parquet with a wrongly typed conversation column


def _arena_parquet(path: Path, conversation_a: pa.Array) -> Path:
    n = len(conversation_a)
    table = pa.table(
        {
            "model_a": ["m"] * n,
            "model_b": ["n"] * n,
            "winner": ["tie"] * n,
            "conversation_a": conversation_a,
            "conversation_b": [TURNS] * n,
        }
    )
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize(
    ("column", "row", "message"),
    [
        (
            pa.array([json.dumps(TURNS), "hello"]),
            2,
            "unparseable nested value: cannot parse (neither JSON nor a Python literal)",
        ),
        (pa.array([3, 4]), 1, "expected a non-empty list of messages {role, content}"),
        (
            pa.array([[{"role": "user", "content": 1}, {"role": "assistant", "content": 2}]]),
            1,
            "bad message content 1",
        ),
        (
            pa.array([[{"who": "user", "text": "hi"}]]),
            1,
            "bad message {'who': 'user', 'text': 'hi'} (needs role user/assistant/system)",
        ),
    ],
    ids=["string", "int", "int-content", "no-role"],
)
def test_arena_parquet_wrongly_typed_conversation(cli, tmp_path, column, row, message):
    f = _arena_parquet(tmp_path / "arena.parquet", column)
    assert load_fails(cli, tmp_path, str(f)) == f"{f}: row {row}: field 'conversation_a': {message}"


def test_arena_parquet_conversations_stored_as_json_text_load(cli, tmp_path):
    f = _arena_parquet(tmp_path / "arena.parquet", pa.array([json.dumps(TURNS)]))
    result = cli("load", str(f), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pairs"] == 1


# --------------------------------------------------------------------------------------
# 5. conflicting --map entries


def _generic_csv(tmp_path: Path) -> Path:
    f = tmp_path / "t.csv"
    pd.DataFrame([["q", "x", "y", "w"]], columns=["q", "a1", "b1", "a2"]).to_csv(f, index=False)
    return f


@pytest.mark.parametrize(
    "maps",
    [
        ["prompt=q,response_a=a1,response_b=b1,prompt=a2"],
        ["prompt=q,response_a=a1,response_b=b1", "prompt=a2"],
    ],
    ids=["one-flag", "two-flags"],
)
def test_map_key_given_twice_is_refused(cli, tmp_path, maps):
    args = [a for m in maps for a in ("--map", m)]
    line = load_fails(cli, tmp_path, str(_generic_csv(tmp_path)), *args)
    assert line == "field '--map': key 'prompt' is mapped twice (to 'q' and to 'a2'): map it once"


def test_map_key_repeated_with_the_same_column_is_accepted(cli, tmp_path):
    f = _generic_csv(tmp_path)
    result = cli("load", str(f), "--map", "prompt=q,response_a=a1,response_b=b1,prompt=q", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["pairs"] == 1


def test_winner_value_given_twice_is_refused(cli, tmp_path):
    f = tmp_path / "t.csv"
    pd.DataFrame([["q", "x", "y", "0"]], columns=["q", "a1", "b1", "w"]).to_csv(f, index=False)
    mapping = "prompt=q,response_a=a1,response_b=b1,winner=w"
    line = load_fails(cli, tmp_path, str(f), "--map", mapping, "--winner-values", "0=a,0=b")
    assert line == (
        "field '--winner-values': value '0' is given twice (as 'a' and as 'b'): give it once"
    )


# --------------------------------------------------------------------------------------
# 6. output paths: validated before any work, replaced together or not at all


FILE_OUTPUTS = {
    "load": lambda p, a, f: ["load", p],
    "annotate": lambda p, a, f: ["annotate", p, "--no-progress"],
    "classify": lambda p, a, f: ["classify", p, "--no-progress"],
    "features": lambda p, a, f: ["features", a, "--pairs", p],
    "fit": lambda p, a, f: ["fit", f],
    "judge": lambda p, a, f: [
        "judge",
        p,
        "--model",
        "m",
        "--base-url",
        "http://127.0.0.1:9/v1",
        "--no-progress",
    ],
    "export": lambda p, a, f: ["export", p],
}


def _listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


@pytest.mark.parametrize("command", list(FILE_OUTPUTS))
def test_out_naming_an_existing_folder(cli, tmp_path, small_run, command):
    out = tmp_path / ("out.jsonl" if command == "export" else "out.parquet")
    out.mkdir()
    before = _listing(tmp_path)
    result = cli(*map(str, FILE_OUTPUTS[command](*small_run)), "--out", str(out))
    assert error_line(result, command) == f"{out}: --out is a folder, not a file"
    assert _listing(tmp_path) == before  # no sidecar, no OUT.partial/, no temporary file


@pytest.mark.parametrize(
    ("command", "suffix", "what"),
    [
        ("load", ".labels.parquet", "the labels sidecar of --out"),
        ("classify", ".labels.parquet", "the labels sidecar of --out"),
        ("judge", ".calls.parquet", "the per-call details file of --out"),
    ],
)
def test_companion_file_naming_a_folder(cli, tmp_path, small_run, command, suffix, what):
    out = tmp_path / "o" / "x.parquet"
    companion = out.with_name(f"x{suffix}")
    companion.mkdir(parents=True)
    before = _listing(tmp_path)
    result = cli(*map(str, FILE_OUTPUTS[command](*small_run)), "--out", str(out))
    assert error_line(result, command) == f"{companion}: {what} is a folder, not a file"
    assert _listing(tmp_path) == before


def test_fit_checks_its_checkpoint_folder_first(cli, tmp_path, small_run):
    out = tmp_path / "fit.nc"
    Path(f"{out}.partial").write_text("not a folder")
    result = cli("fit", str(small_run[2]), "--out", str(out))
    assert error_line(result, "fit") == (
        f"{out}.partial: the checkpoint folder of --out is a file, not a folder"
    )
    assert not out.exists()


def test_out_below_a_file(cli, tmp_path, small_run):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("x")
    out = blocker / "sub" / "pairs.parquet"
    line = error_line(cli("load", str(small_run[0]), "--out", str(out)))
    assert line == f"{out}: cannot create its folder: {blocker} is a file"


def test_report_out_folder_holding_a_report_folder(cli, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (tmp_path / "o" / "report.html").mkdir(parents=True)
    result = cli("report", str(run_dir), "--out", str(tmp_path / "o"))
    target = tmp_path / "o" / "report.html"
    assert error_line(result, "report") == f"{target}: the report is a folder, not a file"


@pytest.mark.parametrize("command", ["analyze", "audit", "reproduce", "run"])
def test_folder_out_naming_a_file(cli, tmp_path, small_run, command):
    out = tmp_path / "taken"
    out.write_text("x")
    inputs = {"analyze": [tmp_path / "fit.nc"], "audit": [small_run[0]], "reproduce": ["gair"]}
    result = cli(command, *map(str, inputs.get(command, [])), "--out", str(out))
    assert error_line(result, command) == f"{out}: --out is a file, not a folder"
    assert out.read_text() == "x"


def _dataset(text: str) -> PairDataset:
    pairs = pd.DataFrame(
        {"prompt": ["q"], "response_a": [text], "response_b": ["b"], "source": ["t"]}
    )
    pairs.insert(0, "pair_id", ["p1"])
    labels = pd.DataFrame({"pair_id": ["p1"], "judge": ["human"], "winner": ["a"]})
    return PairDataset(pairs, labels)


def test_write_dataset_with_a_folder_sidecar_changes_nothing(tmp_path):
    target = tmp_path / "pairs.parquet"
    target.write_bytes(b"old pairs")
    (tmp_path / "pairs.labels.parquet").mkdir()
    with pytest.raises(InputError) as err:
        write_dataset(_dataset("new"), target)
    assert err.value.one_line() == (
        f"{tmp_path / 'pairs.labels.parquet'}: the labels sidecar is a folder, not a file"
    )
    assert target.read_bytes() == b"old pairs"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.labels.parquet", "pairs.parquet"]


@pytest.mark.parametrize("had_sidecar", [True, False])
def test_write_dataset_second_rename_failing_restores_the_first(tmp_path, monkeypatch, had_sidecar):
    target = tmp_path / "pairs.parquet"
    sidecar = labels_path_for(target)
    write_dataset(_dataset("old"), target)
    old_pairs = target.read_bytes()
    if had_sidecar:
        old_labels = sidecar.read_bytes()
    else:
        sidecar.unlink()
    real_replace = os.replace

    def failing_replace(src, dst):  # the operating system refuses the second rename
        if Path(dst) == sidecar:
            raise OSError(28, "No space left on device")
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(InputError) as err:
        write_dataset(_dataset("new"), target)
    monkeypatch.undo()
    assert err.value.one_line() == f"{sidecar}: cannot write (No space left on device)"
    assert target.read_bytes() == old_pairs
    if had_sidecar:
        assert sidecar.read_bytes() == old_labels
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == (
        ["pairs.labels.parquet", "pairs.parquet"] if had_sidecar else ["pairs.parquet"]
    )


def test_write_dataset_replaces_both_files(tmp_path):
    target = tmp_path / "pairs.parquet"
    write_dataset(_dataset("old"), target)
    write_dataset(_dataset("new"), target)
    assert pd.read_parquet(target)["response_a"].tolist() == ["new"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pairs.labels.parquet", "pairs.parquet"]


# --------------------------------------------------------------------------------------
# 7. permissions follow the umask


def _cli_with_umask(umask: int, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "preference_dissect.cli.main", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        umask=umask,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        timeout=600,
    )


def _modes(root: Path) -> dict[str, int]:
    return {
        str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode)
        for p in root.rglob("*")
        if p.is_file()
    }


def test_umask_022_gives_0644_for_every_run_artifact(tmp_path):
    run_dir = tmp_path / "run"
    res = _cli_with_umask(0o022, "run", "--limit", "40", "--out", run_dir, cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    res = _cli_with_umask(
        0o022, "export", run_dir / "pairs.parquet", "--out", run_dir / "train.jsonl", cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    modes = _modes(run_dir)
    suffixes = {Path(name).suffix for name in modes}
    assert {".parquet", ".json", ".jsonl", ".html", ".nc", ".csv", ".png", ".svg"} <= suffixes
    assert modes == dict.fromkeys(modes, 0o644)


def test_umask_077_gives_0600(tmp_path):
    out = tmp_path / "pairs.parquet"
    res = _cli_with_umask(
        0o077, "load", "bundled:hh-rlhf", "--limit", "3", "--out", out, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr
    assert _modes(tmp_path) == {"pairs.parquet": 0o600, "pairs.labels.parquet": 0o600}


@pytest.mark.parametrize(
    ("umask", "mode"), [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)], ids=["022", "027", "002"]
)
def test_atomic_writers_honour_the_umask_in_process(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        write_text("hi", tmp_path / "a.txt")
        with atomic_path(tmp_path / "b.bin") as tmp, tmp.open("wb") as fh:
            fh.write(b"x")
    finally:
        os.umask(old)
    assert _modes(tmp_path) == {"a.txt": mode, "b.bin": mode}
