"""Custom attribute sets from user YAML: validation errors and an end-to-end rating run."""

from __future__ import annotations

import json
import textwrap

import pandas as pd
import pytest

from preference_dissect.annotate import get_annotator, load_attribute_set, parse_attribute_set
from preference_dissect.errors import InputError
from preference_dissect.load import load_source
from preference_dissect.load.schema import write_dataset
from preference_dissect.testing.openai_server import OpenAIServer

GOOD = """
name: my_style
description: two made-up attributes
scale: [1, 5]
attributes:
  - name: concise
    definition: Says what is needed in few words.
    query_shown: false
  - name: on_topic
    definition: Answers what the user asked.
    compare: sign
"""


@pytest.fixture(scope="module")
def pairs_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("custom") / "pairs.parquet"
    write_dataset(load_source("bundled:hh-rlhf", limit=3), path)
    return path


def _write(tmp_path, text, name="set.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text), encoding="utf-8")
    return p


BAD_FILES = [
    (
        "name: s\nattributes:\n  - {name: a, definition: x}\n  - {name: b}\n",
        "row 2: field 'definition': is required",
    ),
    (
        "name: s\nattributes:\n  - {name: a, defintion: x}\n",
        "row 1: field 'defintion': unknown field",
    ),
    (
        "name: s\nattributes:\n  - {name: a, definition: x, scale: [3, 0]}\n",
        "row 1: field 'scale'",
    ),
    ("name: s\nattributes:\n  - {name: my attr, definition: x}\n", "row 1: field 'name'"),
    (
        "name: s\nattributes:\n  - {name: a, definition: x, compare: bigger}\n",
        "row 1: field 'compare'",
    ),
    ("name: s\nattributes: []\n", "field 'attributes'"),
    ("- just\n- a list\n", "must be a YAML mapping"),
    (
        "name: s\nattributes:\n  - {name: a, definition: x}\n  - {name: a, definition: y}\n",
        "duplicate",
    ),
    ("name: s\nmode: gair\nattributes:\n  - {name: a, definition: x}\n", "row 1: field 'kind'"),
    ("name: s\nmode: nosuch\nattributes:\n  - {name: a, definition: x}\n", "field 'mode'"),
    ("name: s\nattributes: [\n", "invalid YAML"),
]


@pytest.mark.parametrize(("text", "expected"), BAD_FILES)
def test_bad_attribute_set_files_give_one_line_errors(cli, tmp_path, pairs_path, text, expected):
    bad = _write(tmp_path, text)
    out = tmp_path / "ann.parquet"
    res = cli("annotate", pairs_path, "--annotator", bad, "--model", "m", "--out", out)
    assert res.returncode == 2, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert str(bad) in res.stderr and expected in res.stderr
    assert not out.exists()


def test_parse_errors_name_row_and_field():
    with pytest.raises(InputError) as err:
        parse_attribute_set(
            {"name": "s", "attributes": [{"name": "a", "definition": "x", "query_shown": "maybe"}]},
            file="f.yaml",
        )
    assert (err.value.file, err.value.row, err.value.field) == ("f.yaml", 1, "query_shown")


def test_bundled_sets_are_valid():
    gair = load_attribute_set("gair29")
    assert (
        len(gair.attributes) == 29 and gair.names[0] == "harmless" and gair.names[-1] == "lengthy"
    )
    sharma = load_attribute_set("sharma24")
    assert len(sharma.attributes) == 24 and sharma.mode == "pairwise"
    # provenance: only what the paper's main text confirms is tagged "paper"
    confirmed = {a.name for a in sharma.attributes if a.source == "paper"}
    assert confirmed == {
        "matches_user_beliefs",
        "matches_user_implicit_beliefs",
        "truthful",
        "authoritative",
        "empathetic",
    }
    assert all(a.source in ("paper", "recalled") for a in sharma.attributes)


def test_custom_rating_set_end_to_end(cli, tmp_path, pairs_path):
    good = _write(tmp_path, GOOD)
    ann = get_annotator(good)
    assert ann.name == "my_style" and len(ann.calls) == 2  # query hidden / shown never mixed
    out = tmp_path / "ann.parquet"
    cache = tmp_path / "cache"
    with OpenAIServer() as server:
        args = (
            "annotate",
            pairs_path,
            "--annotator",
            good,
            *server.cli_flags(cache, model="m"),
            "--out",
            out,
            "--json",
            "--no-progress",
        )
        res = cli(*args)
        assert res.returncode == 0, res.stderr
        first = json.loads(res.stdout)
        assert first["requests"] == 6 and first["cache_hits"] == 0  # 3 pairs x 2 calls
        shown = [r for r in server.chat_requests() if "[User's last message]" in r["last_user"]]
        assert len(shown) == 3
        again = json.loads(cli(*args).stdout)
        assert again["requests"] == 0 and again["cache_hits"] == 6
    table = pd.read_parquet(out)
    assert len(table) == 3 * 2 * 2 and set(table["annotator"]) == {"my_style"}
    assert table["value"].between(1, 5).all()
    # the comparator needs the YAML too: a user set has no bundled name to look up
    feats = tmp_path / "features.parquet"
    res = cli("features", out, "--pairs", pairs_path, "--na", "impute", "--out", feats)
    assert res.returncode == 2 and "--attribute-set" in res.stderr and "my_style" in res.stderr
    assert "Traceback" not in res.stderr and not feats.exists()
    res = cli(
        "features", out, "--pairs", pairs_path, "--attribute-set", good, "--na", "impute",
        "--out", feats,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert {"concise", "on_topic"} <= set(pd.read_parquet(feats).columns)


def test_version_follows_the_attribute_set_content(tmp_path):
    one = get_annotator(_write(tmp_path, GOOD, "one.yaml"))
    same = get_annotator(_write(tmp_path, GOOD, "same.yaml"))
    edited = get_annotator(_write(tmp_path, GOOD.replace("few words", "very few words"), "e.yaml"))
    assert one.version == same.version != edited.version
    assert set(one.prompt_hashes()) == {"conversation", "ratings"}
    assert get_annotator("gair29").version != get_annotator("sharma24").version
