"""Chatbot Arena: conversations 33k, human-preference 55k and human-preference 140k.

``arena`` (33k and 140k schemas; parquet, JSON/JSONL, or CSV whose nested columns are JSON
or Python reprs, like the bundled 140k sample)
    ``conversation_a`` / ``conversation_b`` are lists of ``{role, content}``; ``content`` is
    text (33k) or a list of typed parts (140k: ``{"type": "text", "text": ...}``; image parts
    become ``[image]``, parts are joined with a newline). The last user turn is the
    ``prompt``, the assistant turn(s) after it are the responses; earlier turns are the
    ``conversation``: turns equal on both sides are shared (``side`` None), assistant turns
    that differ appear twice with ``side`` ``a`` and ``b``. ``winner``: model_a -> a,
    model_b -> b, tie -> tie, both_bad / "tie (bothbad)" -> both_bad; judge ``human``.
    Every other column (``conv_metadata``, ``category_tag``, ``id``, ``language``, the
    33k ``judge``...) is kept in ``meta``; ``full_conversation`` is dropped (it repeats the
    two conversations).

``arena-55k`` (CSV)
    ``prompt`` / ``response_a`` / ``response_b`` are JSON lists of per-turn strings (``null``
    -> empty text); the winner comes from the one-hot ``winner_model_a`` / ``winner_model_b``
    / ``winner_tie`` columns.

Empty final responses (failed generations) are kept and counted in ``info``.
Parquet files of the 33k/140k schema are read column-wise with pyarrow: single-turn rows
(about 95%) never become Python objects except for hashing, which keeps the full 140k
file within the time and memory targets (``benchmarks/load_arena_scale.py``). A parquet
file whose conversation columns have another type (JSON text, numbers, structs without
``role`` / ``content``) is read row by row instead, which parses JSON text and names the
first bad row and column.
"""

from __future__ import annotations

import ast
import gc
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from preference_dissect.errors import InputError
from preference_dissect.load.common import (
    Progress,
    Records,
    build_dataset,
    count_blank,
    is_missing,
    labels_frame,
    meta_json,
    normalise_winner,
    plain,
    read_parquet_records,
    suffix_duplicates,
    winner_column,
)
from preference_dissect.load.registry import LoadRequest, columns_score, register_loader
from preference_dissect.load.schema import make_pair_id

CONSUMED = ("model_a", "model_b", "winner", "conversation_a", "conversation_b", "full_conversation")
NESTED = (
    "conversation_a",
    "conversation_b",
    "conv_metadata",
    "category_tag",
    "openai_moderation",
    "toxic_chat_tag",
    "full_conversation",
)
ROLES = ("user", "assistant", "system")


