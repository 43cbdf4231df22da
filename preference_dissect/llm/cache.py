"""A durable, content-addressed answer cache in SQLite (WAL mode).

Every answer is committed as soon as it arrives, so a run killed at any moment loses nothing
it has already paid for. The key is a SHA-256 over everything that determines the answer
(see :func:`cache_key`); the caller's request key is stored only for inspection. API keys are
never part of anything stored here.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError

CACHE_FILE = "llm_cache.sqlite3"
SCHEMA_VERSION = 1
_DDL = """
CREATE TABLE IF NOT EXISTS answers (
    key TEXT PRIMARY KEY,
    request_key TEXT,
    model TEXT,
    host TEXT,
    version TEXT,
    created REAL,
    text TEXT,
    parsed TEXT,
    na_reason TEXT,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    top_logprobs TEXT
);
CREATE TABLE IF NOT EXISTS batch_jobs (
    batch_id TEXT PRIMARY KEY,
    host TEXT,
    model TEXT,
    keys TEXT,
    created REAL,
    status TEXT
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
"""


def default_cache_dir() -> Path:
    """``$PD_CACHE_DIR`` if set, else the platformdirs user cache folder."""
    env = os.environ.get("PD_CACHE_DIR")
    if env:
        return Path(env)
    import platformdirs

    return Path(platformdirs.user_cache_dir("preference-dissect"))


def cache_key(
    *,
    model: str,
    host: str,
    messages: Sequence[dict[str, Any]],
    params: dict[str, Any],
    schema: dict[str, Any] | None,
    version: str,
) -> str:
    """SHA-256 (hex) over model, server host, messages, decoding params, schema and version."""
    payload = json.dumps(
        {
            "model": model,
            "host": host,
            "messages": list(messages),
            "params": params,
            "schema": schema,
            "version": version,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


@dataclass
class CachedAnswer:
    """One stored answer."""

    key: str
    text: str | None
    parsed: str | None
    na_reason: str | None
    prompt_tokens: int
    completion_tokens: int
    top_logprobs: list[dict[str, float]] | None


class AnswerCache:
    """The SQLite answer store.

    Parameters
    ----------
    path : Path
        The database file (its folder is created).
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_DDL)
            self._db.execute(
                "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),)
            )
        except (OSError, sqlite3.DatabaseError) as exc:
            raise InputError(f"cannot open the LLM cache ({exc})", file=self.path) from None

    @classmethod
    def open_in(cls, cache_dir: Path | None) -> AnswerCache:
        """Open ``CACHE_FILE`` in ``cache_dir`` (default :func:`default_cache_dir`)."""
        return cls(Path(cache_dir or default_cache_dir()) / CACHE_FILE)

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def get_many(self, keys: Iterable[str]) -> dict[str, CachedAnswer]:
        """Return the stored answers among ``keys``."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, CachedAnswer] = {}
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            rows = self._db.execute(
                "SELECT key, text, parsed, na_reason, prompt_tokens, completion_tokens, "
                "top_logprobs "
                f"FROM answers WHERE key IN ({','.join('?' * len(chunk))})",
                chunk,
            ).fetchall()
            for row in rows:
                found[row[0]] = CachedAnswer(
                    row[0],
                    row[1],
                    row[2],
                    row[3],
                    int(row[4] or 0),
                    int(row[5] or 0),
                    json.loads(row[6]) if row[6] else None,
                )
        return found

    def put(
        self,
        key: str,
        *,
        request_key: str,
        model: str,
        host: str,
        version: str,
        text: str | None,
        parsed: str | None,
        na_reason: str | None,
        prompt_tokens: int,
        completion_tokens: int,
        top_logprobs: list[dict[str, float]] | None,
    ) -> None:
        """Store (or overwrite) one answer and commit at once."""
        self._db.execute(
            "INSERT OR REPLACE INTO answers VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                key,
                request_key,
                model,
                host,
                version,
                time.time(),
                text,
                parsed,
                na_reason,
                prompt_tokens,
                completion_tokens,
                json.dumps(top_logprobs) if top_logprobs is not None else None,
            ),
        )

    def count(self) -> int:
        """Number of stored answers."""
        return int(self._db.execute("SELECT COUNT(*) FROM answers").fetchone()[0])

    # ------------------------------------------------------------------ batch jobs
    def add_batch_job(self, batch_id: str, host: str, model: str, keys: list[str]) -> None:
        """Remember a submitted batch so a restarted run polls it instead of resubmitting."""
        self._db.execute(
            "INSERT OR REPLACE INTO batch_jobs VALUES (?,?,?,?,?,?)",
            (batch_id, host, model, json.dumps(keys), time.time(), "submitted"),
        )

    def pending_batch_jobs(self, host: str, model: str) -> list[tuple[str, list[str]]]:
        """``(batch_id, keys)`` of submitted, unfinished batches for this server and model."""
        rows = self._db.execute(
            "SELECT batch_id, keys FROM batch_jobs WHERE host=? AND model=? AND status='submitted' "
            "ORDER BY created",
            (host, model),
        ).fetchall()
        return [(r[0], json.loads(r[1])) for r in rows]

    def finish_batch_job(self, batch_id: str, status: str) -> None:
        """Mark a batch as done (``completed``, ``failed``, ``expired``, ``cancelled``)."""
        self._db.execute("UPDATE batch_jobs SET status=? WHERE batch_id=?", (status, batch_id))
