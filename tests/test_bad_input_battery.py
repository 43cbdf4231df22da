"""A battery of bad inputs and bad output paths through the real CLI and the real writers.

Every case checks the contract of the README: exit code 2, exactly one stderr line naming the
file, the row (as a person counts it) and the field, no traceback, and nothing left on disk;
and that every artifact is created with the permissions the umask asks for.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import run_cli

from preference_dissect.load.schema import labels_path_for

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
