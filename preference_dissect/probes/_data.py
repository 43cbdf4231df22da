"""Reading SycophancyEval files and the probe's settings (``interventions/sycophancy``)."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from preference_dissect.errors import InputError

#: ``hf:OWNER/NAME/FILE`` names a file of a Hugging Face dataset repository.
HF_PREFIX = "hf:"
ROLES = {"human": "user", "ai": "assistant"}
TASKS = ("answer", "are_you_sure", "feedback", "mimicry")


@dataclass(frozen=True)
class SycophancyRecord:
    """One line of a SycophancyEval file, as chat messages.

    Attributes
    ----------
    messages : tuple of dict
        The conversation (``"human"`` -> ``user``, ``"ai"`` -> ``assistant``) without a
        trailing ``ai`` message.
    prefill : str
        The trailing ``ai`` message (e.g. ``"The answer is ("``), ``""`` when there is none:
        it is sent as the last assistant message and the answer read is prefill + completion.
    base : dict
        The item (question, aliases, text...).
    metadata : dict
        ``prompt_template`` and the rest of the line's metadata.
    file : str
        Where the record comes from.
    row : int
        1-based line number in that file.
    """

    messages: tuple[dict[str, str], ...]
    prefill: str
    base: dict[str, Any] = field(hash=False)
    metadata: dict[str, Any] = field(hash=False)
    file: str = ""
    row: int = 0

    @property
    def template(self) -> str:
        """``metadata.prompt_template`` (``""`` when missing)."""
        return str(self.metadata.get("prompt_template") or "")

    @property
    def item_key(self) -> str:
        """The item's identity: the ``base`` object (records of one item share it)."""
        return json.dumps(self.base, sort_keys=True, ensure_ascii=False)

    def fail(self, message: str, field: str) -> InputError:
        """An :class:`InputError` naming this record's file, row and ``field``."""
        return InputError(message, file=self.file, row=self.row, field=field)

    def chat(self) -> list[dict[str, str]]:
        """The messages to send: the conversation, then the prefill when there is one."""
        msgs = [dict(m) for m in self.messages]
        if self.prefill:
            msgs.append({"role": "assistant", "content": self.prefill})
        return msgs


def _local_path(source: str | os.PathLike[str]) -> Path:
    """The file behind ``source``: a local path, or ``hf:OWNER/NAME/FILE`` downloaded."""
    text = str(source)
    if not text.startswith(HF_PREFIX):
        path = Path(os.path.expanduser(text))
        if not path.is_file():
            raise InputError("file not found", file=text)
        return path
    parts = text[len(HF_PREFIX) :].split("/")
    if len(parts) < 3 or not all(parts):
        raise InputError("write a Hugging Face file as hf:OWNER/NAME/FILE", file=text)
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise InputError(
            "hf: names need the huggingface_hub package (pip install huggingface_hub), "
            "or download the file and give its path",
            file=text,
        ) from None
    try:
        got = hf_hub_download("/".join(parts[:2]), "/".join(parts[2:]), repo_type="dataset")
    except Exception as exc:  # offline, unknown repo or file: one clear line
        reason = " ".join(str(exc).split())[:200]
        raise InputError(f"cannot download ({type(exc).__name__}: {reason})", file=text) from None
    return Path(got)


def _lines(path: Path, name: str) -> list[str]:
    opener = gzip.open if path.name.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            return fh.read().splitlines()
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read the file ({exc})", file=name) from None


def _message(item: Any, name: str, row: int, i: int) -> dict[str, str]:
    where = f"prompt[{i}]"
    if not isinstance(item, dict):
        raise InputError("a prompt message must be an object", file=name, row=row, field=where)
    kind, content = item.get("type"), item.get("content")
    if kind not in ROLES:
        raise InputError(
            f"type must be 'human' or 'ai', not {kind!r}", file=name, row=row, field=where
        )
    if not isinstance(content, str):
        raise InputError("content must be a string", file=name, row=row, field=where)
    return {"role": ROLES[kind], "content": content}


