"""Text embeddings from an OpenAI-compatible server's ``/v1/embeddings``, cached like answers.

Used by ``discover`` to merge near-duplicate proposals before the LLM merge step. Each
vector is stored in the engine's answer cache under a content address (model, server host,
text), so a second run asks for nothing. Embedding calls are not priced (their cost is a
small fraction of the chat calls') and do not count against ``max_cost_usd``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from preference_dissect.llm.cache import AnswerCache, cache_key
from preference_dissect.llm.engine import LLMEngine, run_coroutine

VERSION = "embedding/1"
#: HTTP statuses meaning "this server has no embeddings endpoint (for this model)".
NO_ENDPOINT = (404, 405, 501)
BATCH = 256


def _key(engine: LLMEngine, model: str, text: str) -> str:
    return cache_key(
        model=model,
        host=engine.host,
        messages=[{"role": "embedding", "content": text}],
        params={},
        schema=None,
        version=VERSION,
    )


async def _fetch(engine: LLMEngine, model: str, texts: list[str]) -> list[list[float]]:
    client = engine.make_client()
    out: list[list[float]] = []
    try:
        for start in range(0, len(texts), BATCH):
            resp = await client.embeddings.create(model=model, input=texts[start : start + BATCH])
            out += [list(d.embedding) for d in sorted(resp.data, key=lambda d: d.index)]
    finally:
        await client.close()
    return out


def embed(engine: LLMEngine, texts: Sequence[str], model: str) -> np.ndarray | None:
    """Unit-length embeddings of ``texts`` (one row each), or ``None`` when the server has no
    embeddings endpoint (HTTP 404, 405 or 501).

    Parameters
    ----------
    engine : LLMEngine
        Whose server, API key and cache to use.
    texts : sequence of str
    model : str
        The embedding model.
    """
    import openai

    texts = list(texts)
    keys = [_key(engine, model, t) for t in texts]
    cache = (
        AnswerCache.open_in(engine.cache_config.cache_dir) if engine.cache_config.enabled else None
    )
    try:
        hits = cache.get_many(keys) if cache is not None and not engine.cache_config.refresh else {}
        todo = list(dict.fromkeys(t for t, k in zip(texts, keys, strict=True) if k not in hits))
        try:
            fresh = (
                dict(zip(todo, run_coroutine(_fetch(engine, model, todo)), strict=True))
                if todo
                else {}
            )
        except openai.APIStatusError as exc:
            if exc.status_code in NO_ENDPOINT:
                return None
            raise
        if cache is not None:
            for text, vector in fresh.items():
                _store(cache, _key(engine, model, text), model, engine.host, vector)
    finally:
        if cache is not None:
            cache.close()
    vectors = [fresh[t] if k not in hits else json.loads(hits[k].text or "[]")
               for t, k in zip(texts, keys, strict=True)]  # fmt: skip
    matrix = np.asarray(vectors, dtype=float)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


def _store(cache: AnswerCache, key: str, model: str, host: str, vector: Any) -> None:
    cache.put(
        key,
        request_key="embedding",
        model=model,
        host=host,
        version=VERSION,
        text=json.dumps(vector),
        parsed=None,
        na_reason=None,
        prompt_tokens=0,
        completion_tokens=0,
        top_logprobs=None,
    )


def duplicate_groups(vectors: np.ndarray, threshold: float) -> list[int]:
    """Greedy clustering by cosine similarity: each row's group is the first earlier row at
    ``threshold`` or more (rows keep their order; a group is named by its first row).

    Examples
    --------
    >>> duplicate_groups(np.array([[1.0, 0.0], [0.99, 0.14], [0.0, 1.0]]), 0.95)
    [0, 0, 2]
    """
    heads: list[int] = []
    groups = []
    for i, v in enumerate(vectors):
        match = next((h for h in heads if float(vectors[h] @ v) >= threshold), None)
        if match is None:
            heads.append(i)
            match = i
        groups.append(match)
    return groups
