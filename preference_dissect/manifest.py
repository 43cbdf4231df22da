"""The run manifest: what went into a run and what it cost, written as ``RUN/manifest.json``.

Every stage of ``prefdissect run`` adds to one :class:`Manifest` and writes it (atomically)
when it finishes, so an interrupted run still leaves an up-to-date manifest and a resumed run
keeps the facts of the stages it skips (:meth:`Manifest.load`).

Fields of ``manifest.json``
---------------------------
``schema_version``
    Format version of this file (``1``).
``created_at`` / ``updated_at``
    UTC timestamps (ISO 8601).
``command``
    The command line (``argv``), with secrets removed.
``input``
    ``source`` (a description such as ``bundled:hh-rlhf`` or the user's path), ``files`` (list
    of ``{"path", "bytes", "sha256"}``) and ``sha256``, one hash over all input files (the file
    hash itself when there is one file).
``annotators``
    Name -> ``{"version", "attribute_set", "model", "server_host", "prompt_hashes"}``;
    ``prompt_hashes`` maps prompt-template name -> sha256 of its text.
``models``
    Role (``annotate``, ``judge``, ``annotator:gair29``...) -> model id.
``servers``
    Role -> server host (``scheme://host:port``; user info, path and query are dropped).
``seeds``
    Name -> integer seed (side randomisation, subsampling, sampler...).
``settings``
    Other run options worth recording (prior scale, draws, groups...); ``"<stage>.llm"`` holds
    an LLM engine's settings and cache/failure counts (:meth:`Manifest.add_engine`).
``packages``
    Versions of python, preference-dissect, numpy, pandas, pymc, pytensor, arviz, scipy, openai.
``usage``
    ``requests``, ``prompt_tokens``, ``completion_tokens``, ``total_tokens``, ``cost_usd``
    (``null`` when no price is known) summed over the run, and the same per stage in
    ``by_stage``.
``stages``
    Stage name -> ``{"seconds", "finished_at", ...facts}`` in the order the stages ran
    (:meth:`Manifest.record_stage`); recording a stage again replaces its entry.
``total_seconds``
    Sum of the stage times.

API keys never reach the file: values of keys named like ``api_key`` / ``authorization`` /
``secret`` / ``password``, ``sk-...`` strings, ``Bearer`` tokens, ``--api-key`` arguments and the
values of secret-looking environment variables are replaced by ``"[redacted]"``, and user info in
URLs (``http://user:password@host``) is dropped (:func:`scrub`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import platform
import re
import sys
import time
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from preference_dissect.errors import InputError
from preference_dissect.io import write_json
from preference_dissect.urls import redact_urls

SCHEMA_VERSION = 1
MANIFEST_NAME = "manifest.json"
REDACTED = "[redacted]"

#: Distributions whose versions are recorded (python is added separately).
PACKAGES = (
    "preference-dissect",
    "numpy",
    "pandas",
    "pymc",
    "pytensor",
    "arviz",
    "scipy",
    "openai",
)

_SECRET_KEY_RE = re.compile(
    r"(api[_-]?key|apikey|authori[sz]ation|secret|password|passwd|bearer|access[_-]?token"
    r"|auth[_-]?token|x-api-key|credential)",
    re.IGNORECASE,
)
_SECRET_VALUE_RES = (
    # OpenAI-style keys: sk-..., sk-proj-...
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"), REDACTED),
    # Authorization headers: "Bearer abc", "Authorization: xyz"
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=\-]+"), r"\1 " + REDACTED),
    (re.compile(r"(?i)\b(authorization)(\s*[:=]\s*)(?!\[redacted\])\S+"), r"\1\2" + REDACTED),
    # key=value / --api-key value inside free text, URLs and command lines
    (
        re.compile(
            r"(?i)((?:api[_-]?key|apikey|access[_-]?token|secret|password|token)"
            r"[\"']?\s*[=:]\s*[\"']?)(?!\[redacted\])[^\s&\"',;]+"
        ),
        r"\1" + REDACTED,
    ),
)
_SECRET_ENV_RE = re.compile(r"(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)", re.IGNORECASE)
_SECRET_FLAGS = ("--api-key", "--api_key", "--apikey", "--token", "--password", "--secret")


def _secret_env_values() -> list[str]:
    """Values of environment variables whose names look secret (long enough to be a key)."""
    values = [
        v
        for k, v in os.environ.items()
        if _SECRET_ENV_RE.search(k) and len(v) >= 8 and not os.path.exists(v)
    ]
    return sorted(set(values), key=len, reverse=True)


def scrub_text(text: str, extra_secrets: Iterable[str] = ()) -> str:
    """Return ``text`` with anything that looks like a credential replaced by ``[redacted]``.

    Parameters
    ----------
    text : str
        Any text (a URL, a command line, an error message).
    extra_secrets : iterable of str
        Exact strings to remove as well (e.g. the API key in use).

    Returns
    -------
    str
        The scrubbed text.
    """
    for secret in [*extra_secrets, *_secret_env_values()]:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = redact_urls(text)  # http://user:password@host -> http://host
    for pattern, repl in _SECRET_VALUE_RES:
        text = pattern.sub(repl, text)
    return text


def scrub(obj: Any, extra_secrets: Iterable[str] = ()) -> Any:
    """Return a copy of a JSON-like object with credentials removed.

    Values under secret-looking keys (``api_key``, ``Authorization``, ``secret``, ``password``...)
    become ``"[redacted]"``; every string is passed through :func:`scrub_text`.

    Parameters
    ----------
    obj : Any
        Nested dicts / lists / scalars.
    extra_secrets : iterable of str
        Exact strings to remove as well.

    Returns
    -------
    Any
        The scrubbed copy.
    """
    extra = list(extra_secrets)
    if isinstance(obj, Mapping):
        out = {}
        for key, value in obj.items():
            key_s = scrub_text(str(key), extra)
            if _SECRET_KEY_RE.search(str(key)) and value not in (None, "", 0):
                out[key_s] = REDACTED
            else:
                out[key_s] = scrub(value, extra)
        return out
    if isinstance(obj, (list, tuple)):
        return [scrub(v, extra) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj, extra)
    return obj


def scrub_argv(argv: Iterable[str]) -> list[str]:
    """Return a command line with the values of ``--api-key``-like options redacted."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag = arg.split("=", 1)[0].lower()
        if flag in _SECRET_FLAGS:
            if "=" in arg:
                out.append(f"{arg.split('=', 1)[0]}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(scrub_text(arg))
    return out


def server_host(base_url: str | None) -> str | None:
    """Return ``scheme://host[:port]`` of a server URL, without user info, path or query.

    Parameters
    ----------
    base_url : str or None
        E.g. ``http://user:key@127.0.0.1:8080/v1?key=...``.

    Returns
    -------
    str or None
        E.g. ``http://127.0.0.1:8080``; ``None`` for ``None``.
    """
    if not base_url:
        return None
    parts = urlsplit(base_url if "://" in base_url else f"http://{base_url}")
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{host}{port}"


def sha256_file(path: str | os.PathLike[str], chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def sha256_text(text: str) -> str:
    """Return the hex sha256 of a text's UTF-8 bytes (prompt-template hashes)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _input_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file()))
        elif p.is_file():
            files.append(p)
        else:
            raise InputError("input file not found", file=p)
    return files


def input_signature(paths: Iterable[str | os.PathLike[str]]) -> list[list[Any]]:
    """``[path, bytes, mtime_ns]`` of every input file: a cheap change detector (no hashing)
    for resumable runs."""
    out = []
    for f in _input_files(paths):
        st = f.stat()
        out.append([str(f), st.st_size, st.st_mtime_ns])
    return out


def package_versions() -> dict[str, str | None]:
    """Versions of python and of the packages in :data:`PACKAGES` (``None`` if absent)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _empty_usage() -> dict[str, Any]:
    return {
        "requests": 0,
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "cost_usd": None,
    }


class Manifest:
    """Builder for ``RUN/manifest.json`` (see the module docstring for the fields).

    Parameters
    ----------
    path : str or PathLike, optional
        Where :meth:`write` writes; a directory means ``DIR/manifest.json``.
    argv : list of str, optional
        The command line to record (default ``sys.argv``); secrets are removed.

    Examples
    --------
    >>> m = Manifest("runs/demo")                                   # doctest: +SKIP
    >>> m.set_input(["data.jsonl"], source="data.jsonl")              # doctest: +SKIP
    >>> with m.stage("load") as facts:                                # doctest: +SKIP
    ...     facts["pairs"] = 100
    >>> m.write()                                                     # doctest: +SKIP
    """

    def __init__(
        self, path: str | os.PathLike[str] | None = None, *, argv: list[str] | None = None
    ) -> None:
        self.path = self._resolve(path) if path is not None else None
        self._secrets: list[str] = []
        now = _now()
        self.data: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "created_at": now,
            "updated_at": now,
            "command": scrub_argv(sys.argv if argv is None else argv),
            "input": {"source": None, "files": [], "sha256": None},
            "annotators": {},
            "models": {},
            "servers": {},
            "seeds": {},
            "settings": {},
            "packages": package_versions(),
            "usage": {**_empty_usage(), "by_stage": {}},
            "stages": {},
            "total_seconds": 0.0,
        }

    @staticmethod
    def _resolve(path: str | os.PathLike[str]) -> Path:
        p = Path(path)
        return p / MANIFEST_NAME if p.is_dir() or not p.suffix else p

    @classmethod
    def load(cls, path: str | os.PathLike[str], *, argv: list[str] | None = None) -> Manifest:
        """Read an existing manifest (to resume a run), or start a new one if there is none.

        Parameters
        ----------
        path : str or PathLike
            The run directory or the manifest file.
        argv : list of str, optional
            The command line of this invocation (replaces the recorded one).

        Returns
        -------
        Manifest
        """
        m = cls(path, argv=argv)
        if m.path is not None and m.path.exists():
            try:
                old = json.loads(m.path.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise InputError(f"unreadable manifest ({exc})", file=m.path) from None
            if not isinstance(old, dict):
                raise InputError("manifest is not a JSON object", file=m.path)
            command, packages = m.data["command"], m.data["packages"]
            for key, value in old.items():
                if key in m.data:
                    m.data[key] = value
            m.data["command"], m.data["packages"] = command, packages
        return m

    def add_secret(self, secret: str | None) -> None:
        """Register an exact string (e.g. the API key in use) that must never be written.

        The string without surrounding whitespace is registered too (a key pasted with a
        trailing newline is sent stripped).
        """
        for value in dict.fromkeys((secret or "", (secret or "").strip())):
            if value:
                self._secrets.append(value)

    def set_input(
        self,
        paths: Iterable[str | os.PathLike[str]] = (),
        *,
        source: str | None = None,
        **facts: Any,
    ) -> str | None:
        """Record the input source and hash its file(s).

        Parameters
        ----------
        paths : iterable of path
            Source files or folders (folders are hashed file by file, in sorted order).
            Hub datasets without a local file may pass none.
        source : str, optional
            Human-readable description (``bundled:hh-rlhf``, a path, a hub name).
        **facts
            Further facts (format, subset, rows...).

        Returns
        -------
        str or None
            The combined sha256 (``None`` without files).
        """
        files = _input_files(paths)
        entries = [
            {"path": str(f), "bytes": f.stat().st_size, "sha256": sha256_file(f)} for f in files
        ]
        if len(entries) == 1:
            combined = entries[0]["sha256"]
        elif entries:
            combined = sha256_text("\n".join(f"{e['sha256']}  {e['path']}" for e in entries))
        else:
            combined = None
        self.data["input"] = {
            "source": source if source is not None else ", ".join(map(str, files)) or None,
            "files": entries,
            "sha256": combined,
            **facts,
        }
        return combined

    def add_annotator(
        self,
        name: str,
        *,
        version: str | None = None,
        prompts: Mapping[str, str] | None = None,
        prompt_hashes: Mapping[str, str] | None = None,
        model: str | None = None,
        base_url: str | None = None,
        **facts: Any,
    ) -> None:
        """Record an annotator: name, version, prompt-template hashes, model and server host.

        Parameters
        ----------
        name : str
            Annotator name (``rules``, ``gair29``...).
        version : str, optional
            Annotator version string.
        prompts : mapping, optional
            Template name -> template text; each is hashed with sha256.
        prompt_hashes : mapping, optional
            Template name -> precomputed hash (merged with ``prompts``).
        model : str, optional
            Model id used.
        base_url : str, optional
            Server URL; only its host is kept (:func:`server_host`).
        **facts
            Further facts (attribute set, temperature...).
        """
        hashes = dict(prompt_hashes or {})
        hashes.update({k: sha256_text(v) for k, v in (prompts or {}).items()})
        entry = {
            "version": version,
            "model": model,
            "server_host": server_host(base_url),
            "prompt_hashes": dict(sorted(hashes.items())),
            **facts,
        }
        self.data["annotators"][name] = entry
        if model:
            self.set_model(f"annotator:{name}", model, base_url=base_url)

    def set_model(self, role: str, model_id: str, *, base_url: str | None = None) -> None:
        """Record the model id (and server host) used in a role (``annotator``, ``judge``...)."""
        self.data["models"][role] = model_id
        host = server_host(base_url)
        if host:
            self.data["servers"][role] = host

    def set_seed(self, name: str, seed: int | None) -> None:
        """Record a random seed."""
        self.data["seeds"][name] = None if seed is None else int(seed)

    def set_setting(self, name: str, value: Any) -> None:
        """Record another run option (prior scale, draws, groups...)."""
        self.data["settings"][name] = value

    def add_usage(
        self,
        stage: str,
        *,
        prompt_tokens: int = 0,
        completion_tokens: int = 0,
        requests: int = 0,
        cost_usd: float | None = None,
    ) -> None:
        """Add token usage and cost of LLM calls made by ``stage`` (summed per stage and total).

        Parameters
        ----------
        stage : str
            Stage name (``annotate``, ``judge``...).
        prompt_tokens, completion_tokens, requests : int
            Counts to add.
        cost_usd : float, optional
            Cost to add; ``None`` if no price is known (the total stays ``None`` until a
            stage reports one).
        """
        usage = self.data["usage"]
        stage_usage = usage["by_stage"].setdefault(stage, _empty_usage())
        for target in (usage, stage_usage):
            target["requests"] += int(requests)
            target["prompt_tokens"] += int(prompt_tokens)
            target["completion_tokens"] += int(completion_tokens)
            target["total_tokens"] = target["prompt_tokens"] + target["completion_tokens"]
            if cost_usd is not None:
                target["cost_usd"] = round((target["cost_usd"] or 0.0) + float(cost_usd), 6)

    def add_engine(self, stage: str, facts: Mapping[str, Any]) -> None:
        """Record an LLM engine's facts (``LLMEngine.describe()``) for a stage.

        The model id and server host go to ``models`` / ``servers`` under the stage name, the
        token counts and cost to ``usage`` (cost only when the engine knows a price), the
        remaining settings to ``settings["<stage>.llm"]``.

        Parameters
        ----------
        stage : str
            Stage name (``annotate``, ``judge``, ``classify``...).
        facts : mapping
            ``{"model", "server_host", "usage": {...}, ...}``.
        """
        facts = dict(facts)
        model = facts.pop("model", None)
        host = facts.pop("server_host", None)
        if model:
            self.data["models"][stage] = str(model)
        if host:
            self.data["servers"][stage] = server_host(str(host))
        usage = facts.pop("usage", None) or {}
        price = facts.get("price_per_m_tokens") or {}
        priced = bool(price.get("known", True)) if isinstance(price, Mapping) else True
        self.add_usage(
            stage,
            prompt_tokens=int(usage.get("prompt_tokens", 0) or 0),
            completion_tokens=int(usage.get("completion_tokens", 0) or 0),
            requests=int(usage.get("requests", 0) or 0),
            cost_usd=usage.get("cost_usd") if priced else None,
        )
        keys = ("cache_hits", "failures", "details", "retries", "reasks")
        extra = {k: usage[k] for k in keys if k in usage}
        self.data["settings"][f"{stage}.llm"] = {**facts, **extra}

    def record_stage(self, name: str, seconds: float, **facts: Any) -> None:
        """Record that a stage finished, how long it took and facts about it.

        Parameters
        ----------
        name : str
            Stage name (``load``, ``annotate``, ``features``, ``fit``, ``analyze``, ``report``).
        seconds : float
            Wall-clock time of the stage.
        **facts
            JSON-serialisable facts (rows in/out, fits, cache hits, resumed...).
        """
        stages = self.data["stages"]
        stages.pop(name, None)
        stages[name] = {"seconds": round(float(seconds), 3), "finished_at": _now(), **facts}
        self.data["total_seconds"] = round(sum(s["seconds"] for s in stages.values()), 3)

    @contextlib.contextmanager
    def stage(self, name: str, *, write: bool = True) -> Iterator[dict[str, Any]]:
        """Time a block and record it as a stage; yields a dict the block can add facts to.

        The stage is recorded (and the manifest written, if it has a path and ``write``) only
        when the block finishes without an exception.
        """
        facts: dict[str, Any] = {}
        start = time.perf_counter()
        yield facts
        self.record_stage(name, time.perf_counter() - start, **facts)
        if write and self.path is not None:
            self.write()

    def to_dict(self) -> dict[str, Any]:
        """Return the scrubbed manifest content."""
        data = dict(self.data)
        data["updated_at"] = _now()
        return scrub(json.loads(json.dumps(data, default=_json_default)), self._secrets)

    def write(self, path: str | os.PathLike[str] | None = None) -> Path:
        """Write the scrubbed manifest atomically and return its path."""
        target = self._resolve(path) if path is not None else self.path
        if target is None:
            raise ValueError("no manifest path given")
        content = self.to_dict()
        self.data["updated_at"] = content["updated_at"]
        return write_json(content, target)


def _json_default(o: Any) -> Any:
    item = getattr(o, "item", None)
    if callable(item):
        return item()
    if isinstance(o, (set, frozenset)):
        return sorted(o)
    if isinstance(o, os.PathLike):
        return os.fspath(o)
    return str(o)


def read_manifest(path: str | os.PathLike[str]) -> dict[str, Any] | None:
    """Read ``RUN/manifest.json`` (or a manifest file); ``None`` if it does not exist."""
    p = Path(path)
    if p.is_dir():
        p = p / MANIFEST_NAME
    if not p.exists():
        return None
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"unreadable manifest ({exc})", file=p) from None
    if not isinstance(data, dict):
        raise InputError("manifest is not a JSON object", file=p)
    return data


__all__ = [
    "MANIFEST_NAME",
    "Manifest",
    "package_versions",
    "read_manifest",
    "scrub",
    "scrub_argv",
    "scrub_text",
    "server_host",
    "sha256_file",
    "sha256_text",
]