def parse_record(obj: Any, name: str, row: int) -> SycophancyRecord:
    """One decoded line as a :class:`SycophancyRecord` (bad fields: :class:`InputError`)."""
    if not isinstance(obj, dict):
        raise InputError("a line must be a JSON object", file=name, row=row)
    prompt = obj.get("prompt")
    if not isinstance(prompt, list) or not prompt:
        raise InputError(
            "missing or empty (a list of messages)", file=name, row=row, field="prompt"
        )
    for key in ("base", "metadata"):
        if not isinstance(obj.get(key, {}), dict) or (key == "base" and key not in obj):
            raise InputError("missing or not an object", file=name, row=row, field=key)
    msgs = [_message(m, name, row, i) for i, m in enumerate(prompt)]
    prefill = ""
    if msgs[-1]["role"] == "assistant":
        prefill = msgs.pop()["content"]
    if not msgs:
        raise InputError("has no human message", file=name, row=row, field="prompt")
    return SycophancyRecord(
        tuple(msgs), prefill, dict(obj["base"]), dict(obj.get("metadata") or {}), name, row
    )


def read_sycophancy_file(source: str | os.PathLike[str]) -> list[SycophancyRecord]:
    """Read a SycophancyEval ``.jsonl`` (or ``.jsonl.gz``) file.

    Parameters
    ----------
    source : str or PathLike
        A local path, or ``hf:OWNER/NAME/FILE`` (e.g. ``hf:meg-tong/sycophancy-eval/answer.jsonl``,
        downloaded with ``huggingface_hub`` when it is installed).

    Returns
    -------
    list of SycophancyRecord
        One per non-blank line, in file order.

    Raises
    ------
    InputError
        A missing file, a line that is not JSON, or a record without ``prompt`` / ``base``
        (naming the file, the 1-based row and the field).

    Examples
    --------
    >>> import json, tempfile, pathlib
    >>> line = {"prompt": [{"type": "human", "content": "2+2?"}, {"type": "ai", "content": "("}],
    ...         "base": {"answer": ["4"]}, "metadata": {"prompt_template": "{question}"}}
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "answer.jsonl"
    >>> _ = path.write_text(json.dumps(line) + "\\n")
    >>> [rec] = read_sycophancy_file(path)
    >>> rec.messages, rec.prefill
    (({'role': 'user', 'content': '2+2?'},), '(')
    """
    name = str(source)
    path = _local_path(source)
    records = []
    for row, line in enumerate(_lines(path, name), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(f"not valid JSON ({exc.args[0]})", file=name, row=row) from None
        records.append(parse_record(obj, name, row))
    if not records:
        raise InputError("holds no records", file=name)
    return records


def group_items(records: list[SycophancyRecord], limit: int | None) -> list[list[SycophancyRecord]]:
    """Records grouped by item (same ``base``), items in order of first appearance; the
    first ``limit`` items when given."""
    groups: dict[str, list[SycophancyRecord]] = {}
    for rec in records:
        key = rec.item_key
        if key not in groups and limit is not None and len(groups) >= limit:
            continue
        groups.setdefault(key, []).append(rec)
    return list(groups.values())


# ---------------------------------------------------------------------- settings
def settings_folder() -> Path:
    """``interventions/sycophancy`` (bundled as ``bundled_interventions`` in a wheel)."""
    from preference_dissect.definitions import definitions_root

    return definitions_root("interventions") / "sycophancy"


@dataclass(frozen=True)
class ProbeSettings:
    """The probe's rules and texts (``probe.yaml`` and the judge prompt templates)."""

    raw: dict[str, Any]
    prompts: dict[str, Any]  # name -> jinja2.Template
    version: str

    def template_name(self, task: str, record: SycophancyRecord) -> str:
        """The template name of ``record`` (see ``templates`` in ``probe.yaml``)."""
        spec = self.raw["templates"][task]
        text = record.template.lower()
        for rule in spec["patterns"]:
            if str(rule["pattern"]).lower() in text:
                return str(rule["name"])
        return str(spec["baseline"])

    def render(self, name: str, **values: Any) -> str:
        """Render the prompt template ``name`` (``prompts`` in ``probe.yaml``)."""
        return str(self.prompts[name].render(**values)).strip()


@cache
def load_settings() -> ProbeSettings:
    """Read ``probe.yaml`` and its prompts once; the version hashes both."""
    from preference_dissect.definitions import (
        prompt_environment,
        prompt_source,
        prompt_template,
        read_yaml,
    )

    folder = settings_folder()
    raw = read_yaml(folder / "probe.yaml")
    env = prompt_environment([folder / "prompts"])
    names = dict(raw["prompts"])
    digest = hashlib.sha256(json.dumps(raw, sort_keys=True).encode())
    for key in sorted(names):
        digest.update(prompt_source(env, names[key]).encode())
    prompts = {key: prompt_template(env, value) for key, value in names.items()}
    return ProbeSettings(raw, prompts, f"sycophancy/{digest.hexdigest()[:12]}")
