"""Kill -9 a real engine process mid-run, restart it: nothing finished is lost or re-asked."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from preference_dissect.llm.cache import CACHE_FILE
from preference_dissect.testing.openai_server import OpenAIServer, Reply

N = 240
CONCURRENCY = 8
CHILD = textwrap.dedent(
    """
    import json, sys
    import pydantic
    from preference_dissect.llm import CacheConfig, LLMConfig, LLMEngine, LLMRequest
    from preference_dissect.io import write_json

    class Answer(pydantic.BaseModel):
        item: int
        serial: int

    base_url, cache_dir, n, concurrency, out = sys.argv[1:6]
    reqs = [LLMRequest(f"item-{i}", [{"role": "user", "content": f"item {i}"}], Answer, "crash-v1")
            for i in range(int(n))]
    engine = LLMEngine(LLMConfig(model="loopback", base_url=base_url,
                                      concurrency=int(concurrency)),
                       CacheConfig(cache_dir=cache_dir), progress=False)
    results = engine.run(reqs)
    write_json({"results": {r.key: r.parsed.model_dump() for r in results},
                "stats": engine.stats.as_dict()}, out)
    """
)


def responder(req):
    """Answer with the item number and the server's call serial (proves which call it was)."""
    item = int(req.last_user.split()[-1])
    return Reply(json.dumps({"item": item, "serial": req.serial}))


def cached_answers(cache_dir) -> dict[str, dict]:
    with sqlite3.connect(cache_dir / CACHE_FILE) as db:
        rows = db.execute("SELECT request_key, parsed FROM answers").fetchall()
    return {k: json.loads(p) for k, p in rows}


@pytest.mark.slow
def test_kill_minus_nine_loses_nothing_and_repeats_nothing(tmp_path):
    script = tmp_path / "child.py"
    script.write_text(CHILD)
    cache_dir = tmp_path / "cache"
    out = tmp_path / "out.json"
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    with OpenAIServer(latency_s=0.25, responder=responder) as server:
        args = [sys.executable, str(script), server.base_url, str(cache_dir), str(N),
                str(CONCURRENCY), str(out)]  # fmt: skip
        child = subprocess.Popen(args, env=env)
        deadline = time.monotonic() + 120
        while len(server.chat_requests()) < 60 and time.monotonic() < deadline:
            assert child.poll() is None, "the child ended before it could be killed"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        killed_at = time.time()
        assert not out.exists()  # it really died mid-run

        before_log = server.chat_requests()
        before = cached_answers(cache_dir)
        assert 40 <= len(before) < N
        # everything the server answered well before the kill had been written to the cache
        answered = {f"item-{e['last_user'].split()[-1]}" for e in before_log
                    if e["status"] == 200 and e["t_end"] < killed_at - 0.5}  # fmt: skip
        assert answered <= set(before)

        restart = subprocess.run(args, env=env, timeout=300)
        assert restart.returncode == 0
        after_log = server.chat_requests()[len(before_log) :]
        final = json.loads(out.read_text())

    asked_again = {f"item-{e['last_user'].split()[-1]}" for e in after_log}
    assert not asked_again & set(before), "a cached answer was asked again"
    assert set(final["results"]) == {f"item-{i}" for i in range(N)}
    for key, answer in before.items():  # not lost: the very same answer (same server call)
        assert final["results"][key] == answer
    assert final["stats"]["cache_hits"] == len(before)
    assert final["stats"]["requests"] == N - len(before)
    # only requests in flight at the kill can have been asked twice
    asked_before = {f"item-{e['last_user'].split()[-1]}" for e in before_log}
    assert len(asked_before & asked_again) <= CONCURRENCY