class TurnError(ValueError):
    """A conversation that cannot be split into history, prompt and responses."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def parse_nested(rec: Records, i: int, col: str) -> Any:
    """Parse record ``i``'s ``col``: a nested value stored as JSON or a Python repr; other
    values pass through.

    Raises
    ------
    ValueError
        Text that is neither JSON nor a Python literal.
    InputError
        A value nested too deeply or holding a lone surrogate (see :meth:`Records.loads`).
    """
    value = rec.frame[col].iat[i]
    if not isinstance(value, str):
        return plain(value)
    text = value.strip()
    try:
        return rec.loads(i, col, text)
    except ValueError:
        pass
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        raise ValueError("cannot parse (neither JSON nor a Python literal)") from None
    rec.check_parsed(i, col, parsed, text)
    return parsed


def message_text(content: Any) -> str:
    """Return the text of a message ``content`` (a string or a list of typed parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if isinstance(part, str):
                texts.append(part)
            elif isinstance(part, dict):
                kind = part.get("type", "text")
                if kind == "text":
                    texts.append(part.get("text") or "")
                else:
                    texts.append(f"[{kind}]")
            else:
                raise ValueError(f"bad content part {part!r:.60}")
        return "\n".join(texts)
    raise ValueError(f"bad message content {content!r:.60}")


def _messages(conv: Any, field: str) -> list[tuple[str, str]]:
    if not isinstance(conv, list) or not conv:
        raise TurnError("expected a non-empty list of messages {role, content}", field)
    out = []
    for m in conv:
        if not isinstance(m, dict) or m.get("role") not in ROLES:
            raise TurnError(f"bad message {m!r:.80} (needs role user/assistant/system)", field)
        try:
            out.append((m["role"], message_text(m.get("content"))))
        except ValueError as exc:
            raise TurnError(str(exc), field) from None
    return out


def _split(msgs: list[tuple[str, str]], field: str) -> tuple[list[tuple[str, str]], str, str]:
    if msgs[-1][0] != "assistant":
        raise TurnError("the last message is not an assistant turn", field)
    last_user = max((i for i, m in enumerate(msgs) if m[0] == "user"), default=-1)
    if last_user < 0:
        raise TurnError("no user turn", field)
    response = "\n\n".join(t for _, t in msgs[last_user + 1 :])
    return msgs[:last_user], msgs[last_user][1], response


def arena_turns(
    conv_a: Any, conv_b: Any
) -> tuple[list[dict[str, Any]], str, str, str, dict[str, Any]]:
    """Split two Arena conversations into (conversation, prompt, response_a, response_b, flags).

    Raises
    ------
    TurnError
        With ``field`` naming the bad conversation.
    """
    hist_a, prompt, resp_a = _split(_messages(conv_a, "conversation_a"), "conversation_a")
    hist_b, prompt_b, resp_b = _split(_messages(conv_b, "conversation_b"), "conversation_b")
    flags: dict[str, Any] = {}
    if prompt_b != prompt:
        flags["prompt_mismatch"] = True
        flags["prompt_b"] = prompt_b
    conversation: list[dict[str, Any]] = []
    k = 0
    while k < min(len(hist_a), len(hist_b)):
        (ra, ta), (rb, tb) = hist_a[k], hist_b[k]
        if ra == rb and ta == tb:
            conversation.append({"role": ra, "content": ta, "side": None})
        elif ra == rb:
            conversation.append({"role": ra, "content": ta, "side": "a"})
            conversation.append({"role": rb, "content": tb, "side": "b"})
        else:
            break
        k += 1
    conversation += [{"role": r, "content": t, "side": "a"} for r, t in hist_a[k:]]
    conversation += [{"role": r, "content": t, "side": "b"} for r, t in hist_b[k:]]
    return conversation, prompt, resp_a, resp_b, flags


def _csv_scalar(value: Any) -> Any:
    """CSV cells are text: turn numbers and booleans back into values, keep other text."""
    if not isinstance(value, str):
        return plain(value)
    try:
        parsed = ast.literal_eval(value.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
        return value
    return parsed if isinstance(parsed, int | float | bool) else value


def _nested_column(rec: Records, col: str) -> list[Any]:
    out = rec.frame[col].tolist()
    for i, v in enumerate(out):
        if is_missing(v):
            out[i] = None
            continue
        try:
            out[i] = parse_nested(rec, i, col)
        except ValueError as exc:
            raise rec.error(i, col, f"unparseable nested value: {exc}") from None
    return out


def _finish(rec: Records, pairs: pd.DataFrame, winners: list[str], fmt: str) -> Any:
    n = len(pairs)
    empty = count_blank(pairs["response_a"]) + count_blank(pairs["response_b"])
    info = {"format": fmt, "path": rec.file, "empty_responses": empty}
    labels = labels_frame(np.arange(n), "human", winners)
    return build_dataset(pairs, labels, rec.rows, rec.file, info=info, allow_empty=True)


def load_arena(rec: Records) -> Any:
    """Load Arena 33k / 140k records held in Python objects (CSV, JSON, HF tables)."""
    rec.require_columns("conversation_a", "conversation_b", "winner")
    winners = winner_column(rec, "winner")
    conv_a = _nested_column(rec, "conversation_a")
    conv_b = _nested_column(rec, "conversation_b")
    extra = [c for c in rec.frame.columns if c not in CONSUMED]
    extra_values = {
        c: (
            _nested_column(rec, c)
            if c in NESTED
            else [_csv_scalar(v) if rec.header_row else plain(v) for v in rec.frame[c].tolist()]
        )
        for c in extra
    }
    rows = []
    for i in range(len(rec.frame)):
        try:
            turns = arena_turns(conv_a[i], conv_b[i])
        except TurnError as exc:
            raise rec.error(i, exc.field, str(exc)) from None
        rows.append((turns, {c: extra_values[c][i] for c in extra}))
    return _finish(rec, _arena_pairs(rec, rows), winners, "arena")


def _arena_pairs(rec: Records, rows: list[tuple[Any, dict[str, Any]]]) -> pd.DataFrame:
    """The pair table from per-row ``(arena_turns(...) result, extra meta)``."""
    convs, prompts, resp_a, resp_b, metas = [], [], [], [], []
    for (conv, prompt, a, b, flags), meta in rows:
        meta.update(flags)
        convs.append(conv)
        prompts.append(prompt)
        resp_a.append(a)
        resp_b.append(b)
        metas.append(meta_json(meta))
    return pd.DataFrame(
        {
            "conversation": convs,
            "prompt": prompts,
            "response_a": resp_a,
            "response_b": resp_b,
            "model_a": _models(rec, "model_a"),
            "model_b": _models(rec, "model_b"),
            "source": "arena",
            "meta": metas,
        }
    )


def _models(rec: Records, col: str) -> list[str | None]:
    if col not in rec.frame:
        return [None] * len(rec.frame)
    return [None if is_missing(v) else str(v) for v in rec.frame[col].tolist()]


# --------------------------------------------------------------------------------------
# 55k


def _turn_list(rec: Records, col: str) -> list[list[str]]:
    rec.require_columns(col)
    out = []
    for i, v in enumerate(rec.frame[col].tolist()):
        if isinstance(v, str):
            try:
                v = rec.loads(i, col, v)
            except ValueError:
                raise rec.error(i, col, "expected a JSON list of per-turn strings") from None
        v = plain(v)
        if not isinstance(v, list) or not v:
            raise rec.error(i, col, "expected a non-empty JSON list of per-turn strings")
        if any(t is not None and not isinstance(t, str) for t in v):
            raise rec.error(i, col, "list items must be strings or null")
        out.append(["" if t is None else t for t in v])
    return out


def load_arena_55k(rec: Records) -> Any:
    """Load the Arena human-preference 55k CSV (JSON-encoded turn lists, one-hot winners)."""
    cols = ("winner_model_a", "winner_model_b", "winner_tie")
    rec.require_columns(*cols)
    prompts = _turn_list(rec, "prompt")
    ra = _turn_list(rec, "response_a")
    rb = _turn_list(rec, "response_b")
    onehot = {}
    for c in cols:
        vals = []
        for i, v in enumerate(rec.frame[c].tolist()):
            try:
                f = float(v)
            except (TypeError, ValueError):
                f = float("nan")
            if f not in (0.0, 1.0):
                raise rec.error(i, c, f"expected 0 or 1, got {v!r}")
            vals.append(f)
        onehot[c] = np.asarray(vals)
    total = onehot[cols[0]] + onehot[cols[1]] + onehot[cols[2]]
    bad = np.flatnonzero(total != 1)
    if bad.size:
        raise rec.error(
            int(bad[0]),
            cols[0],
            "exactly one of winner_model_a, winner_model_b, winner_tie must be 1",
        )
    winners = np.where(
        onehot[cols[0]] == 1, "a", np.where(onehot[cols[1]] == 1, "b", "tie")
    ).tolist()
    extra = [
        c
        for c in rec.frame.columns
        if c not in (*cols, "prompt", "response_a", "response_b", "model_a", "model_b")
    ]
    rows = []
    for i in range(len(prompts)):
        if not len(prompts[i]) == len(ra[i]) == len(rb[i]):
            raise rec.error(
                i,
                "response_a",
                f"turn lists differ in length (prompt "
                f"{len(prompts[i])}, response_a {len(ra[i])}, response_b {len(rb[i])})",
            )
        conv_a = [
            m
            for p, r in zip(prompts[i], ra[i], strict=True)
            for m in ({"role": "user", "content": p}, {"role": "assistant", "content": r})
        ]
        conv_b = [
            m
            for p, r in zip(prompts[i], rb[i], strict=True)
            for m in ({"role": "user", "content": p}, {"role": "assistant", "content": r})
        ]
        turns = arena_turns(conv_a, conv_b)
        rows.append((turns, {c: plain(rec.frame[c].iloc[i]) for c in extra}))
    return _finish(rec, _arena_pairs(rec, rows), winners, "arena-55k")


# --------------------------------------------------------------------------------------
# column-wise parquet path


def fast_pair_ids(prompt: Any, response_a: Any, response_b: Any) -> list[str]:
    """:func:`make_pair_id` for pairs without earlier turns, from pyarrow string arrays.

    (Column-wise JSON escaping in pyarrow was measured slower than the C JSON encoder, so
    this simply converts one batch at a time.)
    """
    return [
        make_pair_id(p, a, b)
        for p, a, b in zip(
            prompt.to_pylist(), response_a.to_pylist(), response_b.to_pylist(), strict=True
        )
    ]


def _is_text(dtype: Any) -> bool:
    import pyarrow as pa

    return pa.types.is_string(dtype) or pa.types.is_large_string(dtype)


def _struct_fields(dtype: Any, *names: str) -> list[Any] | None:
    """The types of fields ``names`` of a struct type; None if it is not one that has them."""
    import pyarrow as pa

    if not pa.types.is_struct(dtype):
        return None
    have = {dtype.field(i).name: dtype.field(i).type for i in range(dtype.num_fields)}
    return [have[n] for n in names] if all(n in have for n in names) else None


def _is_message_list(dtype: Any) -> bool:
    """True for the Arena conversation type the column-wise path reads:
    ``list<struct<role: string, content: string | list<struct<type, text: string>>>>``."""
    import pyarrow as pa

    if not (pa.types.is_list(dtype) or pa.types.is_large_list(dtype)):
        return False
    fields = _struct_fields(dtype.value_type, "role", "content")
    if fields is None or not _is_text(fields[0]):
        return False
    content = fields[1]
    if _is_text(content):
        return True
    if not (pa.types.is_list(content) or pa.types.is_large_list(content)):
        return False
    parts = _struct_fields(content.value_type, "type", "text")
    return parts is not None and all(_is_text(t) for t in parts)


def _message_columns(conv: Any) -> tuple[np.ndarray, np.ndarray, Any, Any]:
    """Return (starts, lengths, roles, texts) for a list<struct<role, content>> array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if isinstance(conv, pa.ChunkedArray):
        conv = conv.combine_chunks()
    lengths = pc.fill_null(pc.list_value_length(conv), 0).to_numpy(zero_copy_only=False)
    lengths = lengths.astype(np.int64)
    starts = np.cumsum(lengths) - lengths
    msgs = conv.flatten()
    roles = pc.struct_field(msgs, "role")
    content = pc.struct_field(msgs, "content")
    if pa.types.is_string(content.type) or pa.types.is_large_string(content.type):
        texts = pc.fill_null(content, "")
    elif pa.types.is_list(content.type) or pa.types.is_large_list(content.type):
        parts = content.flatten()
        kind = pc.fill_null(pc.struct_field(parts, "type"), "text")
        text = pc.fill_null(pc.struct_field(parts, "text"), "")
        shown = pc.if_else(
            pc.equal(kind, "text"), text, pc.binary_join_element_wise("[", kind, "]", "")
        )
        plen = pc.fill_null(pc.list_value_length(content), 0).to_numpy(zero_copy_only=False)
        offsets = np.concatenate([[0], np.cumsum(plen)]).astype(np.int32)
        texts = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), shown), "\n")
    else:
        raise TypeError(f"unsupported content type {content.type}")
    return starts, lengths, roles, texts


def _fast_rows(conv_a: Any, conv_b: Any) -> tuple[np.ndarray, dict[str, Any]]:
    """Find single-turn rows and return their indices with prompt/response arrays."""
    import pyarrow.compute as pc

    sa, la, roles_a, texts_a = _message_columns(conv_a)
    sb, lb, roles_b, texts_b = _message_columns(conv_b)
    cand = np.flatnonzero((la == 2) & (lb == 2))
    ra = roles_a.to_numpy(zero_copy_only=False).astype(object)
    rb = roles_b.to_numpy(zero_copy_only=False).astype(object)
    ok = (
        (ra[sa[cand]] == "user")
        & (ra[sa[cand] + 1] == "assistant")
        & (rb[sb[cand]] == "user")
        & (rb[sb[cand] + 1] == "assistant")
    )
    cand = cand[ok]
    prompt_a = pc.take(texts_a, sa[cand])
    prompt_b = pc.take(texts_b, sb[cand])
    same = pc.equal(prompt_a, prompt_b).to_numpy(zero_copy_only=False)
    keep = np.flatnonzero(same)
    fast = cand[keep]
    return fast, {
        "prompt": pc.take(prompt_a, keep),
        "response_a": pc.take(texts_a, sa[fast] + 1),
        "response_b": pc.take(texts_b, sb[fast] + 1),
    }


def load_arena_parquet(
    path: Path, limit: int | None = None, progress: Progress | None = None
) -> Any:
    """Load an Arena 33k / 140k parquet file column-wise (see module docstring)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path, pre_buffer=False)
    except (OSError, ValueError) as exc:
        raise InputError(f"not a readable parquet file ({exc})", file=path) from None
    names = pf.schema_arrow.names
    file = str(path)
    for col in ("conversation_a", "conversation_b", "winner"):
        if col not in names:
            raise InputError("required column is missing", file=file, row=1, field=col)
    columns = [c for c in names if c != "full_conversation"]
    types = [pf.schema_arrow.field(c).type for c in ("conversation_a", "conversation_b")]
    if not all(_is_message_list(t) for t in types):
        # JSON text, numbers, other structs: the per-row reader parses or names the bad row
        return load_arena(read_parquet_records(path, limit, columns))
    total = pf.metadata.num_rows if limit is None else min(limit, pf.metadata.num_rows)
    if total == 0:
        raise InputError("file has no records", file=file)
    chunks: dict[str, list[Any]] = {k: [] for k in ("prompt", "response_a", "response_b")}
    convs: list[Any] = []
    model_a: list[Any] = []
    model_b: list[Any] = []
    winners: list[str] = []
    metas: list[Any] = []  # one pyarrow string array per batch
    ids: list[str] = []
    done = 0
    gc_was_enabled = gc.isenabled()
    gc.disable()  # millions of short-lived objects: collection passes only cost time here
    try:
        batches = pf.iter_batches(batch_size=2_000, columns=columns, use_threads=False)
        for batch in batches:
            if done >= total:
                break
            if done + batch.num_rows > total:
                batch = batch.slice(0, total - done)
            _arena_batch(batch, done, file, chunks, convs, model_a, model_b, winners, metas, ids)
            done += batch.num_rows
            if progress is not None:
                progress(done, total, "arena rows")
    except (OSError, pa.ArrowException) as exc:
        raise InputError(f"cannot read parquet ({exc})", file=file) from None
    finally:
        if gc_was_enabled:
            gc.enable()
    ids, repeats = suffix_duplicates(ids)
    # to_pandas keeps the per-batch chunks (pd.Series(chunked_array) would copy all texts)
    chunks["meta"] = metas
    text = pa.table(
        {k: pa.chunked_array(v, type=pa.string()) for k, v in chunks.items()}
    ).to_pandas()
    pairs = pd.DataFrame(
        {
            "pair_id": ids,
            "conversation": convs,
            "prompt": text["prompt"],
            "response_a": text["response_a"],
            "response_b": text["response_b"],
            "model_a": model_a,
            "model_b": model_b,
            "source": "arena",
            "meta": text["meta"],
        }
    )
    del text, chunks, ids, metas, model_a, model_b  # the frame holds its own copies now
    rec = Records(pd.DataFrame(index=range(done)), np.arange(done, dtype=np.int64) + 1, file)
    ds = _finish(rec, pairs, winners, "arena")
    ds.info["repeated_pairs"] = repeats
    return ds


def _has_map(dtype: Any) -> bool:
    import pyarrow as pa

    if pa.types.is_map(dtype):
        return True
    return any(_has_map(dtype.field(i).type) for i in range(dtype.num_fields))


def _column_values(column: Any) -> list[Any]:
    """Python values of a column; map types become dicts (slower, so only when present)."""
    if _has_map(column.type):
        return column.to_pylist(maps_as_pydicts="strict")
    return column.to_pylist()


def _arena_batch(
    batch: Any,
    offset: int,
    file: str,
    chunks: dict[str, list[Any]],
    convs: list[Any],
    model_a: list[Any],
    model_b: list[Any],
    winners: list[str],
    metas: list[Any],
    ids: list[str],
) -> None:
    import pyarrow as pa

    n = batch.num_rows
    fast, fast_cols = _fast_rows(batch.column("conversation_a"), batch.column("conversation_b"))
    slow = np.setdiff1d(np.arange(n), fast)
    slow_cols: dict[str, list[str]] = {k: [] for k in chunks}
    slow_conv: dict[int, list[dict[str, Any]]] = {}
    slow_flags: dict[int, dict[str, Any]] = {}
    if slow.size:
        sub_a = batch.column("conversation_a").take(pa.array(slow)).to_pylist()
        sub_b = batch.column("conversation_b").take(pa.array(slow)).to_pylist()
        for j, i in enumerate(slow.tolist()):
            try:
                conv, prompt, a, b, flags = arena_turns(sub_a[j], sub_b[j])
            except TurnError as exc:
                raise InputError(str(exc), file=file, row=offset + i + 1, field=exc.field) from None
            slow_conv[i] = conv
            slow_flags[i] = flags
            slow_cols["prompt"].append(prompt)
            slow_cols["response_a"].append(a)
            slow_cols["response_b"].append(b)
    order = np.argsort(np.concatenate([fast, slow]), kind="stable")
    merged = {}
    for k in chunks:
        arr = pa.concat_arrays(
            [fast_cols[k].cast(pa.string()), pa.array(slow_cols[k], pa.string())]
        )
        merged[k] = arr.take(pa.array(order))
        chunks[k].append(merged[k])
    names = batch.schema.names
    win_raw = batch.column("winner").to_pylist()
    for i, v in enumerate(win_raw):
        w = None if v is None else normalise_winner(v)
        if w is None:
            raise InputError(
                f"unknown winner value {v!r} (expected model_a, model_b, tie, both_bad)",
                file=file,
                row=offset + i + 1,
                field="winner",
            )
        winners.append(w)
    for col, out in (("model_a", model_a), ("model_b", model_b)):
        out.extend(batch.column(col).to_pylist() if col in names else [None] * n)
    extra = [c for c in names if c not in CONSUMED]
    extra_values = {c: _column_values(batch.column(c)) for c in extra}
    batch_ids = fast_pair_ids(merged["prompt"], merged["response_a"], merged["response_b"])
    batch_metas = []
    for i in range(n):
        conv = slow_conv.get(i, [])
        convs.append(conv)
        if conv:
            batch_ids[i] = make_pair_id(
                merged["prompt"][i].as_py(),
                merged["response_a"][i].as_py(),
                merged["response_b"][i].as_py(),
                conv,
            )
        meta = {c: extra_values[c][i] for c in extra}
        meta.update(slow_flags.get(i, {}))
        batch_metas.append(meta_json(meta))
    metas.append(pa.array(batch_metas, pa.string()))  # Arrow text: no per-string overhead
    ids.extend(batch_ids)


@register_loader(
    "arena",
    description="Chatbot Arena 33k / 140k (conversation_a/b, winner; parquet, json, csv)",
    sniff=lambda t: columns_score(t, {"conversation_a", "conversation_b"}),
    aliases=("arena-33k", "arena-140k"),
)
def read_arena(request: LoadRequest) -> Any:
    """The Arena loader: column-wise for a parquet file, else record by record."""
    where = request.where
    if isinstance(where, Path) and where.is_file() and where.name.lower().endswith(".parquet"):
        return load_arena_parquet(where, request.limit, request.progress)
    return load_arena(request.records())


@register_loader(
    "arena-55k",
    description="Arena human-preference 55k CSV (JSON turn lists, one-hot winners)",
    sniff=lambda t: columns_score(t, {"winner_model_a", "winner_model_b", "winner_tie"}),
)
def read_arena_55k(request: LoadRequest) -> Any:
    """The Arena 55k loader."""
    return load_arena_55k(request.records())
